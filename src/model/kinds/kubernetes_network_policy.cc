#include "model/kinds/kubernetes_network_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/ip.h"
#include "model/check.h"
#include "model/internal.h"
#include "model/kind_registry.h"
#include "model/kubernetes.h"
#include "model/table_cells.h"
#include "model/validate.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::CanonicalizeCidr;
using internal::Checker;
using internal::IsPortName;
using internal::kMaxNets;
using internal::kMaxRules;
using internal::kMaxSelectorLength;
using internal::PathIndex;
using internal::PathKey;
using internal::Quote;

void DefaultKubernetesNetworkPolicy(Resource& r) {
  KubernetesNetworkPolicySpec& s = r.kubernetes_network_policy();
  if (s.policy_types.empty()) {
    // The API server: Ingress always, Egress when there are egress rules.
    s.policy_types.push_back(PolicyType::kIngress);
    if (!s.egress.empty()) s.policy_types.push_back(PolicyType::kEgress);
  }
  auto default_ports = [](std::vector<NetworkPolicyPort>& ports) {
    for (NetworkPolicyPort& port : ports) {
      if (!port.protocol) port.protocol = Protocol{Protocol::kTcp, "TCP"};
    }
  };
  // Canonical CIDR text only where it changes nothing else (a bare address stays invalid,
  // host bits stay as written, as Kubernetes keeps them).
  auto default_peers = [](std::vector<NetworkPolicyPeer>& peers) {
    for (NetworkPolicyPeer& peer : peers) {
      if (!peer.ip_block) continue;
      auto canonical = [](std::string& text) {
        if (text.find('/') != std::string::npos) CanonicalizeCidr(text, /*strict=*/true);
      };
      canonical(peer.ip_block->cidr);
      for (std::string& except : peer.ip_block->except) canonical(except);
    }
  };
  for (NetworkPolicyIngressRule& rule : s.ingress) {
    default_ports(rule.ports);
    default_peers(rule.from);
  }
  for (NetworkPolicyEgressRule& rule : s.egress) {
    default_ports(rule.ports);
    default_peers(rule.to);
  }
}

// The API server's rules (apimachinery / networking validation), with its field paths.

bool CheckLabelSelector(Checker& c, const std::string& path, const LabelSelector& s) {
  if (!CheckLabels(c, PathKey(path, "matchLabels"), s.match_labels)) return false;
  const std::string expressions = PathKey(path, "matchExpressions");
  for (size_t i = 0; i < s.match_expressions.size(); ++i) {
    const LabelSelectorRequirement& requirement = s.match_expressions[i];
    const std::string item = PathIndex(expressions, i);
    if (requirement.key.empty()) return c.Fail(PathKey(item, "key"), "required field is missing");
    if (auto problem = internal::LabelKeyProblem(requirement.key)) {
      return c.Fail(PathKey(item, "key"), *problem);
    }
    std::string_view op = SelectorOperatorName(requirement.op);
    const std::string values = PathKey(item, "values");
    switch (requirement.op) {
      case SelectorOperator::kIn:
      case SelectorOperator::kNotIn:
        if (requirement.values.empty()) {
          return c.Fail(values, fmt::format("operator {} needs at least one value", op));
        }
        for (size_t j = 0; j < requirement.values.size(); ++j) {
          if (auto problem = CheckLabelValue(requirement.values[j])) {
            return c.Fail(PathIndex(values, j), *problem);
          }
        }
        break;
      case SelectorOperator::kExists:
      case SelectorOperator::kDoesNotExist:
        if (!requirement.values.empty()) {
          return c.Fail(values, fmt::format("operator {} takes no values", op));
        }
        break;
    }
  }
  std::string text = LabelSelectorText(s);
  if (text.size() > kMaxSelectorLength) {
    return c.Fail(path, fmt::format("the selector is {} characters long as a tabby selector; the "
                                    "limit is {}",
                                    text.size(), kMaxSelectorLength));
  }
  return true;
}

// A Kubernetes CIDR: an address with a prefix length (host bits may be set).
std::optional<IpNetwork> CheckKubernetesCidr(Checker& c, const std::string& path,
                                             const std::string& text) {
  if (text.find('/') == std::string::npos) {
    c.Fail(path, fmt::format("invalid CIDR {}: expected an address with a prefix length, e.g. "
                             "10.0.0.0/16",
                             Quote(text)));
    return std::nullopt;
  }
  return CheckCidr(c, path, text, /*strict=*/false);
}

