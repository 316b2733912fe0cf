#include "model/kinds/node.h"

#include <fmt/format.h>

#include <array>
#include <tuple>

#include "base/ip.h"
#include "model/check.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::CanonicalizeAddress;
using internal::CanonicalizeCidr;
using internal::Checker;
using internal::PathKey;

void DefaultNode(Resource& r) {
  NodeSpec& s = r.node();
  if (s.bgp) {
    CanonicalizeCidr(s.bgp->ipv4_address, /*strict=*/false);
    CanonicalizeCidr(s.bgp->ipv6_address, /*strict=*/false);
    CanonicalizeAddress(s.bgp->route_reflector_cluster_id);
  }
  CanonicalizeAddress(s.ipv4_vxlan_tunnel_addr);
  internal::CanonicalizeMac(s.vxlan_tunnel_mac_addr);
  internal::CanonicalizeMac(s.vxlan_tunnel_mac_addr_v6);
}

bool CheckNode(Checker& c, const Resource& r) {
  const NodeSpec& s = r.node();
  if (s.bgp) {
    const NodeBgpSpec& bgp = *s.bgp;
    if (bgp == NodeBgpSpec{}) return c.Fail("spec.bgp", "must not be empty (remove it instead)");
    if (!CheckAsNumber(c, "spec.bgp.asNumber", bgp.as_number)) return false;
    for (const auto& [field, value, family] :
         {std::tuple{"ipv4Address", &bgp.ipv4_address, IpAddress::Family::kV4},
          std::tuple{"ipv6Address", &bgp.ipv6_address, IpAddress::Family::kV6}}) {
      if (value->empty()) continue;
      std::string path = PathKey("spec.bgp", field);
      std::optional<IpNetwork> network = CheckCidr(c, path, *value, /*strict=*/false);
      if (!network) return false;
      if (network->family() != family) {
        return c.Fail(path, fmt::format("{} is not an IPv{} address", *value,
                                        family == IpAddress::Family::kV4 ? 4 : 6));
      }
    }
    if (!bgp.route_reflector_cluster_id.empty() &&
        !CheckAddress(c, "spec.bgp.routeReflectorClusterID", bgp.route_reflector_cluster_id,
                      IpAddress::Family::kV4)) {
      return false;
    }
  }
  if (!s.ipv4_vxlan_tunnel_addr.empty() &&
      !CheckAddress(c, "spec.ipv4VXLANTunnelAddr", s.ipv4_vxlan_tunnel_addr,
                    IpAddress::Family::kV4)) {
    return false;
  }
  if (!s.vxlan_tunnel_mac_addr.empty() &&
      !CheckMac(c, "spec.vxlanTunnelMACAddr", s.vxlan_tunnel_mac_addr)) {
    return false;
  }
  if (!s.vxlan_tunnel_mac_addr_v6.empty() &&
      !CheckMac(c, "spec.vxlanTunnelMACAddrV6", s.vxlan_tunnel_mac_addr_v6)) {
    return false;
  }
  return true;
}

constexpr auto kNodeColumns = std::to_array<Column>({
    {"ASN", Column::kWideOnly,
     [](const Resource& r) -> std::string {
       const std::optional<NodeBgpSpec>& bgp = r.node().bgp;
       return bgp && bgp->as_number != 0 ? fmt::format("{}", bgp->as_number) : kNoneCell;
     }},
    {"IPV4", Column::kWideOnly,
     [](const Resource& r) {
       const std::optional<NodeBgpSpec>& bgp = r.node().bgp;
       return Cell(bgp ? bgp->ipv4_address : "");
     }},
    {"IPV6", Column::kWideOnly,
     [](const Resource& r) {
       const std::optional<NodeBgpSpec>& bgp = r.node().bgp;
       return Cell(bgp ? bgp->ipv6_address : "");
     }},
});

}  // namespace

extern constexpr KindInfo kNodeKind{
    .kind = Kind::kNode,
    .name = "Node",
    .aliases = {"nodes", "no"},
    .wire_name = "Node",
    .empty_spec = EmptySpec<NodeSpec>,
    .apply_defaults = DefaultNode,
    .check = CheckNode,
    .columns = kNodeColumns,
};

}  // namespace tabby::model
