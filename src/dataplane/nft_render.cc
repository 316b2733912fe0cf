#include "dataplane/nft_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "base/hash.h"

namespace tabby::dataplane {
namespace {

using calc::CompiledEntity;
using calc::CompiledRule;
using calc::PortRange;

std::string ProtocolName(uint8_t number) {
  switch (number) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "ipv6-icmp";
    case 132:
      return "sctp";
    case 136:
      return "udplite";
    default:
      return std::to_string(number);
  }
}

// Anonymous interval sets must not hold overlapping items: merge ranges first.
std::vector<PortRange> MergeRanges(std::vector<PortRange> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<PortRange> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && static_cast<int>(r.first) <= static_cast<int>(merged.back().last) + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::string PortList(const std::vector<PortRange>& ranges) {
  std::vector<std::string> items;
  for (const auto& r : MergeRanges(ranges)) {
    items.push_back(r.first == r.last ? std::to_string(r.first)
                                      : fmt::format("{}-{}", r.first, r.last));
  }
  if (items.size() == 1) return items[0];
  return fmt::format("{{ {} }}", fmt::join(items, ", "));
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

std::string NetList(const std::vector<IpNetwork>& nets) {
  std::vector<std::string> items;
  for (const auto& n : nets) items.push_back(NetText(n));
  if (items.size() == 1) return items[0];
  return fmt::format("{{ {} }}", fmt::join(items, ", "));
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

// Matches of one side of a rule that every variant shares, and the port alternatives (OR) that
// each become a separate nft rule.
void EntityMatches(const CompiledEntity& e, bool source, int family,
                   std::vector<std::string>& parts, std::vector<std::string>& alternatives) {
  const char* ip = family == 4 ? "ip" : "ip6";
  const char* addr = source ? "saddr" : "daddr";
  const char* port = source ? "sport" : "dport";
  auto nets = NetsOfFamily(e.nets, family);
  if (!nets.empty()) parts.push_back(fmt::format("{} {} {}", ip, addr, NetList(nets)));
  auto not_nets = NetsOfFamily(e.not_nets, family);
  if (!not_nets.empty()) parts.push_back(fmt::format("{} {} != {}", ip, addr, NetList(not_nets)));
  if (!e.ip_set.empty()) {
    parts.push_back(fmt::format("{} {} @{}", ip, addr, AddressSetName(e.ip_set, family)));
  }
  if (!e.not_ip_set.empty()) {
    parts.push_back(fmt::format("{} {} != @{}", ip, addr, AddressSetName(e.not_ip_set, family)));
  }
  if (!e.not_ports.empty()) {
    parts.push_back(fmt::format("th {} != {}", port, PortList(e.not_ports)));
  }
  for (const auto& id : e.not_named_port_sets) {
    parts.push_back(fmt::format("{} {} . meta l4proto . th {} != @{}", ip, addr, port,
                                PortSetName(id, family)));
  }
  if (!e.ports.empty()) alternatives.push_back(fmt::format("th {} {}", port, PortList(e.ports)));
  for (const auto& id : e.named_port_sets) {
    alternatives.push_back(
        fmt::format("{} {} . meta l4proto . th {} @{}", ip, addr, port, PortSetName(id, family)));
  }
  if (alternatives.empty()) alternatives.push_back("");
}

std::string IcmpMatch(const calc::IcmpCriterion& icmp, int family, bool negate) {
  const char* proto = family == 4 ? "icmp" : "icmpv6";
  if (icmp.type < 0) return "";
  if (!negate) {
    if (icmp.code < 0) return fmt::format("{} type {}", proto, icmp.type);
    return fmt::format("{} type {} {} code {}", proto, icmp.type, proto, icmp.code);
  }
  if (icmp.code < 0) return fmt::format("{} type != {}", proto, icmp.type);
  return fmt::format("{} type . {} code != {{ {} . {} }}", proto, proto, icmp.type, icmp.code);
}

std::string ActionText(const CompiledRule& rule, const std::string& log_text) {
  switch (rule.action) {
    case model::Action::kAllow:
      return "counter accept";
    case model::Action::kDeny:
      return "counter drop";
    case model::Action::kLog:
      return fmt::format("log prefix \"{}\"", log_text);
    case model::Action::kPass:
      return fmt::format("counter meta mark set meta mark | 0x{:08x} return", kPassMark);
  }
  return "counter drop";
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

std::vector<std::string> RenderRuleTexts(const CompiledRule& rule, const std::string& log_text) {
  std::vector<std::string> out;
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
    std::vector<std::string> parts;
    if (any_family_specific) {
      // The l3 protocol is implied by ip/ip6 matches, but a rule that only restricts the family
      // (ipVersion) has none of those: say it explicitly.
      parts.push_back(family == 4 ? "meta nfproto ipv4" : "meta nfproto ipv6");
    }
    if (rule.protocol) parts.push_back("meta l4proto " + ProtocolName(*rule.protocol));
    if (rule.not_protocol) parts.push_back("meta l4proto != " + ProtocolName(*rule.not_protocol));
    if (rule.icmp) parts.push_back(IcmpMatch(*rule.icmp, family, false));
    if (rule.not_icmp) parts.push_back(IcmpMatch(*rule.not_icmp, family, true));
    std::vector<std::string> source_alternatives, destination_alternatives;
    EntityMatches(rule.source, true, family, parts, source_alternatives);
    EntityMatches(rule.destination, false, family, parts, destination_alternatives);
    for (const auto& s : source_alternatives) {
      for (const auto& d : destination_alternatives) {
        std::vector<std::string> all = parts;
        all.push_back(s);
        all.push_back(d);
        all.push_back(ActionText(rule, log_text));
        out.push_back(Join(all));
      }
    }
    // A rule with nothing family-specific matches both families in one nft rule.
    if (!any_family_specific) break;
  }
  return out;
}

ChainDef BaseChain(std::string name, std::string hook, std::vector<std::string> rules) {
  ChainDef chain{std::move(name), std::move(hook), {}};
  for (auto& r : rules) chain.rules.push_back(MakeRule(std::move(r)));
  return chain;
}

std::string DropCounted(const char* counter) {
  return fmt::format("counter name \"{}\" drop", counter);
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
  }
  return "";
}

std::string RenderedRule::WithComment() const {
  return fmt::format("{} comment \"tabby:{}\"", text, hash);
}

RenderedRule MakeRule(std::string text) {
  std::string hash = StableHashHex(text, 16);
  return RenderedRule{std::move(text), std::move(hash)};
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
  std::string workload = fmt::format("\"{}*\"", kInterfacePrefix);
  std::vector<ChainDef> chains;
  // Anti-spoofing runs before conntrack, so a spoofed packet never creates or matches state.
  chains.push_back(
      BaseChain(kCheckSourceChain, "",
                {fmt::format("iifname . ip saddr @{} return", kSourceSet4),
                 fmt::format("iifname . ip6 saddr @{} return", kSourceSet6),
                 // Link-local sources carry neighbour discovery; :: is duplicate address detection.
                 "ip6 saddr fe80::/10 return", "ip6 saddr :: meta l4proto ipv6-icmp return",
                 DropCounted(kCounterSpoofed)}));
  chains.push_back(BaseChain("prerouting",
                             "type filter hook prerouting priority raw; policy accept;",
                             {fmt::format("iifname {} jump {}", workload, kCheckSourceChain)}));
  chains.push_back(BaseChain(
      "forward-egress", "type filter hook forward priority filter; policy accept;",
      {"ct state established,related accept",
       fmt::format("iifname {} ct state invalid {}", workload, DropCounted(kCounterInvalid)),
       fmt::format("iifname vmap @{}", kFromWorkloadMap),
       fmt::format("iifname {} {}", workload, DropCounted(kCounterUnknownInterface))}));
  chains.push_back(BaseChain(
      "forward-ingress", "type filter hook forward priority filter + 10; policy accept;",
      {"ct state established,related accept",
       fmt::format("oifname {} ct state invalid {}", workload, DropCounted(kCounterInvalid)),
       fmt::format("oifname vmap @{}", kToWorkloadMap),
       fmt::format("oifname {} {}", workload, DropCounted(kCounterUnknownInterface))}));
  chains.push_back(BaseChain(
      "input-egress", "type filter hook input priority filter; policy accept;",
      {"ct state established,related accept",
       // Neighbour discovery with the host must work whatever the workload's egress policy.
       fmt::format("iifname {} meta l4proto ipv6-icmp icmpv6 type {{ nd-router-solicit, "
                   "nd-neighbor-solicit, nd-neighbor-advert }} accept",
                   workload),
       fmt::format("iifname {} ct state invalid {}", workload, DropCounted(kCounterInvalid)),
       fmt::format("iifname vmap @{}", kFromWorkloadMap),
       fmt::format("iifname {} {}", workload, DropCounted(kCounterUnknownInterface))}));
  return chains;
}

ChainDef RenderProgram(const std::string& program_id, const calc::PolicyProgram& program,
                       const std::string& log_prefix) {
  ChainDef chain{program_id, "", {}};
  std::string log_text = fmt::format("{} {} ", log_prefix, program_id);
  if (log_text.size() > 127) log_text.resize(127);
  for (const auto& rule : program.rules) {
    for (auto& text : RenderRuleTexts(rule, log_text)) chain.rules.push_back(MakeRule(text));
  }
  return chain;
}

// The two chains of one direction of an endpoint: policies in order, then profiles or the
// default.
void RenderDirectionChains(const calc::DirectionProgram& direction, const std::string& chain_name,
                           const std::string& profile_chain_name, std::vector<ChainDef>& chains) {
  ChainDef main{chain_name, "", {}};
  if (direction.policies.empty()) {
    main.rules.push_back(MakeRule("goto " + profile_chain_name));
  } else {
    main.rules.push_back(
        MakeRule(fmt::format("meta mark set meta mark & 0x{:08x}", ~kPassMark & 0xffffffffu)));
    for (const auto& id : direction.policies) {
      main.rules.push_back(MakeRule("jump " + id));
      main.rules.push_back(MakeRule(
          fmt::format("meta mark & 0x{:08x} != 0 goto {}", kPassMark, profile_chain_name)));
    }
    main.rules.push_back(MakeRule(DropCounted(kCounterEndOfTier)));
  }
  ChainDef profiles{profile_chain_name, "", {}};
  if (!direction.policies.empty()) {
    // Reached after a Pass: the mark bit has done its job; do not leak it to other users of
    // the packet mark.
    profiles.rules.push_back(
        MakeRule(fmt::format("meta mark set meta mark & 0x{:08x}", ~kPassMark & 0xffffffffu)));
  }
  for (const auto& id : direction.profiles) profiles.rules.push_back(MakeRule("jump " + id));
  if (!direction.profiles.empty()) {
    profiles.rules.push_back(MakeRule(DropCounted(kCounterNoProfile)));
  } else if (direction.default_allow) {
    profiles.rules.push_back(MakeRule("accept"));
  } else {
    profiles.rules.push_back(MakeRule(DropCounted(kCounterDefaultDeny)));
  }
  chains.push_back(std::move(main));
  chains.push_back(std::move(profiles));
}

std::vector<ChainDef> RenderEndpointChains(const calc::EndpointProgram& endpoint) {
  std::vector<ChainDef> chains;
  RenderDirectionChains(endpoint.egress, EgressChainName(endpoint.interface_name),
                        EgressProfileChainName(endpoint.interface_name), chains);
  RenderDirectionChains(endpoint.ingress, IngressChainName(endpoint.interface_name),
                        IngressProfileChainName(endpoint.interface_name), chains);
  return chains;
}

bool IsHostEndpointChain(std::string_view chain) {
  for (std::string_view prefix : {"th-", "thp-", "fh-", "fhp-"}) {
    if (chain.starts_with(prefix)) return true;
  }
  return false;
}

namespace {

// "meta l4proto . th dport { tcp . 22, udp . 68 } accept", or nothing without ports.
std::vector<std::string> FailsafeRules(const std::vector<calc::FailsafePort>& ports) {
  if (ports.empty()) return {};
  std::vector<std::string> items;
  for (const auto& p : ports)
    items.push_back(fmt::format("{} . {}", ProtocolName(p.protocol), p.port));
  return {fmt::format("meta l4proto . th dport {{ {} }} accept", fmt::join(items, ", "))};
}

// The rules of input-host or output-host that send traffic of each host endpoint to its chain:
// by interface, by expected address when it names none, and "*" last (every interface).
void HostEndpointDispatch(const calc::HostProtection& host, bool inbound,
                          std::vector<std::string>& rules) {
  const char* iface = inbound ? "iifname" : "oifname";
  const char* addr = inbound ? "daddr" : "saddr";
  const char* prefix = inbound ? "th-" : "fh-";
  std::vector<std::string> all_interfaces;
  for (const auto& [name, endpoint] : host.endpoints) {
    const std::string chain = prefix + name;
    if (endpoint.interface_name == "*") {
      all_interfaces.push_back("goto " + chain);
    } else if (!endpoint.interface_name.empty()) {
      rules.push_back(fmt::format("{} \"{}\" goto {}", iface, endpoint.interface_name, chain));
    } else {
      for (int family : {4, 6}) {
        auto nets = NetsOfFamily(endpoint.addresses, family);
        if (nets.empty()) continue;
        rules.push_back(fmt::format("{} {} {} goto {}", family == 4 ? "ip" : "ip6", addr,
                                    NetList(nets), chain));
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
  const std::string workload = fmt::format("\"{}*\"", kInterfacePrefix);
  // Traffic into the host. A workload's traffic to its host has passed the workload's egress
  // policy in input-egress (an accept there ends only that base chain); here it meets
  // defaultEndpointToHostAction.
  std::vector<std::string> input = {
      "ct state established,related accept", "iifname \"lo\" accept",
      fmt::format("iifname {} meta l4proto ipv6-icmp icmpv6 type {{ nd-router-solicit, "
                  "nd-neighbor-solicit, nd-neighbor-advert }} accept",
                  workload)};
  switch (host.endpoint_to_host) {
    case calc::EndpointToHost::kDrop:
      input.push_back(fmt::format("iifname {} {}", workload, DropCounted(kCounterEndpointToHost)));
      break;
    case calc::EndpointToHost::kAccept:
      input.push_back(fmt::format("iifname {} accept", workload));
      break;
    case calc::EndpointToHost::kReturn:
      // On to host endpoint policy: the all-interfaces host endpoint's, if there is one.
      // Without one, nothing of ours applies and the packet goes on to the host's own firewall.
      input.push_back(all_interfaces
                          ? fmt::format("iifname {} goto th-{}", workload, *all_interfaces)
                          : fmt::format("iifname {} accept", workload));
      break;
  }
  for (auto& rule : FailsafeRules(host.failsafe_inbound)) input.push_back(std::move(rule));
  HostEndpointDispatch(host, /*inbound=*/true, input);
  // Traffic out of the host. The host reaches its own workloads (their ingress policy is
  // theirs to apply in the forward path; kubelet's probes come from here).
  std::vector<std::string> output = {"ct state established,related accept", "oifname \"lo\" accept",
                                     fmt::format("oifname {} accept", workload)};
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
