// Reading and writing resources as YAML and JSON, compatible with Calico's projectcalico.org/v3
// documents (calicoctl apply -f accepts the same files).
//
// Input
//   * YAML streams (documents separated by "---"), a JSON object, a JSON array of objects, and a
//     list object (`kind: List`, or `kind: <Kind>List` as `calicoctl get -o yaml` prints) with
//     `items`; items of a <Kind>List may omit apiVersion and kind.
//   * apiVersion tabby.dev/v1 or projectcalico.org/v3; kind spelt exactly ("IPPool"). Kubernetes
//     kinds in their own groups: v1 Namespace and networking.k8s.io/v1 NetworkPolicy (kind
//     KubernetesNetworkPolicy; the apiVersion tells it from Calico's NetworkPolicy). A kind under
//     another group is an error that names the right one. Kubernetes objects may carry what the
//     API server adds (top-level `status`; metadata.generation, managedFields, selfLink), which
//     is ignored; other kinds may not.
//   * Decoding is strict: unknown fields and values of the wrong type are errors. A null value
//     counts as absent (as in Kubernetes). Plain YAML scalars are typed by the YAML 1.2 core
//     schema, so `port: "80"` is a string and `port: 80` an integer; where Calico accepts both
//     (ports, protocol numbers) so does the decoder. A Kubernetes NetworkPolicy port is an
//     IntOrString as in Kubernetes: `port: "80"` is a port name, which validation rejects.
//   * Every decoded resource is defaulted and validated (validate.h).
//
// Errors are InvalidArgument and locate the problem:
//   policy.yaml: document 2 (GlobalNetworkPolicy "allow-web"), line 14, field
//   spec.ingress[0].destination.ports[1]: invalid port range "2000:1000": first port is greater
//   than last
// Lists add ", item N" after the document number (1-based, like documents).
//
// Output
//   apiVersion tabby.dev/v1 (ApiVersionOf(kind) and WireKindName(kind) for Kubernetes kinds, so
//   that the output applies to Kubernetes too); Calico's camelCase field names; empty and zero
//   fields omitted (Kubernetes' spec.podSelector is always written);
//   object keys sorted (as calicoctl prints them). Several resources are written as one list
//   object: kind `<Kind>List` (in the kind's apiVersion, e.g. networking.k8s.io/v1
//   NetworkPolicyList) when all have the same kind, else `List`, with `items` (what
//   `get -o yaml|json` prints; DecodeDocuments reads it back). EncodeYamlDocuments writes a
//   "---"-separated stream instead.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/resources.h"

namespace tabby::model {

// Decodes, defaults and validates every resource in `text` (YAML or JSON). `source_name` (a file
// name, "-" for stdin, or empty) prefixes error messages. All or nothing: on the first invalid
// document the result is that error. An input with no documents gives an empty vector.
absl::StatusOr<std::vector<Resource>> DecodeDocuments(std::string_view text,
                                                      std::string_view source_name);

// Decodes one resource as stored in the datastore (JSON written by EncodeJson), defaulted and
// validated like user input.
absl::StatusOr<Resource> DecodeStored(std::string_view json_text);

// Decodes one resource from a parsed JSON object (no line numbers in errors).
absl::StatusOr<Resource> DecodeJsonObject(const nlohmann::json& object);

// The resource as a JSON object: apiVersion (ApiVersionOf), kind (WireKindName), metadata, spec.
nlohmann::json Encode(const Resource& resource);
// Compact JSON (what the datastore stores) or indented by two spaces.
std::string EncodeJson(const Resource& resource, bool pretty = false);
std::string EncodeYaml(const Resource& resource);

// Several resources as one list object (see above).
nlohmann::json EncodeList(const std::vector<Resource>& resources);
std::string EncodeListJson(const std::vector<Resource>& resources, bool pretty = true);
std::string EncodeListYaml(const std::vector<Resource>& resources);
// Several resources as a YAML stream, each document starting with "---".
std::string EncodeYamlDocuments(const std::vector<Resource>& resources);

}  // namespace tabby::model
