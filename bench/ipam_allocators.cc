// ipam_allocators: allocations per second and latency of the block allocator when several
// processes allocate at once (as concurrent CNI ADDs do), against one process doing the same work
// alone, on the embedded datastore and (--datastores sqlite,etcd) on a real one-member etcd that
// the benchmark starts on loopback.
//
// Configurations, alternating round by round so the machine's noise hits each alike; every round
// of every configuration starts from a fresh datastore with one pool and makes the same number of
// allocations in total:
// - "1 process": one allocator process, the baseline;
// - "N processes, one node": N processes allocating for the same host, i.e. N concurrent CNI ADDs
//   on one machine, contending for the same blocks;
// - "N processes, N nodes": N processes allocating for different hosts, each from its own blocks
//   (what the embedded datastore sees if several hosts shared one file; with etcd, the fabric).
// Each process allocates its share, then releases every --release-every'th handle it allocated
// (timed separately). Then the datastore is checked: every live handle holds exactly one
// address, no address is held twice, and the blocks account for every allocation. The parent
// never talks to the datastore itself (a forked helper does), so that no gRPC state of its own
// is copied into the allocator processes it forks.

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "datastore/datastore.h"
#include "ipam/block.h"
#include "ipam/block_allocator.h"
#include "ipam_bench_support.h"
#include "support/etcd.h"
#include "support/process.h"

