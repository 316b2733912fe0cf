#include "cni/plugin.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/clock.h"
#include "base/files.h"
#include "base/hash.h"
#include "base/status_macros.h"
#include "dataplane/nft_render.h"
#include "datastore/cluster_identity.h"
#include "datastore/resource_store.h"
#include "ipam/block_allocator.h"
#include "model/validate.h"

namespace tabby::cni {
namespace {

using nlohmann::json;

constexpr char kNetworkAnnotation[] = "tabby.dev/network";
constexpr char kNetnsAnnotation[] = "tabby.dev/netns";

PluginOutput ErrorOutput(const CniError& error, const std::string& version) {
  return PluginOutput{1, error.ToJson(version), error.message + "\n"};
}

bool VersionBefore1(const std::string& version) { return version.rfind("0.", 0) == 0; }

// One run of the plugin: the parsed invocation and what it connects to.
class Call {
 public:
  Call(const PluginEnvironment& env, cni::Invocation inv) : env_(env), inv_(std::move(inv)) {}

  PluginOutput Run() {
    switch (inv_.command) {
      case Command::kAdd:
        return Add();
      case Command::kDel:
        return Del();
      case Command::kCheck:
        return Check();
      case Command::kStatus:
        return Status();
      case Command::kGc:
        return Gc();
      case Command::kVersion:
        break;
    }
    return Fail({ErrorCode::kInvalidEnvironment, "unexpected command", ""});
  }

 private:
  const NetConf& conf() const { return inv_.config; }

  PluginOutput Fail(const CniError& error) { return ErrorOutput(error, conf().cni_version); }
  PluginOutput Success(std::string stdout_text = "") {
    return PluginOutput{0, std::move(stdout_text), ""};
  }

  // The node this host runs as; checked before anything is written (an invalid name would
  // otherwise leave a block claimed for a node that can never record an endpoint).
  std::optional<CniError> ResolveNode() {
    absl::StatusOr<std::string> node;
    ErrorCode code = ErrorCode::kInvalidEnvironment;
    if (!conf().nodename.empty()) {
      node = model::ResolveNodeName(conf().nodename, "the network configuration's nodename", "");
      code = ErrorCode::kInvalidConfig;
    } else if (auto env = env_.getenv("TABBY_NODE"); env && !env->empty()) {
      node = model::ResolveNodeName(*env, "$TABBY_NODE", "");
    } else {
      node = model::ResolveNodeName("", "", env_.hostname);
    }
    if (!node.ok()) return CniError{code, std::string(MessageOf(node.status())), ""};
    node_ = *node;
    return std::nullopt;
  }
  const std::string& Node() const { return node_; }

  std::string DatastoreUrl() const {
    if (!conf().datastore.empty()) return conf().datastore;
    if (auto url = env_.getenv("TABBY_DATASTORE"); url && !url->empty()) return *url;
    return datastore::kDefaultDatastoreUrl;
  }

  std::optional<CniError> Connect() {
    auto store = env_.open_datastore(DatastoreUrl());
    if (!store.ok()) {
      CniError error =
          FromStatus(store.status(), fmt::format("cannot open datastore {}", DatastoreUrl()));
      if (store.status().code() != absl::StatusCode::kInvalidArgument) {
        error.code = ErrorCode::kTryAgainLater;
      }
      return error;
    }
    store_ = std::move(*store);
    return std::nullopt;
  }

  std::string Handle() const {
    return fmt::format("{}.{}.{}", conf().name, inv_.container_id, inv_.ifname);
  }

  std::string EndpointName(const WorkloadIdentity& identity) const {
    return model::WorkloadEndpointName(Node(), conf().orchestrator, identity.workload, inv_.ifname);
  }

  // The host end of this attachment's veth pair: named from what identifies the attachment
  // (container id + interface), so that every command finds it from CNI_CONTAINERID and
  // CNI_IFNAME alone, whatever CNI_ARGS it was given.
  std::string HostIfname() const { return HostInterfaceName(inv_.container_id, inv_.ifname); }

