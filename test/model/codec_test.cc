#include "model/codec.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/status_macros.h"
#include "model/decode_helpers.h"  // test/model
#include "model/validate.h"

namespace tabby::model {
namespace {

using ::testing::HasSubstr;

// Calico documentation-style examples, one per kind, in projectcalico.org/v3.
constexpr char kIPPoolYaml[] = R"yaml(apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
  labels:
    environment: production
spec:
  cidr: 192.168.0.0/16
  blockSize: 24
  ipipMode: Never
  vxlanMode: CrossSubnet
  natOutgoing: true
  nodeSelector: all()
  allowedUses:
    - Workload
    - Tunnel
)yaml";

constexpr char kIPv6PoolYaml[] = R"yaml(apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv6-ippool
spec:
  cidr: FD00:10:244::/64
  disableBGPExport: true
  nodeSelector: "!has(edge)"
)yaml";

constexpr char kGlobalPolicyYaml[] = R"yaml(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-web
  annotations:
    example.com/owner: web-team
spec:
  order: 100.5
  selector: role == 'webserver'
  namespaceSelector: has(projectcalico.org/name) && projectcalico.org/name not in {"kube-system"}
  types:
    - Ingress
    - Egress
  ingress:
    - action: Allow
      protocol: TCP
      source:
        selector: role == 'frontend'
        namespaceSelector: all()
      destination:
        ports:
          - 80
          - "443"
          - 8000:8080
          - http
    - action: Allow
      protocol: ICMP
      icmp:
        type: 8
        code: 0
      metadata:
        annotations:
          reason: ping
    - action: Log
    - action: deny
      source:
        nets:
          - 10.0.0.0/8
        notNets: [10.1.0.0/16]
  egress:
    - action: Allow
      protocol: UDP
      destination:
        nets: [10.96.0.10/32]
        ports: [53]
    - action: Allow
      protocol: 6
      notProtocol: UDP
      destination:
        notPorts: ["1:1023"]
        notSelector: has(quarantine)
    - action: Pass
      ipVersion: 6
      protocol: ICMPv6
      notICMP:
        type: 128
)yaml";

constexpr char kNetworkPolicyYaml[] = R"yaml(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-tcp-6379
  namespace: production
spec:
  selector: role == 'database'
  types:
  - Ingress
  - Egress
  ingress:
  - action: Allow
    metadata:
      annotations:
        from: frontend
        to: database
    protocol: TCP
    source:
      selector: role == 'frontend'
    destination:
      ports:
      - 6379
  egress:
  - action: Allow
)yaml";

constexpr char kProfileYaml[] = R"yaml(apiVersion: projectcalico.org/v3
kind: Profile
metadata:
  name: dev-apps
spec:
  ingress:
  - action: Deny
    source:
      nets:
      - 10.0.20.0/24
  - action: Allow
    source:
      selector: profile == 'dev'
  egress:
  - action: Allow
  labelsToApply:
    profile: dev
)yaml";

constexpr char kWorkloadEndpointYaml[] = R"yaml(apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node1-k8s-my--nginx--b1337a-eth0
  namespace: default
  labels:
    app: frontend
    projectcalico.org/namespace: default
    projectcalico.org/orchestrator: k8s
spec:
  node: node1
  orchestrator: k8s
  workload: default.my-nginx-b1337a
  pod: my-nginx-b1337a
  endpoint: eth0
  containerID: 5d2c0ec3a9f1
  serviceAccountName: default
  interfaceName: tabby0ef24ba
  mac: CA:FE:1D:52:BB:E9
  ipNetworks:
  - 192.168.0.0/32
  - fd00:10:244::5
  ipv4Gateway: 169.254.1.1
  profiles:
  - kns.default
  - ksa.default.default
  ports:
  - name: http
    port: 80
    protocol: TCP
  - name: dns
    port: 53
    protocol: udp
  - port: 8443
    hostPort: 30443
    hostIP: 0.0.0.0
  allowSpoofedSourcePrefixes:
  - 10.5.0.0/16
)yaml";

constexpr char kNodeYaml[] = R"yaml(apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: node-hostname
spec:
  bgp:
    asNumber: 64512
    ipv4Address: 10.244.0.1/24
    ipv6Address: 2001:db8:85a3::8a2e:370:7334/120
    routeReflectorClusterID: 224.0.0.1
  ipv4VXLANTunnelAddr: 192.168.10.1
  vxlanTunnelMACAddr: 66:cf:23:df:22:07
)yaml";

constexpr char kClusterConfigurationYaml[] = R"yaml(apiVersion: tabby.dev/v1
kind: ClusterConfiguration
metadata:
  name: default
