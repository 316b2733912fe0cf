#include "dataplane/overlay.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include "base/hash.h"
#include "base/status_macros.h"

namespace tabby::dataplane {
namespace {

bool Encapsulates(const std::string& mode) { return mode == "Always" || mode == "CrossSubnet"; }

// Routes compare by what they say, not how they were listed.
auto RouteKey(const Route& r) { return std::tuple(r.destination, r.interface_name, r.gateway); }

}  // namespace

std::string VtepMac(const std::string& node, bool ipv6) {
  const uint64_t hash = StableHash64(ipv6 ? node + "-v6" : node);
  return fmt::format("66:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", (hash >> 32) & 0xff,
                     (hash >> 24) & 0xff, (hash >> 16) & 0xff, (hash >> 8) & 0xff, hash & 0xff);
}

std::optional<IpAddress> LinkLocalOf(const std::string& mac) {
  unsigned b[6];
  char extra;
  if (std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                  &b[5], &extra) != 6) {
    return std::nullopt;
  }
  // fe80::/64 with the modified EUI-64 interface identifier (RFC 4291 appendix A).
  const std::string text = fmt::format("fe80::{:x}:{:x}:{:x}:{:x}", ((b[0] ^ 0x02) << 8) | b[1],
                                       (b[2] << 8) | 0xff, 0xfe00 | b[3], (b[4] << 8) | b[5]);
  absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
  if (!address.ok()) return std::nullopt;
  return *address;
}

OverlayPlan PlanOverlay(const OverlayInput& in) {
  OverlayPlan plan;
  const OverlayHost* self = nullptr;
  if (auto it = in.hosts.find(in.node); it != in.hosts.end()) self = &it->second;
  for (bool v4 : {true, false}) {
    OverlayFamilyPlan& family = v4 ? plan.v4 : plan.v6;
    const bool enabled = std::any_of(in.pools.begin(), in.pools.end(), [&](const OverlayPool& p) {
      return p.cidr.is_v4() == v4 && Encapsulates(p.vxlan_mode);
    });
    const std::optional<IpNetwork>& local = self ? (v4 ? self->ipv4 : self->ipv6) : std::nullopt;
    if (!enabled) continue;
    if (!local) {
      plan.problems.push_back(fmt::format(
          "no VXLAN for IPv{} pools: this node has no IPv{} address", v4 ? 4 : 6, v4 ? 4 : 6));
      continue;
    }
    const int mtu = in.vxlan_mtu > 0 ? in.vxlan_mtu
                    : v4             ? in.underlay_mtu4 - kVxlanOverhead4
                                     : in.underlay_mtu6 - kVxlanOverhead6;
    family.device = VxlanLink{.name = v4 ? kVxlanDevice4 : kVxlanDevice6,
                              .vni = kVxlanVni,
                              .port = kVxlanPort,
                              .local = local->address(),
                              .mtu = mtu,
                              .mac = v4 ? self->vtep_mac4 : self->vtep_mac6};
    plan.workload_mtu = std::min(plan.workload_mtu.value_or(mtu), mtu);
    std::set<std::string> vteps;  // remote hosts reached through the device
    for (const auto& [block, owner] : in.blocks) {
      if (block.is_v4() != v4 || owner == in.node) continue;
      const OverlayPool* pool = nullptr;
      for (const OverlayPool& p : in.pools) {
        if (p.cidr.Contains(block.address())) pool = &p;
      }
      if (pool == nullptr || !Encapsulates(pool->vxlan_mode)) continue;
      auto host = in.hosts.find(owner);
      const std::optional<IpNetwork>* remote = host == in.hosts.end() ? nullptr
                                               : v4                   ? &host->second.ipv4
                                                                      : &host->second.ipv6;
      if (remote == nullptr || !*remote) {
        plan.problems.push_back(
            fmt::format("no route to block {}: its host {} has no IPv{} address", block.ToString(),
                        owner, v4 ? 4 : 6));
        continue;
      }
      const IpAddress gateway = (*remote)->address();
      if (pool->vxlan_mode == "CrossSubnet" && local->Masked().Contains(gateway)) {
        const std::string& underlay = v4 ? in.underlay_interface4 : in.underlay_interface6;
        family.routes.push_back(Route{block, underlay, gateway});
        continue;
      }
      const std::string& mac = v4 ? host->second.vtep_mac4 : host->second.vtep_mac6;
      // IPv6 refuses an on-link gateway that another interface's route covers (the remote
      // host's underlay address usually is, on eth0's subnet), so IPv6 routes go via the remote
      // device's own link-local address (EUI-64 of its MAC), always on-link; the neighbour entry
      // maps that to the MAC and the FDB entry the MAC to the underlay address.
      std::optional<IpAddress> next_hop = v4 ? std::optional<IpAddress>(gateway) : LinkLocalOf(mac);
      if (!next_hop) {
        plan.problems.push_back(fmt::format("no route to block {}: host {} has no valid VXLAN MAC",
                                            block.ToString(), owner));
        continue;
      }
      family.routes.push_back(Route{block, family.device->name, *next_hop});
      if (vteps.insert(owner).second) {
        family.neighbours.push_back({*next_hop, mac, true});
        family.fdb.push_back({gateway, mac, true});
      }
    }
  }
  return plan;
}

