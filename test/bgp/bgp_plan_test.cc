// Which sessions a node gets from the cluster's Nodes, BGPConfigurations and BGPPeers: the mesh,
// route reflectors, global, per-node and selector peers, AS numbers, passwords, announcements.
#include "bgp/bgp_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tabby::bgp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

IpNetwork Net(const char* text) { return *IpNetwork::Parse(text); }

model::Resource Node(const std::string& name, const std::string& ipv4, const std::string& ipv6,
                     model::Labels labels = {}, const std::string& cluster_id = "",
                     int64_t as = 0) {
  model::Resource r;
  r.kind = model::Kind::kNode;
  r.metadata.name = name;
  r.metadata.labels = std::move(labels);
  r.spec = model::NodeSpec{.bgp = model::NodeBgpSpec{.as_number = as,
                                                     .ipv4_address = ipv4,
                                                     .ipv6_address = ipv6,
                                                     .route_reflector_cluster_id = cluster_id}};
  return r;
}

// host1..host3 on 192.0.2.0/24 and 2001:db8::/64; host3 is labelled as a route reflector.
BgpResources ThreeNodes() {
  BgpResources r;
  r.nodes["host1"] = Node("host1", "192.0.2.1/24", "2001:db8::1/64");
  r.nodes["host2"] = Node("host2", "192.0.2.2/24", "2001:db8::2/64");
  r.nodes["host3"] = Node("host3", "192.0.2.3/24", "", {{"route-reflector", "true"}});
  return r;
}

SecretReader NoSecrets() {
  return [](const model::SecretKeyRef& ref) -> absl::StatusOr<std::string> {
    return absl::NotFoundError("no secret " + ref.name);
  };
}

BgpPlan Plan(const std::string& node, const BgpResources& resources,
             std::set<IpNetwork> blocks = {}) {
  return PlanBgp(node, resources, blocks, NoSecrets());
}

// "description address as" per session, in order.
std::vector<std::string> Sessions(const BgpPlan& plan) {
  std::vector<std::string> out;
  for (const BirdPeer& peer : plan.bird.peers) {
    std::string text =
        peer.description + " " + peer.address.ToString() + " " + std::to_string(peer.as_number);
    if (peer.port != 0) text += " port " + std::to_string(peer.port);
    if (peer.local_as_number != 0) text += " local " + std::to_string(peer.local_as_number);
    if (peer.route_reflector_client) text += " rr-client";
    if (!peer.password.empty()) text += " password " + peer.password;
    out.push_back(text);
  }
  return out;
}

TEST(BgpPlan, MeshByDefaultOverTheFamiliesBothNodesHave) {
  BgpPlan plan = Plan("host1", ThreeNodes(), {Net("10.70.0.0/26")});
  EXPECT_EQ(plan.bird.as_number, 64512);
  EXPECT_EQ(plan.bird.ipv4_source->ToString(), "192.0.2.1");
  EXPECT_EQ(plan.bird.ipv6_source->ToString(), "2001:db8::1");
  EXPECT_EQ(plan.bird.router_id, 0xc0000201u);
  EXPECT_THAT(plan.bird.blocks, ElementsAre(Net("10.70.0.0/26")));
  EXPECT_THAT(Sessions(plan), ElementsAre("node-to-node mesh: host2 192.0.2.2 64512",
                                          "node-to-node mesh: host2 2001:db8::2 64512",
                                          "node-to-node mesh: host3 192.0.2.3 64512"));
  EXPECT_THAT(plan.problems, IsEmpty());
}

TEST(BgpPlan, MeshOffAndTheClusterAsNumber) {
  BgpResources r = ThreeNodes();
  r.configurations["default"] = {.node_to_node_mesh_enabled = false, .as_number = 65100};
  r.nodes["host2"].node().bgp->as_number = 65102;  // per-node AS
  EXPECT_THAT(Sessions(Plan("host1", r)), IsEmpty());
  r.configurations["default"].node_to_node_mesh_enabled = true;
  BgpPlan plan = Plan("host1", r);
  EXPECT_EQ(plan.bird.as_number, 65100);
  EXPECT_THAT(Sessions(plan), ElementsAre("node-to-node mesh: host2 192.0.2.2 65102",
                                          "node-to-node mesh: host2 2001:db8::2 65102",
                                          "node-to-node mesh: host3 192.0.2.3 65100"));
}

