// The resource model: what users write and what the datastore holds. Field names and meanings
// follow Calico's projectcalico.org/v3 resources so existing YAML applies unchanged; the project's
// own group is tabby.dev/v1. Two Kubernetes kinds are accepted verbatim in their own groups:
// v1 Namespace and networking.k8s.io/v1 NetworkPolicy (kubernetes.h turns the latter into a
// tabby NetworkPolicy). Types here are plain values; codec.h reads and writes them, and
// validate.h decides whether a value is acceptable. A Resource that passed validation cannot
// crash anything downstream.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
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

// Spec of NetworkPolicy (namespaced: applies to endpoints of its namespace) and
// GlobalNetworkPolicy (all namespaces; may narrow with namespace_selector).
struct PolicySpec {
  std::optional<double> order;    // lower first; absent = after every ordered policy
  std::string tier;               // only "default" for now
  std::string selector;           // empty = all()
  std::vector<PolicyType> types;  // never empty after defaulting
  std::vector<Rule> ingress;
  std::vector<Rule> egress;
  std::string namespace_selector;  // GlobalNetworkPolicy only
  std::string service_account_selector;
  bool do_not_track = false;      // GlobalNetworkPolicy only; host endpoints (unused)
  bool pre_dnat = false;          // GlobalNetworkPolicy only; host endpoints (unused)
  bool apply_on_forward = false;  // GlobalNetworkPolicy only; host endpoints (unused)
  friend bool operator==(const PolicySpec&, const PolicySpec&) = default;
};

struct ProfileSpec {
  std::vector<Rule> ingress;
  std::vector<Rule> egress;
  Labels labels_to_apply;  // inherited by endpoints listing the profile; own labels win
  friend bool operator==(const ProfileSpec&, const ProfileSpec&) = default;
};

struct IPPoolSpec {
  std::string cidr;
  int block_size = 0;      // 0 = default: 26 (IPv4), 122 (IPv6)
  std::string ipip_mode;   // Never (only value supported)
  std::string vxlan_mode;  // Never | Always | CrossSubnet
  bool nat_outgoing = false;
  bool disabled = false;
  bool disable_bgp_export = false;
  std::string node_selector;              // empty = all()
  std::vector<std::string> allowed_uses;  // Workload, Tunnel, LoadBalancer
  std::string assignment_mode;            // Automatic | Manual
  friend bool operator==(const IPPoolSpec&, const IPPoolSpec&) = default;
};

// A port a workload declares, for named-port matching.
struct EndpointPort {
  std::string name;
  Protocol protocol;
  uint16_t port = 0;
  uint16_t host_port = 0;
  std::string host_ip;
  friend bool operator==(const EndpointPort&, const EndpointPort&) = default;
};

struct WorkloadEndpointSpec {
  std::string orchestrator;  // e.g. k8s, podman, cni, demo
  std::string workload;      // workload id within the orchestrator
  std::string node;
  std::string container_id;
  std::string pod;
  std::string endpoint;  // container-side interface, e.g. eth0
  std::string service_account_name;
  std::vector<std::string> ip_networks;  // /32 and /128 only
  std::string ipv4_gateway;
  std::string ipv6_gateway;
  std::vector<std::string> profiles;
  std::string interface_name;  // host side of the veth
  std::string mac;
  std::vector<EndpointPort> ports;
  std::vector<std::string> allow_spoofed_source_prefixes;
  friend bool operator==(const WorkloadEndpointSpec&, const WorkloadEndpointSpec&) = default;
};

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
  std::string vxlan_tunnel_mac_addr;
  friend bool operator==(const NodeSpec&, const NodeSpec&) = default;
};

// Cluster-wide settings. Singleton named "default".
// A host's own interface (or, with "*", all of them), so that policy can protect the host as it
// protects workloads: Calico's HostEndpoint. Policy selects it by its labels; a host endpoint that
// no policy selects and that has no profile is denied everything but the failsafe ports.
struct HostEndpointSpec {
  std::string node;
  std::string interface_name;             // "*": traffic to and from the host on any interface
  std::vector<std::string> expected_ips;  // the interface's addresses (peers' sets, and the
                                          // match when interfaceName is empty)
  std::vector<std::string> profiles;
  friend bool operator==(const HostEndpointSpec&, const HostEndpointSpec&) = default;
};

