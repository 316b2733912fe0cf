// BGP topologies on three dual-stack hosts (fabric_fixture.h), each giving the same
// reachability: the node-to-node mesh, a route reflector chosen by label, and per-node eBGP
// peering with a ToR that runs its own BIRD; bad peerings show in `tabbyctl node status` and
// break nothing; a killed BIRD is restarted and its routes come back.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fabric_fixture.h"

namespace tabby::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class BgpTopology : public FabricTest {
 protected:
  static constexpr int kHosts = 3;
  BgpTopology() : FabricTest({.hosts = kHosts, .dual_stack = true}) {}

  void TearDown() override {
    if (tor_bird_pid_ > 0) kill(tor_bird_pid_, SIGKILL);
    FabricTest::TearDown();
  }

  // a on host1, b on host2, c on host3.
  void AddOneWorkloadPerHost() {
    AddWorkload(0, "a");
    AddWorkload(1, "b");
    AddWorkload(2, "c");
  }

  // Every pair of a, b, c reaches each other over both families (within a minute: sessions
  // come up in seconds, a changed configuration restarts them).
  bool EveryPairReaches() {
    const std::vector<std::string> names = {"a", "b", "c"};
    return WaitFor(
        [&] {
          for (const std::string& from : names) {
            for (const std::string& to : names) {
              if (from != to && (!Reach(from, to) || !Reach(from, to, /*ipv6=*/true))) {
                return false;
              }
            }
          }
          return true;
        },
        std::chrono::seconds(60));
  }

  std::string Diagnostics() {
    std::string out;
    for (int i = 0; i < kHosts; ++i) {
      out += fmt::format("--- {} routes:\n{}--- {} sessions:\n{}\n", Node(i), BgpRoutes(i), Node(i),
                         NodeStatus(i).dump(1));
    }
    return out;
  }

  // How many of `routes`' lines are routes to a block of the test pools.
  static int BlockRoutes(const std::string& routes) {
    int count = 0;
    std::istringstream lines(routes);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("10.70.0.") || line.starts_with("fd70::")) ++count;
    }
    return count;
  }

  // The sessions of host `i` that are Established, by description.
  std::vector<std::string> EstablishedSessions(int i) {
    std::vector<std::string> out;
    nlohmann::json status = NodeStatus(i);
    if (!status.is_array()) return out;
    for (const auto& session : status) {
      if (session["bgpState"] == "Established") {
        out.push_back(session["description"].get<std::string>() + " " +
                      session["peerAddress"].get<std::string>());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The Node of host `i` as the operator writes it: its addresses and `extra` under spec.bgp.
  void ApplyNode(int i, const std::string& extra_bgp, const std::string& labels = "{}") {
    ApplyYaml(fmt::format(R"(
apiVersion: projectcalico.org/v3
kind: Node
metadata: {{name: {}, labels: {}}}
spec:
  bgp: {{ipv4Address: {}/24, ipv6Address: "{}/64"{}}}
)",
                          Node(i), labels, Fabric::HostIpv4(i), Fabric::HostIpv6(i), extra_bgp));
  }

  // BIRD on the tor, AS 65000, peering over eBGP with each host at AS 6460<i+1>, over both
  // families (IPv4 with `ipv4_password` when given), and putting what it learns into the tor's
  // kernel so that it can forward.
  void StartTorBird(const std::string& ipv4_password = "") {
    std::string config = R"(router id 192.0.2.254;
protocol device {}
protocol direct { ipv4; ipv6; }
protocol kernel { ipv4 { export where source = RTS_BGP; }; }
protocol kernel { ipv6 { export where source = RTS_BGP; }; }
)";
    for (int i = 0; i < kHosts; ++i) {
      for (bool v4 : {true, false}) {
        config += fmt::format(
            "protocol bgp {}{} {{ local {} as 65000; neighbor {} as {}; {}"
            "ipv{} {{ import all; export all; }}; }}\n",
            Node(i), v4 ? "v4" : "v6", v4 ? Fabric::kTorIpv4 : Fabric::kTorIpv6,
            v4 ? Fabric::HostIpv4(i) : Fabric::HostIpv6(i), 64601 + i,
            v4 && !ipv4_password.empty() ? fmt::format("password \"{}\"; ", ipv4_password) : "",
            v4 ? 4 : 6);
      }
    }
    std::string conf = WriteFile("tor-bird.conf", config);
    std::string pid_file = dir_->File("tor-bird.pid");
    CommandResult started =
        fabric_->tor().Run({"bird", "-c", conf, "-s", dir_->File("tor-bird.ctl"), "-P", pid_file});
    ASSERT_TRUE(started.ok()) << started.Describe();
    ASSERT_TRUE(WaitFor([&] { return (std::ifstream(pid_file) >> tor_bird_pid_).good(); },
                        std::chrono::seconds(10)));
  }

  int tor_bird_pid_ = 0;
};

