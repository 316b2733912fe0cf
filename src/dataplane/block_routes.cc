#include "dataplane/block_routes.h"

#include "base/status_macros.h"

namespace tabby::dataplane {

absl::Status BlockRoutes::Sync(const std::set<IpNetwork>& blocks) {
  ASSIGN_OR_RETURN(auto routes, netlink_.ListRoutes(kRouteProtocol));
  std::set<IpNetwork> present;
  for (const auto& route : routes) {
    if (route.blackhole) present.insert(route.destination);
  }
  absl::Status first_error;
  auto note = [&](const absl::Status& status) {
    if (!status.ok() && first_error.ok()) first_error = status;
  };
  for (const auto& block : blocks) {
    if (present.contains(block)) continue;
    Route route{block, "", std::nullopt, false, /*blackhole=*/true};
    absl::Status added = netlink_.ReplaceRoute(route);
    note(added);
    if (added.ok()) ++added_;
  }
  for (const auto& block : present) {
    if (blocks.contains(block)) continue;
    absl::Status deleted = netlink_.DeleteRoute(Route{block, "", std::nullopt, false, true});
    if (deleted.code() == absl::StatusCode::kNotFound) continue;
    note(deleted);
    if (deleted.ok()) ++removed_;
  }
  return first_error;
}

}  // namespace tabby::dataplane
