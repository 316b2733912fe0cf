#include "model/resources.h"

#include <fmt/format.h>

#include <utility>

#include "model/internal.h"
#include "model/kind_registry.h"

namespace tabby::model {

std::string_view KindName(Kind kind) { return KindInfoOf(kind).name; }

std::string_view WireKindName(Kind kind) { return KindInfoOf(kind).wire_name; }

std::string_view ApiVersionOf(Kind kind) { return KindInfoOf(kind).api_version; }

bool AcceptsApiVersion(Kind kind, std::string_view api_version) {
  if (IsKubernetesKind(kind)) return api_version == ApiVersionOf(kind);
  return api_version == kTabbyApiVersion || api_version == kCalicoApiVersion;
}

bool IsKubernetesKind(Kind kind) { return KindInfoOf(kind).kubernetes; }

std::optional<Kind> KindFromName(std::string_view name) {
  for (const KindInfo* info : KindRegistry()) {
    if (internal::EqualsIgnoreCase(name, info->name)) return info->kind;
    for (std::string_view alias : info->aliases) {
      if (!alias.empty() && internal::EqualsIgnoreCase(name, alias)) return info->kind;
    }
  }
  return std::nullopt;
}

bool IsNamespaced(Kind kind) { return KindInfoOf(kind).namespaced; }

const std::vector<Kind>& AllKinds() {
  static const std::vector<Kind>* const kinds = [] {
    auto* kinds = new std::vector<Kind>;
    for (const KindInfo* info : KindRegistry()) kinds->push_back(info->kind);
    return kinds;
  }();
  return *kinds;
}

Resource MakeResource(Kind kind, std::string name, std::string namespace_name) {
  Resource resource;
  resource.kind = kind;
  resource.api_version = std::string(ApiVersionOf(kind));
  resource.metadata.name = std::move(name);
  resource.metadata.namespace_name = std::move(namespace_name);
  resource.spec = KindInfoOf(kind).empty_spec();
  return resource;
}

std::string DisplayName(const Resource& resource) {
  if (resource.metadata.namespace_name.empty()) {
    return fmt::format("{}/{}", KindName(resource.kind), resource.metadata.name);
  }
  return fmt::format("{}/{}/{}", KindName(resource.kind), resource.metadata.namespace_name,
                     resource.metadata.name);
}

}  // namespace tabby::model
