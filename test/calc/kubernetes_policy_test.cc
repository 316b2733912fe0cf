// The calculator enforcing Kubernetes NetworkPolicy and following Namespace labels.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "calc/calculator.h"
#include "calc/incremental_check.h"  // test/calc
#include "calc/test_resources.h"     // test/calc
#include "model/decode_helpers.h"    // test/model
#include "model/validate.h"

namespace tabby::calc {
namespace {

using testing::Endpoint;
using testing::NamespacedPolicy;

constexpr char kNode[] = "node-a";

using testing::Ip;

model::Resource Namespace(const std::string& name, model::Labels labels) {
  model::Resource r = model::MakeResource(model::Kind::kNamespace, name);
  r.metadata.labels = std::move(labels);
  model::ApplyDefaults(r);
  return r;
}

model::Resource WithHttpPort(model::Resource endpoint, uint16_t port) {
  model::EndpointPort http;
  http.name = "http";
  http.protocol = model::Protocol{model::Protocol::kTcp, "TCP"};
  http.port = port;
  endpoint.workload_endpoint().ports = {http};
  return endpoint;
}

// The addresses of the IP set ingress rule `rule` of `program` takes its source from.
std::set<IpAddress> SourceSet(const DesiredState& state, const std::string& program,
                              size_t rule_index = 0) {
  const CompiledRule& rule = state.programs.at(program).rules.at(rule_index);
  auto it = state.ip_sets.find(rule.source.ip_set);
  if (it == state.ip_sets.end()) return {};
  return it->second;
}

constexpr char kDenyDbIngress[] = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-db, namespace: prod}
spec:
  podSelector: {matchLabels: {role: db}}
  policyTypes: [Ingress]
)";

TEST(KubernetesNetworkPolicy, SelectsLocalPodsOfItsNamespaceAndIsolatesThem) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("db", kNode, "10.0.0.1", {{"role", "db"}}, "prod"));
  calc.Upsert(Endpoint("web", kNode, "10.0.0.2", {{"role", "web"}}, "prod"));
  calc.Upsert(Endpoint("devdb", kNode, "10.0.0.3", {{"role", "db"}}, "dev"));
  calc.Upsert(Endpoint("remotedb", "node-b", "10.0.0.4", {{"role", "db"}}, "prod"));
  calc.Flush();
  calc.Upsert(model::testing::DecodeOne(kDenyDbIngress));
  Delta delta = calc.Flush();

  // No rules: the selected pods are isolated for ingress (the program allows nothing) ...
  ASSERT_EQ(delta.programs_upserted.size(), 1u);
  const PolicyProgram& program = delta.programs_upserted.at("knp.prod.deny-db.in");
  EXPECT_TRUE(program.rules.empty());
  EXPECT_EQ(program.display_name, "KubernetesNetworkPolicy prod/deny-db (ingress)");
  const DesiredState& state = calc.state();
  EXPECT_EQ(state.endpoints.at("tabbydb").ingress.policies,
            std::vector<std::string>{"knp.prod.deny-db.in"});
  // ... but not for egress, which the policy does not list.
  EXPECT_TRUE(state.endpoints.at("tabbydb").egress.policies.empty());
  EXPECT_TRUE(state.endpoints.at("tabbyweb").ingress.policies.empty());
  EXPECT_TRUE(state.endpoints.at("tabbydevdb").ingress.policies.empty());
  EXPECT_EQ(calc.stats().policies, 1u);

  // A pod label change takes it in and out of the policy.
  calc.Upsert(Endpoint("web", kNode, "10.0.0.2", {{"role", "db"}}, "prod"));
  calc.Upsert(Endpoint("db", kNode, "10.0.0.1", {{"role", "cache"}}, "prod"));
  calc.Flush();
  EXPECT_EQ(state.endpoints.at("tabbyweb").ingress.policies,
            std::vector<std::string>{"knp.prod.deny-db.in"});
  EXPECT_TRUE(state.endpoints.at("tabbydb").ingress.policies.empty());

  calc.Remove(model::Kind::kKubernetesNetworkPolicy, "prod", "deny-db");
  delta = calc.Flush();
  EXPECT_EQ(delta.programs_removed, std::set<std::string>{"knp.prod.deny-db.in"});
  EXPECT_TRUE(state.endpoints.at("tabbyweb").ingress.policies.empty());
  EXPECT_EQ(calc.stats().policies, 0u);
}

