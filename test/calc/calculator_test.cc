#include "calc/calculator.h"

#include <gtest/gtest.h>

#include <random>

#include "calc/incremental_check.h"  // test/calc
#include "calc/test_resources.h"     // test/calc

namespace tabby::calc {
namespace {

using testing::Endpoint;
using testing::GlobalPolicy;
using testing::NamespacedPolicy;
using testing::ProfileWith;
using testing::RuleAllowFrom;

constexpr char kNode[] = "node-a";

using testing::Ip;

TEST(Calculator, OpenEndpointWithoutPolicyOrProfile) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {{"app", "web"}}));
  Delta delta = calc.Flush();
  ASSERT_EQ(delta.endpoints_upserted.size(), 1u);
  const EndpointProgram& program = delta.endpoints_upserted.begin()->second;
  EXPECT_EQ(program.interface_name, "tabbya");
  EXPECT_TRUE(program.ingress.policies.empty());
  EXPECT_TRUE(program.ingress.profiles.empty());
  EXPECT_TRUE(program.ingress.default_allow);
  EXPECT_TRUE(calc.Flush().empty());
}

TEST(Calculator, RemoteEndpointsGetNoProgram) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("b", "node-b", "10.0.0.2", {}));
  EXPECT_TRUE(calc.Flush().endpoints_upserted.empty());
}

TEST(Calculator, PolicySelectsEndpointAndActivatesItsSet) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("web", kNode, "10.0.0.1", {{"app", "web"}}));
  calc.Upsert(Endpoint("db", "node-b", "10.0.0.2", {{"app", "db"}}));
  calc.Upsert(Endpoint("other", "node-b", "10.0.0.3", {{"app", "other"}}));
  calc.Flush();
  calc.Upsert(GlobalPolicy("allow-db", "app == 'web'", {RuleAllowFrom("app == 'db'")}));
  Delta delta = calc.Flush();
  ASSERT_EQ(delta.programs_upserted.size(), 1u);
  EXPECT_EQ(delta.programs_upserted.begin()->first, "gnp.allow-db.in");
  const std::string set_id = delta.programs_upserted.begin()->second.rules.at(0).source.ip_set;
  ASSERT_FALSE(set_id.empty());
  EXPECT_EQ(delta.ip_members_added.at(set_id), std::set<IpAddress>{Ip("10.0.0.2")});
  const EndpointProgram& web = delta.endpoints_upserted.at("tabbyweb");
  EXPECT_EQ(web.ingress.policies, std::vector<std::string>{"gnp.allow-db.in"});
  EXPECT_TRUE(web.egress.policies.empty());

  // A label change on a remote endpoint touches only set membership.
  calc.Upsert(Endpoint("other", "node-b", "10.0.0.3", {{"app", "db"}}));
  delta = calc.Flush();
  EXPECT_TRUE(delta.programs_upserted.empty());
  EXPECT_TRUE(delta.endpoints_upserted.empty());
  EXPECT_EQ(delta.ip_members_added.at(set_id), std::set<IpAddress>{Ip("10.0.0.3")});

  // Deleting the policy releases the program and the set.
  calc.Remove(model::Kind::kGlobalNetworkPolicy, "", "allow-db");
  delta = calc.Flush();
  EXPECT_EQ(delta.programs_removed, std::set<std::string>{"gnp.allow-db.in"});
  EXPECT_EQ(delta.ip_sets_removed, std::set<std::string>{set_id});
  EXPECT_TRUE(delta.endpoints_upserted.at("tabbyweb").ingress.policies.empty());
}

TEST(Calculator, PolicyOrderThenName) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {{"x", "1"}}));
  auto p1 = GlobalPolicy("zeta", "all()", {});
  p1.policy().order = 10;
  auto p2 = GlobalPolicy("alpha", "all()", {});
  auto p3 = GlobalPolicy("beta", "all()", {});
  p3.policy().order = 10;
  auto p4 = GlobalPolicy("first", "all()", {});
  p4.policy().order = 1;
  for (auto* p : {&p1, &p2, &p3, &p4}) calc.Upsert(*p);
  calc.Flush();
  EXPECT_EQ(
      calc.state().endpoints.at("tabbya").ingress.policies,
      (std::vector<std::string>{"gnp.first.in", "gnp.beta.in", "gnp.zeta.in", "gnp.alpha.in"}));
}