absl::Status Overlay::Sync(const OverlayPlan& plan) {
  absl::Status v4 = SyncFamily(plan.v4, true);
  absl::Status v6 = SyncFamily(plan.v6, false);
  return v4.ok() ? v6 : v4;
}

absl::Status Overlay::SyncFamily(const OverlayFamilyPlan& plan, bool v4) {
  const std::string name = v4 ? kVxlanDevice4 : kVxlanDevice6;
  if (!plan.device) {
    RETURN_IF_ERROR(SyncRoutes({}, v4));
    absl::Status deleted = netlink_.DeleteLink(name);
    return deleted.code() == absl::StatusCode::kNotFound ? absl::OkStatus() : deleted;
  }
  RETURN_IF_ERROR(SyncDevice(*plan.device));
  // Neighbours and FDB entries first: a route must not point at a VTEP that cannot be resolved.
  for (auto [wanted, list, replace, remove] :
       {std::tuple{&plan.neighbours, &Netlink::ListNeighbours, &Netlink::ReplaceNeighbour, false},
        std::tuple{&plan.fdb, &Netlink::ListFdb, &Netlink::ReplaceFdb, true}}) {
    ASSIGN_OR_RETURN(std::vector<Neighbour> present, (netlink_.*list)(name));
    std::set<Neighbour> desired(wanted->begin(), wanted->end());
    for (const Neighbour& entry : *wanted) {
      if (std::find(present.begin(), present.end(), entry) == present.end()) {
        RETURN_IF_ERROR((netlink_.*replace)(name, entry));
      }
    }
    for (const Neighbour& entry : present) {
      if (desired.contains(entry)) continue;
      // Entries the kernel made itself (a resolved neighbour that is not permanent) go too: the
      // device's table is tabby's.
      absl::Status deleted =
          remove ? netlink_.DeleteFdb(name, entry) : netlink_.DeleteNeighbour(name, entry.address);
      if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) return deleted;
    }
  }
  return SyncRoutes(plan.routes, v4);
}

absl::Status Overlay::SyncDevice(const VxlanLink& wanted) {
  absl::StatusOr<VxlanLink> present = netlink_.GetVxlan(wanted.name);
  const bool recreate =
      present.ok() && (present->vni != wanted.vni || present->port != wanted.port ||
                       present->local != wanted.local || present->mac != wanted.mac);
  if (present.status().code() == absl::StatusCode::kFailedPrecondition) {
    // Something else by that name (not a VXLAN device): replaced.
    RETURN_IF_ERROR(netlink_.DeleteLink(wanted.name));
  } else if (!present.ok() && present.status().code() != absl::StatusCode::kNotFound) {
    return present.status();
  }
  if (recreate) RETURN_IF_ERROR(netlink_.DeleteLink(wanted.name));
  if (!present.ok() || recreate) {
    RETURN_IF_ERROR(netlink_.CreateVxlan(wanted));
  } else if (present->mtu != wanted.mtu) {
    RETURN_IF_ERROR(netlink_.SetLinkMtu(wanted.name, wanted.mtu));
  }
  return netlink_.SetLinkUp(wanted.name);
}

absl::Status Overlay::SyncRoutes(const std::vector<Route>& wanted, bool v4) {
  ASSIGN_OR_RETURN(std::vector<Route> present, netlink_.ListRoutes(kRouteProtocol));
  std::set<decltype(RouteKey(Route{}))> desired;
  for (const Route& route : wanted) desired.insert(RouteKey(route));
  std::set<decltype(RouteKey(Route{}))> have;
  for (const Route& route : present) {
    if (route.destination.is_v4() != v4 || !route.gateway) continue;  // not an overlay route
    if (desired.contains(RouteKey(route))) {
      have.insert(RouteKey(route));
      continue;
    }
    absl::Status deleted = netlink_.DeleteRoute(route);
    if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) return deleted;
  }
  for (const Route& route : wanted) {
    if (!have.contains(RouteKey(route))) RETURN_IF_ERROR(netlink_.ReplaceRoute(route));
  }
  return absl::OkStatus();
}

}  // namespace tabby::dataplane