TEST(BgpPlan, GlobalPerNodeAndSelectedNodePeers) {
  BgpResources r = ThreeNodes();
  r.configurations["default"] = {.node_to_node_mesh_enabled = false};
  r.peers["tor"] = {.peer_ip = "192.0.2.254", .as_number = 65000};
  r.peers["tor6"] = {.node = "host2",
                     .peer_ip = "[2001:db8::fe]:1179",
                     .as_number = 65000,
                     .local_as_number = 65002};
  r.peers["rack"] = {.node_selector = "rack == 'b'", .peer_ip = "192.0.2.253", .as_number = 65001};
  EXPECT_THAT(Sessions(Plan("host1", r)), ElementsAre("BGPPeer tor 192.0.2.254 65000"));
  EXPECT_THAT(Sessions(Plan("host2", r)),
              ElementsAre("BGPPeer tor 192.0.2.254 65000",
                          "BGPPeer tor6 2001:db8::fe 65000 port 1179 local 65002"));
  r.nodes["host1"].metadata.labels["rack"] = "b";
  EXPECT_THAT(Sessions(Plan("host1", r)),
              ElementsAre("BGPPeer rack 192.0.2.253 65001", "BGPPeer tor 192.0.2.254 65000"));
}

TEST(BgpPlan, RouteReflectorBySelectorIsMutualAndOutOfTheMesh) {
  BgpResources r = ThreeNodes();
  r.nodes["host3"].node().bgp->route_reflector_cluster_id = "244.0.0.1";
  r.peers["to-rr"] = {.node_selector = "all()", .peer_selector = "route-reflector == 'true'"};
  // The mesh stays on: host1 and host2 mesh with each other, not with the reflector.
  EXPECT_THAT(Sessions(Plan("host1", r)), ElementsAre("node-to-node mesh: host2 192.0.2.2 64512",
                                                      "node-to-node mesh: host2 2001:db8::2 64512",
                                                      "BGPPeer to-rr: host3 192.0.2.3 64512"));
  // The reflector is picked by the peerSelector: it peers back with every node the BGPPeer
  // applies to, each a client; IPv4 only, the family it has.
  BgpPlan rr = Plan("host3", r);
  EXPECT_EQ(rr.bird.route_reflector_cluster_id, "244.0.0.1");
  EXPECT_THAT(Sessions(rr), ElementsAre("BGPPeer to-rr: host1 192.0.2.1 64512 rr-client",
                                        "BGPPeer to-rr: host2 192.0.2.2 64512 rr-client"));
  EXPECT_THAT(rr.problems, IsEmpty());
  // A second reflector of the same cluster is its peer, not its client.
  r.nodes["host2"].node().bgp->route_reflector_cluster_id = "244.0.0.1";
  r.nodes["host2"].metadata.labels["route-reflector"] = "true";
  EXPECT_THAT(Sessions(Plan("host3", r)),
              ElementsAre("BGPPeer to-rr: host1 192.0.2.1 64512 rr-client",
                          "BGPPeer to-rr: host2 192.0.2.2 64512"));
}

TEST(BgpPlan, FirstSessionToAnAddressWinsAndNeverOneToItself) {
  BgpResources r = ThreeNodes();
  r.peers["a-host2"] = {.peer_ip = "192.0.2.2", .as_number = 65000};  // the mesh has it already
  r.peers["b-self"] = {.peer_ip = "192.0.2.1", .as_number = 64512};
  EXPECT_THAT(Sessions(Plan("host1", r)), ElementsAre("node-to-node mesh: host2 192.0.2.2 64512",
                                                      "node-to-node mesh: host2 2001:db8::2 64512",
                                                      "node-to-node mesh: host3 192.0.2.3 64512"));
}

