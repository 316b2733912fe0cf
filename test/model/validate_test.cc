#include "model/validate.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/status_macros.h"
#include "model/codec.h"
#include "model/decode_helpers.h"  // test/model
#include "model/kubernetes.h"

namespace tabby::model {
namespace {

using testing::DecodeOne;
using ::testing::HasSubstr;

// Each case's YAML marks the line the error must name with "# <".
struct Case {
  std::string yaml;
  std::string path;     // the field the error must name
  std::string message;  // a part of the message
};

int MarkedLine(std::string_view text) {
  size_t marker = text.find("# <");
  if (marker == std::string_view::npos) return 0;
  return static_cast<int>(std::count(text.begin(), text.begin() + marker, '\n')) + 1;
}

void ExpectInvalid(const Case& c) {
  SCOPED_TRACE(c.yaml);
  absl::StatusOr<std::vector<Resource>> decoded = DecodeDocuments(c.yaml, "v.yaml");
  ASSERT_FALSE(decoded.ok()) << "accepted:\n" << EncodeYamlDocuments(*decoded);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(MessageOf(decoded.status()));
  int line = MarkedLine(c.yaml);
  ASSERT_GT(line, 0) << "case has no # < marker";
  EXPECT_THAT(message, HasSubstr(fmt::format(", line {}, field {}: ", line, c.path)));
  EXPECT_THAT(message, HasSubstr(c.message));
}

void ExpectAllInvalid(const std::vector<Case>& cases) {
  for (const Case& c : cases) ExpectInvalid(c);
}

std::string Pool(std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool1\n"
      "spec:\n{}",
      spec);
}
std::string Gnp(std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n"
      "  name: gnp1\nspec:\n{}",
      spec);
}
std::string Np(std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n"
      "  name: np1\n  namespace: prod\nspec:\n{}",
      spec);
}
// A GlobalNetworkPolicy whose single ingress rule is `rule` (indented under "- ").
std::string IngressRule(std::string_view rule) {
  return Gnp(fmt::format("  ingress:\n  - {}", rule));
}
std::string Wep(std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata:\n"
      "  name: node1-k8s-pod-eth0\n  namespace: default\nspec:\n  node: node1\n{}",
      spec);
}
std::string NodeDoc(std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: node1\n"
      "spec:\n{}",
      spec);
}

TEST(ValidateIPPool, Rules) {
  ExpectAllInvalid({
      {Pool("  cidr: 10.1.0.1/16 # <\n"), "spec.cidr", "IP pool CIDR must be strictly masked"},
      {Pool("  cidr: 10.1.0/16 # <\n"), "spec.cidr", "invalid CIDR"},
      {Pool("  cidr: 10.1.0.0/33 # <\n"), "spec.cidr", "invalid prefix length"},
      {"apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: {name: p}\nspec: # <\n"
       "  natOutgoing: true\n",
       "spec.cidr", "required field is missing"},
      {Pool("  cidr: 169.254.0.0/20 # <\n"), "spec.cidr", "overlaps the IPv4 link-local range"},
      {Pool("  cidr: 169.0.0.0/8 # <\n  blockSize: 26\n"), "spec.cidr", "link-local"},
      {Pool("  cidr: fe80::/64 # <\n"), "spec.cidr", "overlaps the IPv6 link-local range"},
      {Pool("  cidr: 10.0.0.0/8\n  blockSize: 19 # <\n"), "spec.blockSize",
       "invalid blockSize 19: IPv4 pools need 20-32"},
      {Pool("  cidr: 10.0.0.0/8\n  blockSize: 33 # <\n"), "spec.blockSize", "20-32"},
      {Pool("  cidr: fd00::/48\n  blockSize: 64 # <\n"), "spec.blockSize",
       "IPv6 pools need 116-128"},
      {Pool("  cidr: 10.0.0.0/28 # <\n"), "spec.cidr", "smaller than one block (/26)"},
      {Pool("  cidr: 10.0.0.0/24 # <\n  blockSize: 22\n"), "spec.cidr", "smaller than one block"},
      {Pool("  cidr: 10.0.0.0/16\n  ipipMode: Always # <\n"), "spec.ipipMode",
       "IPIP is not supported"},
      {Pool("  cidr: 10.0.0.0/16\n  ipipMode: never # <\n"), "spec.ipipMode",
       "only Never is supported"},
      {Pool("  cidr: 10.0.0.0/16\n  vxlanMode: Sometimes # <\n"), "spec.vxlanMode",
       "invalid vxlanMode \"Sometimes\""},
      {Pool("  cidr: 10.0.0.0/16\n  nodeSelector: global() # <\n"), "spec.nodeSelector",
       "global() is not allowed in an IPPool nodeSelector"},
      {Pool("  cidr: 10.0.0.0/16\n  nodeSelector: \"a == \" # <\n"), "spec.nodeSelector",
       "invalid selector"},
      {Pool("  cidr: 10.0.0.0/16\n  allowedUses:\n  - Workload\n  - Pods # <\n"),
       "spec.allowedUses[1]", "invalid use \"Pods\""},
      {Pool("  cidr: 10.0.0.0/16\n  allowedUses: [Tunnel, Tunnel] # <\n"), "spec.allowedUses[1]",
       "listed more than once"},
      {Pool("  cidr: 10.0.0.0/16\n  allowedUses: [LoadBalancer, Workload] # <\n"),
       "spec.allowedUses[1]", "LoadBalancer cannot be combined with Workload"},
      {Pool("  cidr: 10.0.0.0/16\n  allowedUses: [LoadBalancer]\n  vxlanMode: Always # <\n"),
       "spec.vxlanMode", "a LoadBalancer pool cannot use VXLAN"},
      {Pool("  cidr: 10.0.0.0/16\n  allowedUses: [LoadBalancer]\n  nodeSelector: a == 'b' # <\n"),
       "spec.nodeSelector", "must have nodeSelector all()"},
      {Pool("  cidr: 10.0.0.0/16\n  assignmentMode: Sometimes # <\n"), "spec.assignmentMode",
       "use Automatic or Manual"},
  });
}

TEST(ValidateIPPool, DefaultsAndEdges) {
  IPPoolSpec v4 = DecodeOne(Pool("  cidr: 10.0.0.0/16\n")).ip_pool();
  EXPECT_EQ(v4.block_size, 26);
  IPPoolSpec v6 = DecodeOne(Pool("  cidr: fd00:1::/64\n")).ip_pool();
  EXPECT_EQ(v6.block_size, 122);
  // A disabled pool may be smaller than a block (Calico).
  EXPECT_TRUE(DecodeOne(Pool("  cidr: 10.0.0.0/28\n  disabled: true\n")).ip_pool().disabled);
  EXPECT_EQ(DecodeOne(Pool("  cidr: 10.0.0.0/16\n  blockSize: 32\n")).ip_pool().block_size, 32);
  EXPECT_EQ(
      DecodeOne(Pool("  cidr: 10.0.0.0/16\n  allowedUses: [LoadBalancer]\n")).ip_pool().vxlan_mode,
      "Never");
}

