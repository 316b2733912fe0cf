// KubernetesNetworkPolicy: networking.k8s.io/v1 NetworkPolicy, accepted verbatim;
// model/kubernetes.h turns it into a tabby NetworkPolicy. Field names and meanings are Kubernetes'
// own (meta/v1, networking/v1); absent and empty are kept apart where Kubernetes gives them
// different meanings. Its defaults, validation and `tabbyctl get` columns are in
// kubernetes_network_policy.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

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

}  // namespace tabby::model

namespace tabby::model::internal {

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
