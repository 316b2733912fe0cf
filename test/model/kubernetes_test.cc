// Kubernetes Namespace and NetworkPolicy: decoding verbatim upstream YAML, encoding that
// re-applies (to tabby and to Kubernetes), defaulting, and the conversion to a tabby policy.
#include "model/kubernetes.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/codec.h"
#include "model/decode_helpers.h"  // test/model
#include "model/validate.h"
#include "selector/selector.h"

namespace tabby::model {
namespace {

using ::testing::HasSubstr;

// https://kubernetes.io/docs/concepts/services-networking/network-policies/, verbatim.
constexpr char kTestNetworkPolicyYaml[] = R"yaml(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - from:
        - ipBlock:
            cidr: 172.17.0.0/16
            except:
              - 172.17.1.0/24
        - namespaceSelector:
            matchLabels:
              project: myproject
        - podSelector:
            matchLabels:
              role: frontend
      ports:
        - protocol: TCP
          port: 6379
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/24
      ports:
        - protocol: TCP
          port: 5978
)yaml";

constexpr char kMultiPortEgressYaml[] = R"yaml(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: multi-port-egress
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
    - Egress
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/24
      ports:
        - protocol: TCP
          port: 32000
          endPort: 32768
)yaml";

constexpr char kDefaultDenyIngressYaml[] = R"yaml(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {}
  policyTypes:
  - Ingress
)yaml";

constexpr char kAllowAllIngressYaml[] = R"yaml(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-all-ingress
spec:
  podSelector: {}
  ingress:
  - {}
  policyTypes:
  - Ingress
)yaml";

constexpr char kDefaultDenyAllYaml[] = R"yaml(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
spec:
  podSelector: {}
  policyTypes:
  - Ingress
  - Egress
)yaml";

constexpr char kAllowAllEgressYaml[] = R"yaml(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-all-egress
spec:
  podSelector: {}
  egress:
  - {}
  policyTypes:
  - Egress
)yaml";

// The docs' "namespaceSelector and podSelector" peer (one element: AND), with expressions.
constexpr char kAndPeerYaml[] = R"yaml(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: alice-clients
  namespace: prod
spec:
  podSelector:
    matchExpressions:
    - {key: tier, operator: In, values: [web, api]}
    - {key: canary, operator: DoesNotExist}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          user: alice
      podSelector:
        matchLabels:
          role: client
    ports:
    - port: http
    - protocol: UDP
)yaml";

// What `kubectl get namespace prod -o yaml` prints.
constexpr char kNamespaceYaml[] = R"yaml(apiVersion: v1
kind: Namespace
metadata:
  creationTimestamp: "2024-05-01T10:00:00Z"
  labels:
    kubernetes.io/metadata.name: prod
    team: web
  name: prod
  resourceVersion: "1234"
  uid: 6f1c1a56-3c8e-4c1e-9d0e-7a1b2c3d4e5f
spec:
  finalizers:
  - kubernetes
status:
  phase: Active
)yaml";

using testing::DecodeError;
using testing::DecodeOne;

LabelSelector Labels1(std::string key, std::string value) {
  LabelSelector selector;
  selector.match_labels[std::move(key)] = std::move(value);
  return selector;
}

NetworkPolicyPort TcpPort(int32_t number) {
  return NetworkPolicyPort{Protocol{Protocol::kTcp, "TCP"}, PortNumberOrName{number, ""},
                           std::nullopt};
}

// ---------------------------------------------------------------------------------------------
// Decoding and encoding.

