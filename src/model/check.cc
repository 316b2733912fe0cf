#include "model/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/status_macros.h"
#include "model/internal.h"
#include "model/yaml_json.h"
#include "selector/selector.h"

namespace tabby::model {
namespace internal {

namespace {

constexpr size_t kMaxPorts = 50;  // ports / notPorts, §1.3
constexpr size_t kMaxAnnotationBytes = 256 * 1024;
constexpr size_t kMaxInterfaceNameLength = 15;  // IFNAMSIZ - 1

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters.
bool IsLabelName(std::string_view s) {
  if (s.empty() || s.size() > kMaxLabelLength || !IsAlnum(s.front()) || !IsAlnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// "02:42:ac:11:00:02" (also '-' separated, any case) -> canonical lower-case colon form.
std::optional<std::string> CanonicalMac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  std::string out;
  for (size_t i = 0; i < 17; ++i) {
    char c = text[i];
    if (i % 3 == 2) {
      if (c != separator) return std::nullopt;
      out.push_back(':');
    } else {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

void DefaultRule(Rule& rule) {
  for (EntityRule* entity : {&rule.source, &rule.destination}) {
    for (std::string& net : entity->nets) CanonicalizeCidr(net, /*strict=*/true);
    for (std::string& net : entity->not_nets) CanonicalizeCidr(net, /*strict=*/true);
  }
}

bool CheckPorts(Checker& c, const std::string& path, const std::vector<PortSpec>& ports) {
  if (ports.size() > kMaxPorts) {
    return c.Fail(path, fmt::format("{} ports; the limit is {}", ports.size(), kMaxPorts));
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    const PortSpec& port = ports[i];
    std::string item = PathIndex(path, i);
    if (port.is_named()) {
      if (!IsPortName(port.name)) {
        return c.Fail(item, fmt::format("invalid port name {}: a named port is 1-15 lower case "
                                        "letters, digits and '-', with at least one letter, "
                                        "and no leading, trailing or double '-'",
                                        Quote(port.name)));
      }
      if (port.first != 0 || port.last != 0) {
        return c.Fail(item, "a named port cannot also have port numbers");
      }
      continue;
    }
    std::string text = PortText(port);
    if (port.first == 0 || port.last == 0) {
      if (port.first == port.last) {
        return c.Fail(item, fmt::format("invalid port {}: ports are 1-65535", text));
      }
      return c.Fail(item, fmt::format("invalid port range \"{}\": ports are 1-65535", text));
    }
    if (port.first > port.last) {
      return c.Fail(
          item, fmt::format("invalid port range \"{}\": first port is greater than last", text));
    }
  }
  return true;
}

bool CheckIcmp(Checker& c, const std::string& path, const IcmpMatch& icmp) {
  if (icmp.type && (*icmp.type < 0 || *icmp.type > 254)) {
    return c.Fail(PathKey(path, "type"),
                  fmt::format("invalid ICMP type {}: types are 0-254", *icmp.type));
  }
  if (icmp.code && (*icmp.code < 0 || *icmp.code > 255)) {
    return c.Fail(PathKey(path, "code"),
                  fmt::format("invalid ICMP code {}: codes are 0-255", *icmp.code));
  }
  if (icmp.code && !icmp.type) {
    return c.Fail(PathKey(path, "code"), "an ICMP code needs an ICMP type");
  }
  return true;
}

struct NetFamilies {
  bool v4 = false;
  bool v6 = false;
};

bool CheckNets(Checker& c, const std::string& path, const std::vector<std::string>& nets,
               const Rule& rule, NetFamilies& seen) {
  if (nets.size() > kMaxNets) {
    return c.Fail(path, fmt::format("{} networks; the limit is {}", nets.size(), kMaxNets));
  }
  for (size_t i = 0; i < nets.size(); ++i) {
    std::string item = PathIndex(path, i);
    std::optional<IpNetwork> network = CheckCidr(c, item, nets[i], /*strict=*/true);
    if (!network) return false;
    int version = network->is_v4() ? 4 : 6;
    if (rule.ip_version && *rule.ip_version != version) {
      return c.Fail(item, fmt::format("{} is an IPv{} network but the rule has ipVersion {}",
                                      nets[i], version, *rule.ip_version));
    }
    if ((network->is_v4() && seen.v6) || (!network->is_v4() && seen.v4)) {
      return c.Fail(item,
                    "the rule mixes IPv4 and IPv6 networks; split it into two rules (one "
                    "per ipVersion)");
    }
    (network->is_v4() ? seen.v4 : seen.v6) = true;
  }
  return true;
}

bool CheckEntity(Checker& c, const std::string& path, const EntityRule& entity, const Rule& rule,
                 NetFamilies& seen) {
  return CheckNets(c, PathKey(path, "nets"), entity.nets, rule, seen) &&
         CheckNets(c, PathKey(path, "notNets"), entity.not_nets, rule, seen) &&
         CheckSelector(c, PathKey(path, "selector"), entity.selector, SelectorUse::kEndpoints) &&
         CheckSelector(c, PathKey(path, "notSelector"), entity.not_selector,
                       SelectorUse::kEndpoints) &&
         CheckSelector(c, PathKey(path, "namespaceSelector"), entity.namespace_selector,
                       SelectorUse::kRuleNamespace) &&
         CheckPorts(c, PathKey(path, "ports"), entity.ports) &&
         CheckPorts(c, PathKey(path, "notPorts"), entity.not_ports);
}

bool IsIcmpProtocol(const std::optional<Protocol>& protocol) {
  return protocol && (protocol->number == Protocol::kIcmp || protocol->number == Protocol::kIcmpV6);
}

bool CheckRule(Checker& c, const std::string& path, const Rule& rule) {
  if (rule.ip_version && *rule.ip_version != 4 && *rule.ip_version != 6) {
    return c.Fail(PathKey(path, "ipVersion"),
                  fmt::format("invalid ipVersion {}: use 4 or 6", *rule.ip_version));
  }
  if (rule.protocol && !CheckProtocol(c, PathKey(path, "protocol"), *rule.protocol)) return false;
  if (rule.not_protocol && !CheckProtocol(c, PathKey(path, "notProtocol"), *rule.not_protocol)) {
    return false;
  }
  for (const auto& [name, protocol] :
       {std::pair{"protocol", &rule.protocol}, std::pair{"notProtocol", &rule.not_protocol}}) {
    if (!*protocol || !rule.ip_version) continue;
    if ((*protocol)->number == Protocol::kIcmp && *rule.ip_version != 4) {
      return c.Fail(PathKey(path, name), "protocol ICMP needs ipVersion 4 (use ICMPv6 for IPv6)");
    }
    if ((*protocol)->number == Protocol::kIcmpV6 && *rule.ip_version != 6) {
      return c.Fail(PathKey(path, name), "protocol ICMPv6 needs ipVersion 6 (use ICMP for IPv4)");
    }
  }
  for (const auto& [name, icmp] :
       {std::pair{"icmp", &rule.icmp}, std::pair{"notICMP", &rule.not_icmp}}) {
    if (!*icmp) continue;
    if (!IsIcmpProtocol(rule.protocol)) {
      return c.Fail(PathKey(path, name), fmt::format("{} needs protocol ICMP or ICMPv6", name));
    }
    if (!CheckIcmp(c, PathKey(path, name), **icmp)) return false;
  }
  bool has_ports = rule.protocol && rule.protocol->has_ports();
  for (const auto& [entity_name, entity] :
       {std::pair{"source", &rule.source}, std::pair{"destination", &rule.destination}}) {
    for (const auto& [ports_name, ports] :
         {std::pair{"ports", &entity->ports}, std::pair{"notPorts", &entity->not_ports}}) {
      if (!ports->empty() && !has_ports) {
        return c.Fail(PathKey(PathKey(path, entity_name), ports_name),
                      "rules that specify ports must set protocol to TCP, UDP, SCTP or UDPLite");
      }
    }
  }
  NetFamilies seen;
  return CheckEntity(c, PathKey(path, "source"), rule.source, rule, seen) &&
         CheckEntity(c, PathKey(path, "destination"), rule.destination, rule, seen) &&
         CheckAnnotations(c, PathKey(PathKey(path, "metadata"), "annotations"),
                          rule.metadata_annotations);
}

}  // namespace

bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?, with '_' allowed inside when `underscore`.
bool IsDnsLabel(std::string_view s, bool underscore) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return IsLowerAlnum(c) || c == '-' || (underscore && c == '_');
  });
}

// DNS-1123 labels joined by '.', at most 253 characters.
bool IsDnsSubdomain(std::string_view s, bool underscore) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  while (true) {
    size_t dot = s.find('.');
    if (!IsDnsLabel(s.substr(0, dot), underscore)) return false;
    if (dot == std::string_view::npos) return true;
    s = s.substr(dot + 1);
  }
}

// Kubernetes IANA_SVC_NAME: at most 15 of [a-z0-9-], a letter, no leading, trailing or double '-'.
bool IsPortName(std::string_view s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-') return false;
  if (s.find("--") != std::string_view::npos) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; })) {
    return false;
  }
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Calico's interface regex: [a-zA-Z0-9_.-]{1,15}.
bool IsInterfaceName(std::string_view s) {
  if (s.empty() || s.size() > kMaxInterfaceNameLength) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

std::string Quote(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Canonical text of an address / CIDR that parses; other values stay as written.
void CanonicalizeAddress(std::string& text) {
  if (text.find('/') != std::string::npos) return;
  if (auto address = IpAddress::Parse(text); address.ok()) text = address->ToString();
}
void CanonicalizeCidr(std::string& text, bool strict) {
  if (text.empty()) return;
  if (auto network = IpNetwork::Parse(text, strict); network.ok()) text = network->ToString();
}
void CanonicalizeMac(std::string& text) {
  if (auto mac = CanonicalMac(text)) text = *std::move(mac);
}

void DefaultRules(std::vector<Rule>& rules) {
  for (Rule& rule : rules) DefaultRule(rule);
}

std::optional<std::string> LabelKeyProblem(std::string_view key) {
  std::string_view name = key;
  size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (name.find('/') != std::string_view::npos) {
      return fmt::format("invalid label key {}: at most one '/' (prefix/name)", Quote(key));
    }
    if (!IsDnsSubdomain(prefix)) {
      return fmt::format(
          "invalid label key {}: the prefix before '/' must be a DNS subdomain (lower case "
          "alphanumerics, '-' and '.', at most 253 characters), e.g. example.com/name",
          Quote(key));
    }
  }
  if (!IsLabelName(name)) {
    return fmt::format(
        "invalid label key {}: the name must be 1-63 characters of alphanumerics, '-', '_' or "
        "'.', starting and ending with an alphanumeric",
        Quote(key));
  }
  return std::nullopt;
}

bool CheckLabels(Checker& c, const std::string& path, const Labels& labels) {
  for (const auto& [key, value] : labels) {
    if (auto problem = LabelKeyProblem(key)) return c.Fail(PathKey(path, key), *problem);
    if (auto problem = CheckLabelValue(value)) return c.Fail(PathKey(path, key), *problem);
  }
  return true;
}

bool CheckAnnotations(Checker& c, const std::string& path, const Labels& annotations) {
  size_t total = 0;
  for (const auto& [key, value] : annotations) {
    std::string lower = key;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (auto problem = LabelKeyProblem(lower)) {
      return c.Fail(PathKey(path, key), fmt::format("invalid annotation key {}: {}", Quote(key),
                                                    problem->substr(problem->find(": ") + 2)));
    }
    total += key.size() + value.size();
  }
  if (total > kMaxAnnotationBytes) {
    return c.Fail(path, fmt::format("annotations total {} bytes; the limit is {}", total,
                                    kMaxAnnotationBytes));
  }
  return true;
}

bool CheckSelector(Checker& c, const std::string& path, const std::string& text, SelectorUse use) {
  if (text.empty()) return true;
  if (text.size() > kMaxSelectorLength) {
    return c.Fail(path, fmt::format("selector is {} characters long; the limit is {}", text.size(),
                                    kMaxSelectorLength));
  }
  absl::StatusOr<selector::Selector> parsed = selector::Selector::Parse(text);
  if (!parsed.ok()) return c.Fail(path, std::string(MessageOf(parsed.status())));
  if (!parsed->UsesGlobal()) return true;
  switch (use) {
    case SelectorUse::kEndpoints:
      return c.Fail(path, "global() can only be used in a rule's namespaceSelector");
    case SelectorUse::kPoolNodes:
      return c.Fail(path, "global() is not allowed in an IPPool nodeSelector");
    case SelectorUse::kRuleNamespace: {
      absl::StatusOr<selector::Selector> global = selector::Selector::Parse("global()");
      if (global.ok() && parsed->Canonical() != global->Canonical()) {
        return c.Fail(path, "global() cannot be combined with other selectors");
      }
      return true;
    }
  }
  return true;
}

// A CIDR (or bare address). `strict`: host bits must be zero.
std::optional<IpNetwork> CheckCidr(Checker& c, const std::string& path, const std::string& text,
                                   bool strict) {
  absl::StatusOr<IpNetwork> network = IpNetwork::Parse(text, strict);
  if (!network.ok()) {
    c.Fail(path, fmt::format("invalid CIDR: {}", MessageOf(network.status())));
    return std::nullopt;
  }
  return *network;
}

// An address without prefix, of `family` (or either when nullopt).
bool CheckAddress(Checker& c, const std::string& path, const std::string& text,
                  std::optional<IpAddress::Family> family) {
  absl::StatusOr<IpAddress> address = IpAddress::Parse(text);
  if (!address.ok() || text.find('/') != std::string::npos) {
    return c.Fail(path, fmt::format("invalid IP address {}", Quote(text)));
  }
  if (family && address->family() != *family) {
    return c.Fail(path, fmt::format("{} is not an IPv{} address", Quote(text),
                                    *family == IpAddress::Family::kV4 ? 4 : 6));
  }
  return true;
}

bool CheckAsNumber(Checker& c, const std::string& path, int64_t as_number) {
  if (as_number < 0 || as_number > 4294967295LL) {
    return c.Fail(path, fmt::format("invalid AS number {}: 0-4294967295", as_number));
  }
  return true;
}

bool CheckMac(Checker& c, const std::string& path, const std::string& text) {
  if (!CanonicalMac(text)) {
    return c.Fail(path, fmt::format("invalid MAC address {}: expected six hex pairs like "
                                    "02:42:ac:11:00:02",
                                    Quote(text)));
  }
  return true;
}

bool CheckProtocol(Checker& c, const std::string& path, const Protocol& protocol) {
  if (protocol.number == 0) return c.Fail(path, "invalid protocol 0: use a number 1-255");
  if (!protocol.name.empty() && protocol.name != ProtocolNameOf(protocol.number)) {
    return c.Fail(path, fmt::format("protocol name {} does not match number {}",
                                    Quote(protocol.name), protocol.number));
  }
  return true;
}

bool CheckRules(Checker& c, const std::string& path, const std::vector<Rule>& rules) {
  if (rules.size() > kMaxRules) {
    return c.Fail(path, fmt::format("{} rules; the limit is {}", rules.size(), kMaxRules));
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!CheckRule(c, PathIndex(path, i), rules[i])) return false;
  }
  return true;
}

