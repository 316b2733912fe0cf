#include "agent/node_registration.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/status_macros.h"
#include "dataplane/overlay.h"
#include "datastore/resource_store.h"
#include "model/validate.h"

namespace tabby::agent {
namespace {

bool IsGlobal(const IpNetwork& network) {
  const IpAddress& address = network.address();
  if (address.is_v4()) {
    // Not loopback (127/8) nor link-local (169.254/16).
    return !IpNetwork(*IpAddress::Parse("127.0.0.0"), 8).Contains(address) &&
           !IpNetwork(*IpAddress::Parse("169.254.0.0"), 16).Contains(address);
  }
  return !IpNetwork(*IpAddress::Parse("fe80::"), 10).Contains(address) &&
         address != *IpAddress::Parse("::1");
}

}  // namespace

absl::StatusOr<NodeAddresses> ParseNodeIps(std::string_view text) {
  NodeAddresses out;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format(
        "--node-ip \"{}\": {} (expected e.g. 192.0.2.1/24 or 192.0.2.1/24,2001:db8::1/64)", text,
        why));
  };
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    absl::StatusOr<IpNetwork> network = IpNetwork::Parse(item);
    if (!network.ok()) return bad(MessageOf(network.status()));
    std::optional<IpNetwork>& slot = network->is_v4() ? out.ipv4 : out.ipv6;
    if (slot) return bad("two addresses of one family");
    if (!IsGlobal(*network)) return bad(fmt::format("{} is not a global address", item));
    slot = *network;
  }
  if (!out.ipv4 && !out.ipv6) return bad("no address");
  return out;
}

absl::StatusOr<NodeAddresses> DetectNodeAddresses(dataplane::Netlink& netlink) {
  ASSIGN_OR_RETURN(std::vector<dataplane::Route> routes, netlink.ListRoutes());
  NodeAddresses out;
  for (const dataplane::Route& route : routes) {
    if (route.destination.prefix_length() != 0 || route.interface_name.empty()) continue;
    std::optional<IpNetwork>& slot = route.destination.is_v4() ? out.ipv4 : out.ipv6;
    if (slot) continue;
    ASSIGN_OR_RETURN(std::vector<IpNetwork> addresses, netlink.ListAddresses(route.interface_name));
    for (const IpNetwork& address : addresses) {
      if (address.is_v4() == route.destination.is_v4() && IsGlobal(address)) {
        slot = address;
        break;
      }
    }
  }
  return out;
}

absl::Status RegisterNode(datastore::Datastore& store, const std::string& node,
                          const NodeAddresses& addresses) {
  datastore::ResourceStore resources(store);
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<model::Resource> existing,
                     resources.Get({model::Kind::kNode, "", node}));
    model::Resource wanted = existing ? *existing : model::MakeResource(model::Kind::kNode, node);
    model::NodeSpec& spec = wanted.node();
    if (addresses.ipv4 || addresses.ipv6) {
      if (!spec.bgp) spec.bgp.emplace();
      if (addresses.ipv4) spec.bgp->ipv4_address = addresses.ipv4->ToString();
      if (addresses.ipv6) spec.bgp->ipv6_address = addresses.ipv6->ToString();
    }
    // The VXLAN devices' MACs, which other hosts write into their neighbour and FDB entries
    // (an operator's own choice stays).
    if (spec.vxlan_tunnel_mac_addr.empty()) {
      spec.vxlan_tunnel_mac_addr = dataplane::VtepMac(node, /*ipv6=*/false);
    }
    if (spec.vxlan_tunnel_mac_addr_v6.empty()) {
      spec.vxlan_tunnel_mac_addr_v6 = dataplane::VtepMac(node, /*ipv6=*/true);
    }
    model::ApplyDefaults(wanted);
    if (existing && wanted == *existing) return absl::OkStatus();
    absl::StatusOr<model::Resource> written =
        existing ? resources.Replace(wanted) : resources.Create(wanted);
    if (written.ok()) {
      spdlog::info("agent: node {} registered{}{}", node,
                   addresses.ipv4 ? " with " + addresses.ipv4->ToString() : "",
                   addresses.ipv6 ? " and " + addresses.ipv6->ToString() : "");
      return absl::OkStatus();
    }
    // Someone else wrote it meanwhile (tabbyctl, a previous run): read again.
    if (written.status().code() != absl::StatusCode::kAborted &&
        written.status().code() != absl::StatusCode::kAlreadyExists &&
        written.status().code() != absl::StatusCode::kNotFound) {
      return Annotate(written.status(), fmt::format("registering node {}", node));
    }
  }
  return absl::AbortedError(fmt::format("registering node {}: the Node keeps changing", node));
}

}  // namespace tabby::agent