namespace tabby::bench {
namespace {

struct Flags {
  int allocations = 4000;  // per round and configuration, split evenly between the processes
  int processes = 8;
  int rounds = 3;
  int release_every = 4;  // each process releases every n-th of its handles afterwards (0: none)
  std::string pool_cidr = "10.0.0.0/16";
  std::vector<std::string> datastores = {"sqlite"};
};

// Where a round's datastore lives: a fresh SQLite file in the round's directory, or the shared
// etcd emptied before the round.
struct Backend {
  std::string name;                   // "sqlite" or "etcd"
  test::EtcdCluster* etcd = nullptr;  // with "etcd"
  std::string Url(const TempDir& dir) const { return etcd ? etcd->Url() : dir.DatastoreUrl(); }
};

// Runs `work` in a forked process and returns its status: the parent stays free of datastore
// client state (gRPC threads) that later forks would copy.
absl::Status InChild(const std::function<absl::Status()>& work) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return absl::InternalError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    close(report[0]);
    absl::Status status = work();
    const std::string text = status.ok() ? "" : status.ToString();
    (void)!write(report[1], text.data(), text.size());
    _exit(status.ok() ? 0 : 1);
  }
  close(report[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = read(report[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  close(report[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(text.empty() ? "helper process failed" : text);
}

struct Config {
  std::string name;
  int processes = 1;
  bool one_node = true;
};

// One round of one configuration: latencies of every operation and the wall time of the whole.
struct RoundResult {
  std::vector<double> allocate_ms;
  std::vector<double> release_ms;
  double allocate_wall_s = 0;
};

// Reads the doubles a child wrote to `path`.
absl::StatusOr<std::vector<double>> ReadLatencies(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(fmt::format("cannot read {}", path));
  std::vector<double> values;
  double value;
  while (in.read(reinterpret_cast<char*>(&value), sizeof value)) values.push_back(value);
  return values;
}

void WriteLatencies(const std::string& path, const std::vector<double>& values) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(double)));
}

// What one child process does: wait at the start line (a pipe the parent closes), allocate its
// share, tell the parent it is done allocating (one byte), then release some of it.
// Returns the exit code.
int RunChild(const Flags& flags, const Config& config, const std::string& url, const TempDir& dir,
             int index, int start_fd, int done_fd) {
  auto store = datastore::Open(url);
  if (!store.ok()) {
    fmt::print(stderr, "child {}: {}\n", index, store.status().ToString());
    return 1;
  }
  ipam::BlockAllocator allocator(**store, SystemClock::Get());
  const int share = flags.allocations / config.processes;
  std::vector<double> allocate_ms, release_ms;
  allocate_ms.reserve(share);
  std::vector<std::string> handles;
  char go;
  if (read(start_fd, &go, 1) < 0) return 1;  // EOF when the parent closes its end
  for (int i = 0; i < share; ++i) {
    ipam::AllocationRequest request;
    request.handle = fmt::format("bench.{}-{}.eth0", index, i);
    request.node = config.one_node ? "host-0" : fmt::format("host-{}", index);
    request.attributes = {{"namespace", "bench"}, {"workload", fmt::format("w-{}-{}", index, i)}};
    auto start = std::chrono::steady_clock::now();
    auto addresses = allocator.Allocate(request);
    allocate_ms.push_back(MsSince(start));
    if (!addresses.ok()) {
      fmt::print(stderr, "child {}: allocation {}: {}\n", index, i, addresses.status().ToString());
      return 1;
    }
    handles.push_back(request.handle);
  }
  if (write(done_fd, "x", 1) != 1) return 1;
  for (size_t i = 0; flags.release_every > 0 && i < handles.size(); i += flags.release_every) {
    auto start = std::chrono::steady_clock::now();
    absl::Status released = allocator.ReleaseHandle(handles[i]);
    release_ms.push_back(MsSince(start));
    if (!released.ok()) {
      fmt::print(stderr, "child {}: release {}: {}\n", index, handles[i], released.ToString());
      return 1;
    }
  }
  WriteLatencies(fmt::format("{}/allocate-{}", dir.path(), index), allocate_ms);
  WriteLatencies(fmt::format("{}/release-{}", dir.path(), index), release_ms);
  return 0;
}

// Every live handle holds one address, no address is held twice, and the blocks hold exactly
// the live handles' addresses.
absl::Status CheckConsistent(datastore::Datastore& store, int expected_live) {
  ASSIGN_OR_RETURN(datastore::ListResult blocks, store.List(ipam::kBlockPrefix));
  std::set<std::string> handles_in_blocks;
  int allocations = 0;
  for (const auto& kv : blocks.items) {
    ASSIGN_OR_RETURN(ipam::Block block, Annotate(ipam::DecodeBlock(kv.value), kv.key));
    for (const auto& [ordinal, allocation] : block.allocations) {
      ++allocations;
      if (!handles_in_blocks.insert(allocation.handle).second) {
        return absl::InternalError(fmt::format("handle {} holds two addresses", allocation.handle));
      }
    }
  }
  ASSIGN_OR_RETURN(datastore::ListResult handles, store.ListKeys(ipam::kHandlePrefix));
  if (allocations != expected_live || static_cast<int>(handles.items.size()) != expected_live) {
    return absl::InternalError(
        fmt::format("expected {} live allocations; the blocks hold {}, {} handle records exist",
                    expected_live, allocations, handles.items.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<RoundResult> RunRound(const Flags& flags, const Config& config,
                                     const Backend& backend) {
  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("ipam-allocators"));
  const std::string url = backend.Url(dir);
  if (backend.etcd != nullptr) {
    RETURN_IF_ERROR(test::RunChecked(
        {"etcdctl", "--endpoints=" + backend.etcd->EtcdctlEndpoints(), "del", "", "--from-key"}));
  }
  RETURN_IF_ERROR(InChild([&]() -> absl::Status {
    ASSIGN_OR_RETURN(auto store, datastore::Open(url, {.create = true}));
    return AddPool(*store, "bench", flags.pool_cidr);
  }));
  int start_pipe[2], done_pipe[2];
  if (pipe2(start_pipe, O_CLOEXEC) != 0 || pipe2(done_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  std::vector<pid_t> children;
  for (int i = 0; i < config.processes; ++i) {
    pid_t pid = fork();
    if (pid < 0) return absl::InternalError(fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
      close(start_pipe[1]);
      close(done_pipe[0]);
      _exit(RunChild(flags, config, url, dir, i, start_pipe[0], done_pipe[1]));
    }
    children.push_back(pid);
  }
  close(start_pipe[0]);
  close(done_pipe[1]);
  // Children open the datastore before the start line; give them the go together.
  absl::Time start = SystemClock::Get().Now();
  close(start_pipe[1]);
  RoundResult result;
  char byte;
  for (int done = 0; done < config.processes;) {
    ssize_t n = read(done_pipe[0], &byte, 1);
    if (n == 1) {
      ++done;
    } else if (n == 0 || errno != EINTR) {
      break;  // a child died before saying so: reported below
    }
  }
  result.allocate_wall_s = absl::ToDoubleSeconds(SystemClock::Get().Now() - start);
  close(done_pipe[0]);
  bool failed = false;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  if (failed) return absl::InternalError(fmt::format("{}: a child failed", config.name));
  for (int i = 0; i < config.processes; ++i) {
    ASSIGN_OR_RETURN(auto allocate, ReadLatencies(fmt::format("{}/allocate-{}", dir.path(), i)));
    ASSIGN_OR_RETURN(auto release, ReadLatencies(fmt::format("{}/release-{}", dir.path(), i)));
    result.allocate_ms.insert(result.allocate_ms.end(), allocate.begin(), allocate.end());
    result.release_ms.insert(result.release_ms.end(), release.begin(), release.end());
  }
  const int share = flags.allocations / config.processes;
  const int released_each =
      flags.release_every > 0 ? (share + flags.release_every - 1) / flags.release_every : 0;
  RETURN_IF_ERROR(InChild([&]() -> absl::Status {
    ASSIGN_OR_RETURN(auto store, datastore::Open(url));
    return CheckConsistent(*store, config.processes * (share - released_each));
  }));
  return result;
}

struct Summary {
  std::vector<double> throughput;  // allocations per second, one per round
  std::vector<double> allocate_ms;
  std::vector<double> release_ms;
};

}  // namespace
}  // namespace tabby::bench

int main(int argc, char** argv) {
  using namespace tabby::bench;
  Flags flags;
  CLI::App app{
      "ipam_allocators: allocations per second and latency with several allocator processes, "
      "against one, on the embedded datastore and/or etcd"};
  app.add_option("--allocations", flags.allocations,
                 "allocations per round and configuration (split between the processes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 60'000));
  app.add_option("--processes", flags.processes, "concurrent allocator processes")
      ->capture_default_str()
      ->check(CLI::Range(2, 64));
  app.add_option("--rounds", flags.rounds, "rounds per configuration (alternating)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--release-every", flags.release_every,
                 "after allocating, each process releases every n-th handle (0: none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--datastores", flags.datastores,
                 "sqlite and/or etcd (a one-member etcd started on loopback), measured "
                 "alternately in every round")
      ->delimiter(',')
      ->check(CLI::IsMember({"sqlite", "etcd"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<tabby::test::EtcdCluster> etcd;
  std::vector<Backend> backends;
  for (const std::string& name : flags.datastores) {
    if (name == "etcd" && !etcd) {
      auto started = tabby::test::EtcdCluster::Start(1);
      if (!started.ok()) {
        fmt::print(stderr, "ipam_allocators: starting etcd: {}\n", started.status().ToString());
        return 1;
      }
      etcd = std::move(*started);
    }
    backends.push_back({name, name == "etcd" ? etcd.get() : nullptr});
  }

  const std::vector<Config> configs = {
      {"1 process", 1, true},
      {fmt::format("{} processes, one node", flags.processes), flags.processes, true},
      {fmt::format("{} processes, {} nodes", flags.processes, flags.processes), flags.processes,
       false},
  };
  // summaries[b][c]: backend b, configuration c.
  std::vector<std::vector<Summary>> summaries(backends.size(),
                                              std::vector<Summary>(configs.size()));
  for (int round = 0; round < flags.rounds; ++round) {
    for (size_t b = 0; b < backends.size(); ++b) {
      for (size_t c = 0; c < configs.size(); ++c) {
        auto result = RunRound(flags, configs[c], backends[b]);
        if (!result.ok()) {
          fmt::print(stderr, "ipam_allocators: round {} ({}): {}\n", round + 1, backends[b].name,
                     result.status().ToString());
          return 1;
        }
        const int made = flags.allocations / configs[c].processes * configs[c].processes;
        auto& s = summaries[b][c];
        s.throughput.push_back(made / result->allocate_wall_s);
        s.allocate_ms.insert(s.allocate_ms.end(), result->allocate_ms.begin(),
                             result->allocate_ms.end());
        s.release_ms.insert(s.release_ms.end(), result->release_ms.begin(),
                            result->release_ms.end());
        fmt::print(stderr, "  round {} {} {}: {:.0f} allocations/s\n", round + 1, backends[b].name,
                   configs[c].name, s.throughput.back());
      }
    }
  }
  fmt::print(
      "{} allocations per round and configuration, {} rounds, every {}th handle released "
      "afterwards, pool {} in /26 blocks\n\n",
      flags.allocations, flags.rounds, flags.release_every, flags.pool_cidr);
  fmt::print(
      "| datastore | configuration | allocations/s (median round) | ratio to 1 process | "
      "ratio to {} | allocate mean ms | allocate p99 ms | release mean ms | release p99 ms |\n"
      "|---|---|---|---|---|---|---|---|---|\n",
      backends[0].name);
  for (size_t b = 0; b < backends.size(); ++b) {
    const double baseline = Median(summaries[b][0].throughput);
    for (size_t c = 0; c < configs.size(); ++c) {
      auto& s = summaries[b][c];
      const double throughput = Median(s.throughput);
      fmt::print("| {} | {} | {:.0f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |\n",
                 backends[b].name, configs[c].name, throughput, throughput / baseline,
                 throughput / Median(summaries[0][c].throughput), Mean(s.allocate_ms),
                 Quantile(s.allocate_ms, 0.99), Mean(s.release_ms), Quantile(s.release_ms, 0.99));
    }
  }
  return 0;
}
