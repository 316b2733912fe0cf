// BIRD 2's configuration for one node, rendered from what the datastore says (the node, its
// peers, its blocks). A pure function: tabbyd writes the text to a file, has `bird -p` check it
// and `birdc configure` load it, only when it changed.
//
// What the rendered BIRD does:
//   - learns from the kernel only what tabbyd installs (routes of protocol 197: a blackhole per
//     block this host owns, a /32 or /128 per local workload) and the default routes (to resolve
//     next hops of peers on other subnets);
//   - announces exactly this host's blocks (one route each) and the workload addresses that are
//     outside them (borrowed from another host's block), plus configured prefixes (services);
//   - to iBGP peers also what it learned over BGP, which a route reflector needs and a full mesh
//     never uses (iBGP does not pass iBGP routes on);
//   - writes every route learned over BGP into the kernel, except inside VXLAN pools (tabbyd
//     routes those through the overlay itself), and nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"

namespace tabby::bgp {

// The protocol number of routes tabbyd installs (dataplane::kRouteProtocol).
inline constexpr int kTabbyRouteProtocol = 197;

struct BirdPeer {
  std::string description;  // e.g. "node host2" or "BGPPeer tor"
  IpAddress address;
  uint16_t port = 0;  // 0: 179
  int64_t as_number = 0;
  int64_t local_as_number = 0;          // 0: the node's (BirdConfigInput::as_number)
  std::string password;                 // empty: none
  bool route_reflector_client = false;  // this node reflects routes to the peer
};

struct BirdConfigInput {
  std::string node;
  // BIRD's 32-bit router ID: the node's IPv4 address, else derived from its name.
  uint32_t router_id = 0;
  int64_t as_number = 64512;
  std::optional<IpAddress> ipv4_source;  // the node's own addresses: sessions' source
  std::optional<IpAddress> ipv6_source;
  // Non-empty: this node is a route reflector with this cluster ID (an IPv4 address's text).
  std::string route_reflector_cluster_id;
  std::vector<BirdPeer> peers;
  std::vector<IpNetwork> blocks;      // this node's blocks
  std::vector<IpNetwork> advertised;  // further prefixes to announce (service CIDRs)
  bool debug = false;                 // BIRD logs every session's states and messages
  // Pools whose routes tabbyd programs itself (VXLAN): BIRD still announces their blocks but
  // never writes routes inside them into the kernel.
  std::vector<IpNetwork> tunnelled;
};

std::string RenderBirdConfig(const BirdConfigInput& input);

// BIRD's router ID when a node has no IPv4 address: a stable 32-bit hash of its name, kept out
// of 0.0.0.0/8 (BIRD refuses 0.0.0.0).
uint32_t RouterIdFromName(const std::string& node);

}  // namespace tabby::bgp
