// Internal to tabby_model: the validation and defaulting helpers that the kinds (kinds/*.cc) and
// validate.cc share: the first-error Checker, name and label syntax, selectors, addresses, ports,
// Calico rules, and the canonical forms ApplyDefaults writes. Messages follow Calico's and
// Kubernetes' rules (shared/reference/calico.md §1, §2); every check returns false after
// recording the first problem.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "model/types.h"
#include "model/validate.h"

namespace tabby::model::internal {

inline constexpr size_t kMaxNameLength = 253;       // DNS-1123 subdomain
inline constexpr size_t kMaxLabelLength = 63;       // DNS-1123 label, label name and value
inline constexpr size_t kMaxSelectorLength = 1024;  // §2
inline constexpr size_t kMaxRules = 1024;           // per direction, §1.3
inline constexpr size_t kMaxNets = 256;             // nets / notNets, §1.3
inline constexpr char kNamePath[] = "metadata.name";

// Keeps the first problem found; checks go on returning false after it.
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

// ---------------------------------------------------------------------------------------------
// Syntax.

bool IsAlnum(char c);  // ASCII letters and digits
// [a-z0-9]([-a-z0-9]*[a-z0-9])?, with '_' allowed inside when `underscore`.
bool IsDnsLabel(std::string_view s, bool underscore = false);
// DNS-1123 labels joined by '.', at most 253 characters.
bool IsDnsSubdomain(std::string_view s, bool underscore = false);
// Kubernetes IANA_SVC_NAME: at most 15 of [a-z0-9-], a letter, no leading, trailing or double '-'.
bool IsPortName(std::string_view s);
// Calico's interface regex: [a-zA-Z0-9_.-]{1,15}.
bool IsInterfaceName(std::string_view s);
// `s` as a JSON string, for messages: "name".
std::string Quote(std::string_view s);
// Why `key` is not a label key ("invalid label key ...: ..."), or nullopt.
std::optional<std::string> LabelKeyProblem(std::string_view key);

// ---------------------------------------------------------------------------------------------
// Defaulting: the canonical text of a value that parses; other values stay as written.

void CanonicalizeAddress(std::string& text);            // an address without prefix
void CanonicalizeCidr(std::string& text, bool strict);  // `strict`: host bits must be zero
void CanonicalizeMac(std::string& text);                // "02:42:ac:11:00:02"
// The canonical nets and notNets of every rule.
void DefaultRules(std::vector<Rule>& rules);

// ---------------------------------------------------------------------------------------------
// Checks.

// metadata.name is at most `limit` characters.
bool CheckNameLength(Checker& c, const std::string& name, size_t limit = kMaxNameLength);
// What most kinds' names are: a DNS-1123 subdomain.
bool CheckObjectName(Checker& c, const std::string& name);

bool CheckLabels(Checker& c, const std::string& path, const Labels& labels);
bool CheckAnnotations(Checker& c, const std::string& path, const Labels& annotations);

enum class SelectorUse {
  kEndpoints,      // selects endpoints: global() has no meaning
  kRuleNamespace,  // a rule's namespaceSelector: global() allowed, alone
  kPoolNodes,      // IPPool nodeSelector: global() forbidden
};
bool CheckSelector(Checker& c, const std::string& path, const std::string& text, SelectorUse use);

// A CIDR (or bare address). `strict`: host bits must be zero.
std::optional<IpNetwork> CheckCidr(Checker& c, const std::string& path, const std::string& text,
                                   bool strict);
// An address without prefix, of `family` (or either when nullopt).
bool CheckAddress(Checker& c, const std::string& path, const std::string& text,
                  std::optional<IpAddress::Family> family);
// An AS number: 0 (not set) or 1-4294967295 (the codec already refuses what is outside).
bool CheckAsNumber(Checker& c, const std::string& path, int64_t as_number);
bool CheckMac(Checker& c, const std::string& path, const std::string& text);
bool CheckProtocol(Checker& c, const std::string& path, const Protocol& protocol);

// Calico rules (policies and profiles): at most kMaxRules, each fully checked.
bool CheckRules(Checker& c, const std::string& path, const std::vector<Rule>& rules);

// spec.node of an endpoint: the node it lives on.
bool CheckEndpointNode(Checker& c, const std::string& node);
// spec.profiles of an endpoint.
bool CheckProfileNames(Checker& c, const std::vector<std::string>& profiles);

}  // namespace tabby::model::internal
