// Reading `birdc show protocols all` (captured from BIRD 2.0.12 with the rendered configuration's
// `timeformat protocol iso long`).
#include "bgp/bird_status.h"

#include <gtest/gtest.h>

namespace tabby::bgp {
namespace {

constexpr char kOutput[] = R"(BIRD 2.0.12 ready.
Access restricted
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     2026-12-04 05:37:39  

peer4_10_9_9_1 BGP        ---        start  2026-12-04 05:37:39  Active        Socket: Connection refused
  Description:    BGPPeer tor
  BGP state:          Active
    Neighbor address: 10.9.9.1
    Neighbor AS:      65000
    Local AS:         64512
    Connect delay:    0.401/1
    Last error:       Socket: Connection refused
  Channel ipv4
    State:          DOWN
    Table:          master4

peer6_2001_db8__2 BGP        ---        up     2026-12-04 05:38:01  Established   
  Description:    node-to-node mesh: host2
  BGP state:          Established
    Neighbor address: 2001:db8::2
    Neighbor AS:      64512
    Local AS:         64512
  Channel ipv6
    State:          UP
)";

TEST(BirdStatus, ParsesEachBgpProtocolAndSkipsTheOthers) {
  std::vector<BgpSession> sessions = ParseBirdProtocols(kOutput);
  ASSERT_EQ(sessions.size(), 2u);
  const BgpSession& tor = sessions[0];
  EXPECT_EQ(tor.protocol, "peer4_10_9_9_1");
  EXPECT_EQ(tor.description, "BGPPeer tor");
  EXPECT_EQ(tor.peer_address, "10.9.9.1");
  EXPECT_EQ(tor.peer_as, "65000");
  EXPECT_EQ(tor.local_as, "64512");
  EXPECT_EQ(tor.state, "start");
  EXPECT_EQ(tor.since, "2026-12-04 05:37:39");
  EXPECT_EQ(tor.bgp_state, "Active");
  EXPECT_EQ(tor.info, "Active Socket: Connection refused");
  EXPECT_EQ(tor.last_error, "Socket: Connection refused");
  const BgpSession& mesh = sessions[1];
  EXPECT_EQ(mesh.description, "node-to-node mesh: host2");
  EXPECT_EQ(mesh.peer_address, "2001:db8::2");
  EXPECT_EQ(mesh.state, "up");
  EXPECT_EQ(mesh.info, "Established");
  EXPECT_EQ(mesh.last_error, "");
}

TEST(BirdStatus, NothingFromNothing) {
  EXPECT_TRUE(ParseBirdProtocols("").empty());
  EXPECT_TRUE(ParseBirdProtocols("garbage\n  Description: x\n").empty());
}

TEST(BirdStatus, NoBirdAtTheSocketIsUnavailable) {
  auto sessions = ReadBgpSessions("birdc", "/nonexistent/bird.ctl");
  ASSERT_FALSE(sessions.ok());
  EXPECT_EQ(sessions.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(sessions.status().message().find("/nonexistent/bird.ctl"), std::string::npos);
}

}  // namespace
}  // namespace tabby::bgp
