// HostEndpoint: a host's own interface, policed like a workload.
// Its defaults, validation and `tabbyctl get` columns are in host_endpoint.cc.
#pragma once

#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

// A host's own interface (or, with "*", all of them), so that policy can protect the host as it
// protects workloads: Calico's HostEndpoint. Policy selects it by its labels; a host endpoint that
// no policy selects and that has no profile is denied everything but the failsafe ports.
struct HostEndpointSpec {
  std::string node;
  std::string interface_name;             // "*": traffic to and from the host on any interface
  std::vector<std::string> expected_ips;  // the interface's addresses (peers' sets, and the
                                          // match when interfaceName is empty)
  std::vector<std::string> profiles;
  friend bool operator==(const HostEndpointSpec&, const HostEndpointSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<HostEndpointSpec> T>
void Describe(V& v, T& s) {
  v.Field("node", s.node);
  v.Field("interfaceName", s.interface_name);
  v.Field("expectedIPs", s.expected_ips);
  v.Field("profiles", s.profiles);
}

}  // namespace tabby::model::internal