  // The netconf's mtu; else what the agent wrote to <agent_state_dir>/mtu (the VXLAN devices'
  // MTU while the overlay is on), else 1500.
  int WorkloadMtu() const {
    if (conf().mtu > 0) return conf().mtu;
    absl::StatusOr<std::string> text = ReadFile(conf().agent_state_dir + "/mtu");
    if (!text.ok()) return 1500;
    int mtu = 0;
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), mtu);
    return error == std::errc() && mtu >= 576 && mtu <= 65535 ? mtu : 1500;
  }

  model::Resource MakeEndpoint(const WorkloadIdentity& identity) const {
    model::Resource endpoint = model::MakeResource(model::Kind::kWorkloadEndpoint,
                                                   EndpointName(identity), identity.namespace_name);
    endpoint.metadata.labels = identity.labels;
    endpoint.metadata.annotations = {{kNetworkAnnotation, conf().name},
                                     {ipam::kHandleAnnotation, Handle()},
                                     {kNetnsAnnotation, inv_.netns}};
    auto& spec = endpoint.workload_endpoint();
    spec.orchestrator = conf().orchestrator;
    spec.workload = identity.workload;
    spec.node = Node();
    spec.container_id = inv_.container_id;
    spec.pod = identity.workload;
    spec.endpoint = inv_.ifname;
    if (conf().assign_ipv4) spec.ipv4_gateway = kIpv4Gateway;
    if (conf().assign_ipv6) spec.ipv6_gateway = kIpv6Gateway;
    spec.profiles = identity.profiles;
    spec.interface_name = HostIfname();
    spec.ports = identity.ports;
    return endpoint;
  }

  // "<namespace>/<name>": how the IPAM handle records the endpoint that uses its addresses.
  static std::string EndpointRef(const model::Resource& endpoint) {
    return fmt::format("{}/{}", endpoint.metadata.namespace_name, endpoint.metadata.name);
  }

