// fabric_sim: how many prefixes the switches of a data-centre fabric carry when tabby's block IPAM
// places the workloads, against the talk's figures (280 per ToR, 7,000 at the spine, for 1,000
// hosts) and the target "spine <= 1.1 x the blocks in use".
//
// The allocator is the real one (ipam::BlockAllocator) on the real embedded datastore (SQLite in a
// temporary directory); only time is simulated: workloads arrive one after the other, 1/rate
// seconds apart on a FakeClock, nothing sleeps. Workloads land on uniformly random hosts; once the
// fleet is full, `churn` of them are deleted (ReleaseHandle) and re-created (a new handle) on a
// random other host.
//
// Routes, read back from the datastore at the end: every host announces each block it is affine
// to, plus a /32 for each of its workloads whose address lies in a block affine to another host
// (a borrowed address). A ToR carries its hosts' announcements and the /32s that other racks'
// hosts announce from inside its hosts' blocks (without them it would send that traffic to the
// block's host); a spine carries every announcement.
//
// Each configuration (--max-blocks-per-host, a list) runs in a fresh datastore with the same seed,
// so the arrivals and the churn are the same sequence of hosts in every configuration.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/ip.h"
#include "base/status_macros.h"
#include "datastore/datastore.h"
#include "ipam/block.h"
#include "ipam/block_allocator.h"
#include "ipam_bench_support.h"

namespace tabby::bench {
namespace {

struct Flags {
  int hosts = 1000;
  int rack_size = 40;
  int workloads = 100'000;
  double churn = 0.1;         // fraction of the workloads deleted and re-created elsewhere
  double arrival_rate = 150;  // workloads per simulated second
  std::vector<int> max_blocks_per_host = {0, 2};  // one run each; 0 = unlimited
  std::string pool_cidr = "10.0.0.0/8";
  int block_size = 26;
  uint64_t seed = 1;
};

// What one allocator call did, told apart by where its address came from.
enum class OpKind { kOwnBlock, kClaim, kBorrow, kRelease, kFailed };
constexpr int kOpKinds = 5;
constexpr const char* kOpNames[kOpKinds] = {"allocate from own block", "allocate claiming a block",
                                            "allocate borrowing", "release",
                                            "allocate failing (exhausted)"};

struct OpTimes {
  std::vector<double> ms;
  double total_ms = 0;
  void Add(double t) {
    ms.push_back(t);
    total_ms += t;
  }
};

struct RunResult {
  int max_blocks_per_host = 0;
  int64_t live_workloads = 0;
  int64_t failed_allocations = 0;
  int64_t blocks_affine = 0;    // blocks some host owns and announces
  int64_t blocks_nonempty = 0;  // blocks holding at least one address
  int64_t borrowed = 0;         // addresses held by a host other than their block's
  int64_t spine_prefixes = 0;
  int64_t tor_max = 0;
  double tor_mean = 0;
  int64_t max_blocks_on_a_host = 0;
  double simulated_seconds = 0;
  double wall_seconds = 0;
  uint64_t datastore_bytes = 0;
  OpTimes ops[kOpKinds];
};

struct Workload {
  std::string handle;
  int host = 0;
  IpAddress address;
};

std::string HostName(int host) { return fmt::format("host-{:04d}", host); }

// One simulated fabric: the allocator, its datastore, and the workloads alive in it.
class Fabric {
 public:
  Fabric(const Flags& flags, datastore::Datastore& store, FakeClock& clock, RunResult& result)
      : flags_(flags), clock_(clock), allocator_(store, clock), rng_(flags.seed), result_(result) {}

  absl::Status Run() {
    const absl::Duration gap = absl::Seconds(1.0 / flags_.arrival_rate);
    std::uniform_int_distribution<int> any_host(0, flags_.hosts - 1);
    for (int i = 0; i < flags_.workloads; ++i) {
      RETURN_IF_ERROR(Create(any_host(rng_)));
      clock_.Advance(gap);
      Progress("arrivals", i + 1, flags_.workloads);
    }
    const int churn = static_cast<int>(flags_.churn * flags_.workloads);
    std::uniform_int_distribution<int> other_host(0, flags_.hosts - 2);
    for (int i = 0; i < churn && !live_.empty(); ++i) {
      std::uniform_int_distribution<size_t> any_live(0, live_.size() - 1);
      size_t victim = any_live(rng_);
      int old_host = live_[victim].host;
      RETURN_IF_ERROR(Delete(victim));
      int host = other_host(rng_);
      RETURN_IF_ERROR(Create(host >= old_host ? host + 1 : host));
      clock_.Advance(gap);
      Progress("churn", i + 1, churn);
    }
    result_.live_workloads = static_cast<int64_t>(live_.size());
    return absl::OkStatus();
  }

