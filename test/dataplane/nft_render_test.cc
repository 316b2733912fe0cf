// The pure parts of the nftables dataplane: what the renderer writes, how a kernel listing is
// read back, and what NftDataplane sends through a fake NftClient (which records scripts and
// serves a listing in nft's JSON format).
#include "dataplane/nft_render.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/hash.h"
#include "base/status_macros.h"
#include "calc/calculator.h"
#include "calc/test_resources.h"
#include "dataplane/kernel_table.h"
#include "dataplane/nft_client.h"
#include "dataplane/nft_dataplane.h"

namespace tabby::dataplane {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kNode[] = "host1";

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }
IpNetwork Net(const char* text) { return *IpNetwork::Parse(text); }

std::vector<std::string> Texts(const ChainDef& chain) {
  std::vector<std::string> out;
  for (const auto& r : chain.rules) out.push_back(r.text);
  return out;
}

const ChainDef* FindChain(const std::vector<ChainDef>& chains, const std::string& name) {
  for (const auto& c : chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

calc::PolicyProgram ProgramOf(std::vector<calc::CompiledRule> rules) {
  return calc::PolicyProgram{"test", std::move(rules)};
}

// ---------------------------------------------------------------------------------------------
// Renderer

TEST(Render, BaseChainsHookWhereTheLayoutSays) {
  std::vector<ChainDef> chains = BaseChains();
  const ChainDef* prerouting = FindChain(chains, "prerouting");
  ASSERT_NE(prerouting, nullptr);
  // Before conntrack (-200), so a spoofed packet never creates state.
  EXPECT_EQ(HookSignature(prerouting->hook), "filter/prerouting/-300/accept");
  EXPECT_THAT(Texts(*prerouting), ElementsAre("iifname \"tabby*\" jump check-source"));
  EXPECT_EQ(HookSignature(FindChain(chains, "forward-egress")->hook), "filter/forward/0/accept");
  EXPECT_EQ(HookSignature(FindChain(chains, "forward-ingress")->hook), "filter/forward/10/accept");
  EXPECT_EQ(HookSignature(FindChain(chains, "input-egress")->hook), "filter/input/0/accept");
  const ChainDef* check = FindChain(chains, kCheckSourceChain);
  ASSERT_NE(check, nullptr);
  EXPECT_TRUE(check->hook.empty());
  EXPECT_EQ(check->rules.back().text, "counter name \"drop-spoofed-source\" drop");
  // Unknown workload interfaces end in a counted drop: fail closed.
  EXPECT_EQ(FindChain(chains, "forward-ingress")->rules.back().text,
            "oifname \"tabby*\" counter name \"drop-unknown-interface\" drop");
}

TEST(Render, EveryRuleCarriesTheHashOfItsText) {
  for (const auto& chain : BaseChains()) {
    for (const auto& rule : chain.rules) {
      EXPECT_EQ(rule.hash, StableHashHex(rule.text, 16));
      EXPECT_EQ(rule.WithComment(), rule.text + " comment \"tabby:" + rule.hash + "\"");
    }
  }
}

TEST(Render, SelectorRuleSplitsByFamily) {
  calc::CompiledRule rule;
  rule.source.ip_set = "sel-abc";
  ChainDef chain = RenderProgram("gnp.x.in", ProgramOf({rule}), "tabby-packet");
  EXPECT_EQ(chain.name, "gnp.x.in");
  EXPECT_THAT(Texts(chain), ElementsAre("meta nfproto ipv4 ip saddr @sel-abc-4 counter accept",
                                        "meta nfproto ipv6 ip6 saddr @sel-abc-6 counter accept"));
}

// A set of a family the table does not hold (the selector has no member of that family yet).
TEST(Render, RuleNeedingAMissingSetIsNotRendered) {
  const SetExists only_v4 = [](const std::string& name) { return name.ends_with("-4"); };
  calc::CompiledRule rule;
  rule.source.ip_set = "sel-abc";
  EXPECT_THAT(Texts(RenderProgram("p", ProgramOf({rule}), "x", only_v4)),
              ElementsAre("meta nfproto ipv4 ip saddr @sel-abc-4 counter accept"));
  const SetExists none = [](const std::string&) { return false; };
  EXPECT_THAT(RenderProgram("p", ProgramOf({rule}), "x", none).rules, IsEmpty());
}

TEST(Render, NotInAMissingSetIsAlwaysTrue) {
  const SetExists only_v4 = [](const std::string& name) { return name.ends_with("-4"); };
  calc::CompiledRule rule;
  rule.action = model::Action::kDeny;
  rule.source.not_ip_set = "sel-abc";
  rule.destination.not_named_port_sets = {"port-1"};
  EXPECT_THAT(Texts(RenderProgram("p", ProgramOf({rule}), "x", only_v4)),
              ElementsAre("meta nfproto ipv4 ip saddr != @sel-abc-4 ip daddr . meta l4proto . th "
                          "dport != @port-1-4 counter drop",
                          "meta nfproto ipv6 counter drop"));
}

TEST(Render, NamedPortAlternativeWithAMissingSetIsDropped) {
  const SetExists only_v4 = [](const std::string& name) { return name.ends_with("-4"); };
  calc::CompiledRule rule;
  rule.protocol = 6;
  rule.destination.named_port_sets = {"port-1"};
  // Only the named port: no IPv6 rule at all, rather than one that matches any port.
  EXPECT_THAT(Texts(RenderProgram("p", ProgramOf({rule}), "x", only_v4)),
              ElementsAre("meta nfproto ipv4 meta l4proto tcp ip daddr . meta l4proto . th dport "
                          "@port-1-4 counter accept"));
  rule.destination.ports = {{8080, 8080}};
  EXPECT_THAT(Texts(RenderProgram("p", ProgramOf({rule}), "x", only_v4)),
              ElementsAre("meta nfproto ipv4 meta l4proto tcp th dport 8080 counter accept",
                          "meta nfproto ipv4 meta l4proto tcp ip daddr . meta l4proto . th dport "
                          "@port-1-4 counter accept",
                          "meta nfproto ipv6 meta l4proto tcp th dport 8080 counter accept"));
}

TEST(Render, FamilyNeutralRuleIsOneRule) {
  calc::CompiledRule rule;
  rule.protocol = 6;
  rule.destination.ports = {{85, 100}, {80, 80}, {81, 90}, {200, 200}};
  ChainDef chain = RenderProgram("p", ProgramOf({rule}), "tabby-packet");
  // Overlapping ranges merge: an anonymous interval set must not hold overlaps.
  EXPECT_THAT(Texts(chain),
              ElementsAre("meta l4proto tcp th dport { 80-100, 200 } counter accept"));
}

TEST(Render, NetsKeepOnlyTheirFamilyAndDropCoveredPrefixes) {
  calc::CompiledRule rule;
  rule.action = model::Action::kDeny;
  rule.source.nets = {Net("198.51.100.0/24"), Net("198.51.100.7/32"), Net("2001:db8::/64")};
  ChainDef chain = RenderProgram("p", ProgramOf({rule}), "tabby-packet");
  EXPECT_THAT(Texts(chain), ElementsAre("meta nfproto ipv4 ip saddr 198.51.100.0/24 counter drop",
                                        "meta nfproto ipv6 ip6 saddr 2001:db8::/64 counter drop"));
  rule.ip_version = 4;
  EXPECT_THAT(RenderProgram("p", ProgramOf({rule}), "x").rules, SizeIs(1));
}

TEST(Render, NamedPortsAreSetLookupsOrEdWithNumericPorts) {
  calc::CompiledRule rule;
  rule.protocol = 6;
  rule.destination.ports = {{8080, 8080}};
  rule.destination.named_port_sets = {"port-1"};
  ChainDef chain = RenderProgram("p", ProgramOf({rule}), "tabby-packet");
  EXPECT_THAT(
      Texts(chain),
      ElementsAre(
          "meta nfproto ipv4 meta l4proto tcp th dport 8080 counter accept",
          "meta nfproto ipv4 meta l4proto tcp ip daddr . meta l4proto . th dport @port-1-4 "
          "counter accept",
          "meta nfproto ipv6 meta l4proto tcp th dport 8080 counter accept",
          "meta nfproto ipv6 meta l4proto tcp ip6 daddr . meta l4proto . th dport @port-1-6 "
          "counter accept"));
}

TEST(Render, IcmpIsPerFamily) {
  calc::CompiledRule v4;
  v4.protocol = 1;
  v4.icmp = calc::IcmpCriterion{8, -1};
  calc::CompiledRule v6;
  v6.protocol = 58;
  v6.icmp = calc::IcmpCriterion{128, 0};
  ChainDef chain = RenderProgram("p", ProgramOf({v4, v6}), "tabby-packet");
  EXPECT_THAT(Texts(chain),
              ElementsAre("meta nfproto ipv4 meta l4proto icmp icmp type 8 counter accept",
                          "meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 128 icmpv6 code 0 "
                          "counter accept"));
}

TEST(Render, PassSetsTheMarkAndReturns) {
  calc::CompiledRule rule;
  rule.action = model::Action::kPass;
  ChainDef chain = RenderProgram("p", ProgramOf({rule}), "tabby-packet");
  EXPECT_THAT(Texts(chain), ElementsAre("counter meta mark set meta mark | 0x00200000 return"));
}

TEST(Render, LogPrefixNamesTheProgram) {
  calc::CompiledRule rule;
  rule.action = model::Action::kLog;
  ChainDef chain = RenderProgram("gnp.x.in", ProgramOf({rule}), "tabby-packet");
  EXPECT_THAT(Texts(chain), ElementsAre("log prefix \"tabby-packet gnp.x.in \""));
}

TEST(Render, EndpointWithoutPoliciesGoesToProfilesOrDefault) {
  calc::EndpointProgram endpoint;
  endpoint.interface_name = "tabbya";
  endpoint.egress.default_allow = false;
  endpoint.ingress.profiles = {"pro.p.in"};
  std::vector<ChainDef> chains = RenderEndpointChains(endpoint);
  ASSERT_THAT(chains, SizeIs(4));
  EXPECT_THAT(Texts(*FindChain(chains, "fw-tabbya")), ElementsAre("goto fwp-tabbya"));
  EXPECT_THAT(Texts(*FindChain(chains, "fwp-tabbya")),
              ElementsAre("counter name \"drop-default-deny\" drop"));
  EXPECT_THAT(Texts(*FindChain(chains, "twp-tabbya")),
              ElementsAre("jump pro.p.in", "counter name \"drop-no-profile-allowed\" drop"));
  endpoint.egress.default_allow = true;
  EXPECT_THAT(Texts(*FindChain(RenderEndpointChains(endpoint), "fwp-tabbya")),
              ElementsAre("accept"));
}

TEST(Render, EndpointPoliciesInOrderThenEndOfTier) {
  calc::EndpointProgram endpoint;
  endpoint.interface_name = "tabbyb";
  endpoint.ingress.policies = {"gnp.first.in", "gnp.second.in"};
  std::vector<ChainDef> chains = RenderEndpointChains(endpoint);
  EXPECT_THAT(Texts(*FindChain(chains, "tw-tabbyb")),
              ElementsAre("meta mark set meta mark & 0xffdfffff", "jump gnp.first.in",
                          "meta mark & 0x00200000 != 0 goto twp-tabbyb", "jump gnp.second.in",
                          "meta mark & 0x00200000 != 0 goto twp-tabbyb",
                          "counter name \"drop-no-policy-allowed\" drop"));
}

TEST(Render, SourceElementsPerFamilyIncludingAllowedPrefixes) {
  calc::EndpointProgram endpoint;
  endpoint.interface_name = "tabbya";
  endpoint.allowed_sources = {Net("198.51.100.1/32"), Net("2001:db8::1/128"),
                              Net("203.0.113.9/24")};
  EXPECT_THAT(SourceElements(endpoint, 4),
              ElementsAre("\"tabbya\" . 198.51.100.1", "\"tabbya\" . 203.0.113.0/24"));
  EXPECT_THAT(SourceElements(endpoint, 6), ElementsAre("\"tabbya\" . 2001:db8::1"));
}

TEST(Render, ElementTextIsCanonical) {
  EXPECT_EQ(AddressElement(Ip("2001:db8:0:0::1")), "2001:db8::1");
  EXPECT_EQ(PortElement({Ip("198.51.100.2"), 17, 53}), "198.51.100.2 . 17 . 53");
  EXPECT_EQ(InterfaceAddressElement("tabbya", Net("203.0.113.9/24")),
            "\"tabbya\" . 203.0.113.0/24");
}

// ---------------------------------------------------------------------------------------------
// Kernel listing

TEST(HookSignature, NamedAndOffsetPriorities) {
  EXPECT_EQ(HookSignature("type filter hook forward priority filter + 10; policy accept;"),
            "filter/forward/10/accept");
  EXPECT_EQ(HookSignature("type filter hook prerouting priority raw; policy accept;"),
            "filter/prerouting/-300/accept");
  EXPECT_EQ(HookSignature("type filter hook input priority mangle - 5; policy drop;"),
            "filter/input/-155/drop");
  EXPECT_EQ(HookSignature("type filter hook output priority 20; policy accept;"),
            "filter/output/20/accept");
}

// `nft -j list table inet tabby` of nftables 1.0.6, captured from a real kernel.
constexpr char kCapturedListing[] =
    R"json({"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "tabby", "handle": 1}}, {"counter": {"family": "inet", "name": "drop-spoofed-source", "table": "tabby", "handle": 1, "packets": 0, "bytes": 0}}, {"set": {"family": "inet", "name": "wl-src4", "table": "tabby", "type": ["ifname", "ipv4_addr"], "handle": 2, "flags": ["interval"], "elem": [{"concat": ["tabbya", "198.51.100.1"]}, {"concat": ["tabbya", {"prefix": {"addr": "203.0.113.0", "len": 24}}]}]}}, {"set": {"family": "inet", "name": "wl-src6", "table": "tabby", "type": ["ifname", "ipv6_addr"], "handle": 3, "flags": ["interval"], "elem": [{"concat": ["tabbya", "2001:db8::1"]}]}}, {"set": {"family": "inet", "name": "sel-1234-4", "table": "tabby", "type": "ipv4_addr", "handle": 4, "elem": ["198.51.100.1", "198.51.100.2"]}}, {"set": {"family": "inet", "name": "port-5678-6", "table": "tabby", "type": ["ipv6_addr", "inet_proto", "inet_service"], "handle": 5, "elem": [{"concat": ["2001:db8::2", "tcp", 8081]}, {"concat": ["2001:db8::2", "udp", 5354]}]}}, {"map": {"family": "inet", "name": "from-wl", "table": "tabby", "type": "ifname", "handle": 6, "map": "verdict", "elem": [["tabbya", {"goto": {"target": "fw-tabbya"}}]]}}, {"chain": {"family": "inet", "table": "tabby", "name": "prerouting", "handle": 7, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}}, {"chain": {"family": "inet", "table": "tabby", "name": "forward-ingress", "handle": 8, "type": "filter", "hook": "forward", "prio": 10, "policy": "accept"}}, {"chain": {"family": "inet", "table": "tabby", "name": "fw-tabbya", "handle": 9}}, {"rule": {"family": "inet", "table": "tabby", "chain": "prerouting", "handle": 10, "comment": "tabby:00000000000000aa", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "tabby*"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "tabby", "chain": "forward-ingress", "handle": 11, "comment": "tabby:00000000000000bb", "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "tabby", "chain": "forward-ingress", "handle": 12, "comment": "tabby:00000000000000cc", "expr": [{"vmap": {"key": {"meta": {"key": "oifname"}}, "data": "@from-wl"}}]}}, {"rule": {"family": "inet", "table": "tabby", "chain": "fw-tabbya", "handle": 13, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}}]})json";

TEST(ParseKernelTable, ReadsACapturedListingInTheRenderersCanonicalText) {
  auto parsed = ParseKernelTable(kCapturedListing);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const KernelTable& table = *parsed;
  EXPECT_TRUE(table.exists);
  EXPECT_THAT(table.counters, ElementsAre(kCounterSpoofed));

  // Base chains: the signature the renderer's hook clause maps to.
  EXPECT_EQ(table.chains.at("prerouting").hook,
            HookSignature(FindChain(BaseChains(), "prerouting")->hook));
  EXPECT_EQ(table.chains.at("forward-ingress").hook,
            HookSignature(FindChain(BaseChains(), "forward-ingress")->hook));
  EXPECT_EQ(table.chains.at("fw-tabbya").hook, "");
  EXPECT_THAT(table.chains.at("forward-ingress").hashes,
              ElementsAre("00000000000000bb", "00000000000000cc"));
  // A rule without our comment (someone else's) has no hash, so it never matches a desired rule.
  EXPECT_THAT(table.chains.at("fw-tabbya").hashes, ElementsAre(""));

  // Elements read back exactly as the renderer writes them.
  calc::EndpointProgram a;
  a.interface_name = "tabbya";
  a.allowed_sources = {Net("198.51.100.1/32"), Net("203.0.113.0/24"), Net("2001:db8::1/128")};
  auto v4 = SourceElements(a, 4);
  auto v6 = SourceElements(a, 6);
  EXPECT_EQ(table.sets.at(kSourceSet4), std::set<std::string>(v4.begin(), v4.end()));
  EXPECT_EQ(table.sets.at(kSourceSet6), std::set<std::string>(v6.begin(), v6.end()));
  EXPECT_EQ(table.sets.at("sel-1234-4"),
            (std::set<std::string>{AddressElement(Ip("198.51.100.1")),
                                   AddressElement(Ip("198.51.100.2"))}));
  EXPECT_EQ(table.sets.at("port-5678-6"),
            (std::set<std::string>{PortElement({Ip("2001:db8::2"), 6, 8081}),
                                   PortElement({Ip("2001:db8::2"), 17, 5354})}));
  EXPECT_EQ(table.set_types.at("port-5678-6"), "ipv6_addr . inet_proto . inet_service");
  EXPECT_EQ(table.maps.at(kFromWorkloadMap).at("\"tabbya\""), "goto fw-tabbya");
}

TEST(ParseKernelTable, UnknownElementsNeverEqualDesiredOnes) {
  auto parsed = ParseKernelTable(
      R"({"nftables": [{"set": {"name": "s", "type": "ipv4_addr",
          "elem": [{"range": ["198.51.100.1", "198.51.100.9"]}]}}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_THAT(parsed->sets.at("s"), SizeIs(1));
  EXPECT_THAT(*parsed->sets.at("s").begin(), StartsWith("?"));
}

TEST(ParseKernelTable, RejectsGarbage) {
  EXPECT_FALSE(ParseKernelTable("not json").ok());
  EXPECT_FALSE(ParseKernelTable(R"({"something": []})").ok());
}

// ---------------------------------------------------------------------------------------------
// NftDataplane through a fake client

// Serializes a KernelTable the way `nft -j list table` prints one, so the fake can play a
// kernel that holds exactly what the dataplane believes it programmed.
nlohmann::json AddressJson(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return text;
  return {
      {"prefix", {{"addr", text.substr(0, slash)}, {"len", std::stoi(text.substr(slash + 1))}}}};
}

nlohmann::json ElementJson(const std::string& text) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t dot = text.find(" . ", start);
    parts.push_back(text.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 3;
  }
  if (parts.size() == 1) return AddressJson(parts[0]);
  if (parts.size() == 2) {  // "ifname" . address
    return {{"concat", {parts[0].substr(1, parts[0].size() - 2), AddressJson(parts[1])}}};
  }
  int protocol = std::stoi(parts[1]);
  nlohmann::json name = protocol == 6    ? nlohmann::json("tcp")
                        : protocol == 17 ? nlohmann::json("udp")
                                         : nlohmann::json(protocol);
  return {{"concat", {parts[0], name, std::stoi(parts[2])}}};
}

