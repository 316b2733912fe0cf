// Several hosts on one shared etcd, routing to each other over BGP through BIRD: a "tor"
// namespace with a bridge joins the hosts (support/fabric.h), etcd runs on the tor, every host
// runs tabbyd --bird run. Workloads are added through the real CNI plugin with a probe server
// listening on tcp/80 in each. Everything (agents, BIRDs, etcd, namespaces) goes at TearDown.
#pragma once

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/etcd.h"
#include "support/fabric.h"
#include "support/process.h"
#include "support/root.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace tabby::test {

struct FabricWorkload {
  std::unique_ptr<ScopedNetns> netns;
  std::unique_ptr<ChildProcess> server;
  std::string ipv4;
  std::string ipv6;  // when the fabric has an IPv6 pool
};

struct FabricOptions {
  int hosts = 2;
  bool dual_stack = false;           // an IPv6 pool too; workloads get an address of each family
  bool bgp = true;                   // tabbyd --bird run (else off)
  std::string vxlan_mode = "Never";  // of the pools
  std::vector<int> second_subnet;    // hosts on the fabric's second subnet (support/fabric.h)
  int etcd_members = 1;              // of the etcd cluster on the tor
};

class FabricTest : public ::testing::Test {
 protected:
  explicit FabricTest(FabricOptions options)
      : hosts_(options.hosts), dual_stack_(options.dual_stack), options_(std::move(options)) {}

  void SetUp() override {
    TABBY_REQUIRE_ROOT();
    auto dir = TempDir::Create();
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto fabric = Fabric::Create(hosts_, options_.second_subnet);
    ASSERT_TRUE(fabric.ok()) << fabric.status();
    fabric_ = std::move(*fabric);
    auto etcd = EtcdCluster::Start(options_.etcd_members, fabric_->tor().path(), Fabric::kTorIpv4);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    url_ = etcd_->Url();
    CommandResult init = Ctl({"datastore", "init"});
    ASSERT_TRUE(init.ok()) << init.Describe();
    ApplyYaml(PoolYaml("pool4", "10.70.0.0/24", options_.vxlan_mode));
    if (dual_stack_) ApplyYaml(PoolYaml("pool6", "fd70::/64", options_.vxlan_mode));
    for (int i = 0; i < hosts_; ++i) {
      auto agent = fabric_->host(i).Start({TABBYD, "--datastore", url_, "--node", Node(i),
                                           "--state-dir", StateDir(i), "--bird", "run",
                                           "--secrets-dir", SecretsDir(), "--log-level", "warn"});
      ASSERT_TRUE(agent.ok()) << agent.status();
      agents_.push_back(std::move(*agent));
    }
  }

  void TearDown() override {
    workloads_.clear();
    for (auto& agent : agents_) agent->Stop();
    for (int i = 0; i < hosts_; ++i) KillBird(i);
    etcd_.reset();
  }

  static std::string Node(int i) { return fmt::format("host{}", i + 1); }
  static std::string PoolYaml(const std::string& name, const std::string& cidr,
                              const std::string& vxlan_mode) {
    return fmt::format(R"(
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {{name: {}}}
spec: {{cidr: "{}", vxlanMode: {}}}
)",
                       name, cidr, vxlan_mode);
  }
  std::string StateDir(int i) { return dir_->File(fmt::format("state{}", i)); }
  // Every agent's --secrets-dir (BGP passwords: <dir>/<secret>/<key>).
  std::string SecretsDir() { return dir_->File("secrets"); }

  // Host `i`'s BIRD (a daemon that outlives tabbyd): its pid, 0 when none.
  int BirdPid(int i) {
    std::ifstream pid_file(StateDir(i) + "/bird.pid");
    int pid = 0;
    return pid_file >> pid ? pid : 0;
  }
  void KillBird(int i) {
    if (int pid = BirdPid(i); pid > 0) kill(pid, SIGKILL);
  }

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
  void ApplyYaml(const std::string& yaml) {
    CommandResult applied = Ctl({"apply", "-f", WriteFile("apply.yaml", yaml)});
    ASSERT_TRUE(applied.ok()) << applied.Describe() << "\n" << yaml;
  }

  // `tabbyctl node status -o json` on host `i`.
  nlohmann::json NodeStatus(int i) {
    CommandResult status = RunCommand(
        {TABBYCTL, "node", "status", "--bird-socket", StateDir(i) + "/bird.ctl", "-o", "json"},
        {.netns_path = fabric_->host(i).path()});
    return nlohmann::json::parse(status.out, nullptr, false);
  }

  // A workload on host `i` through the CNI plugin, with a probe server.
  FabricWorkload& AddWorkload(int i, const std::string& name, const std::string& labels = "") {
    FabricWorkload& w = workloads_[name];
    auto netns = ScopedNetns::Create();
    EXPECT_TRUE(netns.ok()) << netns.status();
    w.netns = std::make_unique<ScopedNetns>(std::move(*netns));
    std::string conf =
        WriteFile("netconf-" + name + ".json",
                  fmt::format(R"({{"cniVersion": "1.0.0", "name": "fabric", "type": "tabby",
                        "datastore": "{}", "nodename": "{}", "orchestrator": "test",
                        "wait_for_agent_seconds": 20, "agent_state_dir": "{}",
                        "ipam": {{"assign_ipv4": true, "assign_ipv6": {}}}}})",
                              url_, Node(i), StateDir(i), dual_stack_ ? "true" : "false"));
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
      for (const auto& ip : result["ips"]) {
        std::string address = ip["address"];
        address = address.substr(0, address.find('/'));
        (address.find(':') == std::string::npos ? w.ipv4 : w.ipv6) = address;
      }
    }
    auto server = w.netns->Start({TABBY_PROBE, "serve", "--tcp", "80"});
    EXPECT_TRUE(server.ok()) << server.status();
    w.server = std::move(*server);
    EXPECT_TRUE(w.server->WaitForOutput("ready", std::chrono::seconds(10)));
    return w;
  }

  // A TCP connection from workload `from` to `to`'s probe server, over IPv4 or IPv6.
  bool Reach(const std::string& from, const std::string& to, bool ipv6 = false) {
    const FabricWorkload& target = workloads_.at(to);
    return workloads_.at(from)
        .netns
        ->Run({TABBY_PROBE, "connect", "--tcp", ipv6 ? target.ipv6 : target.ipv4, "80",
               "--timeout-ms", "400"})
        .ok();
  }

  // What BGP brought into host `i`'s kernel (both families).
  std::string BgpRoutes(int i) {
    return fabric_->host(i).Run({"ip", "route", "show", "proto", "bird"}).out +
           fabric_->host(i).Run({"ip", "-6", "route", "show", "proto", "bird"}).out;
  }

  const int hosts_;
  const bool dual_stack_;
  const FabricOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Fabric> fabric_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::string url_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
  std::map<std::string, FabricWorkload> workloads_;
};

}  // namespace tabby::test
