// get.
#include <fmt/format.h>

#include <ostream>

#include "base/status_macros.h"
#include "ctl/commands.h"
#include "ctl/table.h"
#include "datastore/node_liveness.h"
#include "datastore/resource_store.h"
#include "model/codec.h"

namespace tabby::ctl {
namespace {

using model::Resource;

// A list of `kind` as `get -o json|yaml` prints it: `<Kind>List` even when empty, in the kind's
// apiVersion (networking.k8s.io/v1 NetworkPolicyList for Kubernetes NetworkPolicies).
nlohmann::json ListOf(model::Kind kind, const std::vector<Resource>& resources) {
  nlohmann::json list = model::EncodeList(resources);
  list["apiVersion"] = std::string(model::ApiVersionOf(kind));
  list["kind"] = fmt::format("{}List", model::WireKindName(kind));
  return list;
}

std::string ListYaml(model::Kind kind, const std::vector<Resource>& resources) {
  if (!resources.empty()) return model::EncodeListYaml(resources);  // <Kind>List: one kind
  return fmt::format("apiVersion: {}\nitems: []\nkind: {}List\n", model::ApiVersionOf(kind),
                     model::WireKindName(kind));
}

std::string EnsureNewline(std::string text) {
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace

int RunGet(const GetOptions& options, const DatastoreOpener& open, Streams io) {
  absl::StatusOr<model::Kind> kind = ParseKind(options.kind);
  if (!kind.ok()) return PrintError(io.err, MessageOf(kind.status()));
  bool namespaced = model::IsNamespaced(*kind);
  bool all_namespaces = namespaced && options.all_namespaces;
  if (all_namespaces && !options.names.empty()) {
    return PrintError(io.err,
                      "a resource cannot be retrieved by name across all namespaces: use -n NS");
  }
  std::string namespace_name = namespaced && !all_namespaces ? options.namespace_name : "";
  if (namespaced && !all_namespaces) {
    if (absl::Status status = CheckName(namespace_name, "namespace"); !status.ok()) {
      return PrintError(io.err, MessageOf(status));
    }
  }
  for (const std::string& name : options.names) {
    if (absl::Status status = CheckName(name, "name"); !status.ok()) {
      return PrintError(io.err, MessageOf(status));
    }
  }

  absl::StatusOr<std::unique_ptr<datastore::Datastore>> datastore = open();
  if (!datastore.ok()) return PrintError(io.err, MessageOf(datastore.status()));
  datastore::ResourceStore store(**datastore);

  std::vector<Resource> found;
  std::vector<std::string> missing;
  if (options.names.empty()) {
    absl::StatusOr<std::vector<Resource>> listed = store.List(*kind, namespace_name);
    if (!listed.ok()) return PrintError(io.err, MessageOf(listed.status()));
    found = std::move(*listed);
  } else {
    for (const std::string& name : options.names) {
      absl::StatusOr<std::optional<Resource>> got =
          store.Get(datastore::ResourceId{*kind, namespace_name, name});
      if (!got.ok()) return PrintError(io.err, MessageOf(got.status()));
      if (*got) {
        found.push_back(std::move(**got));
      } else {
        missing.push_back(NotFoundMessage(store, *kind, namespace_name, name));
      }
    }
  }

  const std::string& output = options.output;
  bool single = options.names.size() == 1;
  if (output == "yaml") {
    if (single && found.size() == 1) {
      io.out << EnsureNewline(model::EncodeYaml(found.front()));
    } else if (!single) {
      io.out << EnsureNewline(ListYaml(*kind, found));
    }
  } else if (output == "json") {
    if (single && found.size() == 1) {
      io.out << EnsureNewline(model::EncodeJson(found.front(), /*pretty=*/true));
    } else if (!single) {
      io.out << EnsureNewline(
          ListOf(*kind, found).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  } else if (output == "name") {
    for (const Resource& resource : found) {
      io.out << ResourceRef(resource.kind, resource.metadata.name) << "\n";
    }
  } else if (!found.empty()) {
    Table table = MakeTable(*kind, found, output == "wide", all_namespaces);
    if (*kind == model::Kind::kNode) {
      // Not part of the resource: whether the node's tabbyd keeps its liveness lease.
      absl::StatusOr<std::map<std::string, datastore::NodeLivenessRecord>> live =
          datastore::ListLiveNodes(**datastore);
      if (!live.ok()) return PrintError(io.err, MessageOf(live.status()));
      table.headers.insert(table.headers.begin() + 1, "STATUS");
      for (size_t i = 0; i < table.rows.size(); ++i) {
        table.rows[i].insert(table.rows[i].begin() + 1,
                             live->contains(found[i].metadata.name) ? "Alive" : "Gone");
      }
    }
    io.out << RenderTable(table);
  } else if (options.names.empty()) {
    if (namespaced && !all_namespaces) {
      io.err << fmt::format("No resources found in namespace \"{}\".\n", namespace_name);
    } else {
      io.err << "No resources found.\n";
    }
  }
  io.out.flush();
  for (const std::string& message : missing) PrintError(io.err, message);
  return missing.empty() ? 0 : 1;
}

}  // namespace tabby::ctl
