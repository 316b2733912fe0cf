// The end-to-end fixture: one host in a network namespace with tabbyd, its own datastore, and
// workloads wired by tabby-cni in their own namespaces, each running a tabby-probe server
// (TCP 80, 81, 9000; UDP 80, 81; a sink on 5001). Shared by e2e_test and netpol_conformance_test.
//
// With hosts_ > 1 (set by a test's constructor) the hosts are those of a fabric (support/
// fabric.h: a tor namespace with a bridge), sharing the one datastore, each running tabbyd with
// BGP through BIRD; workloads go to the host their options name.
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

#include "support/agent_status.h"
#include "support/etcd.h"
#include "support/fabric.h"
#include "support/netns.h"
#include "support/process.h"
#include "support/root.h"
#include "support/temp_dir.h"
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
    auto dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    url_ = "sqlite://" + dir_->File("tabby.db");
    if (hosts_ > 1) {
      auto fabric = Fabric::Create(hosts_);
      ASSERT_TRUE(fabric.ok()) << fabric.status();
      fabric_ = std::move(*fabric);
    } else {
      auto host = ScopedNetns::Create();
      ASSERT_TRUE(host.ok()) << host.status();
      host_ = std::make_unique<ScopedNetns>(std::move(*host));
    }
    if (use_etcd_) {
      // etcd on the host's own loopback: everything that talks to the datastore (tabbyd, the
      // plugin, tabbyctl) runs in the host's namespace.
      auto etcd = EtcdCluster::Start(1, Host(0).path());
      ASSERT_TRUE(etcd.ok()) << etcd.status();
      etcd_ = std::move(*etcd);
      url_ = etcd_->Url();
    }
    CommandResult init = Ctl({"datastore", "init"});
    ASSERT_TRUE(init.ok()) << init.Describe();
    if (hosts_ > 1) {
      StartAgent({"--bird", "run"});
      for (int i = 1; i < hosts_; ++i) {
        auto agent =
            Host(i).Start({TABBYD, "--datastore", url_, "--node", NodeName(i), "--state-dir",
                           StateDir(i), "--bird", "run", "--log-level", "warn"});
        ASSERT_TRUE(agent.ok()) << agent.status();
        other_agents_.push_back(std::move(*agent));
      }
    } else {
      StartAgent();
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
    // Workloads first (their CNI DEL needs the host), then the agent, then the host.
    for (auto& [name, w] : workloads_) {
      if (w.server) w.server->Stop();
    }
    workloads_.clear();
    if (agent_) agent_->Stop();
    for (auto& agent : other_agents_) agent->Stop();
    // BIRD is a daemon that outlives tabbyd on purpose: stopped by its pid file.
    for (int i = 0; i < hosts_ && fabric_; ++i) {
      std::ifstream pid_file(StateDir(i) + "/bird.pid");
      int pid = 0;
      if (pid_file >> pid && pid > 0) kill(pid, SIGKILL);
    }
    etcd_.reset();
  }

  // Host i's network namespace, name and state directory (host 0: kNode, <dir>/state).
  const ScopedNetns& Host(int i) const { return fabric_ ? fabric_->host(i) : *host_; }
  static std::string NodeName(int i) { return i == 0 ? kNode : fmt::format("host{}", i + 1); }
  std::string StateDir(int i) const {
    return i == 0 ? dir_->File("state") : dir_->File(fmt::format("state-{}", i));
  }

  void StartAgent(const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> argv = {
        TABBYD,        "--datastore",       url_,          "--node", kNode,
        "--state-dir", dir_->File("state"), "--log-level", "warn"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto agent = Host(0).Start(argv);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
  }

  CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), TABBYCTL);
    CommandOptions options;
    options.env = {"TABBY_DATASTORE=" + url_};
    options.netns_path = Host(0).path();
    return RunCommand(args, options);
  }

  void Apply(const std::string& yaml) {
    std::string file = dir_->File(fmt::format("apply-{}.yaml", ++applies_));
    std::ofstream(file) << yaml;
    CommandResult result = Ctl({"apply", "-f", file});
    ASSERT_TRUE(result.ok()) << result.Describe();
    WaitProgrammed();
  }

  // Waits until the running agents report they have programmed the datastore's current
  // revision.
  void WaitProgrammed() {
    // Read through tabbyctl, which runs where the datastore is reachable (etcd on the host's
    // loopback).
    CommandResult info = Ctl({"datastore", "info"});
    ASSERT_TRUE(info.ok()) << info.Describe();
    std::string guid, revision;
    std::istringstream lines(info.out);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string first, second;
      words >> first >> second;
      if (first == "Cluster" && second == "GUID:") words >> guid;
      if (first == "Revision:") revision = second;
    }
    ASSERT_FALSE(guid.empty() || revision.empty()) << info.out;
    ASSERT_TRUE(WaitForAgentProgrammed(dir_->File("state/status.json"), guid, std::stoll(revision),
                                       std::chrono::seconds(20), agent_->pid()))
        << "agent did not program revision " << revision << "; agent: " << agent_->Describe();
    for (int i = 1; i < hosts_; ++i) {
      ChildProcess& agent = *other_agents_.at(i - 1);
      ASSERT_TRUE(WaitForAgentProgrammed(StateDir(i) + "/status.json", guid, std::stoll(revision),
                                         std::chrono::seconds(20), agent.pid()))
          << NodeName(i) << "'s agent did not program revision " << revision << ": "
          << agent.Describe();
    }
  }

  std::string NetConf(bool ipv6, int wait_seconds, int host = 0) {
    return fmt::format(
        R"({{"cniVersion": "1.0.0", "name": "e2e", "type": "tabby", "datastore": "{}",
            "nodename": "{}", "orchestrator": "test", "ipam": {{"assign_ipv6": {}}},
            "wait_for_agent_seconds": {}, "agent_state_dir": "{}"}})",
        url_, NodeName(host), ipv6 ? "true" : "false", wait_seconds, StateDir(host));
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
    std::string id = w.namespace_name + "-" + w.pod;
    std::string conf = dir_->File("netconf-" + id + ".json");
    std::ofstream(conf) << NetConf(ipv6, wait_for_agent ? 20 : 0, w.host);
    CommandOptions options;
    options.netns_path = Host(w.host).path();
    options.env = {"CNI_COMMAND=" + command, "CNI_CONTAINERID=ctr-" + id,
                   "CNI_NETNS=" + w.netns->path(), "CNI_IFNAME=eth0"};
    if (!cni_args.empty()) options.env.push_back("CNI_ARGS=" + cni_args);
    options.timeout = std::chrono::seconds(30);
    return RunCommand({"sh", "-c", std::string(TABBY_CNI) + " < " + conf}, options);
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
    nlohmann::json result = nlohmann::json::parse(added.out, nullptr, false);
    EXPECT_FALSE(result.is_discarded()) << added.out;
    for (const auto& ip : result["ips"]) {
      std::string address = ip["address"];
      std::string bare = address.substr(0, address.find('/'));
      (address.find(':') == std::string::npos ? w.ipv4 : w.ipv6) = bare;
    }
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
  std::unique_ptr<Fabric> fabric_;                           // with hosts_ > 1
  std::vector<std::unique_ptr<ChildProcess>> other_agents_;  // hosts 1.. (host 0's is agent_)
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<EtcdCluster> etcd_;  // with use_etcd_
  std::string url_;
  std::unique_ptr<ScopedNetns> host_;
  std::unique_ptr<ChildProcess> agent_;
  std::map<std::string, TestWorkload> workloads_;
  int applies_ = 0;
};

}  // namespace tabby::test
