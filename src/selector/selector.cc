// Selector parsing, canonical printing and evaluation.
//
// The language follows libcalico-go/lib/selector (tokenizer.go, parser.go, ast.go): the same
// inputs are accepted, evaluate the same way and print the same canonical text. The parser
// here is a single recursive descent over characters (rather than tokenize-then-parse) so every
// error can point at the character at fault.
#include "selector/selector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "base/hash.h"

namespace tabby::selector {

// One AST node. Trees are built once by the parser and never mutated afterwards, so a shared
// root may be read from any number of threads.
struct Node {
  enum class Kind : uint8_t {
    kAll,
    kGlobal,
    kHas,
    kEq,
    kNe,
    kIn,
    kNotIn,
    kContains,
    kStartsWith,
    kEndsWith,
    kNot,  // operands: exactly one, never itself a kNot
    kAnd,  // operands: two or more
    kOr,   // operands: two or more
  };

  explicit Node(Kind k) : kind(k) {}

  Kind kind;
  std::string key;               // label key for the label operators
  std::string value;             // ==, !=, contains, starts with, ends with
  std::vector<std::string> set;  // in / not in: sorted and de-duplicated
  std::vector<Node> operands;    // not / and / or
};

namespace {

using Kind = Node::Kind;

constexpr size_t kMaxLength = 4096;  // of the input and of its canonical text
constexpr int kMaxDepth = 128;       // nested parentheses, in the input and in canonical text
constexpr size_t kMaxLabelLength = 512;

bool IsLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '/' || c == '-';
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Renders `text` for an error message: control characters become '?' so the message stays on
// its lines and the caret stays under the right character.
std::string Printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) c = '?';
  }
  return out;
}

// 1-based character (code point) number of byte offset `pos` in `text`.
size_t CharacterNumber(std::string_view text, size_t pos) {
  size_t n = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) ++n;
  }
  return n;
}

// "   ^" under byte offset `pos` of `text`; tabs are copied so the caret lines up under them.
std::string Caret(std::string_view text, size_t pos) {
  std::string out;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) == 0x80) continue;
    out.push_back(text[i] == '\t' ? '\t' : ' ');
  }
  out.push_back('^');
  return out;
}

absl::Status ErrorAt(std::string_view text, size_t pos, std::string_view what) {
  std::string shown = Printable(text);
  return absl::InvalidArgumentError(
      fmt::format("invalid selector \"{}\": {} at character {}{}\n{}\n{}", shown, what,
                  CharacterNumber(text, pos), pos >= text.size() ? " (end of input)" : "", shown,
                  Caret(text, pos)));
}

absl::Status ErrorWithoutPosition(std::string_view text, std::string_view what) {
  constexpr size_t kShown = 64;
  std::string shown = Printable(text.substr(0, kShown));
  if (text.size() > kShown) shown += "...";
  return absl::InvalidArgumentError(fmt::format("invalid selector \"{}\": {}", shown, what));
}

