// tabbyctl with Kubernetes objects, and `policy explain` / `policy matrix` as users see them.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ctl/ctl.h"
#include "ctl_fixture.h"

namespace tabby::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kNamespaces[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {ns: y}}
)";

constexpr char kDenyIngressX[] = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
)";

constexpr char kAllowFromY[] = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: 80}]
)";

// One pod "a" in each of x and y, both on node1.
std::string Pods() {
  std::string out;
  int host = 1;
  for (const char* ns : {"x", "y"}) {
    out += fmt::format(R"(---
apiVersion: tabby.dev/v1
kind: WorkloadEndpoint
metadata:
  name: node1-k8s-a-eth0
  namespace: {0}
  labels: {{pod: a}}
spec:
  node: node1
  orchestrator: k8s
  pod: a
  endpoint: eth0
  interfaceName: tabby{0}0000000
  ipNetworks: [10.10.0.{1}/32]
)",
                       ns, host++);
  }
  return out;
}

class PolicyCtlTest : public CtlTest {
 protected:
  void SetUp() override {
    CtlTest::SetUp();
    Result r =
        Run({"apply", "-f", WriteFile("model.yaml", Docs({kNamespaces, kDenyIngressX}) + Pods())});
    ASSERT_EQ(r.code, 0) << r;
  }

