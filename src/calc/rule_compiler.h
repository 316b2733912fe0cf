// Turns a policy's or profile's model rules into CompiledRules: selectors become ids of IP sets,
// named ports become ids of port sets, protocols and ports become numbers. Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "calc/desired_state.h"
#include "calc/endpoint_selector.h"
#include "model/resources.h"

namespace tabby::calc {

// The endpoints a set holds: those `selector` picks; for a port set, restricted to the
// endpoint ports named `port_name`.
struct SetSpec {
  EndpointSelector selector;
  std::string port_name;  // empty for an IP set
};

// Where the rules come from, which decides how their selectors are scoped.
struct RuleScope {
  // Namespace of a NetworkPolicy; empty for GlobalNetworkPolicy and Profile rules.
  std::string namespace_name;
  // For ingress rules of a namespaced policy: the endpoints the policy applies to, the only
  // possible destinations. A destination named port without a selector resolves against these
  // rather than against every endpoint in the cluster, which keeps its port set small. Unset:
  // every endpoint.
  std::optional<EndpointSelector> ingress_destinations;
};

struct CompiledRules {
  PolicyProgram program;
  std::map<std::string, SetSpec> ip_sets;    // every IP set the rules reference
  std::map<std::string, SetSpec> port_sets;  // every port set the rules reference
};

// Rules that cannot be compiled (which validation prevents) compile to one Deny rule: a broken
// policy fails closed instead of open.
CompiledRules CompileRules(const std::vector<model::Rule>& rules, const RuleScope& scope,
                           std::string display_name);

}  // namespace tabby::calc
