// Profile: rules and labels that endpoints inherit by listing the profile.
// Its defaults, validation and `tabbyctl get` columns are in profile.cc.
#pragma once

#include <vector>

#include "model/describe.h"
#include "model/types.h"

namespace tabby::model {

struct ProfileSpec {
  std::vector<Rule> ingress;
  std::vector<Rule> egress;
  Labels labels_to_apply;  // inherited by endpoints listing the profile; own labels win
  friend bool operator==(const ProfileSpec&, const ProfileSpec&) = default;
};

}  // namespace tabby::model

namespace tabby::model::internal {

template <typename V, Is<ProfileSpec> T>
void Describe(V& v, T& s) {
  v.Field("ingress", s.ingress);
  v.Field("egress", s.egress);
  v.Field("labelsToApply", s.labels_to_apply);
}

}  // namespace tabby::model::internal