// A port that host endpoint policy can never close (Felix's failsafe ports).
struct ProtoPort {
  Protocol protocol;  // TCP, UDP or SCTP
  uint16_t port = 0;
  friend bool operator==(const ProtoPort&, const ProtoPort&) = default;
};

// Felix's defaults: SSH, DHCP (client in, server out), DNS out, BGP, etcd (client and peer) and
// the Kubernetes API server.
std::vector<ProtoPort> DefaultFailsafeInboundHostPorts();
std::vector<ProtoPort> DefaultFailsafeOutboundHostPorts();

struct ClusterConfigurationSpec {
  // What a workload that no policy selects and that has no profile may do: "Allow" (the
  // Kubernetes default, and ours) or "Deny".
  std::string default_endpoint_policy;  // empty = Allow
  // Prefix of kernel log lines written by the Log action.
  std::string log_prefix;  // empty = "tabby-packet"
  // What happens to traffic from a workload to its own host once the workload's egress policy
  // allowed it: "Drop" (the default), "Accept", or "Return" (on to host endpoint policy).
  std::string default_endpoint_to_host_action;
  // Ports host endpoint policy cannot close; absent: kDefaultFailsafe*Ports, []: none.
  std::optional<std::vector<ProtoPort>> failsafe_inbound_host_ports;
  std::optional<std::vector<ProtoPort>> failsafe_outbound_host_ports;
  friend bool operator==(const ClusterConfigurationSpec&,
                         const ClusterConfigurationSpec&) = default;
};

// ---------------------------------------------------------------------------------------------
// Kubernetes kinds. Field names and meanings are Kubernetes' own (meta/v1, core/v1,
// networking/v1); absent and empty are kept apart where Kubernetes gives them different meanings.

// Kubernetes v1 Namespace spec. The namespace's labels (metadata.labels) are what matters;
// defaulting adds kubernetes.io/metadata.name=<name> as the API server does.
struct NamespaceSpec {
  std::vector<std::string> finalizers;  // kept, not acted on
  friend bool operator==(const NamespaceSpec&, const NamespaceSpec&) = default;
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

// networking/v1 IPBlock: addresses in `cidr` but in none of `except`.
struct IPBlock {
  std::string cidr;
  std::vector<std::string> except;
  friend bool operator==(const IPBlock&, const IPBlock&) = default;
};

// networking/v1 NetworkPolicyPeer. Presence matters: podSelector alone picks pods of the policy's
// namespace, namespaceSelector alone every pod of the namespaces it picks, both together the pods
// podSelector picks in those namespaces; ipBlock stands alone.
struct NetworkPolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<IPBlock> ip_block;
  friend bool operator==(const NetworkPolicyPeer&, const NetworkPolicyPeer&) = default;
};

// An IntOrString port: a number (written as a YAML integer), or the name of a port the
// destination pod declares.
struct PortNumberOrName {
  int32_t number = 0;  // when name is empty
  std::string name;
  bool is_named() const { return !name.empty(); }
  friend bool operator==(const PortNumberOrName&, const PortNumberOrName&) = default;
};

// networking/v1 NetworkPolicyPort. Absent port = every port of the protocol; endPort makes
// port..endPort a range (numeric ports only).
struct NetworkPolicyPort {
  std::optional<Protocol> protocol;  // TCP, UDP or SCTP; defaulted to TCP
  std::optional<PortNumberOrName> port;
  std::optional<int32_t> end_port;
  friend bool operator==(const NetworkPolicyPort&, const NetworkPolicyPort&) = default;
};

// Allows traffic that matches one of `ports` (empty = any) from one of `from` (empty = anyone).
struct NetworkPolicyIngressRule {
  std::vector<NetworkPolicyPort> ports;
  std::vector<NetworkPolicyPeer> from;
  friend bool operator==(const NetworkPolicyIngressRule&,
                         const NetworkPolicyIngressRule&) = default;
};

