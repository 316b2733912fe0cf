#include "ipam/pool_guard.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <vector>

#include "base/ip.h"
#include "base/status_macros.h"
#include "ipam/block.h"

namespace tabby::ipam {
namespace {

using datastore::TxnOp;

struct PoolShape {
  IpNetwork cidr;
  int block_size = 0;
  friend bool operator==(const PoolShape&, const PoolShape&) = default;
};

absl::StatusOr<PoolShape> ShapeOf(const model::Resource& pool) {
  ASSIGN_OR_RETURN(IpNetwork cidr, IpNetwork::Parse(pool.ip_pool().cidr, true));
  int block_size = pool.ip_pool().block_size;
  if (block_size <= 0) block_size = cidr.is_v4() ? 26 : 122;
  return PoolShape{cidr, block_size};
}

struct StoredBlock {
  IpNetwork cidr;
  datastore::Revision revision = 0;
};

// The blocks inside `cidr` (which, pools not overlapping, are the pool's), keys only.
absl::StatusOr<std::vector<StoredBlock>> BlocksIn(datastore::Datastore& store,
                                                  const IpNetwork& cidr) {
  ASSIGN_OR_RETURN(datastore::ListResult keys, store.ListKeys(kBlockPrefix));
  std::vector<StoredBlock> out;
  for (const auto& kv : keys.items) {
    auto block =
        ParseBlockId(std::string_view(kv.key).substr(std::string_view(kBlockPrefix).size()));
    if (block.ok() && cidr.Overlaps(*block)) out.push_back({*block, kv.mod_revision});
  }
  return out;
}

// "10.65.0.0/26, 10.65.0.64/26 and 3 more"
std::string Sample(const std::vector<StoredBlock>& blocks) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < blocks.size() && i < 3; ++i) shown.push_back(blocks[i].cidr.ToString());
  std::string text = fmt::format("{}", fmt::join(shown, ", "));
  if (blocks.size() > shown.size())
    text += fmt::format(" and {} more", blocks.size() - shown.size());
  return text;
}

std::string Holder(const Allocation& allocation) {
  auto attribute = [&](const char* name) {
    auto it = allocation.attributes.find(name);
    return it == allocation.attributes.end() ? std::string() : it->second;
  };
  std::string workload = attribute("workload");
  if (workload.empty()) return fmt::format("handle {}", allocation.handle);
  std::string ns = attribute("namespace");
  return fmt::format("workload {}{} on {}", ns.empty() ? "" : ns + "/", workload,
                     attribute("node"));
}

}  // namespace

absl::StatusOr<PoolGuard::Conditions> PoolGuard::Check(
    const std::optional<model::Resource>& stored, const std::optional<model::Resource>& proposed) {
  const std::string& name = proposed ? proposed->metadata.name : stored->metadata.name;
  Conditions conditions;
  // Every guarded pool write touches the pool set, so two that race are checked one after the
  // other (two overlapping pools created at once).
  ASSIGN_OR_RETURN(auto pool_set, store_.Get(kPoolSetKey));
  conditions.compares.push_back({kPoolSetKey, pool_set ? pool_set->mod_revision : 0});
  conditions.ops.push_back(TxnOp::Put(kPoolSetKey, name));

  std::optional<PoolShape> after;
  if (proposed) {
    ASSIGN_OR_RETURN(after, ShapeOf(*proposed));
    datastore::ResourceStore resources(store_);
    ASSIGN_OR_RETURN(auto pools, resources.List(model::Kind::kIPPool));
    for (const auto& other : pools) {
      if (other.metadata.name == name) continue;
      auto other_shape = ShapeOf(other);
      if (other_shape.ok() && other_shape->cidr.Overlaps(after->cidr)) {
        return absl::FailedPreconditionError(fmt::format(
            "IPPool {}'s cidr {} overlaps IPPool {} ({}): an address must belong to one pool", name,
            after->cidr.ToString(), other.metadata.name, other_shape->cidr.ToString()));
      }
    }
  }
  if (!stored) return conditions;
  ASSIGN_OR_RETURN(PoolShape before, ShapeOf(*stored));
  if (after && *after == before) return conditions;  // labels, disabled, natOutgoing, ...

  // The pool's blocks as they are now, and no block claimed until the write lands.
  ASSIGN_OR_RETURN(auto claims, store_.Get(PoolClaimsKey(name)));
  conditions.compares.push_back({PoolClaimsKey(name), claims ? claims->mod_revision : 0});
  ASSIGN_OR_RETURN(std::vector<StoredBlock> blocks, BlocksIn(store_, before.cidr));

  if (after) {
    if (after->block_size != before.block_size && !blocks.empty()) {
      return absl::FailedPreconditionError(fmt::format(
          "cannot change blockSize of IPPool {} from {} to {} while it has {} blocks ({}): "
          "create a new pool with the block size you want, disable this one "
          "(spec.disabled: true), move its workloads, and delete it",
          name, before.block_size, after->block_size, blocks.size(), Sample(blocks)));
    }
    std::vector<StoredBlock> outside;
    for (const auto& block : blocks) {
      if (!after->cidr.Contains(block.cidr)) outside.push_back(block);
    }
    if (!outside.empty()) {
      return absl::FailedPreconditionError(fmt::format(
          "cannot change the cidr of IPPool {} from {} to {}: {} of its blocks lie outside the "
          "new cidr ({}); choose a cidr that contains them, or free them first (disable the "
          "pool, move its workloads, `tabbyctl ipam release`)",
          name, before.cidr.ToString(), after->cidr.ToString(), outside.size(), Sample(outside)));
    }
    return conditions;
  }

  // Delete: refused while any address is allocated; the empty blocks go with the pool.
  int allocated = 0, blocks_in_use = 0;
  std::string example;
  for (const auto& stored_block : blocks) {
    const std::string key = BlockKey(stored_block.cidr);
    ASSIGN_OR_RETURN(auto kv, store_.Get(key));
    if (!kv) continue;  // released since the listing; the compare below catches a re-claim
    ASSIGN_OR_RETURN(Block block, Annotate(DecodeBlock(kv->value), key));
    if (!block.allocations.empty()) {
      allocated += static_cast<int>(block.allocations.size());
      ++blocks_in_use;
      if (example.empty()) {
        const auto& [ordinal, allocation] = *block.allocations.begin();
        example =
            fmt::format("{} held by {}", block.AddressAt(ordinal).ToString(), Holder(allocation));
      }
      continue;
    }
    conditions.compares.push_back({key, kv->mod_revision});
    conditions.ops.push_back(TxnOp::Delete(key));
    if (!block.affinity.empty()) {
      conditions.ops.push_back(TxnOp::Delete(AffinityKey(block.affinity, block.cidr)));
    }
  }
  if (allocated > 0) {
    return absl::FailedPreconditionError(fmt::format(
        "cannot delete IPPool {}: {} of its addresses in {} blocks are allocated (e.g. {}); set "
        "spec.disabled: true so that no new addresses come from it, remove or move its "
        "workloads, then delete it (`tabbyctl ipam show --show-blocks` lists its blocks)",
        name, allocated, blocks_in_use, example));
  }
  if (claims) conditions.ops.push_back(TxnOp::Delete(PoolClaimsKey(name)));
  return conditions;
}

}  // namespace tabby::ipam
