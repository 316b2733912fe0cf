// The VXLAN overlay on real hosts (fabric_fixture.h) with no BGP at all: IP pools with
// vxlanMode Always encapsulate between every pair of hosts, CrossSubnet only between hosts on
// different subnets (checked with the VXLAN device's packet counters); the devices, static
// neighbour and FDB entries and routes follow the pool's mode as it changes, without restarts.
#include <fmt/format.h>
#include <gmock/gmock.h>

#include <string>

#include "fabric_fixture.h"

namespace tabby::test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// Packets host `host` sent through its VXLAN device `device` (0 when there is none).
int64_t VxlanTxPackets(const ScopedNetns& host, const std::string& device = "vxlan.tabby") {
  CommandResult shown = host.Run({"ip", "-j", "-s", "link", "show", "dev", device});
  nlohmann::json links = nlohmann::json::parse(shown.out, nullptr, false);
  if (!links.is_array() || links.empty()) return 0;
  return links[0]["stats64"]["tx"]["packets"].get<int64_t>();
}

class VxlanAlways : public FabricTest {
 protected:
  VxlanAlways() : FabricTest({.hosts = 2, .bgp = false, .vxlan_mode = "Always"}) {}
};

TEST_F(VxlanAlways, EncapsulatesBetweenHostsWithStaticEntriesAndFollowsTheMode) {
  // Once in sync, each agent tells the CNI plugin the workloads' MTU (<state-dir>/mtu).
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor([&] { return std::ifstream(StateDir(i) + "/mtu").good(); },
                        std::chrono::seconds(20)));
  }
  AddWorkload(0, "a");
  AddWorkload(1, "b");
  ASSERT_TRUE(WaitFor([&] { return Reach("a", "b") && Reach("b", "a"); }, std::chrono::seconds(30)))
      << fabric_->host(0).Run({"ip", "route"}).out;
  const ScopedNetns& host1 = fabric_->host(0);
  CommandResult device = host1.Run({"ip", "-d", "link", "show", "vxlan.tabby"});
  EXPECT_THAT(device.out, HasSubstr("vxlan id 4096 local 192.0.2.1"));
  EXPECT_THAT(device.out, HasSubstr("dstport 4789"));
  EXPECT_THAT(device.out, HasSubstr("nolearning"));
  EXPECT_THAT(device.out, HasSubstr("mtu 1450"));  // the underlay's 1500 less 50
  // Workloads created while VXLAN is on get the device's MTU.
  EXPECT_THAT(workloads_["a"].netns->Run({"ip", "link", "show", "eth0"}).out,
              HasSubstr("mtu 1450"));
  CommandResult routes = host1.Run({"ip", "route", "show", "proto", "197"});
  EXPECT_THAT(routes.out, HasSubstr("via 192.0.2.2 dev vxlan.tabby onlink")) << routes.out;
  EXPECT_EQ(host1.Run({"ip", "route", "show", "proto", "bird"}).out, "") << "no BGP";
  const std::string host2_mac = Ctl({"get", "node", "host2", "-o", "json"}).out;
  nlohmann::json node = nlohmann::json::parse(host2_mac, nullptr, false);
  ASSERT_TRUE(node.is_object()) << host2_mac;
  const std::string mac = node["spec"]["vxlanTunnelMACAddr"];
  EXPECT_THAT(host1.Run({"ip", "neigh", "show", "dev", "vxlan.tabby"}).out,
              HasSubstr("192.0.2.2 lladdr " + mac + " PERMANENT"));
  EXPECT_THAT(host1.Run({"bridge", "fdb", "show", "dev", "vxlan.tabby"}).out,
              HasSubstr(mac + " dst 192.0.2.2 self permanent"));
  const int64_t before = VxlanTxPackets(host1);
  EXPECT_TRUE(Reach("a", "b"));
  EXPECT_GT(VxlanTxPackets(host1), before) << "a to b went through the device";

  // Never: the device, its entries and the routes go; nothing else carries the traffic.
  ApplyYaml(PoolYaml("pool4", "10.70.0.0/24", "Never"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return !host1.Run({"ip", "link", "show", "vxlan.tabby"}).ok();
      },
      std::chrono::seconds(20)));
  EXPECT_THAT(host1.Run({"ip", "route", "show", "proto", "197"}).out, Not(HasSubstr("via")));
  EXPECT_FALSE(Reach("a", "b"));
  // And back: converges without restarting anything.
  ApplyYaml(PoolYaml("pool4", "10.70.0.0/24", "Always"));
  EXPECT_TRUE(
      WaitFor([&] { return Reach("a", "b") && Reach("b", "a"); }, std::chrono::seconds(30)));
}