TEST(ValidateMetadata, Rules) {
  ExpectAllInvalid({
      {"apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata:\n  name: Pool_1 # <\n", "metadata.name",
       "invalid name \"Pool_1\""},
      {"apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata:\n  name: -pool # <\n", "metadata.name",
       "invalid name"},
      {"apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata: # <\n  labels: {a: b}\n", "metadata.name",
       "required field is missing"},
      {"apiVersion: tabby.dev/v1 # <\nkind: IPPool\n", "metadata.name",
       "required field is missing"},
      {fmt::format("apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata:\n  name: {} # <\n",
                   std::string(254, 'a')),
       "metadata.name", "254 characters long; the limit is 253"},
      {"apiVersion: tabby.dev/v1\nkind: IPPool\nmetadata:\n  name: p\n  namespace: prod # <\n",
       "metadata.namespace", "IPPool is cluster-scoped: remove the namespace"},
      {"apiVersion: tabby.dev/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n"
       "  namespace: Prod # <\n",
       "metadata.namespace", "invalid namespace \"Prod\""},
      {"apiVersion: tabby.dev/v1\nkind: NetworkPolicy\nmetadata:\n  name: a.b.c # <\n",
       "metadata.name", "a policy name is lower case"},
      {"apiVersion: tabby.dev/v1\nkind: GlobalNetworkPolicy\nmetadata:\n  name: knp.default.x # "
       "<\n",
       "metadata.name", "a policy name"},
      {"apiVersion: tabby.dev/v1\nkind: Node\nmetadata:\n  name: Node_1 # <\n", "metadata.name",
       "invalid name"},
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n  labels:\n"
       "    \"bad key\": x # <\n",
       "metadata.labels[\"bad key\"]", "invalid label key \"bad key\""},
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n  labels:\n"
       "    Example.com/app: x # <\n",
       "metadata.labels[\"Example.com/app\"]", "prefix before '/' must be a DNS subdomain"},
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n  labels:\n"
       "    a/b/c: x # <\n",
       "metadata.labels[\"a/b/c\"]", "at most one '/'"},
      {fmt::format("apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n  labels:\n"
                   "    {}: x # <\n",
                   std::string(64, 'k')),
       fmt::format("metadata.labels.{}", std::string(64, 'k')), "the name must be 1-63"},
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n  labels:\n"
       "    app: -web # <\n",
       "metadata.labels.app", "invalid label value \"-web\""},
      {fmt::format("apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n  labels:\n"
                   "    app: {} # <\n",
                   std::string(64, 'v')),
       "metadata.labels.app", "invalid label value"},
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n  annotations:\n"
       "    \"not valid/x/y\": z # <\n",
       "metadata.annotations[\"not valid/x/y\"]", "invalid annotation key"},
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata:\n  name: p\n"
       "  resourceVersion: abc # <\n",
       "metadata.resourceVersion", "expected a decimal revision"},
      {"apiVersion: tabby.dev/v1\nkind: ClusterConfiguration\nmetadata:\n  name: main # <\n",
       "metadata.name", "ClusterConfiguration is a singleton named \"default\""},
  });
}

TEST(ValidateMetadata, Accepted) {
  Resource np = DecodeOne(
      "apiVersion: tabby.dev/v1\nkind: NetworkPolicy\nmetadata:\n  name: knp.default.a.b\n");
  EXPECT_EQ(np.metadata.namespace_name, "default");  // defaulted like kubectl
  DecodeOne("apiVersion: tabby.dev/v1\nkind: GlobalNetworkPolicy\nmetadata:\n  name: tier.x\n");
  Resource labelled = DecodeOne(R"(apiVersion: tabby.dev/v1
kind: Profile
metadata:
  name: a.b-c
  labels:
    app.kubernetes.io/name: web_1.x
    empty: ""
    A_b: Z
  annotations:
    Example.COM/Mixed-Case: "any value: with spaces\nand lines"
)");
  EXPECT_EQ(labelled.metadata.labels.at("empty"), "");
  EXPECT_EQ(DecodeOne("apiVersion: tabby.dev/v1\nkind: WorkloadEndpoint\nmetadata:\n"
                      "  name: node.1-cni-my_container-eth0\nspec: {node: node.1}\n")
                .metadata.name,
            "node.1-cni-my_container-eth0");
}

TEST(ValidatePolicy, SpecRules) {
  ExpectAllInvalid({
      {Gnp("  types: [Ingress, Ingress] # <\n"), "spec.types[1]",
       "type Ingress is listed more than once"},
      {Gnp("  types:\n  - Forward # <\n"), "spec.types[0]",
       "invalid policy type \"Forward\": expected Ingress or Egress"},
      {Gnp("  order: .inf # <\n"), "spec.order", "order must be a finite number"},
      {Gnp("  order: .nan # <\n"), "spec.order", "finite"},
      {Gnp("  order: first # <\n"), "spec.order", "expected a number, got string \"first\""},
      {Gnp("  tier: security # <\n"), "spec.tier", "tiers are not supported yet"},
      {Gnp("  selector: role == # <\n"), "spec.selector", "invalid selector \"role ==\""},
      {Gnp("  selector: global() # <\n"), "spec.selector",
       "global() can only be used in a rule's namespaceSelector"},
      {Gnp("  serviceAccountSelector: \"has(\" # <\n"), "spec.serviceAccountSelector",
       "invalid selector"},
      {Gnp("  namespaceSelector: global() # <\n"), "spec.namespaceSelector", "global()"},
      {Gnp(fmt::format("  selector: \"{}\" # <\n", std::string(1025, 'a'))), "spec.selector",
       "1025 characters long; the limit is 1024"},
      {Np("  namespaceSelector: all() # <\n"), "spec.namespaceSelector",
       "only a GlobalNetworkPolicy may set namespaceSelector"},
      {Np("  doNotTrack: true # <\n"), "spec.doNotTrack", "only a GlobalNetworkPolicy"},
      {Np("  preDNAT: true # <\n"), "spec.preDNAT", "only a GlobalNetworkPolicy"},
      {Np("  applyOnForward: true # <\n"), "spec.applyOnForward", "only a GlobalNetworkPolicy"},
      {Gnp("  preDNAT: true # <\n"), "spec.preDNAT",
       "applyOnForward must be true when preDNAT or doNotTrack is true"},
      {Gnp("  applyOnForward: true\n  doNotTrack: true\n  preDNAT: true # <\n"), "spec.preDNAT",
       "cannot both be true"},
      {Gnp("  applyOnForward: true\n  preDNAT: true\n  egress: # <\n  - action: Allow\n"),
       "spec.egress", "cannot have egress rules"},
      {Gnp("  applyOnForward: true\n  preDNAT: true\n  types: [Egress] # <\n"), "spec.types",
       "cannot have type Egress"},
  });
}

