#include "model/kinds/workload_endpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "base/ip.h"
#include "model/check.h"
#include "model/internal.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::CanonicalizeAddress;
using internal::Checker;
using internal::IsAlnum;
using internal::IsDnsSubdomain;
using internal::IsInterfaceName;
using internal::IsPortName;
using internal::kMaxNameLength;
using internal::PathIndex;
using internal::PathKey;
using internal::Quote;

// Visible ASCII, no spaces: identifiers that only need to be printable and unambiguous.
bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

bool CheckWorkloadEndpointName(Checker& c, const std::string& name) {
  if (!internal::CheckNameLength(c, name)) return false;
  if (!IsDnsSubdomain(name, /*underscore=*/true)) {
    return c.Fail(internal::kNamePath,
                  fmt::format("invalid name {}: a WorkloadEndpoint name is lower case "
                              "alphanumerics, '-', '_' and '.', starting and ending "
                              "with an alphanumeric, e.g. node1-k8s-mypod-eth0",
                              Quote(name)));
  }
  return true;
}

void DefaultWorkloadEndpoint(Resource& r) {
  WorkloadEndpointSpec& s = r.workload_endpoint();
  for (std::string& network : s.ip_networks) internal::CanonicalizeCidr(network, /*strict=*/false);
  for (std::string& prefix : s.allow_spoofed_source_prefixes) {
    internal::CanonicalizeCidr(prefix, /*strict=*/false);
  }
  CanonicalizeAddress(s.ipv4_gateway);
  CanonicalizeAddress(s.ipv6_gateway);
  internal::CanonicalizeMac(s.mac);
  for (EndpointPort& port : s.ports) {
    if (port.protocol.number == 0 && port.protocol.name.empty()) {
      port.protocol = Protocol{Protocol::kTcp, "TCP"};
    }
    CanonicalizeAddress(port.host_ip);
  }
}

