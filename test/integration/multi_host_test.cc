// Two hosts on one shared etcd, routing to each other over BGP through BIRD (fabric_fixture.h).
// Workloads on different hosts reach each other, and each host's kernel holds one route per
// remote block, not one per workload; traffic outlives the agent; policy follows labels.
#include <gmock/gmock.h>
#include <signal.h>

#include <string>

#include "fabric_fixture.h"

namespace tabby::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class MultiHost : public FabricTest {
 protected:
  static constexpr int kHosts = 2;
  MultiHost() : FabricTest({.hosts = kHosts}) {}
};

TEST_F(MultiHost, WorkloadsOnDifferentHostsReachEachOtherOverBgp) {
  AddWorkload(0, "a");
  AddWorkload(0, "a2");
  AddWorkload(1, "b");
  AddWorkload(1, "b2");
  ASSERT_FALSE(workloads_["a"].ipv4.empty());
  ASSERT_FALSE(workloads_["b"].ipv4.empty());
  EXPECT_TRUE(WaitFor([&] { return Reach("a", "b") && Reach("b", "a"); }, std::chrono::seconds(60)))
      << "host1 routes: " << fabric_->host(0).Run({"ip", "route"}).out << "\nhost1 BIRD: "
      << fabric_->host(0).Run({"birdc", "-s", StateDir(0) + "/bird.ctl", "show", "protocols"}).out;
  EXPECT_TRUE(Reach("a2", "b2"));

  // One route per remote block in each host's kernel, learned over BGP: not one per workload.
  for (int i = 0; i < kHosts; ++i) {
    std::string routes = fabric_->host(i).Run({"ip", "route", "show", "proto", "bird"}).out;
    size_t count = 0;
    for (size_t at = routes.find("10.70.0."); at != std::string::npos;
         at = routes.find("10.70.0.", at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, 1u) << "host" << i + 1 << ":\n" << routes;
    EXPECT_THAT(routes, HasSubstr("/26 via " + Fabric::HostIpv4(1 - i))) << routes;
  }
}

// kill -9 of a host's tabbyd leaves its routes and traffic alone (BIRD keeps running); a host
// that leaves for good (tabbyctl node delete) has its routes withdrawn everywhere.
TEST_F(MultiHost, TrafficOutlivesTheAgentAndALeavingHostIsWithdrawn) {
  AddWorkload(0, "a");
  AddWorkload(1, "b");
  ASSERT_TRUE(WaitFor([&] { return Reach("a", "b"); }, std::chrono::seconds(60)));
  kill(agent(1)->pid(), SIGKILL);
  agent(1)->Stop();
  EXPECT_TRUE(Reach("a", "b"));
  EXPECT_TRUE(Reach("b", "a"));

  ASSERT_NE(BirdPid(1), 0);
  KillBird(1);
  CommandResult deleted = Ctl({"node", "delete", Node(1), "--force"});
  ASSERT_TRUE(deleted.ok()) << deleted.Describe();
  std::string routes;
  EXPECT_TRUE(WaitFor(
      [&] {
        routes = fabric_->host(0).Run({"ip", "route", "show", "proto", "bird"}).out;
        return routes.empty();
      },
      std::chrono::seconds(20)))
      << routes;
}

// Policy selects workloads wherever they run: host 2 programs its workload's ingress rules with
// host 1's workloads in its sets, and a label changed on host 1's workload changes them.
TEST_F(MultiHost, PolicyFollowsLabelsAcrossHosts) {
  CommandResult policy = Ctl({"apply", "-f", WriteFile("policy.yaml", R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: clients-only}
spec:
  selector: app == 'server'
  ingress:
  - action: Allow
    source: {selector: app == 'client'}
)")});
  ASSERT_TRUE(policy.ok()) << policy.Describe();
  AddWorkload(0, "client", "app=client");
  AddWorkload(0, "other", "app=other");
  AddWorkload(1, "server", "app=server");
  ASSERT_TRUE(WaitFor([&] { return Reach("client", "server"); }, std::chrono::seconds(60)));
  EXPECT_FALSE(Reach("other", "server"));
  // The reverse direction is open (no policy selects the clients).
  EXPECT_TRUE(WaitFor([&] { return Reach("server", "other"); }, std::chrono::seconds(20)));

  CommandResult relabel =
      Ctl({"label", "wep", "host1-test-other-eth0", "-n", "default", "app=client", "--overwrite"});
  ASSERT_TRUE(relabel.ok()) << relabel.Describe();
  EXPECT_TRUE(WaitFor([&] { return Reach("other", "server"); }, std::chrono::seconds(20)));
  relabel =
      Ctl({"label", "wep", "host1-test-client-eth0", "-n", "default", "app=gone", "--overwrite"});
  ASSERT_TRUE(relabel.ok()) << relabel.Describe();
  EXPECT_TRUE(WaitFor([&] { return !Reach("client", "server"); }, std::chrono::seconds(20)));
}

// kill -9 of a host's tabbyd: traffic keeps flowing on what it programmed; a policy written
// while it is down takes effect when it comes back (it resyncs and adopts its BIRD).
TEST_F(MultiHost, AnAgentKilledAndRestartedReconciles) {
  AddWorkload(0, "a", "app=a");
  AddWorkload(1, "b", "app=b");
  ASSERT_TRUE(WaitFor([&] { return Reach("a", "b"); }, std::chrono::seconds(60)));
  const int bird = BirdPid(1);
  kill(agent(1)->pid(), SIGKILL);
  agent(1)->Stop();
  ApplyYaml(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-closed}
spec:
  selector: app == 'b'
  types: [Ingress]
)");
  EXPECT_TRUE(Reach("a", "b")) << "nobody programs host2 while its agent is down";
  absl::Status restarted = cluster_->StartAgent(1);
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_TRUE(WaitFor([&] { return !Reach("a", "b"); }, std::chrono::seconds(30)));
  EXPECT_TRUE(Reach("b", "a")) << "only b's ingress is closed";
  EXPECT_EQ(BirdPid(1), bird) << "the restarted agent adopts the running BIRD";
}

// A 3-member etcd cluster loses a member in the middle of churn: workloads keep being created
// on both hosts and policy keeps being applied, and nobody sees an error.
class MultiHostOnAnEtcdCluster : public FabricTest {
 protected:
  MultiHostOnAnEtcdCluster() : FabricTest({.hosts = 2, .etcd_members = 3}) {}
};

TEST_F(MultiHostOnAnEtcdCluster, LosingOneMemberDuringChurnIsInvisible) {
  constexpr int kWorkloads = 10;
  for (int k = 0; k < kWorkloads; ++k) {
    if (k == kWorkloads / 2) etcd_->Kill(0);  // the first member: where clients begin
    AddWorkload(k % 2, fmt::format("w{}", k), fmt::format("app=w{}", k));
    CommandResult applied = Ctl({"apply", "-f",
                                 WriteFile(fmt::format("policy{}.yaml", k), fmt::format(R"(
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: to-w{0}}}
spec:
  selector: app == 'w{0}'
  ingress:
  - action: Allow
    source: {{selector: has(app)}}
)",
                                                                                        k))});
    EXPECT_TRUE(applied.ok()) << applied.Describe();
    EXPECT_THAT(applied.err, Not(HasSubstr("Error"))) << applied.err;
  }
  // Both agents converged on everything: every workload reaches one on the other host.
  for (int k = 0; k + 1 < kWorkloads; k += 2) {
    const std::string from = fmt::format("w{}", k), to = fmt::format("w{}", k + 1);
    EXPECT_TRUE(
        WaitFor([&] { return Reach(from, to) && Reach(to, from); }, std::chrono::seconds(30)))
        << from << " <-> " << to;
  }
  EXPECT_TRUE(etcd_->Restart(0).ok());
}

}  // namespace
}  // namespace tabby::test