TEST(KubernetesNetworkPolicy, IsolationPerDirection) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {{"app", "a"}}, "prod"));
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-all, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)"));
  calc.Flush();
  const EndpointProgram& a = calc.state().endpoints.at("tabbya");
  EXPECT_EQ(a.ingress.policies, std::vector<std::string>{"knp.prod.default-deny-all.in"});
  EXPECT_EQ(a.egress.policies, std::vector<std::string>{"knp.prod.default-deny-all.out"});
  EXPECT_TRUE(calc.state().programs.at("knp.prod.default-deny-all.in").rules.empty());
  EXPECT_TRUE(calc.state().programs.at("knp.prod.default-deny-all.out").rules.empty());

  // An egress-only policy with an allow-all rule: egress is selected (and allowed), ingress not.
  calc.Remove(model::Kind::kKubernetesNetworkPolicy, "prod", "default-deny-all");
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-egress, namespace: prod}
spec:
  podSelector: {}
  egress: [{}]
  policyTypes: [Egress]
)"));
  calc.Flush();
  const EndpointProgram& after = calc.state().endpoints.at("tabbya");
  EXPECT_TRUE(after.ingress.policies.empty());
  EXPECT_EQ(after.egress.policies, std::vector<std::string>{"knp.prod.allow-all-egress.out"});
  const PolicyProgram& egress = calc.state().programs.at("knp.prod.allow-all-egress.out");
  ASSERT_EQ(egress.rules.size(), 1u);
  EXPECT_EQ(egress.rules[0], CompiledRule{.action = model::Action::kAllow});
  EXPECT_FALSE(calc.state().programs.contains("knp.prod.allow-all-egress.in"));
}

TEST(KubernetesNetworkPolicy, PodSelectorPeersAreScopedToThePolicyNamespace) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("db", kNode, "10.0.0.1", {{"role", "db"}}, "prod"));
  calc.Upsert(Endpoint("fe1", "node-b", "10.0.1.1", {{"role", "frontend"}}, "prod"));
  calc.Upsert(Endpoint("fe2", kNode, "10.0.1.2", {{"role", "frontend"}}, "prod"));
  calc.Upsert(Endpoint("fe3", "node-b", "10.0.1.3", {{"role", "frontend"}}, "dev"));
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {role: frontend}}
    ports:
    - {protocol: TCP, port: 6379}
    - {port: 7000, endPort: 7010}
)"));
  calc.Flush();
  const DesiredState& state = calc.state();
  const PolicyProgram& program = state.programs.at("knp.prod.db.in");
  ASSERT_EQ(program.rules.size(), 2u);
  EXPECT_EQ(program.rules[0].protocol, model::Protocol::kTcp);
  EXPECT_EQ(program.rules[0].destination.ports, (std::vector<PortRange>{{6379, 6379}}));
  EXPECT_EQ(program.rules[1].destination.ports, (std::vector<PortRange>{{7000, 7010}}));
  EXPECT_EQ(SourceSet(state, "knp.prod.db.in"),
            (std::set<IpAddress>{Ip("10.0.1.1"), Ip("10.0.1.2")}));

  // Pod label changes move pods in and out of the peer set.
  calc.Upsert(Endpoint("fe1", "node-b", "10.0.1.1", {{"role", "batch"}}, "prod"));
  calc.Upsert(Endpoint("fe4", "node-b", "10.0.1.4", {{"role", "frontend"}}, "prod"));
  Delta delta = calc.Flush();
  const std::string& set_id = program.rules[0].source.ip_set;
  EXPECT_EQ(delta.ip_members_removed.at(set_id), std::set<IpAddress>{Ip("10.0.1.1")});
  EXPECT_EQ(delta.ip_members_added.at(set_id), std::set<IpAddress>{Ip("10.0.1.4")});
}