// Recursive descent over the characters of one selector. Keyword operators are recognised only
// right after a label (as Calico's tokenizer does), so labels may be spelled like keywords.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<Node> ParseSelector() {
    SkipSpace();
    if (AtEnd()) return Node(Kind::kAll);
    absl::StatusOr<Node> root = ParseOr();
    if (!root.ok()) return root;
    SkipSpace();
    if (!AtEnd()) return Fail("expected '&&', '||' or end of input");
    return root;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  bool LookingAt(std::string_view s) const { return text_.substr(pos_).starts_with(s); }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
  }
  absl::Status Fail(std::string_view what) const { return ErrorAt(text_, pos_, what); }

  // Consumes `symbol` (made of non-label characters, e.g. "==") if it is next.
  bool ConsumeSymbol(std::string_view symbol) {
    if (IsLabelChar(symbol.front()) || !LookingAt(symbol)) return false;
    pos_ += symbol.size();
    return true;
  }

  // Consumes `word` if it is next and is followed by a non-label character.
  bool ConsumeWord(std::string_view word) {
    if (!IsLabelChar(word.front()) || !LookingAt(word)) return false;
    size_t end = pos_ + word.size();
    if (end < text_.size() && IsLabelChar(text_[end])) return false;
    pos_ = end;
    return true;
  }

  // or := and { "||" and }
  absl::StatusOr<Node> ParseOr() {
    absl::StatusOr<Node> first = ParseAnd();
    if (!first.ok()) return first;
    SkipSpace();
    if (!LookingAt("||")) return first;
    Node node(Kind::kOr);
    node.operands.push_back(*std::move(first));
    while (LookingAt("||")) {
      pos_ += 2;
      absl::StatusOr<Node> next = ParseAnd();
      if (!next.ok()) return next;
      node.operands.push_back(*std::move(next));
      SkipSpace();
    }
    return node;
  }

  // and := unary { "&&" unary }
  absl::StatusOr<Node> ParseAnd() {
    absl::StatusOr<Node> first = ParseUnary();
    if (!first.ok()) return first;
    SkipSpace();
    if (!LookingAt("&&")) return first;
    Node node(Kind::kAnd);
    node.operands.push_back(*std::move(first));
    while (LookingAt("&&")) {
      pos_ += 2;
      absl::StatusOr<Node> next = ParseUnary();
      if (!next.ok()) return next;
      node.operands.push_back(*std::move(next));
      SkipSpace();
    }
    return node;
  }

  // unary := { "!" } primary. Each '!' toggles, as in Calico; a negated negation is unwrapped
  // so that "!(!x)" prints as "x" and canonical text re-parses to the same tree.
  absl::StatusOr<Node> ParseUnary() {
    bool negated = false;
    SkipSpace();
    while (!AtEnd() && text_[pos_] == '!') {
      negated = !negated;
      ++pos_;
      SkipSpace();
    }
    absl::StatusOr<Node> primary = ParsePrimary();
    if (!primary.ok() || !negated) return primary;
    if (primary->kind == Kind::kNot) {
      Node inner = std::move(primary->operands.front());
      return inner;
    }
    Node node(Kind::kNot);
    node.operands.push_back(*std::move(primary));
    return node;
  }

  absl::StatusOr<Node> ParsePrimary() {
    SkipSpace();
    if (AtEnd() || !(text_[pos_] == '(' || IsLabelChar(text_[pos_]))) {
      return Fail("expected a label, has(), all(), '!' or '('");
    }
    if (text_[pos_] == '(') {
      if (depth_ >= kMaxDepth) {
        return Fail(fmt::format("parentheses nested deeper than {}", kMaxDepth));
      }
      ++depth_;
      ++pos_;
      absl::StatusOr<Node> inner = ParseOr();
      if (!inner.ok()) return inner;
      SkipSpace();
      if (AtEnd() || text_[pos_] != ')') return Fail("expected '&&', '||' or ')'");
      ++pos_;
      --depth_;
      return inner;
    }
    if (LookingAt("has(")) {
      pos_ += 4;
      SkipSpace();
      absl::StatusOr<std::string> key = ParseLabel("expected a label after 'has('");
      if (!key.ok()) return key.status();
      SkipSpace();
      if (AtEnd() || text_[pos_] != ')') return Fail("expected ')' to close 'has('");
      ++pos_;
      Node node(Kind::kHas);
      node.key = *std::move(key);
      return node;
    }
    for (auto [word, kind] : {std::pair{std::string_view("all("), Kind::kAll},
                              std::pair{std::string_view("global("), Kind::kGlobal}}) {
      if (!LookingAt(word)) continue;
      pos_ += word.size();
      SkipSpace();
      if (AtEnd() || text_[pos_] != ')') {
        return Fail(fmt::format("expected ')' to close '{}'", word));
      }
      ++pos_;
      return Node(kind);
    }
    absl::StatusOr<std::string> key = ParseLabel("expected a label");
    if (!key.ok()) return key.status();
    return ParseLabelOperation(*std::move(key));
  }

  absl::StatusOr<std::string> ParseLabel(std::string_view expected) {
    size_t start = pos_;
    while (!AtEnd() && IsLabelChar(text_[pos_])) ++pos_;
    if (pos_ == start) return Fail(expected);
    if (pos_ - start > kMaxLabelLength) {
      pos_ = start;
      return Fail(fmt::format("label longer than {} characters", kMaxLabelLength));
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  // After a label: == != contains "starts with" "ends with" in "not in" (and the one-word forms
  // startswith, endswith, notin), then a quoted string or a set. As in Calico's tokenizer, the
  // first word of a two-word operator is matched as a prefix; the last word needs a boundary.
  absl::StatusOr<Node> ParseLabelOperation(std::string key) {
    struct Operator {
      std::string_view first;
      std::string_view second;  // empty for one-word operators
      std::string_view name;
      Kind kind;
    };
    static constexpr Operator kOperators[] = {
        {"==", "", "==", Kind::kEq},
        {"!=", "", "!=", Kind::kNe},
        {"contains", "", "contains", Kind::kContains},
        {"starts", "with", "starts with", Kind::kStartsWith},
        {"ends", "with", "ends with", Kind::kEndsWith},
        {"not", "in", "not in", Kind::kNotIn},
        {"in", "", "in", Kind::kIn},
    };
    SkipSpace();
    const Operator* found = nullptr;
    for (const Operator& op : kOperators) {
      if (op.second.empty() ? ConsumeWord(op.first) || ConsumeSymbol(op.first)
                            : LookingAt(op.first)) {
        found = &op;
        break;
      }
    }
    if (found == nullptr) {
      return Fail(fmt::format(
          "expected an operator (==, !=, in, not in, contains, starts with, ends with) after "
          "label '{}'",
          key));
    }
    if (!found->second.empty()) {
      pos_ += found->first.size();
      SkipSpace();
      if (!ConsumeWord(found->second)) {
        return Fail(fmt::format("expected '{}' after '{}'", found->second, found->first));
      }
    }
    std::string_view op = found->name;
    Node node(found->kind);
    node.key = std::move(key);
    if (found->kind != Kind::kIn && found->kind != Kind::kNotIn) {
      absl::StatusOr<std::string> value =
          ParseString(fmt::format("expected a quoted string after '{}'", op));
      if (!value.ok()) return value.status();
      node.value = *std::move(value);
      return node;
    }
    SkipSpace();
    if (AtEnd() || text_[pos_] != '{') return Fail(fmt::format("expected '{{' after '{}'", op));
    ++pos_;
    SkipSpace();
    if (!AtEnd() && text_[pos_] == '}') {
      ++pos_;
      return node;
    }
    std::string_view expected = "expected a quoted string or '}'";
    while (true) {
      absl::StatusOr<std::string> value = ParseString(expected);
      if (!value.ok()) return value.status();
      node.set.push_back(*std::move(value));
      SkipSpace();
      if (!AtEnd() && text_[pos_] == '}') {
        ++pos_;
        break;
      }
      if (AtEnd() || text_[pos_] != ',') return Fail("expected ',' or '}'");
      ++pos_;
      expected = "expected a quoted string after ','";
    }
    std::sort(node.set.begin(), node.set.end());
    node.set.erase(std::unique(node.set.begin(), node.set.end()), node.set.end());
    return node;
  }

  // A '…' or "…" literal: no escapes, anything but the opening quote inside.
  absl::StatusOr<std::string> ParseString(std::string_view expected) {
    SkipSpace();
    if (AtEnd() || (text_[pos_] != '"' && text_[pos_] != '\'')) return Fail(expected);
    char quote = text_[pos_];
    size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) {
      return Fail(fmt::format("unterminated string (no closing {})", quote));
    }
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
};

void AppendQuoted(std::string_view value, std::string* out) {
  char quote = value.find('"') == std::string_view::npos ? '"' : '\'';
  out->push_back(quote);
  out->append(value);
  out->push_back(quote);
}

// Calico's canonical text (ast.go collectFragments): every && / || group in parentheses.
void AppendCanonical(const Node& node, std::string* out) {
  auto label_op = [&](std::string_view op) {
    out->append(node.key);
    out->append(op);
    AppendQuoted(node.value, out);
  };
  auto set_op = [&](std::string_view op) {
    out->append(node.key);
    out->append(op);
    out->push_back('{');
    for (size_t i = 0; i < node.set.size(); ++i) {
      if (i > 0) out->append(", ");
      AppendQuoted(node.set[i], out);
    }
    out->push_back('}');
  };
  auto group = [&](std::string_view op) {
    out->push_back('(');
    for (size_t i = 0; i < node.operands.size(); ++i) {
      if (i > 0) out->append(op);
      AppendCanonical(node.operands[i], out);
    }
    out->push_back(')');
  };
  switch (node.kind) {
    case Kind::kAll:
      out->append("all()");
      return;
    case Kind::kGlobal:
      out->append("global()");
      return;
    case Kind::kHas:
      out->append("has(");
      out->append(node.key);
      out->push_back(')');
      return;
    case Kind::kEq:
      return label_op(" == ");
    case Kind::kNe:
      return label_op(" != ");
    case Kind::kContains:
      return label_op(" contains ");
    case Kind::kStartsWith:
      return label_op(" starts with ");
    case Kind::kEndsWith:
      return label_op(" ends with ");
    case Kind::kIn:
      return set_op(" in ");
    case Kind::kNotIn:
      return set_op(" not in ");
    case Kind::kNot:
      out->push_back('!');
      return AppendCanonical(node.operands.front(), out);
    case Kind::kAnd:
      return group(" && ");
    case Kind::kOr:
      return group(" || ");
  }
}

// Parentheses nesting of the canonical text (one per && / || group).
int CanonicalDepth(const Node& node) {
  int deepest = 0;
  for (const Node& operand : node.operands) deepest = std::max(deepest, CanonicalDepth(operand));
  return deepest + (node.kind == Kind::kAnd || node.kind == Kind::kOr ? 1 : 0);
}

// Cost: one visit per node, one LabelSource lookup per label operator; never allocates.
bool Evaluate(const Node& node, const LabelSource& labels) {
  switch (node.kind) {
    case Kind::kAll:
    case Kind::kGlobal:
      return true;
    case Kind::kHas:
      return labels.Find(node.key) != nullptr;
    case Kind::kEq: {
      const std::string* v = labels.Find(node.key);
      return v != nullptr && *v == node.value;
    }
    case Kind::kNe: {
      const std::string* v = labels.Find(node.key);
      return v == nullptr || *v != node.value;
    }
    case Kind::kIn: {
      const std::string* v = labels.Find(node.key);
      return v != nullptr && std::binary_search(node.set.begin(), node.set.end(), *v);
    }
    case Kind::kNotIn: {
      const std::string* v = labels.Find(node.key);
      return v == nullptr || !std::binary_search(node.set.begin(), node.set.end(), *v);
    }
    case Kind::kContains: {
      const std::string* v = labels.Find(node.key);
      return v != nullptr && v->find(node.value) != std::string::npos;
    }
    case Kind::kStartsWith: {
      const std::string* v = labels.Find(node.key);
      return v != nullptr && v->starts_with(node.value);
    }
    case Kind::kEndsWith: {
      const std::string* v = labels.Find(node.key);
      return v != nullptr && v->ends_with(node.value);
    }
    case Kind::kNot:
      return !Evaluate(node.operands.front(), labels);
    case Kind::kAnd:
      for (const Node& operand : node.operands) {
        if (!Evaluate(operand, labels)) return false;
      }
      return true;
    case Kind::kOr:
      for (const Node& operand : node.operands) {
        if (Evaluate(operand, labels)) return true;
      }
      return false;
  }
  return false;
}

bool ContainsGlobal(const Node& node) {
  if (node.kind == Kind::kGlobal) return true;
  return std::any_of(node.operands.begin(), node.operands.end(), ContainsGlobal);
}

void CollectKeys(const Node& node, std::vector<std::string>* keys) {
  if (!node.key.empty()) keys->push_back(node.key);
  for (const Node& operand : node.operands) CollectKeys(operand, keys);
}

// Terms implied by a conjunction (see RequiredTerms). `k in {}` matches nothing and gives no term
// (an empty value list would read as "any value").
void CollectTerms(const Node& node, std::vector<LabelTerm>* out) {
  switch (node.kind) {
    case Kind::kEq:
      out->push_back({node.key, {node.value}});
      return;
    case Kind::kIn:
      if (!node.set.empty()) out->push_back({node.key, node.set});
      return;
    case Kind::kHas:
    case Kind::kContains:
    case Kind::kStartsWith:
    case Kind::kEndsWith:
      out->push_back({node.key, {}});
      return;
    case Kind::kAnd:
      for (const Node& operand : node.operands) CollectTerms(operand, out);
      return;
    default:
      return;
  }
}

}  // namespace

