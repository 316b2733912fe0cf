#include "ipam/maintenance.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/status_macros.h"
#include "datastore/resource_store.h"

namespace tabby::ipam {
namespace {

bool Aborted(const absl::Status& status) { return status.code() == absl::StatusCode::kAborted; }

// Handles named by endpoints, nodes that exist, and the addresses endpoints hold.
struct EndpointAddress {
  std::string endpoint;  // "<namespace>/<name>"
  std::string handle;    // its IPAM handle annotation
  std::string node;
};
struct LiveSet {
  std::set<std::string> handles;
  std::set<std::string> nodes;
  std::map<IpAddress, std::vector<EndpointAddress>> addresses;
};

// Endpoints are read one at a time and only what the check needs is kept: at 100,000 workloads
// the whole listing is hundreds of MB of resources, and every agent runs this check.
absl::StatusOr<LiveSet> ReadLive(datastore::Datastore& store) {
  datastore::ResourceStore resources(store);
  LiveSet live;
  auto note = [&](model::Resource&& endpoint) {
    live.nodes.insert(endpoint.workload_endpoint().node);
    auto handle = endpoint.metadata.annotations.find(kHandleAnnotation);
    std::string handle_name;
    if (handle != endpoint.metadata.annotations.end()) {
      live.handles.insert(handle->second);
      handle_name = handle->second;
    }
    for (const auto& text : endpoint.workload_endpoint().ip_networks) {
      auto network = IpNetwork::Parse(text);
      if (!network.ok()) continue;
      live.addresses[network->address()].push_back(
          {fmt::format("{}/{}", endpoint.metadata.namespace_name, endpoint.metadata.name),
           handle_name, endpoint.workload_endpoint().node});
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(resources.ForEachOfKind(model::Kind::kWorkloadEndpoint, note).status());
  ASSIGN_OR_RETURN(auto nodes, resources.List(model::Kind::kNode));
  for (const auto& node : nodes) live.nodes.insert(node.metadata.name);
  return live;
}

std::string NodeOf(const Allocation& allocation) {
  auto it = allocation.attributes.find("node");
  return it == allocation.attributes.end() ? "" : it->second;
}

}  // namespace

absl::StatusOr<std::vector<StoredBlock>> ListBlocks(datastore::Datastore& store) {
  ASSIGN_OR_RETURN(auto listing, store.List(kBlockPrefix));
  std::vector<StoredBlock> out;
  for (const auto& kv : listing.items) {
    ASSIGN_OR_RETURN(Block block, Annotate(DecodeBlock(kv.value), kv.key));
    out.push_back({std::move(block), kv.mod_revision});
  }
  std::sort(out.begin(), out.end(),
            [](const StoredBlock& a, const StoredBlock& b) { return a.block.cidr < b.block.cidr; });
  return out;
}

absl::StatusOr<IpamCheckReport> CheckIpam(datastore::Datastore& store, Clock& clock,
                                          const IpamCheckOptions& options) {
  // Endpoints are read before the blocks: an endpoint created after this read belongs to an
  // allocation that is younger than the grace period by the time the blocks are read.
  ASSIGN_OR_RETURN(LiveSet live, ReadLive(store));
  // Handle -> its record and the record's mod_revision, read one at a time.
  std::map<std::string, std::pair<HandleRecord, datastore::Revision>> records;
  auto note_handle = [&](datastore::KeyValue&& kv) {
    auto record = DecodeHandle(kv.value);
    records[kv.key.substr(std::string_view(kHandlePrefix).size())] = {
        record.ok() ? *std::move(record) : HandleRecord{}, kv.mod_revision};
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(store.ListEach(kHandlePrefix, note_handle).status());
  ASSIGN_OR_RETURN(std::vector<StoredBlock> blocks, ListBlocks(store));
  ASSIGN_OR_RETURN(auto affinities, store.ListKeys(kAffinityPrefix));
  const int64_t now_ms = absl::ToUnixMillis(clock.Now());
  const int64_t grace_ms = absl::ToInt64Milliseconds(options.grace);
  auto wanted = [&](const std::string& node) {
    return options.node.empty() || node == options.node;
  };

  IpamCheckReport report;
  std::map<std::string, std::set<IpAddress>> held;  // handle -> addresses its blocks give it
  std::map<std::pair<std::string, std::string>, int> blocks_per_node_pool;
  for (const auto& [block, revision] : blocks) {
    if (!block.affinity.empty()) ++blocks_per_node_pool[{block.affinity, block.pool}];
  }
  for (const auto& [block, revision] : blocks) {
    for (const auto& [ordinal, allocation] : block.allocations) {
      IpAddress address = block.AddressAt(ordinal);
      held[allocation.handle].insert(address);
      if (!wanted(NodeOf(allocation))) continue;
      ++report.allocations;
      if (live.handles.contains(allocation.handle)) {
        auto record = records.find(allocation.handle);
        if (record == records.end() || !record->second.first.addresses.contains(address)) {
          ++report.live_unrecorded;
        }
        continue;
      }
      if (now_ms - allocation.allocated_at_ms < grace_ms) {
        ++report.in_grace;
        continue;
      }
      report.leaked.push_back({address, block.cidr, allocation});
    }
    if (!wanted(block.affinity) && !(options.node.empty() && block.affinity.empty())) continue;
    const size_t allocated = block.allocations.size();
    if (block.affinity.empty()) {
      if (allocated == 0) {
        report.orphan_blocks.push_back({block.cidr, "", 0, "no host and no addresses"});
      }
    } else if (!live.nodes.contains(block.affinity)) {
      report.orphan_blocks.push_back({block.cidr, block.affinity, allocated,
                                      fmt::format("node {} does not exist", block.affinity)});
    } else if (allocated == 0 && blocks_per_node_pool[{block.affinity, block.pool}] > 1) {
      --blocks_per_node_pool[{block.affinity, block.pool}];  // keep the last one
      report.surplus_blocks.push_back(
          {block.cidr, block.affinity, 0,
           fmt::format("empty, and node {} owns another block of pool {}", block.affinity,
                       block.pool)});
    }
  }
  for (const auto& [handle, stored] : records) {
    const auto& [record, mod_revision] = stored;
    bool holds_any = false;
    for (const auto& [address, cidr] : record.addresses) {
      holds_any = holds_any || (held.contains(handle) && held[handle].contains(address));
    }
    if (holds_any) continue;
    // Scope by node: a handle with no addresses has no node of its own; report it everywhere
    // only for a cluster-wide check.
    if (!options.node.empty()) continue;
    report.orphan_handles.push_back({handle, mod_revision});
  }
  // Endpoint addresses: one endpoint each, allocated to that endpoint's handle.
  std::map<IpAddress, std::string> allocated_to;  // address -> handle, from the blocks
  for (const auto& [block, revision] : blocks) {
    for (const auto& [ordinal, allocation] : block.allocations) {
      allocated_to[block.AddressAt(ordinal)] = allocation.handle;
    }
  }
  for (const auto& [address, holders] : live.addresses) {
    if (std::none_of(holders.begin(), holders.end(),
                     [&](const EndpointAddress& h) { return wanted(h.node); })) {
      continue;
    }
    std::vector<std::string> names;
    for (const auto& holder : holders) names.push_back(holder.endpoint);
    if (holders.size() > 1) {
      report.endpoint_problems.push_back(
          {address, names, fmt::format("{} workload endpoints hold it", holders.size())});
      continue;
    }
    auto allocation = allocated_to.find(address);
    if (allocation == allocated_to.end()) {
      report.endpoint_problems.push_back({address, names, "IPAM has not allocated it"});
    } else if (allocation->second != holders.front().handle) {
      report.endpoint_problems.push_back(
          {address, names,
           fmt::format("IPAM allocated it to handle {}, not to the endpoint's handle {}",
                       allocation->second,
                       holders.front().handle.empty() ? "(none)" : holders.front().handle)});
    }
  }
  std::map<IpNetwork, std::string> affinity_of;
  for (const auto& [block, revision] : blocks) affinity_of[block.cidr] = block.affinity;
  for (const auto& kv : affinities.items) {
    std::optional<Affinity> affinity = ParseAffinityKey(kv.key);
    if (!affinity || !wanted(affinity->node)) continue;
    auto it = affinity_of.find(affinity->block);
    if (it == affinity_of.end() || it->second != affinity->node) {
      report.dangling_affinities.push_back({affinity->node, affinity->block});
    }
  }
  return report;
}

namespace {

// Releases one leaked address if it is still allocated as the check saw it.
absl::StatusOr<bool> ReleaseLeak(datastore::Datastore& store, const LeakedAddress& leak,
                                 const std::set<std::string>& live_handles) {
  if (live_handles.contains(leak.allocation.handle)) return false;
  ASSIGN_OR_RETURN(auto kv, store.Get(BlockKey(leak.block)));
  if (!kv) return false;
  ASSIGN_OR_RETURN(Block block, Annotate(DecodeBlock(kv->value), kv->key));
  auto it = block.allocations.find(block.OrdinalOf(leak.address));
  if (it == block.allocations.end() || it->second != leak.allocation) return false;
  block.allocations.erase(it);
  std::string handle_key = HandleKey(leak.allocation.handle);
  ASSIGN_OR_RETURN(auto handle_kv, store.Get(handle_key));
  std::vector<datastore::Compare> compares = {
      {kv->key, kv->mod_revision}, {handle_key, handle_kv ? handle_kv->mod_revision : 0}};
  std::vector<datastore::TxnOp> ops = {datastore::TxnOp::Put(kv->key, EncodeBlock(block))};
  if (handle_kv) {
    HandleRecord record = DecodeHandle(handle_kv->value).value_or(HandleRecord{});
    record.addresses.erase(leak.address);
    ops.push_back(record.addresses.empty()
                      ? datastore::TxnOp::Delete(handle_key)
                      : datastore::TxnOp::Put(handle_key, EncodeHandle(record)));
  }
  auto committed = store.Txn(compares, ops);
  if (committed.ok()) return true;
  if (Aborted(committed.status())) return false;
  return committed.status();
}

// Releases a block (deleting it if empty, else dropping its affinity) if it is as the check saw
// it: same host, same number of allocations less the `released` leaks this repair took out.
absl::StatusOr<bool> ReleaseBlock(datastore::Datastore& store, const BlockFinding& finding,
                                  size_t released) {
  ASSIGN_OR_RETURN(auto kv, store.Get(BlockKey(finding.cidr)));
  if (!kv) return false;
  ASSIGN_OR_RETURN(Block block, Annotate(DecodeBlock(kv->value), kv->key));
  if (block.affinity != finding.node || block.allocations.size() + released != finding.allocated) {
    return false;
  }
  std::vector<datastore::Compare> compares = {{kv->key, kv->mod_revision}};
  std::vector<datastore::TxnOp> ops;
  if (block.allocations.empty()) {
    ops.push_back(datastore::TxnOp::Delete(kv->key));
  } else {
    block.affinity.clear();
    ops.push_back(datastore::TxnOp::Put(kv->key, EncodeBlock(block)));
  }
  if (!finding.node.empty())
    ops.push_back(datastore::TxnOp::Delete(AffinityKey(finding.node, finding.cidr)));
  auto committed = store.Txn(compares, ops);
  if (committed.ok()) return true;
  if (Aborted(committed.status())) return false;
  return committed.status();
}

}  // namespace

absl::StatusOr<IpamRepairSummary> RepairIpam(datastore::Datastore& store,
                                             const IpamCheckReport& report) {
  IpamRepairSummary summary;
  // Re-read which handles are live: an endpoint recorded since the check keeps its addresses.
  ASSIGN_OR_RETURN(LiveSet live, ReadLive(store));
  auto count = [&](absl::StatusOr<bool> done, int& counter) -> absl::Status {
    if (!done.ok()) return done.status();
    ++(*done ? counter : summary.skipped);
    return absl::OkStatus();
  };
  std::map<IpNetwork, size_t> released_in;  // leaks released per block, for ReleaseBlock
  for (const auto& leak : report.leaked) {
    ASSIGN_OR_RETURN(bool released, ReleaseLeak(store, leak, live.handles));
    if (released) ++released_in[leak.block];
    RETURN_IF_ERROR(count(released, summary.released_addresses));
  }
  for (const auto& orphan : report.orphan_handles) {
    auto deleted = store.Txn({{HandleKey(orphan.handle), orphan.revision}},
                             {datastore::TxnOp::Delete(HandleKey(orphan.handle))});
    if (!deleted.ok() && !Aborted(deleted.status())) return deleted.status();
    ++(deleted.ok() ? summary.deleted_handles : summary.skipped);
  }
  for (const auto* findings : {&report.orphan_blocks, &report.surplus_blocks}) {
    for (const auto& finding : *findings) {
      RETURN_IF_ERROR(
          count(ReleaseBlock(store, finding, released_in[finding.cidr]), summary.released_blocks));
    }
  }
  for (const auto& dangling : report.dangling_affinities) {
    std::string key = AffinityKey(dangling.node, dangling.cidr);
    ASSIGN_OR_RETURN(auto kv, store.Get(key));
    if (!kv) continue;
    // Only if the block still does not belong to the node.
    ASSIGN_OR_RETURN(auto block_kv, store.Get(BlockKey(dangling.cidr)));
    if (block_kv) {
      auto block = DecodeBlock(block_kv->value);
      if (block.ok() && block->affinity == dangling.node) {
        ++summary.skipped;
        continue;
      }
    }
    std::vector<datastore::Compare> compares = {
        {key, kv->mod_revision}, {BlockKey(dangling.cidr), block_kv ? block_kv->mod_revision : 0}};
    auto deleted = store.Txn(compares, {datastore::TxnOp::Delete(key)});
    if (!deleted.ok() && !Aborted(deleted.status())) return deleted.status();
    ++(deleted.ok() ? summary.released_affinities : summary.skipped);
  }
  return summary;
}

}  // namespace tabby::ipam
