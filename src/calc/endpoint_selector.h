// Which endpoints a rule's selector denotes, with Calico's namespace scoping made explicit:
// a selector in a namespaced NetworkPolicy picks endpoints of that namespace only, unless the
// rule has a namespaceSelector, which picks namespaces by their labels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/resources.h"
#include "selector/selector.h"

namespace tabby::calc {

// Labels that every workload endpoint carries implicitly (Calico-compatible names).
inline constexpr char kNamespaceLabel[] = "projectcalico.org/namespace";
inline constexpr char kOrchestratorLabel[] = "projectcalico.org/orchestrator";
inline constexpr char kServiceAccountLabel[] = "projectcalico.org/serviceaccount";
// Labels every namespace carries implicitly.
inline constexpr char kNamespaceNameLabel[] = "projectcalico.org/name";
inline constexpr char kKubernetesNamespaceNameLabel[] = "kubernetes.io/metadata.name";

// What the selector is evaluated against for one endpoint.
struct EndpointView {
  const std::string& namespace_name;
  const model::Labels& labels;            // effective endpoint labels
  const model::Labels& namespace_labels;  // labels of the endpoint's namespace
};

class EndpointSelector {
 public:
  EndpointSelector() = default;
  EndpointSelector(std::string namespace_equals,
                   std::optional<selector::Selector> namespace_selector,
                   selector::Selector selector);

  bool Matches(const EndpointView& endpoint) const;
  // Label terms every matching endpoint's effective labels satisfy (for ItemLabelIndex): the
  // selector's own, and the namespace label when scoped to one namespace.
  std::vector<selector::LabelTerm> RequiredTerms() const;
  // Stable id: equal scoping and canonical selectors give equal ids, in any process.
  const std::string& id() const { return id_; }
  // Human-readable form, e.g. `namespace == "prod" && app == "web"`.
  std::string Describe() const;

 private:
  std::string namespace_equals_;  // empty = any namespace
  std::optional<selector::Selector> namespace_selector_;
  selector::Selector selector_;
  std::string id_;
};

}  // namespace tabby::calc
