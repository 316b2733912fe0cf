// Several hosts on one shared etcd, routing to each other over BGP through BIRD (support/
// cluster.h: a "tor" namespace with a bridge joins the hosts, etcd runs on the tor, every host
// runs tabbyd --bird run). Workloads are added through the real CNI plugin with a probe server
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

#include "built_binaries.h"
#include "support/cluster.h"
#include "support/process.h"
#include "support/root.h"
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
  bool bgp = true;                   // tabbyd --bird run (else --bird off)
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
    auto cluster = Cluster::Create({.binaries = BuiltBinaries(),
                                    .hosts = hosts_,
                                    .second_subnet = options_.second_subnet,
                                    .etcd_members = options_.etcd_members,
                                    .bgp = options_.bgp});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    dir_ = &cluster_->dir();
    fabric_ = cluster_->fabric();
    etcd_ = cluster_->etcd();
    url_ = cluster_->url();
    ApplyYaml(PoolYaml("pool4", "10.70.0.0/24", options_.vxlan_mode));
    if (dual_stack_) ApplyYaml(PoolYaml("pool6", "fd70::/64", options_.vxlan_mode));
    for (int i = 0; i < hosts_; ++i) {
      absl::Status started = cluster_->StartAgent(i);
      ASSERT_TRUE(started.ok()) << started;
    }
  }

  void TearDown() override {
    workloads_.clear();
    cluster_.reset();
  }

  static std::string Node(int i) { return Cluster::NodeName(i); }
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
  std::string StateDir(int i) { return cluster_->StateDir(i); }
  std::string SecretsDir() { return cluster_->SecretsDir(); }
  // Host i's agent (tests stop, kill and restart it).
  std::unique_ptr<ChildProcess>& agent(int i) { return cluster_->agent(i); }
  int BirdPid(int i) { return cluster_->BirdPid(i); }
  void KillBird(int i) { cluster_->KillBird(i); }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::ofstream(dir_->File(name)) << content;
    return dir_->File(name);
  }

  // tabbyctl on host 1, where etcd is reachable.
  CommandResult Ctl(std::vector<std::string> args) { return cluster_->Ctl(std::move(args)); }
  void ApplyYaml(const std::string& yaml) {
    absl::Status applied = cluster_->Apply(yaml);
    ASSERT_TRUE(applied.ok()) << applied;
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
    CommandResult added =
        cluster_->Cni({.host = i,
                       .command = "ADD",
                       .container_id = "ctr-" + name,
                       .netns_path = w.netns->path(),
                       .cni_args = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + name +
                                   (labels.empty() ? "" : ";TABBY_LABELS=" + labels),
                       .ipv6 = dual_stack_});
    EXPECT_TRUE(added.ok()) << added.Describe() << added.out;
    CniAddresses addresses = ParseCniAddresses(added.out);
    w.ipv4 = addresses.ipv4;
    w.ipv6 = addresses.ipv6;
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
  std::unique_ptr<Cluster> cluster_;
  // Parts of cluster_, for the tests' convenience (valid between SetUp and TearDown).
  const TempDir* dir_ = nullptr;
  Fabric* fabric_ = nullptr;
  EtcdCluster* etcd_ = nullptr;
  std::string url_;
  std::map<std::string, FabricWorkload> workloads_;
};

}  // namespace tabby::test
