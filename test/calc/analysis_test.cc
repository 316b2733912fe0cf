// Policy analysis: the evaluator's verdicts follow nft_render's semantics (order, Pass, Log,
// profiles, default), across hosts, with the reasons explain prints.
#include "calc/analysis.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "calc/test_resources.h"

namespace tabby::calc {
namespace {

using testing::Endpoint;
using testing::GlobalPolicy;
using ::testing::HasSubstr;
using testing::NamespacedPolicy;
using testing::ProfileWith;
using testing::RuleAllowFrom;

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;

model::Rule RuleWith(model::Action action, const std::string& source_selector = "") {
  model::Rule rule;
  rule.action = action;
  rule.source.selector = source_selector;
  return rule;
}

model::Rule TcpPorts(model::Action action, std::vector<model::PortSpec> ports) {
  model::Rule rule;
  rule.action = action;
  rule.protocol = model::Protocol{kTcp, "TCP"};
  rule.destination.ports = std::move(ports);
  return rule;
}

class AnalysisTest : public ::testing::Test {
 protected:
  // Workloads a, b on host1 and c on host2, all in namespace "default".
  std::vector<model::Resource> Base() {
    return {Endpoint("a", "host1", "10.0.0.1", {{"app", "a"}}),
            Endpoint("b", "host1", "10.0.0.2", {{"app", "b"}}),
            Endpoint("c", "host2", "10.0.0.3", {{"app", "c"}})};
  }
  static Explanation Explain(PolicyAnalysis& analysis, const std::string& from,
                             const std::string& to, uint8_t protocol = kTcp, uint16_t port = 80) {
    auto source = analysis.Resolve(from);
    auto destination = analysis.Resolve(to);
    EXPECT_TRUE(source.ok()) << source.status();
    EXPECT_TRUE(destination.ok()) << destination.status();
    return analysis.Explain(*source, *destination, protocol, port);
  }
};

TEST_F(AnalysisTest, OpenByDefaultAndDenyByDefaultWhenConfigured) {
  PolicyAnalysis open(Base());
  Explanation e = Explain(open, "a", "c");
  EXPECT_TRUE(e.allowed);
  ASSERT_TRUE(e.egress && e.ingress);
  EXPECT_THAT(e.ingress->reason, HasSubstr("cluster default (allow)"));

  auto resources = Base();
  model::Resource config = model::MakeResource(model::Kind::kClusterConfiguration, "default");
  config.cluster_configuration().default_endpoint_policy = "Deny";
  resources.push_back(config);
  PolicyAnalysis closed(resources);
  e = Explain(closed, "a", "c");
  EXPECT_FALSE(e.allowed);
  EXPECT_THAT(e.egress->reason, HasSubstr("cluster default (deny)"));
  EXPECT_TRUE(Explain(closed, "a", "a").allowed);  // never leaves the workload
  EXPECT_TRUE(Explain(closed, "a", "a").same_workload);
}

TEST_F(AnalysisTest, IngressPolicyAtTheDestinationHostDecides) {
  auto resources = Base();
  resources.push_back(GlobalPolicy("c-from-a", "app == 'c'", {RuleAllowFrom("app == 'a'")}));
  PolicyAnalysis analysis(resources);
  Explanation e = Explain(analysis, "default/a", "default/c");
  EXPECT_TRUE(e.allowed);
  EXPECT_EQ(e.ingress->reason, "allowed by GlobalNetworkPolicy c-from-a (ingress) rule 0");
  e = Explain(analysis, "b", "c");
  EXPECT_FALSE(e.allowed);
  EXPECT_THAT(e.ingress->reason, HasSubstr("none of their rules allowed"));
  ASSERT_EQ(e.ingress->steps.size(), 1u);
  EXPECT_EQ(e.ingress->steps[0].outcome, "no rule matched");
  // By address: the same endpoint.
  e = Explain(analysis, "10.0.0.1", "10.0.0.3");
  EXPECT_TRUE(e.allowed);
  EXPECT_EQ(e.source.display, "default/a");
}

TEST_F(AnalysisTest, OrderDenyLogPassAndProfiles) {
  auto resources = Base();
  // Order 10: log everything, deny from b; order 20: pass from a; then profile "p" allows a.
  model::Resource first =
      GlobalPolicy("first", "app == 'c'",
                   {RuleWith(model::Action::kLog), RuleWith(model::Action::kDeny, "app == 'b'")});
  first.policy().order = 10;
  model::Resource second =
      GlobalPolicy("second", "app == 'c'", {RuleWith(model::Action::kPass, "app == 'a'")});
  second.policy().order = 20;
  resources.push_back(first);
  resources.push_back(second);
  resources.push_back(ProfileWith("p", {}, {RuleAllowFrom("app == 'a'")}));
  resources[2].workload_endpoint().profiles = {"p"};
  PolicyAnalysis analysis(resources);

  Explanation e = Explain(analysis, "b", "c");
  EXPECT_FALSE(e.allowed);
  EXPECT_EQ(e.ingress->reason, "denied by GlobalNetworkPolicy first (ingress) rule 1");
  ASSERT_EQ(e.ingress->steps.size(), 2u);
  EXPECT_EQ(e.ingress->steps[0].outcome, "Log (continues)");

  e = Explain(analysis, "a", "c");
  EXPECT_TRUE(e.allowed);
  EXPECT_THAT(e.ingress->reason, HasSubstr("Profile p"));
  EXPECT_THAT(e.ingress->reason, HasSubstr("after a Pass"));
}

TEST_F(AnalysisTest, PortsProtocolsAndNamedPorts) {
  auto resources = Base();
  resources[2].workload_endpoint().ports = {{"web", model::Protocol{kTcp, "TCP"}, 8080, 0, ""}};
  model::Rule named = TcpPorts(model::Action::kAllow, {model::PortSpec{0, 0, "web"}});
  model::Rule range = TcpPorts(model::Action::kAllow, {model::PortSpec{9000, 9100, ""}});
  resources.push_back(GlobalPolicy("ports", "app == 'c'", {named, range}));
  PolicyAnalysis analysis(resources);
  EXPECT_TRUE(Explain(analysis, "a", "c", kTcp, 8080).allowed);
  EXPECT_FALSE(Explain(analysis, "a", "c", kTcp, 80).allowed);
  EXPECT_TRUE(Explain(analysis, "a", "c", kTcp, 9050).allowed);
  EXPECT_FALSE(Explain(analysis, "a", "c", kTcp, 9101).allowed);
  EXPECT_FALSE(Explain(analysis, "a", "c", kUdp, 8080).allowed);
  EXPECT_FALSE(Explain(analysis, "a", "c", kIcmp, 0).allowed);
}

TEST_F(AnalysisTest, EgressAtTheSourceMustAgree) {
  auto resources = Base();
  model::Resource egress = model::MakeResource(model::Kind::kGlobalNetworkPolicy, "a-only-to-b");
  egress.policy().selector = "app == 'a'";
  egress.policy().types = {model::PolicyType::kEgress};
  model::Rule to_b;
  to_b.action = model::Action::kAllow;
  to_b.destination.selector = "app == 'b'";
  egress.policy().egress = {to_b};
  resources.push_back(egress);
  PolicyAnalysis analysis(resources);
  EXPECT_TRUE(Explain(analysis, "a", "b").allowed);
  Explanation e = Explain(analysis, "a", "c");
  EXPECT_FALSE(e.allowed);
  EXPECT_FALSE(e.egress->allowed);
  EXPECT_TRUE(e.ingress->allowed);
  // To an address outside the cluster: egress is all there is.
  e = Explain(analysis, "a", "192.0.2.1");
  EXPECT_FALSE(e.allowed);
  EXPECT_FALSE(e.ingress.has_value());
}

TEST_F(AnalysisTest, NamespacedPolicyScopesItsSelectors) {
  auto resources = Base();
  resources.push_back(Endpoint("d", "host2", "10.0.0.4", {{"app", "a"}}, "other"));
  resources.push_back(
      NamespacedPolicy("default", "from-a", "app == 'c'", {RuleAllowFrom("app == 'a'")}));
  PolicyAnalysis analysis(resources);
  EXPECT_TRUE(Explain(analysis, "default/a", "c").allowed);
  // Same label, other namespace: the policy's selector does not reach it.
  EXPECT_FALSE(Explain(analysis, "other/d", "c").allowed);
}

TEST_F(AnalysisTest, ResolveErrors) {
  auto resources = Base();
  resources.push_back(Endpoint("a", "host2", "10.0.0.9", {}, "other"));
  PolicyAnalysis analysis(resources);
  auto ambiguous = analysis.Resolve("a");
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("default/a, other/a"));
  EXPECT_EQ(analysis.Resolve("nobody").status().code(), absl::StatusCode::kNotFound);
  auto v6 = analysis.Resolve("fd00::1");
  ASSERT_TRUE(v6.ok());
  Explanation e = analysis.Explain(*analysis.Resolve("default/a"), *v6, kTcp, 80);
  EXPECT_THAT(e.problem, HasSubstr("no address family in common"));
}

}  // namespace
}  // namespace tabby::calc
