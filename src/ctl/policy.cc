// tabbyctl policy explain | matrix: what policy decides, computed from the model (calc/analysis.h).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "base/status_macros.h"
#include "calc/analysis.h"
#include "ctl/commands.h"
#include "ctl/input.h"
#include "ctl/table.h"
#include "datastore/resource_store.h"
#include "model/internal.h"

namespace tabby::ctl {
namespace {

absl::StatusOr<uint8_t> ProtocolNumber(const std::string& text) {
  for (auto [name, number] :
       {std::pair{"tcp", 6}, {"udp", 17}, {"sctp", 132}, {"icmp", 1}, {"icmpv6", 58}}) {
    if (model::internal::EqualsIgnoreCase(text, name)) return static_cast<uint8_t>(number);
  }
  return absl::InvalidArgumentError(
      fmt::format("--protocol: \"{}\" is not one of TCP, UDP, SCTP, ICMP, ICMPv6", text));
}

std::string ProtocolName(uint8_t protocol) {
  switch (protocol) {
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 132:
      return "SCTP";
    case 1:
      return "ICMP";
    case 58:
      return "ICMPv6";
  }
  return std::to_string(protocol);
}

absl::StatusOr<std::vector<model::Resource>> LoadModel(const DatastoreOpener& open) {
  auto store = open();
  if (!store.ok()) return store.status();
  datastore::ResourceStore resources(**store);
  auto snapshot = resources.ListAll();
  if (!snapshot.ok()) return snapshot.status();
  return snapshot->resources;
}

void PrintDirection(const char* what, const std::string& where,
                    const std::optional<calc::DirectionVerdict>& verdict, std::ostream& out) {
  if (!verdict) {
    out << fmt::format("{}: {} is not a workload; no policy of its own\n", what, where);
    return;
  }
  out << fmt::format("{} at {}: {}\n", what, where, verdict->reason);
  for (const auto& step : verdict->steps) {
    if (step.rule_index < 0) {
      out << fmt::format("  {}: {}\n", step.program, step.outcome);
    } else {
      out << fmt::format("  {}: rule {} matched: {}\n", step.program, step.rule_index,
                         step.outcome);
    }
  }
}

}  // namespace

int RunPolicyExplain(const PolicyExplainOptions& options, const DatastoreOpener& open, Streams io) {
  auto protocol = ProtocolNumber(options.protocol);
  if (!protocol.ok()) return PrintError(io.err, MessageOf(protocol.status()));
  bool icmp = *protocol == 1 || *protocol == 58;
  if (!icmp && (options.port < 1 || options.port > 65535)) {
    return PrintError(io.err, "--port must be 1-65535");
  }
  auto resources = LoadModel(open);
  if (!resources.ok()) return PrintError(io.err, MessageOf(resources.status()));
  calc::PolicyAnalysis analysis(*resources);
  auto source = analysis.Resolve(options.source);
  if (!source.ok())
    return PrintError(io.err, fmt::format("source: {}", MessageOf(source.status())));
  auto destination = analysis.Resolve(options.destination);
  if (!destination.ok()) {
    return PrintError(io.err, fmt::format("destination: {}", MessageOf(destination.status())));
  }
  calc::Explanation e =
      analysis.Explain(*source, *destination, *protocol, static_cast<uint16_t>(options.port));
  if (!e.problem.empty()) return PrintError(io.err, e.problem);
  io.out << fmt::format("Packet: {} {} ({}) -> {} ({}){}\n", ProtocolName(*protocol),
                        e.packet.source.ToString(), e.source.display,
                        e.packet.destination.ToString(), e.destination.display,
                        icmp ? " echo request" : fmt::format(" port {}", options.port));
  if (e.same_workload) {
    io.out << "Verdict: ALLOWED (a workload's traffic to itself never leaves it)\n";
    return 0;
  }
  PrintDirection("Egress", e.source.display, e.egress, io.out);
  PrintDirection("Ingress", e.destination.display, e.ingress, io.out);
  std::string where;
  if (!e.allowed) {
    where = e.egress && !e.egress->allowed ? " (egress at the source)"
                                           : " (ingress at the destination)";
  }
  io.out << fmt::format("Verdict: {}{}\n", e.allowed ? "ALLOWED" : "DENIED", where);
  return 0;
}

namespace {

// Rows are sources, columns destinations; "." allowed, "X" denied.
struct Matrix {
  std::vector<std::string> names;  // "namespace/pod": what people read
  std::vector<std::string> keys;   // "namespace/endpoint": unique when a pod has several
  std::vector<std::vector<bool>> allowed;
};

Matrix Compute(calc::PolicyAnalysis& analysis, const std::set<std::string>& namespaces,
               uint8_t protocol, uint16_t port) {
  Matrix matrix;
  std::vector<size_t> chosen;
  for (size_t i = 0; i < analysis.workloads().size(); ++i) {
    if (namespaces.empty() || namespaces.contains(analysis.workloads()[i].namespace_name)) {
      chosen.push_back(i);
      matrix.names.push_back(analysis.workloads()[i].display);
      matrix.keys.push_back(analysis.workloads()[i].key);
    }
  }
  for (size_t from : chosen) {
    std::vector<bool> row;
    for (size_t to : chosen) row.push_back(analysis.Allowed(from, to, protocol, port));
    matrix.allowed.push_back(std::move(row));
  }
  return matrix;
}

// Applies `changes` to `resources` as `tabbyctl apply` would (same kind, namespace and name:
// replaced; otherwise added).
std::vector<model::Resource> WithChanges(std::vector<model::Resource> resources,
                                         const std::vector<InputResource>& changes) {
  for (const auto& change : changes) {
    const model::Resource& r = change.resource;
    auto same = std::find_if(resources.begin(), resources.end(), [&](const model::Resource& x) {
      return x.kind == r.kind && x.metadata.name == r.metadata.name &&
             x.metadata.namespace_name == r.metadata.namespace_name;
    });
    if (same != resources.end()) {
      *same = r;
    } else {
      resources.push_back(r);
    }
  }
  return resources;
}

}  // namespace

int RunPolicyMatrix(const PolicyMatrixOptions& options, const DatastoreOpener& open, Streams io) {
  auto protocol = ProtocolNumber(options.protocol);
  if (!protocol.ok()) return PrintError(io.err, MessageOf(protocol.status()));
  if (*protocol != 1 && *protocol != 58 && (options.port < 1 || options.port > 65535)) {
    return PrintError(io.err, "--port must be 1-65535");
  }
  std::vector<InputResource> changes;
  if (!options.files.empty()) {
    auto read = ReadInputs(options.files, io.in);
    if (!read.ok()) return PrintError(io.err, MessageOf(read.status()));
    changes = std::move(*read);
  }
  auto resources = LoadModel(open);
  if (!resources.ok()) return PrintError(io.err, MessageOf(resources.status()));
  std::set<std::string> namespaces(options.namespaces.begin(), options.namespaces.end());
  // A namespace exists for policy when a Namespace resource names it or a workload endpoint is
  // in it (namespaces are implicit, as policy evaluation treats them); -n of anything else is a
  // mistake, not an empty matrix.
  std::set<std::string> known;
  auto note = [&](const model::Resource& r) {
    if (r.kind == model::Kind::kNamespace) known.insert(r.metadata.name);
    if (r.kind == model::Kind::kWorkloadEndpoint) known.insert(r.metadata.namespace_name);
  };
  for (const auto& r : *resources) note(r);
  for (const auto& change : changes) note(change.resource);
  for (const auto& name : namespaces) {
    if (!known.contains(name)) {
      return PrintError(io.err, fmt::format("namespace \"{}\" not found: no Namespace resource "
                                            "names it and no workload endpoint is in it",
                                            name));
    }
  }
  const uint16_t port = static_cast<uint16_t>(options.port);
  calc::PolicyAnalysis now(*resources);
  Matrix current = Compute(now, namespaces, *protocol, port);
  std::optional<Matrix> after;
  if (!changes.empty()) {
    calc::PolicyAnalysis changed(WithChanges(*resources, changes));
    after = Compute(changed, namespaces, *protocol, port);
  }
  const Matrix& shown = after ? *after : current;
  // Cells of the matrix after the changes that differ from now, matched by endpoint (a change
  // may add or remove workloads).
  std::map<std::string, size_t> index_now;
  for (size_t i = 0; i < current.keys.size(); ++i) index_now[current.keys[i]] = i;
  auto differs = [&](size_t row, size_t column) {
    if (!after) return false;
    auto r = index_now.find(shown.keys[row]), c = index_now.find(shown.keys[column]);
    if (r == index_now.end() || c == index_now.end()) return true;
    return current.allowed[r->second][c->second] != shown.allowed[row][column];
  };
  const bool icmp = *protocol == 1 || *protocol == 58;
  if (options.output == "json") {
    nlohmann::json out = {{"protocol", ProtocolName(*protocol)},
                          {"afterChanges", after.has_value()},
                          {"workloads", shown.names},
                          {"endpoints", shown.keys},
                          {"allowed", shown.allowed}};
    if (!icmp) out["port"] = port;
    if (after) {
      nlohmann::json rows = nlohmann::json::array();
      for (size_t row = 0; row < shown.names.size(); ++row) {
        nlohmann::json cells = nlohmann::json::array();
        for (size_t column = 0; column < shown.names.size(); ++column) {
          cells.push_back(differs(row, column));
        }
        rows.push_back(std::move(cells));
      }
      out["differs"] = std::move(rows);
    }
    io.out << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (shown.names.empty()) {
    io.out << "No workloads" << (namespaces.empty() ? "" : " in those namespaces") << ".\n";
    return 0;
  }
  io.out << fmt::format("{} {}{}: rows are sources, columns destinations; . allowed, X denied{}\n",
                        ProtocolName(*protocol), icmp ? "echo" : std::to_string(port),
                        after ? " after the changes" : "", after ? "; * differs from now" : "");
  Table table{{"FROM \\ TO"}, {}};
  for (const auto& name : shown.names) table.headers.push_back(name);
  size_t differences = 0;
  for (size_t row = 0; row < shown.names.size(); ++row) {
    std::vector<std::string> cells{shown.names[row]};
    for (size_t column = 0; column < shown.names.size(); ++column) {
      std::string cell = shown.allowed[row][column] ? "." : "X";
      if (differs(row, column)) {
        cell += "*";
        ++differences;
      }
      cells.push_back(cell);
    }
    table.rows.push_back(std::move(cells));
  }
  io.out << RenderTable(table);
  if (after) io.out << fmt::format("{} cells would change.\n", differences);
  return 0;
}

}  // namespace tabby::ctl
