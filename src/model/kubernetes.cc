#include "model/kubernetes.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "base/ip.h"
#include "selector/selector.h"

namespace tabby::model {
namespace {

// True if selector text can quote `value` (a literal holds anything but its own quote).
bool Quotable(std::string_view value) {
  return value.find('"') == std::string_view::npos || value.find('\'') == std::string_view::npos;
}

// `{"a", "b"}`, leaving out values that cannot be quoted (they equal no label value).
std::string ValueSet(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  for (const std::string& value : values) {
    if (Quotable(value)) quoted.push_back(selector::QuoteValue(value));
  }
  return fmt::format("{{{}}}", fmt::join(quoted, ", "));
}

// A CIDR as the rule compiler wants it: masked and canonical. Validation guarantees it parses;
// if it does not, the text is kept and the compiler fails the policy closed.
std::string MaskedCidr(const std::string& text) {
  absl::StatusOr<IpNetwork> network = IpNetwork::Parse(text);
  if (!network.ok()) return text;
  return network->Masked().ToString();
}

// The peer's part of a rule side: who the traffic comes from (ingress) or goes to (egress).
void ApplyPeer(const NetworkPolicyPeer& peer, EntityRule& entity) {
  if (peer.ip_block) {
    entity.nets.push_back(MaskedCidr(peer.ip_block->cidr));
    for (const std::string& except : peer.ip_block->except) {
      entity.not_nets.push_back(MaskedCidr(except));
    }
    return;
  }
  // The calculator scopes a selector without namespaceSelector to the policy's namespace.
  entity.selector = LabelSelectorText(peer.pod_selector.value_or(LabelSelector{}));
  if (peer.namespace_selector) {
    entity.namespace_selector = LabelSelectorText(*peer.namespace_selector);
  }
}

// The port's part of a rule: the protocol and the destination port.
void ApplyPort(const NetworkPolicyPort& port, Rule& rule) {
  rule.protocol = port.protocol.value_or(Protocol{Protocol::kTcp, "TCP"});
  if (!port.port) return;
  PortSpec spec;
  if (port.port->is_named()) {
    spec.name = port.port->name;
  } else {
    spec.first = static_cast<uint16_t>(port.port->number);
    spec.last = static_cast<uint16_t>(port.end_port.value_or(port.port->number));
  }
  rule.destination.ports.push_back(std::move(spec));
}

// The Allow rules of one Kubernetes rule: one per (peer, port). `peer_is_source`: ingress.
std::vector<Rule> ExpandRule(const std::vector<NetworkPolicyPeer>& peers,
                             const std::vector<NetworkPolicyPort>& ports, bool peer_is_source) {
  // nullopt stands for "any": an empty list matches everything.
  std::vector<std::optional<NetworkPolicyPeer>> each_peer(peers.begin(), peers.end());
  if (each_peer.empty()) each_peer.emplace_back();
  std::vector<std::optional<NetworkPolicyPort>> each_port(ports.begin(), ports.end());
  if (each_port.empty()) each_port.emplace_back();
  std::vector<Rule> rules;
  rules.reserve(each_peer.size() * each_port.size());
  for (const auto& peer : each_peer) {
    for (const auto& port : each_port) {
      Rule rule;
      rule.action = Action::kAllow;
      if (peer) ApplyPeer(*peer, peer_is_source ? rule.source : rule.destination);
      if (port) ApplyPort(*port, rule);
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

bool HasType(const std::vector<PolicyType>& types, PolicyType type) {
  return std::find(types.begin(), types.end(), type) != types.end();
}

}  // namespace

std::string LabelSelectorText(const LabelSelector& selector) {
  std::vector<std::string> terms;
  for (const auto& [key, value] : selector.match_labels) {
    if (Quotable(value)) {
      terms.push_back(fmt::format("{} == {}", key, selector::QuoteValue(value)));
    } else {
      terms.push_back(fmt::format("{} in {{}}", key));
    }
  }
  for (const LabelSelectorRequirement& requirement : selector.match_expressions) {
    const std::string& key = requirement.key;
    switch (requirement.op) {
      case SelectorOperator::kIn:
        terms.push_back(fmt::format("{} in {}", key, ValueSet(requirement.values)));
        break;
      case SelectorOperator::kNotIn:
        terms.push_back(fmt::format("{} not in {}", key, ValueSet(requirement.values)));
        break;
      case SelectorOperator::kExists:
        terms.push_back(fmt::format("has({})", key));
        break;
      case SelectorOperator::kDoesNotExist:
        terms.push_back(fmt::format("!has({})", key));
        break;
    }
  }
  if (terms.empty()) return "all()";
  return fmt::format("{}", fmt::join(terms, " && "));
}

std::string TabbyPolicyName(std::string_view kubernetes_policy_name) {
  return fmt::format("{}{}", kKubernetesPolicyNamePrefix, kubernetes_policy_name);
}

Resource ToTabbyPolicy(const Resource& knp) {
  const KubernetesNetworkPolicySpec& spec = knp.kubernetes_network_policy();
  Resource out = MakeResource(Kind::kNetworkPolicy, TabbyPolicyName(knp.metadata.name),
                              knp.metadata.namespace_name);
  PolicySpec& policy = out.policy();
  policy.order = kKubernetesPolicyOrder;
  policy.tier = "default";
  policy.selector = LabelSelectorText(spec.pod_selector);
  policy.types = spec.policy_types;
  if (HasType(spec.policy_types, PolicyType::kIngress)) {
    for (const NetworkPolicyIngressRule& rule : spec.ingress) {
      std::vector<Rule> expanded = ExpandRule(rule.from, rule.ports, /*peer_is_source=*/true);
      policy.ingress.insert(policy.ingress.end(), std::make_move_iterator(expanded.begin()),
                            std::make_move_iterator(expanded.end()));
    }
  }
  if (HasType(spec.policy_types, PolicyType::kEgress)) {
    for (const NetworkPolicyEgressRule& rule : spec.egress) {
      std::vector<Rule> expanded = ExpandRule(rule.to, rule.ports, /*peer_is_source=*/false);
      policy.egress.insert(policy.egress.end(), std::make_move_iterator(expanded.begin()),
                           std::make_move_iterator(expanded.end()));
    }
  }
  return out;
}

}  // namespace tabby::model