const std::string* MapLabelSource::Find(std::string_view key) const {
  auto it = labels_.find(key);
  return it == labels_.end() ? nullptr : &it->second;
}

Selector::Selector() : Selector(std::make_shared<const Node>(Kind::kAll)) {}

Selector::Selector(std::shared_ptr<const Node> root) : root_(std::move(root)) {
  AppendCanonical(*root_, &canonical_);
  // Two independent 64-bit FNV-1a hashes (different prefixes), 28 hex digits in all.
  id_ = fmt::format("s:{}{}", StableHashHex("tabby-selector-a:" + canonical_, 16),
                    StableHashHex("tabby-selector-b:" + canonical_, 12));
}

absl::StatusOr<Selector> Selector::Parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    return ErrorWithoutPosition(
        text, fmt::format("longer than {} characters ({})", kMaxLength, text.size()));
  }
  absl::StatusOr<Node> root = Parser(text).ParseSelector();
  if (!root.ok()) return root.status();
  // Canonical text must itself be a valid selector, so its limits are checked here too.
  if (CanonicalDepth(*root) > kMaxDepth) {
    return ErrorWithoutPosition(
        text, fmt::format("expressions nested deeper than {} in canonical form", kMaxDepth));
  }
  Selector selector(std::make_shared<const Node>(*std::move(root)));
  if (selector.canonical_.size() > kMaxLength) {
    return ErrorWithoutPosition(
        text, fmt::format("longer than {} characters in canonical form", kMaxLength));
  }
  return selector;
}

bool Selector::Matches(const LabelSource& labels) const { return Evaluate(*root_, labels); }

bool Selector::Matches(const Labels& labels) const {
  return Evaluate(*root_, MapLabelSource(labels));
}

bool Selector::MatchesEverything() const { return root_->kind == Kind::kAll; }

bool Selector::UsesGlobal() const { return ContainsGlobal(*root_); }

std::vector<std::string> Selector::ReferencedKeys() const {
  std::vector<std::string> keys;
  CollectKeys(*root_, &keys);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::vector<LabelTerm> Selector::RequiredTerms() const {
  std::vector<LabelTerm> terms;
  CollectTerms(*root_, &terms);
  return terms;
}

std::string QuoteValue(std::string_view value) {
  std::string out;
  AppendQuoted(value, &out);
  return out;
}

}  // namespace tabby::selector
