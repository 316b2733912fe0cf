// WorkloadEndpoint: one interface of a workload (a pod, a container), written by the CNI plugin.
// Its defaults, validation and `tabbyctl get` columns are in workload_endpoint.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

// A port a workload declares, for named-port matching.
struct EndpointPort {
  std::string name;
  Protocol protocol;
  uint16_t port = 0;
  uint16_t host_port = 0;
  std::string host_ip;
  friend bool operator==(const EndpointPort&, const EndpointPort&) = default;
};

struct WorkloadEndpointSpec {
  std::string orchestrator;  // e.g. k8s, podman, cni, demo
  std::string workload;      // workload id within the orchestrator
  std::string node;
  std::string container_id;
  std::string pod;
  std::string endpoint;  // container-side interface, e.g. eth0
  std::string service_account_name;
  std::vector<std::string> ip_networks;  // /32 and /128 only
  std::string ipv4_gateway;
  std::string ipv6_gateway;
  std::vector<std::string> profiles;
  std::string interface_name;  // host side of the veth
  std::string mac;
  std::vector<EndpointPort> ports;
  std::vector<std::string> allow_spoofed_source_prefixes;
  friend bool operator==(const WorkloadEndpointSpec&, const WorkloadEndpointSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<EndpointPort> T>
void Describe(V& v, T& p) {
  v.Field("name", p.name);
  v.Field("protocol", p.protocol);
  v.Field("port", p.port);
  v.Field("hostPort", p.host_port);
  v.Field("hostIP", p.host_ip);
}

template <typename V, Is<WorkloadEndpointSpec> T>
void Describe(V& v, T& s) {
  v.Field("orchestrator", s.orchestrator);
  v.Field("workload", s.workload);
  v.Field("node", s.node);
  v.Field("containerID", s.container_id);
  v.Field("pod", s.pod);
  v.Field("endpoint", s.endpoint);
  v.Field("serviceAccountName", s.service_account_name);
  v.Field("ipNetworks", s.ip_networks);
  v.Field("ipv4Gateway", s.ipv4_gateway);
  v.Field("ipv6Gateway", s.ipv6_gateway);
  v.Field("profiles", s.profiles);
  v.Field("interfaceName", s.interface_name);
  v.Field("mac", s.mac);
  v.Field("ports", s.ports);
  v.Field("allowSpoofedSourcePrefixes", s.allow_spoofed_source_prefixes);
}

}  // namespace tabby::model::internal
