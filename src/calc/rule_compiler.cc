#include "calc/rule_compiler.h"

#include <fmt/format.h>

#include "base/hash.h"
#include "base/status_macros.h"

namespace tabby::calc {
namespace {

absl::StatusOr<std::optional<selector::Selector>> ParseOptional(const std::string& text) {
  if (text.empty()) return std::optional<selector::Selector>();
  ASSIGN_OR_RETURN(auto parsed, selector::Selector::Parse(text));
  return std::optional<selector::Selector>(std::move(parsed));
}

// Builds the EndpointSelector for `selector_text` under the entity's namespace scoping.
absl::StatusOr<EndpointSelector> ScopeSelector(const std::string& selector_text,
                                               const std::optional<selector::Selector>& ns_sel,
                                               const RuleScope& scope) {
  ASSIGN_OR_RETURN(auto sel, selector::Selector::Parse(selector_text));
  if (ns_sel) {
    // global() picks non-namespaced endpoints (host endpoints, network sets), which are never
    // workloads: such a scope selects no workload.
    if (ns_sel->Canonical() == "global()") {
      ASSIGN_OR_RETURN(auto none, selector::Selector::Parse("has(projectcalico.org/never)"));
      return EndpointSelector("", std::nullopt, std::move(none));
    }
    return EndpointSelector("", ns_sel->MatchesEverything() ? std::nullopt : ns_sel,
                            std::move(sel));
  }
  return EndpointSelector(scope.namespace_name, std::nullopt, std::move(sel));
}

std::string PortSetId(const EndpointSelector& selector, const std::string& port_name) {
  return "port-" + StableHashHex(fmt::format("{}|{}", selector.id(), port_name), 16);
}

absl::Status CompileEntity(const model::EntityRule& entity, const RuleScope& scope,
                           bool destination, CompiledEntity& out, CompiledRules& sets) {
  for (const auto& net : entity.nets) {
    ASSIGN_OR_RETURN(auto parsed, IpNetwork::Parse(net));
    out.nets.push_back(parsed.Masked());
  }
  for (const auto& net : entity.not_nets) {
    ASSIGN_OR_RETURN(auto parsed, IpNetwork::Parse(net));
    out.not_nets.push_back(parsed.Masked());
  }
  ASSIGN_OR_RETURN(auto ns_sel, ParseOptional(entity.namespace_selector));
  bool has_selector = !entity.selector.empty() || ns_sel.has_value();
  // The selector that scopes named ports: the entity's selector when it has one, else the
  // possible destinations of an ingress rule, else every endpoint (the packet's own address
  // narrows it to the right one).
  EndpointSelector port_scope;
  if (has_selector) {
    ASSIGN_OR_RETURN(EndpointSelector scoped, ScopeSelector(entity.selector, ns_sel, scope));
    out.ip_set = scoped.id();
    sets.ip_sets.emplace(scoped.id(), SetSpec{scoped, ""});
    port_scope = scoped;
  } else if (destination && scope.ingress_destinations) {
    port_scope = *scope.ingress_destinations;
  } else {
    ASSIGN_OR_RETURN(auto all, selector::Selector::Parse(""));
    port_scope = EndpointSelector("", std::nullopt, std::move(all));
  }
  if (!entity.not_selector.empty()) {
    ASSIGN_OR_RETURN(EndpointSelector scoped, ScopeSelector(entity.not_selector, ns_sel, scope));
    out.not_ip_set = scoped.id();
    sets.ip_sets.emplace(scoped.id(), SetSpec{scoped, ""});
  }
  auto add_ports = [&](const std::vector<model::PortSpec>& ports, std::vector<PortRange>& ranges,
                       std::vector<std::string>& named) {
    for (const auto& port : ports) {
      if (port.is_named()) {
        std::string id = PortSetId(port_scope, port.name);
        sets.port_sets.emplace(id, SetSpec{port_scope, port.name});
        named.push_back(id);
      } else {
        ranges.push_back(PortRange{port.first, port.last});
      }
    }
  };
  add_ports(entity.ports, out.ports, out.named_port_sets);
  add_ports(entity.not_ports, out.not_ports, out.not_named_port_sets);
  return absl::OkStatus();
}

std::optional<IcmpCriterion> CompileIcmp(const std::optional<model::IcmpMatch>& icmp) {
  if (!icmp) return std::nullopt;
  return IcmpCriterion{icmp->type.value_or(-1), icmp->code.value_or(-1)};
}

absl::Status CompileRule(const model::Rule& rule, const RuleScope& scope, CompiledRule& out,
                         CompiledRules& sets) {
  out.action = rule.action;
  out.ip_version = rule.ip_version;
  if (rule.protocol) out.protocol = rule.protocol->number;
  if (rule.not_protocol) out.not_protocol = rule.not_protocol->number;
  out.icmp = CompileIcmp(rule.icmp);
  out.not_icmp = CompileIcmp(rule.not_icmp);
  RETURN_IF_ERROR(CompileEntity(rule.source, scope, /*destination=*/false, out.source, sets));
  RETURN_IF_ERROR(
      CompileEntity(rule.destination, scope, /*destination=*/true, out.destination, sets));
  return absl::OkStatus();
}

}  // namespace

CompiledRules CompileRules(const std::vector<model::Rule>& rules, const RuleScope& scope,
                           std::string display_name) {
  CompiledRules compiled;
  compiled.program.display_name = std::move(display_name);
  for (const auto& rule : rules) {
    CompiledRule out;
    absl::Status status = CompileRule(rule, scope, out, compiled);
    if (!status.ok()) {
      CompiledRules deny;
      deny.program.display_name = compiled.program.display_name + " (invalid: denies all)";
      deny.program.rules.push_back(CompiledRule{.action = model::Action::kDeny});
      return deny;
    }
    compiled.program.rules.push_back(std::move(out));
  }
  return compiled;
}

}  // namespace tabby::calc
