#include "model/kinds/namespace.h"

#include <fmt/format.h>

#include <array>

#include "model/check.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::Checker;
using internal::PathIndex;
using internal::Quote;

constexpr std::string_view kKubernetesNamespaceNameLabel = "kubernetes.io/metadata.name";

bool CheckNamespaceName(Checker& c, const std::string& name) {
  if (!internal::CheckNameLength(c, name)) return false;
  if (name.size() > internal::kMaxLabelLength || !internal::IsDnsLabel(name)) {
    return c.Fail(internal::kNamePath,
                  fmt::format("invalid name {}: a Namespace name is 1-63 lower case "
                              "alphanumerics and '-', starting and ending with an "
                              "alphanumeric",
                              Quote(name)));
  }
  return true;
}

// As the API server does (SetDefaults_Namespace): the label always names the namespace.
void DefaultNamespace(Resource& r) {
  if (!r.metadata.name.empty()) {
    r.metadata.labels[std::string(kKubernetesNamespaceNameLabel)] = r.metadata.name;
  }
}

// The API server's rules, with its field paths.
bool CheckNamespace(Checker& c, const Resource& r) {
  const NamespaceSpec& s = r.namespace_spec();
  for (size_t i = 0; i < s.finalizers.size(); ++i) {
    const std::string& finalizer = s.finalizers[i];
    if (auto problem = internal::LabelKeyProblem(finalizer)) {
      return c.Fail(PathIndex("spec.finalizers", i),
                    fmt::format("invalid finalizer {}: {}", Quote(finalizer),
                                problem->substr(problem->find(": ") + 2)));
    }
  }
  return true;
}

constexpr auto kNamespaceColumns = std::to_array<Column>({
    {"LABELS", Column::kWideOnly, MetadataLabelsCell},
});

}  // namespace

extern constexpr KindInfo kNamespaceKind{
    .kind = Kind::kNamespace,
    .name = "Namespace",
    .aliases = {"namespaces", "ns"},
    .wire_name = "Namespace",
    .api_version = kKubernetesCoreApiVersion,
    .kubernetes = true,
    .empty_spec = EmptySpec<NamespaceSpec>,
    .check_name = CheckNamespaceName,
    .apply_defaults = DefaultNamespace,
    .check = CheckNamespace,
    .columns = kNamespaceColumns,
};

}  // namespace tabby::model
