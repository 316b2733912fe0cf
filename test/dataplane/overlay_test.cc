// The overlay's plan: which remote blocks go through the VXLAN device, which natively
// (CrossSubnet within a subnet), the static neighbour and FDB entries, devices and MTUs.
#include "dataplane/overlay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tabby::dataplane {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

IpNetwork Net(const char* text) { return *IpNetwork::Parse(text); }
IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// host1 and host2 share 192.0.2.0/24; host3 is on 198.51.100.0/24. Each owns one block of the
// IPv4 pool 10.70.0.0/16 (mode `mode`) and host2 one of the IPv6 pool fd70::/64 (Never).
OverlayInput Input(const std::string& mode) {
  OverlayInput in;
  in.node = "host1";
  in.hosts["host1"] = {Net("192.0.2.1/24"), Net("2001:db8::1/64"), "66:00:00:00:00:01",
                       "66:00:00:00:00:61"};
  in.hosts["host2"] = {Net("192.0.2.2/24"), std::nullopt, "66:00:00:00:00:02", ""};
  in.hosts["host3"] = {Net("198.51.100.3/24"), std::nullopt, "66:00:00:00:00:03", ""};
  in.pools = {{Net("10.70.0.0/16"), mode}, {Net("fd70::/64"), "Never"}};
  in.blocks = {{Net("10.70.0.0/26"), "host1"},
               {Net("10.70.0.64/26"), "host2"},
               {Net("10.70.0.128/26"), "host3"},
               {Net("fd70::/122"), "host2"}};
  in.underlay_interface4 = "eth0";
  in.underlay_mtu4 = 9000;
  return in;
}

std::vector<std::string> Routes(const OverlayFamilyPlan& plan) {
  std::vector<std::string> out;
  for (const Route& r : plan.routes) {
    out.push_back(r.destination.ToString() + " via " + r.gateway->ToString() + " dev " +
                  r.interface_name);
  }
  return out;
}

TEST(OverlayPlan, NeverMeansNoDeviceAndNoRoutes) {
  OverlayPlan plan = PlanOverlay(Input("Never"));
  EXPECT_FALSE(plan.v4.device);
  EXPECT_FALSE(plan.v6.device);
  EXPECT_THAT(plan.v4.routes, IsEmpty());
  EXPECT_FALSE(plan.workload_mtu);
  EXPECT_THAT(plan.problems, IsEmpty());
}

TEST(OverlayPlan, AlwaysEncapsulatesToEveryOtherHost) {
  OverlayPlan plan = PlanOverlay(Input("Always"));
  ASSERT_TRUE(plan.v4.device);
  EXPECT_EQ(plan.v4.device->name, "vxlan.tabby");
  EXPECT_EQ(plan.v4.device->vni, 4096u);
  EXPECT_EQ(plan.v4.device->port, 4789);
  EXPECT_EQ(plan.v4.device->local, Ip("192.0.2.1"));
  EXPECT_EQ(plan.v4.device->mac, "66:00:00:00:00:01");
  EXPECT_EQ(plan.v4.device->mtu, 8950);  // the underlay's less 50
  EXPECT_EQ(plan.workload_mtu, 8950);
  EXPECT_FALSE(plan.v6.device);  // the IPv6 pool does not encapsulate
  EXPECT_THAT(Routes(plan.v4), ElementsAre("10.70.0.64/26 via 192.0.2.2 dev vxlan.tabby",
                                           "10.70.0.128/26 via 198.51.100.3 dev vxlan.tabby"));
  EXPECT_THAT(plan.v4.neighbours,
              ElementsAre(Neighbour{Ip("192.0.2.2"), "66:00:00:00:00:02", true},
                          Neighbour{Ip("198.51.100.3"), "66:00:00:00:00:03", true}));
  EXPECT_EQ(plan.v4.fdb, plan.v4.neighbours);
}

TEST(OverlayPlan, CrossSubnetRoutesNativelyWithinTheSubnet) {
  OverlayPlan plan = PlanOverlay(Input("CrossSubnet"));
  ASSERT_TRUE(plan.v4.device);
  EXPECT_THAT(Routes(plan.v4), ElementsAre("10.70.0.64/26 via 192.0.2.2 dev eth0",
                                           "10.70.0.128/26 via 198.51.100.3 dev vxlan.tabby"));
  EXPECT_THAT(plan.v4.neighbours,
              ElementsAre(Neighbour{Ip("198.51.100.3"), "66:00:00:00:00:03", true}));
}

