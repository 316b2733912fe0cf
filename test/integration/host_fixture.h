// The end-to-end fixture: one host in a network namespace with tabbyd, its own datastore, and
// workloads wired by tabby-cni in their own namespaces, each running a tabby-probe server
// (TCP 80, 81, 9000; UDP 80, 81; a sink on 5001). Shared by e2e_test and netpol_conformance_test.
//
// The hosts, datastore and agents are a support/cluster.h Cluster. With hosts_ > 1 (set by a
// test's constructor) the hosts are those of a fabric (a tor namespace with a bridge), sharing the
// one datastore, each running tabbyd with BGP through BIRD; workloads go to the host their
// options name.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "built_binaries.h"
#include "support/cluster.h"
#include "support/process.h"
#include "support/root.h"
#include "support/wait.h"

namespace tabby::test {

constexpr char kNode[] = "host1";

struct TestWorkload {
  std::string name;  // how the test refers to it
  std::string namespace_name;
  std::string pod;
  std::string ipv4;
  std::string ipv6;
  std::string endpoint;  // WorkloadEndpoint name
  int host = 0;          // which host it runs on
  std::unique_ptr<ScopedNetns> netns;
  std::unique_ptr<ChildProcess> server;
};

// How HostFixture::AddWorkload wires a workload.
struct WorkloadOptions {
  std::string ports;  // TABBY_PORTS, e.g. "web:TCP:81,dns:UDP:53"
  bool ipv6 = false;
  std::string namespace_name = "e2e";
  std::string pod;             // default: the test's name for the workload
  bool wait_for_agent = true;  // ADD waits until the agent has programmed the workload
  int host = 0;                // which host (with hosts_ > 1)
};

// One host in a network namespace, its own datastore and agent; workloads added through the CNI
// plugin as a runtime would. Everything is removed again in TearDown, also after a failure.
class HostFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    TABBY_REQUIRE_ROOT();
    auto cluster = Cluster::Create(
        {.binaries = BuiltBinaries(), .hosts = hosts_, .etcd_members = use_etcd_ ? 1 : 0});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    dir_ = &cluster_->dir();
    url_ = cluster_->url();
    fabric_ = cluster_->fabric();
    etcd_ = cluster_->etcd();
    host_ = &cluster_->host(0);
    for (int i = 0; i < hosts_; ++i) {
      absl::Status started = cluster_->StartAgent(i);
      ASSERT_TRUE(started.ok()) << started;
    }
    Apply(R"(
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool4}
spec: {cidr: 10.70.0.0/24}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool6}
spec: {cidr: "fd70::/120", blockSize: 122}
)");
  }

  void TearDown() override {
    // Workloads first (their CNI DEL needs the host), then the agents, then the hosts.
    for (auto& [name, w] : workloads_) {
      if (w.server) w.server->Stop();
    }
    workloads_.clear();
    cluster_.reset();
  }

  // Host i's network namespace, name and state directory.
  const ScopedNetns& Host(int i) const { return cluster_->host(i); }
  static std::string NodeName(int i) { return Cluster::NodeName(i); }
  std::string StateDir(int i) const { return cluster_->StateDir(i); }
  // Host 0's agent (tests stop, kill and restart it).
  std::unique_ptr<ChildProcess>& agent() { return cluster_->agent(0); }

  // (Re)starts host 0's agent with `extra_args` after the usual ones.
  void StartAgent(const std::vector<std::string>& extra_args = {}) {
    absl::Status started = cluster_->StartAgent(0, extra_args);
    ASSERT_TRUE(started.ok()) << started;
  }

  CommandResult Ctl(std::vector<std::string> args) { return cluster_->Ctl(std::move(args)); }

  void Apply(const std::string& yaml) {
    absl::Status applied = cluster_->Apply(yaml);
    ASSERT_TRUE(applied.ok()) << applied;
    WaitProgrammed();
  }

  // Waits until the running agents report they have programmed the datastore's current
  // revision.
  void WaitProgrammed() {
    absl::Status programmed = cluster_->WaitProgrammed();
    ASSERT_TRUE(programmed.ok()) << programmed;
  }

  // Runs the plugin as a runtime would. ADD waits for the agent to program the new workload
  // unless `wait_for_agent` is false.
  CommandResult Cni(const std::string& command, const TestWorkload& w, const std::string& args,
                    bool ipv6, bool wait_for_agent = true) {
    return CniWithArgs(command, w,
                       "K8S_POD_NAMESPACE=" + w.namespace_name + ";K8S_POD_NAME=" + w.pod + args,
                       ipv6, wait_for_agent);
  }

  // The same with exactly `cni_args` as CNI_ARGS ("": none, as a runtime may send on DEL).
  CommandResult CniWithArgs(const std::string& command, const TestWorkload& w,
                            const std::string& cni_args, bool ipv6, bool wait_for_agent = true) {
    return cluster_->Cni({.host = w.host,
                          .command = command,
                          .container_id = "ctr-" + w.namespace_name + "-" + w.pod,
                          .netns_path = w.netns->path(),
                          .cni_args = cni_args,
                          .ipv6 = ipv6,
                          .wait_for_agent_seconds = wait_for_agent ? 20 : 0});
  }

  // Adds a workload through the CNI plugin and starts a probe server in it. `name` is how the
  // test refers to it.
  TestWorkload& AddWorkload(const std::string& name, const std::string& labels,
                            const WorkloadOptions& options = {}) {
    TestWorkload& w = workloads_[name];
    w.name = name;
    w.namespace_name = options.namespace_name;
    w.pod = options.pod.empty() ? name : options.pod;
    w.host = options.host;
    auto netns = ScopedNetns::Create();
    EXPECT_TRUE(netns.ok()) << netns.status();
    w.netns = std::make_unique<ScopedNetns>(std::move(*netns));
    std::string args = ";TABBY_LABELS=" + labels;
    if (!options.ports.empty()) args += ";TABBY_PORTS=" + options.ports;
    CommandResult added = Cni("ADD", w, args, options.ipv6, options.wait_for_agent);
    EXPECT_TRUE(added.ok()) << added.Describe() << added.out;
    CniAddresses addresses = ParseCniAddresses(added.out);
    EXPECT_FALSE(addresses.ipv4.empty()) << added.out;
    w.ipv4 = addresses.ipv4;
    w.ipv6 = addresses.ipv6;
    w.endpoint = fmt::format("{}-test-{}-eth0", NodeName(w.host), w.pod);
    auto server = w.netns->Start(
        {TABBY_PROBE, "serve", "--tcp", "80,81,9000", "--udp", "80,81", "--sink", "5001"},
        CommandOptions{.env = {"TABBY_PROBE_NAME=" + name}});
    EXPECT_TRUE(server.ok()) << server.status();
    w.server = std::move(*server);
    EXPECT_TRUE(w.server->WaitForOutput("ready", std::chrono::seconds(10))) << w.server->Describe();
    return w;
  }

  void RemoveWorkload(const std::string& name) {
    TestWorkload& w = workloads_.at(name);
    w.server->Stop();
    CommandResult deleted = Cni("DEL", w, "", false);
    EXPECT_TRUE(deleted.ok()) << deleted.Describe() << deleted.out;
    workloads_.erase(name);
  }

  bool Reach(const std::string& from, const std::string& to, int port = 80,
             const std::string& protocol = "--tcp", bool ipv6 = false) {
    const TestWorkload& source = workloads_.at(from);
    const TestWorkload& target = workloads_.at(to);
    CommandResult result =
        source.netns->Run({TABBY_PROBE, "connect", protocol, ipv6 ? target.ipv6 : target.ipv4,
                           std::to_string(port), "--timeout-ms", "400"});
    return result.ok();
  }

  bool Ping(const std::string& from, const std::string& to) {
    return workloads_.at(from)
        .netns->Run({"ping", "-c", "1", "-W", "1", workloads_.at(to).ipv4})
        .ok();
  }

  // Set by a test's constructor: the datastore is a one-member etcd, not SQLite.
  bool use_etcd_ = false;
  // Set by a test's constructor: this many hosts on a fabric, BGP between them.
  int hosts_ = 1;
  std::unique_ptr<Cluster> cluster_;
  // Parts of cluster_, for the tests' convenience (valid between SetUp and TearDown).
  const TempDir* dir_ = nullptr;
  std::string url_;
  Fabric* fabric_ = nullptr;           // with hosts_ > 1
  EtcdCluster* etcd_ = nullptr;        // with use_etcd_
  const ScopedNetns* host_ = nullptr;  // host 0
  std::map<std::string, TestWorkload> workloads_;
};

}  // namespace tabby::test