// The default: every node peers with every other (iBGP, AS 64512) over both families; each
// host holds one route per remote block and family; traceroute shows the path through the
// destination's host. A killed BIRD is started again and its routes come back.
TEST_F(BgpTopology, FullMeshOverBothFamilies) {
  AddOneWorkloadPerHost();
  AddWorkload(0, "a2");  // a second workload on host1: still one block, one route
  ASSERT_TRUE(EveryPairReaches()) << Diagnostics();
  for (int i = 0; i < kHosts; ++i) {
    EXPECT_EQ(BlockRoutes(BgpRoutes(i)), 2 * (kHosts - 1)) << Node(i) << "\n" << BgpRoutes(i);
  }
  EXPECT_EQ(EstablishedSessions(0),
            (std::vector<std::string>{
                "node-to-node mesh: host2 192.0.2.2", "node-to-node mesh: host2 2001:db8::2",
                "node-to-node mesh: host3 192.0.2.3", "node-to-node mesh: host3 2001:db8::3"}));

  CommandResult trace = workloads_["a"].netns->Run(
      {"traceroute", "-n", "-q", "1", "-w", "1", "-m", "6", workloads_["c"].ipv4});
  EXPECT_TRUE(trace.ok()) << trace.Describe();
  EXPECT_THAT(trace.out, HasSubstr(" " + Fabric::HostIpv4(2) + " ")) << trace.out;  // host3
  EXPECT_THAT(trace.out, HasSubstr(" " + workloads_["c"].ipv4 + " ")) << trace.out;
  EXPECT_THAT(trace.out, Not(HasSubstr(Fabric::kTorIpv4))) << "routed, not via the tor";

  const int bird = BirdPid(1);
  ASSERT_GT(bird, 0);
  kill(bird, SIGKILL);
  EXPECT_TRUE(
      WaitFor([&] { return BirdPid(1) != bird && BirdPid(1) > 0; }, std::chrono::seconds(30)));
  EXPECT_TRUE(EveryPairReaches()) << Diagnostics();
  EXPECT_EQ(BlockRoutes(BgpRoutes(1)), 2 * (kHosts - 1)) << BgpRoutes(1);
}

// host3 becomes a route reflector (cluster ID, label) and the mesh goes off: host1 and host2
// peer only with host3, and reach each other through the routes it reflects.
TEST_F(BgpTopology, RouteReflectorByLabel) {
  AddOneWorkloadPerHost();
  ASSERT_TRUE(EveryPairReaches()) << Diagnostics();
  ApplyNode(2, ", routeReflectorClusterID: 244.0.0.1", "{route-reflector: 'true'}");
  ApplyYaml(R"(
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: peer-with-rr}
spec:
  nodeSelector: all()
  peerSelector: route-reflector == 'true'
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {nodeToNodeMeshEnabled: false}
)");
  const std::vector<std::string> to_reflector = {"BGPPeer peer-with-rr: host3 192.0.2.3",
                                                 "BGPPeer peer-with-rr: host3 2001:db8::3"};
  EXPECT_TRUE(
      WaitFor([&] { return EstablishedSessions(0) == to_reflector; }, std::chrono::seconds(60)))
      << Diagnostics();
  EXPECT_TRUE(WaitFor([&] { return EstablishedSessions(2).size() == 4; }, std::chrono::seconds(60)))
      << Diagnostics();
  EXPECT_TRUE(EveryPairReaches()) << Diagnostics();
  // Reflected routes keep their next hop: host1 reaches host2's block directly.
  EXPECT_THAT(BgpRoutes(0), HasSubstr("via " + Fabric::HostIpv4(1))) << BgpRoutes(0);
}