spec:
  defaultEndpointPolicy: Deny
  logPrefix: "cluster-a"
)yaml";

std::vector<std::string> AllExamples() {
  return {kIPPoolYaml,  kIPv6PoolYaml,         kGlobalPolicyYaml, kNetworkPolicyYaml,
          kProfileYaml, kWorkloadEndpointYaml, kNodeYaml,         kClusterConfigurationYaml};
}

using testing::DecodeError;
using testing::DecodeOne;

// The resource with the apiVersion the encoder writes.
Resource AsStored(Resource resource) {
  resource.api_version = kTabbyApiVersion;
  return resource;
}

TEST(Examples, IPPool) {
  Resource r = DecodeOne(kIPPoolYaml);
  EXPECT_EQ(r.kind, Kind::kIPPool);
  EXPECT_EQ(r.api_version, kCalicoApiVersion);
  EXPECT_EQ(r.metadata.name, "default-ipv4-ippool");
  EXPECT_EQ(r.metadata.labels.at("environment"), "production");
  const IPPoolSpec& s = r.ip_pool();
  EXPECT_EQ(s.cidr, "192.168.0.0/16");
  EXPECT_EQ(s.block_size, 24);
  EXPECT_EQ(s.ipip_mode, "Never");
  EXPECT_EQ(s.vxlan_mode, "CrossSubnet");
  EXPECT_TRUE(s.nat_outgoing);
  EXPECT_FALSE(s.disabled);
  EXPECT_EQ(s.node_selector, "all()");
  EXPECT_EQ(s.allowed_uses, (std::vector<std::string>{"Workload", "Tunnel"}));
  EXPECT_EQ(s.assignment_mode, "Automatic");
}

TEST(Examples, IPv6PoolDefaultsAndCanonicalCidr) {
  Resource r = DecodeOne(kIPv6PoolYaml);
  const IPPoolSpec& s = r.ip_pool();
  EXPECT_EQ(s.cidr, "fd00:10:244::/64");
  EXPECT_EQ(s.block_size, 122);
  EXPECT_EQ(s.vxlan_mode, "Never");
  EXPECT_TRUE(s.disable_bgp_export);
  EXPECT_EQ(s.node_selector, "!has(edge)");
}