TEST(KubernetesNetworkPolicy, NamespaceSelectorFollowsNamespaceLabels) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("db", kNode, "10.0.0.1", {{"role", "db"}}, "prod"));
  calc.Upsert(Endpoint("a1", "node-b", "10.0.1.1", {{"role", "client"}}, "team-a"));
  calc.Upsert(Endpoint("a2", "node-b", "10.0.1.2", {{"role", "server"}}, "team-a"));
  calc.Upsert(Endpoint("b1", "node-b", "10.0.2.1", {{"role", "client"}}, "team-b"));
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {project: myproject}}
  - from:
    - namespaceSelector: {matchLabels: {user: alice}}
      podSelector: {matchLabels: {role: client}}
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: team-b}}
)"));
  calc.Flush();
  const DesiredState& state = calc.state();
  const PolicyProgram& program = state.programs.at("knp.prod.db.in");
  ASSERT_EQ(program.rules.size(), 3u);
  auto members = [&](size_t rule) { return SourceSet(state, "knp.prod.db.in", rule); };
  // No Namespace resources yet: only the implicit name label matches.
  EXPECT_TRUE(members(0).empty());
  EXPECT_TRUE(members(1).empty());
  EXPECT_EQ(members(2), std::set<IpAddress>{Ip("10.0.2.1")});

  // A namespace gaining a label brings in all its pods; AND with podSelector narrows.
  calc.Upsert(Namespace("team-a", {{"project", "myproject"}, {"user", "alice"}}));
  Delta delta = calc.Flush();
  EXPECT_EQ(delta.ip_members_added.at(program.rules[0].source.ip_set),
            (std::set<IpAddress>{Ip("10.0.1.1"), Ip("10.0.1.2")}));
  EXPECT_EQ(members(1), std::set<IpAddress>{Ip("10.0.1.1")});

  // Losing the label takes them out again.
  calc.Upsert(Namespace("team-a", {{"project", "other"}, {"user", "alice"}}));
  delta = calc.Flush();
  EXPECT_EQ(delta.ip_members_removed.at(program.rules[0].source.ip_set),
            (std::set<IpAddress>{Ip("10.0.1.1"), Ip("10.0.1.2")}));
  EXPECT_TRUE(members(0).empty());
  EXPECT_EQ(members(1), std::set<IpAddress>{Ip("10.0.1.1")});

  // Removing the Namespace restores the implicit labels only.
  calc.Upsert(Namespace("team-b", {{"project", "myproject"}}));
  calc.Flush();
  EXPECT_EQ(members(0), std::set<IpAddress>{Ip("10.0.2.1")});
  calc.Remove(model::Kind::kNamespace, "", "team-a");
  calc.Remove(model::Kind::kNamespace, "", "team-b");
  calc.Flush();
  EXPECT_TRUE(members(0).empty());
  EXPECT_TRUE(members(1).empty());
  EXPECT_EQ(members(2), std::set<IpAddress>{Ip("10.0.2.1")});
}

TEST(KubernetesNetworkPolicy, NamespaceLabelsDecideGlobalPolicyApplicability) {
  // Namespace resources also feed GlobalNetworkPolicy namespaceSelectors on live endpoints.
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {}, "prod"));
  model::Resource gnp = testing::GlobalPolicy("prod-only", "all()", {});
  gnp.policy().namespace_selector = "env == 'prod'";
  calc.Upsert(gnp);
  calc.Flush();
  EXPECT_TRUE(calc.state().endpoints.at("tabbya").ingress.policies.empty());
  calc.Upsert(Namespace("prod", {{"env", "prod"}}));
  calc.Flush();
  EXPECT_EQ(calc.state().endpoints.at("tabbya").ingress.policies,
            std::vector<std::string>{"gnp.prod-only.in"});
  calc.Remove(model::Kind::kNamespace, "", "prod");
  calc.Flush();
  EXPECT_TRUE(calc.state().endpoints.at("tabbya").ingress.policies.empty());
}

