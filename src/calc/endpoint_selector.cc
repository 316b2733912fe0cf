#include "calc/endpoint_selector.h"

#include <fmt/format.h>

#include "base/hash.h"

namespace tabby::calc {

EndpointSelector::EndpointSelector(std::string namespace_equals,
                                   std::optional<selector::Selector> namespace_selector,
                                   selector::Selector selector)
    : namespace_equals_(std::move(namespace_equals)),
      namespace_selector_(std::move(namespace_selector)),
      selector_(std::move(selector)) {
  std::string canonical =
      fmt::format("{}|{}|{}", namespace_equals_,
                  namespace_selector_ ? namespace_selector_->Canonical() : std::string("*"),
                  selector_.Canonical());
  id_ = "sel-" + StableHashHex(canonical, 16);
}

bool EndpointSelector::Matches(const EndpointView& endpoint) const {
  if (!namespace_equals_.empty() && endpoint.namespace_name != namespace_equals_) return false;
  if (namespace_selector_ && !namespace_selector_->Matches(endpoint.namespace_labels)) {
    return false;
  }
  return selector_.Matches(endpoint.labels);
}

std::vector<selector::LabelTerm> EndpointSelector::RequiredTerms() const {
  std::vector<selector::LabelTerm> terms = selector_.RequiredTerms();
  if (!namespace_equals_.empty()) terms.push_back({kNamespaceLabel, {namespace_equals_}});
  return terms;
}

std::string EndpointSelector::Describe() const {
  std::string out;
  if (!namespace_equals_.empty()) out = fmt::format("namespace == \"{}\" && ", namespace_equals_);
  if (namespace_selector_) {
    out += fmt::format("namespace matches ({}) && ", namespace_selector_->Canonical());
  }
  out += selector_.Canonical();
  return out;
}

}  // namespace tabby::calc
