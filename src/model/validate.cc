#include "model/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <set>
#include <tuple>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "base/ip.h"
#include "base/status_macros.h"
#include "model/describe.h"
#include "model/internal.h"
#include "model/kubernetes.h"
#include "model/yaml_json.h"
#include "selector/selector.h"

namespace tabby::model {
namespace {

using internal::PathIndex;
using internal::PathKey;

constexpr size_t kMaxNameLength = 253;       // DNS-1123 subdomain
constexpr size_t kMaxLabelLength = 63;       // DNS-1123 label, label name and value
constexpr size_t kMaxSelectorLength = 1024;  // §2
constexpr size_t kMaxRules = 1024;           // per direction, §1.3
constexpr size_t kMaxPorts = 50;             // ports / notPorts, §1.3
constexpr size_t kMaxNets = 256;             // nets / notNets, §1.3
constexpr size_t kMaxAnnotationBytes = 256 * 1024;
constexpr size_t kMaxInterfaceNameLength = 15;  // IFNAMSIZ - 1
constexpr size_t kMaxLogPrefixLength = 64;
constexpr std::string_view kDefaultTier = "default";
constexpr std::string_view kDefaultLogPrefix = "tabby-packet";
constexpr std::string_view kKubernetesNamespaceNameLabel = "kubernetes.io/metadata.name";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?, with '_' allowed inside when `underscore`.
bool IsDnsLabel(std::string_view s, bool underscore = false) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return IsLowerAlnum(c) || c == '-' || (underscore && c == '_');
  });
}

