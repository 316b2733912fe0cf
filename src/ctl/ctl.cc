#include "ctl/ctl.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ostream>

#include "base/status_macros.h"
#include "ctl/commands.h"

#ifndef TABBY_VERSION
#define TABBY_VERSION "unknown"
#endif

namespace tabby::ctl {

// --- shared helpers (commands.h) -------------------------------------------------------------

int PrintError(std::ostream& err, std::string_view message) {
  err << "Error: " << message << "\n";
  err.flush();
  return 1;
}

absl::StatusOr<model::Kind> ParseKind(std::string_view name) {
  if (std::optional<model::Kind> kind = model::KindFromName(name)) return *kind;
  std::vector<std::string_view> names;
  for (model::Kind kind : model::AllKinds()) names.push_back(model::KindName(kind));
  std::sort(names.begin(), names.end());
  return absl::InvalidArgumentError(fmt::format(
      "unknown resource type \"{}\"; valid kinds: {} (any case; plurals and short names such as "
      "pool, gnp, np, wep also work)",
      name, fmt::join(names, ", ")));
}

absl::Status CheckName(std::string_view name, std::string_view what) {
  if (name.empty()) return absl::InvalidArgumentError(fmt::format("{} must not be empty", what));
  if (name.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("invalid {} \"{}\": '/' is not allowed", what, name));
  }
  return absl::OkStatus();
}

