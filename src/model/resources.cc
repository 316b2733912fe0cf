#include "model/resources.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "model/internal.h"

namespace tabby::model {
namespace {

struct KindNames {
  Kind kind;
  std::string_view name;
  // Lower-case spellings accepted by KindFromName besides the lower-cased name itself.
  std::array<std::string_view, 5> aliases;
};

constexpr std::array<KindNames, 7> kKindNames = {{
    {Kind::kIPPool, "IPPool", {"ippools", "ipp", "ipps", "pool", "pools"}},
    {Kind::kNetworkPolicy, "NetworkPolicy", {"networkpolicies", "policy", "policies", "np", "pol"}},
    {Kind::kGlobalNetworkPolicy, "GlobalNetworkPolicy", {"globalnetworkpolicies", "gnp", "gnps"}},
    {Kind::kProfile, "Profile", {"profiles", "pro", "pros"}},
    {Kind::kWorkloadEndpoint, "WorkloadEndpoint", {"workloadendpoints", "wep", "weps"}},
    {Kind::kNode, "Node", {"nodes", "no"}},
    {Kind::kClusterConfiguration,
     "ClusterConfiguration",
     {"clusterconfigurations", "clusterconfig", "clusterconfigs"}},
}};

struct ProtocolName {
  uint8_t number;
  std::string_view name;
};

constexpr std::array<ProtocolName, 6> kProtocolNames = {{
    {Protocol::kTcp, "TCP"},
    {Protocol::kUdp, "UDP"},
    {Protocol::kIcmp, "ICMP"},
    {Protocol::kIcmpV6, "ICMPv6"},
    {Protocol::kSctp, "SCTP"},
    {Protocol::kUdpLite, "UDPLite"},
}};

using internal::EqualsIgnoreCase;

}  // namespace

namespace internal {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<Protocol> ProtocolFromName(std::string_view name) {
  for (const ProtocolName& entry : kProtocolNames) {
    if (EqualsIgnoreCase(name, entry.name)) return Protocol{entry.number, std::string(entry.name)};
  }
  return std::nullopt;
}

std::string_view ProtocolNameOf(uint8_t number) {
  for (const ProtocolName& entry : kProtocolNames) {
    if (entry.number == number) return entry.name;
  }
  return "";
}

std::string ProtocolText(const Protocol& protocol) {
  if (!protocol.name.empty()) return protocol.name;
  return fmt::format("{}", protocol.number);
}

std::string PortText(const PortSpec& port) {
  if (port.is_named()) return port.name;
  if (port.first == port.last) return fmt::format("{}", port.first);
  return fmt::format("{}:{}", port.first, port.last);
}

}  // namespace internal

std::string_view KindName(Kind kind) {
  for (const KindNames& names : kKindNames) {
    if (names.kind == kind) return names.name;
  }
  return "Unknown";
}

std::optional<Kind> KindFromName(std::string_view name) {
  for (const KindNames& names : kKindNames) {
    if (EqualsIgnoreCase(name, names.name)) return names.kind;
    for (std::string_view alias : names.aliases) {
      if (!alias.empty() && EqualsIgnoreCase(name, alias)) return names.kind;
    }
  }
  return std::nullopt;
}

bool IsNamespaced(Kind kind) {
  return kind == Kind::kNetworkPolicy || kind == Kind::kWorkloadEndpoint;
}

const std::vector<Kind>& AllKinds() {
  static const std::vector<Kind>* const kinds = new std::vector<Kind>{
      Kind::kClusterConfiguration, Kind::kNode,          Kind::kIPPool,           Kind::kProfile,
      Kind::kGlobalNetworkPolicy,  Kind::kNetworkPolicy, Kind::kWorkloadEndpoint,
  };
  return *kinds;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAllow:
      return "Allow";
    case Action::kDeny:
      return "Deny";
    case Action::kLog:
      return "Log";
    case Action::kPass:
      return "Pass";
  }
  return "Unknown";
}

std::string_view PolicyTypeName(PolicyType type) {
  switch (type) {
    case PolicyType::kIngress:
      return "Ingress";
    case PolicyType::kEgress:
      return "Egress";
  }
  return "Unknown";
}

Resource MakeResource(Kind kind, std::string name, std::string namespace_name) {
  Resource resource;
  resource.kind = kind;
  resource.metadata.name = std::move(name);
  resource.metadata.namespace_name = std::move(namespace_name);
  switch (kind) {
    case Kind::kIPPool:
      resource.spec = IPPoolSpec{};
      break;
    case Kind::kNetworkPolicy:
    case Kind::kGlobalNetworkPolicy:
      resource.spec = PolicySpec{};
      break;
    case Kind::kProfile:
      resource.spec = ProfileSpec{};
      break;
    case Kind::kWorkloadEndpoint:
      resource.spec = WorkloadEndpointSpec{};
      break;
    case Kind::kNode:
      resource.spec = NodeSpec{};
      break;
    case Kind::kClusterConfiguration:
      resource.spec = ClusterConfigurationSpec{};
      break;
  }
  return resource;
}

std::string DisplayName(const Resource& resource) {
  if (resource.metadata.namespace_name.empty()) {
    return fmt::format("{}/{}", KindName(resource.kind), resource.metadata.name);
  }
  return fmt::format("{}/{}/{}", KindName(resource.kind), resource.metadata.namespace_name,
                     resource.metadata.name);
}

}  // namespace tabby::model