  PluginOutput Add() {
    WorkloadIdentity identity;
    if (auto error = ResolveIdentity(inv_, identity)) return Fail(*error);
    if (auto error = ResolveNode()) return Fail(*error);
    // Everything the endpoint will say is checked before the first datastore write.
    model::Resource endpoint = MakeEndpoint(identity);
    model::ApplyDefaults(endpoint);
    if (absl::Status valid = model::Validate(endpoint); !valid.ok()) {
      return Fail({ErrorCode::kInvalidConfig, "the workload endpoint would be invalid",
                   std::string(MessageOf(valid))});
    }
    if (!env_.network->NetnsExists(inv_.netns)) {
      return Fail({ErrorCode::kInvalidEnvironment,
                   fmt::format("CNI_NETNS {} does not exist", inv_.netns), ""});
    }
    if (auto error = Connect()) return Fail(*error);

    ipam::BlockAllocator allocator(*store_, SystemClock::Get());
    ipam::AllocationRequest request;
    request.handle = Handle();
    request.node = Node();
    request.attributes = {{"namespace", identity.namespace_name},
                          {"workload", identity.workload},
                          {"containerID", inv_.container_id},
                          {"network", conf().name}};
    request.handle_attributes = {{ipam::kHandleEndpointAttribute, EndpointRef(endpoint)},
                                 {ipam::kHandleInterfaceAttribute, HostIfname()}};
    request.ipv4 = conf().assign_ipv4;
    request.ipv6 = conf().assign_ipv6;
    request.ipv4_pools = conf().ipv4_pools;
    request.ipv6_pools = conf().ipv6_pools;
    // This container's interface may be attached already (a retried ADD gets what it had). If
    // it is attached as another workload, the runtime must DEL it first: nothing here may touch
    // the live attachment, and the undo below releases only what this call allocated.
    auto held = allocator.Lookup(request.handle);
    if (!held.ok()) return Fail(FromStatus(held.status(), "cannot read the IPAM handle"));
    if (auto owner = held->attributes.find(ipam::kHandleEndpointAttribute);
        !held->addresses.empty() && owner != held->attributes.end() &&
        owner->second != EndpointRef(endpoint)) {
      return Fail({ErrorCode::kInternal,
                   fmt::format("interface {} of container {} is already attached as workload "
                               "endpoint {}: DEL it before adding it again",
                               inv_.ifname, inv_.container_id, owner->second),
                   ""});
    }
    const bool held_before = !held->addresses.empty();
    auto addresses = allocator.Allocate(request);
    if (!addresses.ok()) {
      CniError error = FromStatus(addresses.status(), "cannot allocate an address");
      if (addresses.status().code() == absl::StatusCode::kNotFound) {
        error.code = ErrorCode::kNoUsablePool;
      }
      return Fail(error);
    }
    auto undo_ipam = [&]() {
      if (!held_before) (void)allocator.ReleaseHandle(request.handle);
    };

    WorkloadWiring wiring;
    wiring.owner = inv_.container_id;
    wiring.netns_path = inv_.netns;
    wiring.container_ifname = inv_.ifname;
    wiring.host_ifname = HostIfname();
    wiring.mtu = WorkloadMtu();
    for (const auto& a : *addresses) wiring.addresses.push_back(IpNetwork::Host(a));
    std::sort(wiring.addresses.begin(), wiring.addresses.end(),
              [](const IpNetwork& a, const IpNetwork& b) { return a.is_v4() > b.is_v4(); });
    auto wired = env_.network->Setup(wiring);
    if (!wired.ok()) {
      undo_ipam();
      return Fail({ErrorCode::kInternal,
                   fmt::format("cannot wire workload interface {} in {}", inv_.ifname, inv_.netns),
                   std::string(MessageOf(wired.status()))});
    }

    auto& spec = endpoint.workload_endpoint();
    for (const auto& a : wiring.addresses) spec.ip_networks.push_back(a.ToString());
    spec.mac = wired->container_mac;
    datastore::ResourceStore resources(*store_);
    auto stored = resources.Apply(endpoint);
    if (!stored.ok()) {
      (void)env_.network->Teardown(wiring.host_ifname, inv_.container_id);
      undo_ipam();
      CniError error = FromStatus(stored.status(), "cannot record the workload endpoint");
      return Fail(error);
    }
    std::string warning;
    if (conf().wait_for_agent_seconds > 0) {
      int64_t revision = std::strtoll(stored->metadata.resource_version.c_str(), nullptr, 10);
      if (!WaitForAgent(revision)) {
        warning = fmt::format(
            "warning: the agent of node {} did not report programming revision {} of this "
            "datastore within {} s (is tabbyd running for this node and datastore with "
            "--state-dir {}?); the workload's traffic is dropped until it does\n",
            Node(), revision, conf().wait_for_agent_seconds, conf().agent_state_dir);
      }
    }
    PluginOutput out = Success(ResultJson(wiring, *wired));
    out.stderr_text = warning;
    return out;
  }

