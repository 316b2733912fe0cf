// Internal to tabby_model: the field names of every resource type, written once and used by the
// decoder, the encoder and the validator's generic checks.
//
// A visitor V has
//   Field(key, member)           optional field; the encoder omits it when empty/zero/false
//   Field(key, member, Codec{})  same with a custom value codec
//   Required(key, member)        must be present on input; always written
//   Object(key, describe)        a nested object that has no struct of its own
// T is the struct, or the const struct when encoding.
#pragma once

#include <type_traits>

#include "model/resources.h"

namespace tabby::model::internal {

template <typename T, typename U>
concept Is = std::is_same_v<std::remove_const_t<T>, U>;

// An AS number: an integer, or a string in plain ("64512") or asdot ("1.10") notation.
struct AsNumberCodec {};
// Optional on input, but always written, even when empty (Kubernetes' `podSelector: {}`).
struct AlwaysWrittenCodec {};

template <typename V, Is<ObjectMeta> T>
void Describe(V& v, T& m) {
  v.Field("name", m.name);
  v.Field("namespace", m.namespace_name);
  v.Field("labels", m.labels);
  v.Field("annotations", m.annotations);
  v.Field("resourceVersion", m.resource_version);
  v.Field("uid", m.uid);
  v.Field("creationTimestamp", m.creation_timestamp);
}

template <typename V, Is<IcmpMatch> T>
void Describe(V& v, T& m) {
  v.Field("type", m.type);
  v.Field("code", m.code);
}

template <typename V, Is<EntityRule> T>
void Describe(V& v, T& e) {
  v.Field("nets", e.nets);
  v.Field("notNets", e.not_nets);
  v.Field("selector", e.selector);
  v.Field("notSelector", e.not_selector);
  v.Field("namespaceSelector", e.namespace_selector);
  v.Field("ports", e.ports);
  v.Field("notPorts", e.not_ports);
}

template <typename V, Is<Rule> T>
void Describe(V& v, T& r) {
  v.Required("action", r.action);
  v.Field("ipVersion", r.ip_version);
  v.Field("protocol", r.protocol);
  v.Field("notProtocol", r.not_protocol);
  v.Field("icmp", r.icmp);
  v.Field("notICMP", r.not_icmp);
  v.Field("source", r.source);
  v.Field("destination", r.destination);
  v.Object("metadata", [&](auto& m) { m.Field("annotations", r.metadata_annotations); });
}

template <typename V, Is<PolicySpec> T>
void Describe(V& v, T& s) {
  v.Field("order", s.order);
  v.Field("tier", s.tier);
  v.Field("selector", s.selector);
  v.Field("types", s.types);
  v.Field("ingress", s.ingress);
  v.Field("egress", s.egress);
  v.Field("namespaceSelector", s.namespace_selector);
  v.Field("serviceAccountSelector", s.service_account_selector);
  v.Field("doNotTrack", s.do_not_track);
  v.Field("preDNAT", s.pre_dnat);
  v.Field("applyOnForward", s.apply_on_forward);
}

template <typename V, Is<ProfileSpec> T>
void Describe(V& v, T& s) {
  v.Field("ingress", s.ingress);
  v.Field("egress", s.egress);
  v.Field("labelsToApply", s.labels_to_apply);
}

template <typename V, Is<IPPoolSpec> T>
void Describe(V& v, T& s) {
  v.Field("cidr", s.cidr);
  v.Field("blockSize", s.block_size);
  v.Field("ipipMode", s.ipip_mode);
  v.Field("vxlanMode", s.vxlan_mode);
  v.Field("natOutgoing", s.nat_outgoing);
  v.Field("disabled", s.disabled);
  v.Field("disableBGPExport", s.disable_bgp_export);
  v.Field("nodeSelector", s.node_selector);
  v.Field("allowedUses", s.allowed_uses);
  v.Field("assignmentMode", s.assignment_mode);
}

template <typename V, Is<EndpointPort> T>
void Describe(V& v, T& p) {
  v.Field("name", p.name);
  v.Field("protocol", p.protocol);
  v.Field("port", p.port);
  v.Field("hostPort", p.host_port);
  v.Field("hostIP", p.host_ip);
}

template <typename V, Is<WorkloadEndpointSpec> T>
void Describe(V& v, T& s) {
  v.Field("orchestrator", s.orchestrator);
  v.Field("workload", s.workload);
  v.Field("node", s.node);
  v.Field("containerID", s.container_id);
  v.Field("pod", s.pod);
  v.Field("endpoint", s.endpoint);
  v.Field("serviceAccountName", s.service_account_name);
  v.Field("ipNetworks", s.ip_networks);
  v.Field("ipv4Gateway", s.ipv4_gateway);
  v.Field("ipv6Gateway", s.ipv6_gateway);
  v.Field("profiles", s.profiles);
  v.Field("interfaceName", s.interface_name);
  v.Field("mac", s.mac);
  v.Field("ports", s.ports);
  v.Field("allowSpoofedSourcePrefixes", s.allow_spoofed_source_prefixes);
}

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
}

