// The rules an IPPool write keeps so that no allocated address is stranded outside its pool:
// - pools do not overlap (an address belongs to one pool);
// - a pool's cidr may change (grow, shrink, move) only if every block it has stays inside the
//   new cidr, and its blockSize only while it has no blocks;
// - a pool is deleted only when none of its addresses is allocated; its empty blocks and their
//   affinities are deleted with it, in the same transaction.
// Disabling a pool is always allowed: it is how a pool is drained before it is deleted.
//
// Races: the check and the write are one transaction (datastore::WriteGuard). It compares the
// revision of every block it relied on, of every other pool, of a key every pool write touches
// (two overlapping pools created at once), and of the pool's claims key, which every block claim
// touches while comparing the pool's own revision (block_allocator.cc). So a claim either lands
// before the change, and the change is checked again with it, or after it, against the new pool.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "datastore/datastore.h"
#include "datastore/resource_store.h"
#include "model/resources.h"

namespace tabby::ipam {

// Touched by every guarded pool write.
inline constexpr char kPoolSetKey[] = "/tabby/v1/ipam/pool-set";

class PoolGuard final : public datastore::WriteGuard {
 public:
  explicit PoolGuard(datastore::Datastore& store) : store_(store) {}

  absl::StatusOr<Conditions> Check(const std::optional<model::Resource>& stored,
                                   const std::optional<model::Resource>& proposed) override;

 private:
  datastore::Datastore& store_;
};

}  // namespace tabby::ipam
