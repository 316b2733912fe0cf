// Fuzzes the selector parser: any bytes either fail cleanly with InvalidArgument, or parse to a
// selector whose canonical text re-parses to itself and evaluates the same way.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/status_macros.h"
#include "selector/selector.h"

namespace {

using tabby::selector::Labels;
using tabby::selector::MapLabelSource;
using tabby::selector::Selector;

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_selector: %s\ninput: %.*s\n", what, static_cast<int>(input.size()),
               input.data());
  std::abort();
}

// Label sets built from the keys and values the selector mentions, so evaluation reaches both
// outcomes of most terms. Deterministic: the same selector always gets the same sets.
std::vector<Labels> LabelSetsFor(const Selector& s, std::string_view input) {
  std::vector<std::string> keys = s.ReferencedKeys();
  if (keys.size() > 8) keys.resize(8);
  std::vector<std::string> values = {"", "x", "web", "\"", "'"};
  for (const auto& term : s.RequiredTerms()) {
    values.insert(values.end(), term.values.begin(), term.values.end());
  }
  if (!input.empty()) values.emplace_back(input.substr(input.size() / 2, 3));
  std::vector<Labels> sets = {{}, {{"app", "web"}}};
  for (uint32_t round = 0; round < 24; ++round) {
    Labels labels;
    uint32_t state = round * 2654435761u + 1;
    for (const std::string& key : keys) {
      state = state * 1103515245u + 12345u;
      uint32_t pick = (state >> 16) % (values.size() + 1);
      if (pick < values.size()) labels[key] = values[pick];  // else: absent
    }
    sets.push_back(std::move(labels));
  }
  return sets;
}

// RequiredTerms as a sorted list, to compare selectors that may order their conjuncts apart.
std::vector<std::pair<std::string, std::vector<std::string>>> SortedTerms(const Selector& s) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& term : s.RequiredTerms()) out.emplace_back(term.key, term.values);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Selector> parsed = Selector::Parse(input);
  if (!parsed.ok()) {
    Check(parsed.status().code() == absl::StatusCode::kInvalidArgument, "error not InvalidArgument",
          input);
    Check(tabby::MessageOf(parsed.status()).starts_with("invalid selector \""),
          "error message lacks prefix", input);
    return 0;
  }
  const Selector& s = *parsed;
  const std::string& canonical = s.Canonical();
  absl::StatusOr<Selector> again = Selector::Parse(canonical);
  Check(again.ok(), "canonical text does not parse", input);
  Check(again->Canonical() == canonical, "canonical text not a fixed point", input);
  Check(again->Id() == s.Id(), "id changed on re-parse", input);
  Check(again->ReferencedKeys() == s.ReferencedKeys(), "keys changed on re-parse", input);
  Check(SortedTerms(*again) == SortedTerms(s), "required terms changed on re-parse", input);
  Check(again->UsesGlobal() == s.UsesGlobal(), "UsesGlobal changed on re-parse", input);
  Check(again->MatchesEverything() == s.MatchesEverything(), "MatchesEverything changed", input);
  Check(s.Id().size() == 30 && s.Id().starts_with("s:"), "bad id", input);

  if (size + 2 <= 4096) {
    absl::StatusOr<Selector> spaced = Selector::Parse(std::string(input) + " \t");
    Check(spaced.ok() && spaced->Canonical() == canonical, "trailing whitespace matters", input);
  }

  const auto terms = s.RequiredTerms();
  for (const Labels& labels : LabelSetsFor(s, input)) {
    bool match = s.Matches(labels);
    Check(match == again->Matches(labels), "canonical form evaluates differently", input);
    Check(match == s.Matches(MapLabelSource(labels)), "LabelSource evaluates differently", input);
    if (s.MatchesEverything()) Check(match, "all() did not match", input);
    if (!match) continue;
    for (const auto& term : terms) {
      auto it = labels.find(term.key);
      Check(it != labels.end() &&
                (term.values.empty() || std::find(term.values.begin(), term.values.end(),
                                                  it->second) != term.values.end()),
            "match violates RequiredTerms", input);
    }
  }
  return 0;
}
