#include "calc/desired_state.h"

#include <algorithm>
#include <iterator>

namespace tabby::calc {
namespace {

template <typename T>
std::set<T> Minus(const std::set<T>& a, const std::set<T>& b) {
  std::set<T> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

// Diffs two maps of member sets into added/removed set names and member changes.
template <typename T>
void DiffSets(const std::map<std::string, std::set<T>>& from,
              const std::map<std::string, std::set<T>>& to, std::set<std::string>& added,
              std::map<std::string, std::set<T>>& members_added,
              std::map<std::string, std::set<T>>& members_removed, std::set<std::string>& removed) {
  static const std::set<T> kEmpty;
  for (const auto& [id, members] : to) {
    auto old = from.find(id);
    const std::set<T>& before = old == from.end() ? kEmpty : old->second;
    if (old == from.end()) added.insert(id);
    auto plus = Minus(members, before);
    auto minus = Minus(before, members);
    if (!plus.empty()) members_added[id] = std::move(plus);
    if (!minus.empty()) members_removed[id] = std::move(minus);
  }
  for (const auto& [id, members] : from) {
    if (!to.contains(id)) removed.insert(id);
  }
}

template <typename T>
void DiffValues(const std::map<std::string, T>& from, const std::map<std::string, T>& to,
                std::map<std::string, T>& upserted, std::set<std::string>& removed) {
  for (const auto& [id, value] : to) {
    auto old = from.find(id);
    if (old == from.end() || !(old->second == value)) upserted[id] = value;
  }
  for (const auto& [id, value] : from) {
    if (!to.contains(id)) removed.insert(id);
  }
}

template <typename T>
void ApplySets(const std::set<std::string>& added,
               const std::map<std::string, std::set<T>>& members_added,
               const std::map<std::string, std::set<T>>& members_removed,
               const std::set<std::string>& removed, std::map<std::string, std::set<T>>& sets) {
  for (const auto& id : added) sets[id];
  for (const auto& [id, members] : members_added) sets[id].insert(members.begin(), members.end());
  for (const auto& [id, members] : members_removed) {
    auto it = sets.find(id);
    if (it == sets.end()) continue;
    for (const auto& m : members) it->second.erase(m);
  }
  for (const auto& id : removed) sets.erase(id);
}

}  // namespace

bool Delta::empty() const {
  return ip_sets_added.empty() && ip_members_added.empty() && ip_members_removed.empty() &&
         ip_sets_removed.empty() && port_sets_added.empty() && port_members_added.empty() &&
         port_members_removed.empty() && port_sets_removed.empty() && programs_upserted.empty() &&
         programs_removed.empty() && endpoints_upserted.empty() && endpoints_removed.empty() &&
         !log_prefix.has_value() && !host.has_value();
}

Delta Diff(const DesiredState& from, const DesiredState& to) {
  Delta delta;
  DiffSets(from.ip_sets, to.ip_sets, delta.ip_sets_added, delta.ip_members_added,
           delta.ip_members_removed, delta.ip_sets_removed);
  DiffSets(from.port_sets, to.port_sets, delta.port_sets_added, delta.port_members_added,
           delta.port_members_removed, delta.port_sets_removed);
  DiffValues(from.programs, to.programs, delta.programs_upserted, delta.programs_removed);
  DiffValues(from.endpoints, to.endpoints, delta.endpoints_upserted, delta.endpoints_removed);
  if (from.log_prefix != to.log_prefix) delta.log_prefix = to.log_prefix;
  if (from.host != to.host) delta.host = to.host;
  return delta;
}

void Apply(const Delta& delta, DesiredState& state) {
  ApplySets(delta.ip_sets_added, delta.ip_members_added, delta.ip_members_removed,
            delta.ip_sets_removed, state.ip_sets);
  ApplySets(delta.port_sets_added, delta.port_members_added, delta.port_members_removed,
            delta.port_sets_removed, state.port_sets);
  for (const auto& [id, program] : delta.programs_upserted) state.programs[id] = program;
  for (const auto& id : delta.programs_removed) state.programs.erase(id);
  for (const auto& [id, endpoint] : delta.endpoints_upserted) state.endpoints[id] = endpoint;
  for (const auto& id : delta.endpoints_removed) state.endpoints.erase(id);
  if (delta.log_prefix) state.log_prefix = *delta.log_prefix;
  if (delta.host) state.host = *delta.host;
}

}  // namespace tabby::calc
