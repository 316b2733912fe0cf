// The VXLAN overlay (IP pools with vxlanMode Always or CrossSubnet): one VXLAN device per family
// on each host and, for every block another host owns in such a pool, a route that takes the
// block's traffic to that host: through the device (encapsulated), or, in CrossSubnet mode when
// both hosts share a subnet, natively through the underlay interface.
//
// Stateless and static, as Calico's Felix does it: no flooding, no learning. For every remote
// host reached through the device, a permanent neighbour entry (its underlay address -> its
// VTEP MAC) and an FDB entry (that MAC -> its underlay address) are written from the datastore;
// the route is `<block> via <its underlay address> dev vxlan.tabby onlink`, so no tunnel address
// is needed. Routes are tabby's protocol (197) with a gateway: no other tabby route has one.
//
// PlanOverlay is pure (unit-tested); Overlay::Sync makes the kernel match a plan and is
// idempotent (the agent calls it when nodes, pools or blocks change, and to repair drift).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/ip.h"
#include "dataplane/netlink.h"

namespace tabby::dataplane {

inline constexpr char kVxlanDevice4[] = "vxlan.tabby";
inline constexpr char kVxlanDevice6[] = "vxlan-v6.tabby";
inline constexpr uint32_t kVxlanVni = 4096;   // Calico's
inline constexpr uint16_t kVxlanPort = 4789;  // IANA's
inline constexpr int kVxlanOverhead4 = 50;    // outer IPv4 + UDP + VXLAN + inner Ethernet
inline constexpr int kVxlanOverhead6 = 70;    // outer IPv6 ...

// A host as the overlay sees it.
struct OverlayHost {
  std::optional<IpNetwork> ipv4;  // underlay address with its subnet's prefix length
  std::optional<IpNetwork> ipv6;
  std::string vtep_mac4;  // its VXLAN devices' MACs
  std::string vtep_mac6;
};

struct OverlayPool {
  IpNetwork cidr;
  std::string vxlan_mode;  // Never | Always | CrossSubnet
};

struct OverlayInput {
  std::string node;                          // this host
  std::map<std::string, OverlayHost> hosts;  // every host, this one included
  std::vector<OverlayPool> pools;
  std::map<IpNetwork, std::string> blocks;  // every block and the host that owns it
  // This host's underlay interface per family (the one holding its address) and its MTU.
  std::string underlay_interface4, underlay_interface6;
  int underlay_mtu4 = 1500, underlay_mtu6 = 1500;
  int vxlan_mtu = 0;  // the devices' MTU; 0: the underlay's less the encapsulation
};

// One family's share of the plan.
struct OverlayFamilyPlan {
  std::optional<VxlanLink> device;  // none: no VXLAN pool of this family
  std::vector<Neighbour> neighbours;
  std::vector<Neighbour> fdb;
  std::vector<Route> routes;  // encapsulated and native (CrossSubnet) routes to remote blocks
};

struct OverlayPlan {
  OverlayFamilyPlan v4, v6;
  // The MTU workloads should get: the smallest VXLAN device's, when there is one.
  std::optional<int> workload_mtu;
  // What could not be planned (a remote host without an address of the family, ...).
  std::vector<std::string> problems;
};

// The MAC of `node`'s VXLAN device of a family: locally administered (0x66, as Calico's), the
// rest from a hash of the name (plus "-v6" for IPv6): stable across restarts and hosts.
std::string VtepMac(const std::string& node, bool ipv6);

OverlayPlan PlanOverlay(const OverlayInput& input);

// The IPv6 link-local address (fe80::/64, modified EUI-64) of an interface with MAC `mac`
// ("aa:bb:cc:dd:ee:ff"); nullopt if `mac` is not one.
std::optional<IpAddress> LinkLocalOf(const std::string& mac);

class Overlay {
 public:
  explicit Overlay(Netlink& netlink) : netlink_(netlink) {}
  // Makes the devices, neighbour and FDB entries and overlay routes exactly `plan`'s. Neighbours
  // and FDB entries go in before the routes that need them and out after.
  absl::Status Sync(const OverlayPlan& plan);

 private:
  absl::Status SyncFamily(const OverlayFamilyPlan& plan, bool v4);
  absl::Status SyncDevice(const VxlanLink& wanted);
  absl::Status SyncRoutes(const std::vector<Route>& wanted, bool v4);
  Netlink& netlink_;
};

}  // namespace tabby::dataplane