TEST(KubernetesNetworkPolicy, NamedPortsResolvePerDestinationPod) {
  Calculator calc(kNode);
  calc.Upsert(WithHttpPort(Endpoint("web", kNode, "10.0.0.1", {{"app", "web"}}, "prod"), 8080));
  calc.Upsert(WithHttpPort(Endpoint("api", "node-b", "10.0.0.2", {{"app", "api"}}, "prod"), 9090));
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - ports: [{port: http}]
  egress:
  - to: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: http}]
)"));
  calc.Flush();
  const DesiredState& state = calc.state();
  // Ingress: the pod's own http port (the set holds the selected pods'; the packet's address
  // picks).
  const CompiledRule& in = state.programs.at("knp.prod.web.in").rules.at(0);
  ASSERT_EQ(in.destination.named_port_sets.size(), 1u);
  EXPECT_EQ(state.port_sets.at(in.destination.named_port_sets[0]),
            (std::set<PortSetMember>{{Ip("10.0.0.1"), 6, 8080}}));
  // Egress: the http port of the pods the peer selects.
  const CompiledRule& out = state.programs.at("knp.prod.web.out").rules.at(0);
  ASSERT_EQ(out.destination.named_port_sets.size(), 1u);
  EXPECT_EQ(state.port_sets.at(out.destination.named_port_sets[0]),
            (std::set<PortSetMember>{{Ip("10.0.0.2"), 6, 9090}}));
}

TEST(KubernetesNetworkPolicy, NeverCollidesWithATabbyPolicyOfTheConvertedName) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {{"app", "a"}}, "prod"));
  model::Resource same_name = NamespacedPolicy("prod", "knp.default.x", "all()", {});
  same_name.policy().order = 1000;
  calc.Upsert(same_name);
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x, namespace: prod}
spec: {podSelector: {}, ingress: [{}]}
)"));
  calc.Flush();
  EXPECT_EQ(calc.stats().policies, 2u);
  // Equal order and name: the kind breaks the tie, deterministically.
  EXPECT_EQ(calc.state().endpoints.at("tabbya").ingress.policies,
            (std::vector<std::string>{"np.prod.knp.default.x.in", "knp.prod.x.in"}));
  calc.Remove(model::Kind::kKubernetesNetworkPolicy, "prod", "x");
  calc.Flush();
  EXPECT_EQ(calc.state().endpoints.at("tabbya").ingress.policies,
            std::vector<std::string>{"np.prod.knp.default.x.in"});
  EXPECT_TRUE(calc.state().programs.contains("np.prod.knp.default.x.in"));
  calc.Remove(model::Kind::kNetworkPolicy, "prod", "knp.default.x");
  calc.Flush();
  EXPECT_TRUE(calc.state().endpoints.at("tabbya").ingress.policies.empty());
}

TEST(KubernetesNetworkPolicy, OrderedAt1000AmongTabbyPolicies) {
  Calculator calc(kNode);
  calc.Upsert(Endpoint("a", kNode, "10.0.0.1", {}, "prod"));
  for (const auto& [name, order] : std::vector<std::pair<std::string, std::optional<double>>>{
           {"early", 999}, {"late", 1001}, {"unordered", std::nullopt}, {"same", 1000}}) {
    model::Resource policy = NamespacedPolicy("prod", name, "all()", {});
    policy.policy().order = order;
    calc.Upsert(policy);
  }
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k, namespace: prod}
spec: {podSelector: {}}
)"));
  calc.Flush();
  // At order 1000 ties go by name: "knp.default.k" sorts before "same".
  EXPECT_EQ(calc.state().endpoints.at("tabbya").ingress.policies,
            (std::vector<std::string>{"np.prod.early.in", "knp.prod.k.in", "np.prod.same.in",
                                      "np.prod.late.in", "np.prod.unordered.in"}));
}

// An ingress named port resolves against the pods the policy selects (the only possible
// destinations), not against every pod in the cluster.
TEST(KubernetesNetworkPolicy, IngressNamedPortSetHoldsOnlyThePolicysPods) {
  Calculator calc(kNode);
  calc.Upsert(WithHttpPort(Endpoint("db", kNode, "10.0.0.1", {{"role", "db"}}, "prod"), 5432));
  calc.Upsert(WithHttpPort(Endpoint("db2", "node-b", "10.0.0.2", {{"role", "db"}}, "prod"), 5433));
  calc.Upsert(WithHttpPort(Endpoint("web", "node-b", "10.0.0.3", {{"role", "web"}}, "prod"), 80));
  calc.Upsert(WithHttpPort(Endpoint("db", "node-b", "10.0.1.1", {{"role", "db"}}, "dev"), 5434));
  calc.Upsert(model::testing::DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - ports: [{port: http}]
)"));
  calc.Flush();
  const CompiledRule& rule = calc.state().programs.at("knp.prod.db.in").rules.at(0);
  ASSERT_EQ(rule.destination.named_port_sets.size(), 1u);
  EXPECT_EQ(calc.state().port_sets.at(rule.destination.named_port_sets[0]),
            (std::set<PortSetMember>{{Ip("10.0.0.1"), 6, 5432}, {Ip("10.0.0.2"), 6, 5433}}));
}