bool CheckWorkloadEndpoint(Checker& c, const Resource& r) {
  const WorkloadEndpointSpec& s = r.workload_endpoint();
  if (!CheckEndpointNode(c, s.node)) return false;
  for (const auto& [field, value] :
       {std::pair{"orchestrator", &s.orchestrator}, std::pair{"workload", &s.workload},
        std::pair{"pod", &s.pod}}) {
    if (!value->empty() && !IsToken(*value)) {
      return c.Fail(
          PathKey("spec", field),
          fmt::format("invalid {} {}: 1-253 visible characters, no spaces", field, Quote(*value)));
    }
  }
  if (!s.container_id.empty()) {
    const std::string& id = s.container_id;
    // The CNI specification's container id rule; the length is the CNI plugin's limit.
    bool ok =
        id.size() <= 256 && IsAlnum(id.front()) && std::all_of(id.begin(), id.end(), [](char ch) {
          return IsAlnum(ch) || ch == '-' || ch == '_' || ch == '.';
        });
    if (!ok) {
      return c.Fail("spec.containerID",
                    fmt::format("invalid containerID {}: 1-256 alphanumerics, '_', '.' and '-', "
                                "starting with an alphanumeric",
                                Quote(id)));
    }
  }
  if (!s.endpoint.empty() && !IsInterfaceName(s.endpoint)) {
    return c.Fail("spec.endpoint", fmt::format("invalid endpoint {}: an interface name of 1-15 "
                                               "characters of alphanumerics, '_', '.' and '-'",
                                               Quote(s.endpoint)));
  }
  if (!s.service_account_name.empty() && !IsDnsSubdomain(s.service_account_name)) {
    return c.Fail("spec.serviceAccountName",
                  fmt::format("invalid serviceAccountName {}: lower case alphanumerics, '-' and "
                              "'.'",
                              Quote(s.service_account_name)));
  }
  for (size_t i = 0; i < s.ip_networks.size(); ++i) {
    std::string path = PathIndex("spec.ipNetworks", i);
    std::optional<IpNetwork> network = CheckCidr(c, path, s.ip_networks[i], /*strict=*/false);
    if (!network) return false;
    if (!network->is_host()) {
      return c.Fail(path, fmt::format("{} contains several addresses: a workload network must be "
                                      "a /32 (IPv4) or /128 (IPv6)",
                                      s.ip_networks[i]));
    }
  }
  if (!s.ipv4_gateway.empty() &&
      !CheckAddress(c, "spec.ipv4Gateway", s.ipv4_gateway, IpAddress::Family::kV4)) {
    return false;
  }
  if (!s.ipv6_gateway.empty() &&
      !CheckAddress(c, "spec.ipv6Gateway", s.ipv6_gateway, IpAddress::Family::kV6)) {
    return false;
  }
  if (!CheckProfileNames(c, s.profiles)) return false;
  if (!s.interface_name.empty() && !IsInterfaceName(s.interface_name)) {
    return c.Fail("spec.interfaceName",
                  fmt::format("invalid interfaceName {}: 1-15 characters of alphanumerics, '_', "
                              "'.' and '-'",
                              Quote(s.interface_name)));
  }
  if (!s.interface_name.empty() && (!s.interface_name.starts_with(kWorkloadInterfacePrefix) ||
                                    s.interface_name == kWorkloadInterfacePrefix)) {
    // Anything else could be the host's own interface (its uplink, say): the agent would route
    // the endpoint's addresses out of it and police everything arriving on it as that endpoint.
    return c.Fail("spec.interfaceName",
                  fmt::format("invalid interfaceName {}: a workload's host interface is named "
                              "{}<suffix>, the prefix the firewall polices; the host's own "
                              "interfaces cannot be workload endpoints",
                              Quote(s.interface_name), kWorkloadInterfacePrefix));
  }
  if (!s.mac.empty() && !CheckMac(c, "spec.mac", s.mac)) return false;
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const EndpointPort& port = s.ports[i];
    std::string path = PathIndex("spec.ports", i);
    if (port.name.empty() && port.host_port == 0) {
      return c.Fail(PathKey(path, "name"),
                    "required field is missing (a port without hostPort "
                    "needs a name)");
    }
    if (!port.name.empty() && !IsPortName(port.name)) {
      return c.Fail(PathKey(path, "name"),
                    fmt::format("invalid port name {}: 1-15 lower case letters, digits and '-', "
                                "with at least one letter, and no leading, trailing or double '-'",
                                Quote(port.name)));
    }
    if (!CheckProtocol(c, PathKey(path, "protocol"), port.protocol)) return false;
    if (!port.protocol.has_ports()) {
      return c.Fail(PathKey(path, "protocol"),
                    fmt::format("protocol {} has no ports: use TCP, UDP, SCTP or UDPLite",
                                internal::ProtocolText(port.protocol)));
    }
    if (port.port == 0) return c.Fail(PathKey(path, "port"), "required field is missing (1-65535)");
    if (!port.host_ip.empty() && !CheckAddress(c, PathKey(path, "hostIP"), port.host_ip, {})) {
      return false;
    }
  }
  for (size_t i = 0; i < s.allow_spoofed_source_prefixes.size(); ++i) {
    if (!CheckCidr(c, PathIndex("spec.allowSpoofedSourcePrefixes", i),
                   s.allow_spoofed_source_prefixes[i], /*strict=*/false)) {
      return false;
    }
  }
  return true;
}

constexpr auto kWorkloadEndpointColumns = std::to_array<Column>({
    {"WORKLOAD", Column::kAlways,
     [](const Resource& r) { return Cell(r.workload_endpoint().workload); }},
    {"NODE", Column::kAlways, [](const Resource& r) { return Cell(r.workload_endpoint().node); }},
    {"NETWORKS", Column::kAlways,
     [](const Resource& r) { return Join(r.workload_endpoint().ip_networks); }},
    {"INTERFACE", Column::kAlways,
     [](const Resource& r) { return Cell(r.workload_endpoint().interface_name); }},
    {"PROFILES", Column::kWideOnly,
     [](const Resource& r) { return Join(r.workload_endpoint().profiles); }},
    {"LABELS", Column::kWideOnly, MetadataLabelsCell},
});

}  // namespace

extern constexpr KindInfo kWorkloadEndpointKind{
    .kind = Kind::kWorkloadEndpoint,
    .name = "WorkloadEndpoint",
    .aliases = {"workloadendpoints", "wep", "weps"},
    .wire_name = "WorkloadEndpoint",
    .namespaced = true,
    .empty_spec = EmptySpec<WorkloadEndpointSpec>,
    .check_name = CheckWorkloadEndpointName,
    .apply_defaults = DefaultWorkloadEndpoint,
    .check = CheckWorkloadEndpoint,
    .columns = kWorkloadEndpointColumns,
};

}  // namespace tabby::model