  // Whether this node's agent, programming from this datastore, reports `revision` in place
  // before the wait runs out. A status file of another node or cluster (a stale file, a wrong
  // agent_state_dir) never counts.
  bool WaitForAgent(int64_t revision) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration<double>(conf().wait_for_agent_seconds);
    auto identity = datastore::ReadClusterIdentity(*store_);
    if (!identity.ok()) return false;
    std::string path = conf().agent_state_dir + "/status.json";
    // The agent replaces status.json after each batch it programs: wake on that. Polling the
    // file every few milliseconds in every waiting plugin took, at 30 ADDs a second, more than
    // half of the machine from the agent they were waiting for. Watching starts before the
    // first read, so a replacement in between still wakes the wait.
    DirectoryChanges changes(conf().agent_state_dir);
    while (true) {
      auto text = ReadFile(path);
      if (text.ok()) {
        json status = json::parse(*text, nullptr, false);
        if (!status.is_discarded() && status.is_object() && status.value("node", "") == Node() &&
            status.value("clusterGUID", "") == identity->cluster_guid &&
            status.value("revision", int64_t{0}) >= revision) {
          return true;
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      // A safety net under the notification, and the pace of the wait without one (no state
      // directory yet, no inotify).
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
      changes.Wait(static_cast<int>(std::min<int64_t>(left, changes.watching() ? 100 : 10)));
    }
  }

  std::string ResultJson(const WorkloadWiring& wiring, const WiredWorkload& wired) const {
    json result;
    result["cniVersion"] = conf().cni_version;
    result["interfaces"] = json::array({json{{"name", wiring.host_ifname}, {"mac", wired.host_mac}},
                                        json{{"name", wiring.container_ifname},
                                             {"mac", wired.container_mac},
                                             {"sandbox", wiring.netns_path}}});
    json ips = json::array();
    json routes = json::array();
    bool has4 = false, has6 = false;
    for (const auto& address : wiring.addresses) {
      json ip = {{"address", address.ToString()}, {"interface", 1}};
      if (VersionBefore1(conf().cni_version)) ip["version"] = address.is_v4() ? "4" : "6";
      ips.push_back(ip);
      (address.is_v4() ? has4 : has6) = true;
    }
    if (has4) routes.push_back({{"dst", "0.0.0.0/0"}, {"gw", kIpv4Gateway}});
    if (has6) routes.push_back({{"dst", "::/0"}, {"gw", kIpv6Gateway}});
    result["ips"] = ips;
    result["routes"] = routes;
    result["dns"] = json::object();
    return result.dump(2);
  }

  // The endpoint this attachment recorded, if it still exists and still belongs to this
  // container and interface. Found through the IPAM handle, which is keyed by container id +
  // interface and names the endpoint; a handle written before it named one (or already released)
  // falls back to the name CNI_ARGS give.
  absl::StatusOr<std::optional<model::Resource>> FindEndpoint(const WorkloadIdentity& identity) {
    ipam::BlockAllocator allocator(*store_, SystemClock::Get());
    ASSIGN_OR_RETURN(ipam::HeldAddresses held, allocator.Lookup(Handle()));
    datastore::ResourceId id{model::Kind::kWorkloadEndpoint, identity.namespace_name,
                             Node().empty() ? "" : EndpointName(identity)};
    if (auto ref = held.attributes.find(ipam::kHandleEndpointAttribute);
        ref != held.attributes.end()) {
      size_t slash = ref->second.find('/');
      id.namespace_name = ref->second.substr(0, slash);
      id.name = slash == std::string::npos ? "" : ref->second.substr(slash + 1);
    }
    if (id.name.empty()) return std::optional<model::Resource>();
    datastore::ResourceStore resources(*store_);
    ASSIGN_OR_RETURN(auto endpoint, resources.Get(id));
    if (endpoint && (endpoint->workload_endpoint().container_id != inv_.container_id ||
                     endpoint->workload_endpoint().endpoint != inv_.ifname)) {
      return std::optional<model::Resource>();  // a newer container of the workload owns it
    }
    return endpoint;
  }

  PluginOutput Del() {
    // DEL identifies the attachment by CNI_CONTAINERID + CNI_IFNAME only, as the spec says: it
    // must find and remove everything ADD made even when CNI_ARGS differ or are missing.
    WorkloadIdentity identity;
    (void)ResolveIdentity(inv_, identity);  // only a fallback for handles that name no endpoint
    (void)ResolveNode();
    std::string host_ifname = HostIfname();
    // Deleting the veth pair is most of DEL's time (the kernel waits out RCU grace periods while
    // it unregisters both ends) and is mostly sleeping, so it runs alongside the datastore work.
    // The interface records its owner, so this needs no datastore read first. The endpoint is
    // deleted before the addresses are released, so no other endpoint can be given one of them
    // while this one still names it.
    std::future<absl::Status> removed = std::async(std::launch::async, [this, &host_ifname] {
      return env_.network->Teardown(host_ifname, inv_.container_id);
    });
    std::optional<CniError> datastore_error = Connect();
    if (!datastore_error) datastore_error = ForgetEndpoint(identity, host_ifname);
    absl::Status teardown = removed.get();
    if (!teardown.ok()) {
      return Fail({ErrorCode::kInternal, fmt::format("cannot remove {}", host_ifname),
                   std::string(MessageOf(teardown))});
    }
    // Without the datastore the addresses cannot be released now: the runtime retries.
    if (datastore_error) return Fail(*datastore_error);
    return Success();
  }

  // Deletes this attachment's endpoint (if it still belongs to it), then releases its addresses.
  std::optional<CniError> ForgetEndpoint(const WorkloadIdentity& identity,
                                         const std::string& host_ifname) {
    auto endpoint = FindEndpoint(identity);
    if (!endpoint.ok()) return FromStatus(endpoint.status(), "cannot read workload endpoint");
    if (*endpoint) {
      const model::WorkloadEndpointSpec& spec = (*endpoint)->workload_endpoint();
      // An endpoint from an older plugin named its interface differently.
      if (!spec.interface_name.empty() && spec.interface_name != host_ifname) {
        absl::Status removed = env_.network->Teardown(spec.interface_name, inv_.container_id);
        if (!removed.ok()) return FromStatus(removed, "cannot remove " + spec.interface_name);
      }
      datastore::ResourceStore resources(*store_);
      absl::Status deleted = resources.Delete(
          datastore::ResourceStore::IdOf(**endpoint),
          std::strtoll((*endpoint)->metadata.resource_version.c_str(), nullptr, 10));
      if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) {
        return FromStatus(deleted, "cannot delete workload endpoint");
      }
    }
    ipam::BlockAllocator allocator(*store_, SystemClock::Get());
    absl::Status released = allocator.ReleaseHandle(Handle());
    if (!released.ok()) return FromStatus(released, "cannot release addresses");
    return std::nullopt;
  }

