// Several hosts on one shared etcd, routing to each other over BGP through BIRD: a "tor"
// namespace with a bridge joins the hosts (support/fabric.h), etcd runs on the tor, every host
// runs tabbyd --bird run. Workloads on different hosts reach each other, and each host's kernel
// holds one route per remote block, not one per workload.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/agent_status.h"
#include "support/etcd.h"
#include "support/fabric.h"
#include "support/process.h"
#include "support/root.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tabby::test {
namespace {

using ::testing::HasSubstr;

struct RemoteWorkload {
  std::unique_ptr<ScopedNetns> netns;
  std::unique_ptr<ChildProcess> server;
  std::string ipv4;
};

class MultiHost : public ::testing::Test {
 protected:
  static constexpr int kHosts = 2;

  void SetUp() override {
    TABBY_REQUIRE_ROOT();
    auto dir = TempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto fabric = Fabric::Create(kHosts);
    ASSERT_TRUE(fabric.ok()) << fabric.status();
    fabric_ = std::move(*fabric);
    auto etcd = EtcdCluster::Start(1, fabric_->tor().path(), Fabric::kTorIpv4);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    url_ = etcd_->Url();
    CommandResult init = Ctl({"datastore", "init"});
    ASSERT_TRUE(init.ok()) << init.Describe();
    CommandResult pool = Ctl({"apply", "-f", WriteFile("pool.yaml", R"(
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool4}
spec: {cidr: 10.70.0.0/24}
)")});
    ASSERT_TRUE(pool.ok()) << pool.Describe();
    for (int i = 0; i < kHosts; ++i) {
      auto agent =
          fabric_->host(i).Start({TABBYD, "--datastore", url_, "--node", Node(i), "--state-dir",
                                  StateDir(i), "--bird", "run", "--log-level", "warn"});
      ASSERT_TRUE(agent.ok()) << agent.status();
      agents_.push_back(std::move(*agent));
    }
  }

  void TearDown() override {
    workloads_.clear();
    for (auto& agent : agents_) agent->Stop();
    for (int i = 0; i < kHosts; ++i) {
      std::ifstream pid_file(StateDir(i) + "/bird.pid");
      int pid = 0;
      if (pid_file >> pid && pid > 0) kill(pid, SIGKILL);
    }
    etcd_.reset();
  }

  static std::string Node(int i) { return fmt::format("host{}", i + 1); }
  std::string StateDir(int i) { return dir_->File(fmt::format("state{}", i)); }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::ofstream(dir_->File(name)) << content;
    return dir_->File(name);
  }

  // tabbyctl on host 1, where etcd is reachable.
  CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), TABBYCTL);
    return RunCommand(args,
                      {.env = {"TABBY_DATASTORE=" + url_}, .netns_path = fabric_->host(0).path()});
  }

  // A workload on host `i` through the CNI plugin, with a probe server.
  RemoteWorkload& AddWorkload(int i, const std::string& name, const std::string& labels = "") {
    RemoteWorkload& w = workloads_[name];
    auto netns = ScopedNetns::Create();
    EXPECT_TRUE(netns.ok()) << netns.status();
    w.netns = std::make_unique<ScopedNetns>(std::move(*netns));
    std::string conf =
        WriteFile("netconf-" + name + ".json",
                  fmt::format(R"({{"cniVersion": "1.0.0", "name": "fabric", "type": "tabby",
                        "datastore": "{}", "nodename": "{}", "orchestrator": "test",
                        "wait_for_agent_seconds": 20, "agent_state_dir": "{}"}})",
                              url_, Node(i), StateDir(i)));
    CommandResult added =
        RunCommand({"sh", "-c", std::string(TABBY_CNI) + " < " + conf},
                   {.env = {"CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr-" + name,
                            "CNI_NETNS=" + w.netns->path(), "CNI_IFNAME=eth0",
                            "CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + name +
                                (labels.empty() ? "" : ";TABBY_LABELS=" + labels)},
                    .netns_path = fabric_->host(i).path(),
                    .timeout = std::chrono::seconds(30)});
    EXPECT_TRUE(added.ok()) << added.Describe() << added.out;
    nlohmann::json result = nlohmann::json::parse(added.out, nullptr, false);
    if (!result.is_discarded() && result.contains("ips")) {
      std::string address = result["ips"][0]["address"];
      w.ipv4 = address.substr(0, address.find('/'));
    }
    auto server = w.netns->Start({TABBY_PROBE, "serve", "--tcp", "80"});
    EXPECT_TRUE(server.ok()) << server.status();
    w.server = std::move(*server);
    EXPECT_TRUE(w.server->WaitForOutput("ready", std::chrono::seconds(10)));
    return w;
  }

  bool Reach(const std::string& from, const std::string& to) {
    return workloads_.at(from)
        .netns
        ->Run(
            {TABBY_PROBE, "connect", "--tcp", workloads_.at(to).ipv4, "80", "--timeout-ms", "400"})
        .ok();
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Fabric> fabric_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::string url_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
  std::map<std::string, RemoteWorkload> workloads_;
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
  kill(agents_[1]->pid(), SIGKILL);
  agents_[1]->Stop();
  EXPECT_TRUE(Reach("a", "b"));
  EXPECT_TRUE(Reach("b", "a"));

  std::ifstream pid_file(StateDir(1) + "/bird.pid");
  int bird = 0;
  ASSERT_TRUE(pid_file >> bird);
  kill(bird, SIGKILL);
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

}  // namespace
}  // namespace tabby::test