TEST(Examples, GlobalNetworkPolicy) {
  Resource r = DecodeOne(kGlobalPolicyYaml);
  ASSERT_EQ(r.kind, Kind::kGlobalNetworkPolicy);
  const PolicySpec& s = r.policy();
  ASSERT_TRUE(s.order.has_value());
  EXPECT_DOUBLE_EQ(*s.order, 100.5);
  EXPECT_EQ(s.tier, "default");
  EXPECT_EQ(s.selector, "role == 'webserver'");
  EXPECT_EQ(s.types, (std::vector<PolicyType>{PolicyType::kIngress, PolicyType::kEgress}));
  ASSERT_EQ(s.ingress.size(), 4u);
  const Rule& web = s.ingress[0];
  EXPECT_EQ(web.action, Action::kAllow);
  ASSERT_TRUE(web.protocol.has_value());
  EXPECT_EQ(*web.protocol, (Protocol{Protocol::kTcp, "TCP"}));
  EXPECT_EQ(web.source.selector, "role == 'frontend'");
  EXPECT_EQ(web.source.namespace_selector, "all()");
  ASSERT_EQ(web.destination.ports.size(), 4u);
  EXPECT_EQ(web.destination.ports[0], (PortSpec{80, 80, ""}));
  EXPECT_EQ(web.destination.ports[1], (PortSpec{443, 443, ""}));
  EXPECT_EQ(web.destination.ports[2], (PortSpec{8000, 8080, ""}));
  EXPECT_EQ(web.destination.ports[3], (PortSpec{0, 0, "http"}));
  const Rule& ping = s.ingress[1];
  ASSERT_TRUE(ping.icmp.has_value());
  EXPECT_EQ(ping.icmp->type, 8);
  EXPECT_EQ(ping.icmp->code, 0);
  EXPECT_EQ(ping.metadata_annotations.at("reason"), "ping");
  EXPECT_EQ(s.ingress[2].action, Action::kLog);
  EXPECT_EQ(s.ingress[3].action, Action::kDeny);  // written "deny"
  EXPECT_EQ(s.ingress[3].source.nets, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_EQ(s.ingress[3].source.not_nets, std::vector<std::string>{"10.1.0.0/16"});
  ASSERT_EQ(s.egress.size(), 3u);
  EXPECT_EQ(*s.egress[1].protocol, (Protocol{6, ""}));
  EXPECT_EQ(*s.egress[1].not_protocol, (Protocol{Protocol::kUdp, "UDP"}));
  EXPECT_EQ(s.egress[1].destination.not_ports[0], (PortSpec{1, 1023, ""}));
  EXPECT_EQ(s.egress[1].destination.not_selector, "has(quarantine)");
  EXPECT_EQ(s.egress[2].action, Action::kPass);
  EXPECT_EQ(s.egress[2].ip_version, 6);
  EXPECT_EQ(s.egress[2].not_icmp->type, 128);
  EXPECT_FALSE(s.egress[2].not_icmp->code.has_value());
}

TEST(Examples, NetworkPolicy) {
  Resource r = DecodeOne(kNetworkPolicyYaml);
  EXPECT_EQ(r.kind, Kind::kNetworkPolicy);
  EXPECT_EQ(r.metadata.namespace_name, "production");
  EXPECT_EQ(r.policy().ingress[0].metadata_annotations.at("from"), "frontend");
  EXPECT_EQ(r.policy().ingress[0].destination.ports[0], (PortSpec{6379, 6379, ""}));
}

TEST(Examples, Profile) {
  Resource r = DecodeOne(kProfileYaml);
  EXPECT_EQ(r.profile().labels_to_apply.at("profile"), "dev");
  EXPECT_EQ(r.profile().ingress.size(), 2u);
  EXPECT_EQ(r.profile().egress.size(), 1u);
}

TEST(Examples, WorkloadEndpoint) {
  Resource r = DecodeOne(kWorkloadEndpointYaml);
  const WorkloadEndpointSpec& s = r.workload_endpoint();
  EXPECT_EQ(s.node, "node1");
  EXPECT_EQ(s.orchestrator, "k8s");
  EXPECT_EQ(s.container_id, "5d2c0ec3a9f1");
  EXPECT_EQ(s.mac, "ca:fe:1d:52:bb:e9");  // canonical form
  EXPECT_EQ(s.ip_networks, (std::vector<std::string>{"192.168.0.0/32", "fd00:10:244::5/128"}));
  EXPECT_EQ(s.profiles, (std::vector<std::string>{"kns.default", "ksa.default.default"}));
  ASSERT_EQ(s.ports.size(), 3u);
  EXPECT_EQ(s.ports[0].name, "http");
  EXPECT_EQ(s.ports[0].port, 80);
  EXPECT_EQ(s.ports[1].protocol, (Protocol{Protocol::kUdp, "UDP"}));
  EXPECT_EQ(s.ports[2].protocol, (Protocol{Protocol::kTcp, "TCP"}));  // defaulted
  EXPECT_EQ(s.ports[2].host_port, 30443);
  EXPECT_EQ(s.ports[2].host_ip, "0.0.0.0");
}

TEST(Examples, Node) {
  Resource r = DecodeOne(kNodeYaml);
  ASSERT_TRUE(r.node().bgp.has_value());
  EXPECT_EQ(r.node().bgp->as_number, 64512);
  EXPECT_EQ(r.node().bgp->ipv4_address, "10.244.0.1/24");
  EXPECT_EQ(r.node().bgp->ipv6_address, "2001:db8:85a3::8a2e:370:7334/120");
  EXPECT_EQ(r.node().ipv4_vxlan_tunnel_addr, "192.168.10.1");
}

TEST(Examples, NodeAsNumberForms) {
  std::string text = kNodeYaml;
  text.replace(text.find("64512"), 5, "\"1.10\"");
  EXPECT_EQ(DecodeOne(text).node().bgp->as_number, 65546);
  text.replace(text.find("\"1.10\""), 6, "\"4200000000\"");
  EXPECT_EQ(DecodeOne(text).node().bgp->as_number, 4200000000);
}

TEST(Examples, ClusterConfiguration) {
  Resource r = DecodeOne(kClusterConfigurationYaml);
  EXPECT_EQ(r.api_version, kTabbyApiVersion);
  EXPECT_EQ(r.cluster_configuration().default_endpoint_policy, "Deny");
  EXPECT_EQ(r.cluster_configuration().log_prefix, "cluster-a");
}

TEST(RoundTrip, EveryKindThroughYamlAndJson) {
  for (const std::string& example : AllExamples()) {
    SCOPED_TRACE(example);
    Resource original = DecodeOne(example);
    Resource expected = AsStored(original);

    std::string yaml = EncodeYaml(original);
    Resource from_yaml = DecodeOne(yaml);
    EXPECT_EQ(from_yaml, expected) << yaml;

    std::string json = EncodeJson(original);
    absl::StatusOr<Resource> stored = DecodeStored(json);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(*stored, expected) << json;
    EXPECT_EQ(EncodeJson(*stored), json);

    Resource from_pretty = DecodeOne(EncodeJson(original, /*pretty=*/true));
    EXPECT_EQ(from_pretty, expected);
  }
}

TEST(RoundTrip, AwkwardStringsSurviveYaml) {
  Resource r = MakeResource(Kind::kGlobalNetworkPolicy, "strings");
  r.metadata.annotations = {{"a", "true"},      {"b", "80"},       {"c", ""},
                            {"d", "null"},      {"e", "x: y"},     {"f", "- item"},
                            {"g", "#comment"},  {"h", " spaced "}, {"i", "line\nbreak"},
                            {"j", "1000:2000"}, {"k", "yes"},      {"l", "'quoted'"},
                            {"m", "\"dq\""},    {"n", "ünïcödé"},  {"o", "0x1F"},
                            {"p", "1e5"},       {"q", "~"},        {"r", "tab\there"}};
  r.policy().selector = "app == \"web\" && tier in {'a', 'b'}";
  r.policy().order = 0.1;
  r.policy().egress.push_back(Rule{});
  ApplyDefaults(r);
  ASSERT_TRUE(Validate(r).ok()) << Validate(r);
  std::string yaml = EncodeYaml(r);
  EXPECT_EQ(DecodeOne(yaml), r) << yaml;
}

TEST(Encode, OmitsEmptyFieldsAndUsesCalicoNames) {
  Resource r = DecodeOne(R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-all
spec:
  order: 10
  egress:
  - action: Deny
    ipVersion: 4
    notICMP: {type: 3}
    protocol: ICMP
)");
  EXPECT_EQ(EncodeJson(r),
            R"({"apiVersion":"tabby.dev/v1","kind":"GlobalNetworkPolicy","metadata":{"name":)"
            R"("deny-all"},"spec":{"egress":[{"action":"Deny","ipVersion":4,"notICMP":{"type":3},)"
            R"("protocol":"ICMP"}],"order":10,"tier":"default","types":["Egress"]}})");
  EXPECT_EQ(EncodeYaml(r), R"(apiVersion: tabby.dev/v1
kind: GlobalNetworkPolicy
metadata:
  name: deny-all
spec:
  egress:
    - action: Deny
      ipVersion: 4
      notICMP:
        type: 3
      protocol: ICMP
  order: 10
  tier: default
  types:
    - Egress
)");
}

TEST(Encode, MetadataFields) {
  Resource r = MakeResource(Kind::kProfile, "p1");
  r.metadata.resource_version = "42";
  r.metadata.uid = "8a5f0c1e-7b8d-4f5e-9a2b-3c4d5e6f7a8b";
  r.metadata.creation_timestamp = "2024-05-01T10:00:00Z";
  nlohmann::json json = Encode(r);
  EXPECT_EQ(json["metadata"]["resourceVersion"], "42");
  EXPECT_EQ(json["metadata"]["uid"], r.metadata.uid);
  EXPECT_EQ(json["metadata"]["creationTimestamp"], "2024-05-01T10:00:00Z");
  EXPECT_FALSE(json["metadata"].contains("namespace"));
  EXPECT_FALSE(json["metadata"].contains("labels"));
  EXPECT_EQ(json["spec"], nlohmann::json::object());
  absl::StatusOr<Resource> back = DecodeStored(EncodeJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

TEST(Encode, Lists) {
  Resource a = DecodeOne(kIPPoolYaml);
  Resource b = DecodeOne(kIPv6PoolYaml);
  Resource c = DecodeOne(kProfileYaml);
  EXPECT_EQ(EncodeList({a, b})["kind"], "IPPoolList");
  EXPECT_EQ(EncodeList({a, c})["kind"], "List");
  EXPECT_EQ(EncodeList({})["kind"], "List");
  EXPECT_EQ(EncodeList({})["items"], nlohmann::json::array());

  for (const std::string& text :
       {EncodeListYaml({a, b, c}), EncodeListJson({a, b, c}), EncodeYamlDocuments({a, b, c})}) {
    absl::StatusOr<std::vector<Resource>> back = DecodeDocuments(text, "list");
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
    EXPECT_EQ(*back, (std::vector<Resource>{AsStored(a), AsStored(b), AsStored(c)})) << text;
  }
  EXPECT_EQ(EncodeYamlDocuments({a, c}).substr(0, 4), "---\n");
}

TEST(Decode, MultiDocumentStream) {
  std::string text = fmt::format("---\n{}---\n# a comment only\n---\n{}...\n---\n{}", kIPPoolYaml,
                                 kProfileYaml, kNodeYaml);
  absl::StatusOr<std::vector<Resource>> resources = DecodeDocuments(text, "multi.yaml");
  ASSERT_TRUE(resources.ok()) << resources.status();
  ASSERT_EQ(resources->size(), 3u);
  EXPECT_EQ((*resources)[0].kind, Kind::kIPPool);
  EXPECT_EQ((*resources)[1].kind, Kind::kProfile);
  EXPECT_EQ((*resources)[2].kind, Kind::kNode);
}

TEST(Decode, EmptyInputHasNoResources) {
  for (std::string_view text : {"", "\n", "# nothing\n", "---\n", "---\n---\n"}) {
    absl::StatusOr<std::vector<Resource>> resources = DecodeDocuments(text, "empty.yaml");
    ASSERT_TRUE(resources.ok()) << resources.status();
    EXPECT_TRUE(resources->empty());
  }
}

TEST(Decode, JsonObjectAndArray) {
  Resource pool = DecodeOne(kIPPoolYaml);
  std::string object = EncodeJson(pool, /*pretty=*/true);
  EXPECT_EQ(DecodeOne(object), AsStored(pool));

  Resource profile = DecodeOne(kProfileYaml);
  std::string array = fmt::format("[{},\n{}]", EncodeJson(pool), EncodeJson(profile, true));
  absl::StatusOr<std::vector<Resource>> resources = DecodeDocuments(array, "array.json");
  ASSERT_TRUE(resources.ok()) << resources.status();
  EXPECT_EQ(*resources, (std::vector<Resource>{AsStored(pool), AsStored(profile)}));
}

TEST(Decode, JsonErrorsHaveLines) {
  std::string message = DecodeError(R"({
  "apiVersion": "projectcalico.org/v3",
  "kind": "IPPool",
  "metadata": {"name": "p"},
  "spec": {
    "cidr": "10.0.0.0/16",
    "blockSize": "26"
  }
})");
  EXPECT_EQ(message,
            "test.yaml: document 1 (IPPool \"p\"), line 7, field spec.blockSize: expected an "
            "integer, got string \"26\"");
}

// YAML's printable set has no C0 controls but tab and line breaks: a NUL (or any other) that an
// escape smuggles into a name, label or annotation is refused with the line and field.
TEST(Decode, ControlCharactersInStringsAreRefused) {
  std::string message = DecodeError(
      "apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata:\n  name: p\n"
      "  labels:\n    app: \"a\\0b\"\n");
  EXPECT_NE(message.find("line 6"), std::string::npos) << message;
  EXPECT_NE(message.find("metadata.labels.app"), std::string::npos) << message;
  EXPECT_NE(message.find("contains the control character U+0000"), std::string::npos) << message;
  message = DecodeError(
      "apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata:\n  name: \"p\\x1b[31m\"\n");
  EXPECT_NE(message.find("U+001B"), std::string::npos) << message;
  message = DecodeError(
      "{\"apiVersion\": \"projectcalico.org/v3\", \"kind\": \"Profile\", "
      "\"metadata\": {\"name\": \"p\\u0000\"}}");
  EXPECT_NE(message.find("U+0000"), std::string::npos) << message;
}

TEST(Decode, ListsLikeCalicoctlAndKubectlPrint) {
  // calicoctl get ippools -o yaml
  absl::StatusOr<std::vector<Resource>> typed = DecodeDocuments(R"(apiVersion: projectcalico.org/v3
items:
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    creationTimestamp: "2024-01-02T03:04:05Z"
    name: pool-a
    resourceVersion: "1234"
    uid: 0d9bbd10-6e2a-4d3b-9a38-8f3c8b2c7c55
  spec:
    cidr: 10.10.0.0/16
- metadata:
    name: pool-b
  spec:
    cidr: 10.20.0.0/16
kind: IPPoolList
metadata:
  resourceVersion: "1240"
)",
                                                                "pools.yaml");
  ASSERT_TRUE(typed.ok()) << typed.status();
  ASSERT_EQ(typed->size(), 2u);
  EXPECT_EQ((*typed)[0].metadata.resource_version, "1234");
  EXPECT_EQ((*typed)[1].kind, Kind::kIPPool);
  EXPECT_EQ((*typed)[1].api_version, kCalicoApiVersion);

  // kubectl-style generic list: items carry their own apiVersion and kind.
  absl::StatusOr<std::vector<Resource>> generic = DecodeDocuments(R"(apiVersion: v1
kind: List
items:
- apiVersion: projectcalico.org/v3
  kind: Profile
  metadata: {name: p1}
- apiVersion: tabby.dev/v1
  kind: GlobalNetworkPolicy
  metadata: {name: g1}
)",
                                                                  "list.yaml");
  ASSERT_TRUE(generic.ok()) << generic.status();
  ASSERT_EQ(generic->size(), 2u);
  EXPECT_EQ((*generic)[1].kind, Kind::kGlobalNetworkPolicy);
}

