// ClusterConfiguration: cluster-wide settings. Singleton named "default".
// Its defaults, validation and `tabbyctl get` columns are in cluster_configuration.cc.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

// Felix's defaults: SSH, DHCP (client in, server out), DNS out, BGP, etcd (client and peer) and
// the Kubernetes API server.
std::vector<ProtoPort> DefaultFailsafeInboundHostPorts();
std::vector<ProtoPort> DefaultFailsafeOutboundHostPorts();

struct ClusterConfigurationSpec {
  // What a workload that no policy selects and that has no profile may do: "Allow" (the
  // Kubernetes default, and ours) or "Deny".
  std::string default_endpoint_policy;  // empty = Allow
  // Prefix of kernel log lines written by the Log action.
  std::string log_prefix;  // empty = "tabby-packet"
  // What happens to traffic from a workload to its own host once the workload's egress policy
  // allowed it: "Drop" (the default), "Accept", or "Return" (on to host endpoint policy).
  std::string default_endpoint_to_host_action;
  // Ports host endpoint policy cannot close; absent: kDefaultFailsafe*Ports, []: none.
  std::optional<std::vector<ProtoPort>> failsafe_inbound_host_ports;
  std::optional<std::vector<ProtoPort>> failsafe_outbound_host_ports;
  friend bool operator==(const ClusterConfigurationSpec&,
                         const ClusterConfigurationSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<ClusterConfigurationSpec> T>
void Describe(V& v, T& s) {
  v.Field("defaultEndpointPolicy", s.default_endpoint_policy);
  v.Field("logPrefix", s.log_prefix);
  v.Field("defaultEndpointToHostAction", s.default_endpoint_to_host_action);
  v.Field("failsafeInboundHostPorts", s.failsafe_inbound_host_ports);
  v.Field("failsafeOutboundHostPorts", s.failsafe_outbound_host_ports);
}

}  // namespace tabby::model::internal