TEST(ValidatePolicy, RuleRules) {
  ExpectAllInvalid({
      {IngressRule("action: Accept # <\n"), "spec.ingress[0].action",
       "invalid action \"Accept\": expected Allow, Deny, Log or Pass"},
      {IngressRule("protocol: TCP # <\n"), "spec.ingress[0].action", "required field is missing"},
      {IngressRule("action: Allow\n    ipVersion: 5 # <\n"), "spec.ingress[0].ipVersion",
       "invalid ipVersion 5: use 4 or 6"},
      {IngressRule("action: Allow\n    protocol: TCPP # <\n"), "spec.ingress[0].protocol",
       "invalid protocol \"TCPP\""},
      {IngressRule("action: Allow\n    protocol: 0 # <\n"), "spec.ingress[0].protocol",
       "invalid protocol 0"},
      {IngressRule("action: Allow\n    notProtocol: 256 # <\n"), "spec.ingress[0].notProtocol",
       "a number 1-255"},
      {IngressRule("action: Allow\n    ipVersion: 6\n    protocol: ICMP # <\n"),
       "spec.ingress[0].protocol", "protocol ICMP needs ipVersion 4"},
      {IngressRule("action: Allow\n    ipVersion: 4\n    notProtocol: ICMPv6 # <\n"),
       "spec.ingress[0].notProtocol", "protocol ICMPv6 needs ipVersion 6"},
      {IngressRule("action: Allow\n    icmp: {type: 8} # <\n"), "spec.ingress[0].icmp",
       "icmp needs protocol ICMP or ICMPv6"},
      {IngressRule("action: Allow\n    protocol: TCP\n    notICMP: {type: 8} # <\n"),
       "spec.ingress[0].notICMP", "notICMP needs protocol ICMP or ICMPv6"},
      {IngressRule("action: Allow\n    protocol: ICMP\n    icmp:\n      code: 1 # <\n"),
       "spec.ingress[0].icmp.code", "an ICMP code needs an ICMP type"},
      {IngressRule("action: Allow\n    protocol: ICMP\n    icmp:\n      type: 255 # <\n"),
       "spec.ingress[0].icmp.type", "invalid ICMP type 255: types are 0-254"},
      {IngressRule("action: Allow\n    protocol: ICMPv6\n    icmp:\n      type: 1\n"
                   "      code: 256 # <\n"),
       "spec.ingress[0].icmp.code", "invalid ICMP code 256"},
      {IngressRule("action: Allow\n    destination:\n      ports: [80] # <\n"),
       "spec.ingress[0].destination.ports",
       "rules that specify ports must set protocol to TCP, UDP, SCTP or UDPLite"},
      {IngressRule("action: Allow\n    protocol: ICMP\n    source:\n      notPorts: [80] # <\n"),
       "spec.ingress[0].source.notPorts", "must set protocol"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n"
                   "      ports: [80, \"2000:1000\"] # <\n"),
       "spec.ingress[0].destination.ports[1]",
       "invalid port range \"2000:1000\": first port is greater than last"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - 0 # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port 0: ports are 1-65535"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - 70000 # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port 70000: ports are 1-65535"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - \"0:100\" # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port range \"0:100\""},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - \"1:70000\" # <\n"),
       "spec.ingress[0].destination.ports[0]", "ports are 1-65535"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - \"80-90\" # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port \"80-90\""},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - \"a:b\" # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port range \"a:b\""},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - HTTP # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port name \"HTTP\""},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - my-very-long-port-name # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port name"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - web--1 # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port name"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - 12-34 # <\n"),
       "spec.ingress[0].destination.ports[0]", "invalid port"},
      {IngressRule("action: Allow\n    protocol: TCP\n    destination:\n      ports:\n"
                   "      - [80] # <\n"),
       "spec.ingress[0].destination.ports[0]", "expected a port"},
      {IngressRule(fmt::format("action: Allow\n    protocol: TCP\n    destination:\n"
                               "      ports: [{}] # <\n",
                               fmt::join(std::vector<int>(51, 80), ", "))),
       "spec.ingress[0].destination.ports", "51 ports; the limit is 50"},
      {IngressRule("action: Allow\n    source:\n      nets: [10.0.0.0/33] # <\n"),
       "spec.ingress[0].source.nets[0]", "invalid CIDR"},
      {IngressRule("action: Allow\n    source:\n      nets:\n      - 10.1.2.3/8 # <\n"),
       "spec.ingress[0].source.nets[0]", "has host bits set; did you mean 10.0.0.0/8?"},
      {IngressRule("action: Allow\n    ipVersion: 6\n    destination:\n"
                   "      notNets: [10.0.0.0/8] # <\n"),
       "spec.ingress[0].destination.notNets[0]",
       "10.0.0.0/8 is an IPv4 network but the rule has ipVersion 6"},
      {IngressRule("action: Allow\n    source:\n      nets: [10.0.0.0/8]\n    destination:\n"
                   "      nets: [\"fd00::/8\"] # <\n"),
       "spec.ingress[0].destination.nets[0]", "mixes IPv4 and IPv6"},
      {IngressRule(fmt::format("action: Allow\n    source:\n      nets: [{}] # <\n",
                               fmt::join(std::vector<std::string>(257, "10.0.0.0/8"), ", "))),
       "spec.ingress[0].source.nets", "257 networks; the limit is 256"},
      {IngressRule("action: Allow\n    source:\n      selector: global() # <\n"),
       "spec.ingress[0].source.selector", "global() can only be used"},
      {IngressRule("action: Allow\n    source:\n      notSelector: \"a in {\" # <\n"),
       "spec.ingress[0].source.notSelector", "invalid selector"},
      {IngressRule(
           "action: Allow\n    source:\n      namespaceSelector: global() && a == 'b' # <\n"),
       "spec.ingress[0].source.namespaceSelector", "global() cannot be combined"},
      {IngressRule(
           "action: Allow\n    metadata:\n      annotations:\n        \"bad key\": x # <\n"),
       "spec.ingress[0].metadata.annotations[\"bad key\"]", "invalid annotation key"},
      {Gnp(fmt::format("  ingress: [{}] # <\n",
                       fmt::join(std::vector<std::string>(1025, "{action: Allow}"), ", "))),
       "spec.ingress", "1025 rules; the limit is 1024"},
      {Gnp("  egress:\n  - action: Allow\n  - action: Allow\n    protocol: UDP\n"
           "    source:\n      ports: [\"9:8\"] # <\n"),
       "spec.egress[1].source.ports[0]", "first port is greater than last"},
  });
}

TEST(ValidatePolicy, Defaults) {
  auto types = [](std::string_view spec) { return DecodeOne(Gnp(spec)).policy().types; };
  using Types = std::vector<PolicyType>;
  EXPECT_EQ(types("  selector: all()\n"), Types{PolicyType::kIngress});
  EXPECT_EQ(types("  ingress: [{action: Allow}]\n"), Types{PolicyType::kIngress});
  EXPECT_EQ(types("  egress: [{action: Allow}]\n"), Types{PolicyType::kEgress});
  EXPECT_EQ(types("  ingress: [{action: Deny}]\n  egress: [{action: Allow}]\n"),
            (Types{PolicyType::kIngress, PolicyType::kEgress}));
  EXPECT_EQ(types("  egress: [{action: Allow}]\n  types: [Ingress]\n"),
            Types{PolicyType::kIngress});  // explicit types are kept
  EXPECT_EQ(types("  types: [egress, INGRESS]\n"),
            (Types{PolicyType::kEgress, PolicyType::kIngress}));
  PolicySpec spec = DecodeOne(Gnp("  order: 5\n")).policy();
  EXPECT_EQ(spec.tier, "default");
  EXPECT_EQ(spec.order, 5.0);
  EXPECT_EQ(DecodeOne(Gnp("  tier: default\n")).policy().tier, "default");
  // Actions in any case, stored canonical; nets canonical.
  Rule rule = DecodeOne(IngressRule("action: PASS\n    source: {nets: [\"FD00::1\"]}\n"))
                  .policy()
                  .ingress[0];
  EXPECT_EQ(rule.action, Action::kPass);
  EXPECT_EQ(rule.source.nets, std::vector<std::string>{"fd00::1/128"});
}

