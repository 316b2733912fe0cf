#include "ipam/block_allocator.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "base/status_macros.h"
#include "datastore/resource_store.h"
#include "selector/selector.h"

namespace tabby::ipam {
namespace {

// Lost races are retried from a fresh read; this bounds a pathological livelock, not contention
// (each retry means another allocator made progress).
constexpr int kMaxAttempts = 200;

bool LostRace(const absl::Status& status) { return status.code() == absl::StatusCode::kAborted; }

std::string PoolList(const std::vector<BlockAllocator::Pool>& pools) {
  std::vector<std::string> names;
  for (const auto& pool : pools) {
    names.push_back(fmt::format("{} ({})", pool.name, pool.cidr.ToString()));
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

const BlockAllocator::Pool* PoolOf(const std::vector<BlockAllocator::Pool>& pools,
                                   const IpNetwork& block) {
  for (const auto& pool : pools) {
    if (pool.cidr.Contains(block)) return &pool;
  }
  return nullptr;
}

}  // namespace

IpNetwork BlockOf(const IpAddress& address, int block_size) {
  return IpNetwork(address, block_size).Masked();
}

absl::StatusOr<std::vector<BlockAllocator::Pool>> BlockAllocator::UsablePools(
    const AllocationRequest& request, bool v4) {
  datastore::ResourceStore resources(store_);
  ASSIGN_OR_RETURN(auto pools, resources.List(model::Kind::kIPPool));
  ASSIGN_OR_RETURN(auto node, resources.Get({model::Kind::kNode, "", request.node}));
  model::Labels node_labels = node ? node->metadata.labels : model::Labels{};
  const auto& wanted = v4 ? request.ipv4_pools : request.ipv6_pools;
  std::vector<Pool> out;
  for (const auto& pool : pools) {
    const auto& spec = pool.ip_pool();
    auto cidr = IpNetwork::Parse(spec.cidr, true);
    if (!cidr.ok() || cidr->is_v4() != v4) continue;
    bool named = std::find(wanted.begin(), wanted.end(), pool.metadata.name) != wanted.end();
    if (!wanted.empty() && !named) continue;
    if (spec.disabled) continue;
    if (std::find(spec.allowed_uses.begin(), spec.allowed_uses.end(), "Workload") ==
        spec.allowed_uses.end()) {
      continue;
    }
    auto node_selector = selector::Selector::Parse(spec.node_selector);
    if (!node_selector.ok() || !node_selector->Matches(node_labels)) continue;
    int block_size = spec.block_size > 0 ? spec.block_size : (v4 ? 26 : 122);
    out.push_back(Pool{pool.metadata.name, *cidr, block_size,
                       std::strtoll(pool.metadata.resource_version.c_str(), nullptr, 10)});
  }
  for (const auto& name : wanted) {
    bool found = std::any_of(out.begin(), out.end(), [&](const Pool& p) { return p.name == name; });
    if (!found) {
      return absl::NotFoundError(fmt::format(
          "IP pool {} does not exist, is disabled, is not an IPv{} pool for workloads, or does "
          "not allow node {}",
          name, v4 ? 4 : 6, request.node));
    }
  }
  if (out.empty()) {
    return absl::NotFoundError(fmt::format(
        "no enabled IPv{} pool is usable on node {}: create an IPPool (tabbyctl apply -f)",
        v4 ? 4 : 6, request.node));
  }
  // Named pools are tried in the order the request names them (the listing is by name).
  auto rank = [&](const Pool& pool) { return std::find(wanted.begin(), wanted.end(), pool.name); };
  std::stable_sort(out.begin(), out.end(),
                   [&](const Pool& a, const Pool& b) { return rank(a) < rank(b); });
  return out;
}

absl::StatusOr<BlockAllocator::HandleState> BlockAllocator::ReadHandle(const std::string& handle) {
  HandleState state;
  state.key = HandleKey(handle);
  ASSIGN_OR_RETURN(auto kv, store_.Get(state.key));
  if (kv) {
    ASSIGN_OR_RETURN(state.record, Annotate(DecodeHandle(kv->value), state.key));
    state.revision = kv->mod_revision;
  }
  return state;
}

Allocation BlockAllocator::MakeAllocation(const AllocationRequest& request) const {
  Allocation allocation;
  allocation.handle = request.handle;
  allocation.attributes = request.attributes;
  allocation.attributes["node"] = request.node;
  allocation.allocated_at_ms = absl::ToUnixMillis(clock_.Now());
  return allocation;
}

absl::StatusOr<IpAddress> BlockAllocator::Take(const datastore::KeyValue& kv, Block block,
                                               uint64_t ordinal, const AllocationRequest& request,
                                               HandleState& handle) {
  block.allocations[ordinal] = MakeAllocation(request);
  IpAddress address = block.AddressAt(ordinal);
  HandleRecord updated = handle.record;
  updated.addresses[address] = block.cidr;
  if (!request.handle_attributes.empty()) updated.attributes = request.handle_attributes;
  ASSIGN_OR_RETURN(datastore::Revision revision,
                   store_.Txn({{kv.key, kv.mod_revision}, {handle.key, handle.revision}},
                              {datastore::TxnOp::Put(kv.key, EncodeBlock(block)),
                               datastore::TxnOp::Put(handle.key, EncodeHandle(updated))}));
  handle.record = std::move(updated);
  handle.revision = revision;
  return address;
}

absl::StatusOr<IpAddress> BlockAllocator::Claim(const Pool& pool,
                                                const std::vector<IpNetwork>& existing,
                                                const AllocationRequest& request,
                                                HandleState& handle) {
  std::set<IpNetwork> same_size;
  std::vector<IpNetwork> other_size;  // blocks of another size (a pool's old blockSize)
  for (const auto& block : existing) {
    if (!pool.cidr.Overlaps(block)) continue;
    (block.prefix_length() == pool.block_size ? same_size.insert(block),
     void()                                   : other_size.push_back(block));
  }
  const uint64_t block_addresses = IpNetwork(pool.cidr.address(), pool.block_size).Size();
  const uint64_t blocks = pool.cidr.Size() / block_addresses;
  // The first free block: at most |existing| + 1 candidates are looked at.
  for (uint64_t i = 0; i < blocks; ++i) {
    IpNetwork candidate(pool.cidr.address().Plus(i * block_addresses), pool.block_size);
    if (same_size.contains(candidate)) continue;
    if (std::any_of(other_size.begin(), other_size.end(),
                    [&](const IpNetwork& b) { return b.Overlaps(candidate); })) {
      continue;
    }
    Block block;
    block.cidr = candidate;
    block.pool = pool.name;
    block.affinity = request.node;
    block.allocations[0] = MakeAllocation(request);
    IpAddress address = block.AddressAt(0);
    HandleRecord updated = handle.record;
    updated.addresses[address] = block.cidr;
    if (!request.handle_attributes.empty()) updated.attributes = request.handle_attributes;
    std::string block_key = BlockKey(candidate);
    std::string affinity_key = AffinityKey(request.node, candidate);
    // The pool must still be as read (not shrunk or deleted meanwhile), and the claim touches
    // the pool's claims key, which a pool change compares (see pool_guard.h).
    const std::string pool_key =
        datastore::ResourceStore::Key({model::Kind::kIPPool, "", pool.name});
    absl::StatusOr<datastore::Revision> revision =
        store_.Txn({{block_key, 0},
                    {affinity_key, 0},
                    {handle.key, handle.revision},
                    {pool_key, pool.revision}},
                   {datastore::TxnOp::Put(block_key, EncodeBlock(block)),
                    datastore::TxnOp::Put(affinity_key, nlohmann::json{{"pool", pool.name}}.dump()),
                    datastore::TxnOp::Put(handle.key, EncodeHandle(updated)),
                    datastore::TxnOp::Put(PoolClaimsKey(pool.name), BlockId(candidate))});
    if (revision.status().code() == absl::StatusCode::kAborted) {
      ASSIGN_OR_RETURN(auto current, store_.Get(pool_key));
      if (!current || current->mod_revision != pool.revision) {
        return absl::FailedPreconditionError(
            fmt::format("IP pool {} changed while allocating from it", pool.name));
      }
    }
    RETURN_IF_ERROR(revision.status());
    handle.record = std::move(updated);
    handle.revision = *revision;
    return address;
  }
  return absl::NotFoundError(fmt::format("IP pool {} has no free block", pool.name));
}

absl::StatusOr<IpAddress> BlockAllocator::AllocateOne(const std::vector<Pool>& pools,
                                                      const AllocationRequest& request,
                                                      const IpamConfig& config,
                                                      HandleState& handle) {
  const bool v4 = pools.front().cidr.is_v4();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    // 1. The node's own blocks, pool by pool in the order the pools were given.
    ASSIGN_OR_RETURN(auto affinities, store_.ListKeys(AffinityPrefix(request.node)));
    struct Owned {
      const Pool* pool;
      IpNetwork cidr;
      datastore::Revision claimed;  // the affinity's create revision
    };
    std::vector<Owned> owned;
    int owned_of_family = 0;
    for (const auto& kv : affinities.items) {
      auto cidr = ParseBlockId(kv.key.substr(AffinityPrefix(request.node).size()));
      if (!cidr.ok() || cidr->is_v4() != v4) continue;
      ++owned_of_family;
      if (const Pool* pool = PoolOf(pools, *cidr))
        owned.push_back({pool, *cidr, kv.create_revision});
    }
    // Within a pool, the most recently claimed block first: the older ones filled up before it
    // was claimed, so the common case reads one block, not every block the host owns. (Holes
    // that releases leave in older blocks are still found before a new block is claimed.)
    std::sort(owned.begin(), owned.end(), [&](const Owned& a, const Owned& b) {
      auto pa = std::distance(pools.data(), a.pool), pb = std::distance(pools.data(), b.pool);
      return pa != pb ? pa < pb : a.claimed > b.claimed;
    });
    bool raced = false;
    for (const auto& [pool, cidr, claimed] : owned) {
      ASSIGN_OR_RETURN(auto kv, store_.Get(BlockKey(cidr)));
      if (!kv) continue;  // an affinity whose block is gone: ipam check reports it
      ASSIGN_OR_RETURN(Block block, Annotate(DecodeBlock(kv->value), kv->key));
      if (block.affinity != request.node) continue;
      std::optional<uint64_t> ordinal = block.FirstFree();
      if (!ordinal) continue;
      auto taken = Take(*kv, std::move(block), *ordinal, request, handle);
      if (taken.ok() || !LostRace(taken.status())) return taken;
      raced = true;
      break;
    }
    if (raced) continue;

    // 2. Claim a new block.
    if (config.max_blocks_per_host <= 0 || owned_of_family < config.max_blocks_per_host) {
      ASSIGN_OR_RETURN(auto block_keys, store_.ListKeys(kBlockPrefix));
      std::vector<IpNetwork> existing;
      for (const auto& kv : block_keys.items) {
        auto cidr = ParseBlockId(kv.key.substr(std::string_view(kBlockPrefix).size()));
        if (cidr.ok()) existing.push_back(*cidr);
      }
      for (const auto& pool : pools) {
        auto claimed = Claim(pool, existing, request, handle);
        if (claimed.ok()) return claimed;
        if (LostRace(claimed.status())) {
          raced = true;
          break;
        }
        if (claimed.status().code() != absl::StatusCode::kNotFound) return claimed.status();
      }
      if (raced) continue;
    }

    // 3. Borrow from another host's block.
    if (config.strict_affinity) break;
    ASSIGN_OR_RETURN(auto blocks, store_.List(kBlockPrefix));
    for (const auto& kv : blocks.items) {
      auto block = DecodeBlock(kv.value);
      if (!block.ok() || PoolOf(pools, block->cidr) == nullptr) continue;
      std::optional<uint64_t> ordinal = block->FirstFree();
      if (!ordinal) continue;
      auto taken = Take(kv, std::move(*block), *ordinal, request, handle);
      if (taken.ok() || !LostRace(taken.status())) return taken;
      raced = true;
      break;
    }
    if (!raced) break;
  }
  std::string why =
      config.strict_affinity
          ? fmt::format(" for node {} (strictAffinity forbids borrowing from other hosts' blocks)",
                        request.node)
          : "";
  if (config.max_blocks_per_host > 0 && config.strict_affinity) {
    why += fmt::format("; maxBlocksPerHost is {}", config.max_blocks_per_host);
  }
  return absl::ResourceExhaustedError(
      fmt::format("no free address in IP pool {}{}", PoolList(pools), why));
}

absl::StatusOr<std::vector<IpAddress>> BlockAllocator::Allocate(const AllocationRequest& request) {
  if (request.handle.empty()) return absl::InvalidArgumentError("allocation needs a handle");
  if (request.node.empty()) return absl::InvalidArgumentError("allocation needs a node name");
  ASSIGN_OR_RETURN(HandleState handle, ReadHandle(request.handle));
  std::vector<IpAddress> existing;
  for (const auto& [address, block] : handle.record.addresses) existing.push_back(address);
  bool has4 = std::any_of(existing.begin(), existing.end(), [](auto& a) { return a.is_v4(); });
  bool has6 = std::any_of(existing.begin(), existing.end(), [](auto& a) { return a.is_v6(); });
  // A retried ADD gets what it had.
  if ((!request.ipv4 || has4) && (!request.ipv6 || has6) && !existing.empty()) return existing;

  ASSIGN_OR_RETURN(IpamConfig config, ReadConfig(store_));
  std::vector<IpAddress> allocated;
  for (bool v4 : {true, false}) {
    if ((v4 ? !request.ipv4 : !request.ipv6) || (v4 ? has4 : has6)) continue;
    absl::StatusOr<IpAddress> address;
    // A pool that changes under a claim (kFailedPrecondition) is read again.
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      auto pools = UsablePools(request, v4);
      address = pools.ok() ? AllocateOne(*pools, request, config, handle) : pools.status();
      if (address.status().code() != absl::StatusCode::kFailedPrecondition) break;
    }
    if (!address.ok()) {
      // All or nothing: give back what this call took.
      for (const auto& a : allocated) (void)ReleaseAddress(a);
      return address.status();
    }
    allocated.push_back(*address);
  }
  existing.insert(existing.end(), allocated.begin(), allocated.end());
  return existing;
}

absl::StatusOr<HeldAddresses> BlockAllocator::Lookup(const std::string& handle) {
  ASSIGN_OR_RETURN(HandleState state, ReadHandle(handle));
  HeldAddresses held;
  for (const auto& [address, block] : state.record.addresses) held.addresses.push_back(address);
  held.attributes = std::move(state.record.attributes);
  return held;
}

absl::Status BlockAllocator::ReleaseHandle(const std::string& handle) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    ASSIGN_OR_RETURN(HandleState state, ReadHandle(handle));
    if (state.revision == 0) return absl::OkStatus();  // nothing held: idempotent
    std::vector<datastore::Compare> compares = {{state.key, state.revision}};
    std::vector<datastore::TxnOp> ops;
    std::map<IpNetwork, std::vector<IpAddress>> by_block;
    for (const auto& [address, block] : state.record.addresses) by_block[block].push_back(address);
    for (const auto& [cidr, addresses] : by_block) {
      ASSIGN_OR_RETURN(auto kv, store_.Get(BlockKey(cidr)));
      if (!kv) continue;
      ASSIGN_OR_RETURN(Block block, Annotate(DecodeBlock(kv->value), kv->key));
      bool changed = false;
      for (const auto& address : addresses) {
        auto it = block.allocations.find(block.OrdinalOf(address));
        // Only what the handle still holds.
        if (it != block.allocations.end() && it->second.handle == handle) {
          block.allocations.erase(it);
          changed = true;
        }
      }
      if (!changed) continue;
      compares.push_back({kv->key, kv->mod_revision});
      ops.push_back(datastore::TxnOp::Put(kv->key, EncodeBlock(block)));
    }
    ops.push_back(datastore::TxnOp::Delete(state.key));
    auto committed = store_.Txn(compares, ops);
    if (committed.ok()) return absl::OkStatus();
    if (!LostRace(committed.status())) {
      return Annotate(committed.status(), fmt::format("releasing IPAM handle {}", handle));
    }
  }
  return absl::AbortedError(
      fmt::format("releasing IPAM handle {}: too many concurrent changes, retry", handle));
}

