// Indexes that let selectors and labelled items find each other without scanning either side
// (the idea of Felix's label index): a selector is reduced to the label terms every match must
// satisfy (selector::Selector::RequiredTerms), and only items satisfying one of them, its rarest,
// are evaluated in full.
//
//   ItemLabelIndex<T>     label key -> value -> items. "Which items can match this selector?"
//                         costs the size of the answer for the chosen term, not the population.
//   SelectorTermIndex<S>  selectors by the one term each was indexed under. "Which selectors can
//                         match these labels?" costs one lookup per label plus the candidates,
//                         and the selectors with no term at all (few in practice: all(), || at
//                         the top, namespaceSelector-only peers), which every lookup visits.
//
// Both hold pointers, never copies: the owner keeps the items and selectors at stable addresses
// (map nodes) and removes them from the index before they go. Not thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "selector/selector.h"

namespace tabby::calc {

template <typename T>
class ItemLabelIndex {
 public:
  void Add(const T* item, const selector::Labels& labels) {
    for (const auto& [key, value] : labels) {
      KeyEntry& entry = keys_[key];
      if (entry.by_value[value].insert(item).second) ++entry.items;
    }
  }

  void Remove(const T* item, const selector::Labels& labels) {
    for (const auto& [key, value] : labels) {
      auto entry = keys_.find(key);
      if (entry == keys_.end()) continue;
      auto values = entry->second.by_value.find(value);
      if (values == entry->second.by_value.end()) continue;
      if (values->second.erase(item) > 0) --entry->second.items;
      if (values->second.empty()) entry->second.by_value.erase(values);
      if (entry->second.by_value.empty()) keys_.erase(entry);
    }
  }

  // How many items satisfy `term`.
  size_t Count(const selector::LabelTerm& term) const {
    auto entry = keys_.find(term.key);
    if (entry == keys_.end()) return 0;
    if (term.values.empty()) return entry->second.items;
    size_t count = 0;
    for (const auto& value : term.values) {
      auto items = entry->second.by_value.find(value);
      if (items != entry->second.by_value.end()) count += items->second.size();
    }
    return count;
  }

  // The term of `terms` that the fewest items satisfy, or none when `terms` is empty.
  std::optional<selector::LabelTerm> Rarest(const std::vector<selector::LabelTerm>& terms) const {
    std::optional<selector::LabelTerm> best;
    size_t best_count = 0;
    for (const auto& term : terms) {
      size_t count = Count(term);
      if (!best || count < best_count) {
        best = term;
        best_count = count;
      }
    }
    return best;
  }

  // Calls visit(const T*) once for every item that satisfies `term`, in no particular order.
  // `visit` must not change the index.
  template <typename Visit>
  void ForEach(const selector::LabelTerm& term, Visit&& visit) const {
    auto entry = keys_.find(term.key);
    if (entry == keys_.end()) return;
    auto visit_values = [&](const ItemSet& items) {
      for (const T* item : items) visit(item);
    };
    if (term.values.empty()) {
      for (const auto& [value, items] : entry->second.by_value) visit_values(items);
      return;
    }
    for (const auto& value : term.values) {
      auto items = entry->second.by_value.find(value);
      if (items != entry->second.by_value.end()) visit_values(items->second);
    }
  }

 private:
  using ItemSet = absl::flat_hash_set<const T*>;
  struct KeyEntry {
    size_t items = 0;  // carrying the key, with any value
    absl::flat_hash_map<std::string, ItemSet> by_value;
  };
  absl::flat_hash_map<std::string, KeyEntry> keys_;
};

template <typename S>
class SelectorTermIndex {
 public:
  // `term` nullopt: the selector has no required term and is a candidate for every label set.
  void Add(S* selector, const std::optional<selector::LabelTerm>& term) {
    if (!term) {
      unindexed_.insert(selector);
    } else if (term->values.empty()) {
      by_key_[term->key].insert(selector);
    } else {
      for (const auto& value : term->values) by_value_[term->key][value].insert(selector);
    }
  }

  void Remove(S* selector, const std::optional<selector::LabelTerm>& term) {
    if (!term) {
      unindexed_.erase(selector);
      return;
    }
    if (term->values.empty()) {
      EraseFrom(by_key_, term->key, selector);
      return;
    }
    auto values = by_value_.find(term->key);
    if (values == by_value_.end()) return;
    for (const auto& value : term->values) EraseFrom(values->second, value, selector);
    if (values->second.empty()) by_value_.erase(values);
  }

  // Appends to `out` every selector whose term `labels` satisfies, and every unindexed one. A
  // selector appears at most once per call.
  void Candidates(const selector::Labels& labels, std::vector<S*>* out) const {
    out->insert(out->end(), unindexed_.begin(), unindexed_.end());
    for (const auto& [key, value] : labels) {
      if (auto any = by_key_.find(key); any != by_key_.end()) {
        out->insert(out->end(), any->second.begin(), any->second.end());
      }
      auto values = by_value_.find(key);
      if (values == by_value_.end()) continue;
      if (auto set = values->second.find(value); set != values->second.end()) {
        out->insert(out->end(), set->second.begin(), set->second.end());
      }
    }
  }

 private:
  using SelectorSet = absl::flat_hash_set<S*>;
  static void EraseFrom(absl::flat_hash_map<std::string, SelectorSet>& map, const std::string& key,
                        S* selector) {
    auto it = map.find(key);
    if (it == map.end()) return;
    it->second.erase(selector);
    if (it->second.empty()) map.erase(it);
  }

  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, SelectorSet>> by_value_;
  absl::flat_hash_map<std::string, SelectorSet> by_key_;
  SelectorSet unindexed_;
};

}  // namespace tabby::calc