TEST(OverlayPlan, OneVtepEntryPerHostAndAConfiguredMtu) {
  OverlayInput in = Input("Always");
  in.blocks[Net("10.70.1.0/26")] = "host2";  // a second block of host2
  in.vxlan_mtu = 1400;
  OverlayPlan plan = PlanOverlay(in);
  EXPECT_EQ(plan.v4.routes.size(), 3u);
  EXPECT_EQ(plan.v4.neighbours.size(), 2u);
  EXPECT_EQ(plan.v4.device->mtu, 1400);
  EXPECT_EQ(plan.workload_mtu, 1400);
}

TEST(OverlayPlan, IPv6PoolsUseTheirOwnDeviceAndOverhead) {
  OverlayInput in = Input("Never");
  in.pools[1].vxlan_mode = "Always";
  in.hosts["host2"].ipv6 = Net("2001:db8::2/64");
  in.hosts["host2"].vtep_mac6 = "66:00:00:00:00:62";
  in.underlay_mtu6 = 1500;
  OverlayPlan plan = PlanOverlay(in);
  ASSERT_TRUE(plan.v6.device);
  EXPECT_EQ(plan.v6.device->name, "vxlan-v6.tabby");
  EXPECT_EQ(plan.v6.device->mtu, 1430);
  EXPECT_EQ(plan.v6.device->local, Ip("2001:db8::1"));
  // Via the remote device's link-local address (EUI-64 of its MAC): IPv6 will not take the
  // underlay address on-link through another device. The FDB still points at the underlay.
  EXPECT_THAT(Routes(plan.v6),
              ElementsAre("fd70::/122 via fe80::6400:ff:fe00:62 dev vxlan-v6.tabby"));
  ASSERT_EQ(plan.v6.neighbours.size(), 1u);
  EXPECT_EQ(plan.v6.neighbours[0].address, Ip("fe80::6400:ff:fe00:62"));
  ASSERT_EQ(plan.v6.fdb.size(), 1u);
  EXPECT_EQ(plan.v6.fdb[0].address, Ip("2001:db8::2"));
}

TEST(OverlayPlan, LinkLocalOfAMac) {
  EXPECT_EQ(LinkLocalOf("66:00:00:00:00:62"), Ip("fe80::6400:ff:fe00:62"));
  EXPECT_EQ(LinkLocalOf("00:1a:2b:3c:4d:5e"), Ip("fe80::21a:2bff:fe3c:4d5e"));
  EXPECT_FALSE(LinkLocalOf(""));
  EXPECT_FALSE(LinkLocalOf("66:00:00:00:00"));
  EXPECT_FALSE(LinkLocalOf("66:00:00:00:00:62:01"));
}

TEST(OverlayPlan, HostsWithoutAnAddressOfTheFamilyAreProblems) {
  OverlayInput in = Input("Always");
  in.hosts["host3"].ipv4.reset();
  OverlayPlan plan = PlanOverlay(in);
  EXPECT_THAT(Routes(plan.v4), ElementsAre("10.70.0.64/26 via 192.0.2.2 dev vxlan.tabby"));
  EXPECT_THAT(plan.problems, ElementsAre(HasSubstr("its host host3 has no IPv4 address")));
  in.hosts["host1"].ipv4.reset();
  plan = PlanOverlay(in);
  EXPECT_FALSE(plan.v4.device);
  EXPECT_THAT(plan.problems, ElementsAre(HasSubstr("this node has no IPv4 address")));
}

TEST(OverlayPlan, VtepMacsAreStableLocalAndPerFamily) {
  EXPECT_EQ(VtepMac("host1", false), VtepMac("host1", false));
  EXPECT_NE(VtepMac("host1", false), VtepMac("host2", false));
  EXPECT_NE(VtepMac("host1", false), VtepMac("host1", true));
  EXPECT_TRUE(VtepMac("host1", false).starts_with("66:"));
  EXPECT_EQ(VtepMac("host1", false).size(), 17u);
}

}  // namespace
}  // namespace tabby::dataplane
