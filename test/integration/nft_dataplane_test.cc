// The nftables dataplane against the real kernel: a host network namespace with workloads wired
// as tabby wires them, policy computed by calc::Calculator from resources, programmed by
// NftDataplane in-process inside the host namespace, and checked with real packets
// (tabby-probe, ping) between the workloads.
//
// A "blocked" check requires the probe to time out (a drop), not to be refused (no server), so
// a wrong port or a missing server cannot pass for a working policy. Needs root; skips loudly.
#include "dataplane/nft_dataplane.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "base/status_macros.h"
#include "calc/calculator.h"
#include "calc/test_resources.h"
#include "dataplane/netlink.h"
#include "dataplane/nft_client.h"
#include "dataplane/nft_render.h"
#include "support/process.h"
#include "support/root.h"
#include "support/temp_dir.h"
#include "support/topology.h"
#include "support/wait.h"

namespace tabby::dataplane {
namespace {

using std::chrono::milliseconds;
using test::ChildProcess;
using test::CommandResult;
using test::Host;
using test::Workload;

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    absl::Status assert_ok_status_ = (expr);                  \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_; \
  } while (0)

constexpr char kNode[] = "host1";
constexpr char kProbe[] = TABBY_PROBE_PATH;
// Every workload serves these.
constexpr char kTcpPorts[] = "8080,8081,9090";
constexpr char kUdpPorts[] = "5353,5354,6000";
constexpr int kSinkPort = 7000;
// Probes to this target name go to the host's own addresses.
constexpr char kHostName[] = "host";
constexpr char kHostIpv4[] = "192.0.2.1";
constexpr char kHostIpv6[] = "2001:db8:ff::1";
// Expected-allowed probes get a generous deadline (a noisy machine must not fail them); expected-
// denied ones a short one (a drop can only show as the absence of an answer).
constexpr int kAllowedTimeoutMs = 5000;
constexpr int kDeniedTimeoutMs = 300;

enum class Proto { kTcp, kUdp };

struct Probe {
  int port = 8080;
  Proto proto = Proto::kTcp;
  int family = 4;
  std::string source;  // bind to this source address
};

model::Rule Allow() { return model::Rule{}; }

model::Rule WithProtocol(model::Rule rule, uint8_t number, const char* name) {
  rule.protocol = model::Protocol{number, name};
  return rule;
}

model::Resource EgressPolicy(const std::string& name, const std::string& selector,
                             std::vector<model::Rule> egress) {
  model::Resource r = model::MakeResource(model::Kind::kGlobalNetworkPolicy, name);
  r.policy().selector = selector;
  r.policy().types = {model::PolicyType::kEgress};
  r.policy().egress = std::move(egress);
  return r;
}

// Passes transactions on to the real client and keeps them.
class RecordingClient final : public NftClient {
 public:
  explicit RecordingClient(std::unique_ptr<NftClient> inner) : inner_(std::move(inner)) {}
  absl::Status Commit(const NftTransaction& transaction) override {
    committed.push_back(transaction);
    return inner_->Commit(transaction);
  }
  absl::Status Run(const std::string& script) override { return inner_->Run(script); }
  absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                           const std::string& name) override {
    return inner_->ListTableJson(family, name);
  }
  std::vector<NftTransaction> committed;

 private:
  std::unique_ptr<NftClient> inner_;
};

class NftDataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::RequireRoot();
    if (IsSkipped()) return;
    auto host = Host::Create();
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = std::move(*host);
    for (const char* name : {"a", "b", "c", "d"}) ASSERT_NO_FATAL_FAILURE(AddWorkload(name));
    // The host itself has addresses and a server too, for workload-to-host traffic.
    const test::ScopedNetns& host_netns = host_->netns();
    ASSERT_OK(
        host_netns.RunOk({"ip", "addr", "add", std::string(kHostIpv4) + "/32", "dev", "uplink0"}));
    ASSERT_OK(host_netns.RunOk(
        {"ip", "-6", "addr", "add", std::string(kHostIpv6) + "/128", "dev", "uplink0", "nodad"}));
    auto server = host_netns.Start({kProbe, "serve", "--tcp", kTcpPorts},
                                   {.env = {std::string("TABBY_PROBE_NAME=") + kHostName}});
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE((*server)->WaitForOutput("ready", milliseconds(10000))) << (*server)->Describe();
    servers_[kHostName] = std::move(*server);
  }

  // On failure (or with TABBY_DUMP_RULESET set), the host's ruleset, to see what was programmed.
  void TearDown() override {
    if (host_ == nullptr || (!HasFailure() && std::getenv("TABBY_DUMP_RULESET") == nullptr)) {
      return;
    }
    CommandResult r = host_->netns().Run({"nft", "list", "ruleset"});
    fmt::print(stderr, "--- nft list ruleset in host {}:\n{}{}---\n", host_->netns().name(), r.out,
               r.err);
  }

  // A workload named `name` (a, b, c, ... get addresses .1, .2, .3, ...) with servers running.
  void AddWorkload(const std::string& name) {
    int n = name[0] - 'a' + 1;
    auto workload =
        host_->AddWorkload(name, fmt::format("198.51.100.{}", n), fmt::format("2001:db8::{}", n));
    ASSERT_TRUE(workload.ok()) << workload.status();
    auto server = (*workload)->netns.Start({kProbe, "serve", "--tcp", kTcpPorts, "--udp", kUdpPorts,
                                            "--sink", std::to_string(kSinkPort)},
                                           {.env = {"TABBY_PROBE_NAME=" + name}});
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE((*server)->WaitForOutput("ready", milliseconds(10000))) << (*server)->Describe();
    servers_[name] = std::move(*server);
  }

  const Workload& W(const std::string& name) const { return host_->workload(name); }

  // The workload endpoint resource for `name`, as the CNI plugin would store it.
  model::Resource EndpointOf(const std::string& name, model::Labels labels) const {
    model::Resource r = calc::testing::Endpoint(name, kNode, W(name).ipv4, std::move(labels));
    r.workload_endpoint().ip_networks = W(name).networks();
    return r;
  }

  // Every default workload as an endpoint labelled app=<name>.
  void UpsertDefaultEndpoints() {
    for (const char* name : {"a", "b", "c", "d"}) calc_.Upsert(EndpointOf(name, {{"app", name}}));
  }

  // Flushes the calculator into the dataplane: the first time a full Sync (as at agent start),
  // then incremental Apply.
  absl::Status Program() {
    calc::Delta delta = calc_.Flush();
    ASSIGN_OR_RETURN(auto guard, NetnsGuard::Enter(host_->netns().path()));
    if (dataplane_ == nullptr) {
      client_ = std::make_unique<RecordingClient>(MakeLibNftablesClient());
      dataplane_ = std::make_unique<NftDataplane>(*client_);
      return dataplane_->Sync(calc_.state());
    }
    return dataplane_->Apply(delta, calc_.state());
  }

  // What an agent restart does: a new client and dataplane, which read the kernel and converge.
  absl::Status Restart(const calc::DesiredState& state) {
    ASSIGN_OR_RETURN(auto guard, NetnsGuard::Enter(host_->netns().path()));
    dataplane_.reset();
    client_.reset();
    client_ = std::make_unique<RecordingClient>(MakeLibNftablesClient());
    dataplane_ = std::make_unique<NftDataplane>(*client_);
    return dataplane_->Sync(state);
  }

  CommandResult Connect(const std::string& from, const std::string& to, const Probe& p,
                        int timeout_ms) const {
    std::string address;
    if (to == kHostName) {
      address = p.family == 4 ? kHostIpv4 : kHostIpv6;
    } else {
      address = p.family == 4 ? W(to).ipv4 : *W(to).ipv6;
    }
    std::vector<std::string> argv = {kProbe,
                                     "connect",
                                     p.proto == Proto::kTcp ? "--tcp" : "--udp",
                                     address,
                                     std::to_string(p.port),
                                     "--timeout-ms",
                                     std::to_string(timeout_ms)};
    if (!p.source.empty()) {
      argv.emplace_back("--source");
      argv.push_back(p.source);
    }
    return W(from).netns.Run(argv);
  }

  static std::string Describe(const std::string& from, const std::string& to, const Probe& p) {
    return fmt::format("{} -> {} {} port {} IPv{}{}", from, to,
                       p.proto == Proto::kTcp ? "TCP" : "UDP", p.port, p.family,
                       p.source.empty() ? "" : " from " + p.source);
  }

  ::testing::AssertionResult Reaches(const std::string& from, const std::string& to,
                                     const Probe& p = {}) const {
    CommandResult r = Connect(from, to, p, kAllowedTimeoutMs);
    std::string expected = "tabby-probe " + to;
    if (r.ok() && r.out.find(expected) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << Describe(from, to, p) << " should pass but: " << r.Describe();
  }

  ::testing::AssertionResult Blocked(const std::string& from, const std::string& to,
                                     const Probe& p = {}) const {
    CommandResult r = Connect(from, to, p, kDeniedTimeoutMs);
    if (r.exit_code == 1 && r.err.find("timed out") != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << Describe(from, to, p) << " should be dropped (time out) but: " << r.Describe();
  }

  CommandResult Ping(const std::string& from, const std::string& to, int family,
                     int wait_seconds) const {
    const Workload& target = W(to);
    std::vector<std::string> argv = {"busybox", "ping"};
    if (family == 6) argv.emplace_back("-6");
    for (const char* a : {"-c", "1", "-W"}) argv.emplace_back(a);
    argv.push_back(std::to_string(wait_seconds));
    argv.push_back(family == 4 ? target.ipv4 : *target.ipv6);
    return W(from).netns.Run(argv);
  }

  // `nft list table inet tabby` in the host's namespace.
  std::string Table() const {
    CommandResult listing = host_->netns().Run({"nft", "list", "table", "inet", "tabby"});
    EXPECT_TRUE(listing.ok()) << listing.Describe();
    return listing.out;
  }

  ::testing::AssertionResult Pings(const std::string& from, const std::string& to,
                                   int family = 4) const {
    CommandResult r = Ping(from, to, family, 5);
    if (r.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "ping " << from << " -> " << to << " IPv" << family << " failed: " << r.Describe();
  }

  ::testing::AssertionResult PingBlocked(const std::string& from, const std::string& to,
                                         int family = 4) const {
    CommandResult r = Ping(from, to, family, 1);
    if (r.exit_code == 1) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "ping " << from << " -> " << to << " IPv" << family
                                         << " should be dropped but: " << r.Describe();
  }

  // Packets a named counter of our table has counted.
  uint64_t CounterPackets(const std::string& name) const {
    CommandResult r =
        host_->netns().Run({"nft", "-j", "list", "counter", kTableFamily, kTableName, name});
    EXPECT_TRUE(r.ok()) << r.Describe();
    auto document = nlohmann::json::parse(r.out, nullptr, false);
    if (document.is_discarded()) return 0;
    for (const auto& object : document.value("nftables", nlohmann::json::array())) {
      if (object.contains("counter")) return object["counter"].value("packets", uint64_t{0});
    }
    ADD_FAILURE() << "no counter " << name << " in " << r.out;
    return 0;
  }

  // Every chain and rule of our table with its kernel handle: equal listings mean nothing was
  // recreated or rewritten.
  std::vector<std::string> Handles() const {
    std::optional<std::string> listing;
    {
      auto guard = NetnsGuard::Enter(host_->netns().path());
      EXPECT_TRUE(guard.ok()) << guard.status();
      auto client = MakeLibNftablesClient();
      auto result = client->ListTableJson(kTableFamily, kTableName);
      EXPECT_TRUE(result.ok()) << result.status();
      if (result.ok()) listing = *result;
    }
    std::vector<std::string> out;
    if (!listing) return out;
    auto document = nlohmann::json::parse(*listing);
    for (const auto& object : document["nftables"]) {
      for (const char* kind : {"chain", "rule", "set", "map"}) {
        if (!object.contains(kind)) continue;
        const auto& o = object[kind];
        out.push_back(fmt::format("{} {} {} {} {}", kind, o.value("chain", ""), o.value("name", ""),
                                  o.value("handle", -1), o.value("comment", "")));
      }
    }
    return out;
  }

  std::unique_ptr<Host> host_;
  // defaultEndpointToHostAction: Accept (the default, Drop, closes the host to workloads).
  void AcceptEndpointToHost() {
    model::Resource config = model::MakeResource(model::Kind::kClusterConfiguration, "default");
    config.cluster_configuration().default_endpoint_to_host_action = "Accept";
    calc_.Upsert(config);
  }

  std::map<std::string, std::unique_ptr<ChildProcess>> servers_;
  calc::Calculator calc_{kNode};
  // What the kernel holds of `table`, expression by expression (`nft --debug=netlink list`),
  // with what legitimately differs between two tables made alike taken out: the table's name,
  // rule handles and the numbers of anonymous sets.
  std::string Expressions(const std::string& table) const {
    CommandResult listing =
        host_->netns().Run({"nft", "--debug=netlink", "list", "table", "inet", table});
    EXPECT_TRUE(listing.ok()) << listing.Describe();
    std::vector<std::vector<std::string>> blocks(1);  // a header line and what follows it
    std::map<std::string, std::string> anonymous;
    std::istringstream lines(listing.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("table inet", 0) == 0 || line.find('{') != std::string::npos ||
          line.find('}') != std::string::npos || line.rfind("\t\t", 0) == 0) {
        continue;  // the listing nft prints after the expressions
      }
      line = std::regex_replace(line, std::regex("^inet " + table + " "), "inet T ");
      line = std::regex_replace(line, std::regex("^(inet T [^ ]+)( [0-9]+)+$"), "$1");
      std::smatch set;
      std::string rewritten;
      auto begin = line.cbegin();
      std::regex anon("__set[0-9]+");
      for (std::sregex_iterator it(line.begin(), line.end(), anon), end; it != end; ++it) {
        std::string name = it->str();
        if (!anonymous.contains(name)) anonymous[name] = fmt::format("anon{}", anonymous.size());
        rewritten.append(begin, line.cbegin() + it->position());
        rewritten += anonymous[name];
        begin = line.cbegin() + it->position() + it->length();
      }
      rewritten.append(begin, line.cend());
      // Counters count what passed; elements of hashed sets list in hash order.
      rewritten =
          std::regex_replace(rewritten, std::regex("counter pkts [0-9]+ bytes [0-9]+"), "counter");
      if (rewritten.rfind("inet T", 0) == 0) blocks.emplace_back();
      blocks.back().push_back(rewritten);
    }
    std::string out;
    for (auto& block : blocks) {
      if (!block.empty() && block.front().rfind("inet T @", 0) == 0) {
        std::sort(block.begin() + 1, block.end());
      }
      for (const auto& line : block) out += line + "\n";
    }
    return out;
  }

  // Programs what the first transaction programmed into table `tabby` again, as an nft script
  // through libnftables, into table `nftcheck`, and expects the kernel to hold the same
  // expressions in both: tabby's netlink encoding means what nft means.
  void ExpectEncodingAsNftWouldDo() {
    auto* recording = static_cast<RecordingClient*>(client_.get());
    ASSERT_FALSE(recording->committed.empty());
    NftTransaction copy = recording->committed.front();
    copy.table = "nftcheck";
    {
      auto guard = NetnsGuard::Enter(host_->netns().path());
      ASSERT_TRUE(guard.ok()) << guard.status();
      ASSERT_OK(client_->Run(copy.Script()));
    }
    std::string ours = Expressions("tabby");
    std::string nft = Expressions("nftcheck");
    EXPECT_THAT(ours, ::testing::HasSubstr("lookup"));
    EXPECT_EQ(ours, nft);
    ASSERT_OK(host_->netns().RunOk({"nft", "delete table inet nftcheck"}));
  }

  std::unique_ptr<NftClient> client_;
  std::unique_ptr<NftDataplane> dataplane_;
};

TEST_F(NftDataplaneTest, OpenByDefault) {
  UpsertDefaultEndpoints();
  ASSERT_OK(Program());
  for (const char* from : {"a", "b", "c"}) {
    for (const char* to : {"a", "b", "c"}) {
      if (std::string(from) == to) continue;
      EXPECT_TRUE(Reaches(from, to));
      EXPECT_TRUE(Reaches(from, to, {.family = 6}));
    }
  }
  EXPECT_TRUE(Reaches("a", "b", {.port = 5353, .proto = Proto::kUdp}));
  // Open between workloads, but not to the host: defaultEndpointToHostAction is Drop.
  EXPECT_TRUE(Blocked("a", kHostName));
  EXPECT_TRUE(Blocked("a", kHostName, {.family = 6}));
  EXPECT_GT(CounterPackets(kCounterEndpointToHost), 0u);
  AcceptEndpointToHost();
  ASSERT_OK(Program());
  EXPECT_TRUE(Reaches("a", kHostName));
  EXPECT_TRUE(Reaches("a", kHostName, {.family = 6}));
  EXPECT_TRUE(Pings("a", "b"));
  EXPECT_TRUE(Pings("a", "b", 6));
  EXPECT_EQ(CounterPackets(kCounterSpoofed), 0u);
}

TEST_F(NftDataplaneTest, IngressAllowFromSelectorOnly) {
  UpsertDefaultEndpoints();
  calc_.Upsert(calc::testing::GlobalPolicy("b-from-a", "app == 'b'",
                                           {calc::testing::RuleAllowFrom("app == 'a'")}));
  ASSERT_OK(Program());
  uint64_t dropped = CounterPackets(kCounterEndOfTier);
  EXPECT_TRUE(Reaches("a", "b"));
  EXPECT_TRUE(Blocked("c", "b"));
  EXPECT_TRUE(Blocked("d", "b", {.port = 5353, .proto = Proto::kUdp}));
  EXPECT_GT(CounterPackets(kCounterEndOfTier), dropped);
  // b's own egress is not selected, and other workloads are unaffected.
  EXPECT_TRUE(Reaches("b", "c"));
  EXPECT_TRUE(Reaches("c", "d"));
  // The same over IPv6.
  EXPECT_TRUE(Reaches("a", "b", {.family = 6}));
  EXPECT_TRUE(Blocked("c", "b", {.family = 6}));
  EXPECT_TRUE(Reaches("a", "b", {.port = 5354, .proto = Proto::kUdp, .family = 6}));
  EXPECT_TRUE(Blocked("c", "b", {.port = 5354, .proto = Proto::kUdp, .family = 6}));
}

TEST_F(NftDataplaneTest, EgressPolicyAtSourceBlocksWhatDestinationAllows) {
  UpsertDefaultEndpoints();
  AcceptEndpointToHost();  // so that what blocks a's traffic to the host is a's egress policy
  model::Rule to_c = Allow();
  to_c.destination.selector = "app == 'c'";
  calc_.Upsert(EgressPolicy("a-only-to-c", "app == 'a'", {to_c}));
  calc_.Upsert(calc::testing::GlobalPolicy("b-from-a", "app == 'b'",
                                           {calc::testing::RuleAllowFrom("app == 'a'")}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("a", "b"));  // b would accept it; a's egress does not let it out
  EXPECT_TRUE(Blocked("a", "b", {.family = 6}));
  EXPECT_TRUE(Reaches("a", "c"));
  EXPECT_TRUE(Reaches("a", "c", {.family = 6}));
  EXPECT_TRUE(Blocked("a", "d"));
  // Egress policy also covers traffic to the host itself.
  EXPECT_TRUE(Blocked("a", kHostName));
  EXPECT_TRUE(Blocked("a", kHostName, {.family = 6}));
  EXPECT_TRUE(Reaches("d", kHostName));
  // Replies to connections others open to a are not egress-filtered.
  EXPECT_TRUE(Reaches("d", "a"));
}

TEST_F(NftDataplaneTest, DenyBeforeAllowByOrder) {
  UpsertDefaultEndpoints();
  model::Rule deny_a = calc::testing::RuleAllowFrom("app == 'a'");
  deny_a.action = model::Action::kDeny;
  auto deny = calc::testing::GlobalPolicy("deny-a", "app == 'b'", {deny_a});
  deny.policy().order = 10;
  auto allow = calc::testing::GlobalPolicy("allow-all", "app == 'b'", {Allow()});
  allow.policy().order = 20;
  calc_.Upsert(deny);
  calc_.Upsert(allow);
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("a", "b"));
  EXPECT_TRUE(Reaches("c", "b"));

  // The allow now comes first: it wins.
  deny.policy().order = 30;
  calc_.Upsert(deny);
  ASSERT_OK(Program());
  EXPECT_TRUE(Reaches("a", "b"));
  EXPECT_TRUE(Reaches("c", "b"));
  EXPECT_EQ(dataplane_->stats().full_syncs, 1u);
}

TEST_F(NftDataplaneTest, PassHandsOverToProfiles) {
  for (const char* name : {"a", "c", "d"}) calc_.Upsert(EndpointOf(name, {{"app", name}}));
  model::Resource b = EndpointOf("b", {{"app", "b"}});
  b.workload_endpoint().profiles = {"prof-b"};
  calc_.Upsert(b);
  calc_.Upsert(
      calc::testing::ProfileWith("prof-b", {}, {calc::testing::RuleAllowFrom("app == 'a'")}));
  model::Rule pass = calc::testing::RuleAllowFrom("app in {'a', 'd'}");
  pass.action = model::Action::kPass;
  calc_.Upsert(calc::testing::GlobalPolicy("pass-some", "app == 'b'", {pass}));
  ASSERT_OK(Program());
  uint64_t no_profile = CounterPackets(kCounterNoProfile);
  uint64_t end_of_tier = CounterPackets(kCounterEndOfTier);
  EXPECT_TRUE(Reaches("a", "b"));  // passed, and the profile allows it
  EXPECT_TRUE(Blocked("d", "b"));  // passed, but the profile does not allow it
  EXPECT_GT(CounterPackets(kCounterNoProfile), no_profile);
  EXPECT_TRUE(Blocked("c", "b"));  // not passed: the policy tier ends in a drop
  EXPECT_GT(CounterPackets(kCounterEndOfTier), end_of_tier);
}

TEST_F(NftDataplaneTest, NamedPortsAndPortRanges) {
  for (const char* name : {"a", "c"}) calc_.Upsert(EndpointOf(name, {{"app", name}}));
  model::Resource b = EndpointOf("b", {{"app", "b"}});
  b.workload_endpoint().ports = {
      {.name = "http", .protocol = {model::Protocol::kTcp, "TCP"}, .port = 8081},
      {.name = "dns", .protocol = {model::Protocol::kUdp, "UDP"}, .port = 5354}};
  calc_.Upsert(b);
  model::Rule http = WithProtocol(Allow(), model::Protocol::kTcp, "TCP");
  http.destination.ports = {{.name = "http"}};
  model::Rule tcp_range = WithProtocol(Allow(), model::Protocol::kTcp, "TCP");
  tcp_range.destination.ports = {{.first = 9000, .last = 9100}};
  model::Rule dns = WithProtocol(Allow(), model::Protocol::kUdp, "UDP");
  dns.destination.ports = {{.name = "dns"}};
  model::Rule udp_range = WithProtocol(Allow(), model::Protocol::kUdp, "UDP");
  udp_range.destination.ports = {{.first = 5990, .last = 6010}};
  calc_.Upsert(
      calc::testing::GlobalPolicy("b-ports", "app == 'b'", {http, tcp_range, dns, udp_range}));
  ASSERT_OK(Program());
  for (int family : {4, 6}) {
    EXPECT_TRUE(Reaches("a", "b", {.port = 8081, .family = family}));
    EXPECT_TRUE(Reaches("a", "b", {.port = 9090, .family = family}));
    EXPECT_TRUE(Blocked("a", "b", {.port = 8080, .family = family}));
    EXPECT_TRUE(Reaches("c", "b", {.port = 5354, .proto = Proto::kUdp, .family = family}));
    EXPECT_TRUE(Reaches("c", "b", {.port = 6000, .proto = Proto::kUdp, .family = family}));
    EXPECT_TRUE(Blocked("c", "b", {.port = 5353, .proto = Proto::kUdp, .family = family}));
  }
  // A named port matches only where the endpoint declares it: c declares none.
  calc_.Upsert(calc::testing::GlobalPolicy("c-http", "app == 'c'", {http}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("a", "c", {.port = 8081}));
}

TEST_F(NftDataplaneTest, IcmpAllowedAndDenied) {
  UpsertDefaultEndpoints();
  model::Rule ping4 =
      WithProtocol(calc::testing::RuleAllowFrom("app == 'a'"), model::Protocol::kIcmp, "ICMP");
  ping4.icmp = model::IcmpMatch{8, std::nullopt};  // echo request
  model::Rule ping6 =
      WithProtocol(calc::testing::RuleAllowFrom("app == 'a'"), model::Protocol::kIcmpV6, "ICMPv6");
  ping6.icmp = model::IcmpMatch{128, std::nullopt};
  // d may send only timestamp requests (type 13), which an echo request is not.
  model::Rule timestamp =
      WithProtocol(calc::testing::RuleAllowFrom("app == 'd'"), model::Protocol::kIcmp, "ICMP");
  timestamp.icmp = model::IcmpMatch{13, std::nullopt};
  model::Rule tcp = WithProtocol(Allow(), model::Protocol::kTcp, "TCP");
  calc_.Upsert(calc::testing::GlobalPolicy("b-icmp", "app == 'b'", {ping4, ping6, timestamp, tcp}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Pings("a", "b"));
  EXPECT_TRUE(Pings("a", "b", 6));
  EXPECT_TRUE(PingBlocked("c", "b"));
  EXPECT_TRUE(PingBlocked("c", "b", 6));
  EXPECT_TRUE(PingBlocked("d", "b"));
  EXPECT_TRUE(Reaches("c", "b"));  // TCP is allowed for everyone
}

// Every shape of rule the renderer can produce is accepted by the kernel, and the policy built
// from them still does what its first rules say.
TEST_F(NftDataplaneTest, KernelAcceptsEveryRuleShape) {
  UpsertDefaultEndpoints();
  model::Resource b = EndpointOf("b", {{"app", "b"}});
  b.workload_endpoint().ports = {
      {.name = "http", .protocol = {model::Protocol::kTcp, "TCP"}, .port = 8081},
      {.name = "web", .protocol = {model::Protocol::kSctp, "SCTP"}, .port = 8081}};
  calc_.Upsert(b);
  std::vector<model::Rule> rules;
  // First, what the checks below rely on: a may use TCP 8080; d is denied everything.
  model::Rule from_a =
      WithProtocol(calc::testing::RuleAllowFrom("app == 'a'"), model::Protocol::kTcp, "TCP");
  from_a.destination.ports = {{.first = 8080, .last = 8080}};
  rules.push_back(from_a);
  model::Rule deny_d = calc::testing::RuleAllowFrom("app == 'd'");
  deny_d.action = model::Action::kDeny;
  rules.push_back(deny_d);
  // Then every other shape, none of which matches a's or c's probes to TCP 8080/8081.
  model::Rule nets = WithProtocol(Allow(), model::Protocol::kUdp, "UDP");
  // Nets covered by another and adjacent ones, ranges up to the last port: what the encoder
  // merges or leaves open must mean what nft makes of it.
  nets.source.nets = {"203.0.113.0/24", "203.0.113.128/25", "2001:db8:ffff::/48",
                      "203.0.112.0/25", "203.0.112.128/25", "0.0.0.0/1"};
  nets.source.not_nets = {"203.0.113.7/32", "2001:db8:ffff::7/128", "2001:db8:fffe::/47"};
  nets.destination.nets = {"198.51.100.0/24"};
  nets.source.ports = {{.first = 1, .last = 1023}, {.first = 53, .last = 53}};
  nets.source.not_ports = {
      {.first = 22, .last = 22}, {.first = 100, .last = 200}, {.first = 60000, .last = 65535}};
  rules.push_back(nets);
  model::Rule negated = Allow();
  negated.source.selector = "app == 'c'";
  negated.source.not_selector = "app == 'a'";
  negated.not_protocol = model::Protocol{model::Protocol::kTcp, "TCP"};
  rules.push_back(negated);
  model::Rule not_named = WithProtocol(Allow(), model::Protocol::kTcp, "TCP");
  not_named.source.selector = "app == 'c'";
  not_named.destination.not_ports = {{.name = "http"}, {.first = 8080, .last = 8080}};
  not_named.destination.ports = {{.name = "web"}, {.first = 9999, .last = 9999}};
  rules.push_back(not_named);
  model::Rule icmp = WithProtocol(Allow(), model::Protocol::kIcmp, "ICMP");
  icmp.icmp = model::IcmpMatch{3, 1};
  icmp.not_icmp = model::IcmpMatch{3, 4};
  rules.push_back(icmp);
  model::Rule icmp6 = WithProtocol(Allow(), model::Protocol::kIcmpV6, "ICMPv6");
  icmp6.not_icmp = model::IcmpMatch{1, std::nullopt};
  rules.push_back(icmp6);
  model::Rule v6_only = Allow();
  v6_only.ip_version = 6;
  v6_only.source.selector = "app == 'nobody'";
  rules.push_back(v6_only);
  for (auto [number, name] : {std::pair<uint8_t, const char*>{model::Protocol::kSctp, "SCTP"},
                              {model::Protocol::kUdpLite, "UDPLite"},
                              {47, ""}}) {
    model::Rule other = WithProtocol(Allow(), number, name);
    if (number != 47) other.destination.ports = {{.first = 7, .last = 9}};
    rules.push_back(other);
  }
  model::Rule log = Allow();
  log.action = model::Action::kLog;
  log.source.namespace_selector = "all()";
  rules.push_back(log);
  model::Rule pass = Allow();
  pass.action = model::Action::kPass;
  pass.source.selector = "app == 'nobody'";
  rules.push_back(pass);
  calc_.Upsert(calc::testing::GlobalPolicy("shapes", "app == 'b'", rules));
  model::Resource egress = EgressPolicy("shapes-out", "app == 'a'", rules);
  egress.policy().types = {model::PolicyType::kEgress};
  calc_.Upsert(egress);
  model::Resource all_out = EgressPolicy("a-out", "app == 'a'", {Allow()});
  all_out.policy().order = 1000;
  calc_.Upsert(all_out);
  ASSERT_OK(Program());

  EXPECT_TRUE(Reaches("a", "b"));
  EXPECT_TRUE(Blocked("d", "b"));
  EXPECT_TRUE(Blocked("c", "b", {.port = 8081}));  // excluded by notPorts "http"
  EXPECT_TRUE(Blocked("c", "b"));                  // excluded by notPorts 8080
  EXPECT_TRUE(Reaches("c", "b", {.port = 5353, .proto = Proto::kUdp}));  // not TCP, from c
  ExpectEncodingAsNftWouldDo();
}

TEST_F(NftDataplaneTest, SpoofedSourceAddressIsDropped) {
  UpsertDefaultEndpoints();
  ASSERT_OK(Program());
  // a also holds an address that is not its own, and the host routes it back to a, so only the
  // anti-spoofing check stands between a and success.
  const Workload& a = W("a");
  ASSERT_OK(a.netns.RunOk({"ip", "addr", "add", "198.51.100.99/32", "dev", "eth0"}));
  ASSERT_OK(a.netns.RunOk({"ip", "-6", "addr", "add", "2001:db8::99/128", "dev", "eth0", "nodad"}));
  ASSERT_OK(host_->netns().RunOk(
      {"ip", "route", "add", "198.51.100.99/32", "dev", a.interface_name, "scope", "link"}));
  ASSERT_OK(host_->netns().RunOk(
      {"ip", "-6", "route", "add", "2001:db8::99/128", "dev", a.interface_name}));

  uint64_t spoofed = CounterPackets(kCounterSpoofed);
  EXPECT_TRUE(Reaches("a", "b", {.source = a.ipv4}));
  EXPECT_TRUE(Reaches("a", "b", {.family = 6, .source = *a.ipv6}));
  EXPECT_TRUE(Blocked("a", "b", {.source = "198.51.100.99"}));
  EXPECT_TRUE(Blocked("a", "b", {.family = 6, .source = "2001:db8::99"}));
  EXPECT_TRUE(Blocked("a", "b", {.port = 5353, .proto = Proto::kUdp, .source = "198.51.100.99"}));
  EXPECT_GT(CounterPackets(kCounterSpoofed), spoofed);

  // allowSpoofedSourcePrefixes lets exactly that prefix through.
  model::Resource endpoint = EndpointOf("a", {{"app", "a"}});
  endpoint.workload_endpoint().allow_spoofed_source_prefixes = {"198.51.100.99/32"};
  calc_.Upsert(endpoint);
  ASSERT_OK(Program());
  EXPECT_TRUE(Reaches("a", "b", {.source = "198.51.100.99"}));
  EXPECT_TRUE(Blocked("a", "b", {.family = 6, .source = "2001:db8::99"}));
}

TEST_F(NftDataplaneTest, UnprogrammedWorkloadInterfaceFailsClosed) {
  UpsertDefaultEndpoints();
  ASSERT_OK(Program());
  ASSERT_NO_FATAL_FAILURE(AddWorkload("e"));  // tabbye: no endpoint, so no program
  uint64_t unknown = CounterPackets(kCounterUnknownInterface);
  EXPECT_TRUE(Blocked("b", "e"));
  EXPECT_TRUE(Blocked("b", "e", {.family = 6}));
  EXPECT_GT(CounterPackets(kCounterUnknownInterface), unknown);
  EXPECT_TRUE(Blocked("e", "b"));
  EXPECT_TRUE(Blocked("e", "b", {.family = 6}));
  EXPECT_TRUE(PingBlocked("e", "a"));

  // Once its endpoint is programmed it works; once removed it is closed again.
  calc_.Upsert(EndpointOf("e", {{"app", "e"}}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Reaches("b", "e"));
  EXPECT_TRUE(Reaches("e", "b"));
  EXPECT_TRUE(Reaches("e", "b", {.family = 6}));
  calc_.Remove(model::Kind::kWorkloadEndpoint, "default", "e");
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("b", "e"));
  EXPECT_TRUE(Blocked("e", "b"));
}

TEST_F(NftDataplaneTest, IncrementalLabelChangeFlipsReachability) {
  UpsertDefaultEndpoints();
  calc_.Upsert(calc::testing::GlobalPolicy("b-from-a", "app == 'b'",
                                           {calc::testing::RuleAllowFrom("role == 'client'")}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("c", "b"));
  EXPECT_TRUE(Blocked("c", "b", {.family = 6}));

  calc_.Upsert(EndpointOf("c", {{"app", "c"}, {"role", "client"}}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Reaches("c", "b"));
  EXPECT_TRUE(Reaches("c", "b", {.family = 6}));
  EXPECT_TRUE(Blocked("d", "b"));

  calc_.Upsert(EndpointOf("c", {{"app", "c"}}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("c", "b"));
  // All of it incrementally: one full sync at the start, one transaction per change.
  EXPECT_EQ(dataplane_->stats().full_syncs, 1u);
  EXPECT_EQ(dataplane_->stats().transactions, 3u);
}

// What changes only set members (a remote workload comes, goes or changes labels; a local one
// changes labels no policy of its own depends on) goes to the kernel as a netlink batch of
// exactly those elements, v4 and v6, and packets follow it.
TEST_F(NftDataplaneTest, MemberChangesGoAsElementBatches) {
  UpsertDefaultEndpoints();
  calc_.Upsert(calc::testing::GlobalPolicy("b-from-clients", "app == 'b'",
                                           {calc::testing::RuleAllowFrom("role == 'client'")}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("c", "b"));

  model::Resource remote =
      calc::testing::Endpoint("r1", "node-other", "198.51.100.77", {{"role", "client"}});
  remote.workload_endpoint().ip_networks = {"198.51.100.77/32", "2001:db8::77/128"};
  calc_.Upsert(remote);
  ASSERT_OK(Program());
  EXPECT_THAT(Table(), ::testing::HasSubstr("198.51.100.77"));
  EXPECT_THAT(Table(), ::testing::HasSubstr("2001:db8::77"));

  calc_.Upsert(EndpointOf("c", {{"app", "c"}, {"role", "client"}}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Reaches("c", "b"));
  EXPECT_TRUE(Reaches("c", "b", {.family = 6}));

  calc_.Remove(model::Kind::kWorkloadEndpoint, remote.metadata.namespace_name, "r1");
  ASSERT_OK(Program());
  EXPECT_THAT(Table(), ::testing::Not(::testing::HasSubstr("198.51.100.77")));
  EXPECT_THAT(Table(), ::testing::Not(::testing::HasSubstr("2001:db8::77")));
  EXPECT_TRUE(Reaches("c", "b"));
  // The first sync; the first client makes the selector's sets (until then it had no member of
  // either family, so no set and no rule); then one element batch per change.
  EXPECT_EQ(dataplane_->stats().transactions, 4u);
  EXPECT_EQ(dataplane_->stats().element_transactions, 2u);

  // The mirror kept up: a restart finds nothing to change.
  ASSERT_OK(Restart(calc_.state()));
  EXPECT_EQ(dataplane_->stats().transactions, 0u);

  // A batch the kernel refuses changes nothing and says which set and why.
  auto guard = NetnsGuard::Enter(host_->netns().path());
  ASSERT_TRUE(guard.ok()) << guard.status();
  std::string before = Table();
  NftTransaction bad;
  bad.ops.push_back(
      {.kind = NftOp::Kind::kAddElements, .name = "no-such-set", .elements = {"198.51.100.99"}});
  absl::Status refused = client_->Commit(bad);
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("no-such-set"));
  EXPECT_EQ(Table(), before);

  // Thousands of messages in one batch (each change alternates sets, so each is a message of
  // its own), all acknowledged; and after the refusal above, nothing stale is counted.
  ASSERT_OK(host_->netns().RunOk({"nft", "add set inet tabby big-a { type ipv4_addr; }"}));
  ASSERT_OK(host_->netns().RunOk({"nft", "add set inet tabby big-b { type ipv4_addr; }"}));
  NftTransaction many;
  for (int i = 0; i < 4000; ++i) {
    many.ops.push_back({.kind = NftOp::Kind::kAddElements,
                        .name = i % 2 ? "big-b" : "big-a",
                        .elements = {fmt::format("10.77.{}.{}", i / 256, i % 256)}});
  }
  ASSERT_OK(client_->Commit(many));
  for (const char* set : {"big-a", "big-b"}) {
    CommandResult listing = host_->netns().Run({"nft", "-j", "list", "set", "inet", "tabby", set});
    ASSERT_TRUE(listing.ok()) << listing.Describe();
    auto json = nlohmann::json::parse(listing.out);
    size_t elements = 0;
    for (const auto& item : json["nftables"]) {
      if (item.contains("set"))
        elements = item["set"].value("elem", nlohmann::json::array()).size();
    }
    EXPECT_EQ(elements, 2000u) << set;
  }
}

// An agent that finds a table from another version (a base chain at another priority, a rule
// without our comment, stale chains, sets, map entries and anti-spoofing elements) converges it in
// one transaction, to a fixed point: the next restart writes nothing.
// How many selector sets of `family` the kernel's table holds.
size_t SelectorSets(const std::string& listing, int family) {
  const std::regex set_line(fmt::format(R"(\bset sel-[0-9a-f]+-{} \{{)", family));
  return std::distance(std::sregex_iterator(listing.begin(), listing.end(), set_line),
                       std::sregex_iterator());
}

// A selector's set of one family exists once the selector has a member of that family: an
// IPv4-only selector costs no IPv6 set. The rules that use it are rendered again when it appears,
// and it stays when its members go, so members coming and going do not rewrite the rules.
TEST_F(NftDataplaneTest, SelectorSetOfAFamilyExistsOnceItHasAMember) {
  UpsertDefaultEndpoints();
  model::Resource a = EndpointOf("a", {{"app", "a"}, {"role", "client"}});
  a.workload_endpoint().ip_networks = {W("a").ipv4 + "/32"};
  calc_.Upsert(a);
  calc_.Upsert(calc::testing::GlobalPolicy("b-from-clients", "app == 'b'",
                                           {calc::testing::RuleAllowFrom("role == 'client'")}));
  ASSERT_OK(Program());
  EXPECT_EQ(SelectorSets(Table(), 4), 1u);
  EXPECT_EQ(SelectorSets(Table(), 6), 0u) << Table();
  EXPECT_TRUE(Reaches("a", "b"));
  EXPECT_TRUE(Blocked("c", "b"));
  EXPECT_TRUE(Blocked("c", "b", {.family = 6}));

  calc_.Upsert(EndpointOf("c", {{"app", "c"}, {"role", "client"}}));
  ASSERT_OK(Program());
  EXPECT_EQ(SelectorSets(Table(), 6), 1u) << Table();
  EXPECT_TRUE(Reaches("c", "b", {.family = 6}));
  EXPECT_TRUE(Blocked("d", "b", {.family = 6}));
  ASSERT_OK(Restart(calc_.state()));
  EXPECT_EQ(dataplane_->stats().transactions, 0u);

  calc_.Upsert(EndpointOf("c", {{"app", "c"}}));
  ASSERT_OK(Program());
  EXPECT_EQ(SelectorSets(Table(), 6), 1u) << "an emptied set stays";
  EXPECT_EQ(dataplane_->stats().element_transactions, 1u);
  EXPECT_TRUE(Blocked("c", "b", {.family = 6}));
  EXPECT_TRUE(Reaches("a", "b"));
  ASSERT_OK(Restart(calc_.state()));
  EXPECT_EQ(dataplane_->stats().transactions, 0u);
}

// "Not in a set that does not exist" holds for every address; the match comes with the set.
TEST_F(NftDataplaneTest, NotSelectorWithoutMembersExcludesNobody) {
  UpsertDefaultEndpoints();
  model::Rule rule = calc::testing::RuleAllowFrom("");
  rule.source.not_selector = "role == 'banned'";
  calc_.Upsert(calc::testing::GlobalPolicy("b-but-banned", "app == 'b'", {rule}));
  ASSERT_OK(Program());
  EXPECT_EQ(SelectorSets(Table(), 4) + SelectorSets(Table(), 6), 0u) << Table();
  EXPECT_TRUE(Reaches("d", "b"));
  EXPECT_TRUE(Reaches("d", "b", {.family = 6}));

  calc_.Upsert(EndpointOf("d", {{"app", "d"}, {"role", "banned"}}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("d", "b"));
  EXPECT_TRUE(Blocked("d", "b", {.family = 6}));
  EXPECT_TRUE(Reaches("c", "b"));
  EXPECT_TRUE(Reaches("c", "b", {.family = 6}));
}

TEST_F(NftDataplaneTest, SyncConvergesAnOutdatedTable) {
  auto dir = test::TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  std::ofstream(dir->File("old.nft")) << R"(
add table inet tabby
add chain inet tabby forward-ingress { type filter hook forward priority filter + 5; policy accept; }
add rule inet tabby forward-ingress oifname "tabby*" drop
add chain inet tabby gnp.old.in
add rule inet tabby gnp.old.in accept comment "tabby:0000000000000000"
add chain inet tabby fw-tabbya
add rule inet tabby fw-tabbya drop
add set inet tabby sel-old-4 { type ipv4_addr; }
add element inet tabby sel-old-4 { 198.51.100.9 }
add map inet tabby from-wl { type ifname : verdict; }
add element inet tabby from-wl { "tabbya" : goto gnp.old.in, "tabbygone" : goto fw-tabbya }
add set inet tabby wl-src4 { type ifname . ipv4_addr; flags interval; }
add element inet tabby wl-src4 { "tabbya" . 203.0.113.0/24, "tabbyzz" . 198.51.100.50 }
)";
  ASSERT_OK(host_->netns().RunOk({"nft", "-f", dir->File("old.nft")}));
  EXPECT_TRUE(Blocked("b", "a"));  // the old forward-ingress drops everything

  UpsertDefaultEndpoints();
  calc_.Upsert(calc::testing::GlobalPolicy("b-from-a", "app == 'b'",
                                           {calc::testing::RuleAllowFrom("app == 'a'")}));
  ASSERT_OK(Program());
  EXPECT_EQ(dataplane_->stats().transactions, 1u);
  EXPECT_TRUE(Reaches("b", "a"));
  EXPECT_TRUE(Reaches("a", "b"));
  EXPECT_TRUE(Blocked("c", "b"));

  CommandResult listing = host_->netns().Run({"nft", "list", "table", "inet", "tabby"});
  ASSERT_TRUE(listing.ok()) << listing.Describe();
  EXPECT_THAT(listing.out, ::testing::HasSubstr("hook forward priority filter + 10;"));
  EXPECT_THAT(listing.out, ::testing::Not(::testing::HasSubstr("priority filter + 5")));
  for (const char* gone : {"gnp.old.in", "sel-old-4", "tabbygone", "tabbyzz", "203.0.113.0"}) {
    EXPECT_THAT(listing.out, ::testing::Not(::testing::HasSubstr(gone))) << listing.out;
  }
  EXPECT_THAT(listing.out, ::testing::HasSubstr("\"tabbya\" : goto fw-tabbya"));
  // Every rule is ours now.
  for (const auto& handle : Handles()) {
    if (handle.rfind("rule ", 0) == 0) {
      EXPECT_THAT(handle, ::testing::HasSubstr("tabby:"));
    }
  }

  std::vector<std::string> before = Handles();
  ASSERT_OK(Restart(calc_.state()));
  EXPECT_EQ(dataplane_->stats().transactions, 0u);
  EXPECT_EQ(Handles(), before);
}

TEST_F(NftDataplaneTest, RestartAdoptsTableAndKeepsStreamFlowing) {
  UpsertDefaultEndpoints();
  calc_.Upsert(calc::testing::GlobalPolicy("b-from-a", "app == 'b'",
                                           {calc::testing::RuleAllowFrom("app == 'a'")}));
  model::Rule to_b = Allow();
  to_b.destination.selector = "app in {'b', 'c'}";
  calc_.Upsert(EgressPolicy("a-out", "app == 'a'", {to_b}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("c", "b"));

  auto stream = W("a").netns.Start(
      {kProbe, "stream", W("b").ipv4, std::to_string(kSinkPort), "--seconds", "120"});
  ASSERT_TRUE(stream.ok()) << stream.status();
  auto progress = [&]() -> uint64_t {
    const std::string& out = (*stream)->out();
    size_t at = out.rfind("progress ");
    if (at == std::string::npos) return 0;
    return std::stoull(out.substr(at + 9));
  };
  auto flowing_beyond = [&](uint64_t mark) {
    return test::WaitFor([&] { return progress() > mark || !(*stream)->Running(); },
                         milliseconds(20000)) &&
           progress() > mark;
  };
  ASSERT_TRUE(flowing_beyond(0)) << (*stream)->Describe();

  // Restart with the same desired state: the new dataplane adopts the table as it is.
  std::vector<std::string> before = Handles();
  ASSERT_FALSE(before.empty());
  calc::DesiredState state = calc_.state();
  uint64_t mark = progress();
  ASSERT_OK(Restart(state));
  EXPECT_EQ(dataplane_->stats().transactions, 0u) << "the adopting Sync wrote to the kernel";
  EXPECT_EQ(Handles(), before) << "chains or rules were recreated";
  EXPECT_TRUE(flowing_beyond(mark)) << (*stream)->Describe();

  // Restart again, into a changed state that rewrites the chains on the stream's path.
  calc_.Upsert(calc::testing::GlobalPolicy(
      "b-from-a", "app == 'b'",
      {calc::testing::RuleAllowFrom("app == 'a'"), calc::testing::RuleAllowFrom("app == 'c'")}));
  calc_.Upsert(EndpointOf("d", {{"app", "d"}, {"tier", "new"}}));
  calc_.Flush();
  mark = progress();
  ASSERT_OK(Restart(calc_.state()));
  EXPECT_EQ(dataplane_->stats().transactions, 1u);
  EXPECT_NE(Handles(), before);
  EXPECT_TRUE(flowing_beyond(mark)) << (*stream)->Describe();
  EXPECT_TRUE(Reaches("c", "b"));  // the changed state is in force
  EXPECT_TRUE(Blocked("d", "b"));

  // And a Sync on a running dataplane with the same state is a no-op.
  {
    auto guard = NetnsGuard::Enter(host_->netns().path());
    ASSERT_TRUE(guard.ok()) << guard.status();
    ASSERT_OK(dataplane_->Sync(calc_.state()));
  }
  EXPECT_EQ(dataplane_->stats().transactions, 1u);

  // The stream ends cleanly: every byte it wrote reached the sink.
  int exit_code = (*stream)->Stop(milliseconds(10000));
  EXPECT_EQ(exit_code, 0) << (*stream)->Describe();
  EXPECT_NE((*stream)->out().find("intact"), std::string::npos) << (*stream)->Describe();
}

}  // namespace
}  // namespace tabby::dataplane

namespace tabby::dataplane {
namespace {

// Many policies on one workload: its chain dispatches by the peer's address to the policies that
// may match it (nft_render.h, peer dispatch), and what they decide is what the plain layout
// decides: order, Deny before a later Allow, Pass on to the profiles (here the open default), an
// ungated policy (by nets) evaluated for every peer. Peers that change labels move between
// classes incrementally.
TEST_F(NftDataplaneTest, PeerDispatchKeepsOrderDenyAndPass) {
  UpsertDefaultEndpoints();
  double order = 0;
  auto add = [&](const std::string& name, model::Rule rule) {
    model::Resource policy = calc::testing::GlobalPolicy(name, "app == 'b'", {std::move(rule)});
    policy.policy().order = order++;
    calc_.Upsert(policy);
  };
  for (int i = 0; i < static_cast<int>(kDispatchMinimumGated); ++i) {
    add(fmt::format("nobody-{}", i), calc::testing::RuleAllowFrom(fmt::format("app == 'x{}'", i)));
  }
  model::Rule deny_d = calc::testing::RuleAllowFrom("app == 'd'");
  deny_d.action = model::Action::kDeny;
  add("deny-d", deny_d);
  model::Rule udp_from_nets = WithProtocol(Allow(), model::Protocol::kUdp, "UDP");
  udp_from_nets.source.nets = {"198.51.100.0/24"};
  add("udp-from-nets", udp_from_nets);
  model::Rule pass_c = calc::testing::RuleAllowFrom("app == 'c'");
  pass_c.action = model::Action::kPass;
  add("pass-c", pass_c);
  model::Rule deny_c = calc::testing::RuleAllowFrom("app == 'c'");
  deny_c.action = model::Action::kDeny;
  add("deny-c-after-its-pass", deny_c);
  add("allow-a", calc::testing::RuleAllowFrom("app == 'a'"));
  ASSERT_OK(Program());
  ExpectEncodingAsNftWouldDo();
  CommandResult chain = host_->netns().Run({"nft", "list", "chain", "inet", "tabby", "tw-tabbyb"});
  ASSERT_TRUE(chain.ok()) << chain.Describe();
  EXPECT_THAT(chain.out, ::testing::HasSubstr("jump dsp-"));
  EXPECT_THAT(chain.out, ::testing::Not(::testing::HasSubstr("jump gnp.")));

  EXPECT_TRUE(Reaches("a", "b"));
  EXPECT_TRUE(Reaches("a", "b", {.family = 6}));
  EXPECT_TRUE(Blocked("d", "b"));
  EXPECT_TRUE(Blocked("d", "b", {.port = 5353, .proto = Proto::kUdp}));  // denied before
  EXPECT_TRUE(Reaches("c", "b"));  // passed, to the open default, before a Deny of it
  EXPECT_TRUE(Reaches("a", "b", {.port = 5353, .proto = Proto::kUdp}));

  // d becomes an "a": out of the Deny's set, into the last Allow's.
  calc_.Upsert(EndpointOf("d", {{"app", "a"}}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Reaches("d", "b"));
  EXPECT_TRUE(Reaches("d", "b", {.family = 6}));
  // a leaves every gate set: only the ungated policy is left for it.
  calc_.Upsert(EndpointOf("a", {{"app", "z"}}));
  ASSERT_OK(Program());
  EXPECT_TRUE(Blocked("a", "b"));
  EXPECT_TRUE(Reaches("a", "b", {.port = 5353, .proto = Proto::kUdp}));
  EXPECT_EQ(dataplane_->stats().full_syncs, 1u);

  // A restart adopts the maps and class chains as they are.
  ASSERT_OK(Restart(calc_.state()));
  EXPECT_EQ(dataplane_->stats().transactions, 0u);

  // The policies go: so do the dispatch chain, its maps and the class chains.
  for (int i = 0; i < static_cast<int>(kDispatchMinimumGated); ++i) {
    calc_.Remove(model::Kind::kGlobalNetworkPolicy, "", fmt::format("nobody-{}", i));
  }
  ASSERT_OK(Program());
  CommandResult table = host_->netns().Run({"nft", "list", "table", "inet", "tabby"});
  ASSERT_TRUE(table.ok()) << table.Describe();
  EXPECT_THAT(table.out, ::testing::Not(::testing::HasSubstr("dsp-")));
  EXPECT_THAT(table.out, ::testing::Not(::testing::HasSubstr("cls-")));
  EXPECT_TRUE(Reaches("d", "b"));
  EXPECT_TRUE(Blocked("a", "b"));
}

}  // namespace
}  // namespace tabby::dataplane