TEST(KubernetesNetworkPolicy, DecodesTheDocsExample) {
  Resource r = DecodeOne(kTestNetworkPolicyYaml);
  ASSERT_EQ(r.kind, Kind::kKubernetesNetworkPolicy);
  EXPECT_EQ(r.api_version, kKubernetesNetworkingApiVersion);
  EXPECT_EQ(r.metadata.name, "test-network-policy");
  EXPECT_EQ(r.metadata.namespace_name, "default");
  const KubernetesNetworkPolicySpec& s = r.kubernetes_network_policy();
  EXPECT_EQ(s.pod_selector, Labels1("role", "db"));
  EXPECT_EQ(s.policy_types, (std::vector<PolicyType>{PolicyType::kIngress, PolicyType::kEgress}));
  ASSERT_EQ(s.ingress.size(), 1u);
  const NetworkPolicyIngressRule& in = s.ingress[0];
  ASSERT_EQ(in.from.size(), 3u);
  EXPECT_EQ(in.from[0], (NetworkPolicyPeer{std::nullopt, std::nullopt,
                                           IPBlock{"172.17.0.0/16", {"172.17.1.0/24"}}}));
  EXPECT_EQ(in.from[1],
            (NetworkPolicyPeer{std::nullopt, Labels1("project", "myproject"), std::nullopt}));
  EXPECT_EQ(in.from[2],
            (NetworkPolicyPeer{Labels1("role", "frontend"), std::nullopt, std::nullopt}));
  EXPECT_EQ(in.ports, std::vector<NetworkPolicyPort>{TcpPort(6379)});
  ASSERT_EQ(s.egress.size(), 1u);
  EXPECT_EQ(s.egress[0].to[0].ip_block, (IPBlock{"10.0.0.0/24", {}}));
  EXPECT_EQ(s.egress[0].ports, std::vector<NetworkPolicyPort>{TcpPort(5978)});
}

TEST(KubernetesNetworkPolicy, EndPortAndExpressions) {
  Resource multi = DecodeOne(kMultiPortEgressYaml);
  const NetworkPolicyPort& port = multi.kubernetes_network_policy().egress.at(0).ports.at(0);
  EXPECT_EQ(port.port, (PortNumberOrName{32000, ""}));
  EXPECT_EQ(port.end_port, 32768);
  EXPECT_EQ(multi.kubernetes_network_policy().policy_types,
            std::vector<PolicyType>{PolicyType::kEgress});

  Resource and_peer = DecodeOne(kAndPeerYaml);
  const KubernetesNetworkPolicySpec& s = and_peer.kubernetes_network_policy();
  ASSERT_EQ(s.pod_selector.match_expressions.size(), 2u);
  EXPECT_EQ(s.pod_selector.match_expressions[0],
            (LabelSelectorRequirement{"tier", SelectorOperator::kIn, {"web", "api"}}));
  EXPECT_EQ(s.pod_selector.match_expressions[1],
            (LabelSelectorRequirement{"canary", SelectorOperator::kDoesNotExist, {}}));
  const NetworkPolicyPeer& peer = s.ingress.at(0).from.at(0);
  EXPECT_EQ(peer.namespace_selector, Labels1("user", "alice"));
  EXPECT_EQ(peer.pod_selector, Labels1("role", "client"));
  // Defaulting: protocol TCP where absent; a named port stays a name.
  EXPECT_EQ(s.ingress[0].ports[0], (NetworkPolicyPort{Protocol{Protocol::kTcp, "TCP"},
                                                      PortNumberOrName{0, "http"}, std::nullopt}));
  EXPECT_EQ(s.ingress[0].ports[1],
            (NetworkPolicyPort{Protocol{Protocol::kUdp, "UDP"}, std::nullopt, std::nullopt}));
}

TEST(KubernetesNetworkPolicy, AbsentAndEmptyStayApart) {
  Resource deny = DecodeOne(kDefaultDenyIngressYaml);
  EXPECT_EQ(deny.metadata.namespace_name, "default");
  const KubernetesNetworkPolicySpec& d = deny.kubernetes_network_policy();
  EXPECT_EQ(d.pod_selector, LabelSelector{});
  EXPECT_TRUE(d.ingress.empty());

  Resource allow = DecodeOne(kAllowAllIngressYaml);
  ASSERT_EQ(allow.kubernetes_network_policy().ingress.size(), 1u);
  EXPECT_EQ(allow.kubernetes_network_policy().ingress[0], NetworkPolicyIngressRule{});

  // An empty peer selector is present (all pods / all namespaces), unlike an absent one.
  Resource all_namespaces = DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-anywhere-in-cluster}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {}
)");
  const NetworkPolicyPeer& peer = all_namespaces.kubernetes_network_policy().ingress[0].from[0];
  EXPECT_EQ(peer.namespace_selector, LabelSelector{});
  EXPECT_FALSE(peer.pod_selector.has_value());
}

