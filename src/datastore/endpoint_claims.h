// What one WorkloadEndpoint holds that no other endpoint may: each of its addresses, and its
// host interface on its node. Two endpoints with one address would give the second the first's
// identity in every peer's address sets (and the host's /32 route would flip between their
// interfaces); two endpoints naming one interface would let deleting either cut off the other.
//
// Each claim is an index key, written in the same transaction as the endpoint:
//   /tabby/v1/index/workload-addresses/<address>              -> the endpoint's key
//   /tabby/v1/index/workload-interfaces/<node>/<interface>    -> the endpoint's key
// A write whose claim is held by another endpoint is refused (FailedPrecondition naming the
// field and the holder). A claim whose holder is gone or no longer holds it (a datastore written
// before the index existed) is taken over. ResourceStore applies this guard to every
// WorkloadEndpoint write; the agent never reads these keys.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "datastore/resource_store.h"

namespace tabby::datastore {

inline constexpr char kEndpointAddressIndexPrefix[] = "/tabby/v1/index/workload-addresses/";
inline constexpr char kEndpointInterfaceIndexPrefix[] = "/tabby/v1/index/workload-interfaces/";

class EndpointClaims final : public WriteGuard {
 public:
  explicit EndpointClaims(Datastore& store) : store_(store) {}

  absl::StatusOr<Conditions> Check(const std::optional<model::Resource>& stored,
                                   const std::optional<model::Resource>& proposed) override;

  // The index keys `endpoint` claims, each with the field that claims it
  // ("spec.ipNetworks[0]", "spec.interfaceName").
  static std::map<std::string, std::string> ClaimsOf(const model::Resource& endpoint);

 private:
  // Whether the endpoint stored at `holder_key` still claims `claim` (false if it is gone), and
  // the revision of `holder_key` as read (0: absent).
  absl::StatusOr<std::pair<bool, Revision>> StillHolds(const std::string& holder_key,
                                                       const std::string& claim);

  Datastore& store_;
};

}  // namespace tabby::datastore
