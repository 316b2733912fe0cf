#include "datastore/node_liveness.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace tabby::datastore {

absl::StatusOr<std::map<std::string, NodeLivenessRecord>> ListLiveNodes(Datastore& store) {
  ASSIGN_OR_RETURN(ListResult listed, store.List(kNodeLivenessPrefix));
  std::map<std::string, NodeLivenessRecord> out;
  const std::string prefix = kNodeLivenessPrefix;
  for (const KeyValue& kv : listed.items) {
    NodeLivenessRecord record;
    nlohmann::json value = nlohmann::json::parse(kv.value, nullptr, false);
    if (value.is_object()) {
      record.pid = value.value("pid", int64_t{0});
      record.since = value.value("since", std::string());
    }
    out[kv.key.substr(prefix.size())] = record;
  }
  return out;
}

absl::Status NodeLiveness::Tick() {
  const absl::Time now = clock_.Now();
  if (lease_ != 0 && now - last_renewal_ < kNodeLivenessTtl / 3) return absl::OkStatus();
  if (lease_ != 0) {
    absl::Status kept = store_.KeepAlive(lease_);
    if (kept.ok()) {
      last_renewal_ = now;
      return absl::OkStatus();
    }
    if (kept.code() != absl::StatusCode::kNotFound) return kept;
    spdlog::warn("agent: the liveness lease of node {} expired; renewing it", node_);
    lease_ = 0;
  }
  ASSIGN_OR_RETURN(LeaseId lease, store_.GrantLease(kNodeLivenessTtl));
  nlohmann::json value = {
      {"pid", getpid()},
      {"since", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())}};
  RETURN_IF_ERROR(store_.Put(kNodeLivenessPrefix + node_, value.dump(), lease).status());
  lease_ = lease;
  last_renewal_ = now;
  return absl::OkStatus();
}

}  // namespace tabby::datastore
