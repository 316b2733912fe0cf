#include "model/table_cells.h"

#include <fmt/format.h>

namespace tabby::model {

std::string Cell(const std::string& value) { return value.empty() ? kNoneCell : value; }

std::string Join(const std::vector<std::string>& items) {
  return Cell(fmt::format("{}", fmt::join(items, ",")));
}

std::string LabelsText(const Labels& labels) {
  std::vector<std::string> items;
  for (const auto& [key, value] : labels) items.push_back(fmt::format("{}={}", key, value));
  return Join(items);
}

std::string SelectorText(const std::string& selector) {
  return selector.empty() ? "all()" : selector;
}

std::string PolicyTypesText(const std::vector<PolicyType>& types) {
  std::vector<std::string> names;
  names.reserve(types.size());
  for (PolicyType type : types) names.emplace_back(PolicyTypeName(type));
  return Join(names);
}

std::string MetadataLabelsCell(const Resource& resource) {
  return LabelsText(resource.metadata.labels);
}

}  // namespace tabby::model