// No mesh; each host has its own AS and peers over eBGP with the tor (IPv4 by per-node
// BGPPeers with a TCP-MD5 password from a secret, IPv6 by one global BGPPeer). The tor holds
// exactly one route per block.
TEST_F(BgpTopology, PerNodePeeringWithTheTor) {
  AddOneWorkloadPerHost();
  AddWorkload(0, "a2");
  ASSERT_TRUE(EveryPairReaches()) << Diagnostics();
  ASSERT_EQ(mkdir(SecretsDir().c_str(), 0700), 0);
  ASSERT_EQ(mkdir((SecretsDir() + "/bgp").c_str(), 0700), 0);
  WriteFile("secrets/bgp/tor", "s3cret-Pa55\n");
  StartTorBird("s3cret-Pa55");
  std::string peers = R"(
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {nodeToNodeMeshEnabled: false}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor-v6}
spec: {peerIP: "2001:db8::fe", asNumber: 65000}
)";
  for (int i = 0; i < kHosts; ++i) {
    ApplyNode(i, fmt::format(", asNumber: {}", 64601 + i));
    peers += fmt::format(R"(---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {{name: tor-{}}}
spec:
  node: {}
  peerIP: 192.0.2.254
  asNumber: 65000
  password: {{secretKeyRef: {{name: bgp, key: tor}}}}
)",
                         Node(i), Node(i));
  }
  ApplyYaml(peers);
  for (int i = 0; i < kHosts; ++i) {
    EXPECT_TRUE(WaitFor(
        [&] {
          return EstablishedSessions(i) ==
                 std::vector<std::string>{"BGPPeer tor-" + Node(i) + " 192.0.2.254",
                                          "BGPPeer tor-v6 2001:db8::fe"};
        },
        std::chrono::seconds(60)))
        << Diagnostics();
  }
  nlohmann::json status = NodeStatus(0);
  ASSERT_TRUE(status.is_array() && !status.empty()) << status;
  EXPECT_EQ(status[0]["localAS"], "64601");
  EXPECT_EQ(status[0]["peerAS"], "65000");
  EXPECT_TRUE(EveryPairReaches()) << Diagnostics();
  std::string tor_routes;
  EXPECT_TRUE(WaitFor(
      [&] {
        tor_routes = fabric_->tor().Run({"ip", "route", "show", "proto", "bird"}).out +
                     fabric_->tor().Run({"ip", "-6", "route", "show", "proto", "bird"}).out;
        return BlockRoutes(tor_routes) == 2 * kHosts;
      },
      std::chrono::seconds(30)))
      << "the tor holds one route per block and family:\n"
      << tor_routes;
}

// Bad input: refused at apply time with the field at fault and nothing stored; a peer nobody
// answers at and a peer with the wrong AS number show in node status, and traffic is untouched.
TEST_F(BgpTopology, BadPeeringsAreClearAndBreakNothing) {
  AddOneWorkloadPerHost();
  ASSERT_TRUE(EveryPairReaches()) << Diagnostics();
  CommandResult bad_ip = Ctl({"apply", "-f", WriteFile("bad-ip.yaml", R"(
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: bad-ip}
spec: {peerIP: 192.0.2.300, asNumber: 65000}
)")});
  EXPECT_FALSE(bad_ip.ok());
  EXPECT_THAT(bad_ip.err, HasSubstr("field spec.peerIP: invalid peerIP \"192.0.2.300\""));
  CommandResult bad_mode = Ctl({"apply", "-f", WriteFile("bad-mode.yaml", R"(
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: misspelt}
spec: {cidr: 10.71.0.0/24, vxlanMode: Alwyas}
)")});
  EXPECT_FALSE(bad_mode.ok());
  EXPECT_THAT(bad_mode.err, HasSubstr("field spec.vxlanMode: invalid vxlanMode \"Alwyas\""));
  EXPECT_EQ(Ctl({"get", "bgppeers", "-o", "name"}).out, "");
  EXPECT_THAT(Ctl({"get", "ippools", "-o", "name"}).out, Not(HasSubstr("misspelt")));

  StartTorBird();  // expects host1 at AS 64601; host1 stays at 64512 and says the tor is 65001
  ApplyYaml(R"(
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: nobody}
spec: {node: host1, peerIP: 192.0.2.200, asNumber: 65000}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: wrong-as}
spec: {node: host1, peerIP: 192.0.2.254, asNumber: 65001}
)");
  auto session = [&](const std::string& address) {
    for (const auto& s : NodeStatus(0)) {
      if (s["peerAddress"] == address) return s;
    }
    return nlohmann::json();
  };
  EXPECT_TRUE(WaitFor(
      [&] {
        nlohmann::json nobody = session("192.0.2.200");
        nlohmann::json wrong = session("192.0.2.254");
        return nobody.is_object() && nobody["bgpState"] != "Established" && wrong.is_object() &&
               wrong["lastError"].get<std::string>().find("AS") != std::string::npos;
      },
      std::chrono::seconds(60)))
      << Diagnostics();
  CommandResult table =
      RunCommand({TABBYCTL, "node", "status", "--bird-socket", StateDir(0) + "/bird.ctl"},
                 {.netns_path = fabric_->host(0).path()});
  EXPECT_THAT(table.out, HasSubstr("BGPPeer nobody")) << table.out;
  EXPECT_THAT(table.out, HasSubstr("BGPPeer wrong-as")) << table.out;
  EXPECT_TRUE(EveryPairReaches()) << Diagnostics();
}

}  // namespace
}  // namespace tabby::test