TEST(ValidateProfile, Rules) {
  ExpectAllInvalid({
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata: {name: p}\nspec:\n  labelsToApply:\n"
       "    \"-x\": y # <\n",
       "spec.labelsToApply[\"-x\"]", "invalid label key"},
      {"apiVersion: tabby.dev/v1\nkind: Profile\nmetadata: {name: p}\nspec:\n  egress:\n"
       "  - action: Allow\n    protocol: UDP\n    notICMP: {type: 1} # <\n",
       "spec.egress[0].notICMP", "needs protocol ICMP"},
  });
}

TEST(ValidateWorkloadEndpoint, Rules) {
  ExpectAllInvalid({
      {Wep("  ipNetworks:\n  - 10.0.0.0/24 # <\n"), "spec.ipNetworks[0]",
       "contains several addresses: a workload network must be a /32 (IPv4) or /128 (IPv6)"},
      {Wep("  ipNetworks: [\"fd00::/64\"] # <\n"), "spec.ipNetworks[0]", "several addresses"},
      {Wep("  ipNetworks: [10.0.0.300] # <\n"), "spec.ipNetworks[0]", "invalid CIDR"},
      {Wep("  ipv4Gateway: \"fe80::1\" # <\n"), "spec.ipv4Gateway", "is not an IPv4 address"},
      {Wep("  ipv6Gateway: 169.254.1.1 # <\n"), "spec.ipv6Gateway", "is not an IPv6 address"},
      {Wep("  ipv4Gateway: 10.0.0.1/24 # <\n"), "spec.ipv4Gateway", "invalid IP address"},
      {Wep("  interfaceName: cali0123456789abc # <\n"), "spec.interfaceName",
       "invalid interfaceName"},
      {Wep("  interfaceName: \"cali 1\" # <\n"), "spec.interfaceName", "invalid interfaceName"},
      // Only workload interfaces: the uplink would route the endpoint's addresses out of the
      // host and police everything arriving on it as the endpoint.
      {Wep("  interfaceName: eth0 # <\n"), "spec.interfaceName",
       "a workload's host interface is named tabby<suffix>"},
      {Wep("  interfaceName: tabby # <\n"), "spec.interfaceName", "named tabby<suffix>"},
      {Wep("  interfaceName: cali0ef24ba # <\n"), "spec.interfaceName", "named tabby<suffix>"},
      {Wep("  mac: 02:42:ac:11:00 # <\n"), "spec.mac", "invalid MAC address"},
      {Wep("  mac: zz:42:ac:11:00:02 # <\n"), "spec.mac", "invalid MAC address"},
      {Wep("  ports:\n  - name: HTTP # <\n    port: 80\n"), "spec.ports[0].name",
       "invalid port name \"HTTP\""},
      {Wep("  ports:\n  - port: 80 # <\n"), "spec.ports[0].name", "required field is missing"},
      {Wep("  ports:\n  - name: ping\n    protocol: ICMP # <\n    port: 1\n"),
       "spec.ports[0].protocol", "protocol ICMP has no ports"},
      {Wep("  ports:\n  - name: web # <\n"), "spec.ports[0].port", "required field is missing"},
      {Wep("  ports:\n  - name: web\n    port: 65536 # <\n"), "spec.ports[0].port", "out of range"},
      {Wep("  ports:\n  - name: web\n    port: 80\n    hostIP: localhost # <\n"),
       "spec.ports[0].hostIP", "invalid IP address"},
      {Wep("  profiles: [kns.default, \"Bad Profile\"] # <\n"), "spec.profiles[1]",
       "invalid profile name"},
      {Wep("  containerID: \"abc/def\" # <\n"), "spec.containerID", "invalid containerID"},
      {Wep("  endpoint: eth0:1 # <\n"), "spec.endpoint", "invalid endpoint"},
      {Wep("  allowSpoofedSourcePrefixes: [nonsense] # <\n"), "spec.allowSpoofedSourcePrefixes[0]",
       "invalid CIDR"},
      {"apiVersion: tabby.dev/v1\nkind: WorkloadEndpoint\nmetadata: {name: w}\nspec: # <\n"
       "  orchestrator: k8s\n",
       "spec.node", "required field is missing"},
      {"apiVersion: tabby.dev/v1\nkind: WorkloadEndpoint\nmetadata: {name: w}\nspec:\n"
       "  node: Node_1 # <\n",
       "spec.node", "invalid node name"},
      {"apiVersion: tabby.dev/v1\nkind: WorkloadEndpoint\nmetadata: {name: W} # <\n"
       "spec:\n  node: n\n",
       "metadata.name", "invalid name \"W\""},
  });
}

TEST(ValidateNode, Rules) {
  ExpectAllInvalid({
      {NodeDoc("  bgp:\n    ipv4Address: \"2001:db8::1/64\" # <\n"), "spec.bgp.ipv4Address",
       "is not an IPv4 address"},
      {NodeDoc("  bgp:\n    ipv6Address: 10.0.0.1/24 # <\n"), "spec.bgp.ipv6Address",
       "is not an IPv6 address"},
      {NodeDoc("  bgp:\n    ipv4Address: 10.0.0.1/40 # <\n"), "spec.bgp.ipv4Address",
       "invalid CIDR"},
      {NodeDoc("  bgp:\n    asNumber: 4294967296 # <\n"), "spec.bgp.asNumber",
       "invalid AS number 4294967296"},
      {NodeDoc("  bgp:\n    asNumber: \"1.70000\" # <\n"), "spec.bgp.asNumber",
       "invalid AS number"},
      {NodeDoc("  bgp:\n    asNumber: true # <\n"), "spec.bgp.asNumber",
       "expected an AS number, got boolean true"},
      {NodeDoc("  bgp:\n    routeReflectorClusterID: \"::1\" # <\n"),
       "spec.bgp.routeReflectorClusterID", "not an IPv4 address"},
      {NodeDoc("  bgp: {} # <\n"), "spec.bgp", "must not be empty"},
      {NodeDoc("  ipv4VXLANTunnelAddr: 10.0.0.256 # <\n"), "spec.ipv4VXLANTunnelAddr",
       "invalid IP address"},
      {NodeDoc("  vxlanTunnelMACAddr: 66:cf:23:df:22 # <\n"), "spec.vxlanTunnelMACAddr",
       "invalid MAC address"},
  });
}

std::string BgpConfig(std::string_view name, std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: {}\n"
      "spec:\n{}",
      name, spec);
}
std::string BgpPeer(std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: peer1\nspec:\n{}", spec);
}

TEST(ValidateBGPConfiguration, Rules) {
  ExpectAllInvalid({
      {"apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: global # <\n",
       "metadata.name", "a BGPConfiguration is named \"default\""},
      {BgpConfig("node.host1", "  asNumber: 65001 # <\n"), "spec.asNumber",
       "only the \"default\" BGPConfiguration sets the cluster's AS number"},
      {BgpConfig("node.host1", "  nodeToNodeMeshEnabled: false # <\n"),
       "spec.nodeToNodeMeshEnabled", "only the \"default\""},
      {BgpConfig("default", "  nodeToNodeMeshEnabled: \"no\" # <\n"), "spec.nodeToNodeMeshEnabled",
       "expected true or false"},
      {BgpConfig("default", "  asNumber: 4294967296 # <\n"), "spec.asNumber",
       "invalid AS number 4294967296"},
      {BgpConfig("default", "  serviceClusterIPs:\n  - cidr: 10.96.0.0/33 # <\n"),
       "spec.serviceClusterIPs[0].cidr", "invalid CIDR"},
      {BgpConfig("default", "  serviceExternalIPs:\n  - {} # <\n"),
       "spec.serviceExternalIPs[0].cidr", "required"},
      {BgpConfig("default", "  logSeverityScreen: Loud # <\n"), "spec.logSeverityScreen",
       "invalid logSeverityScreen \"Loud\""},
  });
}

