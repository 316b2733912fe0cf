// Programs the desired state into nftables, one atomic transaction per call, touching only what
// differs from what the kernel holds. Never flushes the table: at start it reads what is there
// (from a previous run of the agent, or nothing) and converges it, so allowed traffic keeps
// flowing across agent restarts.
//
// Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "calc/desired_state.h"
#include "dataplane/kernel_table.h"
#include "dataplane/nft_client.h"

namespace tabby::dataplane {

class NftDataplane {
 public:
  explicit NftDataplane(NftClient& client) : client_(client) {}

  // Reads the kernel's table and converges it to `desired`. Cost: linear in the whole state.
  absl::Status Sync(const calc::DesiredState& desired);

  // Applies `delta` (from calc) whose result is `after`. Cost: linear in the delta, plus the
  // rendering of the chains it names. After a failure, the next call re-reads the kernel and
  // does a full Sync instead.
  absl::Status Apply(const calc::Delta& delta, const calc::DesiredState& after);

  // What we believe the kernel holds.
  const KernelTable& mirror() const { return mirror_; }

  struct Stats {
    uint64_t transactions = 0;
    uint64_t element_transactions = 0;  // of those, set elements only
    uint64_t failures = 0;
    uint64_t full_syncs = 0;
    uint64_t last_operations = 0;  // in the last transaction sent
  };
  const Stats& stats() const { return stats_; }

 private:
  class Batch;
  absl::Status Commit(Batch& batch);

  NftClient& client_;
  KernelTable mirror_;
  bool synced_ = false;
  Stats stats_;
};

}  // namespace tabby::dataplane
