// Whether a node's agent is running: a key per node on a lease that the agent keeps alive. When
// the agent stops, crashes or its host goes away, the lease expires and the key disappears, so
// `tabbyctl get nodes` can say the node is gone, and `tabbyctl node delete` refuses a live one.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "datastore/datastore.h"

namespace tabby::datastore {

// /tabby/v1/nodes/liveness/<node>: JSON {"pid", "since"} on a lease of kNodeLivenessTtl.
inline constexpr char kNodeLivenessPrefix[] = "/tabby/v1/nodes/liveness/";
inline constexpr absl::Duration kNodeLivenessTtl = absl::Seconds(30);

struct NodeLivenessRecord {
  int64_t pid = 0;
  std::string since;  // RFC 3339: when the agent started keeping it
};

// The live nodes, by name.
absl::StatusOr<std::map<std::string, NodeLivenessRecord>> ListLiveNodes(Datastore& store);

// Keeps a node's liveness key on a lease while its agent runs.
class NodeLiveness {
 public:
  NodeLiveness(Datastore& store, std::string node, Clock& clock)
      : store_(store), node_(std::move(node)), clock_(clock) {}
  // Keeps the lease alive once a third of its TTL has passed; grants a new one (and writes the
  // key again) when it expired or was never granted. Cheap when nothing is due.
  absl::Status Tick();

 private:
  Datastore& store_;
  const std::string node_;
  Clock& clock_;
  LeaseId lease_ = 0;
  absl::Time last_renewal_ = absl::InfinitePast();
};

}  // namespace tabby::datastore