TEST(Calculator, NamespacedPolicyScopesSelectorsToItsNamespace) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {{"app", "web"}}, "prod"));
  calc.Upsert(Endpoint("b", kNode, "10.0.0.2", {{"app", "web"}}, "dev"));
  calc.Upsert(Endpoint("c", "node-b", "10.0.0.3", {{"app", "db"}}, "prod"));
  calc.Upsert(Endpoint("d", "node-b", "10.0.0.4", {{"app", "db"}}, "dev"));
  calc.Upsert(NamespacedPolicy("prod", "web", "app == 'web'", {RuleAllowFrom("app == 'db'")}));
  calc.Flush();
  const DesiredState& state = calc.state();
  EXPECT_EQ(state.endpoints.at("tabbya").ingress.policies.size(), 1u);
  EXPECT_TRUE(state.endpoints.at("tabbyb").ingress.policies.empty());
  const auto& rule = state.programs.at("np.prod.web.in").rules.at(0);
  EXPECT_EQ(state.ip_sets.at(rule.source.ip_set), std::set<IpAddress>{Ip("10.0.0.3")});
}

TEST(Calculator, ProfilesInheritLabelsAndMissingProfilesDenyAll) {
  Calculator calc(kNode);
  auto ep = Endpoint("a", kNode, "10.0.0.1", {});
  ep.workload_endpoint().profiles = {"star1"};
  calc.Upsert(ep);
  calc.Upsert(Endpoint("b", "node-b", "10.0.0.2", {{"group", "star1"}}));
  calc.Upsert(GlobalPolicy("watch", "all()", {RuleAllowFrom("group == 'star1'")}));
  calc.Flush();
  // The profile does not exist yet: its program denies everything.
  const auto& missing = calc.state().programs.at("pro.star1.in");
  ASSERT_EQ(missing.rules.size(), 1u);
  EXPECT_EQ(missing.rules[0].action, model::Action::kDeny);
  const auto& set_id = calc.state().programs.at("gnp.watch.in").rules.at(0).source.ip_set;
  EXPECT_EQ(calc.state().ip_sets.at(set_id), std::set<IpAddress>{Ip("10.0.0.2")});

  // Once it exists with labelsToApply, a inherits group=star1 and joins the set.
  calc.Upsert(ProfileWith("star1", {{"group", "star1"}}, {RuleAllowFrom("group == 'star1'")}));
  Delta delta = calc.Flush();
  EXPECT_EQ(delta.ip_members_added.at(set_id), std::set<IpAddress>{Ip("10.0.0.1")});
  EXPECT_EQ(calc.state().programs.at("pro.star1.in").rules.at(0).action, model::Action::kAllow);
}

TEST(Calculator, DefaultEndpointPolicyDeny) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {}));
  calc.Flush();
  model::Resource config = model::MakeResource(model::Kind::kClusterConfiguration, "default");
  config.cluster_configuration().default_endpoint_policy = "Deny";
  calc.Upsert(config);
  Delta delta = calc.Flush();
  EXPECT_FALSE(delta.endpoints_upserted.at("tabbya").ingress.default_allow);
}

TEST(Calculator, NamedPortsBecomePortSets) {
  Calculator calc(kNode);
  auto server = Endpoint("srv", "node-b", "10.0.0.2", {{"app", "srv"}});
  model::EndpointPort http;
  http.name = "http";
  http.protocol.number = model::Protocol::kTcp;
  http.port = 8080;
  server.workload_endpoint().ports = {http};
  calc.Upsert(server);
  calc.Upsert(Endpoint("client", kNode, "10.0.0.1", {{"app", "client"}}));
  model::Rule rule;
  rule.action = model::Action::kAllow;
  rule.protocol = model::Protocol{model::Protocol::kTcp, "TCP"};
  rule.destination.selector = "app == 'srv'";
  rule.destination.ports = {model::PortSpec{0, 0, "http"}};
  auto policy = GlobalPolicy("egress", "app == 'client'", {});
  policy.policy().types = {model::PolicyType::kEgress};
  policy.policy().egress = {rule};
  calc.Upsert(policy);
  calc.Flush();
  const auto& compiled = calc.state().programs.at("gnp.egress.out").rules.at(0);
  ASSERT_EQ(compiled.destination.named_port_sets.size(), 1u);
  EXPECT_EQ(calc.state().port_sets.at(compiled.destination.named_port_sets[0]),
            (std::set<PortSetMember>{{Ip("10.0.0.2"), 6, 8080}}));
}

