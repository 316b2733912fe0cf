#include "ipam/block_allocator.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datastore/forked_children.h"
#include "ipam/ipam_fixture.h"

namespace tabby::ipam {
namespace {

using ::testing::HasSubstr;

IpNetwork Net(const char* text) { return *IpNetwork::Parse(text, true); }
IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

TEST_F(IpamTest, HostsClaimBlocksAndAllocateFromTheirOwn) {
  AddPool("pool", "10.65.0.0/24");  // default /26 blocks
  auto a1 = allocator_->Allocate(Request("a1", "node-a"));
  ASSERT_TRUE(a1.ok()) << a1.status();
  auto b1 = allocator_->Allocate(Request("b1", "node-b"));
  auto a2 = allocator_->Allocate(Request("a2", "node-a"));
  ASSERT_TRUE(b1.ok() && a2.ok());
  EXPECT_EQ(*a1, std::vector<IpAddress>{Ip("10.65.0.0")});
  EXPECT_EQ(*b1, std::vector<IpAddress>{Ip("10.65.0.64")});
  EXPECT_EQ(*a2, std::vector<IpAddress>{Ip("10.65.0.1")});

  auto blocks = Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[Net("10.65.0.0/26")].affinity, "node-a");
  EXPECT_EQ(blocks[Net("10.65.0.0/26")].allocations.size(), 2u);
  EXPECT_EQ(blocks[Net("10.65.0.0/26")].allocations.at(1).attributes.at("node"), "node-a");
  EXPECT_EQ(blocks[Net("10.65.0.64/26")].affinity, "node-b");
  auto affinities = store_->ListKeys(kAffinityPrefix);
  ASSERT_TRUE(affinities.ok());
  ASSERT_EQ(affinities->items.size(), 2u);
  EXPECT_EQ(affinities->items[0].key, "/tabby/v1/ipam/affinities/node-a/10.65.0.0-26");
}

TEST_F(IpamTest, AFullBlockLeadsToANewClaim) {
  AddPool("pool", "10.65.0.0/28", 30);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(allocator_->Allocate(Request(fmt::format("h{}", i), "node-a")).ok());
  }
  auto blocks = Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_TRUE(blocks[Net("10.65.0.0/30")].full());
  EXPECT_EQ(blocks[Net("10.65.0.4/30")].allocations.size(), 1u);
  EXPECT_EQ(blocks[Net("10.65.0.4/30")].affinity, "node-a");
}

TEST_F(IpamTest, BorrowingOnlyWhenNoBlockCanBeClaimedAndNeverWithStrictAffinity) {
  AddPool("pool", "10.65.0.0/29", 30);  // two blocks of four
  SetConfig({false, 1});
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(allocator_->Allocate(Request(fmt::format("a{}", i), "node-a")).ok());
  }
  ASSERT_TRUE(allocator_->Allocate(Request("b0", "node-b")).ok());
  // node-a's block is full and it may not claim a second: it borrows from node-b's block.
  auto borrowed = allocator_->Allocate(Request("a4", "node-a"));
  ASSERT_TRUE(borrowed.ok()) << borrowed.status();
  EXPECT_EQ(*borrowed, std::vector<IpAddress>{Ip("10.65.0.5")});
  EXPECT_EQ(Blocks()[Net("10.65.0.4/30")].affinity, "node-b") << "borrowing moves no block";

  SetConfig({true, 1});
  auto refused = allocator_->Allocate(Request("a5", "node-a"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("strictAffinity"));
  // node-b still has room in its own block.
  EXPECT_TRUE(allocator_->Allocate(Request("b1", "node-b")).ok());
}

TEST_F(IpamTest, ExhaustionNamesThePool) {
  AddPool("tiny", "10.66.0.0/30", 30);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(allocator_->Allocate(Request(fmt::format("h{}", i), "node-a")).ok());
  }
  auto full = allocator_->Allocate(Request("h4", "node-b"));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.status().message()), HasSubstr("tiny (10.66.0.0/30)"));
  auto handles = store_->ListKeys(kHandlePrefix);
  EXPECT_EQ(handles->items.size(), 4u) << "a failed allocation records no handle";
}

TEST_F(IpamTest, DualStackTakesOneAddressFromEachFamilyAndReleasesBoth) {
  AddPool("pool4", "10.65.0.0/24");
  AddPool("pool6", "fd65::/120");
  auto both = allocator_->Allocate(Request("h", "node-a", /*v6=*/true));
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_TRUE((*both)[0].is_v4());
  EXPECT_EQ((*both)[1], Ip("fd65::"));
  EXPECT_EQ(Blocks()[Net("fd65::/122")].affinity, "node-a");
  EXPECT_EQ(*allocator_->AddressesOf("h"), *both);
  // Retried: the same addresses.
  EXPECT_EQ(*allocator_->Allocate(Request("h", "node-a", true)), *both);

  ASSERT_TRUE(allocator_->ReleaseHandle("h").ok());
  for (const auto& [cidr, block] : Blocks())
    EXPECT_TRUE(block.allocations.empty()) << cidr.ToString();
  EXPECT_TRUE(allocator_->AddressesOf("h")->empty());
  EXPECT_TRUE(allocator_->ReleaseHandle("h").ok()) << "idempotent";
}

TEST_F(IpamTest, DualStackIsAllOrNothing) {
  AddPool("pool4", "10.65.0.0/24");
  auto refused = allocator_->Allocate(Request("h", "node-a", /*v6=*/true));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("IPv6"));
  for (const auto& [cidr, block] : Blocks()) EXPECT_TRUE(block.allocations.empty());
  EXPECT_TRUE(store_->ListKeys(kHandlePrefix)->items.empty());
}