TEST(ValidateBGPConfiguration, Defaults) {
  Resource config = DecodeOne(BgpConfig("default", "  logSeverityScreen: debug\n"));
  ASSERT_EQ(config.kind, Kind::kBGPConfiguration);
  EXPECT_EQ(config.bgp_configuration().as_number, kDefaultAsNumber);
  EXPECT_EQ(config.bgp_configuration().node_to_node_mesh_enabled, true);
  EXPECT_EQ(config.bgp_configuration().log_severity_screen, "Debug");
  Resource node =
      DecodeOne(BgpConfig("node.host1", "  serviceExternalIPs: [{cidr: 203.0.113.7}]\n"));
  ASSERT_EQ(node.kind, Kind::kBGPConfiguration);
  EXPECT_EQ(node.bgp_configuration().as_number, 0);  // the cluster's, not a copy of it
  EXPECT_FALSE(node.bgp_configuration().node_to_node_mesh_enabled);
  EXPECT_EQ(node.bgp_configuration().service_external_ips[0].cidr, "203.0.113.7/32");
}

TEST(ValidateBGPPeer, Rules) {
  ExpectAllInvalid({
      // A missing field is reported at the line of the object that lacks it.
      {"apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec: # <\n"
       "  asNumber: 65000\n",
       "spec.peerIP", "set peerIP"},
      {BgpPeer("  peerIP: 192.0.2.300 # <\n  asNumber: 65000\n"), "spec.peerIP",
       "invalid peerIP \"192.0.2.300\": not an IP address"},
      {BgpPeer("  peerIP: 192.0.2.1:0 # <\n  asNumber: 65000\n"), "spec.peerIP",
       "the port is a number 1-65535"},
      {BgpPeer("  peerIP: \"[192.0.2.1]:179\" # <\n  asNumber: 65000\n"), "spec.peerIP",
       "brackets are for IPv6"},
      {BgpPeer("  peerIP: 10.0.0.0/24 # <\n  asNumber: 65000\n"), "spec.peerIP",
       "not an IP address"},
      {"apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec: # <\n"
       "  peerIP: 192.0.2.1\n",
       "spec.asNumber", "required field is missing"},
      {BgpPeer("  peerIP: 192.0.2.1\n  asNumber: 65000\n  peerSelector: all() # <\n"),
       "spec.peerSelector", "not both"},
      {BgpPeer("  peerSelector: all()\n  asNumber: 65000 # <\n"), "spec.asNumber",
       "each node's own AS number"},
      {BgpPeer("  peerSelector: \"rr ==\" # <\n"), "spec.peerSelector", "invalid selector"},
      {BgpPeer("  node: host1\n  nodeSelector: all() # <\n  peerSelector: all()\n"),
       "spec.nodeSelector", "set node or nodeSelector, not both"},
      {BgpPeer("  node: Host_1 # <\n  peerSelector: all()\n"), "spec.node", "invalid node name"},
      {BgpPeer("  peerIP: 192.0.2.1\n  asNumber: 65000\n  localASNumber: -1 # <\n"),
       "spec.localASNumber", "invalid AS number"},
      {BgpPeer("  peerIP: 192.0.2.1\n  asNumber: 65000\n  password: {} # <\n"),
       "spec.password.secretKeyRef", "required field is missing"},
      {BgpPeer("  peerIP: 192.0.2.1\n  asNumber: 65000\n  password:\n    secretKeyRef:\n"
               "      name: bgp\n      key: a/b # <\n"),
       "spec.password.secretKeyRef.key", "invalid secret key \"a/b\""},
      {BgpPeer("  peerIP: 192.0.2.1\n  asNumber: 65000\n  password:\n    secretKeyRef: # <\n"
               "      name: bgp\n"),
       "spec.password.secretKeyRef.key", "missing"},
  });
}

TEST(ValidateBGPPeer, PeerIpForms) {
  for (auto [text, canonical] :
       {std::pair{"192.0.2.1", "192.0.2.1"}, std::pair{"192.0.2.1:1179", "192.0.2.1:1179"},
        std::pair{"2001:DB8::1", "2001:db8::1"},
        std::pair{"[2001:db8::1]:1179", "[2001:db8::1]:1179"}}) {
    Resource peer = DecodeOne(BgpPeer(fmt::format("  peerIP: \"{}\"\n  asNumber: 65000\n", text)));
    ASSERT_EQ(peer.kind, Kind::kBGPPeer) << text;
    EXPECT_EQ(peer.bgp_peer().peer_ip, canonical);
  }
  absl::StatusOr<PeerIp> parsed = ParsePeerIp("[2001:db8::1]:1179");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->address.ToString(), "2001:db8::1");
  EXPECT_EQ(parsed->port, 1179);
  EXPECT_FALSE(ParsePeerIp("[2001:db8::1]").ok());
  EXPECT_FALSE(ParsePeerIp("192.0.2.1:").ok());
  EXPECT_FALSE(ParsePeerIp("192.0.2.1:65536").ok());
  EXPECT_FALSE(ParsePeerIp("").ok());
}

TEST(ValidateClusterConfiguration, Rules) {
  ExpectAllInvalid({
      {"apiVersion: tabby.dev/v1\nkind: ClusterConfiguration\nmetadata: {name: default}\nspec:\n"
       "  defaultEndpointPolicy: Reject # <\n",
       "spec.defaultEndpointPolicy", "invalid defaultEndpointPolicy \"Reject\": use Allow or Deny"},
      {"apiVersion: tabby.dev/v1\nkind: ClusterConfiguration\nmetadata: {name: default}\nspec:\n"
       "  logPrefix: \"bad\\\"prefix\" # <\n",
       "spec.logPrefix", "invalid logPrefix"},
  });
  ClusterConfigurationSpec defaults =
      DecodeOne(
          "apiVersion: tabby.dev/v1\nkind: ClusterConfiguration\nmetadata:\n"
          "  name: default\n")
          .cluster_configuration();
  EXPECT_EQ(defaults.default_endpoint_policy, "Allow");
  EXPECT_EQ(defaults.log_prefix, "tabby-packet");
  EXPECT_EQ(DecodeOne("apiVersion: tabby.dev/v1\nkind: ClusterConfiguration\nmetadata:\n"
                      "  name: default\nspec: {defaultEndpointPolicy: deny}\n")
                .cluster_configuration()
                .default_endpoint_policy,
            "Deny");
}

std::string Hep(std::string_view spec) {
  return fmt::format(
      "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node1-eth0\n"
      "spec:\n{}",
      spec);
}
std::string ClusterConfig(std::string_view spec) {
  return fmt::format(
      "apiVersion: tabby.dev/v1\nkind: ClusterConfiguration\nmetadata: {{name: default}}\n"
      "spec:\n{}",
      spec);
}

