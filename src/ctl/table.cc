#include "ctl/table.h"

#include <fmt/format.h>

#include <algorithm>

#include "model/kind_registry.h"
#include "model/table_cells.h"

namespace tabby::ctl {

Table MakeTable(model::Kind kind, const std::vector<model::Resource>& resources, bool wide,
                bool with_namespace) {
  const model::KindInfo& info = model::KindInfoOf(kind);
  bool namespace_column = with_namespace && info.namespaced;
  std::vector<const model::Column*> columns;
  for (const model::Column& column : info.columns) {
    if (wide || column.shown == model::Column::kAlways) columns.push_back(&column);
  }
  Table table;
  if (namespace_column) table.headers.emplace_back("NAMESPACE");
  table.headers.emplace_back("NAME");
  for (const model::Column* column : columns) table.headers.emplace_back(column->header);
  for (const model::Resource& resource : resources) {
    std::vector<std::string> row;
    if (namespace_column) row.push_back(model::Cell(resource.metadata.namespace_name));
    row.push_back(resource.metadata.name);
    for (const model::Column* column : columns) row.push_back(column->cell(resource));
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string RenderTable(const Table& table) {
  std::vector<size_t> widths(table.headers.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(table.headers);
  for (const auto& row : table.rows) measure(row);
  std::string out;
  auto render = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      if (i + 1 < row.size()) {
        line += fmt::format("{:<{}}", row[i], widths[i] + 3);
      } else {
        line += row[i];
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  render(table.headers);
  for (const auto& row : table.rows) render(row);
  return out;
}

}  // namespace tabby::ctl