TEST(Decode, ListItemErrorsNameTheItem) {
  std::string message = DecodeError(R"(apiVersion: tabby.dev/v1
kind: IPPoolList
items:
- metadata: {name: ok}
  spec: {cidr: 10.1.0.0/16}
- metadata: {name: bad}
  spec:
    cidr: 10.2.0.0/16
    blockSize: 8
)");
  EXPECT_EQ(message,
            "test.yaml: document 1, item 2 (IPPool \"bad\"), line 9, field spec.blockSize: invalid "
            "blockSize "
            "8: IPv4 pools need 20-32");
}

TEST(Decode, ListRejectsOtherKindsAndFields) {
  EXPECT_THAT(DecodeError(R"(apiVersion: tabby.dev/v1
kind: IPPoolList
items:
- kind: Profile
  metadata: {name: p}
)"),
              HasSubstr("item 1 (Profile \"p\"), line 4, field kind: kind Profile in a "
                        "IPPoolList"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: List\nitem: []\n"),
              HasSubstr("line 3, field item: unknown field \"item\" (did you mean \"items\"?)"));
  EXPECT_THAT(DecodeError("apiVersion: v1\nkind: List\nitems:\n- kind: Profile\n"
                          "  metadata: {name: p}\n"),
              HasSubstr("item 1 (Profile \"p\"), line 4, field apiVersion: required field is "
                        "missing"));
}

TEST(Decode, BothApiVersions) {
  std::string calico = kProfileYaml;
  std::string tabby = calico;
  tabby.replace(tabby.find(kCalicoApiVersion), std::string_view(kCalicoApiVersion).size(),
                kTabbyApiVersion);
  EXPECT_EQ(DecodeOne(calico).api_version, kCalicoApiVersion);
  EXPECT_EQ(DecodeOne(tabby).api_version, kTabbyApiVersion);
  EXPECT_EQ(AsStored(DecodeOne(calico)), DecodeOne(tabby));

  std::string other = calico;
  other.replace(other.find(kCalicoApiVersion), std::string_view(kCalicoApiVersion).size(),
                "projectcalico.org/v2");
  EXPECT_EQ(DecodeError(other),
            "test.yaml: document 1 (Profile \"dev-apps\"), line 1, field apiVersion: unsupported "
            "apiVersion \"projectcalico.org/v2\": use tabby.dev/v1 or projectcalico.org/v3 (v1 "
            "for Namespace, networking.k8s.io/v1 for Kubernetes NetworkPolicy)");
}

TEST(Decode, ScalarTypingFollowsYaml12) {
  // A quoted number is a string; an unquoted one an integer. Ports accept both.
  Resource r = DecodeOne(R"(apiVersion: tabby.dev/v1
kind: GlobalNetworkPolicy
metadata: {name: typing}
spec:
  ingress:
  - action: Allow
    protocol: "17"
    destination: {ports: ["53", 53, '5353']}
)");
  EXPECT_EQ(*r.policy().ingress[0].protocol, (Protocol{17, ""}));
  EXPECT_EQ(r.policy().ingress[0].destination.ports,
            (std::vector<PortSpec>{{53, 53, ""}, {53, 53, ""}, {5353, 5353, ""}}));

  // Label values must be strings: unquoted true/1.5/null are not.
  EXPECT_EQ(DecodeError(R"(apiVersion: tabby.dev/v1
kind: Profile
metadata:
  name: p
  labels:
    enabled: true
)"),
            "test.yaml: document 1 (Profile \"p\"), line 6, field metadata.labels.enabled: "
            "expected a string, got boolean true (quote it to make it a string: \"true\")");
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n"
                          "  labels: {version: 1.5}\n"),
              HasSubstr("line 5, field metadata.labels.version: expected a string, got number "
                        "1.5"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n"
                          "  labels:\n    empty:\n"),
              HasSubstr("line 6, field metadata.labels.empty: expected a string, got null"));
  // Names that look like numbers must be quoted too.
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: Node\nmetadata:\n  name: 1234\n"),
              HasSubstr("line 4, field metadata.name: expected a string, got integer 1234"));
  EXPECT_EQ(DecodeOne("apiVersion: tabby.dev/v1\nkind: Node\nmetadata:\n  name: \"1234\"\n")
                .metadata.name,
            "1234");
  // !!str forces a string.
  EXPECT_EQ(DecodeOne("apiVersion: tabby.dev/v1\nkind: Node\nmetadata:\n  name: !!str 1234\n")
                .metadata.name,
            "1234");
}