  const std::vector<Workload>& live() const { return live_; }

 private:
  absl::Status Create(int host) {
    ipam::AllocationRequest request;
    // Shaped like tabby-cni's: <network>.<container id>.<interface>, and its attributes.
    std::string container_id = fmt::format("{:016x}{:016x}{:016x}{:016x}", rng_(), rng_(), rng_(),
                                           static_cast<uint64_t>(next_id_));
    request.handle = fmt::format("net1.{}.eth0", container_id);
    request.node = HostName(host);
    request.attributes = {{"namespace", fmt::format("team-{}", next_id_ % 50)},
                          {"workload", fmt::format("app-{}", next_id_)},
                          {"containerID", container_id},
                          {"network", "net1"}};
    ++next_id_;
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<IpAddress>> addresses = allocator_.Allocate(request);
    double ms = MsSince(start);
    if (!addresses.ok()) {
      if (addresses.status().code() != absl::StatusCode::kResourceExhausted) {
        return Annotate(addresses.status(), fmt::format("allocating for {}", request.node));
      }
      result_.ops[static_cast<int>(OpKind::kFailed)].Add(ms);
      ++result_.failed_allocations;
      return absl::OkStatus();
    }
    if (addresses->size() != 1) {
      return absl::InternalError(
          fmt::format("{} got {} addresses, wanted one", request.handle, addresses->size()));
    }
    const IpAddress& address = addresses->front();
    // Blocks are never given up in this run, so the first address out of a block marks its claim.
    IpNetwork block = ipam::BlockOf(address, flags_.block_size);
    auto [it, claimed] = claimed_by_.emplace(block, host);
    OpKind kind = claimed              ? OpKind::kClaim
                  : it->second == host ? OpKind::kOwnBlock
                                       : OpKind::kBorrow;
    result_.ops[static_cast<int>(kind)].Add(ms);
    live_.push_back(Workload{request.handle, host, address});
    return absl::OkStatus();
  }

  absl::Status Delete(size_t index) {
    auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(allocator_.ReleaseHandle(live_[index].handle));
    result_.ops[static_cast<int>(OpKind::kRelease)].Add(MsSince(start));
    std::swap(live_[index], live_.back());
    live_.pop_back();
    return absl::OkStatus();
  }

