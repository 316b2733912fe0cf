// Node: a host of the cluster, its underlay addresses and BGP settings (see docs/nodes.md).
// Its defaults, validation and `tabbyctl get` columns are in node.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

struct NodeBgpSpec {
  int64_t as_number = 0;     // 0 = cluster default
  std::string ipv4_address;  // with prefix, e.g. 192.0.2.1/24
  std::string ipv6_address;
  std::string route_reflector_cluster_id;
  friend bool operator==(const NodeBgpSpec&, const NodeBgpSpec&) = default;
};

struct NodeSpec {
  std::optional<NodeBgpSpec> bgp;
  std::string ipv4_vxlan_tunnel_addr;
  std::string vxlan_tunnel_mac_addr;     // its VXLAN device's MAC (IPv4 pools)
  std::string vxlan_tunnel_mac_addr_v6;  // the same for IPv6 pools
  friend bool operator==(const NodeSpec&, const NodeSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<NodeBgpSpec> T>
void Describe(V& v, T& s) {
  v.Field("asNumber", s.as_number, AsNumberCodec{});
  v.Field("ipv4Address", s.ipv4_address);
  v.Field("ipv6Address", s.ipv6_address);
  v.Field("routeReflectorClusterID", s.route_reflector_cluster_id);
}

template <typename V, Is<NodeSpec> T>
void Describe(V& v, T& s) {
  v.Field("bgp", s.bgp);
  v.Field("ipv4VXLANTunnelAddr", s.ipv4_vxlan_tunnel_addr);
  v.Field("vxlanTunnelMACAddr", s.vxlan_tunnel_mac_addr);
  v.Field("vxlanTunnelMACAddrV6", s.vxlan_tunnel_mac_addr_v6);
}

}  // namespace tabby::model::internal
