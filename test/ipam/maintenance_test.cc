#include "ipam/maintenance.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>

#include "ipam/ipam_fixture.h"

namespace tabby::ipam {
namespace {

class IpamMaintenanceTest : public IpamTest {
 protected:
  // Records a workload endpoint naming `handle`, as the CNI plugin does after allocating.
  void AddEndpoint(datastore::Datastore& store, const std::string& name, const std::string& node,
                   const std::string& handle) {
    datastore::ResourceStore resources(store);
    model::Resource endpoint = model::MakeResource(model::Kind::kWorkloadEndpoint, name, "default");
    endpoint.metadata.annotations[kHandleAnnotation] = handle;
    auto& spec = endpoint.workload_endpoint();
    spec.orchestrator = "cni";
    spec.workload = name;
    spec.node = node;
    spec.endpoint = "eth0";
    spec.interface_name = "tabby" + name;
    auto applied = resources.Apply(endpoint);
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  IpamCheckReport Check(absl::Duration grace = absl::ZeroDuration(), std::string node = "") {
    auto report = CheckIpam(*store_, clock_, {grace, std::move(node)});
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : IpamCheckReport{};
  }
};

TEST_F(IpamMaintenanceTest, LeakedAddressesAreFoundAfterTheGracePeriodAndReleased) {
  AddPool("pool", "10.65.0.0/24");
  ASSERT_TRUE(allocator_->Allocate(Request("live", "node-a")).ok());
  AddEndpoint(*store_, "live", "node-a", "live");
  ASSERT_TRUE(allocator_->Allocate(Request("leak", "node-a")).ok());

  IpamCheckReport young = Check(absl::Minutes(10));
  EXPECT_TRUE(young.clean());
  EXPECT_EQ(young.in_grace, 1u) << "a workload in the middle of starting is never reaped";

  clock_.Advance(absl::Minutes(11));
  IpamCheckReport report = Check(absl::Minutes(10));
  ASSERT_EQ(report.leaked.size(), 1u);
  EXPECT_EQ(report.leaked[0].allocation.handle, "leak");
  EXPECT_EQ(report.leaked[0].address.ToString(), "10.65.0.1");

  auto summary = RepairIpam(*store_, report);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->released_addresses, 1);
  EXPECT_TRUE(allocator_->AddressesOf("leak")->empty());
  EXPECT_EQ(allocator_->AddressesOf("live")->size(), 1u);
  EXPECT_TRUE(Check().clean());
}

TEST_F(IpamMaintenanceTest, RepairSkipsWhatChangedSinceTheCheck) {
  AddPool("pool", "10.65.0.0/24");
  ASSERT_TRUE(allocator_->Allocate(Request("slow", "node-a")).ok());
  IpamCheckReport report = Check();
  ASSERT_EQ(report.leaked.size(), 1u);
  // The workload's endpoint appears between check and repair: it keeps its address.
  AddEndpoint(*store_, "slow", "node-a", "slow");
  auto summary = RepairIpam(*store_, report);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->released_addresses, 0);
  EXPECT_EQ(summary->skipped, 1);
  EXPECT_EQ(allocator_->AddressesOf("slow")->size(), 1u);
}

TEST_F(IpamMaintenanceTest, BlocksOfVanishedNodesAndSurplusBlocksAreGivenBack) {
  AddPool("pool", "10.65.0.0/24", 30);
  // node-gone: one block with a live address (its endpoint survives elsewhere), one empty.
  ASSERT_TRUE(allocator_->Allocate(Request("g0", "node-gone")).ok());
  for (int i = 1; i < 5; ++i) {
    ASSERT_TRUE(allocator_->Allocate(Request(fmt::format("g{}", i), "node-gone")).ok());
  }
  for (int i = 1; i < 5; ++i) ASSERT_TRUE(allocator_->ReleaseHandle(fmt::format("g{}", i)).ok());
  AddEndpoint(*store_, "moved", "node-b", "g0");  // g0's workload lives on, on node-b
  // node-b: two blocks, both emptied: one is surplus.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(allocator_->Allocate(Request(fmt::format("b{}", i), "node-b")).ok());
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(allocator_->ReleaseHandle(fmt::format("b{}", i)).ok());
  // node-gone's first block still holds g0; its second (g4's) is empty.
  IpamCheckReport report = Check();
  ASSERT_EQ(report.orphan_blocks.size(), 2u);
  ASSERT_EQ(report.surplus_blocks.size(), 1u);
  EXPECT_EQ(report.surplus_blocks[0].node, "node-b");
  auto summary = RepairIpam(*store_, report);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->released_blocks, 3);

  auto blocks = Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  const Block& kept = blocks.begin()->second;
  EXPECT_EQ(kept.cidr.ToString(), "10.65.0.0/30");
  EXPECT_EQ(kept.affinity, "") << "the vanished node's block keeps its live address, no host";
  EXPECT_EQ(kept.allocations.size(), 1u);
  EXPECT_EQ(std::next(blocks.begin())->second.affinity, "node-b") << "node-b keeps one block";
  auto affinities = store_->ListKeys(kAffinityPrefix);
  ASSERT_EQ(affinities->items.size(), 1u);
  EXPECT_TRUE(Check().clean());
}

