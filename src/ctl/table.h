// `tabbyctl get` tables: the columns each kind registers (model/kind_registry.h; they follow
// calicoctl's, see shared/reference/calico.md §7) and a kubectl-style aligned renderer.
#pragma once

#include <string>
#include <vector>

#include "model/resources.h"

namespace tabby::ctl {

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};

// The table for `resources` (all of `kind`). With `with_namespace`, namespaced kinds get a
// leading NAMESPACE column (what -A shows). Empty cells read "<none>".
Table MakeTable(model::Kind kind, const std::vector<model::Resource>& resources, bool wide,
                bool with_namespace);

// Columns left-aligned, separated by at least three spaces, no trailing spaces; one line per row
// after the header line.
std::string RenderTable(const Table& table);

}  // namespace tabby::ctl