// The calculator finds a namespace's endpoints and policies through indexes; namespaces whose
// names share a prefix ("ns", "ns-a", "ns.b", "ns0") must stay apart.
TEST(Calculator, NamespacesSharingAPrefixStayApart) {
  Calculator calc(kNode);
  const std::vector<std::string> namespaces = {"ns", "ns-a", "ns.b", "ns0", "nsa"};
  for (size_t i = 0; i < namespaces.size(); ++i) {
    calc.Upsert(
        Endpoint("local", kNode, fmt::format("10.0.0.{}", i + 1), {{"app", "db"}}, namespaces[i]));
    calc.Upsert(Endpoint("remote", "node-b", fmt::format("10.0.1.{}", i + 1), {{"app", "web"}},
                         namespaces[i]));
  }
  calc.Upsert(NamespacedPolicy("ns", "db", "app == 'db'", {RuleAllowFrom("app == 'web'")}));
  calc.Flush();
  const PolicyProgram& program = calc.state().programs.at("np.ns.db.in");
  EXPECT_EQ(calc.state().ip_sets.at(program.rules.at(0).source.ip_set),
            std::set<IpAddress>{Ip("10.0.1.1")});
  for (const auto& [interface, endpoint] : calc.state().endpoints) {
    bool in_ns = endpoint.key == "ns/local";
    EXPECT_EQ(endpoint.ingress.policies,
              in_ns ? std::vector<std::string>{"np.ns.db.in"} : std::vector<std::string>{})
        << endpoint.key;
  }
  // A namespace's new labels reach only its own endpoints.
  calc.Upsert(GlobalPolicy("tiered", "all()", {RuleAllowFrom("app == 'web'", "tier == 'x'")}));
  calc.SetNamespaceLabels("ns", {{"tier", "x"}});
  calc.Flush();
  const PolicyProgram& tiered = calc.state().programs.at("gnp.tiered.in");
  EXPECT_EQ(calc.state().ip_sets.at(tiered.rules.at(0).source.ip_set),
            std::set<IpAddress>{Ip("10.0.1.1")});
}

// The incremental result must equal a from-scratch computation after any sequence of events
// (Felix's calc-graph testing idea): random upserts and removals over a small universe.
TEST(Calculator, IncrementalEqualsFromScratch) {
  std::mt19937 random(12345);
  const std::vector<std::string> values = {"a", "b", "c"};
  const std::vector<std::string> nodes = {kNode, "node-b"};
  // Every shape the label indexes treat differently: an equality, a value list, a key alone, a
  // conjunction of several, and no required term at all.
  const std::vector<std::string> selectors = {"all()",
                                              "k == 'a'",
                                              "k != 'b'",
                                              "has(j)",
                                              "!has(k)",
                                              "k in {'a','c'}",
                                              "j starts with 'b'",
                                              "k == 'a' && has(j)",
                                              "k == 'b' || j == 'a'",
                                              "k in {'b', 'c'} && j != 'a'"};
  std::map<std::string, model::Resource> live;
  Calculator incremental(kNode);
  for (int step = 0; step < 3000; ++step) {
    int what = static_cast<int>(random() % 10);
    std::string name;
    if (what < 5) {  // endpoint
      int i = static_cast<int>(random() % 8);
      name = fmt::format("wep/ep{}", i);
      if (random() % 4 == 0) {
        live.erase(name);
        incremental.Remove(model::Kind::kWorkloadEndpoint, "ns", fmt::format("ep{}", i));
      } else {
        model::Labels labels;
        if (random() % 2) labels["k"] = values[random() % values.size()];
        if (random() % 2) labels["j"] = values[random() % values.size()];
        auto ep = Endpoint(fmt::format("ep{}", i), nodes[random() % nodes.size()],
                           fmt::format("10.0.0.{}", 1 + random() % 4), labels, "ns");
        if (random() % 3 == 0)
          ep.workload_endpoint().profiles = {fmt::format("pro{}", random() % 2)};
        live[name] = ep;
        incremental.Upsert(ep);
      }
    } else if (what < 8) {  // policy
      int i = static_cast<int>(random() % 4);
      name = fmt::format("gnp/p{}", i);
      if (random() % 4 == 0) {
        live.erase(name);
        incremental.Remove(model::Kind::kGlobalNetworkPolicy, "", fmt::format("p{}", i));
      } else {
        auto p = GlobalPolicy(fmt::format("p{}", i), selectors[random() % selectors.size()],
                              {RuleAllowFrom(selectors[random() % selectors.size()])});
        if (random() % 2) p.policy().order = static_cast<double>(random() % 3);
        if (random() % 2) p.policy().types.push_back(model::PolicyType::kEgress);
        live[name] = p;
        incremental.Upsert(p);
      }
    } else {  // profile
      int i = static_cast<int>(random() % 2);
      name = fmt::format("pro/pro{}", i);
      if (random() % 3 == 0) {
        live.erase(name);
        incremental.Remove(model::Kind::kProfile, "", fmt::format("pro{}", i));
      } else {
        model::Labels apply;
        if (random() % 2) apply["k"] = values[random() % values.size()];
        auto p = ProfileWith(fmt::format("pro{}", i), apply,
                             {RuleAllowFrom(selectors[random() % selectors.size()])});
        live[name] = p;
        incremental.Upsert(p);
      }
    }
    if (random() % 3 != 0) continue;
    ASSERT_TRUE(testing::FlushMatchesFreshCalculation(incremental, live, kNode)) << "step " << step;
  }
}

}  // namespace
}  // namespace tabby::calc

