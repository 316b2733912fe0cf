#include "calc/evaluator.h"

#include <fmt/format.h>

#include <algorithm>

namespace tabby::calc {
namespace {

constexpr uint8_t kIcmp = 1, kIcmpV6 = 58;

bool HasPorts(uint8_t protocol) {
  return protocol == 6 || protocol == 17 || protocol == 132 || protocol == 136;
}

bool InSet(const DesiredState& state, const std::string& id, const IpAddress& address) {
  auto it = state.ip_sets.find(id);
  return it != state.ip_sets.end() && it->second.contains(address);
}

bool InPortSet(const DesiredState& state, const std::string& id, const PortSetMember& member) {
  auto it = state.port_sets.find(id);
  return it != state.port_sets.end() && it->second.contains(member);
}

bool InRanges(const std::vector<PortRange>& ranges, uint16_t port) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [port](const PortRange& r) { return r.first <= port && port <= r.last; });
}

// nets of the packet's family, as nft_render keeps them: a rule whose nets are all of the other
// family cannot match at all. Compiled nets are already masked (rule_compiler).
bool NetsMatch(const std::vector<IpNetwork>& nets, const IpAddress& address,
               bool& family_possible) {
  bool any_of_family = false;
  for (const auto& net : nets) {
    if (net.is_v4() != address.is_v4()) continue;
    any_of_family = true;
    if (net.Contains(address)) return true;
  }
  if (!nets.empty() && !any_of_family) family_possible = false;
  return false;
}

bool EntityMatches(const DesiredState& state, const CompiledEntity& entity, const Packet& packet,
                   bool source) {
  const IpAddress& address = source ? packet.source : packet.destination;
  const std::optional<uint16_t> port =
      source ? packet.source_port : std::optional<uint16_t>(packet.destination_port);
  bool family_possible = true;
  if (!entity.nets.empty() && !NetsMatch(entity.nets, address, family_possible)) return false;
  for (const auto& net : entity.not_nets) {
    if (net.is_v4() == address.is_v4() && net.Contains(address)) return false;
  }
  if (!entity.ip_set.empty() && !InSet(state, entity.ip_set, address)) return false;
  if (!entity.not_ip_set.empty() && InSet(state, entity.not_ip_set, address)) return false;

  const bool has_port_criteria = !entity.ports.empty() || !entity.named_port_sets.empty() ||
                                 !entity.not_ports.empty() || !entity.not_named_port_sets.empty();
  if (!has_port_criteria) return true;
  // Port matches read the transport header: no ports, no match (an unknown source port is an
  // ephemeral one, which a rule about source ports is not written for).
  if (!HasPorts(packet.protocol) || !port) return false;
  if (InRanges(entity.not_ports, *port)) return false;
  PortSetMember member{address, packet.protocol, *port};
  for (const auto& id : entity.not_named_port_sets) {
    if (InPortSet(state, id, member)) return false;
  }
  if (entity.ports.empty() && entity.named_port_sets.empty()) return true;
  if (InRanges(entity.ports, *port)) return true;
  return std::any_of(entity.named_port_sets.begin(), entity.named_port_sets.end(),
                     [&](const std::string& id) { return InPortSet(state, id, member); });
}

bool IcmpMatches(const IcmpCriterion& criterion, const Packet& packet) {
  if (criterion.type >= 0 && criterion.type != packet.icmp_type) return false;
  if (criterion.code >= 0 && criterion.code != packet.icmp_code) return false;
  return true;
}

std::string RuleOutcome(model::Action action) {
  switch (action) {
    case model::Action::kAllow:
      return "Allow";
    case model::Action::kDeny:
      return "Deny";
    case model::Action::kPass:
      return "Pass";
    case model::Action::kLog:
      return "Log (continues)";
  }
  return "Deny";
}

// Runs one program; returns the deciding rule's index and action, or nullopt when no rule
// decided (none matched, or only Log rules did).
struct ProgramResult {
  int rule_index = -1;
  std::optional<model::Action> action;
};

ProgramResult RunProgram(const DesiredState& state, const std::string& id, const Packet& packet,
                         std::vector<EvaluationStep>& steps) {
  auto it = state.programs.find(id);
  std::string name = it == state.programs.end() ? id : it->second.display_name;
  if (it != state.programs.end()) {
    const auto& rules = it->second.rules;
    for (size_t i = 0; i < rules.size(); ++i) {
      if (!RuleMatches(state, rules[i], packet)) continue;
      steps.push_back({name, static_cast<int>(i), RuleOutcome(rules[i].action)});
      if (rules[i].action == model::Action::kLog) continue;
      return {static_cast<int>(i), rules[i].action};
    }
  }
  steps.push_back({name, -1, "no rule matched"});
  return {};
}

std::string Decider(const EvaluationStep& step) {
  return fmt::format("{} rule {}", step.program, step.rule_index);
}

}  // namespace

bool RuleMatches(const DesiredState& state, const CompiledRule& rule, const Packet& packet) {
  const bool v4 = packet.source.is_v4();
  if (rule.ip_version && *rule.ip_version != (v4 ? 4 : 6)) return false;
  if (rule.protocol && *rule.protocol != packet.protocol) return false;
  if (rule.not_protocol && *rule.not_protocol == packet.protocol) return false;
  const bool icmp = packet.protocol == (v4 ? kIcmp : kIcmpV6);
  // ICMP type matches name the family's ICMP: they never match other protocols.
  if (rule.icmp && (!icmp || !IcmpMatches(*rule.icmp, packet))) return false;
  if (rule.not_icmp && (!icmp || IcmpMatches(*rule.not_icmp, packet))) return false;
  return EntityMatches(state, rule.source, packet, true) &&
         EntityMatches(state, rule.destination, packet, false);
}

DirectionVerdict EvaluateDirection(const DesiredState& state, const DirectionProgram& direction,
                                   const Packet& packet) {
  DirectionVerdict verdict;
  bool passed = false;
  for (const auto& id : direction.policies) {
    ProgramResult result = RunProgram(state, id, packet, verdict.steps);
    if (!result.action) continue;
    const EvaluationStep& step = verdict.steps.back();
    if (*result.action == model::Action::kPass) {
      passed = true;
      break;
    }
    verdict.allowed = *result.action == model::Action::kAllow;
    verdict.reason = fmt::format("{} by {}", verdict.allowed ? "allowed" : "denied", Decider(step));
    return verdict;
  }
  if (!direction.policies.empty() && !passed) {
    verdict.allowed = false;
    verdict.reason = "denied: policies select it and none of their rules allowed this";
    return verdict;
  }
  for (const auto& id : direction.profiles) {
    ProgramResult result = RunProgram(state, id, packet, verdict.steps);
    if (!result.action || *result.action == model::Action::kPass) continue;
    verdict.allowed = *result.action == model::Action::kAllow;
    verdict.reason = fmt::format("{} by {}{}", verdict.allowed ? "allowed" : "denied",
                                 Decider(verdict.steps.back()), passed ? " (after a Pass)" : "");
    return verdict;
  }
  if (!direction.profiles.empty()) {
    verdict.allowed = false;
    verdict.reason = "denied: no rule of its profiles allowed this";
    return verdict;
  }
  verdict.allowed = direction.default_allow;
  verdict.reason =
      fmt::format("{}: no policy {}and no profile applies, so the cluster default ({}) holds",
                  verdict.allowed ? "allowed" : "denied", passed ? "decided (Pass) " : "",
                  verdict.allowed ? "allow" : "deny");
  return verdict;
}

}  // namespace tabby::calc
