// The tabby CNI plugin (CNI spec 1.1.0: ADD, DEL, CHECK, STATUS, GC, VERSION).
//
// ADD   allocates one address per family from the IP pools, wires the workload (see
//       workload_network.h), records a WorkloadEndpoint, and returns the CNI result. If any
//       step fails, the earlier steps are undone: no address, interface or endpoint is left.
// DEL   deletes the WorkloadEndpoint (only if it still belongs to this container and interface),
//       releases the addresses and removes the veth pair, all found from CNI_CONTAINERID and
//       CNI_IFNAME alone (the IPAM handle names the endpoint). Idempotent: deleting what was
//       never added succeeds.
// CHECK verifies the endpoint, the interfaces, addresses and routes still exist as ADD made them.
// STATUS reports whether the datastore is reachable and an IP pool exists.
// GC    removes attachments of this network on this node that the runtime no longer lists.
//
// Everything outside the plugin's logic comes in through PluginEnvironment, so unit tests run it
// against a fake network and a temporary datastore.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cni/netconf.h"
#include "cni/workload_network.h"
#include "datastore/datastore.h"

namespace tabby::cni {

struct PluginEnvironment {
  std::function<std::optional<std::string>(const char*)> getenv;
  std::function<absl::StatusOr<std::unique_ptr<datastore::Datastore>>(const std::string& url)>
      open_datastore;
  WorkloadNetwork* network = nullptr;
  std::string hostname;
};

struct PluginOutput {
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;  // diagnostics for humans; never parsed by runtimes
};

PluginOutput RunPlugin(const PluginEnvironment& environment, const std::string& stdin_text);

// The host-side interface name of an attachment: the prefix the dataplane polices plus a hash
// of what identifies the attachment in CNI (container id + interface), so that DEL finds it
// from those alone, and a new sandbox of a workload never collides with its predecessor's.
std::string HostInterfaceName(const std::string& container_id, const std::string& ifname);

}  // namespace tabby::cni
