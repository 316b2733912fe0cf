// first_ping: how soon a new workload answers a ping from another host, the talk's bar (99% of
// new workloads answer their first ping within 10 ms) measured on the real parts.
//
// Two hosts on a fabric (test/support/cluster.h: network namespaces, tabbyd on each, BGP through
// BIRD between them), one datastore: the embedded one, or a real etcd cluster on the tor. On
// host 2, a "pinger" workload. Label policy makes the answer depend on both agents: the targets
// admit ICMP only from `role == 'pinger'`, and the pinger may send ICMP only to
// `role == 'target'`, so host 2's agent must have learnt a new target's address (a datastore
// watch, a set element) before the first echo can leave.
//
// Workloads are created on host 1 through the real CNI plugin at a fixed rate, open loop (one ADD
// starts every 1/rate s whether or not earlier ones finished), each in a namespace made
// beforehand, as a runtime makes it before ADD. The moment an ADD returns (when a runtime would
// start the workload's process), the pinger starts sending echo requests to the new address every
// --interval-us until the first reply. Reported per datastore: ADD's own duration and the time
// from ADD's return to the first reply (p50, p99, max), and separately the workloads that were
// the first of a new address block (their block's route must reach host 2 over BGP first).
//
//   build/bench/first_ping [--workloads N] [--rate R] [--datastores sqlite,etcd] (as root)

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pinger.h"
#include "stats.h"
#include "support/cluster.h"

namespace tabby::bench {
namespace {

using test::Cluster;
using test::ScopedNetns;

struct Flags {
  int workloads = 300;
  int rate = 150;  // ADDs started per second
  std::vector<std::string> datastores = {"sqlite", "etcd"};
  int etcd_members = 1;
  int interval_us = 250;  // between echo requests to a target that has not answered yet
  int timeout_ms = 5000;  // a target that has not answered by then counts as never answering
};

constexpr int kBlockSize = 64;  // addresses in a /26, the pool's block size

struct Report {
  std::string datastore;
  std::vector<Sample> samples;
};

constexpr char kSetup[] = R"(
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: bench}
spec: {cidr: 10.80.0.0/16, blockSize: 26}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: targets-from-pinger}
spec:
  selector: role == 'target'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: ICMP, source: {selector: role == 'pinger'}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pinger-to-targets}
spec:
  selector: role == 'pinger'
  types: [Egress]
  egress:
  - {action: Allow, protocol: ICMP, destination: {selector: role == 'target'}}
)";

// CNI ADD of workload `name` on `host` into `netns`, labelled `labels`.
test::CommandResult Add(Cluster& cluster, int host, const std::string& name,
                        const std::string& netns, const std::string& labels) {
  return cluster.Cni({.host = host,
                      .command = "ADD",
                      .container_id = "ctr-" + name,
                      .netns_path = netns,
                      .cni_args = fmt::format("K8S_POD_NAMESPACE=bench;K8S_POD_NAME={};"
                                              "TABBY_LABELS={}",
                                              name, labels),
                      .wait_for_agent_seconds = 30});
}

absl::StatusOr<Report> RunOne(const Flags& flags, const std::string& datastore) {
  Report report{datastore, std::vector<Sample>(static_cast<size_t>(flags.workloads))};
  auto created = Cluster::Create({.binaries = {TABBYD, TABBYCTL, TABBY_CNI},
                                  .hosts = 2,
                                  .etcd_members = datastore == "etcd" ? flags.etcd_members : 0});
  if (!created.ok()) return created.status();
  Cluster& cluster = **created;
  if (absl::Status s = cluster.Apply(kSetup); !s.ok()) return s;
  for (int i = 0; i < 2; ++i) {
    if (absl::Status s = cluster.StartAgent(i); !s.ok()) return s;
  }
  if (absl::Status s = cluster.WaitProgrammed(); !s.ok()) return s;

  auto pinger_netns = ScopedNetns::Create();
  if (!pinger_netns.ok()) return pinger_netns.status();
  test::CommandResult pinger_added = Add(cluster, 1, "pinger", pinger_netns->path(), "role=pinger");
  if (!pinger_added.ok()) return absl::InternalError("pinger ADD: " + pinger_added.Describe());

  // Warm-up, not measured: a first target, reached once BGP has come up between the hosts.
  auto warm_netns = ScopedNetns::Create();
  if (!warm_netns.ok()) return warm_netns.status();
  test::CommandResult warm = Add(cluster, 0, "warm-up", warm_netns->path(), "role=target");
  const std::string warm_ip = test::ParseCniAddresses(warm.out).ipv4;
  if (!warm.ok() || warm_ip.empty()) return absl::InternalError("warm-up ADD: " + warm.Describe());
  bool reached = false;
  for (int attempt = 0; attempt < 120 && !reached; ++attempt) {
    reached = pinger_netns->Run({"ping", "-c", "1", "-W", "1", warm_ip}).ok();
  }
  if (!reached) return absl::DeadlineExceededError("the pinger never reached the warm-up target");
  // The policy is in force: a workload that is not a target stays out of the pinger's reach, so
  // a reply below proves host 2 learnt the target's address.
  auto bystander_netns = ScopedNetns::Create();
  if (!bystander_netns.ok()) return bystander_netns.status();
  test::CommandResult bystander =
      Add(cluster, 0, "bystander", bystander_netns->path(), "role=bystander");
  const std::string bystander_ip = test::ParseCniAddresses(bystander.out).ipv4;
  if (!bystander.ok() || bystander_ip.empty()) {
    return absl::InternalError("bystander ADD: " + bystander.Describe());
  }
  if (pinger_netns->Run({"ping", "-c", "1", "-W", "1", bystander_ip}).ok()) {
    return absl::FailedPreconditionError("the pinger reaches a workload its policy excludes");
  }

  std::vector<ScopedNetns> namespaces;
  for (int i = 0; i < flags.workloads; ++i) {
    auto netns = ScopedNetns::Create();
    if (!netns.ok()) return netns.status();
    namespaces.push_back(std::move(*netns));
  }

  Pinger pinger(pinger_netns->path(), report.samples, flags.interval_us, flags.timeout_ms);
  if (absl::Status s = pinger.Start(); !s.ok()) return s;
  std::vector<std::thread> adds;
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < flags.workloads; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / flags.rate));
    adds.emplace_back([&, i] {
      Sample& sample = report.samples[static_cast<size_t>(i)];
      const Clock::time_point begun = Clock::now();
      test::CommandResult added = Add(cluster, 0, fmt::format("t{}", i),
                                      namespaces[static_cast<size_t>(i)].path(), "role=target");
      sample.returned = Clock::now();
      sample.add_ms = std::chrono::duration<double, std::milli>(sample.returned - begun).count();
      auto address = ParseIpv4(test::ParseCniAddresses(added.out).ipv4);
      if (!added.ok() || !address) {
        std::lock_guard lock(errors_mutex);
        errors.push_back(fmt::format("t{}: {}", i, added.Describe()));
        return;
      }
      sample.address = *address;
      sample.added = true;
      pinger.Add(static_cast<size_t>(i));
    });
  }
  for (auto& t : adds) t.join();
  pinger.Finish();
  if (!errors.empty()) {
    fmt::print(stderr, "{} ADDs failed; the first: {}\n", errors.size(), errors.front());
  }
  return report;
}