TEST(KubernetesNetworkPolicy, PolicyTypesDefaultLikeTheApiServer) {
  auto types_of = [](std::string_view spec) {
    Resource r = DecodeOne(
        fmt::format("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p}}\n"
                    "spec:\n{}",
                    spec));
    return r.kubernetes_network_policy().policy_types;
  };
  const std::vector<PolicyType> ingress = {PolicyType::kIngress};
  const std::vector<PolicyType> both = {PolicyType::kIngress, PolicyType::kEgress};
  EXPECT_EQ(types_of("  podSelector: {}\n"), ingress);
  EXPECT_EQ(types_of("  ingress: [{}]\n"), ingress);
  EXPECT_EQ(types_of("  egress: []\n"), ingress);
  // Unlike Calico's [Egress]: Kubernetes always adds Ingress when policyTypes is absent.
  EXPECT_EQ(types_of("  egress: [{}]\n"), both);
  EXPECT_EQ(types_of("  ingress: [{}]\n  egress: [{ports: [{port: 53, protocol: UDP}]}]\n"), both);
  EXPECT_EQ(types_of("  policyTypes: [Egress]\n  ingress: [{}]\n"),
            std::vector<PolicyType>{PolicyType::kEgress});
}

TEST(KubernetesNetworkPolicy, EncodesInItsOwnGroupAndRoundTrips) {
  for (const char* yaml :
       {kTestNetworkPolicyYaml, kMultiPortEgressYaml, kDefaultDenyIngressYaml, kAllowAllIngressYaml,
        kDefaultDenyAllYaml, kAllowAllEgressYaml, kAndPeerYaml}) {
    SCOPED_TRACE(yaml);
    Resource r = DecodeOne(yaml);
    nlohmann::json encoded = Encode(r);
    EXPECT_EQ(encoded["apiVersion"], "networking.k8s.io/v1");
    EXPECT_EQ(encoded["kind"], "NetworkPolicy");
    EXPECT_TRUE(encoded["spec"].contains("podSelector")) << encoded.dump();
    EXPECT_EQ(DecodeOne(EncodeYaml(r)), r);
    absl::StatusOr<Resource> stored = DecodeStored(EncodeJson(r));
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(*stored, r);
    EXPECT_EQ(EncodeJson(*stored), EncodeJson(r));
  }
  EXPECT_EQ(EncodeYaml(DecodeOne(kDefaultDenyAllYaml)), R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
  namespace: default
spec:
  podSelector: {}
  policyTypes:
    - Ingress
    - Egress
)");
  nlohmann::json allow_all = Encode(DecodeOne(kAllowAllIngressYaml));
  EXPECT_EQ(allow_all["spec"]["ingress"], nlohmann::json::parse("[{}]"));
  nlohmann::json peer = Encode(DecodeOne(kTestNetworkPolicyYaml))["spec"]["ingress"][0]["from"];
  EXPECT_EQ(peer[0], nlohmann::json::parse(
                         R"({"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}})"));
  EXPECT_EQ(Encode(DecodeOne(kAndPeerYaml))["spec"]["ingress"][0]["ports"][0],
            nlohmann::json::parse(R"({"port": "http", "protocol": "TCP"})"));
}