  PluginOutput Check() {
    WorkloadIdentity identity;
    if (auto error = ResolveIdentity(inv_, identity)) return Fail(*error);
    if (auto error = ResolveNode()) return Fail(*error);
    if (auto error = Connect()) return Fail(*error);
    auto found = FindEndpoint(identity);
    if (!found.ok()) return Fail(FromStatus(found.status(), "cannot read workload endpoint"));
    auto broken = [&](std::string why) {
      return Fail({ErrorCode::kAttachmentBroken,
                   fmt::format("attachment {} of container {} is broken: {}", inv_.ifname,
                               inv_.container_id, why),
                   ""});
    };
    if (!*found) return broken("no workload endpoint is recorded for it");
    const auto& spec = (*found)->workload_endpoint();
    WorkloadWiring wiring;
    wiring.netns_path = inv_.netns;
    wiring.container_ifname = inv_.ifname;
    wiring.host_ifname = spec.interface_name;
    for (const auto& text : spec.ip_networks) {
      auto network = IpNetwork::Parse(text);
      if (network.ok()) wiring.addresses.push_back(*network);
    }
    if (conf().prev_result && conf().prev_result->contains("ips")) {
      for (const auto& ip : (*conf().prev_result)["ips"]) {
        auto network = IpNetwork::Parse(ip.value("address", ""));
        if (!network.ok()) return broken("prevResult has an invalid address");
        bool known = std::find(wiring.addresses.begin(), wiring.addresses.end(), *network) !=
                     wiring.addresses.end();
        if (!known) {
          return broken(
              fmt::format("prevResult address {} is not the endpoint's", network->ToString()));
        }
      }
    }
    ipam::BlockAllocator allocator(*store_, SystemClock::Get());
    auto held = allocator.AddressesOf(Handle());
    if (!held.ok()) return Fail(FromStatus(held.status(), "cannot read IPAM handle"));
    if (held->size() != wiring.addresses.size()) {
      return broken("its addresses are no longer allocated to it");
    }
    absl::Status status = env_.network->Check(wiring);
    if (!status.ok()) return broken(std::string(MessageOf(status)));
    return Success();
  }

