#include "datastore/cluster_identity.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/uuid.h"

namespace tabby::datastore {
namespace {

absl::StatusOr<ClusterIdentity> Decode(const std::string& value) {
  nlohmann::json document = nlohmann::json::parse(value, nullptr, false);
  if (document.is_discarded() || !document.is_object() ||
      !document.value("clusterGUID", nlohmann::json()).is_string()) {
    return absl::DataLossError(fmt::format("the cluster identity at {} is malformed: {}",
                                           kClusterIdentityKey, value.substr(0, 200)));
  }
  return ClusterIdentity{document["clusterGUID"].get<std::string>(), document.value("created", "")};
}

}  // namespace

absl::StatusOr<ClusterIdentity> ReadClusterIdentity(Datastore& store) {
  ASSIGN_OR_RETURN(auto kv, store.Get(kClusterIdentityKey));
  if (!kv) {
    return absl::FailedPreconditionError(
        "it holds no tabby cluster (it was never initialized, or it was emptied or truncated); "
        "to start a new cluster on purpose, run tabbyctl datastore init");
  }
  return Decode(kv->value);
}

absl::StatusOr<ClusterIdentity> InitializeClusterIdentity(Datastore& store) {
  ClusterIdentity identity{RandomUuid(),
                           absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())};
  nlohmann::json document = {{"clusterGUID", identity.cluster_guid}, {"created", identity.created}};
  auto created = store.Create(kClusterIdentityKey, document.dump());
  if (created.ok()) return identity;
  if (created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
  return ReadClusterIdentity(store);  // someone else initialized it first
}

}  // namespace tabby::datastore