TEST(KubernetesNetworkPolicy, ListsInTheNetworkingGroup) {
  std::vector<Resource> policies = {DecodeOne(kTestNetworkPolicyYaml),
                                    DecodeOne(kDefaultDenyAllYaml)};
  nlohmann::json list = EncodeList(policies);
  EXPECT_EQ(list["apiVersion"], "networking.k8s.io/v1");
  EXPECT_EQ(list["kind"], "NetworkPolicyList");
  absl::StatusOr<std::vector<Resource>> back = DecodeDocuments(EncodeListYaml(policies), "l");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, policies);

  // Items of a NetworkPolicyList take the list's group; Calico's NetworkPolicyList stays Calico's.
  absl::StatusOr<std::vector<Resource>> bare = DecodeDocuments(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicyList
items:
- metadata: {name: a, namespace: prod}
  spec: {podSelector: {}}
- kind: NetworkPolicy
  metadata: {name: b}
  spec: {podSelector: {}}
)",
                                                               "l");
  ASSERT_TRUE(bare.ok()) << bare.status();
  ASSERT_EQ(bare->size(), 2u);
  EXPECT_EQ((*bare)[0].kind, Kind::kKubernetesNetworkPolicy);
  EXPECT_EQ((*bare)[1].kind, Kind::kKubernetesNetworkPolicy);
  absl::StatusOr<std::vector<Resource>> calico = DecodeDocuments(R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicyList
items:
- metadata: {name: a, namespace: prod}
  spec: {selector: all()}
)",
                                                                 "l");
  ASSERT_TRUE(calico.ok()) << calico.status();
  EXPECT_EQ(calico->at(0).kind, Kind::kNetworkPolicy);

  // A mixed `List` keeps each item's group.
  std::vector<Resource> mixed = {DecodeOne(kNamespaceYaml), DecodeOne(kDefaultDenyAllYaml)};
  absl::StatusOr<std::vector<Resource>> mixed_back =
      DecodeDocuments(EncodeListYaml(mixed), "mixed");
  ASSERT_TRUE(mixed_back.ok()) << mixed_back.status();
  EXPECT_EQ(*mixed_back, mixed);

  EXPECT_THAT(DecodeError(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicyList
items:
- apiVersion: projectcalico.org/v3
  kind: NetworkPolicy
  metadata: {name: a}
)"),
              HasSubstr("item 1 (NetworkPolicy \"a\"), line 4, field apiVersion: apiVersion "
                        "projectcalico.org/v3 in a NetworkPolicyList of apiVersion "
                        "networking.k8s.io/v1"));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: IPPoolList\nitems: []\n"),
              HasSubstr("line 1, field apiVersion: kind IPPoolList is not part of apiVersion v1; "
                        "use projectcalico.org/v3 or tabby.dev/v1"));
}

TEST(Namespace, DecodesKubectlOutputAndIgnoresStatus) {
  Resource r = DecodeOne(kNamespaceYaml);
  ASSERT_EQ(r.kind, Kind::kNamespace);
  EXPECT_EQ(r.api_version, "v1");
  EXPECT_EQ(r.metadata.name, "prod");
  EXPECT_TRUE(r.metadata.namespace_name.empty());
  EXPECT_EQ(r.metadata.labels, (Labels{{"kubernetes.io/metadata.name", "prod"}, {"team", "web"}}));
  EXPECT_EQ(r.namespace_spec().finalizers, std::vector<std::string>{"kubernetes"});
  nlohmann::json encoded = Encode(r);
  EXPECT_EQ(encoded["apiVersion"], "v1");
  EXPECT_EQ(encoded["kind"], "Namespace");
  EXPECT_FALSE(encoded.contains("status"));
  EXPECT_EQ(DecodeOne(EncodeYaml(r)), r);

  nlohmann::json list = EncodeList({r});
  EXPECT_EQ(list["apiVersion"], "v1");
  EXPECT_EQ(list["kind"], "NamespaceList");
  absl::StatusOr<std::vector<Resource>> back = DecodeDocuments(EncodeListYaml({r}), "l");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, std::vector<Resource>{r});
}

