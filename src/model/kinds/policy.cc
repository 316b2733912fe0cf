#include "model/kinds/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "model/check.h"
#include "model/kind_registry.h"
#include "model/kubernetes.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::Checker;
using internal::IsDnsLabel;
using internal::IsDnsSubdomain;
using internal::kNamePath;
using internal::PathIndex;
using internal::Quote;
using internal::SelectorUse;

constexpr std::string_view kDefaultTier = "default";

// Calico: a label, or two labels joined by '.'.
bool CheckPolicyNameSyntax(Checker& c, std::string_view name) {
  size_t dot = name.find('.');
  bool ok = dot == std::string_view::npos
                ? IsDnsLabel(name)
                : IsDnsLabel(name.substr(0, dot)) && IsDnsLabel(name.substr(dot + 1));
  if (!ok) {
    return c.Fail(kNamePath, fmt::format("invalid name {}: a policy name is lower case "
                                         "alphanumerics and '-' (at most one '.'), starting and "
                                         "ending with an alphanumeric",
                                         Quote(name)));
  }
  return true;
}

bool CheckGlobalNetworkPolicyName(Checker& c, const std::string& name) {
  return internal::CheckNameLength(c, name) && CheckPolicyNameSyntax(c, name);
}

// Also "knp.default.<name>": what a KubernetesNetworkPolicy converts to. The prefix may come on
// top of a name that already has the full length.
bool CheckNetworkPolicyName(Checker& c, const std::string& name) {
  bool converted = name.starts_with(kKubernetesPolicyNamePrefix);
  size_t limit = internal::kMaxNameLength;
  if (converted) limit += kKubernetesPolicyNamePrefix.size();
  if (!internal::CheckNameLength(c, name, limit)) return false;
  if (converted &&
      IsDnsSubdomain(std::string_view(name).substr(kKubernetesPolicyNamePrefix.size()))) {
    return true;
  }
  return CheckPolicyNameSyntax(c, name);
}

void DefaultPolicy(Resource& r) {
  PolicySpec& s = r.policy();
  if (s.tier.empty()) s.tier = std::string(kDefaultTier);
  if (s.types.empty()) {
    // Calico: [Ingress] unless there are egress rules; [Egress] when only egress rules.
    if (!s.ingress.empty() || s.egress.empty()) s.types.push_back(PolicyType::kIngress);
    if (!s.egress.empty()) s.types.push_back(PolicyType::kEgress);
  }
  internal::DefaultRules(s.ingress);
  internal::DefaultRules(s.egress);
}

bool CheckPolicy(Checker& c, const Resource& r) {
  const PolicySpec& s = r.policy();
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
  if (r.kind == Kind::kNetworkPolicy) {
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

std::string OrderText(const std::optional<double>& order) {
  if (!order) return kNoneCell;
  if (std::trunc(*order) == *order && std::abs(*order) < 1e15) {
    return fmt::format("{}", static_cast<long long>(*order));
  }
  return fmt::format("{}", *order);
}

constexpr auto kPolicyColumns = std::to_array<Column>({
    {"TIER", Column::kAlways, [](const Resource& r) { return Cell(r.policy().tier); }},
    {"ORDER", Column::kWideOnly, [](const Resource& r) { return OrderText(r.policy().order); }},
    {"SELECTOR", Column::kWideOnly,
     [](const Resource& r) { return SelectorText(r.policy().selector); }},
    {"TYPES", Column::kWideOnly,
     [](const Resource& r) { return PolicyTypesText(r.policy().types); }},
});

}  // namespace

extern constexpr KindInfo kNetworkPolicyKind{
    .kind = Kind::kNetworkPolicy,
    .name = "NetworkPolicy",
    .aliases = {"networkpolicies", "policy", "policies", "np", "pol"},
    .wire_name = "NetworkPolicy",
    .namespaced = true,
    .empty_spec = EmptySpec<PolicySpec>,
    .check_name = CheckNetworkPolicyName,
    .apply_defaults = DefaultPolicy,
    .check = CheckPolicy,
    .columns = kPolicyColumns,
};

extern constexpr KindInfo kGlobalNetworkPolicyKind{
    .kind = Kind::kGlobalNetworkPolicy,
    .name = "GlobalNetworkPolicy",
    .aliases = {"globalnetworkpolicies", "gnp", "gnps"},
    .wire_name = "GlobalNetworkPolicy",
    .empty_spec = EmptySpec<PolicySpec>,
    .check_name = CheckGlobalNetworkPolicyName,
    .apply_defaults = DefaultPolicy,
    .check = CheckPolicy,
    .columns = kPolicyColumns,
};

}  // namespace tabby::model
