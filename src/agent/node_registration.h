// This host as a Node of the cluster: its underlay addresses in the Node resource (what BGP
// peers and VXLAN tunnels are built from), as Calico's calico/node writes them (IP
// autodetection "first-found" on the interface of the default route). Liveness is in
// datastore/node_liveness.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/ip.h"
#include "dataplane/netlink.h"
#include "datastore/datastore.h"

namespace tabby::agent {

// A node's underlay addresses, with the prefix length of their subnet ("192.0.2.1/24"), as
// Calico writes spec.bgp.ipv4Address / ipv6Address.
struct NodeAddresses {
  std::optional<IpNetwork> ipv4;
  std::optional<IpNetwork> ipv6;
  friend bool operator==(const NodeAddresses&, const NodeAddresses&) = default;
};

// --node-ip: one or two comma-separated addresses, at most one per family, each with its
// subnet's prefix length (a bare address counts as /32 or /128). InvalidArgument naming the
// flag's value otherwise.
absl::StatusOr<NodeAddresses> ParseNodeIps(std::string_view text);

// The first global address of each family on the interface that carries that family's default
// route (Calico's "first-found" on the default route's interface). A family without a default
// route, or whose interface has no global address, stays empty.
absl::StatusOr<NodeAddresses> DetectNodeAddresses(dataplane::Netlink& netlink);

// Writes the Node resource of `node` with `addresses` (creating it if absent). Fields the
// operator sets (AS number, route reflector cluster ID, labels) are kept; an address family
// without an address keeps what the resource says. No write when nothing changes.
absl::Status RegisterNode(datastore::Datastore& store, const std::string& node,
                          const NodeAddresses& addresses);

}  // namespace tabby::agent