TEST(KubernetesKinds, IgnoresWhatTheApiServerAdds) {
  Resource r = DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy"}
  creationTimestamp: "2024-05-01T10:00:00Z"
  generation: 3
  managedFields:
  - manager: kubectl-client-side-apply
    operation: Update
  name: np
  namespace: prod
  resourceVersion: "42"
  selfLink: /apis/networking.k8s.io/v1/namespaces/prod/networkpolicies/np
  uid: 0c7e9a44-2f4b-4c43-9d0b-1f2e3d4c5b6a
spec:
  podSelector: {}
status: {}
)");
  EXPECT_EQ(r.metadata.name, "np");
  EXPECT_EQ(r.metadata.resource_version, "42");
  EXPECT_FALSE(Encode(r)["metadata"].contains("generation"));
  // Only Kubernetes kinds: tabby's own stay strict.
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n"
                          "  generation: 1\n"),
              HasSubstr("line 5, field metadata.generation: unknown field \"generation\""));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: p\n"
                          "  ownerReferences: []\n"),
              HasSubstr("line 5, field metadata.ownerReferences: unknown field"));
}

TEST(Namespace, DefaultsTheMetadataNameLabel) {
  Resource r = DecodeOne("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n");
  EXPECT_EQ(r.metadata.labels, (Labels{{"kubernetes.io/metadata.name", "dev"}}));
  // As the API server does, the label always names the namespace.
  Resource lying = DecodeOne(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n  labels:\n"
      "    kubernetes.io/metadata.name: prod\n");
  EXPECT_EQ(lying.metadata.labels.at("kubernetes.io/metadata.name"), "dev");
  Resource made = MakeResource(Kind::kNamespace, "qa");
  EXPECT_EQ(made.api_version, "v1");
  ApplyDefaults(made);
  EXPECT_EQ(made.metadata.labels.at("kubernetes.io/metadata.name"), "qa");
  EXPECT_TRUE(Validate(made).ok()) << Validate(made);
}

TEST(KubernetesKinds, GroupErrors) {
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: IPPool\nmetadata: {name: p}\n"),
              HasSubstr("line 1, field apiVersion: kind IPPool is not part of apiVersion v1; use "
                        "projectcalico.org/v3 or tabby.dev/v1"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: Namespace\nmetadata: {name: p}\n"),
              HasSubstr("field apiVersion: kind Namespace is not part of apiVersion tabby.dev/v1; "
                        "use v1"));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"),
              HasSubstr("kind NetworkPolicy is not part of apiVersion v1; use "
                        "projectcalico.org/v3, tabby.dev/v1 or networking.k8s.io/v1"));
  EXPECT_THAT(DecodeError("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: p}\n"),
              HasSubstr("field kind: unknown kind \"Ingress\" (supported: NetworkPolicy)"));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"),
              HasSubstr("field kind: unknown kind \"Pod\" (supported: Namespace)"));
  EXPECT_THAT(
      DecodeError("apiVersion: tabby.dev/v1\nkind: KubernetesNetworkPolicy\nmetadata: {name: p}\n"),
      HasSubstr("unknown kind \"KubernetesNetworkPolicy\" (did you mean NetworkPolicy with "
                "apiVersion networking.k8s.io/v1?)"));
  EXPECT_THAT(DecodeError("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: p}\n"),
              HasSubstr("field apiVersion: unsupported apiVersion \"apps/v1\": use tabby.dev/v1 "
                        "or projectcalico.org/v3 (v1 for Namespace, networking.k8s.io/v1 for "
                        "Kubernetes NetworkPolicy)"));
  // status belongs to Kubernetes kinds only, and is a map.
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: Profile\nmetadata: {name: p}\n"
                          "status: {}\n"),
              HasSubstr("line 4, field status: unknown field \"status\""));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata: {name: p}\nstatus: gone\n"),
              HasSubstr("line 4, field status: expected a map, got string \"gone\""));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: Namespace\nmetadata: {name: p}\nextra: {}\n"),
              HasSubstr("line 4, field extra: unknown field \"extra\""));
}

