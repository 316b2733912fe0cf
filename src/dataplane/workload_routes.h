// Keeps a host route (/32, /128, scope link, protocol tabby) to every local workload address via
// its veth. The CNI plugin creates these when it wires a workload; the agent re-asserts them so
// that a route removed by hand or lost in a crash comes back. It never removes a route it did
// not decide to remove: a workload the CNI plugin just wired may not be known to the agent yet.
#pragma once

#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "calc/desired_state.h"
#include "dataplane/netlink.h"

namespace tabby::dataplane {

// The IPv4 gateway every workload's default route points at. Proxy ARP answers only for
// addresses the host routes through another interface, so a host without a default route (an
// isolated network, a test namespace) would leave workloads unable to resolve it: the gateway is
// routed to lo. Link-local, it never carries traffic; the route only makes the host answer ARP.
inline constexpr char kWorkloadGatewayV4[] = "169.254.1.1";
Route GatewayOnLoopback();

class WorkloadRoutes {
 public:
  explicit WorkloadRoutes(Netlink& netlink) : netlink_(netlink) {}

  // Ensures the routes of every endpoint whose interface exists, and GatewayOnLoopback() while
  // there is a local IPv4 endpoint. Cost: one route dump plus one netlink request per missing
  // route.
  absl::Status Sync(const calc::DesiredState& desired);
  // Ensures the routes of the endpoints a delta upserted; removes routes of endpoints it removed
  // (only routes with our protocol via the endpoint's interface).
  // `before` is the local endpoints as they were before the delta.
  absl::Status Apply(const calc::Delta& delta,
                     const std::map<std::string, calc::EndpointProgram>& before);

  uint64_t routes_added() const { return routes_added_; }

 private:
  absl::Status Ensure(const calc::EndpointProgram& endpoint, const std::set<std::string>* present);
  Netlink& netlink_;
  uint64_t routes_added_ = 0;
};

}  // namespace tabby::dataplane
