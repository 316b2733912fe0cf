// Defaulting and validation of resources, following Calico's v3 rules (see
// shared/reference/calico.md §1 and §2 "Label rules").
//
// The decoder (codec.h) calls ApplyDefaults and then Validate on everything it reads, so code
// that receives a Resource from the codec may rely on it being valid. Code that builds a Resource
// itself (the CNI plugin writing a WorkloadEndpoint, say) calls both before storing it.
//
// Errors name the field at fault with the same path syntax the codec uses:
//   field spec.ingress[0].destination.ports[1]: invalid port range "2000:1000": first port is
//   greater than last
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/resources.h"

namespace tabby::model {

// A problem with one field. `path` is e.g. "spec.ingress[0].destination.ports[1]" or
// `metadata.labels["app.kubernetes.io/name"]`; empty when the problem is the whole object.
struct FieldError {
  std::string path;
  std::string message;
  // "field <path>: <message>", or just the message when the path is empty.
  std::string ToString() const;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

// Fills in what Calico fills in on create, so that stored and displayed values are explicit:
//   metadata.namespace      "default" for namespaced kinds
//   IPPool                  blockSize 26 (IPv4) / 122 (IPv6), ipipMode and vxlanMode "Never",
//                           nodeSelector "all()", allowedUses [Workload, Tunnel],
//                           assignmentMode "Automatic"
//   (Global)NetworkPolicy   tier "default"; types: [Ingress] when there are no egress rules,
//                           [Egress] when there are only egress rules, both when both
//   WorkloadEndpoint ports  protocol TCP
//   ClusterConfiguration    defaultEndpointPolicy "Allow", logPrefix "tabby-packet"
//   Namespace               label kubernetes.io/metadata.name=<name> (always; as Kubernetes)
//   KubernetesNetworkPolicy policyTypes: [Ingress], plus Egress when there are egress rules (as
//                           the API server); ports[].protocol TCP
// It also writes addresses, CIDRs and MACs that parse in their canonical text form
// ("FD00::0/64" -> "fd00::/64", "10.0.0.1" -> "10.0.0.1/32" where a CIDR is expected). Values
// that do not parse are left alone for Validate to report. Idempotent.
void ApplyDefaults(Resource& resource);

// The first problem found, in field order, or nullopt if `resource` is valid. Kubernetes kinds
// follow the API server's validation (label selectors, peers, ipBlock, ports and endPort); a
// KubernetesNetworkPolicy is valid only if its conversion (kubernetes.h) is a valid NetworkPolicy.
std::optional<FieldError> CheckResource(const Resource& resource);

// OK, or InvalidArgument whose message is CheckResource(resource)->ToString().
absl::Status Validate(const Resource& resource);

// Kubernetes label syntax (§2): nullopt if valid, else why not.
std::optional<std::string> CheckLabelKey(std::string_view key);
std::optional<std::string> CheckLabelValue(std::string_view value);

// Calico's WorkloadEndpoint name: "<node>-<orchestrator>-<workload>-<endpoint>", each part with
// '-' doubled, e.g. ("node-1", "k8s", "web", "eth0") -> "node--1-k8s-web-eth0".
std::string WorkloadEndpointName(std::string_view node, std::string_view orchestrator,
                                 std::string_view workload, std::string_view endpoint);

// The node name a process runs as. A name given explicitly (`explicit_name`: --node,
// $TABBY_NODE, the CNI configuration's nodename; `source` says which, for the error) must already
// be valid; otherwise the host name is trimmed and lower-cased, as Calico derives its node name
// ("Web-01" -> "web-01"). A node name is a DNS-1123 subdomain. InvalidArgument saying what is
// wrong and where the name came from; callers check this before they write anything.
absl::StatusOr<std::string> ResolveNodeName(std::string_view explicit_name, std::string_view source,
                                            std::string_view hostname);

}  // namespace tabby::model