std::string LowerKindName(model::Kind kind) {
  std::string out(model::KindName(kind));
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

namespace {

// kubectl's spelling of a kind: "<kind>.<group>", the kind as documents write it; the core group
// (Namespace, apiVersion "v1") has no group part.
std::string QualifiedKind(model::Kind kind) {
  std::string wire_kind(model::WireKindName(kind));
  std::transform(wire_kind.begin(), wire_kind.end(), wire_kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view api_version = model::ApiVersionOf(kind);
  size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) return wire_kind;
  return fmt::format("{}.{}", wire_kind, api_version.substr(0, slash));
}

}  // namespace

std::string ResourceRef(model::Kind kind, std::string_view name) {
  return fmt::format("{}/{}", QualifiedKind(kind), name);
}

std::string NotFoundMessage(datastore::ResourceStore& store, model::Kind kind,
                            std::string_view namespace_name, std::string_view name) {
  // Kubernetes kinds as kubectl names them ("networkpolicy.networking.k8s.io"), which also keeps
  // them apart from tabby's NetworkPolicy.
  auto what = [](model::Kind k) {
    return model::IsKubernetesKind(k) ? QualifiedKind(k) : LowerKindName(k);
  };
  if (kind == model::Kind::kNamespace) {
    // Namespaces are implicit for policy: one with workloads but no Namespace resource exists,
    // with only its name label. Say so rather than contradict `policy matrix -n`.
    std::string message = fmt::format("{} \"{}\" not found", what(kind), name);
    auto endpoints = store.List(model::Kind::kWorkloadEndpoint, std::string(name));
    if (endpoints.ok() && !endpoints->empty()) {
      message += fmt::format(
          " as a resource, but {} workload endpoints are in it: policy treats it as a namespace "
          "with only its name labels kubernetes.io/metadata.name={} and projectcalico.org/name={} "
          "(apply a Namespace to give it more)",
          endpoints->size(), name, name);
    }
    return message;
  }
  if (!model::IsNamespaced(kind)) return fmt::format("{} \"{}\" not found", what(kind), name);
  std::string message =
      fmt::format("{} \"{}\" not found in namespace \"{}\"", what(kind), name, namespace_name);
  std::optional<model::Kind> other;
  if (kind == model::Kind::kNetworkPolicy) other = model::Kind::kKubernetesNetworkPolicy;
  if (kind == model::Kind::kKubernetesNetworkPolicy) other = model::Kind::kNetworkPolicy;
  if (other) {
    auto found = store.Get({*other, std::string(namespace_name), std::string(name)});
    if (found.ok() && *found) {
      message += *other == model::Kind::kKubernetesNetworkPolicy
                     ? " (a Kubernetes NetworkPolicy of that name exists: use knp or "
                       "networkpolicy.networking.k8s.io)"
                     : " (a tabby NetworkPolicy of that name exists: use networkpolicy)";
    }
  }
  return message;
}

// --- environment -----------------------------------------------------------------------------

CtlEnvironment CtlEnvironment::System() {
  CtlEnvironment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  env.open_datastore = [](const std::string& url) { return datastore::Open(url); };
  return env;
}

std::string ResolveDatastoreUrl(const std::string& flag, const CtlEnvironment& env) {
  if (!flag.empty()) return flag;
  if (env.getenv) {
    std::optional<std::string> value = env.getenv("TABBY_DATASTORE");
    if (value && !value->empty()) return *value;
  }
  return datastore::kDefaultDatastoreUrl;
}

// --- the command line ------------------------------------------------------------------------

namespace {

constexpr char kFilenameHelp[] =
    "file, directory (its *.yaml, *.yml, *.json files) or - for stdin; repeatable";

// -f takes one value per occurrence (repeat -f for more), as in kubectl, so that `delete -f FILE
// KIND NAME` is an error rather than three files.
CLI::Option* AddFilenameOption(CLI::App* command, std::vector<std::string>& files) {
  return command->add_option("-f,--filename", files, kFilenameHelp)->allow_extra_args(false);
}

void AddNamespaceOption(CLI::App* command, std::string& namespace_name) {
  command->add_option("-n,--namespace", namespace_name, "namespace of namespaced kinds")
      ->capture_default_str();
}

}  // namespace

int RunCtl(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
           std::ostream& err, const CtlEnvironment& env) {
  CLI::App app{
      "tabbyctl: manage tabby resources (IP pools, policies, profiles, workload "
      "endpoints, nodes, cluster configuration) in the datastore",
      "tabbyctl"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also follow the command
  std::string datastore_flag;
  app.add_option("--datastore", datastore_flag,
                 fmt::format("datastore URL (default: $TABBY_DATASTORE, else {})",
                             datastore::kDefaultDatastoreUrl));
  std::string etcd_ca, etcd_cert, etcd_key;
  app.add_option("--etcd-ca", etcd_ca,
                 "PEM file of the CA that signed the etcd servers' certificates (etcds:// only)");
  app.add_option("--etcd-cert", etcd_cert, "PEM client certificate for etcd (etcds:// only)");
  app.add_option("--etcd-key", etcd_key, "PEM key of --etcd-cert (etcds:// only)");
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    return fmt::format("Error: {}\n\n{}", e.what(), failed->help());
  });

  FileWriteOptions apply_options{WriteVerb::kApply};
  CLI::App* apply = app.add_subcommand(
      "apply", "Create or update resources from files or stdin (-f), validating all first");
  AddFilenameOption(apply, apply_options.files)->required();

  FileWriteOptions create_options{WriteVerb::kCreate};
  CLI::App* create = app.add_subcommand(
      "create", "Create resources from files or stdin (-f); fails on any that already exists");
  AddFilenameOption(create, create_options.files)->required();
  create->add_flag("--skip-exists", create_options.skip_exists,
                   "skip resources that already exist instead of failing");

  FileWriteOptions replace_options{WriteVerb::kReplace};
  CLI::App* replace = app.add_subcommand(
      "replace",
      "Replace existing resources from files or stdin (-f); fails on missing or stale ones");
  AddFilenameOption(replace, replace_options.files)->required();

  FileWriteOptions delete_file_options{WriteVerb::kDelete};
  DeleteByNameOptions delete_name_options;
  std::vector<std::string> delete_args;
  bool skip_not_exists = false;
  CLI::App* del = app.add_subcommand(
      "delete", "Delete resources named in files or stdin (-f), or by KIND NAME...");
  AddFilenameOption(del, delete_file_options.files);
  del->add_option("args", delete_args, "KIND NAME... (instead of -f)");
  AddNamespaceOption(del, delete_name_options.namespace_name);
  del->add_flag("-s,--skip-not-exists", skip_not_exists,
                "do not fail on resources that do not exist");

  GetOptions get_options;
  CLI::App* get = app.add_subcommand("get", "Show resources of one kind: a table, or yaml/json");
  get->add_option("kind", get_options.kind,
                  "ippool, networkpolicy, globalnetworkpolicy, profile, workloadendpoint, node, "
                  "clusterconfiguration, namespace, kubernetesnetworkpolicy (or plural or short "
                  "name)")
      ->required();
  get->add_option("names", get_options.names, "names (default: all)");
  AddNamespaceOption(get, get_options.namespace_name);
  get->add_flag("-A,--all-namespaces", get_options.all_namespaces,
                "namespaced kinds: list every namespace");
  get->add_option("-o,--output", get_options.output, "table (default), wide, yaml, json or name")
      ->check(CLI::IsMember({"ps", "wide", "yaml", "json", "name"}));

  LabelOptions label_options;
  CLI::App* label =
      app.add_subcommand("label", "Set (key=value) or remove (key-) labels of a resource");
  label->add_option("kind", label_options.kind, "kind of the resource")->required();
  label->add_option("name", label_options.name, "name of the resource")->required();
  label->add_option("changes", label_options.changes, "key=value to set, key- to remove")
      ->required();
  label->add_flag("--overwrite", label_options.overwrite,
                  "allow changing the value of an existing label");
  AddNamespaceOption(label, label_options.namespace_name);

  CLI::App* node_command = app.add_subcommand("node", "Nodes (hosts) of the cluster");
  node_command->require_subcommand(1);
  NodeDeleteOptions node_delete_options;
  CLI::App* node_delete = node_command->add_subcommand(
      "delete",
      "Remove a node for good: its workload endpoints, its IPAM addresses and blocks, its Node");
  node_delete->add_option("name", node_delete_options.name, "the node's name")->required();
  node_delete->add_flag("--force", node_delete_options.force,
                        "even if its tabbyd is still running (it would register the node again)");
  NodeStatusOptions node_status_options;
  CLI::App* node_status = node_command->add_subcommand(
      "status", "This host's BGP sessions, as its BIRD reports them (needs no datastore)");
  node_status
      ->add_option("--bird-socket", node_status_options.bird_socket,
                   "the control socket of this host's BIRD (tabbyd's --bird-socket)")
      ->capture_default_str();
  node_status->add_option("-o,--output", node_status_options.output, "table or json")
      ->capture_default_str();

  CLI::App* ipam =
      app.add_subcommand("ipam", "IP address management: show, check, release, configure");
  ipam->require_subcommand(1);
  IpamShowOptions ipam_show_options;
  CLI::App* ipam_show = ipam->add_subcommand("show", "IP pools and their utilisation");
  ipam_show->add_flag("--show-blocks", ipam_show_options.show_blocks,
                      "also each block, the host that owns it and how full it is");
  ipam_show->add_option("--ip", ipam_show_options.ip, "show who holds this address");
  IpamRepairOptions ipam_check_options;
  IpamRepairOptions ipam_release_options{.repair = true};
  std::string check_grace = "10m", release_grace = "10m";
  CLI::App* ipam_check = ipam->add_subcommand(
      "check", "Report leaked addresses, orphan handles and blocks of hosts that no longer exist");
  CLI::App* ipam_release =
      ipam->add_subcommand("release", "Repair what `ipam check` reports (or release one --ip)");
  for (auto [command, options, grace] :
       {std::tuple{ipam_check, &ipam_check_options, &check_grace},
        std::tuple{ipam_release, &ipam_release_options, &release_grace}}) {
    command
        ->add_option("--grace", *grace,
                     "addresses younger than this are never leaks (a workload may be starting)")
        ->capture_default_str();
    command->add_option("--node", options->node, "only this node's addresses and blocks");
  }
  ipam_release->add_flag("--dry-run", ipam_release_options.dry_run,
                         "print what would be released, change nothing");
  ipam_release->add_option("--ip", ipam_release_options.ip,
                           "release this one address (refused while a workload endpoint "
                           "holds it, unless --force)");
  ipam_release->add_flag("--force", ipam_release_options.force,
                         "with --ip: release it even if a workload endpoint holds it");
  IpamConfigureOptions ipam_configure_options;
  CLI::App* ipam_configure = ipam->add_subcommand("configure", "Set cluster-wide IPAM settings");
  ipam_configure->add_option("--strict-affinity", ipam_configure_options.strict_affinity,
                             "true: hosts never borrow addresses from other hosts' blocks");
  ipam_configure->add_option("--max-blocks-per-host", ipam_configure_options.max_blocks_per_host,
                             "blocks a host may claim per address family (0: unlimited)");

  CLI::App* policy = app.add_subcommand(
      "policy", "What policy decides, computed from the model without sending packets");
  policy->require_subcommand(1);
  PolicyExplainOptions explain_options;
  CLI::App* explain = policy->add_subcommand(
      "explain", "Which policies and rules decide a packet from SRC to DST, and the verdict");
  explain
      ->add_option("source", explain_options.source,
                   "namespace/name, name, endpoint name or address")
      ->required();
  explain->add_option("destination", explain_options.destination, "the same, for the destination")
      ->required();
  PolicyMatrixOptions matrix_options;
  CLI::App* matrix = policy->add_subcommand(
      "matrix", "All-to-all reachability of workloads; with -f, as it would be after the changes");
  matrix
      ->add_option("-n,--namespace", matrix_options.namespaces,
                   "only workloads of these namespaces (repeat or comma-separate)")
      ->delimiter(',');
  AddFilenameOption(matrix, matrix_options.files);
  matrix->add_option("-o,--output", matrix_options.output, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  for (auto [command, port, protocol] :
       {std::tuple{explain, &explain_options.port, &explain_options.protocol},
        std::tuple{matrix, &matrix_options.port, &matrix_options.protocol}}) {
    command->add_option("--port", *port, "destination port")->capture_default_str();
    command->add_option("--protocol", *protocol, "TCP, UDP, SCTP, ICMP or ICMPv6")
        ->capture_default_str();
  }

  CLI::App* datastore_command =
      app.add_subcommand("datastore", "Create the datastore, or say which cluster it holds");
  datastore_command->require_subcommand(1);
  CLI::App* datastore_init = datastore_command->add_subcommand(
      "init",
      "Create the datastore and its cluster identity (nothing else creates one, but the "
      "first tabbyd on the default path)");
  CLI::App* datastore_info =
      datastore_command->add_subcommand("info", "The datastore's cluster GUID and revision");

  CLI::App* version = app.add_subcommand("version", "Print the tabbyctl version");

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses from the back
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 1;
  }

  auto resolve_url = [&] {
    return datastore::WithEtcdTlsFiles(ResolveDatastoreUrl(datastore_flag, env), etcd_ca, etcd_cert,
                                       etcd_key);
  };
  DatastoreOpener open = [&]() -> absl::StatusOr<std::unique_ptr<datastore::Datastore>> {
    ASSIGN_OR_RETURN(std::string url, resolve_url());
    absl::StatusOr<std::unique_ptr<datastore::Datastore>> store =
        env.open_datastore ? env.open_datastore(url) : datastore::Open(url);
    if (!store.ok()) return Annotate(store.status(), fmt::format("cannot open datastore {}", url));
    return store;
  };
  Streams io{in, out, err};

  if (apply->parsed()) return RunFileWrite(apply_options, open, io);
  if (create->parsed()) return RunFileWrite(create_options, open, io);
  if (replace->parsed()) return RunFileWrite(replace_options, open, io);
  if (del->parsed()) {
    bool by_file = !delete_file_options.files.empty();
    if (by_file && !delete_args.empty()) {
      return PrintError(err, "give either -f FILE or KIND NAME..., not both");
    }
    if (by_file) {
      delete_file_options.skip_not_exists = skip_not_exists;
      return RunFileWrite(delete_file_options, open, io);
    }
    if (delete_args.empty()) {
      return PrintError(err, "nothing to delete: give -f FILE or KIND NAME...");
    }
    delete_name_options.kind = delete_args.front();
    delete_name_options.names.assign(delete_args.begin() + 1, delete_args.end());
    delete_name_options.skip_not_exists = skip_not_exists;
    return RunDeleteByName(delete_name_options, open, io);
  }
  if (get->parsed()) return RunGet(get_options, open, io);
  if (label->parsed()) return RunLabel(label_options, open, io);
  if (ipam_show->parsed()) return RunIpamShow(ipam_show_options, open, io);
  if (explain->parsed()) return RunPolicyExplain(explain_options, open, io);
  if (matrix->parsed()) return RunPolicyMatrix(matrix_options, open, io);
  if (ipam_check->parsed() || ipam_release->parsed()) {
    bool release = ipam_release->parsed();
    IpamRepairOptions& options = release ? ipam_release_options : ipam_check_options;
    absl::Duration grace;
    if (!absl::ParseDuration(release ? release_grace : check_grace, &grace) ||
        grace < absl::ZeroDuration()) {
      return PrintError(err, fmt::format("--grace: \"{}\" is not a duration such as 10m or 90s",
                                         release ? release_grace : check_grace));
    }
    options.grace = grace;
    return RunIpamCheck(options, open, io);
  }
  if (ipam_configure->parsed()) {
    if (!ipam_configure_options.strict_affinity && !ipam_configure_options.max_blocks_per_host) {
      return PrintError(err,
                        "nothing to configure: give --strict-affinity or --max-blocks-per-host");
    }
    return RunIpamConfigure(ipam_configure_options, open, io);
  }
  if (node_delete->parsed()) return RunNodeDelete(node_delete_options, open, io);
  if (node_status->parsed()) return RunNodeStatus(node_status_options, io);
  if (datastore_init->parsed()) {
    absl::StatusOr<std::string> url = resolve_url();
    if (!url.ok()) return PrintError(err, MessageOf(url.status()));
    return RunDatastoreInit(*url, io);
  }
  if (datastore_info->parsed()) {
    absl::StatusOr<std::string> url = resolve_url();
    if (!url.ok()) return PrintError(err, MessageOf(url.status()));
    return RunDatastoreInfo(*url, open, io);
  }
  if (version->parsed()) {
    out << "Client Version: " << TABBY_VERSION << "\n";
    out.flush();
    return 0;
  }
  return PrintError(err, "no command given; see tabbyctl --help");
}

}  // namespace tabby::ctl