TEST_F(IpamTest, ReleaseAddressUpdatesItsHandle) {
  AddPool("pool4", "10.65.0.0/24");
  AddPool("pool6", "fd65::/120");
  auto both = *allocator_->Allocate(Request("h", "node-a", true));
  ASSERT_TRUE(allocator_->ReleaseAddress(both[0]).ok());
  EXPECT_EQ(*allocator_->AddressesOf("h"), std::vector<IpAddress>{both[1]});
  ASSERT_TRUE(allocator_->ReleaseAddress(both[0]).ok()) << "idempotent";
  ASSERT_TRUE(allocator_->ReleaseAddress(Ip("192.0.2.1")).ok()) << "in no block";
  ASSERT_TRUE(allocator_->ReleaseAddress(both[1]).ok());
  EXPECT_TRUE(store_->ListKeys(kHandlePrefix)->items.empty()) << "an empty handle is deleted";
}

TEST_F(IpamTest, PoolChoiceFollowsNamesDisabledAndNodeSelectors) {
  AddPool("private", "10.65.0.0/24");
  AddPool("public", "198.51.100.0/24");
  AddPool("off", "10.99.0.0/24", 0, /*disabled=*/true);
  AddPool("rack1", "10.77.0.0/24", 0, false, "rack == 'r1'");
  AllocationRequest request = Request("p", "node-a");
  request.ipv4_pools = {"public"};
  EXPECT_EQ(*allocator_->Allocate(request), std::vector<IpAddress>{Ip("198.51.100.0")});
  for (const char* refused_pool : {"off", "rack1", "missing"}) {
    request = Request(std::string("r-") + refused_pool, "node-a");
    request.ipv4_pools = {refused_pool};
    auto refused = allocator_->Allocate(request);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound) << refused_pool;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(refused_pool));
  }
  // Without a name: the first usable pool, never the disabled one.
  for (int i = 0; i < 3; ++i) {
    auto a = allocator_->Allocate(Request(fmt::format("any{}", i), "node-b"));
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(Net("10.99.0.0/24").Contains((*a)[0]));
    EXPECT_FALSE(Net("10.77.0.0/24").Contains((*a)[0]));
  }
}

// Several processes allocate and release at once, two per node so that they contend for the
// same blocks as well as for new ones.
TEST_F(IpamTest, ConcurrentProcessesNeverShareAnAddressOrLoseOne) {
  constexpr int kProcesses = 8;
  constexpr int kAllocations = 500;
  AddPool("pool", "10.70.0.0/16");
  store_.reset();
  allocator_.reset();
  const std::string url = url_;
  datastore::forked::ForkedChildren children(kProcesses, [&](int i) {
    SystemClock& clock = SystemClock::Get();
    auto store = datastore::Open(url, clock);
    if (!store.ok()) return datastore::forked::ChildFail(2, std::string(store.status().message()));
    BlockAllocator allocator(**store, clock);
    std::string node = fmt::format("node-{}", i / 2);
    for (int n = 0; n < kAllocations; ++n) {
      auto got = allocator.Allocate(Request(fmt::format("p{}-{}", i, n), node));
      if (!got.ok()) return datastore::forked::ChildFail(3, std::string(got.status().message()));
      // Every third allocation releases an earlier one: by handle or by address.
      if (n % 3 == 2) {
        absl::Status released =
            n % 2 == 0 ? allocator.ReleaseHandle(fmt::format("p{}-{}", i, n - 2))
                       : allocator.ReleaseAddress(
                             *allocator.AddressesOf(fmt::format("p{}-{}", i, n - 2))->begin());
        if (!released.ok()) return datastore::forked::ChildFail(4, std::string(released.message()));
      }
    }
    return 0;
  });
  children.Release();
  for (int code : children.Wait(HasFailure())) EXPECT_EQ(code, 0);
  auto reopened = datastore::Open(url_, clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  store_ = std::move(*reopened);

  // Every live handle's addresses are recorded in their blocks under that handle, and nothing
  // else is allocated.
  std::map<IpAddress, std::string> by_address;
  size_t allocated = 0;
  for (const auto& [cidr, block] : Blocks()) {
    allocated += block.allocations.size();
    for (const auto& [ordinal, allocation] : block.allocations) {
      EXPECT_TRUE(by_address.emplace(block.AddressAt(ordinal), allocation.handle).second);
    }
  }
  auto handles = store_->List(kHandlePrefix);
  ASSERT_TRUE(handles.ok());
  size_t held = 0;
  for (const auto& kv : handles->items) {
    std::string handle = kv.key.substr(std::string_view(kHandlePrefix).size());
    auto record = DecodeHandle(kv.value);
    ASSERT_TRUE(record.ok());
    for (const auto& [address, block] : record->addresses) {
      ++held;
      EXPECT_EQ(by_address[address], handle) << address.ToString();
      EXPECT_TRUE(block.Contains(address));
    }
  }
  const size_t expected = kProcesses * (kAllocations - kAllocations / 3);
  EXPECT_EQ(allocated, expected) << "lost or leaked allocations";
  EXPECT_EQ(held, expected);
  // Blocks are owned by the nodes that allocated in them (no borrowing was needed).
  for (const auto& [cidr, block] : Blocks()) {
    for (const auto& [ordinal, allocation] : block.allocations) {
      EXPECT_EQ(allocation.attributes.at("node"), block.affinity);
    }
  }
}

}  // namespace
}  // namespace tabby::ipam