TEST(ValidateHostEndpoint, Rules) {
  ExpectAllInvalid({
      {"apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node1-eth0\n"
       "spec: # <\n  interfaceName: eth0\n",
       "spec.node", "required field is missing"},
      {"apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node1-eth0\n"
       "spec: # <\n  node: node1\n",
       "spec.interfaceName", "or its addresses (expectedIPs)"},
      {Hep("  node: node1\n  interfaceName: tabby1234 # <\n"), "spec.interfaceName",
       "are workloads'"},
      {Hep("  node: node1\n  interfaceName: a-very-long-interface # <\n"), "spec.interfaceName",
       "1-15 characters"},
      {Hep("  node: node1\n  expectedIPs:\n  - 10.0.0.1\n  - 10.0.0.300 # <\n"),
       "spec.expectedIPs[1]", "invalid IP address"},
      {Hep("  node: Node1 # <\n  interfaceName: eth0\n"), "spec.node", "invalid node name"},
      {Hep("  node: node1\n  interfaceName: eth0\n  ports: [] # <\n"), "spec.ports",
       "unknown field"},
      {Hep("  node: node1\n  interfaceName: eth0\n  profiles: [Bad] # <\n"), "spec.profiles[0]",
       "invalid profile name"},
  });
  Resource all = DecodeOne(Hep("  node: node1\n  interfaceName: \"*\"\n"));
  EXPECT_EQ(all.host_endpoint().interface_name, "*");
  Resource by_address = DecodeOne(Hep("  node: node1\n  expectedIPs: [\"2001:DB8::1\"]\n"));
  EXPECT_EQ(by_address.host_endpoint().expected_ips, std::vector<std::string>{"2001:db8::1"});
}

TEST(ValidateClusterConfiguration, HostProtection) {
  ExpectAllInvalid({
      {ClusterConfig("  defaultEndpointToHostAction: Reject # <\n"),
       "spec.defaultEndpointToHostAction", "use Drop, Accept or Return"},
      {ClusterConfig("  failsafeInboundHostPorts:\n  - {protocol: ICMP, port: 1} # <\n"),
       "spec.failsafeInboundHostPorts[0].protocol", "TCP, UDP or SCTP"},
      {ClusterConfig("  failsafeOutboundHostPorts:\n  - {protocol: UDP, port: 0} # <\n"),
       "spec.failsafeOutboundHostPorts[0].port", "invalid port 0"},
      {ClusterConfig("  failsafeOutboundHostPorts:\n  - {protocol: UDP} # <\n"),
       "spec.failsafeOutboundHostPorts[0].port", "required field is missing"},
  });
  ClusterConfigurationSpec defaults =
      DecodeOne(ClusterConfig("  logPrefix: x\n")).cluster_configuration();
  EXPECT_EQ(defaults.default_endpoint_to_host_action, "Drop");
  EXPECT_EQ(defaults.failsafe_inbound_host_ports, DefaultFailsafeInboundHostPorts());
  EXPECT_EQ(defaults.failsafe_outbound_host_ports, DefaultFailsafeOutboundHostPorts());
  ClusterConfigurationSpec set =
      DecodeOne(ClusterConfig("  defaultEndpointToHostAction: return\n"
                              "  failsafeInboundHostPorts: [{port: 2222}]\n"
                              "  failsafeOutboundHostPorts: []\n"))
          .cluster_configuration();
  EXPECT_EQ(set.default_endpoint_to_host_action, "Return");
  ASSERT_EQ(set.failsafe_inbound_host_ports->size(), 1u);
  EXPECT_EQ((*set.failsafe_inbound_host_ports)[0].protocol.number, Protocol::kTcp);
  EXPECT_TRUE(set.failsafe_outbound_host_ports->empty());
}

TEST(Validate, ProgrammaticResources) {
  Resource wep = MakeResource(Kind::kWorkloadEndpoint,
                              WorkloadEndpointName("node-1", "k8s", "web", "eth0"), "default");
  EXPECT_EQ(wep.metadata.name, "node--1-k8s-web-eth0");
  wep.workload_endpoint().node = "node-1";
  wep.workload_endpoint().ip_networks = {"10.0.0.5"};
  EXPECT_TRUE(Validate(wep).ok()) << Validate(wep);
  ApplyDefaults(wep);
  EXPECT_EQ(wep.workload_endpoint().ip_networks[0], "10.0.0.5/32");
  Resource again = wep;
  ApplyDefaults(again);
  EXPECT_EQ(again, wep);  // idempotent

  wep.workload_endpoint().ports.push_back(EndpointPort{"web", Protocol{}, 80, 0, ""});
  EXPECT_EQ(Validate(wep).message(),
            "field spec.ports[0].protocol: invalid protocol 0: use a "
            "number 1-255");
  ApplyDefaults(wep);
  EXPECT_EQ(wep.workload_endpoint().ports[0].protocol, (Protocol{Protocol::kTcp, "TCP"}));
  EXPECT_TRUE(Validate(wep).ok());

  Resource policy = MakeResource(Kind::kGlobalNetworkPolicy, "p");
  ApplyDefaults(policy);
  Rule rule;
  rule.protocol = Protocol{Protocol::kTcp, "TCP"};
  rule.destination.ports.push_back(PortSpec{2000, 1000, ""});
  policy.policy().ingress.push_back(rule);
  EXPECT_EQ(Validate(policy).message(),
            "field spec.ingress[0].destination.ports[0]: invalid port range \"2000:1000\": first "
            "port is greater than last");
  policy.policy().ingress[0].destination.ports[0] = PortSpec{0, 0, "http"};
  EXPECT_TRUE(Validate(policy).ok());
  policy.policy().ingress[0].protocol = Protocol{Protocol::kTcp, "UDP"};
  EXPECT_THAT(std::string(MessageOf(Validate(policy))), HasSubstr("does not match number 6"));

  Resource mismatched = MakeResource(Kind::kNode, "n");
  mismatched.spec = IPPoolSpec{};
  EXPECT_EQ(Validate(mismatched).message(), "field spec: spec does not belong to kind Node");
  ApplyDefaults(mismatched);  // must not crash

  Resource bad_utf8 = MakeResource(Kind::kProfile, "p");
  bad_utf8.metadata.annotations["note"] = "\xc3\x28";
  EXPECT_EQ(Validate(bad_utf8).message(), "field metadata.annotations.note: not valid UTF-8");
  std::string json = EncodeJson(bad_utf8);  // does not throw
  EXPECT_FALSE(json.empty());
}

TEST(Validate, LabelHelpers) {
  EXPECT_FALSE(CheckLabelKey("app").has_value());
  EXPECT_FALSE(CheckLabelKey("projectcalico.org/namespace").has_value());
  EXPECT_TRUE(CheckLabelKey("").has_value());
  EXPECT_TRUE(CheckLabelKey("/app").has_value());
  EXPECT_TRUE(CheckLabelKey("app/").has_value());
  EXPECT_TRUE(CheckLabelKey("a_").has_value());
  EXPECT_FALSE(CheckLabelValue("").has_value());
  EXPECT_FALSE(CheckLabelValue("v1.2_3-x").has_value());
  EXPECT_TRUE(CheckLabelValue("v1 ").has_value());
  EXPECT_TRUE(CheckLabelValue(std::string(64, 'a')).has_value());
}

// ---------------------------------------------------------------------------------------------
// Kubernetes kinds.

std::string Knp(std::string_view spec) {
  return fmt::format(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
      "  name: knp1\n  namespace: prod\nspec:\n{}",
      spec);
}
// A KubernetesNetworkPolicy whose single ingress rule has one peer, `peer` (under "- ").
std::string KnpPeer(std::string_view peer) {
  return Knp(fmt::format("  ingress:\n  - from:\n    - {}", peer));
}
// A KubernetesNetworkPolicy whose single ingress rule has one port, `port` (under "- ").
std::string KnpPort(std::string_view port) {
  return Knp(fmt::format("  ingress:\n  - ports:\n    - {}", port));
}

