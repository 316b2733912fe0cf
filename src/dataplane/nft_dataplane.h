// Programs the desired state into nftables, one atomic transaction per call, touching only what
// differs from what the kernel holds. Never flushes the table: at start it reads what is there
// (from a previous run of the agent, or nothing) and converges it, so allowed traffic keeps
// flowing across agent restarts.
//
// Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "calc/desired_state.h"
#include "dataplane/kernel_table.h"
#include "dataplane/nft_client.h"
#include "dataplane/nft_render.h"

namespace tabby::dataplane {

class NftDataplane {
 public:
  explicit NftDataplane(NftClient& client)
      : client_(client),
        set_exists_([this](const std::string& name) { return mirror_.sets.contains(name); }) {}
  // set_exists_ captures this.
  NftDataplane(const NftDataplane&) = delete;
  NftDataplane& operator=(const NftDataplane&) = delete;

  // Reads the kernel's table and converges it to `desired`. Cost: linear in the whole state.
  absl::Status Sync(const calc::DesiredState& desired);

  // Applies `delta` (from calc) whose result is `after`. Cost: linear in the delta, plus the
  // rendering of the chains it names. After a failure, the next call re-reads the kernel and
  // does a full Sync instead.
  absl::Status Apply(const calc::Delta& delta, const calc::DesiredState& after);

  // What we believe the kernel holds, except the members of selector and named-port sets
  // (those are in the DesiredState last applied).
  const KernelTable& mirror() const { return mirror_; }

  struct Stats {
    uint64_t transactions = 0;
    uint64_t element_transactions = 0;  // of those, set elements only
    uint64_t failures = 0;
    uint64_t full_syncs = 0;
    uint64_t last_operations = 0;  // in the last transaction sent
    uint64_t operations = 0;       // in all transactions sent
  };
  const Stats& stats() const { return stats_; }

 private:
  class Batch;
  absl::Status Commit(Batch& batch);

  // Peer dispatch (nft_render.h): the runs local endpoints use, shared by equal ones. A run's
  // choice between dispatch and the plain layout is made once, when it is first used, so that
  // the endpoints' chains do not flip between the two as members come and go.
  struct Run {
    DispatchRun plan;
    bool dispatched = false;
    size_t cost = 0;  // (peer, gated program) pairs when it was made, against kDispatchBudget
    int users = 0;
  };
  // The runs an endpoint's directions hold (run ids, "" when too few programs are gated);
  // only those whose run is dispatched change its chains.
  struct EndpointRuns {
    std::string ingress, egress;
  };
  std::string Dispatched(const std::string& run) const;
  EndpointRuns AcquireRuns(Batch& batch, const calc::EndpointProgram& endpoint,
                           const calc::DesiredState& state);
  std::string AcquireRun(Batch& batch, const std::vector<std::string>& policies, bool ingress,
                         const calc::DesiredState& state);
  void ReleaseRuns(Batch& batch, const EndpointRuns& runs);
  // Moves the peer at `address` to the class chain its current set memberships call for.
  // `counted`: whether the map entry it has now is counted as a user of its class (not when
  // the run is being built over what the kernel holds).
  void UpdatePeer(Batch& batch, const Run& run, const IpAddress& address,
                  const calc::DesiredState& state, bool counted = true);
  void AcquireClass(Batch& batch, const std::vector<std::string>& programs);
  void ReleaseClass(const std::string& chain);
  // Removes the class chains no map entry uses any more. Last in a transaction, so that a class
  // released and then taken up again in the same transaction is neither deleted nor recreated.
  void RemoveUnusedClasses(Batch& batch);
  void ResetDispatch();
  // Which programs use which sets, to render again those that use a set when it appears.
  void IndexProgram(const std::string& id, const calc::PolicyProgram& program);
  void UnindexProgram(const std::string& id);

  NftClient& client_;
  KernelTable mirror_;
  bool synced_ = false;
  Stats stats_;
  std::map<std::string, Run> runs_;                           // by run id
  std::map<std::string, std::set<std::string>> runs_by_set_;  // gate set id -> dispatched runs
  std::map<std::string, int> class_users_;                    // class chain -> map entries
  std::set<std::string> released_classes_;
  size_t dispatch_cost_ = 0;                                         // of the dispatched runs
  std::map<std::string, EndpointRuns> endpoint_runs_;                // by interface
  SetExists set_exists_;                                             // in mirror_
  std::map<std::string, std::set<std::string>> programs_by_set_;     // set id -> program ids
  std::map<std::string, std::vector<std::string>> sets_of_program_;  // program id -> set ids
};

}  // namespace tabby::dataplane
