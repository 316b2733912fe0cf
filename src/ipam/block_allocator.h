// Block-based IPAM with host affinity (see block.h for the records).
//
// Allocating one address for a node, in order:
//   1. from a block the node already owns (its affinities), in an eligible pool;
//   2. else claim the first free block of an eligible pool (unless the node owns
//      maxBlocksPerHost blocks of that family already) and allocate from it;
//   3. else, unless strictAffinity, borrow a free address from another host's block;
//   4. else kResourceExhausted naming the pools.
// Every step ends in one datastore transaction that compares the revisions of everything it read
// (block, handle; for a claim, that the block and its affinity do not exist yet) and writes the
// block, the handle and, for a claim, the affinity together; a lost race is retried from a fresh
// read. So no address is given out twice, in any process, and a crash at any point leaves either
// nothing or a complete allocation (which `ipam check` finds if its workload never appears).
//
// Cost of the common case (step 1): five reads and one write transaction, independent of how many
// addresses and blocks the cluster has. Claims list block keys (no values); only borrowing reads
// every block.
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "datastore/datastore.h"
#include "ipam/allocator.h"
#include "ipam/block.h"

namespace tabby::ipam {

class BlockAllocator final : public Allocator {
 public:
  BlockAllocator(datastore::Datastore& store, Clock& clock) : store_(store), clock_(clock) {}

  absl::StatusOr<std::vector<IpAddress>> Allocate(const AllocationRequest& request) override;
  absl::Status ReleaseHandle(const std::string& handle) override;
  absl::Status ReleaseAddress(const IpAddress& address) override;
  absl::StatusOr<HeldAddresses> Lookup(const std::string& handle) override;

  struct Pool {
    std::string name;
    IpNetwork cidr;
    int block_size = 0;
    datastore::Revision revision = 0;  // of the IPPool resource, as read
  };

 private:
  // The handle's record and the revision it was read at (0: absent).
  struct HandleState {
    std::string key;
    HandleRecord record;
    datastore::Revision revision = 0;
  };

  absl::StatusOr<std::vector<Pool>> UsablePools(const AllocationRequest& request, bool v4);
  absl::StatusOr<IpAddress> AllocateOne(const std::vector<Pool>& pools,
                                        const AllocationRequest& request, const IpamConfig& config,
                                        HandleState& handle);
  // Allocates `ordinal` of the stored block `kv` (read at kv.mod_revision) to the handle, in one
  // transaction. kAborted if either changed since they were read.
  absl::StatusOr<IpAddress> Take(const datastore::KeyValue& kv, Block block, uint64_t ordinal,
                                 const AllocationRequest& request, HandleState& handle);
  // Claims the first free block of `pool` for the node and allocates its first address.
  // kNotFound if the pool has no free block; kAborted on a lost race.
  absl::StatusOr<IpAddress> Claim(const Pool& pool, const std::vector<IpNetwork>& existing,
                                  const AllocationRequest& request, HandleState& handle);
  absl::StatusOr<HandleState> ReadHandle(const std::string& handle);
  Allocation MakeAllocation(const AllocationRequest& request) const;

  datastore::Datastore& store_;
  Clock& clock_;
};

// The block of `pool` (block_size) that contains `address`.
IpNetwork BlockOf(const IpAddress& address, int block_size);

}  // namespace tabby::ipam