TEST(KubernetesKinds, NamesAndGroups) {
  EXPECT_EQ(KindName(Kind::kKubernetesNetworkPolicy), "KubernetesNetworkPolicy");
  EXPECT_EQ(WireKindName(Kind::kKubernetesNetworkPolicy), "NetworkPolicy");
  EXPECT_EQ(ApiVersionOf(Kind::kKubernetesNetworkPolicy), "networking.k8s.io/v1");
  EXPECT_EQ(KindName(Kind::kNamespace), "Namespace");
  EXPECT_EQ(ApiVersionOf(Kind::kNamespace), "v1");
  EXPECT_EQ(ApiVersionOf(Kind::kIPPool), kTabbyApiVersion);
  EXPECT_TRUE(AcceptsApiVersion(Kind::kIPPool, kCalicoApiVersion));
  EXPECT_FALSE(AcceptsApiVersion(Kind::kIPPool, "v1"));
  EXPECT_FALSE(AcceptsApiVersion(Kind::kKubernetesNetworkPolicy, kTabbyApiVersion));
  EXPECT_TRUE(IsNamespaced(Kind::kKubernetesNetworkPolicy));
  EXPECT_FALSE(IsNamespaced(Kind::kNamespace));
  EXPECT_TRUE(IsKubernetesKind(Kind::kNamespace));
  EXPECT_FALSE(IsKubernetesKind(Kind::kNetworkPolicy));
  EXPECT_EQ(DisplayName(MakeResource(Kind::kKubernetesNetworkPolicy, "x", "prod")),
            "KubernetesNetworkPolicy/prod/x");
}

// ---------------------------------------------------------------------------------------------
// Conversion.

TEST(LabelSelectorText, KubernetesOperators) {
  EXPECT_EQ(LabelSelectorText({}), "all()");
  LabelSelector s;
  s.match_labels = {{"role", "db"}, {"app.kubernetes.io/name", "x"}};
  s.match_expressions = {{"tier", SelectorOperator::kIn, {"web", "api"}},
                         {"env", SelectorOperator::kNotIn, {"dev"}},
                         {"team", SelectorOperator::kExists, {}},
                         {"canary", SelectorOperator::kDoesNotExist, {}}};
  EXPECT_EQ(LabelSelectorText(s),
            "app.kubernetes.io/name == \"x\" && role == \"db\" && tier in {\"web\", \"api\"} && "
            "env not in {\"dev\"} && has(team) && !has(canary)");
  absl::StatusOr<selector::Selector> parsed = selector::Selector::Parse(LabelSelectorText(s));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  // Kubernetes' NotIn matches pods without the label; so does the selector.
  EXPECT_TRUE(parsed->Matches(selector::Labels{
      {"role", "db"}, {"app.kubernetes.io/name", "x"}, {"tier", "api"}, {"team", "a"}}));
  EXPECT_FALSE(parsed->Matches(selector::Labels{{"role", "db"},
                                                {"app.kubernetes.io/name", "x"},
                                                {"tier", "api"},
                                                {"team", "a"},
                                                {"env", "dev"}}));
  EXPECT_FALSE(parsed->Matches(selector::Labels{{"role", "db"},
                                                {"app.kubernetes.io/name", "x"},
                                                {"tier", "api"},
                                                {"team", "a"},
                                                {"canary", ""}}));
  // An empty label value is a value.
  EXPECT_EQ(LabelSelectorText(Labels1("a", "")), "a == \"\"");
}

TEST(LabelSelectorText, QuotesAnyValue) {
  // Valid label values hold no quotes; the conversion stays exact for any text anyway.
  EXPECT_EQ(LabelSelectorText(Labels1("a", "it\"s")), "a == 'it\"s'");
  EXPECT_EQ(LabelSelectorText(Labels1("a", "it's")), "a == \"it's\"");
  EXPECT_EQ(LabelSelectorText(Labels1("a", "'\"")), "a in {}");  // no label value equals it
  LabelSelector in;
  in.match_expressions = {{"a", SelectorOperator::kNotIn, {"x", "'\""}}};
  EXPECT_EQ(LabelSelectorText(in), "a not in {\"x\"}");
  for (const LabelSelector& s : {Labels1("a", "it\"s"), Labels1("a", "'\""), in}) {
    EXPECT_TRUE(selector::Selector::Parse(LabelSelectorText(s)).ok()) << LabelSelectorText(s);
  }
}