bool CheckNameLength(Checker& c, const std::string& name, size_t limit) {
  if (name.size() > limit) {
    return c.Fail(kNamePath,
                  fmt::format("name is {} characters long; the limit is {}", name.size(), limit));
  }
  return true;
}

bool CheckObjectName(Checker& c, const std::string& name) {
  if (!CheckNameLength(c, name)) return false;
  if (!IsDnsSubdomain(name)) {
    return c.Fail(kNamePath, fmt::format("invalid name {}: a name is lower case alphanumerics, '-' "
                                         "and '.', starting and ending with an alphanumeric",
                                         Quote(name)));
  }
  return true;
}

// spec.node of an endpoint: the node it lives on.
bool CheckEndpointNode(Checker& c, const std::string& node) {
  if (node.empty()) return c.Fail("spec.node", "required field is missing");
  if (!IsDnsSubdomain(node)) {
    return c.Fail("spec.node", fmt::format("invalid node name {}: lower case alphanumerics, '-' "
                                           "and '.', starting and ending with an alphanumeric",
                                           Quote(node)));
  }
  return true;
}

bool CheckProfileNames(Checker& c, const std::vector<std::string>& profiles) {
  for (size_t i = 0; i < profiles.size(); ++i) {
    if (!IsDnsSubdomain(profiles[i])) {
      return c.Fail(PathIndex("spec.profiles", i),
                    fmt::format("invalid profile name {}: lower case alphanumerics, '-' and '.'",
                                Quote(profiles[i])));
    }
  }
  return true;
}

}  // namespace internal

using internal::Quote;

std::optional<std::string> CheckLabelKey(std::string_view key) {
  return internal::LabelKeyProblem(key);
}

std::optional<std::string> CheckLabelValue(std::string_view value) {
  if (value.empty() || internal::IsLabelName(value)) return std::nullopt;
  return fmt::format(
      "invalid label value {}: at most 63 characters of alphanumerics, '-', '_' "
      "or '.', starting and ending with an alphanumeric",
      Quote(value));
}

}  // namespace tabby::model