  void Progress(const char* phase, int done, int total) {
    if (done % 10'000 != 0 && done != total) return;
    double seconds = absl::ToDoubleSeconds(SystemClock::Get().Now() - started_);
    fmt::print(stderr, "  maxBlocksPerHost={}: {} {}/{} ({:.0f} s wall)\n",
               result_.max_blocks_per_host, phase, done, total, seconds);
  }

  const Flags& flags_;
  FakeClock& clock_;
  ipam::BlockAllocator allocator_;
  std::mt19937_64 rng_;
  RunResult& result_;
  std::vector<Workload> live_;
  std::map<IpNetwork, int> claimed_by_;
  int64_t next_id_ = 0;
  absl::Time started_ = SystemClock::Get().Now();
};

// Reads the blocks back and counts what each switch carries; checks that the datastore agrees
// with what the allocator handed out, and that no address is held twice.
absl::Status CountRoutes(const Flags& flags, datastore::Datastore& store,
                         const std::vector<Workload>& live, RunResult& result) {
  ASSIGN_OR_RETURN(datastore::ListResult listing, store.List(ipam::kBlockPrefix));
  std::unordered_map<std::string, int> host_of;
  for (int h = 0; h < flags.hosts; ++h) host_of.emplace(HostName(h), h);
  const int racks = (flags.hosts + flags.rack_size - 1) / flags.rack_size;
  auto rack_of = [&](int host) { return host / flags.rack_size; };

  std::vector<std::set<IpNetwork>> tor(racks);
  std::set<IpNetwork> spine;
  std::vector<int64_t> blocks_of_host(flags.hosts, 0);
  std::map<IpAddress, std::string> holder;  // address -> handle, from the blocks
  for (const auto& kv : listing.items) {
    ASSIGN_OR_RETURN(ipam::Block block, Annotate(ipam::DecodeBlock(kv.value), kv.key));
    auto owner = host_of.find(block.affinity);
    if (!block.affinity.empty()) {
      if (owner == host_of.end()) {
        return absl::InternalError(
            fmt::format("block {} is affine to unknown host \"{}\"", kv.key, block.affinity));
      }
      ++result.blocks_affine;
      ++blocks_of_host[owner->second];
      spine.insert(block.cidr);
      tor[rack_of(owner->second)].insert(block.cidr);
    }
    if (!block.allocations.empty()) ++result.blocks_nonempty;
    for (const auto& [ordinal, allocation] : block.allocations) {
      IpAddress address = block.AddressAt(ordinal);
      holder.emplace(address, allocation.handle);
      auto node = allocation.attributes.find("node");
      if (node == allocation.attributes.end() || !host_of.contains(node->second)) {
        return absl::InternalError(
            fmt::format("{} in block {} has no known node", address.ToString(), kv.key));
      }
      if (node->second == block.affinity) continue;
      // Borrowed: its host announces a /32, which the spine carries, and so does the ToR of the
      // block's host, whose block route would otherwise attract the traffic.
      ++result.borrowed;
      IpNetwork host_route = IpNetwork::Host(address);
      spine.insert(host_route);
      tor[rack_of(host_of.at(node->second))].insert(host_route);
      if (owner != host_of.end()) tor[rack_of(owner->second)].insert(host_route);
    }
  }
  if (holder.size() != live.size()) {
    return absl::InternalError(fmt::format("the blocks hold {} addresses, {} workloads are alive",
                                           holder.size(), live.size()));
  }
  std::set<IpAddress> seen;
  for (const auto& workload : live) {
    if (!seen.insert(workload.address).second) {
      return absl::InternalError(
          fmt::format("DUPLICATE: {} was handed out twice", workload.address.ToString()));
    }
    auto it = holder.find(workload.address);
    if (it == holder.end() || it->second != workload.handle) {
      return absl::InternalError(fmt::format("{} of {} is not recorded in its block",
                                             workload.address.ToString(), workload.handle));
    }
  }
  result.spine_prefixes = static_cast<int64_t>(spine.size());
  int64_t tor_total = 0;
  for (const auto& routes : tor) {
    result.tor_max = std::max<int64_t>(result.tor_max, static_cast<int64_t>(routes.size()));
    tor_total += static_cast<int64_t>(routes.size());
  }
  result.tor_mean = static_cast<double>(tor_total) / racks;
  result.max_blocks_on_a_host = *std::max_element(blocks_of_host.begin(), blocks_of_host.end());
  return absl::OkStatus();
}

absl::StatusOr<RunResult> Simulate(const Flags& flags, int max_blocks_per_host) {
  RunResult result;
  result.max_blocks_per_host = max_blocks_per_host;
  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("fabric-sim"));
  FakeClock clock;
  ASSIGN_OR_RETURN(std::unique_ptr<datastore::Datastore> store,
                   datastore::Open(dir.DatastoreUrl(), clock));
  RETURN_IF_ERROR(AddPool(*store, "fabric", flags.pool_cidr, flags.block_size));
  if (max_blocks_per_host > 0) {
    RETURN_IF_ERROR(SetIpamConfig(*store, {.max_blocks_per_host = max_blocks_per_host}));
  }
  absl::Time start = SystemClock::Get().Now();
  absl::Time simulated_start = clock.Now();
  Fabric fabric(flags, *store, clock, result);
  RETURN_IF_ERROR(fabric.Run());
  result.wall_seconds = absl::ToDoubleSeconds(SystemClock::Get().Now() - start);
  result.simulated_seconds = absl::ToDoubleSeconds(clock.Now() - simulated_start);
  RETURN_IF_ERROR(CountRoutes(flags, *store, fabric.live(), result));
  result.datastore_bytes = dir.Bytes();
  return result;
}

std::string Limit(int max_blocks_per_host) {
  return max_blocks_per_host > 0 ? std::to_string(max_blocks_per_host) : "unlimited";
}

void PrintTables(const Flags& flags, const std::vector<RunResult>& results) {
  const int racks = (flags.hosts + flags.rack_size - 1) / flags.rack_size;
  fmt::print(
      "{} hosts in {} racks of {}, {} workloads at {}/s, churn {:.0f}% ({} deleted and "
      "re-created on another host), pool {} in /{} blocks, seed {}\n\n",
      flags.hosts, racks, flags.rack_size, flags.workloads, flags.arrival_rate, flags.churn * 100,
      static_cast<int>(flags.churn * flags.workloads), flags.pool_cidr, flags.block_size,
      flags.seed);
  fmt::print(
      "| maxBlocksPerHost | workloads | failed allocations | blocks in use (non-empty) | most "
      "blocks on a host | borrowed /32s | spine prefixes | spine / blocks | ToR max | ToR mean |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : results) {
    fmt::print("| {} | {} | {} | {} ({}) | {} | {} | {} | {:.3f} | {} | {:.1f} |\n",
               Limit(r.max_blocks_per_host), r.live_workloads, r.failed_allocations,
               r.blocks_affine, r.blocks_nonempty, r.max_blocks_on_a_host, r.borrowed,
               r.spine_prefixes,
               r.blocks_affine > 0 ? static_cast<double>(r.spine_prefixes) / r.blocks_affine : 0.0,
               r.tor_max, r.tor_mean);
  }
  fmt::print(
      "\nWhere the time goes (wall clock of the real allocator on SQLite; simulated time is the "
      "arrival schedule)\n\n"
      "| maxBlocksPerHost | operation | calls | mean ms | p99 ms | share of time |\n"
      "|---|---|---|---|---|---|\n");
  for (const auto& r : results) {
    double total = 0;
    for (const auto& op : r.ops) total += op.total_ms;
    for (int k = 0; k < kOpKinds; ++k) {
      OpTimes op = r.ops[k];
      if (op.ms.empty()) continue;
      fmt::print("| {} | {} | {} | {:.2f} | {:.2f} | {:.1f}% |\n", Limit(r.max_blocks_per_host),
                 kOpNames[k], op.ms.size(), op.total_ms / op.ms.size(), Quantile(op.ms, 0.99),
                 total > 0 ? 100 * op.total_ms / total : 0.0);
    }
  }
  fmt::print(
      "\n| maxBlocksPerHost | wall s | simulated s | datastore size MB |\n|---|---|---|---|\n");
  for (const auto& r : results) {
    fmt::print("| {} | {:.1f} | {:.0f} | {:.1f} |\n", Limit(r.max_blocks_per_host), r.wall_seconds,
               r.simulated_seconds, r.datastore_bytes / 1e6);
  }
}

}  // namespace
}  // namespace tabby::bench