bool CheckIpBlock(Checker& c, const std::string& path, const IPBlock& block) {
  const std::string cidr_path = PathKey(path, "cidr");
  if (block.cidr.empty()) return c.Fail(cidr_path, "required field is missing");
  std::optional<IpNetwork> cidr = CheckKubernetesCidr(c, cidr_path, block.cidr);
  if (!cidr) return false;
  const IpNetwork outer = cidr->Masked();
  const std::string except_path = PathKey(path, "except");
  if (block.except.size() > kMaxNets) {
    return c.Fail(except_path,
                  fmt::format("{} networks; the limit is {}", block.except.size(), kMaxNets));
  }
  for (size_t i = 0; i < block.except.size(); ++i) {
    const std::string item = PathIndex(except_path, i);
    std::optional<IpNetwork> except = CheckKubernetesCidr(c, item, block.except[i]);
    if (!except) return false;
    if (except->is_v4() != outer.is_v4()) {
      return c.Fail(item,
                    fmt::format("{} is an IPv{} network but cidr {} is IPv{}", block.except[i],
                                except->is_v4() ? 4 : 6, block.cidr, outer.is_v4() ? 4 : 6));
    }
    const IpNetwork inner = except->Masked();
    if (!outer.Contains(inner) || inner.prefix_length() <= outer.prefix_length()) {
      return c.Fail(
          item, fmt::format("{} must be a strict subset of cidr {}", block.except[i], block.cidr));
    }
  }
  return true;
}

bool CheckPeer(Checker& c, const std::string& path, const NetworkPolicyPeer& peer) {
  if (!peer.pod_selector && !peer.namespace_selector && !peer.ip_block) {
    return c.Fail(path, "a peer must set podSelector, namespaceSelector or ipBlock");
  }
  if (peer.ip_block && (peer.pod_selector || peer.namespace_selector)) {
    return c.Fail(PathKey(path, "ipBlock"),
                  "ipBlock cannot be combined with podSelector or namespaceSelector (use two "
                  "peers)");
  }
  if (peer.pod_selector &&
      !CheckLabelSelector(c, PathKey(path, "podSelector"), *peer.pod_selector)) {
    return false;
  }
  if (peer.namespace_selector &&
      !CheckLabelSelector(c, PathKey(path, "namespaceSelector"), *peer.namespace_selector)) {
    return false;
  }
  return !peer.ip_block || CheckIpBlock(c, PathKey(path, "ipBlock"), *peer.ip_block);
}

bool IsDecimal(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

bool CheckNetworkPolicyPort(Checker& c, const std::string& path, const NetworkPolicyPort& p) {
  if (p.protocol) {
    uint8_t number = p.protocol->number;
    if (p.protocol->name.empty() ||
        (number != Protocol::kTcp && number != Protocol::kUdp && number != Protocol::kSctp)) {
      return c.Fail(PathKey(path, "protocol"),
                    fmt::format("invalid protocol {}: use TCP, UDP or SCTP",
                                Quote(internal::ProtocolText(*p.protocol))));
    }
  }
  const std::string port_path = PathKey(path, "port");
  if (p.port) {
    if (p.port->is_named()) {
      const std::string& name = p.port->name;
      if (IsDecimal(name)) {
        return c.Fail(port_path, fmt::format("invalid port {}: a port number is written as an "
                                             "integer (port: {}), a string is a port name",
                                             Quote(name), name));
      }
      if (!IsPortName(name)) {
        return c.Fail(port_path,
                      fmt::format("invalid port name {}: 1-15 lower case letters, digits and "
                                  "'-', with at least one letter, and no leading, trailing or "
                                  "double '-'",
                                  Quote(name)));
      }
    } else if (p.port->number < 1 || p.port->number > 65535) {
      return c.Fail(port_path, fmt::format("invalid port {}: ports are 1-65535", p.port->number));
    }
  }
  if (p.end_port) {
    const std::string end_path = PathKey(path, "endPort");
    if (!p.port) return c.Fail(end_path, "endPort needs port (the first port of the range)");
    if (p.port->is_named()) return c.Fail(end_path, "endPort cannot be used with a named port");
    if (*p.end_port < 1 || *p.end_port > 65535) {
      return c.Fail(end_path, fmt::format("invalid endPort {}: ports are 1-65535", *p.end_port));
    }
    if (*p.end_port < p.port->number) {
      return c.Fail(end_path,
                    fmt::format("endPort {} is less than port {}", *p.end_port, p.port->number));
    }
  }
  return true;
}

// The ingress or egress rules of a KubernetesNetworkPolicy; `peers_key` is "from" or "to".
template <typename KubernetesRule, typename Peers>
bool CheckKubernetesRules(Checker& c, const std::string& path,
                          const std::vector<KubernetesRule>& rules, std::string_view peers_key,
                          Peers peers_of) {
  size_t expanded = 0;
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string item = PathIndex(path, i);
    const std::vector<NetworkPolicyPeer>& peers = peers_of(rules[i]);
    const std::vector<NetworkPolicyPort>& ports = rules[i].ports;
    for (size_t j = 0; j < ports.size(); ++j) {
      if (!CheckNetworkPolicyPort(c, PathIndex(PathKey(item, "ports"), j), ports[j])) return false;
    }
    for (size_t j = 0; j < peers.size(); ++j) {
      if (!CheckPeer(c, PathIndex(PathKey(item, peers_key), j), peers[j])) return false;
    }
    expanded += std::max<size_t>(1, peers.size()) * std::max<size_t>(1, ports.size());
  }
  if (expanded > kMaxRules) {
    return c.Fail(path, fmt::format("the rules expand to {} tabby rules (one per peer and port); "
                                    "the limit is {}",
                                    expanded, kMaxRules));
  }
  return true;
}

