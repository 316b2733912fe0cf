// The identity of a datastore: which cluster it holds. Written once, when the datastore is
// created on purpose (tabbyctl datastore init, or the first tabbyd on the default path), and
// never changed, like Calico's ClusterInformation clusterGUID. A datastore without it was never
// initialized (a mistyped path, an empty or truncated file): clients refuse it instead of
// treating it as an empty cluster. The agent remembers the identity and revision it programmed
// from, so that a datastore replaced or rolled back under it is an error, not a reason to wipe
// the host's firewall.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "datastore/datastore.h"

namespace tabby::datastore {

inline constexpr char kClusterIdentityKey[] = "/tabby/v1/cluster";

struct ClusterIdentity {
  std::string cluster_guid;
  std::string created;  // RFC 3339
};

// FailedPrecondition (saying how to initialize it) if `store` has no identity.
absl::StatusOr<ClusterIdentity> ReadClusterIdentity(Datastore& store);

// Writes a new identity unless there is one; returns the identity the datastore has.
absl::StatusOr<ClusterIdentity> InitializeClusterIdentity(Datastore& store);

}  // namespace tabby::datastore