namespace tabby::calc {
namespace {

model::Resource HostEndpoint(const std::string& name, const std::string& node,
                             const std::string& interface_name, model::Labels labels) {
  model::Resource r = model::MakeResource(model::Kind::kHostEndpoint, name);
  r.metadata.labels = std::move(labels);
  r.spec = model::HostEndpointSpec{
      .node = node, .interface_name = interface_name, .expected_ips = {"192.0.2.1"}};
  return r;
}

TEST(CalculatorHostEndpoints, SelectedByGlobalPolicyOnlyAndClosedByDefault) {
  Calculator calc(kNode);
  Delta first = calc.Flush();
  ASSERT_TRUE(first.host.has_value()) << "the host's settings are published from the start";
  EXPECT_EQ(first.host->endpoint_to_host, EndpointToHost::kDrop);
  EXPECT_TRUE(first.host->endpoints.empty());
  EXPECT_FALSE(first.host->failsafe_inbound.empty());

  calc.Upsert(HostEndpoint("h-eth0", kNode, "eth0", {{"role", "edge"}}));
  calc.Upsert(HostEndpoint("other-eth0", "node-b", "eth0", {{"role", "edge"}}));
  Delta added = calc.Flush();
  ASSERT_TRUE(added.host.has_value());
  ASSERT_EQ(added.host->endpoints.size(), 1u) << "only this node's host endpoints";
  const EndpointProgram& program = added.host->endpoints.at("h-eth0");
  EXPECT_EQ(program.interface_name, "eth0");
  EXPECT_FALSE(program.ingress.default_allow);
  EXPECT_TRUE(added.endpoints_upserted.empty()) << "a host endpoint is not a workload";

  calc.Upsert(NamespacedPolicy("prod", "np", "role == 'edge'", {}));
  calc.Upsert(GlobalPolicy("edge", "role == 'edge'", {RuleAllowFrom("app == 'web'")}));
  Delta policed = calc.Flush();
  ASSERT_TRUE(policed.host.has_value());
  EXPECT_EQ(policed.host->endpoints.at("h-eth0").ingress.policies,
            std::vector<std::string>{"gnp.edge.in"});
  EXPECT_TRUE(policed.programs_upserted.contains("gnp.edge.in"));

  // Workload policy can name hosts by label: the expected IPs join the selector's set.
  calc.Upsert(Endpoint("web", kNode, "10.0.0.1", {{"app", "web"}}));
  calc.Upsert(GlobalPolicy("to-edge", "app == 'web'", {RuleAllowFrom("role == 'edge'")}));
  calc.Flush();
  bool found = false;
  for (const auto& [id, members] : calc.state().ip_sets) {
    found = found || members.contains(Ip("192.0.2.1"));
  }
  EXPECT_TRUE(found);

  calc.Remove(model::Kind::kHostEndpoint, "", "h-eth0");
  Delta removed = calc.Flush();
  ASSERT_TRUE(removed.host.has_value());
  EXPECT_TRUE(removed.host->endpoints.empty());
}

TEST(CalculatorHostEndpoints, SettingsFollowClusterConfiguration) {
  Calculator calc(kNode);
  calc.Flush();
  model::Resource config = model::MakeResource(model::Kind::kClusterConfiguration, "default");
  auto& spec = std::get<model::ClusterConfigurationSpec>(config.spec);
  spec.default_endpoint_to_host_action = "Return";
  spec.failsafe_inbound_host_ports =
      std::vector<model::ProtoPort>{{model::Protocol{model::Protocol::kTcp, "TCP"}, 2222}};
  spec.failsafe_outbound_host_ports = std::vector<model::ProtoPort>{};
  calc.Upsert(config);
  Delta delta = calc.Flush();
  ASSERT_TRUE(delta.host.has_value());
  EXPECT_EQ(delta.host->endpoint_to_host, EndpointToHost::kReturn);
  EXPECT_EQ(delta.host->failsafe_inbound, (std::vector<FailsafePort>{{6, 2222}}));
  EXPECT_TRUE(delta.host->failsafe_outbound.empty());
  calc.Upsert(config);
  EXPECT_FALSE(calc.Flush().host.has_value()) << "nothing changed";
  calc.Remove(model::Kind::kClusterConfiguration, "", "default");
  Delta back = calc.Flush();
  ASSERT_TRUE(back.host.has_value());
  EXPECT_EQ(back.host->endpoint_to_host, EndpointToHost::kDrop);
}

}  // namespace
}  // namespace tabby::calc