// Labelling a namespace can activate a policy whose peer set holds pods of that same namespace;
// each pod must be counted in the set once, or a deleted pod's address would stay allowed.
TEST(KubernetesNetworkPolicy, NamespaceLabelChangeCountsEachPeerOnce) {
  Calculator calc(kNode);
  std::map<std::string, model::Resource> live;
  auto add = [&](const std::string& key, model::Resource r) {
    calc.Upsert(r);
    live[key] = std::move(r);
  };
  add("ep1", Endpoint("ep1", kNode, "10.0.0.1", {{"role", "db"}}, "team"));
  add("ep2", Endpoint("ep2", kNode, "10.0.0.2", {{"role", "db"}}, "team"));
  model::Resource policy =
      testing::GlobalPolicy("blue", "all()", {testing::RuleAllowFrom("all()", "color == 'blue'")});
  policy.policy().namespace_selector = "color == 'blue'";
  add("gnp", policy);
  ASSERT_TRUE(testing::FlushMatchesFreshCalculation(calc, live, kNode));
  add("ns", Namespace("team", {{"color", "blue"}}));
  ASSERT_TRUE(testing::FlushMatchesFreshCalculation(calc, live, kNode));
  calc.Remove(model::Kind::kWorkloadEndpoint, "team", "ep2");
  live.erase("ep2");
  ASSERT_TRUE(testing::FlushMatchesFreshCalculation(calc, live, kNode));
  const CompiledRule& rule = calc.state().programs.at("gnp.blue.in").rules.at(0);
  EXPECT_EQ(calc.state().ip_sets.at(rule.source.ip_set), std::set<IpAddress>{Ip("10.0.0.1")});
}

