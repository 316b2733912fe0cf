// The resource model: what users write and what the datastore holds. Field names and meanings
// follow Calico's projectcalico.org/v3 resources so existing YAML applies unchanged; the project's
// own group is tabby.dev/v1. Two Kubernetes kinds are accepted verbatim in their own groups:
// v1 Namespace and networking.k8s.io/v1 NetworkPolicy (kubernetes.h turns the latter into a
// tabby NetworkPolicy). Types here are plain values; codec.h reads and writes them, and
// validate.h decides whether a value is acceptable. A Resource that passed validation cannot
// crash anything downstream.
//
// What kinds share is in types.h; each kind's spec in kinds/<kind>.h, its defaults, validation
// and table columns in kinds/<kind>.cc (see kind_registry.h for how to add one).
#pragma once

#include <string>
#include <variant>

#include "model/kinds/bgp_configuration.h"
#include "model/kinds/bgp_peer.h"
#include "model/kinds/cluster_configuration.h"
#include "model/kinds/host_endpoint.h"
#include "model/kinds/ip_pool.h"
#include "model/kinds/kubernetes_network_policy.h"
#include "model/kinds/namespace.h"
#include "model/kinds/node.h"
#include "model/kinds/policy.h"
#include "model/kinds/profile.h"
#include "model/kinds/workload_endpoint.h"
#include "model/types.h"

namespace tabby::model {

using Spec = std::variant<IPPoolSpec, PolicySpec, ProfileSpec, WorkloadEndpointSpec, NodeSpec,
                          ClusterConfigurationSpec, NamespaceSpec, KubernetesNetworkPolicySpec,
                          HostEndpointSpec, BGPConfigurationSpec, BGPPeerSpec>;

struct Resource {
  Kind kind = Kind::kIPPool;
  // As written by the user. The encoder writes ApiVersionOf(kind): tabby.dev/v1 for tabby's kinds
  // (so a projectcalico.org/v3 document is stored as tabby.dev/v1), the Kubernetes group version
  // for Kubernetes kinds.
  std::string api_version = kTabbyApiVersion;
  ObjectMeta metadata;
  Spec spec;

  // Typed access; the caller knows the kind. Asserting on mismatch is a programming error.
  const IPPoolSpec& ip_pool() const { return std::get<IPPoolSpec>(spec); }
  const PolicySpec& policy() const { return std::get<PolicySpec>(spec); }
  const ProfileSpec& profile() const { return std::get<ProfileSpec>(spec); }
  const WorkloadEndpointSpec& workload_endpoint() const {
    return std::get<WorkloadEndpointSpec>(spec);
  }
  const NodeSpec& node() const { return std::get<NodeSpec>(spec); }
  const ClusterConfigurationSpec& cluster_configuration() const {
    return std::get<ClusterConfigurationSpec>(spec);
  }
  const NamespaceSpec& namespace_spec() const { return std::get<NamespaceSpec>(spec); }
  const KubernetesNetworkPolicySpec& kubernetes_network_policy() const {
    return std::get<KubernetesNetworkPolicySpec>(spec);
  }
  IPPoolSpec& ip_pool() { return std::get<IPPoolSpec>(spec); }
  PolicySpec& policy() { return std::get<PolicySpec>(spec); }
  ProfileSpec& profile() { return std::get<ProfileSpec>(spec); }
  WorkloadEndpointSpec& workload_endpoint() { return std::get<WorkloadEndpointSpec>(spec); }
  NodeSpec& node() { return std::get<NodeSpec>(spec); }
  ClusterConfigurationSpec& cluster_configuration() {
    return std::get<ClusterConfigurationSpec>(spec);
  }
  NamespaceSpec& namespace_spec() { return std::get<NamespaceSpec>(spec); }
  const BGPConfigurationSpec& bgp_configuration() const {
    return std::get<BGPConfigurationSpec>(spec);
  }
  BGPConfigurationSpec& bgp_configuration() { return std::get<BGPConfigurationSpec>(spec); }
  const BGPPeerSpec& bgp_peer() const { return std::get<BGPPeerSpec>(spec); }
  BGPPeerSpec& bgp_peer() { return std::get<BGPPeerSpec>(spec); }
  const HostEndpointSpec& host_endpoint() const { return std::get<HostEndpointSpec>(spec); }
  HostEndpointSpec& host_endpoint() { return std::get<HostEndpointSpec>(spec); }
  KubernetesNetworkPolicySpec& kubernetes_network_policy() {
    return std::get<KubernetesNetworkPolicySpec>(spec);
  }

  // Compares every field, api_version included (decoding keeps the version the user wrote).
  friend bool operator==(const Resource&, const Resource&) = default;
};

// A Resource of `kind` with the matching empty spec and api_version ApiVersionOf(kind).
Resource MakeResource(Kind kind, std::string name, std::string namespace_name = "");

// "<kind>/<namespace>/<name>" or "<kind>/<name>": how messages name a resource.
std::string DisplayName(const Resource& resource);

}  // namespace tabby::model
