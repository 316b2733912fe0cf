// Namespace: Kubernetes v1 Namespace, accepted verbatim. Field names and meanings are
// Kubernetes' own.
// Its defaults, validation and `tabbyctl get` columns are in namespace.cc.
#pragma once

#include <string>
#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

// Kubernetes v1 Namespace spec. The namespace's labels (metadata.labels) are what matters;
// defaulting adds kubernetes.io/metadata.name=<name> as the API server does.
struct NamespaceSpec {
  std::vector<std::string> finalizers;  // kept, not acted on
  friend bool operator==(const NamespaceSpec&, const NamespaceSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<NamespaceSpec> T>
void Describe(V& v, T& s) {
  v.Field("finalizers", s.finalizers);
}

}  // namespace tabby::model::internal
