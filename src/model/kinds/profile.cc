#include "model/kinds/profile.h"

#include <array>

#include "model/check.h"
#include "model/kind_registry.h"
#include "model/table_cells.h"

namespace tabby::model {
namespace {

using internal::Checker;

void DefaultProfile(Resource& r) {
  internal::DefaultRules(r.profile().ingress);
  internal::DefaultRules(r.profile().egress);
}

bool CheckProfile(Checker& c, const Resource& r) {
  const ProfileSpec& s = r.profile();
  return CheckRules(c, "spec.ingress", s.ingress) && CheckRules(c, "spec.egress", s.egress) &&
         CheckLabels(c, "spec.labelsToApply", s.labels_to_apply);
}

constexpr auto kProfileColumns = std::to_array<Column>({
    {"LABELS", Column::kWideOnly,
     [](const Resource& r) { return LabelsText(r.profile().labels_to_apply); }},
});

}  // namespace

extern constexpr KindInfo kProfileKind{
    .kind = Kind::kProfile,
    .name = "Profile",
    .aliases = {"profiles", "pro", "pros"},
    .wire_name = "Profile",
    .empty_spec = EmptySpec<ProfileSpec>,
    .apply_defaults = DefaultProfile,
    .check = CheckProfile,
    .columns = kProfileColumns,
};

}  // namespace tabby::model