TEST(ValidateKubernetesNetworkPolicy, LabelSelectors) {
  ExpectAllInvalid({
      {Knp("  podSelector:\n    matchLabels:\n      \"bad key\": x # <\n"),
       "spec.podSelector.matchLabels[\"bad key\"]", "invalid label key \"bad key\""},
      {Knp("  podSelector:\n    matchLabels:\n      app: -web # <\n"),
       "spec.podSelector.matchLabels.app", "invalid label value \"-web\""},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a/b/c # <\n"
           "      operator: Exists\n"),
       "spec.podSelector.matchExpressions[0].key", "at most one '/'"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: \"\" # <\n"
           "      operator: Exists\n"),
       "spec.podSelector.matchExpressions[0].key", "required field is missing"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a\n      operator: Has # <\n"),
       "spec.podSelector.matchExpressions[0].operator",
       "invalid operator \"Has\": expected In, NotIn, Exists or DoesNotExist"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a # <\n"),
       "spec.podSelector.matchExpressions[0].operator", "required field is missing"},
      {Knp("  podSelector:\n    matchExpressions:\n    - operator: Exists # <\n"),
       "spec.podSelector.matchExpressions[0].key", "required field is missing"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a\n      operator: In\n"
           "      values: [] # <\n"),
       "spec.podSelector.matchExpressions[0].values", "operator In needs at least one value"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a # <\n      operator: NotIn\n"),
       "spec.podSelector.matchExpressions[0].values", "operator NotIn needs at least one value"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a\n      operator: Exists\n"
           "      values: [x] # <\n"),
       "spec.podSelector.matchExpressions[0].values", "operator Exists takes no values"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a\n      operator: DoesNotExist\n"
           "      values: [x] # <\n"),
       "spec.podSelector.matchExpressions[0].values", "operator DoesNotExist takes no values"},
      {Knp("  podSelector:\n    matchExpressions:\n    - key: a\n      operator: In\n"
           "      values: [ok, -bad] # <\n"),
       "spec.podSelector.matchExpressions[0].values[1]", "invalid label value \"-bad\""},
      {KnpPeer("podSelector: {matchLabels: {app: \"a b\"}} # <\n"),
       "spec.ingress[0].from[0].podSelector.matchLabels.app", "invalid label value \"a b\""},
      {KnpPeer("namespaceSelector: {matchExpressions: [{key: team, operator: In}]} # <\n"),
       "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values",
       "operator In needs at least one value"},
  });
}

TEST(ValidateKubernetesNetworkPolicy, PolicyTypesAndPeers) {
  ExpectAllInvalid({
      {Knp("  policyTypes: [Ingress, Sideways] # <\n"), "spec.policyTypes[1]",
       "invalid policy type \"Sideways\": expected Ingress or Egress"},
      {Knp("  policyTypes: [Egress, Egress] # <\n"), "spec.policyTypes[1]",
       "policy type Egress is listed more than once"},
      {KnpPeer("{} # <\n"), "spec.ingress[0].from[0]",
       "a peer must set podSelector, namespaceSelector or ipBlock"},
      {Knp("  egress:\n  - to:\n    - {} # <\n"), "spec.egress[0].to[0]",
       "a peer must set podSelector, namespaceSelector or ipBlock"},
      {KnpPeer("podSelector: {}\n      ipBlock: {cidr: 10.0.0.0/8} # <\n"),
       "spec.ingress[0].from[0].ipBlock",
       "ipBlock cannot be combined with podSelector or namespaceSelector"},
      {KnpPeer("namespaceSelector: {}\n      ipBlock: {cidr: 10.0.0.0/8} # <\n"),
       "spec.ingress[0].from[0].ipBlock", "ipBlock cannot be combined"},
      {KnpPeer("ipBlock: {except: [10.0.0.0/8]} # <\n"), "spec.ingress[0].from[0].ipBlock.cidr",
       "required field is missing"},
      {KnpPeer("ipBlock: {cidr: 10.0.0.0/33} # <\n"), "spec.ingress[0].from[0].ipBlock.cidr",
       "invalid CIDR"},
      {KnpPeer("ipBlock: {cidr: 10.0.0.1} # <\n"), "spec.ingress[0].from[0].ipBlock.cidr",
       "invalid CIDR \"10.0.0.1\": expected an address with a prefix length"},
      {KnpPeer("ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]} # <\n"),
       "spec.ingress[0].from[0].ipBlock.except[0]",
       "10.1.0.0/24 must be a strict subset of cidr 10.0.0.0/16"},
      {KnpPeer("ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]} # <\n"),
       "spec.ingress[0].from[0].ipBlock.except[0]", "must be a strict subset"},
      {KnpPeer("ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/8]} # <\n"),
       "spec.ingress[0].from[0].ipBlock.except[0]", "must be a strict subset"},
      {KnpPeer("ipBlock: {cidr: 10.0.0.0/8, except: [\"fd00::/64\"]} # <\n"),
       "spec.ingress[0].from[0].ipBlock.except[0]",
       "fd00::/64 is an IPv6 network but cidr 10.0.0.0/8 is IPv4"},
      {KnpPeer("ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0]} # <\n"),
       "spec.ingress[0].from[0].ipBlock.except[0]", "expected an address with a prefix length"},
      {Knp("  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.0.0.0/8\n        except:\n"
           "        - 10.1.0.0/16\n        - 10.2.0.0/33 # <\n"),
       "spec.egress[0].to[0].ipBlock.except[1]", "invalid CIDR"},
  });
}

TEST(ValidateKubernetesNetworkPolicy, Ports) {
  ExpectAllInvalid({
      {KnpPort("port: 0 # <\n"), "spec.ingress[0].ports[0].port",
       "invalid port 0: ports are 1-65535"},
      {KnpPort("port: -1 # <\n"), "spec.ingress[0].ports[0].port", "invalid port -1"},
      {KnpPort("port: 70000 # <\n"), "spec.ingress[0].ports[0].port",
       "invalid port 70000: ports are 1-65535"},
      {KnpPort("port: \"80\" # <\n"), "spec.ingress[0].ports[0].port",
       "invalid port \"80\": a port number is written as an integer (port: 80)"},
      {KnpPort("port: \"\" # <\n"), "spec.ingress[0].ports[0].port",
       "expected a port number or a port name"},
      {KnpPort("port: 8000:8080 # <\n"), "spec.ingress[0].ports[0].port",
       "invalid port name \"8000:8080\""},
      {KnpPort("port: HTTP # <\n"), "spec.ingress[0].ports[0].port", "invalid port name \"HTTP\""},
      {KnpPort("port: abcdefghijklmnop # <\n"), "spec.ingress[0].ports[0].port",
       "1-15 lower case letters"},
      {KnpPort("port: 1-2 # <\n"), "spec.ingress[0].ports[0].port", "with at least one letter"},
      {KnpPort("port: [80] # <\n"), "spec.ingress[0].ports[0].port",
       "expected a port number or a port name, got a list"},
      {KnpPort("endPort: 90 # <\n"), "spec.ingress[0].ports[0].endPort",
       "endPort needs port (the first port of the range)"},
      {KnpPort("{port: http, endPort: 90} # <\n"), "spec.ingress[0].ports[0].endPort",
       "endPort cannot be used with a named port"},
      {KnpPort("{port: 100, endPort: 90} # <\n"), "spec.ingress[0].ports[0].endPort",
       "endPort 90 is less than port 100"},
      {KnpPort("{port: 100, endPort: 70000} # <\n"), "spec.ingress[0].ports[0].endPort",
       "invalid endPort 70000: ports are 1-65535"},
      {KnpPort("protocol: ICMP # <\n"), "spec.ingress[0].ports[0].protocol",
       "invalid protocol \"ICMP\": use TCP, UDP or SCTP"},
      {KnpPort("protocol: 6 # <\n"), "spec.ingress[0].ports[0].protocol",
       "invalid protocol \"6\": use TCP, UDP or SCTP"},
      {KnpPort("protocol: TCPX # <\n"), "spec.ingress[0].ports[0].protocol", "invalid protocol"},
      {Knp("  egress:\n  - ports:\n    - port: 53\n    - {protocol: UDP, port: 0} # <\n"),
       "spec.egress[0].ports[1].port", "invalid port 0"},
  });
}

