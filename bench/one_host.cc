// one_host: the whole path on one host at data-centre scale, measured end to end on the real
// parts. One real tabbyd on the embedded datastore holds --remote workloads on --hosts simulated
// hosts (WorkloadEndpoints of other nodes, written to the datastore) and --policies
// GlobalNetworkPolicies in the scale issue's shape (`selector: app == 'aK'` for K < 20, one ingress
// rule from `app == 'aJ' && tier != 'tM'` to one TCP port), and programs a real nftables table
// in the host's network namespace. Then, measured:
//   - full resync: from tabbyd's start to its report of the datastore's revision as programmed
//     (list, compute, first programming), and again after a restart (which adopts the table);
//   - resident memory of tabbyd (VmRSS) after each;
//   - new local workloads through the real CNI plugin at --rate ADDs per second, open loop, each
//     labelled to activate 500 policies (app aK, K < 20). The moment ADD returns, an allowed peer
//     on the same host (the pinger, admitted by a policy of order 0) pings it until the first
//     reply: ADD's own duration and the time from its return to that reply, p50 / p99 / p99.9;
//   - at the same time a denied peer (the intruder, which no policy admits) sends echo requests
//     to each new workload for --intruder-ms after its ADD returns. Each workload's namespace
//     counts, with an nftables counter at its own prerouting hook, the packets from the
//     intruder's address that reached it: the total must be 0 (checked, not assumed);
//   - --label-changes label changes of remote workloads written to the datastore one at a time,
//     each timed until the agent reports its revision programmed, with the nftables operations
//     the agent's transactions carried (status.json's nftOperations), p50 / p99.
//
//   build/bench/one_host [--remote N] [--hosts M] [--policies P] [--workloads W] [--rate R]
//                        [--label-changes L] [--wait-for-agent-seconds S]      (as root)

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datastore/datastore.h"
#include "datastore/resource_store.h"
#include "model/codec.h"
#include "pinger.h"
#include "stats.h"
#include "support/agent_status.h"
#include "support/cluster.h"

namespace tabby::bench {
namespace {

using test::Cluster;
using test::ScopedNetns;

struct Flags {
  int remote = 100000;
  int hosts = 1000;
  int policies = 10000;
  int workloads = 300;
  int rate = 150;
  int label_changes = 100;
  int interval_us = 250;
  int timeout_ms = 5000;
  int intruder_ms = 200;
  int intruder_interval_us = 5000;
  int wait_for_agent_seconds = 60;  // the plugin's wait; 0 measures the plugin alone
};

constexpr int kApps = 500, kLocalApps = 20, kTiers = 7;

constexpr char kSetup[] = R"(
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: local}
spec: {cidr: 10.80.0.0/16, blockSize: 26}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: targets-from-pinger}
spec:
  order: 0
  selector: role == 'target'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: ICMP, source: {selector: role == 'pinger'}}
)";

std::string RemoteEndpointYaml(int i, int hosts) {
  return fmt::format(R"(---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: remote-{0}
  namespace: bench
  labels: {{app: a{1}, tier: t{2}}}
spec:
  node: sim-{3}
  orchestrator: bench
  workload: remote-{0}
  endpoint: eth0
  interfaceName: tabbyr{0}
  ipNetworks: ["10.{4}.{5}.{6}/32"]
)",
                     i, i % kApps, i % kTiers, i % hosts, 96 + (i >> 16), (i >> 8) & 255, i & 255);
}

std::string PolicyYaml(int k) {
  return fmt::format(R"(---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {{name: gnp-{0}}}
spec:
  order: {0}
  selector: app == 'a{1}'
  ingress:
  - action: Allow
    protocol: TCP
    source: {{selector: app == 'a{2}' && tier != 't{3}'}}
    destination: {{ports: [{4}]}}
)",
                     k + 1, k % kLocalApps, k * 7919 % kApps, k % kTiers, 1000 + k % 1000);
}

