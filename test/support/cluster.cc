#include "support/cluster.h"

#include <fmt/format.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/agent_status.h"

namespace tabby::test {

CniAddresses ParseCniAddresses(const std::string& result_json) {
  CniAddresses addresses;
  nlohmann::json result = nlohmann::json::parse(result_json, nullptr, false);
  if (result.is_discarded() || !result.contains("ips") || !result["ips"].is_array()) {
    return addresses;
  }
  for (const auto& ip : result["ips"]) {
    if (!ip.contains("address") || !ip["address"].is_string()) continue;
    std::string address = ip["address"];
    address = address.substr(0, address.find('/'));
    (address.find(':') == std::string::npos ? addresses.ipv4 : addresses.ipv6) = address;
  }
  return addresses;
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(ClusterOptions options) {
  if (options.hosts < 1) return absl::InvalidArgumentError("a cluster needs a host");
  auto dir = TempDir::Create();
  if (!dir.ok()) return dir.status();
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(options), std::move(*dir)));
  const ClusterOptions& o = cluster->options_;
  if (o.hosts > 1) {
    auto fabric = Fabric::Create(o.hosts, o.second_subnet);
    if (!fabric.ok()) return fabric.status();
    cluster->fabric_ = std::move(*fabric);
  } else {
    auto host = ScopedNetns::Create();
    if (!host.ok()) return host.status();
    cluster->lone_host_ = std::make_unique<ScopedNetns>(std::move(*host));
  }
  cluster->agents_.resize(static_cast<size_t>(o.hosts));
  if (o.etcd_members > 0) {
    // With a fabric, on the tor, which every host reaches; alone, on the host's own loopback,
    // where everything that talks to the datastore (tabbyd, the plugin, tabbyctl) runs.
    auto etcd =
        cluster->fabric_
            ? EtcdCluster::Start(o.etcd_members, cluster->fabric_->tor().path(), Fabric::kTorIpv4)
            : EtcdCluster::Start(o.etcd_members, cluster->lone_host_->path());
    if (!etcd.ok()) return etcd.status();
    cluster->etcd_ = std::move(*etcd);
    cluster->url_ = cluster->etcd_->Url();
  } else {
    cluster->url_ = "sqlite://" + cluster->dir_.File("tabby.db");
  }
  CommandResult init = cluster->Ctl({"datastore", "init"});
  if (!init.ok()) {
    return absl::InternalError("tabbyctl datastore init: " + init.Describe());
  }
  return cluster;
}

Cluster::~Cluster() {
  for (auto& agent : agents_) {
    if (agent) agent->Stop();
  }
  agents_.clear();
  for (int i = 0; i < size(); ++i) KillBird(i);
  etcd_.reset();
}

std::string Cluster::StateDir(int i) const {
  return i == 0 ? dir_.File("state") : dir_.File(fmt::format("state-{}", i));
}

absl::Status Cluster::StartAgent(int i, const std::vector<std::string>& extra_args) {
  std::unique_ptr<ChildProcess>& slot = agents_.at(i);
  if (slot) slot->Stop();
  std::vector<std::string> argv = {options_.binaries.tabbyd,
                                   "--datastore",
                                   url_,
                                   "--node",
                                   NodeName(i),
                                   "--state-dir",
                                   StateDir(i),
                                   "--secrets-dir",
                                   SecretsDir(),
                                   "--log-level",
                                   "warn"};
  if (size() > 1) {
    argv.insert(argv.end(), {"--bird", options_.bgp ? "run" : "off"});
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto agent = host(i).Start(argv);
  if (!agent.ok()) return agent.status();
  slot = std::move(*agent);
  return absl::OkStatus();
}

int Cluster::BirdPid(int i) const {
  std::ifstream pid_file(StateDir(i) + "/bird.pid");
  int pid = 0;
  return pid_file >> pid ? pid : 0;
}

void Cluster::KillBird(int i) const {
  if (int pid = BirdPid(i); pid > 0) kill(pid, SIGKILL);
}

CommandResult Cluster::Ctl(std::vector<std::string> args) const {
  args.insert(args.begin(), options_.binaries.tabbyctl);
  return RunCommand(args, {.env = {"TABBY_DATASTORE=" + url_}, .netns_path = host(0).path()});
}

absl::Status Cluster::Apply(const std::string& yaml) {
  const std::string file = dir_.File(fmt::format("apply-{}.yaml", ++files_));
  std::ofstream(file) << yaml;
  CommandResult applied = Ctl({"apply", "-f", file});
  if (!applied.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("tabbyctl apply: {}\n{}", applied.Describe(), yaml));
  }
  return absl::OkStatus();
}

absl::Status Cluster::WaitProgrammed(std::chrono::milliseconds timeout) {
  CommandResult info = Ctl({"datastore", "info"});
  if (!info.ok()) return absl::InternalError("tabbyctl datastore info: " + info.Describe());
  std::string guid, revision;
  std::istringstream lines(info.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string first, second;
    words >> first >> second;
    if (first == "Cluster" && second == "GUID:") words >> guid;
    if (first == "Revision:") revision = second;
  }
  if (guid.empty() || revision.empty()) {
    return absl::InternalError("tabbyctl datastore info printed no GUID or revision: " + info.out);
  }
  for (int i = 0; i < size(); ++i) {
    std::unique_ptr<ChildProcess>& agent = agents_[i];
    if (!agent) continue;
    if (!agent->Running()) {
      return absl::FailedPreconditionError(
          fmt::format("{}'s agent is not running: {}", NodeName(i), agent->Describe()));
    }
    if (!WaitForAgentProgrammed(StateDir(i) + "/status.json", guid, std::stoll(revision), timeout,
                                agent->pid())) {
      return absl::DeadlineExceededError(fmt::format("{}'s agent did not program revision {}: {}",
                                                     NodeName(i), revision, agent->Describe()));
    }
  }
  return absl::OkStatus();
}

std::string Cluster::NetConf(int host, bool ipv6, int wait_for_agent_seconds) const {
  return fmt::format(
      R"({{"cniVersion": "1.0.0", "name": "e2e", "type": "tabby", "datastore": "{}",
          "nodename": "{}", "orchestrator": "test",
          "ipam": {{"assign_ipv4": true, "assign_ipv6": {}}},
          "wait_for_agent_seconds": {}, "agent_state_dir": "{}"}})",
      url_, NodeName(host), ipv6 ? "true" : "false", wait_for_agent_seconds, StateDir(host));
}

CommandResult Cluster::Cni(const CniRequest& request) {
  const std::string conf = dir_.File(fmt::format("netconf-{}.json", ++files_));
  std::ofstream(conf) << NetConf(request.host, request.ipv6, request.wait_for_agent_seconds);
  CommandOptions options;
  options.netns_path = host(request.host).path();
  options.env = {"CNI_COMMAND=" + request.command, "CNI_CONTAINERID=" + request.container_id,
                 "CNI_NETNS=" + request.netns_path, "CNI_IFNAME=eth0"};
  if (!request.cni_args.empty()) options.env.push_back("CNI_ARGS=" + request.cni_args);
  options.stdin_path = conf;
  options.timeout = std::chrono::seconds(30);
  return RunCommand({options_.binaries.tabby_cni}, options);
}

}  // namespace tabby::test