TEST(Decode, NullMeansAbsent) {
  Resource r = DecodeOne(R"(apiVersion: tabby.dev/v1
kind: GlobalNetworkPolicy
metadata:
  name: nulls
  labels: ~
spec:
  selector: null
  ingress:
  egress:
  - action: Allow
    source:
)");
  EXPECT_TRUE(r.metadata.labels.empty());
  EXPECT_TRUE(r.policy().ingress.empty());
  EXPECT_EQ(r.policy().types, std::vector<PolicyType>{PolicyType::kEgress});
}

TEST(Decode, UnknownFieldsAreErrorsWithPathAndLine) {
  EXPECT_EQ(DecodeError(R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: typo
  namespace: prod
spec:
  ingress:
  - action: Allow
    protocol: TCP
    destinaton:
      ports: [80]
)"),
            "test.yaml: document 1 (NetworkPolicy \"prod/typo\"), line 10, field "
            "spec.ingress[0].destinaton: unknown field \"destinaton\" (did you mean "
            "\"destination\"?)");
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec:\n  cidr: 10.0.0.0/16\n  ipipmode: Never\n"),
              HasSubstr("line 6, field spec.ipipmode: unknown field \"ipipmode\" (did you mean "
                        "\"ipipMode\"?)"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec:\n  cidr: 10.0.0.0/16\n  frobnicate: 1\n"),
              HasSubstr("line 6, field spec.frobnicate: unknown field \"frobnicate\" (known "
                        "fields: cidr, blockSize,"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata:\n  name: p\n"
                          "  generateName: x\n"),
              HasSubstr("line 5, field metadata.generateName: unknown field"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec: {cidr: 10.0.0.0/16}\nstatus: {}\n"),
              HasSubstr("line 5, field status: unknown field \"status\""));
  EXPECT_THAT(
      DecodeError("apiVersion: tabby.dev/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\n"
                  "spec:\n  ingress:\n  - action: Allow\n    metadata:\n      labels: {a: b}\n"),
      HasSubstr("line 8, field spec.ingress[0].metadata.labels: unknown field \"labels\""));
}

TEST(Decode, TypeErrors) {
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec: [cidr]\n"),
              HasSubstr("line 4, field spec: expected a map, got a list"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec:\n  cidr: 10.0.0.0/16\n  natOutgoing: \"yes\"\n"),
              HasSubstr("line 6, field spec.natOutgoing: expected true or false, got string "
                        "\"yes\""));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec:\n  cidr: 10.0.0.0/16\n  allowedUses: Workload\n"),
              HasSubstr("line 6, field spec.allowedUses: expected a list, got string"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec:\n  cidr: 10.0.0.0/16\n  blockSize: 26.5\n"),
              HasSubstr("line 6, field spec.blockSize: expected an integer, got number 26.5"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec:\n  cidr: 10.0.0.0/16\n  blockSize: 99999999999999999999999\n"),
              HasSubstr("line 6, field spec.blockSize: expected an integer"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\n"
                          "spec:\n  cidr: 10.0.0.0/16\n  blockSize: 4294967296\n"),
              HasSubstr("line 6, field spec.blockSize: integer 4294967296 is out of range"));
  EXPECT_THAT(DecodeError("- just\n- a list\n"),
              HasSubstr("document 1, item 1, line 1: expected a resource (a map with "
                        "apiVersion, kind, metadata and spec), got string \"just\""));
  EXPECT_THAT(DecodeError("hello\n"), HasSubstr("document 1, line 1: expected a resource"));
}

TEST(Decode, KindErrors) {
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: ippool\nmetadata: {name: p}\n"),
              HasSubstr("line 2, field kind: unknown kind \"ippool\" (did you mean \"IPPool\"?)"));
  EXPECT_THAT(
      DecodeError("apiVersion: tabby.dev/v1\nkind: FelixConfiguration\nmetadata: {name: p}\n"),
      HasSubstr("field kind: unknown kind \"FelixConfiguration\" (supported: "
                "ClusterConfiguration, Node, IPPool,"));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nmetadata: {name: p}\n"),
              HasSubstr("line 1, field kind: required field is missing"));
}