std::string ListingOf(const KernelTable& table) {
  using nlohmann::json;
  json objects = json::array();
  objects.push_back({{"table", {{"family", "inet"}, {"name", "tabby"}}}});
  for (const auto& name : table.counters) objects.push_back({{"counter", {{"name", name}}}});
  for (const auto& [name, elements] : table.sets) {
    json set = {{"name", name}, {"type", "ipv4_addr"}};
    if (!elements.empty()) {
      set["elem"] = json::array();
      for (const auto& e : elements) set["elem"].push_back(ElementJson(e));
    }
    objects.push_back({{"set", set}});
  }
  for (const auto& [name, elements] : table.maps) {
    // Interface names are quoted in the mirror, addresses are not.
    const bool by_name = name == kFromWorkloadMap || name == kToWorkloadMap;
    json map = {{"name", name}, {"type", by_name ? "ifname" : "ipv4_addr"}, {"map", "verdict"}};
    if (!elements.empty()) {
      map["elem"] = json::array();
      for (const auto& [key, verdict] : elements) {
        size_t space = verdict.find(' ');
        map["elem"].push_back(
            json::array({by_name ? key.substr(1, key.size() - 2) : key,
                         {{verdict.substr(0, space), {{"target", verdict.substr(space + 1)}}}}}));
      }
    }
    objects.push_back({{"map", map}});
  }
  for (const auto& [name, chain] : table.chains) {
    json c = {{"name", name}};
    if (!chain.hook.empty()) {
      std::vector<std::string> f;
      for (size_t start = 0;;) {
        size_t slash = chain.hook.find('/', start);
        f.push_back(chain.hook.substr(start, slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
      c.update({{"type", f[0]}, {"hook", f[1]}, {"prio", std::stoi(f[2])}, {"policy", f[3]}});
    }
    objects.push_back({{"chain", c}});
  }
  for (const auto& [name, chain] : table.chains) {
    for (const auto& hash : chain.hashes) {
      json rule = {{"chain", name}};
      if (!hash.empty()) rule["comment"] = "tabby:" + hash;
      objects.push_back({{"rule", rule}});
    }
  }
  return json({{"nftables", objects}}).dump();
}

// What a committed transaction leaves in the kernel, in the mirror's terms.
void ApplyToTable(const NftTransaction& transaction, KernelTable& table) {
  for (const NftOp& op : transaction.ops) {
    switch (op.kind) {
      case NftOp::Kind::kAddTable:
        table.exists = true;
        break;
      case NftOp::Kind::kAddCounter:
        table.counters.insert(op.name);
        break;
      case NftOp::Kind::kAddSet:
        table.sets[op.name];
        break;
      case NftOp::Kind::kAddMap:
        table.maps[op.name];
        break;
      case NftOp::Kind::kAddChain:
        table.chains[op.name].hook = op.hook.empty() ? "" : HookSignature(op.hook);
        break;
      case NftOp::Kind::kFlushChain:
        table.chains[op.name].hashes.clear();
        break;
      case NftOp::Kind::kDeleteChain:
        table.chains.erase(op.name);
        break;
      case NftOp::Kind::kDeleteSet:
        table.sets.erase(op.name);
        table.maps.erase(op.name);
        break;
      case NftOp::Kind::kAddRule:
        table.chains[op.name].hashes.push_back(op.rule.hash);
        break;
      case NftOp::Kind::kAddElements:
        for (size_t i = 0; i < op.elements.size(); ++i) {
          if (table.maps.contains(op.name)) {
            table.maps[op.name][op.elements[i]] = op.verdicts[i];
          } else {
            table.sets[op.name].insert(op.elements[i]);
          }
        }
        break;
      case NftOp::Kind::kDeleteElements:
        for (const auto& e : op.elements) {
          if (table.maps.contains(op.name)) {
            table.maps[op.name].erase(e);
          } else {
            table.sets[op.name].erase(e);
          }
        }
        break;
    }
  }
}

// Records every script and keeps what the committed ones left (`kernel`); serves `listing`
// (nullopt: no table yet); fails the next Run on demand.
class FakeNftClient final : public NftClient {
 public:
  absl::Status Commit(const NftTransaction& transaction) override {
    RETURN_IF_ERROR(Run(transaction.Script()));
    ApplyToTable(transaction, kernel);
    return absl::OkStatus();
  }
  absl::Status Run(const std::string& script) override {
    scripts.push_back(script);
    if (!fail_next.ok()) {
      absl::Status status = fail_next;
      fail_next = absl::OkStatus();
      return status;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                           const std::string& name) override {
    lists++;
    return listing;
  }

  std::vector<std::string> scripts;
  KernelTable kernel;
  std::optional<std::string> listing;
  absl::Status fail_next = absl::OkStatus();
  int lists = 0;
};

std::vector<std::string> Lines(const std::string& script) {
  std::vector<std::string> out;
  for (size_t start = 0; start < script.size();) {
    size_t end = script.find('\n', start);
    if (end == std::string::npos) end = script.size();
    out.push_back(script.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

class NftDataplaneFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"a", "b", "c"}) calc_.Upsert(EndpointOf(name, {{"app", name}}));
    calc_.Upsert(calc::testing::GlobalPolicy("b-from-a", "app == 'b'",
                                             {calc::testing::RuleAllowFrom("app == 'a'")}));
    calc_.Flush();
  }

  // A local endpoint with interface tabby<name> and addresses 198.51.100.N, 2001:db8::N.
  static model::Resource EndpointOf(const std::string& name, model::Labels labels) {
    int n = name[0] - 'a' + 1;
    model::Resource r =
        calc::testing::Endpoint(name, kNode, fmt::format("198.51.100.{}", n), std::move(labels));
    r.workload_endpoint().ip_networks.push_back(fmt::format("2001:db8::{}/128", n));
    return r;
  }

  // The state's one IP set (the policy's source selector).
  std::string SelectorSetId() const {
    EXPECT_THAT(calc_.state().ip_sets, SizeIs(1));
    return calc_.state().ip_sets.begin()->first;
  }

  calc::Calculator calc_{kNode};
  FakeNftClient client_;
};

TEST_F(NftDataplaneFakeTest, FirstSyncCreatesEverythingInOneTransaction) {
  NftDataplane dataplane(client_);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  ASSERT_THAT(client_.scripts, SizeIs(1));
  std::vector<std::string> lines = Lines(client_.scripts[0]);
  EXPECT_EQ(lines.front(), "add table inet tabby");
  EXPECT_THAT(client_.scripts[0], Not(HasSubstr("flush table")));
  EXPECT_THAT(client_.scripts[0], Not(HasSubstr("delete")));
  EXPECT_THAT(client_.scripts[0],
              HasSubstr("add element inet tabby from-wl { \"tabbyb\" : goto fw-tabbyb }"));
  EXPECT_THAT(client_.scripts[0], HasSubstr(fmt::format("add element inet tabby {}-4 {{ "
                                                        "198.51.100.1 }}",
                                                        SelectorSetId())));
  // A chain is created before any rule jumps to it.
  auto position = [&](const std::string& text) { return client_.scripts[0].find(text); };
  EXPECT_LT(position("add chain inet tabby gnp.b-from-a.in\n"), position("jump gnp.b-from-a.in"));
  EXPECT_EQ(dataplane.stats().transactions, 1u);
}

TEST_F(NftDataplaneFakeTest, SecondSyncWithTheSameStateWritesNothing) {
  NftDataplane dataplane(client_);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  client_.listing = ListingOf(client_.kernel);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  EXPECT_THAT(client_.scripts, SizeIs(1));
  EXPECT_EQ(client_.lists, 2);  // every Sync reads the kernel

  // Neither does a restarted agent that finds the table in the kernel.
  NftDataplane restarted(client_);
  ASSERT_TRUE(restarted.Sync(calc_.state()).ok());
  EXPECT_THAT(client_.scripts, SizeIs(1));
  EXPECT_EQ(restarted.stats().transactions, 0u);
}

TEST_F(NftDataplaneFakeTest, SyncRemovesWhatIsNoLongerWantedAndRewritesOnlyChangedChains) {
  NftDataplane dataplane(client_);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  KernelTable kernel = client_.kernel;
  kernel.chains["gnp.gone.in"].hashes = {"0123"};
  kernel.sets["sel-gone-4"] = {"198.51.100.9"};
  kernel.maps[kFromWorkloadMap]["\"tabbygone\""] = "goto fw-tabbygone";
  kernel.chains["fw-tabbya"].hashes = {"stale"};
  client_.listing = ListingOf(kernel);

  NftDataplane restarted(client_);
  ASSERT_TRUE(restarted.Sync(calc_.state()).ok());
  ASSERT_THAT(client_.scripts, SizeIs(2));
  EXPECT_THAT(
      Lines(client_.scripts[1]),
      ElementsAre("flush chain inet tabby fw-tabbya",
                  "add rule inet tabby fw-tabbya goto fwp-tabbya comment \"tabby:" +
                      MakeRule({Verdict(NftVerdict::kGoto, "fwp-tabbya")}).hash + "\"",
                  "delete element inet tabby from-wl { \"tabbygone\" }",
                  "flush chain inet tabby gnp.gone.in", "delete chain inet tabby gnp.gone.in",
                  "delete set inet tabby sel-gone-4"));
}

TEST_F(NftDataplaneFakeTest, OneMemberChangeIsOneElementCommand) {
  NftDataplane dataplane(client_);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  client_.scripts.clear();
  std::string id = SelectorSetId();
  // The kernel holds the members; the mirror keeps no copy of them (calc's state has them).
  EXPECT_THAT(client_.kernel.sets.at(id + "-4"), ElementsAre("198.51.100.1"));
  EXPECT_THAT(dataplane.mirror().sets.at(id + "-4"), IsEmpty());

  // One address leaves the selector's set: one command, nothing else.
  calc::Delta removal;
  removal.ip_members_removed[id] = {Ip("198.51.100.1")};
  calc::DesiredState after = calc_.state();
  calc::Apply(removal, after);
  ASSERT_TRUE(dataplane.Apply(removal, after).ok());
  ASSERT_THAT(client_.scripts, SizeIs(1));
  EXPECT_EQ(client_.scripts[0],
            fmt::format("delete element inet tabby {}-4 {{ 198.51.100.1 }}\n", id));

  // Through calc: c becomes a client of b. Its two addresses join the set's two family halves,
  // one command each; no chain, map or other set is touched.
  calc_.Upsert(EndpointOf("c", {{"app", "a"}}));
  calc::Delta delta = calc_.Flush();
  ASSERT_TRUE(dataplane.Apply(delta, calc_.state()).ok());
  ASSERT_THAT(client_.scripts, SizeIs(2));
  EXPECT_EQ(client_.scripts[1], fmt::format("add element inet tabby {0}-4 {{ 198.51.100.3 }}\n"
                                            "add element inet tabby {0}-6 {{ 2001:db8::3 }}\n",
                                            id));
  EXPECT_EQ(dataplane.stats().full_syncs, 1u);
}

TEST_F(NftDataplaneFakeTest, EmptyDeltaWritesNothing) {
  NftDataplane dataplane(client_);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  ASSERT_TRUE(dataplane.Apply(calc::Delta{}, calc_.state()).ok());
  EXPECT_THAT(client_.scripts, SizeIs(1));
}

TEST_F(NftDataplaneFakeTest, FailedTransactionLeadsToAFullSyncFromTheKernel) {
  NftDataplane dataplane(client_);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  client_.listing = ListingOf(client_.kernel);

  calc_.Upsert(EndpointOf("c", {{"app", "a"}}));
  calc::Delta delta = calc_.Flush();
  client_.fail_next = absl::InternalError("injected");
  EXPECT_FALSE(dataplane.Apply(delta, calc_.state()).ok());
  EXPECT_EQ(dataplane.stats().failures, 1u);

  // The kernel still holds the old state: the next call re-reads it and converges.
  calc_.Upsert(calc::testing::Endpoint("d", "other-node", "198.51.100.4", {{"app", "x"}}));
  ASSERT_TRUE(dataplane.Apply(calc_.Flush(), calc_.state()).ok());
  EXPECT_EQ(dataplane.stats().full_syncs, 2u);
  EXPECT_THAT(client_.scripts.back(), HasSubstr("198.51.100.3"));
}

TEST_F(NftDataplaneFakeTest, EndpointRemovalDeletesItsChainsAfterItsMapEntries) {
  NftDataplane dataplane(client_);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  client_.scripts.clear();
  calc_.Remove(model::Kind::kWorkloadEndpoint, "default", "c");
  ASSERT_TRUE(dataplane.Apply(calc_.Flush(), calc_.state()).ok());
  ASSERT_THAT(client_.scripts, SizeIs(1));
  const std::string& script = client_.scripts[0];
  EXPECT_THAT(script, HasSubstr("delete element inet tabby from-wl { \"tabbyc\" }"));
  EXPECT_THAT(script, HasSubstr("delete element inet tabby wl-src4 { \"tabbyc\" . 198.51.100.3 }"));
  EXPECT_THAT(script, HasSubstr("delete element inet tabby wl-src6 { \"tabbyc\" . 2001:db8::3 }"));
  EXPECT_LT(script.find("delete element inet tabby to-wl { \"tabbyc\" }"),
            script.find("delete chain inet tabby tw-tabbyc"));
  EXPECT_THAT(dataplane.mirror().chains, Not(::testing::Contains(::testing::Key("fw-tabbyc"))));
}

}  // namespace
}  // namespace tabby::dataplane

namespace tabby::dataplane {
namespace {

std::vector<std::string> RuleTexts(const ChainDef& chain) {
  std::vector<std::string> texts;
  for (const auto& rule : chain.rules) texts.push_back(rule.text);
  return texts;
}

TEST(RenderHostChains, DispatchByInterfaceThenAddressThenAllInterfacesLast) {
  calc::HostProtection host;
  host.endpoint_to_host = calc::EndpointToHost::kReturn;
  host.failsafe_inbound = {{6, 22}, {17, 68}};
  calc::EndpointProgram all, eth0, by_address;
  all.interface_name = "*";
  all.ingress.default_allow = false;
  eth0.interface_name = "eth0";
  by_address.addresses = {*IpNetwork::Parse("192.0.2.9/32")};
  host.endpoints = {{"a-all", all}, {"b-eth0", eth0}, {"c-addr", by_address}};
  std::vector<ChainDef> chains = RenderHostChains(host);
  ASSERT_EQ(chains.size(), 14u);  // four per host endpoint, then the two base chains
  EXPECT_TRUE(IsHostEndpointChain(chains[0].name));
  const ChainDef& input = chains[12];
  EXPECT_EQ(input.name, "input-host");
  EXPECT_THAT(RuleTexts(input),
              ElementsAre("ct state established,related accept", "iifname \"lo\" accept",
                          HasSubstr("nd-neighbor-solicit"), "iifname \"tabby*\" goto th-a-all",
                          "meta l4proto . th dport { tcp . 22, udp . 68 } accept",
                          "iifname \"eth0\" goto th-b-eth0", "ip daddr 192.0.2.9 goto th-c-addr",
                          "goto th-a-all"));
  const ChainDef& output = chains[13];
  EXPECT_EQ(output.name, "output-host");
  EXPECT_THAT(RuleTexts(output), Not(Contains(HasSubstr("th dport"))))
      << "no outbound failsafe ports configured";
  // A host endpoint without policy or profile: closed.
  EXPECT_EQ(chains[1].name, "thp-a-all");
  EXPECT_THAT(RuleTexts(chains[1]), ElementsAre("counter name \"drop-default-deny\" drop"));
}

}  // namespace
}  // namespace tabby::dataplane

namespace tabby::dataplane {
namespace {

// The binary keys of set elements, as the kernel stores them for `type ipv4_addr`, `type
// ipv6_addr` and `type ipvN_addr . inet_proto . inet_service` (each field padded to 4 bytes).
TEST(ElementKey, AddressesAndConcatenations) {
  using Bytes = std::vector<uint8_t>;
  EXPECT_EQ(ElementKey("198.51.100.7"), (Bytes{198, 51, 100, 7}));
  EXPECT_EQ(ElementKey("2001:db8::1"),
            (Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(ElementKey("10.0.0.1 . 6 . 8080"), (Bytes{10, 0, 0, 1, 6, 0, 0, 0, 0x1f, 0x90, 0, 0}));
  EXPECT_EQ(ElementKey(PortElement({*IpAddress::Parse("2001:db8::2"), 17, 53}))->size(), 24u);
  for (const char* text :
       {"", "tabbya", "\"tabbya\" . 10.0.0.1", "10.0.0.1 . 6", "10.0.0.1 . 256 . 1",
        "10.0.0.1 . 6 . 65536", "10.0.0.1 . x . 1", "10.0.0.0/24"}) {
    EXPECT_EQ(ElementKey(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace tabby::dataplane

namespace tabby::dataplane {
namespace {

// Peer dispatch (nft_render.h): a local endpoint b with kDispatchMinimumGated + 1 policies, the
// K-th allowing from `app == 'pK'`, and remote peers r1 (p1) and r2 (p2).
class PeerDispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    calc_.Upsert(calc::testing::Endpoint("b", kNode, "198.51.100.2", {{"app", "b"}}));
    calc_.Upsert(calc::testing::Endpoint("r1", "other", "198.51.100.11", {{"app", "p1"}}));
    calc_.Upsert(calc::testing::Endpoint("r2", "other", "198.51.100.12", {{"app", "p2"}}));
    for (size_t k = 0; k <= kDispatchMinimumGated; ++k) {
      model::Resource policy = calc::testing::GlobalPolicy(
          fmt::format("p{}", k), "app == 'b'",
          {calc::testing::RuleAllowFrom(fmt::format("app == 'p{}'", k))});
      policy.policy().order = static_cast<double>(k);
      calc_.Upsert(policy);
    }
    calc_.Flush();
  }

  calc::Calculator calc_{kNode};
};

TEST_F(PeerDispatchTest, PlanNeedsEnoughGatedPrograms) {
  const calc::DesiredState& state = calc_.state();
  const auto& policies = state.endpoints.begin()->second.ingress.policies;
  ASSERT_EQ(policies.size(), kDispatchMinimumGated + 1);
  std::optional<DispatchRun> run = PlanDispatch(policies, /*ingress=*/true, state);
  ASSERT_TRUE(run.has_value());
  EXPECT_THAT(run->id, StartsWith("dsp-"));
  EXPECT_EQ(PlanDispatch(policies, true, state)->id, run->id);   // stable
  EXPECT_NE(PlanDispatch(policies, false, state)->id, run->id);  // per direction
  EXPECT_FALSE(
      PlanDispatch(std::vector<std::string>(policies.begin(), policies.end() - 2), true, state)
          .has_value());
  // r1 may match only p1's program; an address in no gate set, nothing (then the ungated
  // programs, here none, are all that run).
  EXPECT_THAT(DispatchClass(*run, Ip("198.51.100.11"), state), ElementsAre(policies[1]));
  EXPECT_THAT(DispatchClass(*run, Ip("198.51.100.99"), state), IsEmpty());
  EXPECT_THAT(DispatchPeers(*run, state, 4), SizeIs(2));
  EXPECT_THAT(Texts(RenderClassChain({policies[1]})),
              ElementsAre("jump " + policies[1], "meta mark & 0x00200000 != 0 return"));
}

TEST_F(PeerDispatchTest, APeerChangingLabelsMovesOnlyItsMapEntry) {
  FakeNftClient client;
  NftDataplane dataplane(client);
  ASSERT_TRUE(dataplane.Sync(calc_.state()).ok());
  ASSERT_THAT(client.scripts, SizeIs(1));
  EXPECT_THAT(client.scripts[0], HasSubstr(": verdict; }"));
  EXPECT_THAT(client.scripts[0], HasSubstr("198.51.100.11 : goto cls-"));
  EXPECT_THAT(client.scripts[0], HasSubstr("add rule inet tabby tw-tabbyb jump dsp-"));
  client.scripts.clear();

  // r1 moves from p1 to p2: its two selector sets change, its map entry changes class (p2's
  // class chain exists already, r2 uses it; p1's is left without users). The endpoint's chains
  // and the programs stay as they are.
  calc_.Upsert(calc::testing::Endpoint("r1", "other", "198.51.100.11", {{"app", "p2"}}));
  ASSERT_TRUE(dataplane.Apply(calc_.Flush(), calc_.state()).ok());
  ASSERT_THAT(client.scripts, SizeIs(1));
  const std::string& script = client.scripts[0];
  EXPECT_THAT(script, Not(HasSubstr("tw-tabbyb")));
  EXPECT_THAT(script, Not(HasSubstr("add chain")));
  EXPECT_THAT(script, Not(HasSubstr("add rule")));
  EXPECT_THAT(script, HasSubstr("delete element inet tabby dsp-"));
  EXPECT_THAT(script, HasSubstr("198.51.100.11 : goto cls-"));
  EXPECT_THAT(script, HasSubstr("delete chain inet tabby cls-"));  // p1's, unused now
  EXPECT_EQ(dataplane.stats().full_syncs, 1u);

  // A restart over what the kernel holds writes nothing.
  client.listing = ListingOf(client.kernel);
  NftDataplane restarted(client);
  ASSERT_TRUE(restarted.Sync(calc_.state()).ok());
  EXPECT_EQ(restarted.stats().transactions, 0u) << client.scripts.back();
}

}  // namespace
}  // namespace tabby::dataplane