// As calculator_test's IncrementalEqualsFromScratch, with Namespaces and Kubernetes policies.
TEST(KubernetesNetworkPolicy, IncrementalEqualsFromScratch) {
  std::mt19937 random(4242);
  auto pick = [&](const auto& items) { return items[random() % items.size()]; };
  const std::vector<std::string> namespaces = {"n1", "n2"};
  const std::vector<std::string> nodes = {kNode, "node-b"};
  const std::vector<std::string> values = {"a", "b"};
  auto selector = [&]() {
    model::LabelSelector s;
    switch (random() % 4) {
      case 0:
        break;  // everything
      case 1:
        s.match_labels["k"] = pick(values);
        break;
      case 2:
        s.match_expressions.push_back({"k", model::SelectorOperator::kNotIn, {pick(values)}});
        break;
      default:
        s.match_expressions.push_back({"k", model::SelectorOperator::kExists, {}});
        break;
    }
    return s;
  };
  auto peer = [&]() {
    model::NetworkPolicyPeer p;
    switch (random() % 4) {
      case 0:
        p.pod_selector = selector();
        break;
      case 1:
        p.namespace_selector = selector();
        break;
      case 2:
        p.pod_selector = selector();
        p.namespace_selector = selector();
        break;
      default:
        p.ip_block = model::IPBlock{"10.0.0.0/24", {"10.0.0.0/30"}};
        break;
    }
    return p;
  };
  auto ports = [&]() {
    std::vector<model::NetworkPolicyPort> out;
    if (random() % 2) out.push_back({std::nullopt, model::PortNumberOrName{0, "http"}, {}});
    if (random() % 2) out.push_back({std::nullopt, model::PortNumberOrName{80, ""}, 90});
    return out;
  };

  std::map<std::string, model::Resource> live;
  Calculator incremental(kNode);
  int checks_with_kubernetes_sets = 0;  // the test must exercise what it claims to
  for (int step = 0; step < 2000; ++step) {
    int what = static_cast<int>(random() % 10);
    if (what < 5) {  // endpoint
      std::string name = fmt::format("ep{}", random() % 6);
      std::string ns = pick(namespaces);
      std::string key = fmt::format("wep/{}/{}", ns, name);
      if (random() % 4 == 0) {
        live.erase(key);
        incremental.Remove(model::Kind::kWorkloadEndpoint, ns, name);
        continue;
      }
      model::Labels labels;
      if (random() % 2) labels["k"] = pick(values);
      model::Resource ep =
          Endpoint(name + ns, pick(nodes), fmt::format("10.0.0.{}", 1 + random() % 6), labels, ns);
      ep.metadata.name = name;
      if (random() % 2) ep = WithHttpPort(std::move(ep), static_cast<uint16_t>(8000 + step % 3));
      live[key] = ep;
      incremental.Upsert(ep);
    } else if (what < 7) {  // namespace
      std::string ns = pick(namespaces);
      std::string key = "ns/" + ns;
      if (random() % 3 == 0) {
        live.erase(key);
        incremental.Remove(model::Kind::kNamespace, "", ns);
        continue;
      }
      model::Labels labels;
      if (random() % 2) labels["k"] = pick(values);
      model::Resource r = Namespace(ns, labels);
      live[key] = r;
      incremental.Upsert(r);
    } else if (what == 9 && random() % 2) {  // a global policy whose scope is namespace labels
      std::string name = fmt::format("g{}", random() % 2);
      std::string key = "gnp/" + name;
      if (random() % 4 == 0) {
        live.erase(key);
        incremental.Remove(model::Kind::kGlobalNetworkPolicy, "", name);
        continue;
      }
      const std::vector<std::string> namespace_selectors = {"k == 'a'", "k == 'b'", "has(k)"};
      model::Resource r = testing::GlobalPolicy(
          name, "all()", {testing::RuleAllowFrom("all()", pick(namespace_selectors))});
      r.policy().namespace_selector = pick(namespace_selectors);
      live[key] = r;
      incremental.Upsert(r);
    } else {  // Kubernetes policy
      std::string name = fmt::format("p{}", random() % 3);
      std::string ns = pick(namespaces);
      std::string key = fmt::format("knp/{}/{}", ns, name);
      if (random() % 4 == 0) {
        live.erase(key);
        incremental.Remove(model::Kind::kKubernetesNetworkPolicy, ns, name);
        continue;
      }
      model::Resource r = model::MakeResource(model::Kind::kKubernetesNetworkPolicy, name, ns);
      model::KubernetesNetworkPolicySpec& s = r.kubernetes_network_policy();
      s.pod_selector = selector();
      for (int i = static_cast<int>(random() % 3); i > 0; --i) {
        model::NetworkPolicyIngressRule rule;
        for (int j = static_cast<int>(random() % 3); j > 0; --j) rule.from.push_back(peer());
        rule.ports = ports();
        s.ingress.push_back(rule);
      }
      for (int i = static_cast<int>(random() % 2); i > 0; --i) {
        model::NetworkPolicyEgressRule rule;
        for (int j = static_cast<int>(random() % 2); j > 0; --j) rule.to.push_back(peer());
        rule.ports = ports();
        s.egress.push_back(rule);
      }
      if (random() % 3 == 0) s.policy_types = {model::PolicyType::kEgress};
      model::ApplyDefaults(r);
      ASSERT_TRUE(model::Validate(r).ok()) << model::Validate(r);
      live[key] = r;
      incremental.Upsert(r);
    }
    if (random() % 3 != 0) continue;
    ASSERT_TRUE(testing::FlushMatchesFreshCalculation(incremental, live, kNode)) << "step " << step;
    for (const auto& [id, program] : incremental.state().programs) {
      if (!id.starts_with("knp.") || program.rules.empty()) continue;
      const std::string& set = program.rules[0].source.ip_set;
      if (!set.empty() && !incremental.state().ip_sets.at(set).empty()) {
        ++checks_with_kubernetes_sets;
        break;
      }
    }
  }
  EXPECT_GT(checks_with_kubernetes_sets, 50);
}

}  // namespace
}  // namespace tabby::calc