  nlohmann::json MatrixJson(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"policy", "matrix", "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << r;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
};

TEST_F(PolicyCtlTest, KubernetesObjectsAreNamedAsKubectlNamesThem) {
  Result r = Run({"apply", "-f", WriteFile("p.yaml", Docs({kNamespaces, kAllowFromY}))});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(r.out,
            "namespace/x unchanged\n"
            "namespace/y unchanged\n"
            "networkpolicy.networking.k8s.io/allow-from-y created\n");
}

// `networkpolicy` is tabby's kind; a user deleting a Kubernetes policy by that name is told which
// name to use, and kubectl's qualified name works.
TEST_F(PolicyCtlTest, NotFoundNamesTheOtherNetworkPolicyKind) {
  Result r = Run({"delete", "networkpolicy", "deny-ingress", "-n", "x"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("networkpolicy \"deny-ingress\" not found in namespace \"x\" (a "
                               "Kubernetes NetworkPolicy of that name exists: use knp or "
                               "networkpolicy.networking.k8s.io)"));
  r = Run({"get", "networkpolicy", "deny-ingress", "-n", "x"});
  EXPECT_THAT(r.err, HasSubstr("use knp"));
  r = Run({"delete", "networkpolicy.networking.k8s.io", "deny-ingress", "-n", "x"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_THAT(StoredNames(Kind::kKubernetesNetworkPolicy, "x"), IsEmpty());
}

TEST_F(PolicyCtlTest, GetOutputOfKubernetesKindsAppliesAndDeletes) {
  Result got = Run({"get", "networkpolicies.networking.k8s.io", "-n", "x", "-o", "yaml"});
  ASSERT_EQ(got.code, 0) << got;
  EXPECT_THAT(got.out, HasSubstr("apiVersion: networking.k8s.io/v1"));
  EXPECT_THAT(got.out, HasSubstr("kind: NetworkPolicyList"));
  std::string file = WriteFile("got.yaml", got.out);
  Result again = Run({"apply", "-f", file});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_EQ(again.out, "networkpolicy.networking.k8s.io/deny-ingress unchanged\n");
  Result deleted = Run({"delete", "-f", file});
  ASSERT_EQ(deleted.code, 0) << deleted;
  EXPECT_THAT(StoredNames(Kind::kKubernetesNetworkPolicy, "x"), IsEmpty());

  Result missing = Run({"delete", "knp", "deny-ingress", "-n", "x"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("networkpolicy.networking.k8s.io \"deny-ingress\" not found "
                                     "in namespace \"x\""));

  Result namespaces = Run({"get", "ns", "-o", "json"});
  ASSERT_EQ(namespaces.code, 0) << namespaces;
  EXPECT_THAT(namespaces.out, HasSubstr("\"kubernetes.io/metadata.name\": \"x\""));
}

TEST_F(PolicyCtlTest, MatrixAsTableAndJson) {
  Result table = Run({"policy", "matrix"});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_THAT(table.out, HasSubstr("TCP 80: rows are sources, columns destinations"));
  EXPECT_THAT(table.out, HasSubstr("y/a         X     ."));

  nlohmann::json matrix = MatrixJson();
  ASSERT_FALSE(matrix.is_discarded());
  EXPECT_EQ(matrix["protocol"], "TCP");
  EXPECT_EQ(matrix["port"], 80);
  EXPECT_EQ(matrix["workloads"], nlohmann::json({"x/a", "y/a"}));
  EXPECT_EQ(matrix["endpoints"], nlohmann::json({"x/node1-k8s-a-eth0", "y/node1-k8s-a-eth0"}));
  EXPECT_EQ(matrix["allowed"], nlohmann::json({{true, true}, {false, true}}));
  EXPECT_FALSE(matrix.contains("differs"));
}

TEST_F(PolicyCtlTest, MatrixWithChangesMarksWhatWouldChangeAndWritesNothing) {
  std::string changes = WriteFile("changes.yaml", kAllowFromY);
  Result table = Run({"policy", "matrix", "-f", changes});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_THAT(table.out, HasSubstr("after the changes"));
  EXPECT_THAT(table.out, HasSubstr("y/a         .*"));
  EXPECT_THAT(table.out, HasSubstr("1 cells would change."));

  nlohmann::json on81 = MatrixJson({"-f", changes, "--port", "81"});
  EXPECT_EQ(on81["allowed"], nlohmann::json({{true, true}, {false, true}}));
  EXPECT_EQ(on81["differs"], nlohmann::json({{false, false}, {false, false}}));
  EXPECT_THAT(StoredNames(Kind::kKubernetesNetworkPolicy, "x"),
              ::testing::ElementsAre("deny-ingress"));
}

TEST_F(PolicyCtlTest, ExplainNamesTheKubernetesPolicyAndTheVerdict) {
  Result denied = Run({"policy", "explain", "y/a", "x/a"});
  ASSERT_EQ(denied.code, 0) << denied;
  EXPECT_THAT(denied.out, HasSubstr("KubernetesNetworkPolicy x/deny-ingress"));
  EXPECT_THAT(denied.out, HasSubstr("Verdict: DENIED (ingress at the destination)"));

  ASSERT_EQ(Run({"apply", "-f", WriteFile("allow.yaml", kAllowFromY)}).code, 0);
  Result allowed = Run({"policy", "explain", "y/a", "x/a", "--port", "80"});
  EXPECT_THAT(allowed.out, HasSubstr("KubernetesNetworkPolicy x/allow-from-y"));
  EXPECT_THAT(allowed.out, HasSubstr("Verdict: ALLOWED"));
  Result other_port = Run({"policy", "explain", "y/a", "x/a", "--port", "81"});
  EXPECT_THAT(other_port.out, HasSubstr("Verdict: DENIED"));
}

TEST_F(PolicyCtlTest, MatrixErrors) {
  Result bad_protocol = Run({"policy", "matrix", "--protocol", "GRE"});
  EXPECT_EQ(bad_protocol.code, 1);
  EXPECT_THAT(bad_protocol.err, HasSubstr("--protocol: \"GRE\" is not one of"));
  Result bad_output = Run({"policy", "matrix", "-o", "xml"});
  EXPECT_NE(bad_output.code, 0);
  Result bad_changes = Run({"policy", "matrix", "-f", WriteFile("bad.yaml", "kind: Nope\n")});
  EXPECT_EQ(bad_changes.code, 1);
  EXPECT_THAT(bad_changes.err, HasSubstr("bad.yaml"));
  // A namespace that nothing is in is a mistake, not an empty matrix.
  Result unknown = Run({"policy", "matrix", "-n", "x,nope"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("namespace \"nope\" not found: no Namespace resource names "
                                     "it and no workload endpoint is in it"));
}

// Namespaces are implicit for policy: `get ns` and `policy matrix -n` say the same about one
// that has workloads but no Namespace resource.
TEST_F(PolicyCtlTest, ANamespaceWithWorkloadsButNoResourceIsExplained) {
  ASSERT_EQ(Run({"delete", "ns", "y"}).code, 0);
  EXPECT_EQ(MatrixJson({"-n", "y"})["workloads"].size(), 1u);
  Result got = Run({"get", "ns", "y"});
  EXPECT_EQ(got.code, 1);
  EXPECT_THAT(got.err, HasSubstr("namespace \"y\" not found as a resource, but 1 workload "
                                 "endpoints are in it: policy treats it as a namespace with "
                                 "only its name labels kubernetes.io/metadata.name=y and "
                                 "projectcalico.org/name=y"));
}

}  // namespace
}  // namespace tabby::ctl