  PluginOutput Status() {
    auto store = env_.open_datastore(DatastoreUrl());
    if (!store.ok()) {
      return Fail({ErrorCode::kPluginNotAvailable,
                   fmt::format("datastore {} is not reachable", DatastoreUrl()),
                   std::string(MessageOf(store.status()))});
    }
    datastore::ResourceStore resources(**store);
    auto pools = resources.List(model::Kind::kIPPool);
    if (!pools.ok()) {
      return Fail({ErrorCode::kPluginNotAvailable, "cannot read IP pools from the datastore",
                   std::string(MessageOf(pools.status()))});
    }
    bool usable = std::any_of(pools->begin(), pools->end(),
                              [](const model::Resource& p) { return !p.ip_pool().disabled; });
    if (!usable) {
      return Fail({ErrorCode::kPluginNotAvailable,
                   "no enabled IP pool: create one with tabbyctl apply -f", ""});
    }
    return Success();
  }

  PluginOutput Gc() {
    if (!conf().valid_attachments) return Success();  // nothing to compare against
    if (auto error = ResolveNode()) return Fail(*error);
    if (auto error = Connect()) return Fail(*error);
    std::set<Attachment> valid(conf().valid_attachments->begin(), conf().valid_attachments->end());
    datastore::ResourceStore resources(*store_);
    auto endpoints = resources.List(model::Kind::kWorkloadEndpoint);
    if (!endpoints.ok()) return Fail(FromStatus(endpoints.status(), "cannot list endpoints"));
    ipam::BlockAllocator allocator(*store_, SystemClock::Get());
    std::string node = Node();
    for (const auto& endpoint : *endpoints) {
      const auto& spec = endpoint.workload_endpoint();
      auto network = endpoint.metadata.annotations.find(kNetworkAnnotation);
      if (spec.node != node || network == endpoint.metadata.annotations.end() ||
          network->second != conf().name) {
        continue;
      }
      bool listed = valid.contains({spec.container_id, spec.endpoint}) ||
                    valid.contains({spec.container_id, ""});
      if (listed) continue;
      if (auto handle = endpoint.metadata.annotations.find(ipam::kHandleAnnotation);
          handle != endpoint.metadata.annotations.end()) {
        absl::Status released = allocator.ReleaseHandle(handle->second);
        if (!released.ok()) return Fail(FromStatus(released, "cannot release addresses"));
      }
      (void)env_.network->Teardown(spec.interface_name, spec.container_id);
      absl::Status deleted =
          resources.Delete(datastore::ResourceStore::IdOf(endpoint),
                           std::strtoll(endpoint.metadata.resource_version.c_str(), nullptr, 10));
      if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound &&
          deleted.code() != absl::StatusCode::kAborted) {
        return Fail(FromStatus(deleted, "cannot delete stale workload endpoint"));
      }
    }
    return Success();
  }

  const PluginEnvironment& env_;
  cni::Invocation inv_;
  std::unique_ptr<datastore::Datastore> store_;
  std::string node_;
};

}  // namespace

std::string HostInterfaceName(const std::string& container_id, const std::string& ifname) {
  std::string identity = fmt::format("{}.{}", container_id, ifname);
  size_t room = 15 - std::string_view(dataplane::kInterfacePrefix).size();
  return dataplane::kInterfacePrefix + StableHashHex(identity, static_cast<int>(room));
}

PluginOutput RunPlugin(const PluginEnvironment& environment, const std::string& stdin_text) {
  ParseResult parsed = ParseInvocation(environment.getenv, stdin_text);
  if (parsed.error) return ErrorOutput(*parsed.error, parsed.cni_version);
  if (parsed.invocation->command == Command::kVersion) {
    json out = {{"cniVersion", kSpecVersion}, {"supportedVersions", SupportedVersions()}};
    return PluginOutput{0, out.dump(2), ""};
  }
  Call call(environment, std::move(*parsed.invocation));
  return call.Run();
}

}  // namespace tabby::cni