bool CheckKubernetesNetworkPolicy(Checker& c, const Resource& r) {
  const KubernetesNetworkPolicySpec& s = r.kubernetes_network_policy();
  if (!CheckLabelSelector(c, "spec.podSelector", s.pod_selector)) return false;
  if (s.policy_types.empty()) return c.Fail("spec.policyTypes", "required field is missing");
  for (size_t i = 0; i < s.policy_types.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (s.policy_types[i] == s.policy_types[j]) {
        return c.Fail(PathIndex("spec.policyTypes", i),
                      fmt::format("policy type {} is listed more than once",
                                  PolicyTypeName(s.policy_types[i])));
      }
    }
  }
  if (!CheckKubernetesRules(
          c, "spec.ingress", s.ingress, "from",
          [](const NetworkPolicyIngressRule& rule) -> const auto& { return rule.from; }) ||
      !CheckKubernetesRules(
          c, "spec.egress", s.egress, "to",
          [](const NetworkPolicyEgressRule& rule) -> const auto& { return rule.to; })) {
    return false;
  }
  // What the calculator enforces is the conversion: it must be valid too. The checks above should
  // make this unreachable; it keeps "valid implies safe downstream" true if they fall behind.
  Resource converted = ToTabbyPolicy(r);
  if (std::optional<FieldError> error = CheckResource(converted)) {
    return c.Fail("spec", fmt::format("the policy converts to an invalid {}: {}",
                                      DisplayName(converted), error->ToString()));
  }
  return true;
}

constexpr auto kKubernetesNetworkPolicyColumns = std::to_array<Column>({
    {"PODSELECTOR", Column::kWideOnly,
     [](const Resource& r) {
       return LabelSelectorText(r.kubernetes_network_policy().pod_selector);
     }},
    {"TYPES", Column::kAlways,
     [](const Resource& r) { return PolicyTypesText(r.kubernetes_network_policy().policy_types); }},
});

}  // namespace

extern constexpr KindInfo kKubernetesNetworkPolicyKind{
    .kind = Kind::kKubernetesNetworkPolicy,
    .name = "KubernetesNetworkPolicy",
    .aliases = {"kubernetesnetworkpolicies", "knp", "knps", "networkpolicies.networking.k8s.io",
                "networkpolicy.networking.k8s.io"},
    .wire_name = "NetworkPolicy",
    .api_version = kKubernetesNetworkingApiVersion,
    .kubernetes = true,
    .namespaced = true,
    .empty_spec = EmptySpec<KubernetesNetworkPolicySpec>,
    .apply_defaults = DefaultKubernetesNetworkPolicy,
    .check = CheckKubernetesNetworkPolicy,
    .columns = kKubernetesNetworkPolicyColumns,
};

}  // namespace tabby::model