// host3 sits on a second subnet: host1 reaches host2 natively and host3 encapsulated.
class VxlanCrossSubnet : public FabricTest {
 protected:
  VxlanCrossSubnet()
      : FabricTest({.hosts = 3, .bgp = false, .vxlan_mode = "CrossSubnet", .second_subnet = {2}}) {}
};

TEST_F(VxlanCrossSubnet, EncapsulatesOnlyBetweenSubnets) {
  AddWorkload(0, "a");
  AddWorkload(1, "b");
  AddWorkload(2, "c");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Reach("a", "b") && Reach("b", "a") && Reach("a", "c") && Reach("c", "a") &&
               Reach("b", "c");
      },
      std::chrono::seconds(30)))
      << fabric_->host(0).Run({"ip", "route"}).out;
  const ScopedNetns& host1 = fabric_->host(0);
  std::string routes = host1.Run({"ip", "route", "show", "proto", "197"}).out;
  EXPECT_THAT(routes, HasSubstr("via 192.0.2.2 dev eth0")) << routes;
  EXPECT_THAT(routes, HasSubstr("via 198.51.100.3 dev vxlan.tabby onlink")) << routes;

  int64_t before = VxlanTxPackets(host1);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Reach("a", "b"));
  EXPECT_EQ(VxlanTxPackets(host1), before) << "same subnet: not encapsulated";
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Reach("a", "c"));
  EXPECT_GE(VxlanTxPackets(host1), before + 5) << "across subnets: encapsulated";
}

// Dual stack: the IPv6 pool's traffic crosses vxlan-v6.tabby over the IPv6 underlay, with its own
// MAC (vxlanTunnelMACAddrV6), entries, and routes via the remote device's link-local address; the
// workloads get the smaller device's MTU (1500 less 70).
class VxlanDualStack : public FabricTest {
 protected:
  VxlanDualStack()
      : FabricTest({.hosts = 2, .dual_stack = true, .bgp = false, .vxlan_mode = "Always"}) {}
};

TEST_F(VxlanDualStack, CarriesIpv6OverTheIpv6Underlay) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor([&] { return std::ifstream(StateDir(i) + "/mtu").good(); },
                        std::chrono::seconds(20)));
  }
  AddWorkload(0, "a");
  AddWorkload(1, "b");
  ASSERT_FALSE(workloads_["b"].ipv6.empty());
  const ScopedNetns& host1 = fabric_->host(0);
  ASSERT_TRUE(WaitFor([&] { return Reach("a", "b", true) && Reach("b", "a", true); },
                      std::chrono::seconds(30)))
      << host1.Run({"ip", "-6", "route"}).out << agent(0)->out();
  EXPECT_TRUE(Reach("a", "b")) << "IPv4 too";
  CommandResult device = host1.Run({"ip", "-d", "link", "show", "vxlan-v6.tabby"});
  EXPECT_THAT(device.out, HasSubstr("vxlan id 4096 local 2001:db8::1"));
  EXPECT_THAT(device.out, HasSubstr("mtu 1430"));  // the underlay's 1500 less 70
  EXPECT_THAT(workloads_["a"].netns->Run({"ip", "link", "show", "eth0"}).out,
              HasSubstr("mtu 1430"));
  nlohmann::json node =
      nlohmann::json::parse(Ctl({"get", "node", "host2", "-o", "json"}).out, nullptr, false);
  ASSERT_TRUE(node.is_object());
  ASSERT_TRUE(node["spec"].contains("vxlanTunnelMACAddrV6")) << node.dump();
  const std::string mac = node["spec"]["vxlanTunnelMACAddrV6"];
  // Via host2's device's link-local address (IPv6 will not take the underlay address on-link
  // through another device): a permanent neighbour entry names its MAC, and the FDB sends that
  // MAC to host2's underlay address.
  CommandResult routes = host1.Run({"ip", "-6", "route", "show", "proto", "197"});
  EXPECT_THAT(routes.out, ContainsRegex("via fe80::[0-9a-f:]+ dev vxlan-v6.tabby")) << routes.out;
  EXPECT_THAT(host1.Run({"ip", "-6", "neigh", "show", "dev", "vxlan-v6.tabby"}).out,
              ContainsRegex("fe80::[0-9a-f:]+ lladdr " + mac + " PERMANENT"));
  EXPECT_THAT(host1.Run({"bridge", "fdb", "show", "dev", "vxlan-v6.tabby"}).out,
              HasSubstr(mac + " dst 2001:db8::2 self permanent"));
  const int64_t before = VxlanTxPackets(host1, "vxlan-v6.tabby");
  EXPECT_TRUE(Reach("a", "b", true));
  EXPECT_GT(VxlanTxPackets(host1, "vxlan-v6.tabby"), before) << "a to b over IPv6 went through it";
}

}  // namespace
}  // namespace tabby::test
