// BGPConfiguration: the cluster's BGP settings ("default") and a node's own ("node.<name>"), as
// Calico's projectcalico.org/v3 kind (see docs/bgp.md). Its defaults, validation and
// `tabbyctl get` columns are in bgp_configuration.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

// The AS number every node uses unless its Node says otherwise (Calico's).
inline constexpr int64_t kDefaultAsNumber = 64512;

// One prefix to advertise: `{cidr: 10.96.0.0/12}`.
struct ServiceCidr {
  std::string cidr;
  friend bool operator==(const ServiceCidr&, const ServiceCidr&) = default;
};

struct BGPConfigurationSpec {
  // "default" only. Every node peers with every other (iBGP) unless false; route reflectors
  // (nodes with a routeReflectorClusterID) are never in the mesh.
  std::optional<bool> node_to_node_mesh_enabled;  // defaulted to true in "default"
  int64_t as_number = 0;                          // "default" only; defaulted to 64512 there
  // Prefixes every node announces besides its blocks (Kubernetes service ranges). Those of
  // "default" apply to every node, a node's own ("node.<name>") are added to them.
  std::vector<ServiceCidr> service_cluster_ips;
  std::vector<ServiceCidr> service_external_ips;
  std::vector<ServiceCidr> service_load_balancer_ips;
  // BIRD's logging of BGP sessions: Debug logs every state change and message; Info (the
  // default), Warning, Error and Fatal leave BIRD's own defaults.
  std::string log_severity_screen;
  friend bool operator==(const BGPConfigurationSpec&, const BGPConfigurationSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<ServiceCidr> T>
void Describe(V& v, T& s) {
  v.Required("cidr", s.cidr);
}

template <typename V, Is<BGPConfigurationSpec> T>
void Describe(V& v, T& s) {
  v.Field("logSeverityScreen", s.log_severity_screen);
  v.Field("nodeToNodeMeshEnabled", s.node_to_node_mesh_enabled);
  v.Field("asNumber", s.as_number, AsNumberCodec{});
  v.Field("serviceClusterIPs", s.service_cluster_ips);
  v.Field("serviceExternalIPs", s.service_external_ips);
  v.Field("serviceLoadBalancerIPs", s.service_load_balancer_ips);
}

}  // namespace tabby::model::internal