template <typename V, Is<ProtoPort> T>
void Describe(V& v, T& p) {
  v.Field("protocol", p.protocol);
  v.Required("port", p.port);
}

template <typename V, Is<ClusterConfigurationSpec> T>
void Describe(V& v, T& s) {
  v.Field("defaultEndpointPolicy", s.default_endpoint_policy);
  v.Field("logPrefix", s.log_prefix);
  v.Field("defaultEndpointToHostAction", s.default_endpoint_to_host_action);
  v.Field("failsafeInboundHostPorts", s.failsafe_inbound_host_ports);
  v.Field("failsafeOutboundHostPorts", s.failsafe_outbound_host_ports);
}

template <typename V, Is<HostEndpointSpec> T>
void Describe(V& v, T& s) {
  v.Field("node", s.node);
  v.Field("interfaceName", s.interface_name);
  v.Field("expectedIPs", s.expected_ips);
  v.Field("profiles", s.profiles);
}

template <typename V, Is<NamespaceSpec> T>
void Describe(V& v, T& s) {
  v.Field("finalizers", s.finalizers);
}

template <typename V, Is<LabelSelectorRequirement> T>
void Describe(V& v, T& r) {
  v.Required("key", r.key);
  v.Required("operator", r.op);
  v.Field("values", r.values);
}

template <typename V, Is<LabelSelector> T>
void Describe(V& v, T& s) {
  v.Field("matchLabels", s.match_labels);
  v.Field("matchExpressions", s.match_expressions);
}

template <typename V, Is<IPBlock> T>
void Describe(V& v, T& b) {
  v.Required("cidr", b.cidr);
  v.Field("except", b.except);
}

template <typename V, Is<NetworkPolicyPeer> T>
void Describe(V& v, T& p) {
  v.Field("podSelector", p.pod_selector);
  v.Field("namespaceSelector", p.namespace_selector);
  v.Field("ipBlock", p.ip_block);
}

template <typename V, Is<NetworkPolicyPort> T>
void Describe(V& v, T& p) {
  v.Field("protocol", p.protocol);
  v.Field("port", p.port);
  v.Field("endPort", p.end_port);
}

template <typename V, Is<NetworkPolicyIngressRule> T>
void Describe(V& v, T& r) {
  v.Field("ports", r.ports);
  v.Field("from", r.from);
}

template <typename V, Is<NetworkPolicyEgressRule> T>
void Describe(V& v, T& r) {
  v.Field("ports", r.ports);
  v.Field("to", r.to);
}

template <typename V, Is<KubernetesNetworkPolicySpec> T>
void Describe(V& v, T& s) {
  v.Field("podSelector", s.pod_selector, AlwaysWrittenCodec{});
  v.Field("policyTypes", s.policy_types);
  v.Field("ingress", s.ingress);
  v.Field("egress", s.egress);
}

}  // namespace tabby::model::internal
