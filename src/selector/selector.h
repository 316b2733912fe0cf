// The label selector language (Calico-compatible): parse once, evaluate many times.
//
//   selector := <empty> | expr           (empty means all())
//   expr     := and { "||" and }
//   and      := unary { "&&" unary }
//   unary    := { "!" } primary
//   primary  := has(k) | all() | global() | k == "v" | k != "v" | k in {"a","b"} |
//               k not in {...} | k contains "s" | k starts with "s" | k ends with "s" | ( expr )
//
// A Selector is an immutable value, cheap to copy (shared AST) and safe to share between threads.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tabby::selector {

using Labels = std::map<std::string, std::string, std::less<>>;

// Where a selector looks labels up. Lets callers evaluate against layered labels (a workload's
// own labels over those inherited from its profiles and namespace) without merging maps.
class LabelSource {
 public:
  virtual ~LabelSource() = default;
  // The value of `key`, or nullptr when absent. The pointer is valid until the source changes.
  virtual const std::string* Find(std::string_view key) const = 0;
};

// Adapts a plain map.
class MapLabelSource final : public LabelSource {
 public:
  explicit MapLabelSource(const Labels& labels) : labels_(labels) {}
  const std::string* Find(std::string_view key) const override;

 private:
  const Labels& labels_;
};

struct Node;  // AST node; private to the implementation.

// "Label `key` is present and, unless `values` is empty, has one of `values`" (sorted, unique).
struct LabelTerm {
  std::string key;
  std::vector<std::string> values;
  friend bool operator==(const LabelTerm&, const LabelTerm&) = default;
};

class Selector {
 public:
  // all()
  Selector();

  // Parses `text` (at most 4096 characters, parentheses nested at most 128 deep). On error the
  // status is InvalidArgument; its first line names the character at fault and what was
  // expected, the next two show the selector with a caret under that character, e.g.:
  //   invalid selector "a == 'x' &&": expected a label, has(), all(), '!' or '(' at character
  //   12 (end of input)
  static absl::StatusOr<Selector> Parse(std::string_view text);

  // Evaluation cost: one pass over the AST, a map lookup per label reference. No allocation.
  bool Matches(const LabelSource& labels) const;
  bool Matches(const Labels& labels) const;

  // Canonical text: re-parses to an equal selector; equal selectors have equal canonical text
  // (whitespace, quoting and set order normalised). As Calico prints it: every && / || group in
  // parentheses, e.g. `(app == "web" && tier in {"a", "b"})`, `!has(x)`, `all()` for "".
  const std::string& Canonical() const { return canonical_; }

  // Stable identifier derived from Canonical(): "s:" followed by hex digits. Same selector text
  // in any process or release gives the same id (used to name kernel sets).
  const std::string& Id() const { return id_; }

  // True for all() / the empty selector (matches everything).
  bool MatchesEverything() const;

  // True if the expression contains global() anywhere.
  bool UsesGlobal() const;

  // Label keys the selector refers to (for indexing).
  std::vector<std::string> ReferencedKeys() const;

  // Conditions every match satisfies, for indexing: a label set that fails any of them can never
  // match, so an index may visit only the items satisfying one (the rarest) of them. Drawn from
  // the top-level conjunction: `k == v` gives {k, {v}}, `k in {...}` {k, {...}}, and has(k),
  // contains, starts with and ends with {k, {}} (present, any value). May be empty.
  std::vector<LabelTerm> RequiredTerms() const;

  friend bool operator==(const Selector& a, const Selector& b) {
    return a.canonical_ == b.canonical_;
  }

 private:
  explicit Selector(std::shared_ptr<const Node> root);
  std::shared_ptr<const Node> root_;
  std::string canonical_;
  std::string id_;
};

// Quotes `value` for use in selector text: double quotes unless it contains a double quote.
std::string QuoteValue(std::string_view value);

}  // namespace tabby::selector