TEST(Decode, YamlSyntaxErrors) {
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p\n"),
              HasSubstr("test.yaml: line "));
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\n  bad: indent\n"),
              HasSubstr("YAML syntax error"));
  EXPECT_EQ(DecodeError("apiVersion: tabby.dev/v1\nkind: IPPool\nkind: Profile\n"),
            "test.yaml: document 1, line 3, column 1: duplicate key \"kind\"");
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\nkind: !custom IPPool\n"),
              HasSubstr("unsupported tag \"!custom\""));
  EXPECT_THAT(DecodeError("a: \"\xff\xfe\"\n"), HasSubstr("not valid UTF-8"));
  // yaml-cpp 0.7's LoadAll never returns on these (jbeder/yaml-cpp#1040); the decoder must.
  EXPECT_EQ(DecodeError(","),
            "test.yaml: line 1, column 1: YAML syntax error: unexpected character");
  EXPECT_THAT(DecodeError("apiVersion: tabby.dev/v1\n---\n,\n"), HasSubstr("line 3, column 1"));
  EXPECT_THAT(DecodeError("{:"), HasSubstr("test.yaml: line 1, column "));
  EXPECT_THAT(DecodeError("? [a]\n: b\n"), HasSubstr("a map key must be a string"));
  EXPECT_THAT(DecodeError("a: &x [*x]\n"),
              HasSubstr("alias refers to a node that is not complete"));
  EXPECT_THAT(DecodeError("a: *nope\n"), HasSubstr("YAML syntax error"));
}