// DNS-1123 labels joined by '.', at most 253 characters.
bool IsDnsSubdomain(std::string_view s, bool underscore = false) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  while (true) {
    size_t dot = s.find('.');
    if (!IsDnsLabel(s.substr(0, dot), underscore)) return false;
    if (dot == std::string_view::npos) return true;
    s = s.substr(dot + 1);
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters.
bool IsLabelName(std::string_view s) {
  if (s.empty() || s.size() > kMaxLabelLength || !IsAlnum(s.front()) || !IsAlnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
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

// Visible ASCII, no spaces: identifiers that only need to be printable and unambiguous.
bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::string Quote(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

void DefaultRule(Rule& rule) {
  for (EntityRule* entity : {&rule.source, &rule.destination}) {
    for (std::string& net : entity->nets) CanonicalizeCidr(net, /*strict=*/true);
    for (std::string& net : entity->not_nets) CanonicalizeCidr(net, /*strict=*/true);
  }
}

void DefaultRules(std::vector<Rule>& rules) {
  for (Rule& rule : rules) DefaultRule(rule);
}

// ---------------------------------------------------------------------------------------------
// Checks. Each returns false after recording the first error.

class Checker {
 public:
  bool Fail(std::string path, std::string message) {
    if (!error_) error_ = FieldError{std::move(path), std::move(message)};
    return false;
  }
  std::optional<FieldError> TakeError() { return std::move(error_); }

 private:
  std::optional<FieldError> error_;
};

// Every string must be UTF-8 (JSON and YAML output depend on it). Walks the descriptions.
class Utf8Walker {
 public:
  explicit Utf8Walker(Checker& checker) : checker_(checker) {}

  template <typename T>
  void Field(std::string_view key, const T& member) {
    Walk(PathKey(path_, key), member);
  }
  template <typename T, typename Codec>
  void Field(std::string_view key, const T& member, Codec) {
    Walk(PathKey(path_, key), member);
  }
  template <typename T>
  void Required(std::string_view key, const T& member) {
    Walk(PathKey(path_, key), member);
  }
  template <typename F>
  void Object(std::string_view key, F&& describe) {
    std::string saved = std::exchange(path_, PathKey(path_, key));
    describe(*this);
    path_ = std::move(saved);
  }

  template <typename T>
  void Walk(const std::string& path, const T& value) {
    if (failed_) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!internal::IsValidUtf8(value)) failed_ = !checker_.Fail(path, "not valid UTF-8");
    } else if constexpr (std::is_same_v<T, Labels>) {
      for (const auto& [key, item] : value) {
        Walk(path, key);
        Walk(PathKey(path, key), item);
      }
    } else if constexpr (std::is_same_v<T, PortSpec> || std::is_same_v<T, Protocol> ||
                         std::is_same_v<T, PortNumberOrName>) {
      Walk(path, value.name);
    } else if constexpr (requires { value.has_value(); }) {
      if (value.has_value()) Walk(path, *value);
    } else if constexpr (requires { value.begin(); }) {
      for (size_t i = 0; i < value.size(); ++i) Walk(PathIndex(path, i), value[i]);
    } else if constexpr (std::is_class_v<T>) {
      std::string saved = std::exchange(path_, path);
      internal::Describe(*this, value);
      path_ = std::move(saved);
    }
  }

  bool failed() const { return failed_; }

 private:
  Checker& checker_;
  std::string path_;
  bool failed_ = false;
};

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

enum class SelectorUse {
  kEndpoints,      // selects endpoints: global() has no meaning
  kRuleNamespace,  // a rule's namespaceSelector: global() allowed, alone
  kPoolNodes,      // IPPool nodeSelector: global() forbidden
};

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

bool CheckMac(Checker& c, const std::string& path, const std::string& text) {
  if (!CanonicalMac(text)) {
    return c.Fail(path, fmt::format("invalid MAC address {}: expected six hex pairs like "
                                    "02:42:ac:11:00:02",
                                    Quote(text)));
  }
  return true;
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
    std::string text = internal::PortText(port);
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

bool CheckProtocol(Checker& c, const std::string& path, const Protocol& protocol) {
  if (protocol.number == 0) return c.Fail(path, "invalid protocol 0: use a number 1-255");
  if (!protocol.name.empty() && protocol.name != internal::ProtocolNameOf(protocol.number)) {
    return c.Fail(path, fmt::format("protocol name {} does not match number {}",
                                    Quote(protocol.name), protocol.number));
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

bool CheckRules(Checker& c, const std::string& path, const std::vector<Rule>& rules) {
  if (rules.size() > kMaxRules) {
    return c.Fail(path, fmt::format("{} rules; the limit is {}", rules.size(), kMaxRules));
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!CheckRule(c, PathIndex(path, i), rules[i])) return false;
  }
  return true;
}

bool CheckName(Checker& c, const Resource& r) {
  const std::string& name = r.metadata.name;
  const std::string path = "metadata.name";
  if (name.empty()) return c.Fail(path, "required field is missing");
  // The policy converted from a KubernetesNetworkPolicy adds its prefix to a name that may
  // already have the full length.
  size_t limit = kMaxNameLength;
  if (r.kind == Kind::kNetworkPolicy && name.starts_with(kKubernetesPolicyNamePrefix)) {
    limit += kKubernetesPolicyNamePrefix.size();
  }
  if (name.size() > limit) {
    return c.Fail(path,
                  fmt::format("name is {} characters long; the limit is {}", name.size(), limit));
  }
  switch (r.kind) {
    case Kind::kClusterConfiguration:
      if (name != "default") {
        return c.Fail(path, fmt::format("invalid name {}: ClusterConfiguration is a singleton "
                                        "named \"default\"",
                                        Quote(name)));
      }
      return true;
    case Kind::kNetworkPolicy:
    case Kind::kGlobalNetworkPolicy: {
      // Calico: a label, or two labels joined by '.'; NetworkPolicy also "knp.default.<name>".
      std::string_view rest = name;
      if (r.kind == Kind::kNetworkPolicy && rest.starts_with(kKubernetesPolicyNamePrefix) &&
          IsDnsSubdomain(rest.substr(kKubernetesPolicyNamePrefix.size()))) {
        return true;
      }
      size_t dot = rest.find('.');
      bool ok = dot == std::string_view::npos
                    ? IsDnsLabel(rest)
                    : IsDnsLabel(rest.substr(0, dot)) && IsDnsLabel(rest.substr(dot + 1));
      if (!ok) {
        return c.Fail(path, fmt::format("invalid name {}: a policy name is lower case "
                                        "alphanumerics and '-' (at most one '.'), starting and "
                                        "ending with an alphanumeric",
                                        Quote(name)));
      }
      return true;
    }
    case Kind::kNamespace:
      if (name.size() > kMaxLabelLength || !IsDnsLabel(name)) {
        return c.Fail(path, fmt::format("invalid name {}: a Namespace name is 1-63 lower case "
                                        "alphanumerics and '-', starting and ending with an "
                                        "alphanumeric",
                                        Quote(name)));
      }
      return true;
    case Kind::kWorkloadEndpoint:
      if (!IsDnsSubdomain(name, /*underscore=*/true)) {
        return c.Fail(path, fmt::format("invalid name {}: a WorkloadEndpoint name is lower case "
                                        "alphanumerics, '-', '_' and '.', starting and ending "
                                        "with an alphanumeric, e.g. node1-k8s-mypod-eth0",
                                        Quote(name)));
      }
      return true;
    default:
      if (!IsDnsSubdomain(name)) {
        return c.Fail(path, fmt::format("invalid name {}: a name is lower case alphanumerics, '-' "
                                        "and '.', starting and ending with an alphanumeric",
                                        Quote(name)));
      }
      return true;
  }
}

bool CheckMetadata(Checker& c, const Resource& r) {
  if (!CheckName(c, r)) return false;
  const std::string& ns = r.metadata.namespace_name;
  if (IsNamespaced(r.kind)) {
    if (ns.empty()) return c.Fail("metadata.namespace", "required field is missing");
    if (ns.size() > kMaxLabelLength || !IsDnsLabel(ns)) {
      return c.Fail("metadata.namespace",
                    fmt::format("invalid namespace {}: 1-63 lower case alphanumerics and '-', "
                                "starting and ending with an alphanumeric",
                                Quote(ns)));
    }
  } else if (!ns.empty()) {
    return c.Fail("metadata.namespace",
                  fmt::format("{} is cluster-scoped: remove the namespace", KindName(r.kind)));
  }
  const std::string& version = r.metadata.resource_version;
  if (!version.empty() && !std::all_of(version.begin(), version.end(),
                                       [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return c.Fail(
        "metadata.resourceVersion",
        fmt::format("invalid resourceVersion {}: expected a decimal revision", Quote(version)));
  }
  return CheckLabels(c, "metadata.labels", r.metadata.labels) &&
         CheckAnnotations(c, "metadata.annotations", r.metadata.annotations);
}

bool CheckIPPool(Checker& c, const IPPoolSpec& s) {
  if (s.cidr.empty()) return c.Fail("spec.cidr", "required field is missing");
  std::optional<IpNetwork> loose = CheckCidr(c, "spec.cidr", s.cidr, /*strict=*/false);
  if (!loose) return false;
  absl::StatusOr<IpNetwork> strict = IpNetwork::Parse(s.cidr, /*strict=*/true);
  if (!strict.ok()) {
    return c.Fail("spec.cidr", fmt::format("IP pool CIDR must be strictly masked: {}",
                                           MessageOf(strict.status())));
  }
  const IpNetwork& cidr = *strict;
  static constexpr std::string_view kLinkLocalV4 = "169.254.0.0/16";
  static constexpr std::string_view kLinkLocalV6 = "fe80::/10";
  std::string_view link_local = cidr.is_v4() ? kLinkLocalV4 : kLinkLocalV6;
  if (absl::StatusOr<IpNetwork> reserved = IpNetwork::Parse(link_local);
      reserved.ok() && cidr.Overlaps(*reserved)) {
    return c.Fail("spec.cidr", fmt::format("IP pool {} overlaps the IPv{} link-local range {}",
                                           s.cidr, cidr.is_v4() ? 4 : 6, link_local));
  }
  int min_block = cidr.is_v4() ? 20 : 116;
  int max_block = cidr.is_v4() ? 32 : 128;
  if (s.block_size < min_block || s.block_size > max_block) {
    return c.Fail("spec.blockSize",
                  fmt::format("invalid blockSize {}: IPv{} pools need {}-{}", s.block_size,
                              cidr.is_v4() ? 4 : 6, min_block, max_block));
  }
  if (!s.disabled && cidr.prefix_length() > s.block_size) {
    return c.Fail("spec.cidr", fmt::format("IP pool {} is smaller than one block (/{}): use a "
                                           "prefix of at most /{} or a larger blockSize",
                                           s.cidr, s.block_size, s.block_size));
  }
  if (s.ipip_mode == "Always" || s.ipip_mode == "CrossSubnet") {
    return c.Fail("spec.ipipMode",
                  "IPIP is not supported: set ipipMode to Never and use vxlanMode instead");
  }
  if (!s.ipip_mode.empty() && s.ipip_mode != "Never") {
    return c.Fail("spec.ipipMode",
                  fmt::format("invalid ipipMode {}: only Never is supported", Quote(s.ipip_mode)));
  }
  if (!s.vxlan_mode.empty() && s.vxlan_mode != "Never" && s.vxlan_mode != "Always" &&
      s.vxlan_mode != "CrossSubnet") {
    return c.Fail("spec.vxlanMode", fmt::format("invalid vxlanMode {}: use Never, Always or "
                                                "CrossSubnet",
                                                Quote(s.vxlan_mode)));
  }
  if (!CheckSelector(c, "spec.nodeSelector", s.node_selector, SelectorUse::kPoolNodes)) {
    return false;
  }
  bool load_balancer = std::find(s.allowed_uses.begin(), s.allowed_uses.end(), "LoadBalancer") !=
                       s.allowed_uses.end();
  std::set<std::string_view> seen_uses;
  for (size_t i = 0; i < s.allowed_uses.size(); ++i) {
    const std::string& use = s.allowed_uses[i];
    std::string path = PathIndex("spec.allowedUses", i);
    if (use != "Workload" && use != "Tunnel" && use != "LoadBalancer") {
      return c.Fail(
          path, fmt::format("invalid use {}: use Workload, Tunnel or LoadBalancer", Quote(use)));
    }
    if (!seen_uses.insert(use).second) {
      return c.Fail(path, fmt::format("{} is listed more than once", use));
    }
    if (load_balancer && use != "LoadBalancer") {
      return c.Fail(path, fmt::format("LoadBalancer cannot be combined with {}", use));
    }
  }
  if (load_balancer) {
    if (s.vxlan_mode == "Always" || s.vxlan_mode == "CrossSubnet") {
      return c.Fail("spec.vxlanMode", "a LoadBalancer pool cannot use VXLAN");
    }
    if (!s.node_selector.empty() && s.node_selector != "all()") {
      return c.Fail("spec.nodeSelector", "a LoadBalancer pool must have nodeSelector all()");
    }
    if (s.disable_bgp_export) {
      return c.Fail("spec.disableBGPExport", "a LoadBalancer pool cannot disable BGP export");
    }
  }
  if (!s.assignment_mode.empty() && s.assignment_mode != "Automatic" &&
      s.assignment_mode != "Manual") {
    return c.Fail("spec.assignmentMode", fmt::format("invalid assignmentMode {}: use Automatic "
                                                     "or Manual",
                                                     Quote(s.assignment_mode)));
  }
  return true;
}

bool CheckPolicy(Checker& c, Kind kind, const PolicySpec& s) {
  if (s.order && !std::isfinite(*s.order)) {
    return c.Fail("spec.order", "order must be a finite number");
  }
  if (!s.tier.empty() && s.tier != kDefaultTier) {
    return c.Fail("spec.tier", fmt::format("tiers are not supported yet: remove tier {} or set "
                                           "it to \"default\"",
                                           Quote(s.tier)));
  }
  if (!CheckSelector(c, "spec.selector", s.selector, SelectorUse::kEndpoints) ||
      !CheckSelector(c, "spec.serviceAccountSelector", s.service_account_selector,
                     SelectorUse::kEndpoints)) {
    return false;
  }
  if (kind == Kind::kNetworkPolicy) {
    constexpr std::string_view kGlobalOnly = "only a GlobalNetworkPolicy may set {}";
    if (!s.namespace_selector.empty()) {
      return c.Fail("spec.namespaceSelector",
                    fmt::format("only a GlobalNetworkPolicy may set namespaceSelector (a "
                                "NetworkPolicy applies to its own namespace)"));
    }
    if (s.do_not_track) {
      return c.Fail("spec.doNotTrack", fmt::format(fmt::runtime(kGlobalOnly), "doNotTrack"));
    }
    if (s.pre_dnat)
      return c.Fail("spec.preDNAT", fmt::format(fmt::runtime(kGlobalOnly), "preDNAT"));
    if (s.apply_on_forward) {
      return c.Fail("spec.applyOnForward",
                    fmt::format(fmt::runtime(kGlobalOnly), "applyOnForward"));
    }
  } else {
    if (!CheckSelector(c, "spec.namespaceSelector", s.namespace_selector,
                       SelectorUse::kEndpoints)) {
      return false;
    }
    if (s.do_not_track && s.pre_dnat) {
      return c.Fail("spec.preDNAT", "preDNAT and doNotTrack cannot both be true");
    }
    if (s.pre_dnat && !s.egress.empty()) {
      return c.Fail("spec.egress", "a preDNAT policy cannot have egress rules");
    }
    if (s.pre_dnat &&
        std::find(s.types.begin(), s.types.end(), PolicyType::kEgress) != s.types.end()) {
      return c.Fail("spec.types", "a preDNAT policy cannot have type Egress");
    }
    if ((s.do_not_track || s.pre_dnat) && !s.apply_on_forward) {
      return c.Fail(s.pre_dnat ? "spec.preDNAT" : "spec.doNotTrack",
                    "applyOnForward must be true when preDNAT or doNotTrack is true");
    }
  }
  if (s.types.empty()) return c.Fail("spec.types", "required field is missing");
  for (size_t i = 0; i < s.types.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (s.types[i] == s.types[j]) {
        return c.Fail(PathIndex("spec.types", i),
                      fmt::format("type {} is listed more than once", PolicyTypeName(s.types[i])));
      }
    }
  }
  return CheckRules(c, "spec.ingress", s.ingress) && CheckRules(c, "spec.egress", s.egress);
}

bool CheckProfile(Checker& c, const ProfileSpec& s) {
  return CheckRules(c, "spec.ingress", s.ingress) && CheckRules(c, "spec.egress", s.egress) &&
         CheckLabels(c, "spec.labelsToApply", s.labels_to_apply);
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

bool CheckWorkloadEndpoint(Checker& c, const WorkloadEndpointSpec& s) {
  if (!CheckEndpointNode(c, s.node)) return false;
  for (const auto& [field, value] :
       {std::pair{"orchestrator", &s.orchestrator}, std::pair{"workload", &s.workload},
        std::pair{"pod", &s.pod}}) {
    if (!value->empty() && !IsToken(*value)) {
      return c.Fail(
          PathKey("spec", field),
          fmt::format("invalid {} {}: 1-253 visible characters, no spaces", field, Quote(*value)));
    }
  }
  if (!s.container_id.empty()) {
    const std::string& id = s.container_id;
    // The CNI specification's container id rule; the length is the CNI plugin's limit.
    bool ok =
        id.size() <= 256 && IsAlnum(id.front()) && std::all_of(id.begin(), id.end(), [](char ch) {
          return IsAlnum(ch) || ch == '-' || ch == '_' || ch == '.';
        });
    if (!ok) {
      return c.Fail("spec.containerID",
                    fmt::format("invalid containerID {}: 1-256 alphanumerics, '_', '.' and '-', "
                                "starting with an alphanumeric",
                                Quote(id)));
    }
  }
  if (!s.endpoint.empty() && !IsInterfaceName(s.endpoint)) {
    return c.Fail("spec.endpoint", fmt::format("invalid endpoint {}: an interface name of 1-15 "
                                               "characters of alphanumerics, '_', '.' and '-'",
                                               Quote(s.endpoint)));
  }
  if (!s.service_account_name.empty() && !IsDnsSubdomain(s.service_account_name)) {
    return c.Fail("spec.serviceAccountName",
                  fmt::format("invalid serviceAccountName {}: lower case alphanumerics, '-' and "
                              "'.'",
                              Quote(s.service_account_name)));
  }
  for (size_t i = 0; i < s.ip_networks.size(); ++i) {
    std::string path = PathIndex("spec.ipNetworks", i);
    std::optional<IpNetwork> network = CheckCidr(c, path, s.ip_networks[i], /*strict=*/false);
    if (!network) return false;
    if (!network->is_host()) {
      return c.Fail(path, fmt::format("{} contains several addresses: a workload network must be "
                                      "a /32 (IPv4) or /128 (IPv6)",
                                      s.ip_networks[i]));
    }
  }
  if (!s.ipv4_gateway.empty() &&
      !CheckAddress(c, "spec.ipv4Gateway", s.ipv4_gateway, IpAddress::Family::kV4)) {
    return false;
  }
  if (!s.ipv6_gateway.empty() &&
      !CheckAddress(c, "spec.ipv6Gateway", s.ipv6_gateway, IpAddress::Family::kV6)) {
    return false;
  }
  if (!CheckProfileNames(c, s.profiles)) return false;
  if (!s.interface_name.empty() && !IsInterfaceName(s.interface_name)) {
    return c.Fail("spec.interfaceName",
                  fmt::format("invalid interfaceName {}: 1-15 characters of alphanumerics, '_', "
                              "'.' and '-'",
                              Quote(s.interface_name)));
  }
  if (!s.interface_name.empty() && (!s.interface_name.starts_with(kWorkloadInterfacePrefix) ||
                                    s.interface_name == kWorkloadInterfacePrefix)) {
    // Anything else could be the host's own interface (its uplink, say): the agent would route
    // the endpoint's addresses out of it and police everything arriving on it as that endpoint.
    return c.Fail("spec.interfaceName",
                  fmt::format("invalid interfaceName {}: a workload's host interface is named "
                              "{}<suffix>, the prefix the firewall polices; the host's own "
                              "interfaces cannot be workload endpoints",
                              Quote(s.interface_name), kWorkloadInterfacePrefix));
  }
  if (!s.mac.empty() && !CheckMac(c, "spec.mac", s.mac)) return false;
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const EndpointPort& port = s.ports[i];
    std::string path = PathIndex("spec.ports", i);
    if (port.name.empty() && port.host_port == 0) {
      return c.Fail(PathKey(path, "name"),
                    "required field is missing (a port without hostPort "
                    "needs a name)");
    }
    if (!port.name.empty() && !IsPortName(port.name)) {
      return c.Fail(PathKey(path, "name"),
                    fmt::format("invalid port name {}: 1-15 lower case letters, digits and '-', "
                                "with at least one letter, and no leading, trailing or double '-'",
                                Quote(port.name)));
    }
    if (!CheckProtocol(c, PathKey(path, "protocol"), port.protocol)) return false;
    if (!port.protocol.has_ports()) {
      return c.Fail(PathKey(path, "protocol"),
                    fmt::format("protocol {} has no ports: use TCP, UDP, SCTP or UDPLite",
                                internal::ProtocolText(port.protocol)));
    }
    if (port.port == 0) return c.Fail(PathKey(path, "port"), "required field is missing (1-65535)");
    if (!port.host_ip.empty() && !CheckAddress(c, PathKey(path, "hostIP"), port.host_ip, {})) {
      return false;
    }
  }
  for (size_t i = 0; i < s.allow_spoofed_source_prefixes.size(); ++i) {
    if (!CheckCidr(c, PathIndex("spec.allowSpoofedSourcePrefixes", i),
                   s.allow_spoofed_source_prefixes[i], /*strict=*/false)) {
      return false;
    }
  }
  return true;
}

bool CheckNode(Checker& c, const NodeSpec& s) {
  if (s.bgp) {
    const NodeBgpSpec& bgp = *s.bgp;
    if (bgp == NodeBgpSpec{}) return c.Fail("spec.bgp", "must not be empty (remove it instead)");
    if (bgp.as_number < 0 || bgp.as_number > 4294967295LL) {
      return c.Fail("spec.bgp.asNumber",
                    fmt::format("invalid AS number {}: 0-4294967295", bgp.as_number));
    }
    for (const auto& [field, value, family] :
         {std::tuple{"ipv4Address", &bgp.ipv4_address, IpAddress::Family::kV4},
          std::tuple{"ipv6Address", &bgp.ipv6_address, IpAddress::Family::kV6}}) {
      if (value->empty()) continue;
      std::string path = PathKey("spec.bgp", field);
      std::optional<IpNetwork> network = CheckCidr(c, path, *value, /*strict=*/false);
      if (!network) return false;
      if (network->family() != family) {
        return c.Fail(path, fmt::format("{} is not an IPv{} address", *value,
                                        family == IpAddress::Family::kV4 ? 4 : 6));
      }
    }
    if (!bgp.route_reflector_cluster_id.empty() &&
        !CheckAddress(c, "spec.bgp.routeReflectorClusterID", bgp.route_reflector_cluster_id,
                      IpAddress::Family::kV4)) {
      return false;
    }
  }
  if (!s.ipv4_vxlan_tunnel_addr.empty() &&
      !CheckAddress(c, "spec.ipv4VXLANTunnelAddr", s.ipv4_vxlan_tunnel_addr,
                    IpAddress::Family::kV4)) {
    return false;
  }
  if (!s.vxlan_tunnel_mac_addr.empty() &&
      !CheckMac(c, "spec.vxlanTunnelMACAddr", s.vxlan_tunnel_mac_addr)) {
    return false;
  }
  return true;
}

bool CheckHostEndpoint(Checker& c, const HostEndpointSpec& s) {
  if (!CheckEndpointNode(c, s.node)) return false;
  if (s.interface_name.empty() && s.expected_ips.empty()) {
    return c.Fail("spec.interfaceName",
                  "required field is missing: a host endpoint names its interface "
                  "(interfaceName, or \"*\" for all of them) or its addresses (expectedIPs)");
  }
  if (!s.interface_name.empty() && s.interface_name != "*") {
    if (!IsInterfaceName(s.interface_name)) {
      return c.Fail("spec.interfaceName",
                    fmt::format("invalid interfaceName {}: 1-15 characters of alphanumerics, "
                                "'_', '.' and '-', or \"*\" for every interface",
                                Quote(s.interface_name)));
    }
    if (s.interface_name.starts_with(kWorkloadInterfacePrefix)) {
      return c.Fail("spec.interfaceName",
                    fmt::format("invalid interfaceName {}: interfaces named {}<suffix> are "
                                "workloads'; their policy is the workload endpoint's",
                                Quote(s.interface_name), kWorkloadInterfacePrefix));
    }
  }
  for (size_t i = 0; i < s.expected_ips.size(); ++i) {
    if (!CheckAddress(c, PathIndex("spec.expectedIPs", i), s.expected_ips[i], std::nullopt)) {
      return false;
    }
  }
  return CheckProfileNames(c, s.profiles);
}

bool CheckFailsafePorts(Checker& c, const std::string& path,
                        const std::optional<std::vector<ProtoPort>>& ports) {
  if (!ports) return true;
  for (size_t i = 0; i < ports->size(); ++i) {
    const ProtoPort& p = (*ports)[i];
    const std::string at = PathIndex(path, i);
    const uint8_t protocol = p.protocol.number;
    if (protocol != Protocol::kTcp && protocol != Protocol::kUdp && protocol != Protocol::kSctp) {
      return c.Fail(PathKey(at, "protocol"), "a failsafe port is TCP, UDP or SCTP");
    }
    if (p.port == 0) return c.Fail(PathKey(at, "port"), "invalid port 0: use 1-65535");
  }
  return true;
}

bool CheckClusterConfiguration(Checker& c, const ClusterConfigurationSpec& s) {
  const std::string& action = s.default_endpoint_to_host_action;
  if (!action.empty() && action != "Drop" && action != "Accept" && action != "Return") {
    return c.Fail("spec.defaultEndpointToHostAction",
                  fmt::format("invalid defaultEndpointToHostAction {}: use Drop, Accept or Return",
                              Quote(action)));
  }
  if (!CheckFailsafePorts(c, "spec.failsafeInboundHostPorts", s.failsafe_inbound_host_ports) ||
      !CheckFailsafePorts(c, "spec.failsafeOutboundHostPorts", s.failsafe_outbound_host_ports)) {
    return false;
  }
  if (!s.default_endpoint_policy.empty() && s.default_endpoint_policy != "Allow" &&
      s.default_endpoint_policy != "Deny") {
    return c.Fail("spec.defaultEndpointPolicy",
                  fmt::format("invalid defaultEndpointPolicy {}: use Allow or Deny",
                              Quote(s.default_endpoint_policy)));
  }
  const std::string& prefix = s.log_prefix;
  bool ok = prefix.size() <= kMaxLogPrefixLength &&
            std::all_of(prefix.begin(), prefix.end(), [](char ch) {
              return IsAlnum(ch) || ch == '%' || ch == ':' || ch == ' ' || ch == '/' || ch == '_' ||
                     ch == '-';
            });
  if (!ok) {
    return c.Fail("spec.logPrefix",
                  fmt::format("invalid logPrefix {}: at most {} characters of alphanumerics, "
                              "' ', '%', ':', '/', '_' and '-'",
                              Quote(prefix), kMaxLogPrefixLength));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes kinds: the API server's rules (apimachinery / networking validation), with its
// field paths.

bool CheckNamespace(Checker& c, const NamespaceSpec& s) {
  for (size_t i = 0; i < s.finalizers.size(); ++i) {
    const std::string& finalizer = s.finalizers[i];
    if (auto problem = LabelKeyProblem(finalizer)) {
      return c.Fail(PathIndex("spec.finalizers", i),
                    fmt::format("invalid finalizer {}: {}", Quote(finalizer),
                                problem->substr(problem->find(": ") + 2)));
    }
  }
  return true;
}

bool CheckLabelSelector(Checker& c, const std::string& path, const LabelSelector& s) {
  if (!CheckLabels(c, PathKey(path, "matchLabels"), s.match_labels)) return false;
  const std::string expressions = PathKey(path, "matchExpressions");
  for (size_t i = 0; i < s.match_expressions.size(); ++i) {
    const LabelSelectorRequirement& requirement = s.match_expressions[i];
    const std::string item = PathIndex(expressions, i);
    if (requirement.key.empty()) return c.Fail(PathKey(item, "key"), "required field is missing");
    if (auto problem = LabelKeyProblem(requirement.key)) {
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

bool SpecMatchesKind(const Resource& r) {
  switch (r.kind) {
    case Kind::kIPPool:
      return std::holds_alternative<IPPoolSpec>(r.spec);
    case Kind::kNetworkPolicy:
    case Kind::kGlobalNetworkPolicy:
      return std::holds_alternative<PolicySpec>(r.spec);
    case Kind::kProfile:
      return std::holds_alternative<ProfileSpec>(r.spec);
    case Kind::kWorkloadEndpoint:
      return std::holds_alternative<WorkloadEndpointSpec>(r.spec);
    case Kind::kNode:
      return std::holds_alternative<NodeSpec>(r.spec);
    case Kind::kClusterConfiguration:
      return std::holds_alternative<ClusterConfigurationSpec>(r.spec);
    case Kind::kNamespace:
      return std::holds_alternative<NamespaceSpec>(r.spec);
    case Kind::kKubernetesNetworkPolicy:
      return std::holds_alternative<KubernetesNetworkPolicySpec>(r.spec);
    case Kind::kHostEndpoint:
      return std::holds_alternative<HostEndpointSpec>(r.spec);
  }
  return false;
}

}  // namespace

std::string FieldError::ToString() const {
  if (path.empty()) return message;
  return fmt::format("field {}: {}", path, message);
}

std::optional<std::string> CheckLabelKey(std::string_view key) { return LabelKeyProblem(key); }

std::optional<std::string> CheckLabelValue(std::string_view value) {
  if (value.empty() || IsLabelName(value)) return std::nullopt;
  return fmt::format(
      "invalid label value {}: at most 63 characters of alphanumerics, '-', '_' "
      "or '.', starting and ending with an alphanumeric",
      Quote(value));
}

void ApplyDefaults(Resource& r) {
  if (!SpecMatchesKind(r)) return;
  if (IsNamespaced(r.kind) && r.metadata.namespace_name.empty()) {
    r.metadata.namespace_name = "default";
  }
  switch (r.kind) {
    case Kind::kIPPool: {
      IPPoolSpec& s = r.ip_pool();
      CanonicalizeCidr(s.cidr, /*strict=*/true);
      if (s.block_size == 0) {
        if (auto cidr = IpNetwork::Parse(s.cidr); cidr.ok())
          s.block_size = cidr->is_v4() ? 26 : 122;
      }
      if (s.ipip_mode.empty()) s.ipip_mode = "Never";
      if (s.vxlan_mode.empty()) s.vxlan_mode = "Never";
      if (s.node_selector.empty()) s.node_selector = "all()";
      if (s.allowed_uses.empty()) s.allowed_uses = {"Workload", "Tunnel"};
      if (s.assignment_mode.empty()) s.assignment_mode = "Automatic";
      break;
    }
    case Kind::kNetworkPolicy:
    case Kind::kGlobalNetworkPolicy: {
      PolicySpec& s = r.policy();
      if (s.tier.empty()) s.tier = std::string(kDefaultTier);
      if (s.types.empty()) {
        // Calico: [Ingress] unless there are egress rules; [Egress] when only egress rules.
        if (!s.ingress.empty() || s.egress.empty()) s.types.push_back(PolicyType::kIngress);
        if (!s.egress.empty()) s.types.push_back(PolicyType::kEgress);
      }
      DefaultRules(s.ingress);
      DefaultRules(s.egress);
      break;
    }
    case Kind::kProfile:
      DefaultRules(r.profile().ingress);
      DefaultRules(r.profile().egress);
      break;
    case Kind::kWorkloadEndpoint: {
      WorkloadEndpointSpec& s = r.workload_endpoint();
      for (std::string& network : s.ip_networks) CanonicalizeCidr(network, /*strict=*/false);
      for (std::string& prefix : s.allow_spoofed_source_prefixes) {
        CanonicalizeCidr(prefix, /*strict=*/false);
      }
      CanonicalizeAddress(s.ipv4_gateway);
      CanonicalizeAddress(s.ipv6_gateway);
      CanonicalizeMac(s.mac);
      for (EndpointPort& port : s.ports) {
        if (port.protocol.number == 0 && port.protocol.name.empty()) {
          port.protocol = Protocol{Protocol::kTcp, "TCP"};
        }
        CanonicalizeAddress(port.host_ip);
      }
      break;
    }
    case Kind::kNode: {
      NodeSpec& s = r.node();
      if (s.bgp) {
        CanonicalizeCidr(s.bgp->ipv4_address, /*strict=*/false);
        CanonicalizeCidr(s.bgp->ipv6_address, /*strict=*/false);
        CanonicalizeAddress(s.bgp->route_reflector_cluster_id);
      }
      CanonicalizeAddress(s.ipv4_vxlan_tunnel_addr);
      CanonicalizeMac(s.vxlan_tunnel_mac_addr);
      break;
    }
    case Kind::kClusterConfiguration: {
      ClusterConfigurationSpec& s = r.cluster_configuration();
      if (s.default_endpoint_policy.empty()) s.default_endpoint_policy = "Allow";
      for (std::string_view canonical : {"Allow", "Deny"}) {
        if (internal::EqualsIgnoreCase(s.default_endpoint_policy, canonical)) {
          s.default_endpoint_policy = std::string(canonical);
        }
      }
      if (s.log_prefix.empty()) s.log_prefix = std::string(kDefaultLogPrefix);
      std::string& action = s.default_endpoint_to_host_action;
      if (action.empty()) action = "Drop";
      for (std::string_view canonical : {"Drop", "Accept", "Return"}) {
        if (internal::EqualsIgnoreCase(action, canonical)) action = std::string(canonical);
      }
      if (!s.failsafe_inbound_host_ports) {
        s.failsafe_inbound_host_ports = DefaultFailsafeInboundHostPorts();
      }
      if (!s.failsafe_outbound_host_ports) {
        s.failsafe_outbound_host_ports = DefaultFailsafeOutboundHostPorts();
      }
      for (auto* ports : {&*s.failsafe_inbound_host_ports, &*s.failsafe_outbound_host_ports}) {
        for (ProtoPort& port : *ports) {
          if (port.protocol.number == 0 && port.protocol.name.empty()) {
            port.protocol = Protocol{Protocol::kTcp, "TCP"};
          }
        }
      }
      break;
    }
    case Kind::kHostEndpoint:
      for (std::string& address : r.host_endpoint().expected_ips) CanonicalizeAddress(address);
      break;
    case Kind::kNamespace:
      // As the API server does (SetDefaults_Namespace): the label always names the namespace.
      if (!r.metadata.name.empty()) {
        r.metadata.labels[std::string(kKubernetesNamespaceNameLabel)] = r.metadata.name;
      }
      break;
    case Kind::kKubernetesNetworkPolicy: {
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
      break;
    }
  }
}

std::optional<FieldError> CheckResource(const Resource& r) {
  Checker c;
  if (!SpecMatchesKind(r)) {
    c.Fail("spec", fmt::format("spec does not belong to kind {}", KindName(r.kind)));
    return c.TakeError();
  }
  if (!AcceptsApiVersion(r.kind, r.api_version)) {
    if (IsKubernetesKind(r.kind)) {
      c.Fail("apiVersion",
             fmt::format("unsupported apiVersion {} for kind {}: use {}", Quote(r.api_version),
                         WireKindName(r.kind), ApiVersionOf(r.kind)));
    } else {
      c.Fail("apiVersion", fmt::format("unsupported apiVersion {}: use {} or {}",
                                       Quote(r.api_version), kTabbyApiVersion, kCalicoApiVersion));
    }
    return c.TakeError();
  }
  Utf8Walker walker(c);
  walker.Walk("metadata", r.metadata);
  std::visit([&](const auto& spec) { walker.Walk("spec", spec); }, r.spec);
  if (walker.failed() || !CheckMetadata(c, r)) return c.TakeError();
  switch (r.kind) {
    case Kind::kIPPool:
      CheckIPPool(c, r.ip_pool());
      break;
    case Kind::kNetworkPolicy:
    case Kind::kGlobalNetworkPolicy:
      CheckPolicy(c, r.kind, r.policy());
      break;
    case Kind::kProfile:
      CheckProfile(c, r.profile());
      break;
    case Kind::kWorkloadEndpoint:
      CheckWorkloadEndpoint(c, r.workload_endpoint());
      break;
    case Kind::kNode:
      CheckNode(c, r.node());
      break;
    case Kind::kClusterConfiguration:
      CheckClusterConfiguration(c, r.cluster_configuration());
      break;
    case Kind::kNamespace:
      CheckNamespace(c, r.namespace_spec());
      break;
    case Kind::kKubernetesNetworkPolicy:
      CheckKubernetesNetworkPolicy(c, r);
      break;
    case Kind::kHostEndpoint:
      CheckHostEndpoint(c, r.host_endpoint());
      break;
  }
  return c.TakeError();
}

absl::Status Validate(const Resource& resource) {
  if (std::optional<FieldError> error = CheckResource(resource)) {
    return absl::InvalidArgumentError(error->ToString());
  }
  return absl::OkStatus();
}

std::string WorkloadEndpointName(std::string_view node, std::string_view orchestrator,
                                 std::string_view workload, std::string_view endpoint) {
  std::string name;
  for (std::string_view part : {node, orchestrator, workload, endpoint}) {
    if (!name.empty()) name.push_back('-');
    for (char ch : part) {
      name.push_back(ch);
      if (ch == '-') name.push_back('-');
    }
  }
  return name;
}

absl::StatusOr<std::string> ResolveNodeName(std::string_view explicit_name, std::string_view source,
                                            std::string_view hostname) {
  constexpr std::string_view kRule =
      "a node name is lower case alphanumerics, '-' and '.', starting and ending with an "
      "alphanumeric, at most 253 characters";
  if (!explicit_name.empty()) {
    if (!IsDnsSubdomain(explicit_name)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid node name {} from {}: {}", Quote(explicit_name), source, kRule));
    }
    return std::string(explicit_name);
  }
  std::string name(absl::StripAsciiWhitespace(absl::string_view(hostname.data(), hostname.size())));
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!IsDnsSubdomain(name)) {
    return absl::InvalidArgumentError(
        fmt::format("cannot derive a node name from the host name {}: {}; give one with --node or "
                    "$TABBY_NODE",
                    Quote(hostname), kRule));
  }
  return name;
}

}  // namespace tabby::model