// Allows traffic that matches one of `ports` (empty = any) to one of `to` (empty = anywhere).
struct NetworkPolicyEgressRule {
  std::vector<NetworkPolicyPort> ports;
  std::vector<NetworkPolicyPeer> to;
  friend bool operator==(const NetworkPolicyEgressRule&, const NetworkPolicyEgressRule&) = default;
};

// networking/v1 NetworkPolicySpec. Pods that podSelector picks (in the policy's namespace) are
// isolated for each direction in policyTypes and then get what the rules allow.
struct KubernetesNetworkPolicySpec {
  LabelSelector pod_selector;  // empty = every pod of the namespace
  // Defaulted as the API server does: [Ingress], plus Egress when there are egress rules.
  std::vector<PolicyType> policy_types;
  std::vector<NetworkPolicyIngressRule> ingress;
  std::vector<NetworkPolicyEgressRule> egress;
  friend bool operator==(const KubernetesNetworkPolicySpec&,
                         const KubernetesNetworkPolicySpec&) = default;
};

using Spec = std::variant<IPPoolSpec, PolicySpec, ProfileSpec, WorkloadEndpointSpec, NodeSpec,
                          ClusterConfigurationSpec, NamespaceSpec, KubernetesNetworkPolicySpec,
                          HostEndpointSpec>;

struct Resource {
  Kind kind = Kind::kIPPool;
  // As written by the user. The encoder writes ApiVersionOf(kind): tabby.dev/v1 for tabby's kinds
  // (so a projectcalico.org/v3 document is stored as tabby.dev/v1), the Kubernetes group version
  // for Kubernetes kinds.
  std::string api_version = kTabbyApiVersion;
  ObjectMeta metadata;
  Spec spec;

  // Typed access; the caller knows the kind. Asserting on mismatch is a programming error.
  const IPPoolSpec& ip_pool() const { return std::get<IPPoolSpec>(spec); }
  const PolicySpec& policy() const { return std::get<PolicySpec>(spec); }
  const ProfileSpec& profile() const { return std::get<ProfileSpec>(spec); }
  const WorkloadEndpointSpec& workload_endpoint() const {
    return std::get<WorkloadEndpointSpec>(spec);
  }
  const NodeSpec& node() const { return std::get<NodeSpec>(spec); }
  const ClusterConfigurationSpec& cluster_configuration() const {
    return std::get<ClusterConfigurationSpec>(spec);
  }
  const NamespaceSpec& namespace_spec() const { return std::get<NamespaceSpec>(spec); }
  const KubernetesNetworkPolicySpec& kubernetes_network_policy() const {
    return std::get<KubernetesNetworkPolicySpec>(spec);
  }
  IPPoolSpec& ip_pool() { return std::get<IPPoolSpec>(spec); }
  PolicySpec& policy() { return std::get<PolicySpec>(spec); }
  ProfileSpec& profile() { return std::get<ProfileSpec>(spec); }
  WorkloadEndpointSpec& workload_endpoint() { return std::get<WorkloadEndpointSpec>(spec); }
  NodeSpec& node() { return std::get<NodeSpec>(spec); }
  ClusterConfigurationSpec& cluster_configuration() {
    return std::get<ClusterConfigurationSpec>(spec);
  }
  NamespaceSpec& namespace_spec() { return std::get<NamespaceSpec>(spec); }
  const HostEndpointSpec& host_endpoint() const { return std::get<HostEndpointSpec>(spec); }
  HostEndpointSpec& host_endpoint() { return std::get<HostEndpointSpec>(spec); }
  KubernetesNetworkPolicySpec& kubernetes_network_policy() {
    return std::get<KubernetesNetworkPolicySpec>(spec);
  }

  // Compares every field, api_version included (decoding keeps the version the user wrote).
  friend bool operator==(const Resource&, const Resource&) = default;
};

// A Resource of `kind` with the matching empty spec and api_version ApiVersionOf(kind).
Resource MakeResource(Kind kind, std::string name, std::string namespace_name = "");

// "<kind>/<namespace>/<name>" or "<kind>/<name>": how messages name a resource.
std::string DisplayName(const Resource& resource);

}  // namespace tabby::model