Rule Allow() {
  Rule rule;
  rule.action = Action::kAllow;
  return rule;
}

TEST(ToTabbyPolicy, TheDocsExample) {
  Resource tabby = ToTabbyPolicy(DecodeOne(kTestNetworkPolicyYaml));
  EXPECT_EQ(tabby.kind, Kind::kNetworkPolicy);
  EXPECT_EQ(tabby.api_version, kTabbyApiVersion);
  EXPECT_EQ(tabby.metadata.name, "knp.default.test-network-policy");
  EXPECT_EQ(tabby.metadata.namespace_name, "default");
  const PolicySpec& p = tabby.policy();
  EXPECT_EQ(p.order, 1000);
  EXPECT_EQ(p.tier, "default");
  EXPECT_EQ(p.selector, "role == \"db\"");
  EXPECT_EQ(p.types, (std::vector<PolicyType>{PolicyType::kIngress, PolicyType::kEgress}));

  Rule tcp6379 = Allow();
  tcp6379.protocol = Protocol{Protocol::kTcp, "TCP"};
  tcp6379.destination.ports = {PortSpec{6379, 6379, ""}};
  Rule from_block = tcp6379;
  from_block.source.nets = {"172.17.0.0/16"};
  from_block.source.not_nets = {"172.17.1.0/24"};
  Rule from_namespaces = tcp6379;
  from_namespaces.source.selector = "all()";
  from_namespaces.source.namespace_selector = "project == \"myproject\"";
  Rule from_pods = tcp6379;
  from_pods.source.selector = "role == \"frontend\"";
  EXPECT_EQ(p.ingress, (std::vector<Rule>{from_block, from_namespaces, from_pods}));

  Rule to_block = Allow();
  to_block.protocol = Protocol{Protocol::kTcp, "TCP"};
  to_block.destination.nets = {"10.0.0.0/24"};
  to_block.destination.ports = {PortSpec{5978, 5978, ""}};
  EXPECT_EQ(p.egress, std::vector<Rule>{to_block});
  EXPECT_TRUE(Validate(tabby).ok()) << Validate(tabby);
}

TEST(ToTabbyPolicy, CrossProductOfPeersAndPorts) {
  Resource tabby = ToTabbyPolicy(DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cross, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: db}}
    - ipBlock: {cidr: 10.1.2.3/16, except: [10.1.9.0/24]}
    ports:
    - port: 5432
    - {protocol: SCTP, port: 3000, endPort: 3100}
    - port: metrics
  - ports:
    - protocol: UDP
)"));
  const PolicySpec& p = tabby.policy();
  EXPECT_TRUE(p.ingress.empty());
  ASSERT_EQ(p.egress.size(), 7u);  // 2 peers x 3 ports, then 1 (any peer) x 1 port
  auto port_rule = [](int peer, int port) {
    Rule rule = Allow();
    if (peer == 0) rule.destination.selector = "app == \"db\"";
    if (peer == 1) {
      rule.destination.nets = {"10.1.0.0/16"};  // masked, as the rule compiler wants it
      rule.destination.not_nets = {"10.1.9.0/24"};
    }
    if (port == 0) {
      rule.protocol = Protocol{Protocol::kTcp, "TCP"};
      rule.destination.ports = {PortSpec{5432, 5432, ""}};
    }
    if (port == 1) {
      rule.protocol = Protocol{Protocol::kSctp, "SCTP"};
      rule.destination.ports = {PortSpec{3000, 3100, ""}};
    }
    if (port == 2) {
      rule.protocol = Protocol{Protocol::kTcp, "TCP"};
      rule.destination.ports = {PortSpec{0, 0, "metrics"}};
    }
    return rule;
  };
  for (int peer = 0; peer < 2; ++peer) {
    for (int port = 0; port < 3; ++port) {
      EXPECT_EQ(p.egress[peer * 3 + port], port_rule(peer, port)) << peer << " " << port;
    }
  }
  Rule udp = Allow();
  udp.protocol = Protocol{Protocol::kUdp, "UDP"};  // a protocol without port: the protocol only
  EXPECT_EQ(p.egress[6], udp);
  EXPECT_TRUE(Validate(tabby).ok()) << Validate(tabby);
}

