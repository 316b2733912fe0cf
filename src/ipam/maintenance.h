// Leak checks and repair for block IPAM: what `tabbyctl ipam check` reports and `tabbyctl ipam
// release` repairs, and what the agent runs periodically for its own node.
//
// A workload is live when a WorkloadEndpoint names its IPAM handle (annotation
// tabby.dev/ipam-handle); a node exists when a Node resource or a WorkloadEndpoint names it.
// Findings:
//   - leaked address: allocated to a handle no endpoint names, for longer than the grace period
//     (a CNI ADD records its endpoint after allocating, so a young allocation may be a workload
//     in the middle of starting: it is never reported);
//   - orphan handle: a handle record none of whose addresses its blocks allocate to it;
//   - orphan block: a block affine to a node that does not exist (released when empty; otherwise
//     only its affinity is dropped, its live addresses stay), or a block with neither affinity
//     nor allocations;
//   - dangling affinity: an affinity whose block is gone or belongs to another node;
//   - surplus block: an empty block of a node that owns another block of the same pool (given
//     back so that an idle host does not hoard blocks; it keeps one per pool);
//   - endpoint address problem: an address that two workload endpoints hold, or that an
//     endpoint holds without IPAM allocating it to the endpoint's handle (the next workload
//     given it would share or inherit the endpoint's identity). Reported, never repaired: which
//     endpoint is stale is for a person to decide (delete it with tabbyctl delete wep).
// Repair re-reads every record and changes it only by compare-and-swap, so anything that changed
// since the check (an address reused, a handle that gained a workload) is skipped, not released.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/clock.h"
#include "datastore/datastore.h"
#include "ipam/block.h"

namespace tabby::ipam {

struct IpamCheckOptions {
  absl::Duration grace = absl::Minutes(10);
  // Only findings about this node's allocations and blocks; empty = every node.
  std::string node;
};

struct LeakedAddress {
  IpAddress address;
  IpNetwork block;
  Allocation allocation;
};

struct OrphanHandle {
  std::string handle;
  datastore::Revision revision = 0;
};

struct BlockFinding {
  IpNetwork cidr;
  std::string node;  // its affinity
  size_t allocated = 0;
  std::string reason;
};

struct DanglingAffinity {
  std::string node;
  IpNetwork cidr;
};

struct EndpointAddressProblem {
  IpAddress address;
  std::vector<std::string> endpoints;  // "<namespace>/<name>" of each endpoint holding it
  std::string reason;
};

struct IpamCheckReport {
  std::vector<LeakedAddress> leaked;
  std::vector<OrphanHandle> orphan_handles;
  std::vector<BlockFinding> orphan_blocks;
  std::vector<BlockFinding> surplus_blocks;
  std::vector<DanglingAffinity> dangling_affinities;
  std::vector<EndpointAddressProblem> endpoint_problems;
  size_t allocations = 0;      // allocations looked at
  size_t in_grace = 0;         // unreferenced but younger than the grace period
  size_t live_unrecorded = 0;  // named by an endpoint but missing from their handle record
  // Whether RepairIpam has anything to do.
  bool repairable() const {
    return !leaked.empty() || !orphan_handles.empty() || !orphan_blocks.empty() ||
           !surplus_blocks.empty() || !dangling_affinities.empty();
  }
  bool clean() const { return !repairable() && endpoint_problems.empty(); }
};

absl::StatusOr<IpamCheckReport> CheckIpam(datastore::Datastore& store, Clock& clock,
                                          const IpamCheckOptions& options);

struct IpamRepairSummary {
  int released_addresses = 0;
  int deleted_handles = 0;
  int released_blocks = 0;
  int released_affinities = 0;
  int skipped = 0;  // changed since the check: left alone
};

// Repairs what `report` found (from CheckIpam with the same store).
absl::StatusOr<IpamRepairSummary> RepairIpam(datastore::Datastore& store,
                                             const IpamCheckReport& report);

// Every stored block, with the revision it was read at, sorted by CIDR.
struct StoredBlock {
  Block block;
  datastore::Revision revision = 0;
};
absl::StatusOr<std::vector<StoredBlock>> ListBlocks(datastore::Datastore& store);

}  // namespace tabby::ipam