TEST(ValidateKubernetesNetworkPolicy, NamesAndLimits) {
  std::string long_selector = "  podSelector: # <\n    matchLabels:\n";
  for (int i = 0; i < 40; ++i) {
    long_selector += fmt::format("      example.com/label-number-{}: value-{}\n", i, i);
  }
  std::string peers;
  for (int i = 0; i < 33; ++i) peers += fmt::format("{}{{podSelector: {{}}}}", i ? ", " : "");
  std::string ports;
  for (int i = 0; i < 32; ++i) ports += fmt::format("{}{{port: {}}}", i ? ", " : "", 1000 + i);
  ExpectAllInvalid({
      {"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: Bad_Name # <\n",
       "metadata.name", "invalid name \"Bad_Name\""},
      {"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n"
       "  namespace: Prod # <\n",
       "metadata.namespace", "invalid namespace \"Prod\""},
      {Knp(long_selector), "spec.podSelector", "as a tabby selector; the limit is 1024"},
      {Knp(fmt::format("  ingress: # <\n  - from: [{}]\n    ports: [{}]\n", peers, ports)),
       "spec.ingress",
       "the rules expand to 1056 tabby rules (one per peer and port); the limit "
       "is 1024"},
      {Knp("  podSelector: {}\n  frobnicate: 1 # <\n"), "spec.frobnicate",
       "unknown field \"frobnicate\""},
  });
}

TEST(ValidateKubernetesNetworkPolicy, AcceptsWhatKubernetesAccepts) {
  Resource r = DecodeOne(Knp(R"(  podSelector: {}
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.1/16
        except: [10.0.5.7/24]
    - ipBlock: {cidr: "FD00::/48", except: ["FD00:0:0:1::/64"]}
    - podSelector: {matchLabels: {app: ""}}
    ports:
    - {port: 80, endPort: 80}
    - {protocol: SCTP}
    - port: web-8080
status: {}
)"));
  const KubernetesNetworkPolicySpec& s = r.kubernetes_network_policy();
  // Host bits are kept as written (Kubernetes does); IPv6 text becomes canonical.
  EXPECT_EQ(s.ingress[0].from[0].ip_block->cidr, "10.0.0.1/16");
  EXPECT_EQ(s.ingress[0].from[1].ip_block->cidr, "fd00::/48");
  EXPECT_EQ(s.ingress[0].from[1].ip_block->except, std::vector<std::string>{"fd00:0:0:1::/64"});
  Resource converted = ToTabbyPolicy(r);
  EXPECT_EQ(converted.policy().ingress[0].source.nets, std::vector<std::string>{"10.0.0.0/16"});
  EXPECT_EQ(converted.policy().ingress[0].source.not_nets, std::vector<std::string>{"10.0.5.0/24"});
}

TEST(ValidateNamespace, Rules) {
  ExpectAllInvalid({
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b # <\n", "metadata.name",
       "invalid name \"a.b\": a Namespace name is 1-63 lower case alphanumerics"},
      {fmt::format("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {} # <\n",
                   std::string(64, 'n')),
       "metadata.name", "a Namespace name is 1-63"},
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  namespace: b # <\n",
       "metadata.namespace", "Namespace is cluster-scoped"},
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n    team: -x # <\n",
       "metadata.labels.team", "invalid label value"},
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\nspec:\n  finalizers:\n"
       "  - \"bad finalizer\" # <\n",
       "spec.finalizers[0]", "invalid finalizer \"bad finalizer\""},
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\nspec:\n  phase: Active # <\n",
       "spec.phase", "unknown field \"phase\" (known fields: finalizers)"},
  });
  EXPECT_EQ(DecodeOne("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\nspec:\n"
                      "  finalizers: [kubernetes, example.com/cleanup]\n")
                .namespace_spec()
                .finalizers,
            (std::vector<std::string>{"kubernetes", "example.com/cleanup"}));
}

TEST(ValidateKubernetesNetworkPolicy, BuiltInCode) {
  Resource r = MakeResource(Kind::kKubernetesNetworkPolicy, "p", "prod");
  EXPECT_EQ(Validate(r).message(), "field spec.policyTypes: required field is missing");
  ApplyDefaults(r);
  EXPECT_TRUE(Validate(r).ok()) << Validate(r);
  r.api_version = kTabbyApiVersion;
  EXPECT_EQ(Validate(r).message(),
            "field apiVersion: unsupported apiVersion \"tabby.dev/v1\" for kind NetworkPolicy: use "
            "networking.k8s.io/v1");
  r.api_version = kKubernetesNetworkingApiVersion;
  NetworkPolicyPeer peer;
  peer.pod_selector = LabelSelector{};
  peer.pod_selector->match_expressions = {{"a", SelectorOperator::kIn, {"x"}}};
  NetworkPolicyIngressRule rule;
  rule.from = {peer};
  rule.ports = {NetworkPolicyPort{Protocol{Protocol::kTcp, "TCP"}, PortNumberOrName{80, ""}, 90}};
  r.kubernetes_network_policy().ingress = {rule};
  EXPECT_TRUE(Validate(r).ok()) << Validate(r);
  r.kubernetes_network_policy().ingress[0].ports[0].port->name = "http";
  EXPECT_EQ(Validate(r).message(),
            "field spec.ingress[0].ports[0].endPort: endPort cannot be used with a named port");
}

TEST(ResolveNodeName, HostNamesAreTrimmedAndLowerCasedExplicitNamesMustBeValid) {
  EXPECT_EQ(*ResolveNodeName("", "", "Web-01"), "web-01");
  EXPECT_EQ(*ResolveNodeName("", "", " Node.Example.COM\n"), "node.example.com");
  EXPECT_EQ(*ResolveNodeName("node-1", "--node", "ignored"), "node-1");
  auto upper = ResolveNodeName("Web-01", "--node", "x");
  ASSERT_FALSE(upper.ok());
  EXPECT_EQ(upper.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(upper.status().message(),
              ::testing::HasSubstr("invalid node name \"Web-01\" from --node"));
  auto underscore = ResolveNodeName("", "", "web_01");
  ASSERT_FALSE(underscore.ok());
  EXPECT_THAT(underscore.status().message(),
              ::testing::HasSubstr("cannot derive a node name from the host name \"web_01\""));
  EXPECT_FALSE(ResolveNodeName("", "", "").ok());
  EXPECT_FALSE(ResolveNodeName(std::string(254, 'a'), "$TABBY_NODE", "").ok());
}

}  // namespace
}  // namespace tabby::model
