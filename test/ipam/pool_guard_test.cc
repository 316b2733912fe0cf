#include "ipam/pool_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "datastore/forwarding_datastore.h"
#include "datastore/resource_store.h"
#include "ipam_fixture.h"

namespace tabby::ipam {
namespace {

using ::testing::HasSubstr;

// Pool writes as tabbyctl makes them: through a ResourceStore guarded by a PoolGuard.
class PoolGuardTest : public IpamTest {
 protected:
  absl::Status WritePool(datastore::Datastore& store, const std::string& name,
                         const std::string& cidr, int block_size = 0, bool disabled = false) {
    datastore::ResourceStore resources(store);
    PoolGuard guard(store);
    resources.Guard(model::Kind::kIPPool, guard);
    return resources.Apply(testing::PoolResource(name, cidr, block_size, disabled)).status();
  }
  absl::Status WritePool(const std::string& name, const std::string& cidr, int block_size = 0,
                         bool disabled = false) {
    return WritePool(*store_, name, cidr, block_size, disabled);
  }
  absl::Status DeletePool(const std::string& name) {
    datastore::ResourceStore resources(*store_);
    PoolGuard guard(*store_);
    resources.Guard(model::Kind::kIPPool, guard);
    return resources.Delete({model::Kind::kIPPool, "", name});
  }
  std::optional<std::string> StoredCidr(const std::string& name) {
    auto pool = datastore::ResourceStore(*store_).Get({model::Kind::kIPPool, "", name});
    EXPECT_TRUE(pool.ok()) << pool.status();
    if (!pool.ok() || !*pool) return std::nullopt;
    return (*pool)->ip_pool().cidr;
  }
  bool Exists(const std::string& key) {
    auto kv = store_->Get(key);
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() && kv->has_value();
  }
};

TEST_F(PoolGuardTest, PoolsMayNotOverlap) {
  ASSERT_TRUE(WritePool("private", "10.65.0.0/16").ok());
  absl::Status overlapping = WritePool("inner", "10.65.3.0/24");
  EXPECT_EQ(overlapping.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(overlapping.message(),
              HasSubstr("IPPool inner's cidr 10.65.3.0/24 overlaps IPPool private (10.65.0.0/16)"));
  EXPECT_EQ(StoredCidr("inner"), std::nullopt);

  ASSERT_TRUE(WritePool("public", "192.0.2.0/24").ok());
  EXPECT_EQ(WritePool("public", "10.0.0.0/8").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StoredCidr("public"), "192.0.2.0/24");
  // IPv6 the same; and a pool overlaps nothing by being rewritten as it is.
  ASSERT_TRUE(WritePool("v6", "fd00:65::/64").ok());
  EXPECT_EQ(WritePool("v6-more", "fd00:65::/48").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(WritePool("v6", "fd00:65::/64").ok());
}

TEST_F(PoolGuardTest, APoolInUseIsNotDeletedAndAnEmptyOneTakesItsBlocksAlong) {
  ASSERT_TRUE(WritePool("private", "10.65.0.0/16").ok());
  ASSERT_TRUE(allocator_->Allocate(Request("web", "node-1")).ok());
  ASSERT_TRUE(allocator_->Allocate(Request("db", "node-2")).ok());

  absl::Status refused = DeletePool("private");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("2 of its addresses in 2 blocks are allocated"));
  EXPECT_THAT(refused.message(), HasSubstr("10.65.0.0 held by workload default/web on node-1"));
  EXPECT_THAT(refused.message(), HasSubstr("spec.disabled: true"));
  EXPECT_EQ(StoredCidr("private"), "10.65.0.0/16");

  // Draining: disabling is allowed while in use.
  ASSERT_TRUE(WritePool("private", "10.65.0.0/16", 0, /*disabled=*/true).ok());
  ASSERT_TRUE(allocator_->ReleaseHandle("web").ok());
  EXPECT_EQ(DeletePool("private").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(allocator_->ReleaseHandle("db").ok());
  ASSERT_EQ(Blocks().size(), 2u);  // empty, still affine to their hosts
  ASSERT_TRUE(DeletePool("private").ok());
  EXPECT_EQ(StoredCidr("private"), std::nullopt);
  EXPECT_TRUE(Blocks().empty());
  EXPECT_FALSE(Exists(AffinityKey("node-1", *IpNetwork::Parse("10.65.0.0/26", true))));
  EXPECT_FALSE(Exists(AffinityKey("node-2", *IpNetwork::Parse("10.65.0.64/26", true))));
  EXPECT_FALSE(Exists(PoolClaimsKey("private")));
  EXPECT_EQ(DeletePool("private").code(), absl::StatusCode::kNotFound);
}

TEST_F(PoolGuardTest, ACidrChangeMustKeepEveryBlockInside) {
  ASSERT_TRUE(WritePool("private", "10.65.0.0/16").ok());
  ASSERT_TRUE(allocator_->Allocate(Request("web", "node-1")).ok());  // block 10.65.0.0/26

  EXPECT_TRUE(WritePool("private", "10.65.0.0/24").ok());  // shrinks, keeps the block
  EXPECT_TRUE(WritePool("private", "10.64.0.0/15").ok());  // grows

  absl::Status moved = WritePool("private", "10.65.1.0/24");
  EXPECT_EQ(moved.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(moved.message(),
              HasSubstr("cannot change the cidr of IPPool private from 10.64.0.0/15 to "
                        "10.65.1.0/24: 1 of its blocks lie outside the new cidr (10.65.0.0/26)"));
  EXPECT_EQ(StoredCidr("private"), "10.64.0.0/15");

  absl::Status resized = WritePool("private", "10.64.0.0/15", 28);
  EXPECT_EQ(resized.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(resized.message(),
              HasSubstr("cannot change blockSize of IPPool private from 26 to 28 while it has 1 "
                        "blocks (10.65.0.0/26)"));

  // Once its last block is given back, the pool may take any shape.
  ASSERT_TRUE(allocator_->ReleaseHandle("web").ok());
  IpNetwork block = *IpNetwork::Parse("10.65.0.0/26", true);
  ASSERT_TRUE(store_
                  ->Txn({}, {datastore::TxnOp::Delete(BlockKey(block)),
                             datastore::TxnOp::Delete(AffinityKey("node-1", block))})
                  .ok());
  EXPECT_TRUE(WritePool("private", "10.66.0.0/24", 28).ok());
}

// Steps into the one transaction whose ops touch `key`, running `racer` first (once).
class RaceBeforeTxn : public datastore::ForwardingDatastore {
 public:
  RaceBeforeTxn(std::unique_ptr<datastore::Datastore> inner, std::string key,
                std::function<void(datastore::Datastore&)> racer)
      : ForwardingDatastore(std::move(inner)), key_(std::move(key)), racer_(std::move(racer)) {}

  absl::StatusOr<datastore::Revision> Txn(const std::vector<datastore::Compare>& compares,
                                          const std::vector<datastore::TxnOp>& ops) override {
    bool touches = std::any_of(ops.begin(), ops.end(), [&](auto& op) { return op.key == key_; });
    if (touches && racer_) std::exchange(racer_, nullptr)(inner());
    return inner().Txn(compares, ops);
  }

 private:
  std::string key_;
  std::function<void(datastore::Datastore&)> racer_;
};

TEST_F(PoolGuardTest, AClaimThatLosesToAPoolChangeClaimsInsideTheNewCidr) {
  ASSERT_TRUE(WritePool("private", "10.65.0.0/16").ok());
  auto inner = datastore::Open(url_, clock_);
  ASSERT_TRUE(inner.ok());
  // The allocator read the pool as 10.65.0.0/16; before its claim lands, the pool moves.
  RaceBeforeTxn racing(std::move(*inner), PoolClaimsKey("private"),
                       [this](datastore::Datastore& store) {
                         ASSERT_TRUE(WritePool(store, "private", "10.65.128.0/17").ok());
                       });
  BlockAllocator allocator(racing, clock_);
  auto addresses = allocator.Allocate(Request("web", "node-1"));
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_EQ(addresses->at(0).ToString(), "10.65.128.0");
  EXPECT_EQ(StoredCidr("private"), "10.65.128.0/17");
  ASSERT_EQ(Blocks().size(), 1u);
  EXPECT_EQ(Blocks().begin()->first.ToString(), "10.65.128.0/26");
}

TEST_F(PoolGuardTest, APoolChangeThatLosesToAClaimIsCheckedAgainAndRefused) {
  ASSERT_TRUE(WritePool("private", "10.65.0.0/16").ok());
  auto inner = datastore::Open(url_, clock_);
  ASSERT_TRUE(inner.ok());
  // The guard found no blocks; before the pool write lands, a host claims one.
  RaceBeforeTxn racing(std::move(*inner), kPoolSetKey, [this](datastore::Datastore&) {
    ASSERT_TRUE(allocator_->Allocate(Request("web", "node-1")).ok());
  });
  absl::Status moved = WritePool(racing, "private", "10.65.128.0/17");
  EXPECT_EQ(moved.code(), absl::StatusCode::kFailedPrecondition) << moved;
  EXPECT_THAT(moved.message(), HasSubstr("10.65.0.0/26"));
  EXPECT_EQ(StoredCidr("private"), "10.65.0.0/16");
}

TEST_F(PoolGuardTest, ADeleteThatLosesToAnAllocationIsRefused) {
  ASSERT_TRUE(WritePool("private", "10.65.0.0/16").ok());
  ASSERT_TRUE(allocator_->Allocate(Request("web", "node-1")).ok());
  ASSERT_TRUE(allocator_->ReleaseHandle("web").ok());
  auto inner = datastore::Open(url_, clock_);
  ASSERT_TRUE(inner.ok());
  // The guard saw the empty block; before the delete lands, node-1 allocates from it again.
  RaceBeforeTxn racing(std::move(*inner), kPoolSetKey, [this](datastore::Datastore&) {
    ASSERT_TRUE(allocator_->Allocate(Request("db", "node-1")).ok());
  });
  datastore::ResourceStore resources(racing);
  PoolGuard guard(racing);
  resources.Guard(model::Kind::kIPPool, guard);
  absl::Status deleted = resources.Delete({model::Kind::kIPPool, "", "private"});
  EXPECT_EQ(deleted.code(), absl::StatusCode::kFailedPrecondition) << deleted;
  EXPECT_THAT(deleted.message(), HasSubstr("held by workload default/db on node-1"));
  EXPECT_EQ(StoredCidr("private"), "10.65.0.0/16");
  EXPECT_EQ(Blocks().size(), 1u);
}

}  // namespace
}  // namespace tabby::ipam
