#include "model/kinds/cluster_configuration.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "model/check.h"
#include "model/internal.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::Checker;
using internal::IsAlnum;
using internal::PathIndex;
using internal::PathKey;
using internal::Quote;

constexpr size_t kMaxLogPrefixLength = 64;
constexpr std::string_view kDefaultLogPrefix = "tabby-packet";

bool CheckClusterConfigurationName(Checker& c, const std::string& name) {
  if (!internal::CheckNameLength(c, name)) return false;
  if (name != "default") {
    return c.Fail(internal::kNamePath,
                  fmt::format("invalid name {}: ClusterConfiguration is a singleton "
                              "named \"default\"",
                              Quote(name)));
  }
  return true;
}

void DefaultClusterConfiguration(Resource& r) {
  ClusterConfigurationSpec& s = r.cluster_configuration();
  if (s.default_endpoint_policy.empty()) s.default_endpoint_policy = "Allow";
  for (std::string_view canonical : {"Allow", "Deny"}) {
    if (internal::EqualsIgnoreCase(s.default_endpoint_policy, canonical)) {
      s.default_endpoint_policy = std::string(canonical);
    }
  }
  if (s.log_prefix.empty()) s.log_prefix = std::string(kDefaultLogPrefix);
  std::string& action = s.default_endpoint_to_host_action;
  if (action.empty()) action = "Drop";
  for (std::string_view canonical : {"Drop", "Accept", "Return"}) {
    if (internal::EqualsIgnoreCase(action, canonical)) action = std::string(canonical);
  }
  if (!s.failsafe_inbound_host_ports) {
    s.failsafe_inbound_host_ports = DefaultFailsafeInboundHostPorts();
  }
  if (!s.failsafe_outbound_host_ports) {
    s.failsafe_outbound_host_ports = DefaultFailsafeOutboundHostPorts();
  }
  for (auto* ports : {&*s.failsafe_inbound_host_ports, &*s.failsafe_outbound_host_ports}) {
    for (ProtoPort& port : *ports) {
      if (port.protocol.number == 0 && port.protocol.name.empty()) {
        port.protocol = Protocol{Protocol::kTcp, "TCP"};
      }
    }
  }
}

bool CheckFailsafePorts(Checker& c, const std::string& path,
                        const std::optional<std::vector<ProtoPort>>& ports) {
  if (!ports) return true;
  for (size_t i = 0; i < ports->size(); ++i) {
    const ProtoPort& p = (*ports)[i];
    const std::string at = PathIndex(path, i);
    const uint8_t protocol = p.protocol.number;
    if (protocol != Protocol::kTcp && protocol != Protocol::kUdp && protocol != Protocol::kSctp) {
      return c.Fail(PathKey(at, "protocol"), "a failsafe port is TCP, UDP or SCTP");
    }
    if (p.port == 0) return c.Fail(PathKey(at, "port"), "invalid port 0: use 1-65535");
  }
  return true;
}

bool CheckClusterConfiguration(Checker& c, const Resource& r) {
  const ClusterConfigurationSpec& s = r.cluster_configuration();
  const std::string& action = s.default_endpoint_to_host_action;
  if (!action.empty() && action != "Drop" && action != "Accept" && action != "Return") {
    return c.Fail("spec.defaultEndpointToHostAction",
                  fmt::format("invalid defaultEndpointToHostAction {}: use Drop, Accept or Return",
                              Quote(action)));
  }
  if (!CheckFailsafePorts(c, "spec.failsafeInboundHostPorts", s.failsafe_inbound_host_ports) ||
      !CheckFailsafePorts(c, "spec.failsafeOutboundHostPorts", s.failsafe_outbound_host_ports)) {
    return false;
  }
  if (!s.default_endpoint_policy.empty() && s.default_endpoint_policy != "Allow" &&
      s.default_endpoint_policy != "Deny") {
    return c.Fail("spec.defaultEndpointPolicy",
                  fmt::format("invalid defaultEndpointPolicy {}: use Allow or Deny",
                              Quote(s.default_endpoint_policy)));
  }
  const std::string& prefix = s.log_prefix;
  bool ok = prefix.size() <= kMaxLogPrefixLength &&
            std::all_of(prefix.begin(), prefix.end(), [](char ch) {
              return IsAlnum(ch) || ch == '%' || ch == ':' || ch == ' ' || ch == '/' || ch == '_' ||
                     ch == '-';
            });
  if (!ok) {
    return c.Fail("spec.logPrefix",
                  fmt::format("invalid logPrefix {}: at most {} characters of alphanumerics, "
                              "' ', '%', ':', '/', '_' and '-'",
                              Quote(prefix), kMaxLogPrefixLength));
  }
  return true;
}

std::string ProtoPortsText(const std::optional<std::vector<ProtoPort>>& list) {
  std::vector<std::string> items;
  for (const auto& p : list.value_or(std::vector<ProtoPort>{})) {
    items.push_back(fmt::format(
        "{}:{}", p.protocol.name.empty() ? std::to_string(p.protocol.number) : p.protocol.name,
        p.port));
  }
  return Join(items);
}

constexpr auto kClusterConfigurationColumns = std::to_array<Column>({
    {"DEFAULTENDPOINTPOLICY", Column::kAlways,
     [](const Resource& r) { return Cell(r.cluster_configuration().default_endpoint_policy); }},
    {"LOGPREFIX", Column::kWideOnly,
     [](const Resource& r) { return Cell(r.cluster_configuration().log_prefix); }},
    {"ENDPOINTTOHOST", Column::kWideOnly,
     [](const Resource& r) {
       return Cell(r.cluster_configuration().default_endpoint_to_host_action);
     }},
    {"FAILSAFEIN", Column::kWideOnly,
     [](const Resource& r) {
       return ProtoPortsText(r.cluster_configuration().failsafe_inbound_host_ports);
     }},
    {"FAILSAFEOUT", Column::kWideOnly,
     [](const Resource& r) {
       return ProtoPortsText(r.cluster_configuration().failsafe_outbound_host_ports);
     }},
});

}  // namespace

std::vector<ProtoPort> DefaultFailsafeInboundHostPorts() {
  const Protocol tcp{Protocol::kTcp, "TCP"}, udp{Protocol::kUdp, "UDP"};
  return {{tcp, 22}, {udp, 68}, {tcp, 179}, {tcp, 2379}, {tcp, 2380}, {tcp, 6443}};
}

std::vector<ProtoPort> DefaultFailsafeOutboundHostPorts() {
  const Protocol tcp{Protocol::kTcp, "TCP"}, udp{Protocol::kUdp, "UDP"};
  return {{udp, 53}, {udp, 67}, {tcp, 179}, {tcp, 2379}, {tcp, 2380}, {tcp, 6443}};
}

extern constexpr KindInfo kClusterConfigurationKind{
    .kind = Kind::kClusterConfiguration,
    .name = "ClusterConfiguration",
    .aliases = {"clusterconfigurations", "clusterconfig", "clusterconfigs"},
    .wire_name = "ClusterConfiguration",
    .empty_spec = EmptySpec<ClusterConfigurationSpec>,
    .check_name = CheckClusterConfigurationName,
    .apply_defaults = DefaultClusterConfiguration,
    .check = CheckClusterConfiguration,
    .columns = kClusterConfigurationColumns,
};

}  // namespace tabby::model
