#include "dataplane/nft_render.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "base/hash.h"

namespace tabby::dataplane {
namespace {

using calc::CompiledEntity;
using calc::CompiledRule;
using calc::PortRange;

// Anonymous interval sets must not hold overlapping items: merge ranges first.
std::vector<std::pair<uint16_t, uint16_t>> MergeRanges(std::vector<PortRange> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint16_t, uint16_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() &&
        static_cast<int>(r.first) <= static_cast<int>(merged.back().second) + 1) {
      merged.back().second = std::max(merged.back().second, r.last);
    } else {
      merged.emplace_back(r.first, r.last);
    }
  }
  return merged;
}

// The nets of one family, without nets another one already covers.
std::vector<IpNetwork> NetsOfFamily(const std::vector<IpNetwork>& nets, int family) {
  std::vector<IpNetwork> of_family;
  for (const auto& n : nets) {
    if ((family == 4) == n.is_v4()) of_family.push_back(n.Masked());
  }
  std::sort(of_family.begin(), of_family.end(), [](const IpNetwork& a, const IpNetwork& b) {
    return a.prefix_length() < b.prefix_length();
  });
  std::vector<IpNetwork> kept;
  for (const auto& n : of_family) {
    bool covered =
        std::any_of(kept.begin(), kept.end(), [&](const IpNetwork& k) { return k.Contains(n); });
    if (!covered) kept.push_back(n);
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

std::string NetText(const IpNetwork& net) {
  return net.is_host() ? net.address().ToString() : net.ToString();
}

NftField AddressField(int family, bool source) {
  if (family == 4) return source ? NftField::kIpSaddr : NftField::kIpDaddr;
  return source ? NftField::kIp6Saddr : NftField::kIp6Daddr;
}

bool FamilyPossible(const CompiledRule& rule, int family) {
  if (rule.ip_version && *rule.ip_version != family) return false;
  if (rule.protocol == 1 && family == 6) return false;
  if (rule.protocol == 58 && family == 4) return false;
  for (const CompiledEntity* e : {&rule.source, &rule.destination}) {
    if (!e->nets.empty() && NetsOfFamily(e->nets, family).empty()) return false;
  }
  return true;
}

using Stmts = std::vector<NftStmt>;

// Matches of one side of a rule that every variant shares, and the port alternatives (OR) that
// each become a separate nft rule. False when this side cannot match in `family` because a set
// it needs an address to be in does not exist (has no member of that family).
bool EntityMatches(const CompiledEntity& e, bool source, int family, const SetExists& exists,
                   Stmts& parts, std::vector<Stmts>& alternatives) {
  const NftField address = AddressField(family, source);
  const NftField port = source ? NftField::kThSport : NftField::kThDport;
  auto nets = NetsOfFamily(e.nets, family);
  if (!nets.empty()) parts.push_back(MatchNets(address, nets, false));
  auto not_nets = NetsOfFamily(e.not_nets, family);
  if (!not_nets.empty()) parts.push_back(MatchNets(address, not_nets, true));
  if (!e.ip_set.empty()) {
    const std::string set = AddressSetName(e.ip_set, family);
    if (!exists(set)) return false;
    parts.push_back(MatchNamedSet({address}, set, false));
  }
  if (!e.not_ip_set.empty()) {
    // Not in an empty set: always true.
    const std::string set = AddressSetName(e.not_ip_set, family);
    if (exists(set)) parts.push_back(MatchNamedSet({address}, set, true));
  }
  if (!e.not_ports.empty()) parts.push_back(MatchPorts(port, MergeRanges(e.not_ports), true));
  for (const auto& id : e.not_named_port_sets) {
    const std::string set = PortSetName(id, family);
    if (exists(set)) parts.push_back(MatchNamedSet({address, NftField::kL4proto, port}, set, true));
  }
  if (!e.ports.empty()) alternatives.push_back({MatchPorts(port, MergeRanges(e.ports), false)});
  for (const auto& id : e.named_port_sets) {
    const std::string set = PortSetName(id, family);
    if (exists(set))
      alternatives.push_back({MatchNamedSet({address, NftField::kL4proto, port}, set, false)});
  }
  if (!alternatives.empty()) return true;
  if (!e.ports.empty() || !e.named_port_sets.empty()) return false;  // no port can match
  alternatives.emplace_back();
  return true;
}

void IcmpMatch(const calc::IcmpCriterion& icmp, int family, bool negate, Stmts& out) {
  const NftField type = family == 4 ? NftField::kIcmpType : NftField::kIcmp6Type;
  const NftField code = family == 4 ? NftField::kIcmpCode : NftField::kIcmp6Code;
  if (icmp.type < 0) return;
  const auto type_value = static_cast<uint8_t>(icmp.type);
  if (icmp.code < 0) {
    out.push_back(MatchByte(type, type_value, negate));
    return;
  }
  const auto code_value = static_cast<uint8_t>(icmp.code);
  if (!negate) {
    out.push_back(MatchByte(type, type_value, false));
    out.push_back(MatchByte(code, code_value, false));
    return;
  }
  std::vector<uint8_t> key;
  AppendPadded(key, {type_value});
  AppendPadded(key, {code_value});
  out.push_back(MatchValues({type, code}, {key}, {fmt::format("{} . {}", icmp.type, icmp.code)},
                            /*negate=*/true));
}

void ActionStmts(const CompiledRule& rule, const std::string& log_text, Stmts& out) {
  switch (rule.action) {
    case model::Action::kAllow:
      out.push_back(Counter());
      out.push_back(Verdict(NftVerdict::kAccept));
      return;
    case model::Action::kLog:
      out.push_back(Log(log_text));
      return;
    case model::Action::kPass:
      out.push_back(Counter());
      out.push_back(MarkOr(kPassMark));
      out.push_back(Verdict(NftVerdict::kReturn));
      return;
    case model::Action::kDeny:
      break;
  }
  out.push_back(Counter());
  out.push_back(Verdict(NftVerdict::kDrop));
}

std::vector<Stmts> RenderRuleStmts(const CompiledRule& rule, const std::string& log_text,
                                   const SetExists& exists) {
  std::vector<Stmts> out;
  bool any_family_specific =
      rule.ip_version || rule.protocol == 1 || rule.protocol == 58 || !rule.source.nets.empty() ||
      !rule.destination.nets.empty() || !rule.source.not_nets.empty() ||
      !rule.destination.not_nets.empty() || !rule.source.ip_set.empty() ||
      !rule.destination.ip_set.empty() || !rule.source.not_ip_set.empty() ||
      !rule.destination.not_ip_set.empty() || !rule.source.named_port_sets.empty() ||
      !rule.destination.named_port_sets.empty() || !rule.source.not_named_port_sets.empty() ||
      !rule.destination.not_named_port_sets.empty() || rule.icmp || rule.not_icmp;
  for (int family : {4, 6}) {
    if (!FamilyPossible(rule, family)) continue;
    Stmts parts;
    if (any_family_specific) {
      // The l3 protocol is implied by ip/ip6 matches, but a rule that only restricts the family
      // (ipVersion) has none of those: say it explicitly.
      parts.push_back(MatchNfproto(family));
    }
    if (rule.protocol) parts.push_back(MatchL4proto(*rule.protocol, false));
    if (rule.not_protocol) parts.push_back(MatchL4proto(*rule.not_protocol, true));
    if (rule.icmp) IcmpMatch(*rule.icmp, family, false, parts);
    if (rule.not_icmp) IcmpMatch(*rule.not_icmp, family, true, parts);
    std::vector<Stmts> source_alternatives, destination_alternatives;
    if (!EntityMatches(rule.source, true, family, exists, parts, source_alternatives) ||
        !EntityMatches(rule.destination, false, family, exists, parts, destination_alternatives)) {
      continue;
    }
    for (const auto& s : source_alternatives) {
      for (const auto& d : destination_alternatives) {
        Stmts all = parts;
        all.insert(all.end(), s.begin(), s.end());
        all.insert(all.end(), d.begin(), d.end());
        ActionStmts(rule, log_text, all);
        out.push_back(std::move(all));
      }
    }
    // A rule with nothing family-specific matches both families in one nft rule.
    if (!any_family_specific) break;
  }
  return out;
}

ChainDef BaseChain(std::string name, std::string hook, std::vector<Stmts> rules) {
  ChainDef chain{std::move(name), std::move(hook), {}};
  for (auto& r : rules) chain.rules.push_back(MakeRule(std::move(r)));
  return chain;
}

Stmts DropCounted(const char* counter) {
  return {NamedCounter(counter), Verdict(NftVerdict::kDrop)};
}

// `first` followed by `rest`.
Stmts Then(Stmts first, const Stmts& rest) {
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

NftStmt FromWorkload() {
  return MatchInterfaceName(NftField::kIifname, std::string(kInterfacePrefix) + "*");
}
NftStmt ToWorkload() {
  return MatchInterfaceName(NftField::kOifname, std::string(kInterfacePrefix) + "*");
}

// Conntrack state bits (NF_CT_STATE_BIT).
constexpr uint32_t kCtInvalid = 1, kCtEstablished = 2, kCtRelated = 4;

Stmts AcceptEstablished() {
  return {MatchCtState(kCtEstablished | kCtRelated, "established,related"),
          Verdict(NftVerdict::kAccept)};
}

// Neighbour discovery (router solicitation, neighbour solicitation and advertisement).
NftStmt NeighbourDiscovery() {
  return MatchValues({NftField::kIcmp6Type}, {{133}, {135}, {136}},
                     {"nd-router-solicit", "nd-neighbor-solicit", "nd-neighbor-advert"}, false);
}

}  // namespace

std::string SetDef::TypeClause() const {
  switch (kind) {
    case SetKind::kAddress:
      return family == 4 ? "type ipv4_addr;" : "type ipv6_addr;";
    case SetKind::kPort:
      return family == 4 ? "type ipv4_addr . inet_proto . inet_service;"
                         : "type ipv6_addr . inet_proto . inet_service;";
    case SetKind::kInterfaceAddress:
      return family == 4 ? "type ifname . ipv4_addr; flags interval;"
                         : "type ifname . ipv6_addr; flags interval;";
    case SetKind::kInterfaceVerdictMap:
      return "type ifname : verdict;";
    case SetKind::kAddressVerdictMap:
      return family == 4 ? "type ipv4_addr : verdict;" : "type ipv6_addr : verdict;";
  }
  return "";
}

std::string RenderedRule::WithComment() const {
  return fmt::format("{} comment \"tabby:{}\"", text, hash);
}

RenderedRule MakeRule(std::vector<NftStmt> stmts) {
  std::string text = RuleText(stmts);
  std::string hash = StableHashHex(text, 16);
  return RenderedRule{std::move(text), std::move(hash), std::move(stmts)};
}

std::string TableRef() { return fmt::format("{} {}", kTableFamily, kTableName); }

std::string AddressSetName(const std::string& set_id, int family) {
  return fmt::format("{}-{}", set_id, family);
}
std::string PortSetName(const std::string& set_id, int family) {
  return fmt::format("{}-{}", set_id, family);
}
std::string EgressChainName(const std::string& interface_name) { return "fw-" + interface_name; }
std::string IngressChainName(const std::string& interface_name) { return "tw-" + interface_name; }
std::string EgressProfileChainName(const std::string& interface_name) {
  return "fwp-" + interface_name;
}
std::string IngressProfileChainName(const std::string& interface_name) {
  return "twp-" + interface_name;
}

std::vector<SetDef> FixedSets() {
  return {{kSourceSet4, SetKind::kInterfaceAddress, 4},
          {kSourceSet6, SetKind::kInterfaceAddress, 6}};
}

std::vector<std::string> CounterNames() {
  return {kCounterSpoofed,     kCounterUnknownInterface, kCounterEndOfTier,     kCounterNoProfile,
          kCounterDefaultDeny, kCounterInvalid,          kCounterEndpointToHost};
}

std::vector<ChainDef> BaseChains() {
  const NftStmt accept = Verdict(NftVerdict::kAccept);
  const NftStmt ret = Verdict(NftVerdict::kReturn);
  std::vector<ChainDef> chains;
  // Anti-spoofing runs before conntrack, so a spoofed packet never creates or matches state.
  chains.push_back(BaseChain(
      kCheckSourceChain, "",
      {{MatchNamedSet({NftField::kIifname, NftField::kIpSaddr}, kSourceSet4, false), ret},
       {MatchNamedSet({NftField::kIifname, NftField::kIp6Saddr}, kSourceSet6, false), ret},
       // Link-local sources carry neighbour discovery; :: is duplicate address detection.
       {MatchNets(NftField::kIp6Saddr, {*IpNetwork::Parse("fe80::/10")}, false), ret},
       {MatchNets(NftField::kIp6Saddr, {*IpNetwork::Parse("::/128")}, false),
        MatchL4proto(58, false), ret},
       DropCounted(kCounterSpoofed)}));
  chains.push_back(BaseChain("prerouting",
                             "type filter hook prerouting priority raw; policy accept;",
                             {{FromWorkload(), Verdict(NftVerdict::kJump, kCheckSourceChain)}}));
  chains.push_back(BaseChain(
      "forward-egress", "type filter hook forward priority filter; policy accept;",
      {AcceptEstablished(),
       Then({FromWorkload(), MatchCtState(kCtInvalid, "invalid")}, DropCounted(kCounterInvalid)),
       {VerdictMap(NftField::kIifname, kFromWorkloadMap)},
       Then({FromWorkload()}, DropCounted(kCounterUnknownInterface))}));
  chains.push_back(BaseChain(
      "forward-ingress", "type filter hook forward priority filter + 10; policy accept;",
      {AcceptEstablished(),
       Then({ToWorkload(), MatchCtState(kCtInvalid, "invalid")}, DropCounted(kCounterInvalid)),
       {VerdictMap(NftField::kOifname, kToWorkloadMap)},
       Then({ToWorkload()}, DropCounted(kCounterUnknownInterface))}));
  chains.push_back(BaseChain(
      "input-egress", "type filter hook input priority filter; policy accept;",
      {AcceptEstablished(),
       // Neighbour discovery with the host must work whatever the workload's egress policy.
       {FromWorkload(), MatchL4proto(58, false), NeighbourDiscovery(), accept},
       Then({FromWorkload(), MatchCtState(kCtInvalid, "invalid")}, DropCounted(kCounterInvalid)),
       {VerdictMap(NftField::kIifname, kFromWorkloadMap)},
       Then({FromWorkload()}, DropCounted(kCounterUnknownInterface))}));
  return chains;
}

bool AllSetsExist(const std::string&) { return true; }

ChainDef RenderProgram(const std::string& program_id, const calc::PolicyProgram& program,
                       const std::string& log_prefix, const SetExists& exists) {
  ChainDef chain{program_id, "", {}};
  std::string log_text = fmt::format("{} {} ", log_prefix, program_id);
  if (log_text.size() > 127) log_text.resize(127);
  for (const auto& rule : program.rules) {
    for (auto& stmts : RenderRuleStmts(rule, log_text, exists)) {
      chain.rules.push_back(MakeRule(std::move(stmts)));
    }
  }
  return chain;
}

// The two chains of one direction of an endpoint: policies in order (or their dispatch chain),
// then profiles or the default.
void RenderDirectionChains(const calc::DirectionProgram& direction, const std::string& chain_name,
                           const std::string& profile_chain_name, std::vector<ChainDef>& chains,
                           const std::string& run = "") {
  const uint32_t clear_pass = ~kPassMark & 0xffffffffu;
  ChainDef main{chain_name, "", {}};
  if (direction.policies.empty()) {
    main.rules.push_back(MakeRule({Verdict(NftVerdict::kGoto, profile_chain_name)}));
  } else {
    main.rules.push_back(MakeRule({MarkAnd(clear_pass)}));
    const std::vector<std::string> dispatched = {run};
    for (const auto& id : run.empty() ? direction.policies : dispatched) {
      main.rules.push_back(MakeRule({Verdict(NftVerdict::kJump, id)}));
      main.rules.push_back(
          MakeRule({MarkTest(kPassMark), Verdict(NftVerdict::kGoto, profile_chain_name)}));
    }
    main.rules.push_back(MakeRule(DropCounted(kCounterEndOfTier)));
  }
  ChainDef profiles{profile_chain_name, "", {}};
  if (!direction.policies.empty()) {
    // Reached after a Pass: the mark bit has done its job; do not leak it to other users of
    // the packet mark.
    profiles.rules.push_back(MakeRule({MarkAnd(clear_pass)}));
  }
  for (const auto& id : direction.profiles) {
    profiles.rules.push_back(MakeRule({Verdict(NftVerdict::kJump, id)}));
  }
  if (!direction.profiles.empty()) {
    profiles.rules.push_back(MakeRule(DropCounted(kCounterNoProfile)));
  } else if (direction.default_allow) {
    profiles.rules.push_back(MakeRule({Verdict(NftVerdict::kAccept)}));
  } else {
    profiles.rules.push_back(MakeRule(DropCounted(kCounterDefaultDeny)));
  }
  chains.push_back(std::move(main));
  chains.push_back(std::move(profiles));
}

std::vector<ChainDef> RenderEndpointChains(const calc::EndpointProgram& endpoint,
                                           const std::string& ingress_run,
                                           const std::string& egress_run) {
  std::vector<ChainDef> chains;
  RenderDirectionChains(endpoint.egress, EgressChainName(endpoint.interface_name),
                        EgressProfileChainName(endpoint.interface_name), chains, egress_run);
  RenderDirectionChains(endpoint.ingress, IngressChainName(endpoint.interface_name),
                        IngressProfileChainName(endpoint.interface_name), chains, ingress_run);
  return chains;
}

std::optional<DispatchRun> PlanDispatch(const std::vector<std::string>& policies, bool ingress,
                                        const calc::DesiredState& state) {
  DispatchRun run{.ingress = ingress, .programs = policies};
  size_t gated = 0;
  std::string identity = ingress ? "in" : "out";
  for (const auto& id : policies) {
    std::vector<std::string> gate;
    auto it = state.programs.find(id);
    if (it != state.programs.end() && !it->second.rules.empty()) {
      for (const auto& rule : it->second.rules) {
        const std::string& set = ingress ? rule.source.ip_set : rule.destination.ip_set;
        if (set.empty()) {
          gate.clear();
          break;
        }
        gate.push_back(set);
      }
    }
    std::sort(gate.begin(), gate.end());
    gate.erase(std::unique(gate.begin(), gate.end()), gate.end());
    if (!gate.empty()) ++gated;
    identity += fmt::format(";{}:{}", id, fmt::join(gate, ","));
    run.gates.push_back(std::move(gate));
  }
  if (gated < kDispatchMinimumGated) return std::nullopt;
  run.id = "dsp-" + StableHashHex(identity, 16);
  return run;
}

std::string DispatchMapName(const std::string& run_id, int family) {
  return fmt::format("{}-{}", run_id, family);
}

std::vector<std::string> DispatchClass(const DispatchRun& run, const IpAddress& address,
                                       const calc::DesiredState& state) {
  std::vector<std::string> out;
  bool gated_match = false;
  for (size_t i = 0; i < run.programs.size(); ++i) {
    bool may_match = run.gates[i].empty();
    for (const auto& set : run.gates[i]) {
      auto it = state.ip_sets.find(set);
      if (it != state.ip_sets.end() && it->second.contains(address)) {
        may_match = gated_match = true;
        break;
      }
    }
    if (may_match) out.push_back(run.programs[i]);
  }
  if (!gated_match) out.clear();
  return out;
}

std::vector<std::string> UngatedPrograms(const DispatchRun& run) {
  std::vector<std::string> out;
  for (size_t i = 0; i < run.programs.size(); ++i) {
    if (run.gates[i].empty()) out.push_back(run.programs[i]);
  }
  return out;
}

std::set<IpAddress> DispatchPeers(const DispatchRun& run, const calc::DesiredState& state,
                                  int family) {
  std::set<IpAddress> out;
  for (const auto& gate : run.gates) {
    for (const auto& set : gate) {
      auto it = state.ip_sets.find(set);
      if (it == state.ip_sets.end()) continue;
      for (const auto& address : it->second) {
        if (address.is_v4() == (family == 4)) out.insert(address);
      }
    }
  }
  return out;
}

std::string ClassChainName(const std::vector<std::string>& programs) {
  return "cls-" + StableHashHex(fmt::format("{}", fmt::join(programs, ";")), 16);
}

ChainDef RenderClassChain(const std::vector<std::string>& programs) {
  ChainDef chain{ClassChainName(programs), "", {}};
  for (const auto& id : programs) {
    chain.rules.push_back(MakeRule({Verdict(NftVerdict::kJump, id)}));
    // A Pass ends the policies: back to the endpoint's chain, which goes on to its profiles.
    chain.rules.push_back(MakeRule({MarkTest(kPassMark), Verdict(NftVerdict::kReturn)}));
  }
  return chain;
}

ChainDef RenderDispatchChain(const DispatchRun& run) {
  ChainDef chain{run.id, "", {}};
  for (int family : {4, 6}) {
    const NftField peer = AddressField(family, /*source=*/run.ingress);
    chain.rules.push_back(MakeRule({VerdictMap(peer, DispatchMapName(run.id, family))}));
  }
  // An address no gate set holds (or the other family's packets): the ungated programs alone.
  // A goto, so that the class chain returns to the endpoint's chain, as the map's do.
  std::vector<std::string> ungated = UngatedPrograms(run);
  if (!ungated.empty()) {
    chain.rules.push_back(MakeRule({Verdict(NftVerdict::kGoto, ClassChainName(ungated))}));
  }
  return chain;
}

bool IsHostEndpointChain(std::string_view chain) {
  for (std::string_view prefix : {"th-", "thp-", "fh-", "fhp-"}) {
    if (chain.starts_with(prefix)) return true;
  }
  return false;
}

namespace {

// "meta l4proto . th dport { tcp . 22, udp . 68 } accept", or nothing without ports.
std::vector<Stmts> FailsafeRules(const std::vector<calc::FailsafePort>& ports) {
  if (ports.empty()) return {};
  std::vector<std::vector<uint8_t>> keys;
  std::vector<std::string> items;
  for (const auto& p : ports) {
    std::vector<uint8_t> key;
    AppendPadded(key, {p.protocol});
    AppendPadded(key, PortKey(p.port));
    keys.push_back(std::move(key));
    items.push_back(fmt::format("{} . {}", ProtocolName(p.protocol), p.port));
  }
  return {{MatchValues({NftField::kL4proto, NftField::kThDport}, keys, items, false),
           Verdict(NftVerdict::kAccept)}};
}

// The rules of input-host or output-host that send traffic of each host endpoint to its chain:
// by interface, by expected address when it names none, and "*" last (every interface).
void HostEndpointDispatch(const calc::HostProtection& host, bool inbound,
                          std::vector<Stmts>& rules) {
  const NftField iface = inbound ? NftField::kIifname : NftField::kOifname;
  const char* prefix = inbound ? "th-" : "fh-";
  std::vector<Stmts> all_interfaces;
  for (const auto& [name, endpoint] : host.endpoints) {
    const NftStmt go = Verdict(NftVerdict::kGoto, prefix + name);
    if (endpoint.interface_name == "*") {
      all_interfaces.push_back({go});
    } else if (!endpoint.interface_name.empty()) {
      rules.push_back({MatchInterfaceName(iface, endpoint.interface_name), go});
    } else {
      for (int family : {4, 6}) {
        auto nets = NetsOfFamily(endpoint.addresses, family);
        if (nets.empty()) continue;
        rules.push_back({MatchNets(AddressField(family, /*source=*/!inbound), nets, false), go});
      }
    }
  }
  rules.insert(rules.end(), all_interfaces.begin(), all_interfaces.end());
}

}  // namespace

std::vector<ChainDef> RenderHostChains(const calc::HostProtection& host) {
  std::vector<ChainDef> chains;
  std::optional<std::string> all_interfaces;  // the first "*" host endpoint
  for (const auto& [name, endpoint] : host.endpoints) {
    RenderDirectionChains(endpoint.ingress, "th-" + name, "thp-" + name, chains);
    RenderDirectionChains(endpoint.egress, "fh-" + name, "fhp-" + name, chains);
    if (endpoint.interface_name == "*" && !all_interfaces) all_interfaces = name;
  }
  const NftStmt accept = Verdict(NftVerdict::kAccept);
  // Traffic into the host. A workload's traffic to its host has passed the workload's egress
  // policy in input-egress (an accept there ends only that base chain); here it meets
  // defaultEndpointToHostAction.
  std::vector<Stmts> input = {
      AcceptEstablished(),
      {MatchInterfaceName(NftField::kIifname, "lo"), accept},
      {FromWorkload(), MatchL4proto(58, false), NeighbourDiscovery(), accept}};
  switch (host.endpoint_to_host) {
    case calc::EndpointToHost::kDrop:
      input.push_back(Then({FromWorkload()}, DropCounted(kCounterEndpointToHost)));
      break;
    case calc::EndpointToHost::kAccept:
      input.push_back({FromWorkload(), accept});
      break;
    case calc::EndpointToHost::kReturn:
      // On to host endpoint policy: the all-interfaces host endpoint's, if there is one.
      // Without one, nothing of ours applies and the packet goes on to the host's own firewall.
      input.push_back({FromWorkload(), all_interfaces
                                           ? Verdict(NftVerdict::kGoto, "th-" + *all_interfaces)
                                           : accept});
      break;
  }
  for (auto& rule : FailsafeRules(host.failsafe_inbound)) input.push_back(std::move(rule));
  HostEndpointDispatch(host, /*inbound=*/true, input);
  // Traffic out of the host. The host reaches its own workloads (their ingress policy is
  // theirs to apply in the forward path; kubelet's probes come from here).
  std::vector<Stmts> output = {AcceptEstablished(),
                               {MatchInterfaceName(NftField::kOifname, "lo"), accept},
                               {ToWorkload(), accept}};
  for (auto& rule : FailsafeRules(host.failsafe_outbound)) output.push_back(std::move(rule));
  HostEndpointDispatch(host, /*inbound=*/false, output);
  chains.push_back(BaseChain("input-host",
                             "type filter hook input priority filter + 10; policy accept;",
                             std::move(input)));
  chains.push_back(BaseChain("output-host",
                             "type filter hook output priority filter + 10; policy accept;",
                             std::move(output)));
  return chains;
}

std::string AddressElement(const IpAddress& address) { return address.ToString(); }

std::string PortElement(const calc::PortSetMember& member) {
  return fmt::format("{} . {} . {}", member.address.ToString(), member.protocol, member.port);
}

std::optional<std::vector<uint8_t>> ElementKey(std::string_view text) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    size_t dot = text.find(" . ", start);
    fields.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 3;
  }
  if (fields.size() != 1 && fields.size() != 3) return std::nullopt;
  auto address = IpAddress::Parse(fields[0]);
  if (!address.ok()) return std::nullopt;
  std::vector<uint8_t> key(address->bytes(), address->bytes() + (address->is_v4() ? 4 : 16));
  if (fields.size() == 1) return key;
  auto number = [](std::string_view field, unsigned max) -> std::optional<unsigned> {
    unsigned value = 0;
    auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (error != std::errc() || end != field.data() + field.size() || value > max) {
      return std::nullopt;
    }
    return value;
  };
  std::optional<unsigned> protocol = number(fields[1], 255);
  std::optional<unsigned> port = number(fields[2], 65535);
  if (!protocol || !port) return std::nullopt;
  key.insert(key.end(), {static_cast<uint8_t>(*protocol), 0, 0, 0});
  key.insert(key.end(),
             {static_cast<uint8_t>(*port >> 8), static_cast<uint8_t>(*port & 0xff), 0, 0});
  return key;
}

std::string InterfaceAddressElement(const std::string& interface_name, const IpNetwork& network) {
  return fmt::format("\"{}\" . {}", interface_name, NetText(network.Masked()));
}

std::vector<std::string> SourceElements(const calc::EndpointProgram& endpoint, int family) {
  std::vector<std::string> out;
  for (const auto& n : NetsOfFamily(endpoint.allowed_sources, family)) {
    out.push_back(InterfaceAddressElement(endpoint.interface_name, n));
  }
  return out;
}

}  // namespace tabby::dataplane
