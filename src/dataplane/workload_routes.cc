#include "dataplane/workload_routes.h"

#include <fmt/format.h>

#include "base/status_macros.h"

namespace tabby::dataplane {
namespace {

std::string RouteKey(const IpNetwork& destination, const std::string& interface_name) {
  return fmt::format("{} {}", destination.ToString(), interface_name);
}

}  // namespace

Route GatewayOnLoopback() {
  return Route{IpNetwork::Host(*IpAddress::Parse(kWorkloadGatewayV4)), "lo", std::nullopt,
               /*link_scope=*/true};
}

absl::Status WorkloadRoutes::Ensure(const calc::EndpointProgram& endpoint,
                                    const std::set<std::string>* present) {
  auto link = netlink_.GetLink(endpoint.interface_name);
  if (!link.ok()) {
    // The workload's interface is gone (or not created yet): nothing to route to.
    if (link.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
    return link.status();
  }
  for (const auto& address : endpoint.addresses) {
    if (present && present->contains(RouteKey(address, endpoint.interface_name))) continue;
    RETURN_IF_ERROR(netlink_.ReplaceRoute(
        Route{address, endpoint.interface_name, std::nullopt, /*link_scope=*/true}));
    ++routes_added_;
  }
  return absl::OkStatus();
}

absl::Status WorkloadRoutes::Sync(const calc::DesiredState& desired) {
  ASSIGN_OR_RETURN(auto routes, netlink_.ListRoutes());
  std::set<std::string> present;
  for (const auto& r : routes) present.insert(RouteKey(r.destination, r.interface_name));
  absl::Status first_error;
  bool any_v4 = false;
  for (const auto& [interface, endpoint] : desired.endpoints) {
    absl::Status status = Ensure(endpoint, &present);
    if (!status.ok() && first_error.ok()) first_error = status;
    for (const auto& address : endpoint.addresses) any_v4 = any_v4 || address.is_v4();
  }
  const Route gateway = GatewayOnLoopback();
  if (any_v4 && !present.contains(RouteKey(gateway.destination, gateway.interface_name))) {
    absl::Status status = netlink_.ReplaceRoute(gateway);
    if (status.ok()) ++routes_added_;
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  return first_error;
}

absl::Status WorkloadRoutes::Apply(const calc::Delta& delta,
                                   const std::map<std::string, calc::EndpointProgram>& before) {
  absl::Status first_error;
  for (const auto& interface : delta.endpoints_removed) {
    auto old = before.find(interface);
    if (old == before.end()) continue;
    // Routes die with their interface; deleting by destination alone could hit a route a new
    // workload with the same address already has.
    if (!netlink_.GetLink(interface).ok()) continue;
    for (const auto& address : old->second.addresses) {
      absl::Status status =
          netlink_.DeleteRoute(Route{address, interface, std::nullopt, /*link_scope=*/true});
      // Usually the interface and its routes went away with the workload.
      if (!status.ok() && status.code() != absl::StatusCode::kNotFound && first_error.ok()) {
        first_error = status;
      }
    }
  }
  for (const auto& [interface, endpoint] : delta.endpoints_upserted) {
    auto old = before.find(interface);
    if (old != before.end() && old->second.addresses == endpoint.addresses) continue;
    absl::Status status = Ensure(endpoint, nullptr);
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  return first_error;
}

}  // namespace tabby::dataplane
