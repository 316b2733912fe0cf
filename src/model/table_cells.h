// The text of `tabbyctl get` table cells, shared by the kinds' columns (kinds/*.cc) and ctl's
// table (its NAMESPACE column). Empty values read "<none>", as in calicoctl and kubectl.
#pragma once

#include <string>
#include <vector>

#include "model/resources.h"

namespace tabby::model {

inline constexpr char kNoneCell[] = "<none>";

// `value`, or "<none>" when it is empty.
std::string Cell(const std::string& value);
// "a,b,c", or "<none>".
std::string Join(const std::vector<std::string>& items);
// "k1=v1,k2=v2", or "<none>".
std::string LabelsText(const Labels& labels);
// A Calico selector; "all()" when empty.
std::string SelectorText(const std::string& selector);
// "Ingress,Egress".
std::string PolicyTypesText(const std::vector<PolicyType>& types);
// The LABELS column: the resource's own labels.
std::string MetadataLabelsCell(const Resource& resource);

}  // namespace tabby::model