int main(int argc, char** argv) {
  using tabby::bench::Flags;
  Flags flags;
  CLI::App app{
      "fabric_sim: prefixes a ToR and a spine carry when the block allocator places workloads "
      "(real allocator, embedded datastore in a temporary directory, simulated time)"};
  app.add_option("--hosts", flags.hosts, "hosts in the fabric")
      ->capture_default_str()
      ->check(CLI::Range(2, 1'000'000));
  app.add_option("--rack-size", flags.rack_size, "hosts per rack (one ToR each)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--workloads", flags.workloads, "workloads created")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--churn", flags.churn,
                 "fraction of the workloads deleted and re-created on another host once the "
                 "fleet is full")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--arrival-rate", flags.arrival_rate, "workloads per simulated second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-blocks-per-host", flags.max_blocks_per_host,
                 "IPAM maxBlocksPerHost, one run per value (0 = unlimited), comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--pool", flags.pool_cidr, "IPv4 pool")->capture_default_str();
  app.add_option("--block-size", flags.block_size, "prefix length of the pool's blocks")
      ->capture_default_str()
      ->check(CLI::Range(8, 32));
  app.add_option("--seed", flags.seed, "random seed (placement and churn)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<tabby::bench::RunResult> results;
  for (int max_blocks : flags.max_blocks_per_host) {
    absl::StatusOr<tabby::bench::RunResult> result = tabby::bench::Simulate(flags, max_blocks);
    if (!result.ok()) {
      fmt::print(stderr, "fabric_sim: maxBlocksPerHost={}: {}\n", max_blocks,
                 result.status().ToString());
      return 1;
    }
    results.push_back(std::move(*result));
  }
  tabby::bench::PrintTables(flags, results);
  return 0;
}
