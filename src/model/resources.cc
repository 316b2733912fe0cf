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
  std::string_view wire_name;    // `kind` in documents
  std::string_view api_version;  // what the encoder writes
};

constexpr std::array<KindNames, 10> kKindNames = {{
    {Kind::kIPPool,
     "IPPool",
     {"ippools", "ipp", "ipps", "pool", "pools"},
     "IPPool",
     kTabbyApiVersion},
    {Kind::kNetworkPolicy,
     "NetworkPolicy",
     {"networkpolicies", "policy", "policies", "np", "pol"},
     "NetworkPolicy",
     kTabbyApiVersion},
    {Kind::kGlobalNetworkPolicy,
     "GlobalNetworkPolicy",
     {"globalnetworkpolicies", "gnp", "gnps"},
     "GlobalNetworkPolicy",
     kTabbyApiVersion},
    {Kind::kProfile, "Profile", {"profiles", "pro", "pros"}, "Profile", kTabbyApiVersion},
    {Kind::kWorkloadEndpoint,
     "WorkloadEndpoint",
     {"workloadendpoints", "wep", "weps"},
     "WorkloadEndpoint",
     kTabbyApiVersion},
    {Kind::kNode, "Node", {"nodes", "no"}, "Node", kTabbyApiVersion},
    {Kind::kClusterConfiguration,
     "ClusterConfiguration",
     {"clusterconfigurations", "clusterconfig", "clusterconfigs"},
     "ClusterConfiguration",
     kTabbyApiVersion},
    {Kind::kNamespace, "Namespace", {"namespaces", "ns"}, "Namespace", kKubernetesCoreApiVersion},
    {Kind::kKubernetesNetworkPolicy,
     "KubernetesNetworkPolicy",
     {"kubernetesnetworkpolicies", "knp", "knps", "networkpolicies.networking.k8s.io",
      "networkpolicy.networking.k8s.io"},
     "NetworkPolicy",
     kKubernetesNetworkingApiVersion},
    {Kind::kHostEndpoint,
     "HostEndpoint",
     {"hostendpoints", "hep", "heps"},
     "HostEndpoint",
     kTabbyApiVersion},
}};

const KindNames* NamesOf(Kind kind) {
  for (const KindNames& names : kKindNames) {
    if (names.kind == kind) return &names;
  }
  return nullptr;
}

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
  const KindNames* names = NamesOf(kind);
  return names != nullptr ? names->name : "Unknown";
}

std::string_view WireKindName(Kind kind) {
  const KindNames* names = NamesOf(kind);
  return names != nullptr ? names->wire_name : "Unknown";
}

std::string_view ApiVersionOf(Kind kind) {
  const KindNames* names = NamesOf(kind);
  return names != nullptr ? names->api_version : kTabbyApiVersion;
}

bool AcceptsApiVersion(Kind kind, std::string_view api_version) {
  if (IsKubernetesKind(kind)) return api_version == ApiVersionOf(kind);
  return api_version == kTabbyApiVersion || api_version == kCalicoApiVersion;
}

bool IsKubernetesKind(Kind kind) {
  return kind == Kind::kNamespace || kind == Kind::kKubernetesNetworkPolicy;
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
  return kind == Kind::kNetworkPolicy || kind == Kind::kWorkloadEndpoint ||
         kind == Kind::kKubernetesNetworkPolicy;
}

const std::vector<Kind>& AllKinds() {
  static const std::vector<Kind>* const kinds = new std::vector<Kind>{
      Kind::kClusterConfiguration,
      Kind::kNamespace,
      Kind::kNode,
      Kind::kIPPool,
      Kind::kProfile,
      Kind::kGlobalNetworkPolicy,
      Kind::kNetworkPolicy,
      Kind::kKubernetesNetworkPolicy,
      Kind::kWorkloadEndpoint,
      // After the policies: a host endpoint closes its interface to all that no policy opens.
      Kind::kHostEndpoint,
  };
  return *kinds;
}

std::string_view SelectorOperatorName(SelectorOperator op) {
  switch (op) {
    case SelectorOperator::kIn:
      return "In";
    case SelectorOperator::kNotIn:
      return "NotIn";
    case SelectorOperator::kExists:
      return "Exists";
    case SelectorOperator::kDoesNotExist:
      return "DoesNotExist";
  }
  return "Unknown";
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
  resource.api_version = std::string(ApiVersionOf(kind));
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
    case Kind::kNamespace:
      resource.spec = NamespaceSpec{};
      break;
    case Kind::kKubernetesNetworkPolicy:
      resource.spec = KubernetesNetworkPolicySpec{};
      break;
    case Kind::kHostEndpoint:
      resource.spec = HostEndpointSpec{};
      break;
  }
  return resource;
}

std::vector<ProtoPort> DefaultFailsafeInboundHostPorts() {
  const Protocol tcp{Protocol::kTcp, "TCP"}, udp{Protocol::kUdp, "UDP"};
  return {{tcp, 22}, {udp, 68}, {tcp, 179}, {tcp, 2379}, {tcp, 2380}, {tcp, 6443}};
}

std::vector<ProtoPort> DefaultFailsafeOutboundHostPorts() {
  const Protocol tcp{Protocol::kTcp, "TCP"}, udp{Protocol::kUdp, "UDP"};
  return {{udp, 53}, {udp, 67}, {tcp, 179}, {tcp, 2379}, {tcp, 2380}, {tcp, 6443}};
}

std::string DisplayName(const Resource& resource) {
  if (resource.metadata.namespace_name.empty()) {
    return fmt::format("{}/{}", KindName(resource.kind), resource.metadata.name);
  }
  return fmt::format("{}/{}/{}", KindName(resource.kind), resource.metadata.namespace_name,
                     resource.metadata.name);
}

}  // namespace tabby::model
