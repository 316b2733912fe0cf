// The rendered BIRD configuration: what it says for a mesh, a route reflector, eBGP with a
// password and IPv6, checked line by line and by BIRD itself (`bird -p`).
#include "bgp/bird_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "support/process.h"
#include "support/temp_dir.h"

namespace tabby::bgp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }
IpNetwork Net(const char* text) { return *IpNetwork::Parse(text); }

// BIRD's own parser on `config`: empty when it accepts it, else what it says.
std::string BirdRefuses(const std::string& config) {
  auto dir = test::TempDir::Create();
  if (!dir.ok()) return std::string(dir.status().message());
  std::ofstream(dir->File("bird.conf")) << config;
  test::CommandResult checked = test::RunCommand({"bird", "-p", "-c", dir->File("bird.conf")});
  return checked.ok() ? "" : checked.Describe();
}

BirdConfigInput MeshNode() {
  BirdConfigInput input;
  input.node = "host1";
  input.router_id = 0xc0000205;  // 192.0.2.5
  input.ipv4_source = Ip("192.0.2.5");
  input.ipv6_source = Ip("2001:db8::5");
  input.blocks = {Net("10.70.0.0/26"), Net("10.70.0.64/26"), Net("fd70::/122")};
  input.peers = {{.description = "node host2", .address = Ip("192.0.2.6"), .as_number = 64512},
                 {.description = "node host2", .address = Ip("2001:db8::6"), .as_number = 64512}};
  return input;
}

TEST(BirdConfig, MeshAnnouncesTheBlocksToEveryNode) {
  std::string config = RenderBirdConfig(MeshNode());
  EXPECT_EQ(BirdRefuses(config), "");
  EXPECT_THAT(config, HasSubstr("router id 192.0.2.5;"));
  EXPECT_THAT(config, HasSubstr("define TABBY_BLOCKS4 = [ 10.70.0.0/26, 10.70.0.64/26 ];"));
  EXPECT_THAT(config, HasSubstr("define TABBY_BLOCKS6 = [ fd70::/122 ];"));
  EXPECT_THAT(config, HasSubstr("protocol bgp peer4_192_0_2_6 from tabby_peer {\n"
                                "  description \"node host2\";\n"
                                "  neighbor 192.0.2.6 as 64512;\n"
                                "  source address 192.0.2.5;\n"
                                "  ipv4 { import all; export filter tabby_export_ibgp4; };\n"));
  EXPECT_THAT(config, HasSubstr("protocol bgp peer6_2001_db8__6 from tabby_peer {"));
  EXPECT_THAT(config, HasSubstr("if krt_source = 197 then accept;"));
  EXPECT_THAT(config, Not(HasSubstr("rr client")));
}

TEST(BirdConfig, RouteReflectorEbgpPasswordAndAdvertisedPrefixes) {
  BirdConfigInput input = MeshNode();
  input.route_reflector_cluster_id = "10.0.0.1";
  input.peers = {{.description = "node host2",
                  .address = Ip("192.0.2.6"),
                  .as_number = 64512,
                  .route_reflector_client = true},
                 {.description = "BGPPeer tor",
                  .address = Ip("192.0.2.254"),
                  .as_number = 65000,
                  .password = "s3cr\"et"}};
  input.advertised = {Net("10.96.0.0/12")};
  input.tunnelled = {Net("10.80.0.0/16")};
  std::string config = RenderBirdConfig(input);
  EXPECT_THAT(config, HasSubstr("define TABBY_TUNNELLED4 = [ 10.80.0.0/16+ ];"));
  EXPECT_THAT(config, HasSubstr("filter tabby_to_kernel4 {\n"
                                "  if net ~ TABBY_TUNNELLED4 then reject;\n"
                                "  if source = RTS_BGP then accept;\n"));
  EXPECT_EQ(BirdRefuses(config), "");
  EXPECT_THAT(config, HasSubstr("  rr client;\n  rr cluster id 10.0.0.1;\n"));
  EXPECT_THAT(config, HasSubstr("  neighbor 192.0.2.254 as 65000;\n"
                                "  source address 192.0.2.5;\n"
                                "  password \"s3cret\";\n"
                                "  multihop;\n"
                                "  ipv4 { import all; export filter tabby_export_own4; };\n"));
  EXPECT_THAT(config, HasSubstr("  route 10.96.0.0/12 blackhole;"));
}

TEST(BirdConfig, PeerPortLocalAsAndDebug) {
  BirdConfigInput input = MeshNode();
  input.debug = true;
  input.peers = {{.description = "BGPPeer tor",
                  .address = Ip("2001:db8::fe"),
                  .port = 1179,
                  .as_number = 65000,
                  .local_as_number = 65001}};
  std::string config = RenderBirdConfig(input);
  EXPECT_EQ(BirdRefuses(config), "");
  EXPECT_THAT(config, HasSubstr("  debug all;\n"));
  EXPECT_THAT(config, HasSubstr("  local as 65001;\n"
                                "  neighbor 2001:db8::fe port 1179 as 65000;\n"
                                "  source address 2001:db8::5;\n"));
}

TEST(BirdConfig, NoBlocksNoPeersAndAPeerOfAFamilyThisNodeLacks) {
  BirdConfigInput input;
  input.node = "v6only";
  input.router_id = RouterIdFromName("v6only");
  input.ipv6_source = Ip("2001:db8::9");
  // No IPv4 here: no session.
  input.peers = {{.description = "node host1", .address = Ip("192.0.2.5"), .as_number = 64512}};
  std::string config = RenderBirdConfig(input);
  EXPECT_EQ(BirdRefuses(config), "");
  EXPECT_THAT(config, Not(HasSubstr("protocol bgp peer4")));
  EXPECT_NE(RouterIdFromName("v6only") >> 24, 0u);
  EXPECT_EQ(RouterIdFromName("v6only"), RouterIdFromName("v6only"));
  EXPECT_NE(RouterIdFromName("v6only"), RouterIdFromName("v6only2"));
}

}  // namespace
}  // namespace tabby::bgp
