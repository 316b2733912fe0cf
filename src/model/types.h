// What every resource kind shares: the Kind enumeration and its names, object metadata, and the
// value types that several kinds' specs are made of (rules, ports, protocols, label selectors).
// Each kind's own spec lives in model/kinds/<kind>.h; resources.h puts them together.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tabby::model {

inline constexpr char kTabbyApiVersion[] = "tabby.dev/v1";
inline constexpr char kCalicoApiVersion[] = "projectcalico.org/v3";
inline constexpr char kKubernetesCoreApiVersion[] = "v1";
inline constexpr char kKubernetesNetworkingApiVersion[] = "networking.k8s.io/v1";

// Every workload's host-side interface starts with this (Felix's InterfacePrefix): the CNI
// plugin names them so, validation refuses any other interfaceName, and the firewall polices
// exactly the interfaces that carry it.
inline constexpr char kWorkloadInterfacePrefix[] = "tabby";

using Labels = std::map<std::string, std::string, std::less<>>;

// Each kind is registered once in model/kind_registry.cc; model/kind_registry.h says what else a
// new kind takes.
enum class Kind {
  kIPPool,
  kNetworkPolicy,  // namespaced
  kGlobalNetworkPolicy,
  kProfile,
  kWorkloadEndpoint,  // namespaced
  kNode,
  kClusterConfiguration,     // singleton "default": cluster-wide settings (default policy, ...)
  kNamespace,                // Kubernetes v1 Namespace: its labels feed namespaceSelectors
  kKubernetesNetworkPolicy,  // namespaced; networking.k8s.io/v1 NetworkPolicy
  kHostEndpoint,             // a host's own interface, policed like a workload
  kBGPConfiguration,         // "default" and "node.<name>": BGP settings
  kBGPPeer,                  // further BGP sessions (routers, route reflectors)
};

// "IPPool", "NetworkPolicy", "KubernetesNetworkPolicy", ...: unique per kind; names datastore
// key prefixes and what tabbyctl prints. Not always what documents say in `kind` (WireKindName).
std::string_view KindName(Kind kind);
// What documents write in `kind`: KindName, except "NetworkPolicy" for kKubernetesNetworkPolicy
// (told apart from Calico's NetworkPolicy by apiVersion).
std::string_view WireKindName(Kind kind);
// The apiVersion the encoder writes for `kind`: tabby.dev/v1, or the Kubernetes group version
// (v1, networking.k8s.io/v1) for Kubernetes kinds.
std::string_view ApiVersionOf(Kind kind);
// Whether a document of `kind` may say `api_version`: tabby.dev/v1 and projectcalico.org/v3 for
// tabby's kinds, exactly ApiVersionOf(kind) for Kubernetes kinds.
bool AcceptsApiVersion(Kind kind, std::string_view api_version);
// Namespace and KubernetesNetworkPolicy: resources defined by Kubernetes, accepted verbatim.
bool IsKubernetesKind(Kind kind);
// Accepts the kind name, its plural and the short aliases tabbyctl users type, case-insensitively
// ("ippool", "ippools", "pool", "gnp", "policy", "wep", "ns", "knp",
// "networkpolicies.networking.k8s.io", ...).
std::optional<Kind> KindFromName(std::string_view name);
bool IsNamespaced(Kind kind);
// Every kind, in the order in which apply processes a mixed file (namespaces and pools before
// policies, policies before endpoints, etc.).
const std::vector<Kind>& AllKinds();

struct ObjectMeta {
  std::string name;
  std::string namespace_name;  // empty for cluster-scoped kinds
  Labels labels;
  Labels annotations;
  std::string resource_version;  // datastore mod revision as decimal text; empty when new
  std::string uid;
  std::string creation_timestamp;  // RFC 3339
  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

// One item of `ports` / `notPorts`: a number, a range "first:last", or a named port.
struct PortSpec {
  uint16_t first = 0;
  uint16_t last = 0;
  std::string name;  // non-empty for a named port
  bool is_named() const { return !name.empty(); }
  friend bool operator==(const PortSpec&, const PortSpec&) = default;
};

// An IP protocol: written as a name (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite) or a number 1..255.
struct Protocol {
  uint8_t number = 0;
  std::string name;  // canonical name when written by name ("TCP"), empty when numeric
  static constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpV6 = 58, kSctp = 132,
                           kUdpLite = 136;
  bool has_ports() const {
    return number == kTcp || number == kUdp || number == kSctp || number == kUdpLite;
  }
  friend bool operator==(const Protocol&, const Protocol&) = default;
};

struct IcmpMatch {
  std::optional<int> type;  // 0..254
  std::optional<int> code;  // 0..255, needs type
  friend bool operator==(const IcmpMatch&, const IcmpMatch&) = default;
};

// Source or destination of a rule. Every criterion present must hold (AND); within `nets` and
// `ports` any item may match (OR); `notNets` / `notPorts` exclude all their items.
struct EntityRule {
  std::vector<std::string> nets;
  std::vector<std::string> not_nets;
  std::string selector;
  std::string not_selector;
  std::string namespace_selector;
  std::vector<PortSpec> ports;
  std::vector<PortSpec> not_ports;
  friend bool operator==(const EntityRule&, const EntityRule&) = default;
};

enum class Action { kAllow, kDeny, kLog, kPass };
std::string_view ActionName(Action action);

struct Rule {
  Action action = Action::kAllow;
  std::optional<int> ip_version;  // 4 or 6
  std::optional<Protocol> protocol;
  std::optional<Protocol> not_protocol;
  std::optional<IcmpMatch> icmp;
  std::optional<IcmpMatch> not_icmp;
  EntityRule source;
  EntityRule destination;
  Labels metadata_annotations;  // rule.metadata.annotations
  friend bool operator==(const Rule&, const Rule&) = default;
};

enum class PolicyType { kIngress, kEgress };
std::string_view PolicyTypeName(PolicyType type);

// A port that host endpoint policy can never close (Felix's failsafe ports).
struct ProtoPort {
  Protocol protocol;  // TCP, UDP or SCTP
  uint16_t port = 0;
  friend bool operator==(const ProtoPort&, const ProtoPort&) = default;
};

enum class SelectorOperator { kIn, kNotIn, kExists, kDoesNotExist };
std::string_view SelectorOperatorName(SelectorOperator op);

// meta/v1 LabelSelectorRequirement.
struct LabelSelectorRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::kIn;  // `operator`
  std::vector<std::string> values;  // non-empty for In / NotIn, empty for (DoesNot)Exists
  friend bool operator==(const LabelSelectorRequirement&,
                         const LabelSelectorRequirement&) = default;
};

// meta/v1 LabelSelector: every matchLabels pair and every requirement must hold (AND). An empty
// selector selects everything.
struct LabelSelector {
  Labels match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  friend bool operator==(const LabelSelector&, const LabelSelector&) = default;
};

}  // namespace tabby::model