std::string Row(const std::string& what, std::vector<double> values, int total) {
  if (values.empty()) return fmt::format("| {} | 0 of {} | | | |", what, total);
  std::vector<double> copy = values;
  return fmt::format("| {} | {} of {} | {:.1f} | {:.1f} | {:.1f} |", what, values.size(), total,
                     Quantile(copy, 0.5), Quantile(copy, 0.99), Quantile(copy, 1.0));
}

void Print(const Flags& flags, const Report& report) {
  std::vector<double> add, reply, reply_old_block, reply_new_block;
  int added = 0, unanswered = 0, within_10 = 0;
  for (const Sample& s : report.samples) {
    if (!s.added) continue;
    ++added;
    add.push_back(s.add_ms);
    if (!s.first_reply_ms) {
      ++unanswered;
      continue;
    }
    reply.push_back(*s.first_reply_ms);
    if (*s.first_reply_ms <= 10) ++within_10;
    (s.address % kBlockSize == 0 ? reply_new_block : reply_old_block).push_back(*s.first_reply_ms);
  }
  fmt::print("\n### {} datastore: {} workloads at {}/s\n\n", report.datastore, flags.workloads,
             flags.rate);
  fmt::print("| measure (ms) | workloads | p50 | p99 | max |\n|---|---|---|---|---|\n");
  fmt::print("{}\n", Row("CNI ADD, start to return", add, flags.workloads));
  fmt::print("{}\n", Row("ADD's return to first reply, all", reply, added));
  fmt::print("{}\n", Row("... in a block that existed", reply_old_block, added));
  fmt::print("{}\n", Row("... first of a new block", reply_new_block, added));
  fmt::print(
      "\nAnswered within 10 ms of ADD's return: {} of {} ({:.1f}%); never within {} ms: {}; "
      "ADD failed: {}\n",
      within_10, added, added == 0 ? 0.0 : 100.0 * within_10 / added, flags.timeout_ms, unanswered,
      flags.workloads - added);
}

}  // namespace
}  // namespace tabby::bench

int main(int argc, char** argv) {
  using namespace tabby::bench;
  Flags flags;
  CLI::App app{"Time from a CNI ADD's return on one host to the first ping reply from another"};
  app.add_option("--workloads", flags.workloads, "workloads created per datastore")
      ->capture_default_str()
      ->check(CLI::Range(1, 16000));
  app.add_option("--rate", flags.rate, "CNI ADDs started per second")
      ->capture_default_str()
      ->check(CLI::Range(1, 2000));
  app.add_option("--datastores", flags.datastores, "sqlite and/or etcd, run one after the other")
      ->delimiter(',')
      ->check(CLI::IsMember({"sqlite", "etcd"}))
      ->capture_default_str();
  app.add_option("--etcd-members", flags.etcd_members, "members of the etcd cluster")
      ->capture_default_str()
      ->check(CLI::Range(1, 5));
  app.add_option("--interval-us", flags.interval_us, "between echo requests to a silent target")
      ->capture_default_str()
      ->check(CLI::Range(50, 100000));
  app.add_option("--timeout-ms", flags.timeout_ms, "a target silent this long never answered")
      ->capture_default_str()
      ->check(CLI::Range(100, 60000));
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    fmt::print(stderr, "first_ping needs root (network namespaces, nftables, BIRD)\n");
    return 1;
  }
  for (const std::string& datastore : flags.datastores) {
    auto report = RunOne(flags, datastore);
    if (!report.ok()) {
      fmt::print(stderr, "{}: {}\n", datastore, report.status().ToString());
      return 1;
    }
    Print(flags, *report);
  }
  return 0;
}
