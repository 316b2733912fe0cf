// NetworkPolicy and GlobalNetworkPolicy: Calico's ordered allow / deny / log / pass rules.
// Its defaults, validation and `tabbyctl get` columns are in policy.cc.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

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

}  // namespace tabby::model

namespace tabby::model::internal {

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

}  // namespace tabby::model::internal