TEST(ToTabbyPolicy, IsolationAndAllowAll) {
  // No rules for a listed type: the selected pods are isolated (an empty policy).
  Resource deny_all = ToTabbyPolicy(DecodeOne(kDefaultDenyAllYaml));
  EXPECT_EQ(deny_all.policy().selector, "all()");
  EXPECT_EQ(deny_all.policy().types,
            (std::vector<PolicyType>{PolicyType::kIngress, PolicyType::kEgress}));
  EXPECT_TRUE(deny_all.policy().ingress.empty());
  EXPECT_TRUE(deny_all.policy().egress.empty());

  // `ingress: [{}]`: one rule with no peers and no ports allows everything.
  Resource allow_all = ToTabbyPolicy(DecodeOne(kAllowAllIngressYaml));
  EXPECT_EQ(allow_all.policy().ingress, std::vector<Rule>{Allow()});
  Resource allow_egress = ToTabbyPolicy(DecodeOne(kAllowAllEgressYaml));
  EXPECT_EQ(allow_egress.policy().types, std::vector<PolicyType>{PolicyType::kEgress});
  EXPECT_EQ(allow_egress.policy().egress, std::vector<Rule>{Allow()});

  // Rules of a type the policy does not list have no effect and are left out.
  Resource egress_only = ToTabbyPolicy(DecodeOne(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-only}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress: [{}]
)"));
  EXPECT_TRUE(egress_only.policy().ingress.empty());
  EXPECT_TRUE(egress_only.policy().egress.empty());
  for (const Resource& r : {deny_all, allow_all, allow_egress, egress_only}) {
    EXPECT_TRUE(Validate(r).ok()) << Validate(r);
  }
}

TEST(ToTabbyPolicy, PeersWithBothSelectorsAndNamedPorts) {
  Resource tabby = ToTabbyPolicy(DecodeOne(kAndPeerYaml));
  const PolicySpec& p = tabby.policy();
  EXPECT_EQ(tabby.metadata.name, "knp.default.alice-clients");
  EXPECT_EQ(tabby.metadata.namespace_name, "prod");
  EXPECT_EQ(p.selector, "tier in {\"web\", \"api\"} && !has(canary)");
  EXPECT_EQ(p.types, std::vector<PolicyType>{PolicyType::kIngress});
  ASSERT_EQ(p.ingress.size(), 2u);
  Rule http = Allow();
  http.protocol = Protocol{Protocol::kTcp, "TCP"};
  http.source.selector = "role == \"client\"";
  http.source.namespace_selector = "user == \"alice\"";
  http.destination.ports = {PortSpec{0, 0, "http"}};  // resolved per destination pod by calc
  EXPECT_EQ(p.ingress[0], http);
  Rule udp = Allow();
  udp.protocol = Protocol{Protocol::kUdp, "UDP"};
  udp.source = http.source;
  EXPECT_EQ(p.ingress[1], udp);
  EXPECT_TRUE(Validate(tabby).ok()) << Validate(tabby);
}

TEST(ToTabbyPolicy, LongNamesStayValid) {
  std::string name(253, 'a');
  Resource knp = MakeResource(Kind::kKubernetesNetworkPolicy, name, "prod");
  ApplyDefaults(knp);
  ASSERT_TRUE(Validate(knp).ok()) << Validate(knp);
  Resource tabby = ToTabbyPolicy(knp);
  EXPECT_EQ(tabby.metadata.name, "knp.default." + name);
  EXPECT_TRUE(Validate(tabby).ok()) << Validate(tabby);
  // Only the conversion's prefix earns the extra length.
  Resource plain = MakeResource(Kind::kNetworkPolicy, "x" + std::string(260, 'a'), "prod");
  ApplyDefaults(plain);
  EXPECT_FALSE(Validate(plain).ok());
}

}  // namespace
}  // namespace tabby::model