TEST(Decode, AliasesExpand) {
  Resource r = DecodeOne(R"yaml(apiVersion: tabby.dev/v1
kind: GlobalNetworkPolicy
metadata: {name: anchors}
spec:
  ingress:
  - &web {action: Allow, protocol: TCP, destination: {ports: [80, 443]}}
  - *web
  egress:
  - action: Allow
    destination: {nets: &nets [10.0.0.0/8]}
  - action: Deny
    protocol: UDP
    destination: {notNets: *nets, ports: [1]}
)yaml");
  ASSERT_EQ(r.policy().ingress.size(), 2u);
  EXPECT_EQ(r.policy().egress[1].destination.not_nets, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_EQ(r.policy().ingress[0], r.policy().ingress[1]);
  std::string message = DecodeError(R"yaml(apiVersion: tabby.dev/v1
kind: GlobalNetworkPolicy
metadata: {name: anchors}
spec:
  egress:
  - action: Allow
    destination: {nets: &nets [10.0.0.0/8]}
  - action: Deny
    destination: {notNets: *nets, ports: [1]}
)yaml");
  // An error inside an alias is reported where the alias is used.
  EXPECT_THAT(message, HasSubstr("line 9, field spec.egress[1].destination.ports: rules that "
                                 "specify ports must set protocol"));
}

TEST(Decode, AliasBombsAreBounded) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char previous = 'a';
  for (char name = 'b'; name <= 'k'; ++name) {
    text += fmt::format("{0}: &{0} [*{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}]\n",
                        name, previous);
    previous = name;
  }
  EXPECT_THAT(DecodeError(text), HasSubstr("document too large"));
}