// Writes `yaml` (many documents) to the datastore, a resource at a time.
absl::Status Preload(datastore::ResourceStore& store, const std::string& yaml) {
  absl::StatusOr<std::vector<model::Resource>> resources = model::DecodeDocuments(yaml, "preload");
  if (!resources.ok()) return resources.status();
  for (model::Resource& r : *resources) {
    if (absl::StatusOr<model::Resource> written = store.Apply(std::move(r)); !written.ok()) {
      return written.status();
    }
  }
  return absl::OkStatus();
}

double RssMb(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

nlohmann::json Status(const Cluster& cluster) {
  std::ifstream in(cluster.StateDir(0) + "/status.json");
  nlohmann::json status = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return status.is_discarded() ? nlohmann::json::object() : status;
}

// The agent's start to its report of the datastore's revision programmed, in ms.
absl::StatusOr<double> StartAndSync(Cluster& cluster) {
  const Clock::time_point start = Clock::now();
  if (absl::Status s = cluster.StartAgent(0); !s.ok()) return s;
  if (absl::Status s = cluster.WaitProgrammed(std::chrono::seconds(600)); !s.ok()) return s;
  return MsSince(start);
}

test::CommandResult Add(Cluster& cluster, const std::string& name, const std::string& netns,
                        const std::string& labels, int wait_for_agent_seconds = 60) {
  return cluster.Cni({.host = 0,
                      .command = "ADD",
                      .container_id = "ctr-" + name,
                      .netns_path = netns,
                      .cni_args = fmt::format("K8S_POD_NAMESPACE=bench;K8S_POD_NAME={};"
                                              "TABBY_LABELS={}",
                                              name, labels),
                      .wait_for_agent_seconds = wait_for_agent_seconds});
}

std::string Row(const std::string& what, std::vector<double> values, size_t total) {
  if (values.empty()) return fmt::format("| {} | 0 of {} | | | | |", what, total);
  return fmt::format("| {} | {} of {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |", what, values.size(),
                     total, Quantile(values, 0.5), Quantile(values, 0.99), Quantile(values, 0.999),
                     Quantile(values, 1.0));
}

absl::Status Run(const Flags& flags) {
  auto created = Cluster::Create({.binaries = {TABBYD, TABBYCTL, TABBY_CNI}, .hosts = 1});
  if (!created.ok()) return created.status();
  Cluster& cluster = **created;
  if (absl::Status s = cluster.Apply(kSetup); !s.ok()) return s;

  // The cluster around this host, written before its agent starts.
  fmt::print(stderr, "writing {} remote workloads on {} hosts and {} policies...\n", flags.remote,
             flags.hosts, flags.policies);
  auto opened = datastore::Open(cluster.url());
  if (!opened.ok()) return opened.status();
  datastore::ResourceStore store(**opened);
  {
    std::string yaml;
    for (int i = 0; i < flags.remote; ++i) {
      yaml += RemoteEndpointYaml(i, flags.hosts);
      if (i % 1000 == 999 || i + 1 == flags.remote) {
        if (absl::Status s = Preload(store, yaml); !s.ok()) return s;
        yaml.clear();
      }
    }
    for (int k = 0; k < flags.policies; ++k) yaml += PolicyYaml(k);
    if (absl::Status s = Preload(store, yaml); !s.ok()) return s;
  }

  fmt::print(stderr, "starting tabbyd...\n");
  absl::StatusOr<double> first_sync = StartAndSync(cluster);
  if (!first_sync.ok()) return first_sync.status();
  const double first_rss = RssMb(cluster.agent(0)->pid());
  absl::StatusOr<double> restart_sync = StartAndSync(cluster);
  if (!restart_sync.ok()) return restart_sync.status();
  const double restart_rss = RssMb(cluster.agent(0)->pid());

  auto pinger_netns = ScopedNetns::Create();
  auto intruder_netns = ScopedNetns::Create();
  if (!pinger_netns.ok()) return pinger_netns.status();
  if (!intruder_netns.ok()) return intruder_netns.status();
  test::CommandResult pinger_added = Add(cluster, "pinger", pinger_netns->path(), "role=pinger");
  test::CommandResult intruder_added =
      Add(cluster, "intruder", intruder_netns->path(), "role=intruder");
  const std::string intruder_ip = test::ParseCniAddresses(intruder_added.out).ipv4;
  if (!pinger_added.ok() || !intruder_added.ok() || intruder_ip.empty()) {
    return absl::InternalError("pinger or intruder ADD: " + pinger_added.Describe() +
                               intruder_added.Describe());
  }

  // Each new workload's namespace, made beforehand as a runtime makes it, counts what reaches it
  // from the intruder.
  fmt::print(stderr, "preparing {} workload namespaces...\n", flags.workloads);
  std::vector<ScopedNetns> namespaces;
  for (int i = 0; i < flags.workloads; ++i) {
    auto netns = ScopedNetns::Create();
    if (!netns.ok()) return netns.status();
    for (const std::string& command :
         {std::string("add table inet probe"),
          std::string("add chain inet probe in { type filter hook prerouting priority -500; "
                      "policy accept; }"),
          fmt::format("add rule inet probe in ip saddr {} counter", intruder_ip)}) {
      if (absl::Status s = netns->RunOk({"nft", command}); !s.ok()) return s;
    }
    namespaces.push_back(std::move(*netns));
  }

  std::vector<Sample> allowed(static_cast<size_t>(flags.workloads));
  std::vector<Sample> denied(static_cast<size_t>(flags.workloads));
  Pinger pinger(pinger_netns->path(), allowed, flags.interval_us, flags.timeout_ms);
  Pinger intruder(intruder_netns->path(), denied, flags.intruder_interval_us, flags.intruder_ms);
  if (absl::Status s = pinger.Start(); !s.ok()) return s;
  if (absl::Status s = intruder.Start(); !s.ok()) return s;
  std::vector<std::thread> adds;
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < flags.workloads; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / flags.rate));
    adds.emplace_back([&, i] {
      const auto index = static_cast<size_t>(i);
      const Clock::time_point begun = Clock::now();
      test::CommandResult added =
          Add(cluster, fmt::format("t{}", i), namespaces[index].path(),
              fmt::format("role=target,app=a{},tier=t{}", i % kLocalApps, i % kTiers),
              flags.wait_for_agent_seconds);
      const Clock::time_point returned = Clock::now();
      auto address = ParseIpv4(test::ParseCniAddresses(added.out).ipv4);
      if (!added.ok() || !address) {
        std::lock_guard lock(errors_mutex);
        errors.push_back(fmt::format("t{}: {}", i, added.Describe()));
        return;
      }
      for (Sample* s : {&allowed[index], &denied[index]}) {
        s->returned = returned;
        s->add_ms = std::chrono::duration<double, std::milli>(returned - begun).count();
        s->address = *address;
        s->added = true;
      }
      pinger.Add(index);
      intruder.Add(index);
    });
  }
  for (auto& t : adds) t.join();
  pinger.Finish();
  intruder.Finish();
  if (!errors.empty()) {
    fmt::print(stderr, "{} ADDs failed; the first: {}\n", errors.size(), errors.front());
  }
  uint64_t intruding_packets = 0;
  for (const ScopedNetns& netns : namespaces) {
    test::CommandResult listing = netns.Run({"nft", "-j", "list", "table", "inet", "probe"});
    auto json = nlohmann::json::parse(listing.out, nullptr, /*allow_exceptions=*/false);
    if (!listing.ok() || json.is_discarded()) {
      return absl::InternalError("reading a workload's counter: " + listing.Describe());
    }
    for (const auto& item : json["nftables"]) {
      if (!item.contains("rule")) continue;
      for (const auto& expr : item["rule"]["expr"]) {
        if (expr.contains("counter")) intruding_packets += expr["counter"].value("packets", 0u);
      }
    }
  }

  // Label changes of remote workloads: each one's revision until the agent has programmed it.
  std::vector<double> label_ms, label_operations;
  const std::string status_file = cluster.StateDir(0) + "/status.json";
  for (int c = 0; c < flags.label_changes; ++c) {
    const int i = (c * 7919) % flags.remote;
    auto decoded = model::DecodeDocuments(RemoteEndpointYaml(i, flags.hosts), "label");
    if (!decoded.ok()) return decoded.status();
    model::Resource r = std::move(decoded->front());
    r.metadata.labels["app"] = fmt::format("a{}", (i + 1 + c) % kApps);
    const uint64_t operations_before = Status(cluster).value("nftOperations", uint64_t{0});
    const Clock::time_point written_at = Clock::now();
    absl::StatusOr<model::Resource> written = store.Apply(std::move(r));
    if (!written.ok()) return written.status();
    const int64_t revision = std::stoll(written->metadata.resource_version);
    while (test::AgentRevision(status_file) < revision) {
      if (MsSince(written_at) > 10000) {
        return absl::DeadlineExceededError(fmt::format("revision {} not programmed", revision));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    label_ms.push_back(MsSince(written_at));
    label_operations.push_back(static_cast<double>(
        Status(cluster).value("nftOperations", uint64_t{0}) - operations_before));
  }
  const double final_rss = RssMb(cluster.agent(0)->pid());

  std::vector<double> add_ms, reply_ms;
  size_t intruder_replies = 0;
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (!allowed[i].added) continue;
    add_ms.push_back(allowed[i].add_ms);
    if (allowed[i].first_reply_ms) reply_ms.push_back(*allowed[i].first_reply_ms);
    if (denied[i].first_reply_ms) ++intruder_replies;
  }
  const size_t added = add_ms.size();
  fmt::print(
      "\n### One host: {} remote workloads on {} hosts, {} policies; {} new workloads at "
      "{}/s\n\n",
      flags.remote, flags.hosts, flags.policies, flags.workloads, flags.rate);
  fmt::print("| measure | count | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|---|\n");
  fmt::print("{}\n", Row("CNI ADD, start to return (ms)", add_ms, flags.workloads));
  fmt::print("{}\n", Row("ADD's return to the allowed peer's first reply (ms)", reply_ms, added));
  fmt::print("{}\n", Row("label change, datastore write to programmed (ms)", label_ms,
                         static_cast<size_t>(flags.label_changes)));
  fmt::print("{}\n", Row("nftables operations per label change", label_operations,
                         static_cast<size_t>(flags.label_changes)));
  fmt::print(
      "\nfull resync (start to programmed): {:.0f} ms, tabbyd RSS {:.0f} MB; after a "
      "restart (adopting the table): {:.0f} ms, RSS {:.0f} MB; RSS at the end {:.0f} MB\n",
      *first_sync, first_rss, *restart_sync, restart_rss, final_rss);
  fmt::print(
      "denied peer: {} packets reached new workloads, {} replies (both must be 0); "
      "ADD failed: {}\n",
      intruding_packets, intruder_replies, flags.workloads - static_cast<int>(added));
  if (intruding_packets != 0 || intruder_replies != 0) {
    return absl::InternalError("packets from a denied peer reached a new workload");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tabby::bench

int main(int argc, char** argv) {
  using namespace tabby::bench;
  Flags flags;
  CLI::App app{"The whole path on one host at scale: resync, memory, first reply after ADD"};
  app.add_option("--remote", flags.remote, "workloads on other (simulated) hosts")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  app.add_option("--hosts", flags.hosts, "simulated hosts the remote workloads run on")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--policies", flags.policies, "GlobalNetworkPolicies")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  app.add_option("--workloads", flags.workloads, "local workloads created through CNI")
      ->capture_default_str()
      ->check(CLI::Range(1, 16000));
  app.add_option("--rate", flags.rate, "CNI ADDs started per second")
      ->capture_default_str()
      ->check(CLI::Range(1, 2000));
  app.add_option("--label-changes", flags.label_changes, "remote label changes timed")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--intruder-ms", flags.intruder_ms, "how long the denied peer tries each")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  app.add_option("--wait-for-agent-seconds", flags.wait_for_agent_seconds,
                 "the CNI plugin's wait for the agent (0: ADD returns after the datastore work, "
                 "and the first reply includes the agent's programming)")
      ->capture_default_str()
      ->check(CLI::Range(0, 600));
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    fmt::print(stderr, "one_host needs root (network namespaces, nftables)\n");
    return 1;
  }
  if (absl::Status s = Run(flags); !s.ok()) {
    fmt::print(stderr, "one_host: {}\n", s.ToString());
    return 1;
  }
  return 0;
}