absl::Status BlockAllocator::ReleaseAddress(const IpAddress& address) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    // The block that holds the address: block keys only, no values.
    ASSIGN_OR_RETURN(auto block_keys, store_.ListKeys(kBlockPrefix));
    std::optional<std::string> key;
    for (const auto& kv : block_keys.items) {
      auto cidr = ParseBlockId(kv.key.substr(std::string_view(kBlockPrefix).size()));
      if (cidr.ok() && cidr->Contains(address)) key = kv.key;
    }
    if (!key) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto kv, store_.Get(*key));
    if (!kv) continue;
    ASSIGN_OR_RETURN(Block block, Annotate(DecodeBlock(kv->value), kv->key));
    auto it = block.allocations.find(block.OrdinalOf(address));
    if (it == block.allocations.end()) return absl::OkStatus();
    ASSIGN_OR_RETURN(HandleState handle, ReadHandle(it->second.handle));
    block.allocations.erase(it);
    std::vector<datastore::Compare> compares = {{kv->key, kv->mod_revision},
                                                {handle.key, handle.revision}};
    std::vector<datastore::TxnOp> ops = {datastore::TxnOp::Put(kv->key, EncodeBlock(block))};
    if (handle.revision != 0) {
      handle.record.addresses.erase(address);
      ops.push_back(handle.record.addresses.empty()
                        ? datastore::TxnOp::Delete(handle.key)
                        : datastore::TxnOp::Put(handle.key, EncodeHandle(handle.record)));
    }
    auto committed = store_.Txn(compares, ops);
    if (committed.ok()) return absl::OkStatus();
    if (!LostRace(committed.status())) {
      return Annotate(committed.status(), fmt::format("releasing {}", address.ToString()));
    }
  }
  return absl::AbortedError(
      fmt::format("releasing {}: too many concurrent changes, retry", address.ToString()));
}

}  // namespace tabby::ipam
