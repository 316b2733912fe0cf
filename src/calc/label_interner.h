// Interned label maps: endpoints whose labels are equal share one immutable map. In a cluster
// most workloads are replicas whose labels (own and effective) repeat, and a label map costs
// hundreds of bytes per endpoint; interning makes 100,000 endpoints pay for their distinct
// label sets only, and lets equal maps compare by pointer first.
//
// Entries no endpoint holds any more are swept when the pool has doubled since the last sweep:
// amortised O(1) per Intern. Not thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "model/types.h"

namespace tabby::calc {

using SharedLabels = std::shared_ptr<const model::Labels>;

class LabelInterner {
 public:
  SharedLabels Intern(model::Labels labels) {
    if (auto it = pool_.find(labels); it != pool_.end()) return *it;
    if (pool_.size() >= 2 * size_after_sweep_ + 64) Sweep();
    SharedLabels shared = std::make_shared<const model::Labels>(std::move(labels));
    pool_.insert(shared);
    return shared;
  }

  size_t size() const { return pool_.size(); }

 private:
  void Sweep() {
    absl::erase_if(pool_, [](const SharedLabels& labels) { return labels.use_count() == 1; });
    size_after_sweep_ = pool_.size();
  }

  // Hash and equality over the map a pointer holds, so that a plain map can be looked up.
  struct Hash {
    using is_transparent = void;
    size_t operator()(const model::Labels& labels) const {
      size_t h = labels.size();
      for (const auto& [key, value] : labels) {
        h = h * 31 + std::hash<std::string_view>()(key);
        h = h * 31 + std::hash<std::string_view>()(value);
      }
      return h;
    }
    size_t operator()(const SharedLabels& labels) const { return (*this)(*labels); }
  };
  struct Eq {
    using is_transparent = void;
    static const model::Labels& Of(const model::Labels& labels) { return labels; }
    static const model::Labels& Of(const SharedLabels& labels) { return *labels; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Of(a) == Of(b);
    }
  };

  absl::flat_hash_set<SharedLabels, Hash, Eq> pool_;
  size_t size_after_sweep_ = 0;
};

}  // namespace tabby::calc