TEST_F(IpamMaintenanceTest, AVanishedNodesBlockWithLeaksIsRepairedInOnePass) {
  AddPool("pool", "10.65.0.0/24", 30);
  // node-gone held two addresses whose workloads are gone too: leaks in an orphan block.
  ASSERT_TRUE(allocator_->Allocate(Request("g0", "node-gone")).ok());
  ASSERT_TRUE(allocator_->Allocate(Request("g1", "node-gone")).ok());
  IpamCheckReport report = Check();
  ASSERT_EQ(report.leaked.size(), 2u);
  ASSERT_EQ(report.orphan_blocks.size(), 1u);
  auto summary = RepairIpam(*store_, report);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->released_addresses, 2);
  EXPECT_EQ(summary->released_blocks, 1);
  EXPECT_EQ(summary->skipped, 0);
  EXPECT_TRUE(Blocks().empty());
  EXPECT_TRUE(Check().clean());
}

TEST_F(IpamMaintenanceTest, OrphanHandlesAndDanglingAffinitiesAreRemoved) {
  AddPool("pool", "10.65.0.0/24");
  ASSERT_TRUE(store_
                  ->Put(HandleKey("ghost"), EncodeHandle({{{*IpAddress::Parse("10.65.0.9"),
                                                            *IpNetwork::Parse("10.65.0.0/26")}}}))
                  .ok());
  ASSERT_TRUE(store_->Put(AffinityKey("node-a", *IpNetwork::Parse("10.65.0.128/26")), "{}").ok());
  AddEndpoint(*store_, "w", "node-a", "nothing");
  IpamCheckReport report = Check();
  ASSERT_EQ(report.orphan_handles.size(), 1u);
  EXPECT_EQ(report.orphan_handles[0].handle, "ghost");
  ASSERT_EQ(report.dangling_affinities.size(), 1u);
  auto summary = RepairIpam(*store_, report);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->deleted_handles, 1);
  EXPECT_EQ(summary->released_affinities, 1);
  EXPECT_TRUE(Check().clean());
}

// Allocators killed with SIGKILL at random points leave at worst complete allocations without
// an endpoint; check finds every one, release repairs them, and no address of a live workload
// is touched.
TEST_F(IpamMaintenanceTest, AllocatorsKilledAtRandomPointsLeakNothingThatCannotBeRepaired) {
  AddPool("pool", "10.71.0.0/20", 28);
  store_.reset();
  allocator_.reset();
  std::mt19937 random(::testing::UnitTest::GetInstance()->random_seed());
  for (int round = 0; round < 6; ++round) {
    // The child reports each workload it completed, so that every round gets some work done
    // before the kill however slow the machine is; the kill then lands at a random point.
    int progress[2];
    ASSERT_EQ(pipe(progress), 0);
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      close(progress[0]);
      SystemClock& clock = SystemClock::Get();
      auto store = datastore::Open(url_, clock);
      if (!store.ok()) _exit(2);
      BlockAllocator allocator(**store, clock);
      for (int n = 0;; ++n) {
        std::string handle = fmt::format("r{}-{}", round, n);
        std::string node = fmt::format("node-{}", n % 3);
        if (!allocator.Allocate(Request(handle, node)).ok()) _exit(3);
        AddEndpoint(**store, handle, node, handle);
        (void)!write(progress[1], "+", 1);
        if (n % 4 == 3) {
          // A workload goes away: endpoint first, then its addresses (the window between is
          // a leak if killed there).
          datastore::ResourceStore resources(**store);
          std::string old = fmt::format("r{}-{}", round, n - 1);
          (void)resources.Delete({model::Kind::kWorkloadEndpoint, "default", old});
          (void)allocator.ReleaseHandle(old);
        }
      }
    }
    ASSERT_GT(pid, 0);
    close(progress[1]);
    for (int done = 0; done < 2;) {
      pollfd ready{progress[0], POLLIN, 0};
      ASSERT_EQ(poll(&ready, 1, 60'000), 1) << "the allocator made no progress";
      char byte;
      ASSERT_EQ(read(progress[0], &byte, 1), 1) << "the allocator exited";
      ++done;
    }
    usleep(std::uniform_int_distribution<int>(0, 100'000)(random));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(progress[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the allocator stopped by itself: " << status;
  }
  auto reopened = datastore::Open(url_, clock_);
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(*reopened);

  // Addresses of live workloads before repair.
  datastore::ResourceStore resources(*store_);
  auto endpoints = resources.List(model::Kind::kWorkloadEndpoint);
  ASSERT_TRUE(endpoints.ok());
  ASSERT_GT(endpoints->size(), 6u);
  std::set<std::string> live_handles;
  for (const auto& e : *endpoints)
    live_handles.insert(e.metadata.annotations.at(kHandleAnnotation));
  BlockAllocator allocator(*store_, clock_);
  std::map<std::string, std::vector<IpAddress>> live_before;
  for (const auto& h : live_handles) live_before[h] = *allocator.AddressesOf(h);

  // The children stamped allocations with the real clock: check an hour later than that.
  clock_ = FakeClock(absl::Now() + absl::Hours(1));
  IpamCheckReport report = Check(absl::Minutes(10));
  for (const auto& leak : report.leaked) {
    EXPECT_FALSE(live_handles.contains(leak.allocation.handle)) << leak.address.ToString();
  }
  auto summary = RepairIpam(*store_, report);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->released_addresses, static_cast<int>(report.leaked.size()));
  EXPECT_TRUE(Check(absl::Minutes(10)).clean());

  // Every allocation left belongs to a live workload, and every live workload kept its address.
  for (const auto& [cidr, block] : Blocks()) {
    for (const auto& [ordinal, allocation] : block.allocations) {
      EXPECT_TRUE(live_handles.contains(allocation.handle)) << allocation.handle;
    }
  }
  for (const auto& [handle, addresses] : live_before) {
    EXPECT_EQ(*allocator.AddressesOf(handle), addresses) << handle;
    EXPECT_EQ(addresses.size(), 1u) << handle;
  }
}

}  // namespace
}  // namespace tabby::ipam