TEST(Decode, DocumentNumbersCountEveryDocument) {
  std::string text = fmt::format("{}---\n{}", kIPPoolYaml, R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-web
spec:
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports:
      - 1000
      - 2000:1000
)");
  absl::StatusOr<std::vector<Resource>> resources = DecodeDocuments(text, "policy.yaml");
  ASSERT_FALSE(resources.ok());
  EXPECT_EQ(MessageOf(resources.status()),
            "policy.yaml: document 2 (GlobalNetworkPolicy \"allow-web\"), line 29, field "
            "spec.ingress[0].destination.ports[1]: invalid port range \"2000:1000\": first port "
            "is greater than last");
}

TEST(DecodeStored, RejectsBadJsonAndValidates) {
  EXPECT_EQ(MessageOf(DecodeStored("{").status()), "stored value is not valid JSON");
  absl::StatusOr<Resource> invalid =
      DecodeStored(R"({"apiVersion":"tabby.dev/v1","kind":"IPPool","metadata":{"name":"p"},)"
                   R"("spec":{"cidr":"10.0.0.1/16"}})");
  ASSERT_FALSE(invalid.ok());
  EXPECT_THAT(MessageOf(invalid.status()),
              HasSubstr("invalid stored resource: IPPool \"p\", field spec.cidr: IP pool CIDR "
                        "must be strictly masked"));
}

TEST(DecodeJsonObject, ParsedObjects) {
  nlohmann::json object = Encode(DecodeOne(kNodeYaml));
  absl::StatusOr<Resource> node = DecodeJsonObject(object);
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->metadata.name, "node-hostname");
  object["spec"]["bgp"]["asNumber"] = -1;
  EXPECT_THAT(MessageOf(DecodeJsonObject(object).status()),
              HasSubstr("Node \"node-hostname\", field spec.bgp.asNumber: invalid AS number -1"));
}

}  // namespace
}  // namespace tabby::model