TEST(BgpPlan, PasswordsFromSecretsAndAPeerWhosePasswordCannotBeRead) {
  BgpResources r = ThreeNodes();
  r.configurations["default"] = {.node_to_node_mesh_enabled = false};
  r.peers["good"] = {.peer_ip = "192.0.2.254",
                     .as_number = 65000,
                     .password = model::BgpPassword{model::SecretKeyRef{"bgp", "tor"}}};
  r.peers["missing"] = {.peer_ip = "192.0.2.253",
                        .as_number = 65000,
                        .password = model::BgpPassword{model::SecretKeyRef{"nope", "x"}}};
  SecretReader read = [](const model::SecretKeyRef& ref) -> absl::StatusOr<std::string> {
    if (ref.name == "bgp" && ref.key == "tor") return "s3cret";
    return absl::NotFoundError("cannot read /etc/tabby/secrets/" + ref.name + "/" + ref.key);
  };
  BgpPlan plan = PlanBgp("host1", r, {}, read);
  EXPECT_THAT(Sessions(plan), ElementsAre("BGPPeer good 192.0.2.254 65000 password s3cret"));
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_THAT(plan.problems[0], HasSubstr("BGPPeer missing: no session with 192.0.2.253"));
  EXPECT_THAT(plan.problems[0], HasSubstr("/etc/tabby/secrets/nope/x"));
}

TEST(BgpPlan, APeerOfAFamilyThisNodeLacksIsAProblemNotASession) {
  BgpResources r = ThreeNodes();
  r.peers["tor6"] = {.peer_ip = "2001:db8::fe", .as_number = 65000};
  BgpPlan plan = Plan("host3", r);  // host3 has no IPv6 address
  EXPECT_THAT(Sessions(plan), ElementsAre("node-to-node mesh: host1 192.0.2.1 64512",
                                          "node-to-node mesh: host2 192.0.2.2 64512"));
  EXPECT_THAT(plan.problems, ElementsAre(HasSubstr("no IPv6 address")));
}

TEST(BgpPlan, AnnouncesBlocksOfExportedPoolsAndTheServicePrefixes) {
  BgpResources r = ThreeNodes();
  r.pools["quiet"] = {.cidr = "10.80.0.0/16", .disable_bgp_export = true};
  r.pools["loud"] = {.cidr = "10.70.0.0/16"};
  r.pools["overlay"] = {.cidr = "10.90.0.0/16", .vxlan_mode = "CrossSubnet"};
  r.configurations["default"] = {.service_cluster_ips = {{"10.96.0.0/12"}},
                                 .log_severity_screen = "Info"};
  r.configurations["node.host1"] = {.service_external_ips = {{"203.0.113.0/24"}},
                                    .log_severity_screen = "Debug"};
  BgpPlan plan = Plan("host1", r, {Net("10.70.0.0/26"), Net("10.80.0.0/26")});
  EXPECT_THAT(plan.bird.blocks, ElementsAre(Net("10.70.0.0/26")));
  EXPECT_THAT(plan.bird.tunnelled, ElementsAre(Net("10.90.0.0/16")));
  EXPECT_THAT(plan.bird.advertised, ElementsAre(Net("10.96.0.0/12"), Net("203.0.113.0/24")));
  EXPECT_TRUE(plan.bird.debug);
  EXPECT_FALSE(Plan("host2", r).bird.debug);
  EXPECT_THAT(Plan("host2", r).bird.advertised, ElementsAre(Net("10.96.0.0/12")));
}

TEST(BgpPlan, ANodeNotYetRegisteredHasGlobalPeersAndANameDerivedRouterId) {
  BgpResources r = ThreeNodes();
  r.peers["tor"] = {.peer_ip = "192.0.2.254", .as_number = 65000};
  BgpPlan plan = Plan("newcomer", r);
  EXPECT_EQ(plan.bird.router_id, RouterIdFromName("newcomer"));
  EXPECT_THAT(Sessions(plan), IsEmpty());  // no address of its own yet: nothing to peer from
  EXPECT_THAT(plan.problems, ElementsAre(HasSubstr("no IPv4 address")));
}

}  // namespace
}  // namespace tabby::bgp
