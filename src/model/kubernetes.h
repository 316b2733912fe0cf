// Kubernetes NetworkPolicy (networking.k8s.io/v1) expressed as a tabby NetworkPolicy, so that the
// calculator enforces both kinds with one engine. The conversion is pure and total on valid input:
// the validator converts every KubernetesNetworkPolicy it accepts and checks the result, so a
// policy that passed validation converts to a valid NetworkPolicy.
//
// Ordering. The converted policy has order 1000 (kKubernetesPolicyOrder) in tier "default", as
// Calico does: tabby's own policies with order < 1000 run before Kubernetes policies, those with
// order > 1000 (or none) after them. Kubernetes policies only ever allow, so for a workload that
// some policy selects for a direction, the traffic allowed is the union of what the selecting
// policies allow; a tabby Deny with lower order takes precedence, a tabby Pass skips them.
//
// Semantics, per direction listed in policyTypes:
//   * podSelector picks the pods of the policy's namespace the policy isolates; with no rules
//     (an absent or empty ingress / egress list) they are isolated and nothing is allowed.
//   * Each Kubernetes rule becomes the Allow rules of its peers x ports. An empty peer list means
//     any source (ingress) or destination (egress); an empty port list any protocol and port.
//   * Peer podSelector alone: those pods of the policy's namespace; namespaceSelector alone:
//     every pod of the namespaces it picks; both: the pods podSelector picks in those namespaces.
//   * Peer ipBlock: nets [cidr], notNets except. Kubernetes says ipBlock is meant for addresses
//     outside the cluster and leaves pod addresses implementation-defined; like Calico we match
//     any address in the block, pods' included.
//   * Port: protocol (TCP when absent) plus a destination port, a range port..endPort, or a
//     named port, which the calculator resolves per destination pod from the ports it declares.
//     A port entry without port matches the protocol alone. For ingress the peer is the rule's
//     source; for egress the peer and the port both go in the destination.
#pragma once

#include <string>
#include <string_view>

#include "model/resources.h"

namespace tabby::model {

inline constexpr double kKubernetesPolicyOrder = 1000;
// Prefix of the converted policy's name: "knp.default.<name>" (Calico's spelling).
inline constexpr std::string_view kKubernetesPolicyNamePrefix = "knp.default.";

// The tabby selector that picks what `selector` picks, with Kubernetes' semantics:
//   matchLabels k: v          k == "v"
//   k In [a, b]               k in {"a", "b"}
//   k NotIn [a, b]            k not in {"a", "b"}   (true when k is absent, as in Kubernetes)
//   k Exists / DoesNotExist   has(k) / !has(k)
// all ANDed, matchLabels first (by key), then matchExpressions in order; "all()" when empty.
// Values are quoted with selector::QuoteValue. A value the selector grammar cannot quote (it holds
// both ' and ", which no valid label value does) can equal no label value: it is left out of an
// In/NotIn set, and a matchLabels pair with such a value becomes `k in {}`, which matches nothing.
std::string LabelSelectorText(const LabelSelector& selector);

// "knp.default.<name>".
std::string TabbyPolicyName(std::string_view kubernetes_policy_name);

// `knp` (kind kKubernetesNetworkPolicy, defaulted) as a kNetworkPolicy named
// TabbyPolicyName(name) in the same namespace, order kKubernetesPolicyOrder, tier "default",
// selector from podSelector, types from policyTypes, and only the rules of those types.
Resource ToTabbyPolicy(const Resource& knp);

}  // namespace tabby::model
