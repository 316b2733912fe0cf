#include "model/yaml_json.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "model/internal.h"

namespace tabby::model::internal {
namespace {

using nlohmann::json;

// Bounds on what one stream may expand to: aliases let a small text describe a huge tree. Without
// aliases every value takes at least one byte of text, so a stream may hold as many values as it
// has bytes, plus some slack for aliases.
constexpr size_t kMaxDepth = 64;
constexpr size_t kAliasSlack = 1 << 16;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

bool IsDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                         : (c >= '0' && c < static_cast<char>('0' + base));
    if (!ok) return false;
  }
  return true;
}

// An integer in the core schema: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+.
std::optional<json> ResolveInteger(std::string_view s) {
  int base = 10;
  bool negative = false;
  std::string_view digits = s;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    base = s[1] == 'o' ? 8 : 16;
    digits = s.substr(2);
  } else if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    digits = s.substr(1);
  }
  if (!IsDigits(digits, base)) return std::nullopt;
  uint64_t magnitude = 0;
  auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (err == std::errc() && end == digits.data() + digits.size()) {
    if (!negative) {
      if (magnitude <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return json(static_cast<int64_t>(magnitude));
      }
      return json(magnitude);
    }
    if (magnitude <= uint64_t{1} << 63) {
      return json(static_cast<int64_t>(0 - magnitude));
    }
  }
  // Too large for 64 bits: keep the value as a float; integer fields reject it by range.
  double value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return json(negative ? -value : value);
}

// A float in the core schema.
std::optional<json> ResolveFloat(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body = body.substr(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    double inf = std::numeric_limits<double>::infinity();
    return json(negative ? -inf : inf);
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    return json(std::numeric_limits<double>::quiet_NaN());
  }
  // (\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  size_t i = 0;
  size_t int_digits = 0;
  while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++int_digits;
  size_t frac_digits = 0;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) {
      ++i, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  } else if (int_digits == 0) {
    return std::nullopt;
  }
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) {
      ++i, ++exp_digits;
    }
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  double value = 0;
  auto [end, err] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (end != body.data() + body.size() ||
      (err != std::errc() && err != std::errc::result_out_of_range)) {
    return std::nullopt;
  }
  if (err == std::errc::result_out_of_range) {
    // Overflow to infinity or underflow to zero, as strtod would.
    bool huge = body.find_first_of("eE") != std::string_view::npos &&
                body.find("e-") == std::string_view::npos &&
                body.find("E-") == std::string_view::npos;
    value = huge ? std::numeric_limits<double>::infinity() : 0.0;
  }
  return json(negative ? -value : value);
}

// YAML 1.2 core schema resolution of a plain scalar.
json ResolvePlain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (auto integer = ResolveInteger(s)) return *std::move(integer);
  if (auto number = ResolveFloat(s)) return *std::move(number);
  return json(std::string(s));
}

// A problem found while building a document; thrown out of the parser's callbacks.
struct BuildError {
  Location location;
  std::string message;
};

Location LocationOf(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return Location{};
  return Location{mark.line + 1, mark.column + 1};
}

// Builds one document's JSON value and location table from the parser's events. Aliases are
// expanded by copying the anchored value; every value, copies included, is charged against a
// budget shared by the whole stream.
class JsonBuilder : public YAML::EventHandler {
 public:
  JsonBuilder(LocationTable* locations, size_t* values_left)
      : locations_(locations), values_left_(values_left) {}

  bool has_root() const { return root_.has_value(); }
  json TakeRoot() { return *std::move(root_); }
  const Location& root_location() const { return root_location_; }
  int root_position() const { return root_position_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (IsKeyPosition()) throw BuildError{LocationOf(mark), "a map key must be a string"};
    Charge(mark, 1);
    Add(mark, nullptr, anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (IsKeyPosition()) throw BuildError{LocationOf(mark), "a map key cannot be an alias"};
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      throw BuildError{LocationOf(mark), "alias refers to a node that is not complete"};
    }
    Charge(mark, it->second.count);
    json copy = it->second.value;
    Add(mark, std::move(copy), 0, it->second.count);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (!IsValidUtf8(value)) throw BuildError{LocationOf(mark), "value is not valid UTF-8"};
    // YAML's printable set has no C0 controls but tab, LF and CR; an escape ("\0", "\x01") is
    // how one gets in, and a NUL inside a name or label would be cut short by C interfaces.
    if (auto bad = std::find_if(value.begin(), value.end(),
                                [](unsigned char c) {
                                  return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
                                         c == 0x7f;
                                });
        bad != value.end()) {
      std::string where;
      if (!stack_.empty()) {
        const Frame& parent = stack_.back();
        std::string path = IsKeyPosition()            ? parent.path
                           : parent.value.is_object() ? PathKey(parent.path, *parent.key)
                                                      : PathIndex(parent.path, parent.value.size());
        where = (IsKeyPosition() ? "a key in " : "field ") +
                (path.empty() ? std::string("the document") : path) + ": ";
      }
      throw BuildError{LocationOf(mark),
                       fmt::format("{}{} contains the control character U+{:04X}, which is not "
                                   "allowed",
                                   where, IsKeyPosition() ? "key" : "value",
                                   static_cast<unsigned>(static_cast<unsigned char>(*bad)))};
    }
    Charge(mark, 1);
    if (IsKeyPosition()) {
      Frame& frame = stack_.back();
      if (frame.value.contains(value)) {
        throw BuildError{LocationOf(mark), fmt::format("duplicate key \"{}\"", value)};
      }
      frame.key = value;
      frame.key_location = LocationOf(mark);
      return;
    }
    Add(mark, Resolve(mark, tag, value), anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, tag, anchor, json::array());
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, tag, anchor, json::object());
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    json value;
    std::string path;
    YAML::anchor_t anchor = 0;
    size_t count = 1;
    std::optional<std::string> key;  // the key whose value comes next (maps)
    Location key_location;
  };
  struct Anchored {
    json value;
    size_t count;
  };

  bool IsKeyPosition() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key.has_value();
  }

  void Charge(const YAML::Mark& mark, size_t count) {
    if (*values_left_ < count) {
      throw BuildError{LocationOf(mark), "document too large after expanding aliases"};
    }
    *values_left_ -= count;
  }

  // The path of the value that starts at `mark`, recording where it is.
  std::string ChildPath(const YAML::Mark& mark) {
    if (stack_.empty()) {
      root_location_ = LocationOf(mark);
      root_position_ = mark.pos;
      if (root_location_.line > 0) locations_->Add("", root_location_);
      return "";
    }
    Frame& parent = stack_.back();
    std::string path;
    Location location = LocationOf(mark);
    if (parent.value.is_object()) {
      path = PathKey(parent.path, *parent.key);
      if (parent.key_location.line > 0) location = parent.key_location;
    } else {
      path = PathIndex(parent.path, parent.value.size());
    }
    if (location.line > 0) locations_->Add(path, location);
    return path;
  }

  void Attach(json value, YAML::anchor_t anchor, size_t count) {
    if (anchor != 0) anchors_[anchor] = Anchored{value, count};
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& parent = stack_.back();
    parent.count += count;
    if (parent.value.is_object()) {
      parent.value[*parent.key] = std::move(value);
      parent.key.reset();
    } else {
      parent.value.push_back(std::move(value));
    }
  }

  void Add(const YAML::Mark& mark, json value, YAML::anchor_t anchor, size_t count) {
    ChildPath(mark);
    Attach(std::move(value), anchor, count);
  }

  void Open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, json empty) {
    if (IsKeyPosition()) throw BuildError{LocationOf(mark), "a map key must be a string"};
    if (tag != "?" && tag != "!" && !tag.empty() &&
        tag != (empty.is_object() ? "tag:yaml.org,2002:map" : "tag:yaml.org,2002:seq")) {
      throw BuildError{LocationOf(mark), fmt::format("unsupported tag \"{}\"", tag)};
    }
    if (stack_.size() >= kMaxDepth) {
      throw BuildError{LocationOf(mark),
                       fmt::format("document nested too deeply (more than {} levels)", kMaxDepth)};
    }
    Charge(mark, 1);
    Frame frame;
    frame.path = ChildPath(mark);
    frame.value = std::move(empty);
    frame.anchor = anchor;
    stack_.push_back(std::move(frame));
  }

  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    Attach(std::move(frame.value), frame.anchor, frame.count);
  }

  static json Resolve(const YAML::Mark& mark, const std::string& tag, const std::string& text) {
    if (tag == "!" || tag == kTagStr) return text;
    if (tag == "?" || tag.empty()) return ResolvePlain(text);
    if (std::string_view(tag).substr(0, kTagPrefix.size()) == kTagPrefix) {
      std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
      json value = ResolvePlain(text);
      bool matches = (type == "int" && value.is_number_integer()) ||
                     (type == "float" && value.is_number()) ||
                     (type == "bool" && value.is_boolean()) || (type == "null" && value.is_null());
      if (!matches) {
        throw BuildError{LocationOf(mark), fmt::format("\"{}\" is not a valid !!{}", text, type)};
      }
      if (type == "float") value = value.get<double>();
      return value;
    }
    throw BuildError{LocationOf(mark), fmt::format("unsupported tag \"{}\"", tag)};
  }

  LocationTable* locations_;
  size_t* values_left_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::optional<json> root_;
  Location root_location_;
  int root_position_ = -1;
};

bool IsIdentifierKey(std::string_view key) {
  if (key.empty() || !(std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_')) {
    return false;
  }
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// Plain scalars that YAML 1.1 readers (PyYAML, go-yaml v2) would not read as strings: yes/no/on/
// off/y/n and number-like text such as sexagesimal "1000:2000" or "0777".
bool IsYaml11NonString(std::string_view text) {
  static constexpr std::string_view kWords[] = {"y", "yes", "n", "no", "on", "off"};
  for (std::string_view word : kWords) {
    if (EqualsIgnoreCase(text, word)) return true;
  }
  if (text.empty()) return false;
  size_t start = (text[0] == '+' || text[0] == '-' || text[0] == '.') ? 1 : 0;
  if (start >= text.size() || !std::isdigit(static_cast<unsigned char>(text[start]))) {
    return false;
  }
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '_' ||
           c == '+' || c == '-' || c == 'x' || c == 'X' || c == 'o' || c == 'O';
  });
}

void EmitString(YAML::Emitter& out, const std::string& text) {
  if (!PlainScalarIsString(text) || IsYaml11NonString(text)) out << YAML::DoubleQuoted;
  out << text;
}

void EmitValue(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        EmitString(out, key);
        out << YAML::Value;
        EmitValue(out, item);
      }
      out << YAML::EndMap;
      return;
    case json::value_t::array:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const json& item : value) EmitValue(out, item);
      out << YAML::EndSeq;
      return;
    case json::value_t::string:
      EmitString(out, value.get_ref<const std::string&>());
      return;
    case json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      return;
    case json::value_t::number_integer:
      out << fmt::format("{}", value.get<int64_t>());
      return;
    case json::value_t::number_unsigned:
      out << fmt::format("{}", value.get<uint64_t>());
      return;
    case json::value_t::number_float: {
      double number = value.get<double>();
      if (std::isnan(number)) {
        out << ".nan";
      } else if (std::isinf(number)) {
        out << (number > 0 ? ".inf" : "-.inf");
      } else {
        out << fmt::format("{}", number);
      }
      return;
    }
    case json::value_t::null:
    case json::value_t::binary:
    case json::value_t::discarded:
      out << YAML::Null;
      return;
  }
}

}  // namespace

void LocationTable::Add(std::string path, Location location) {
  locations_.emplace(std::move(path), location);
}

Location LocationTable::Find(std::string_view path) const {
  while (true) {
    auto it = locations_.find(std::string(path));
    if (it != locations_.end()) return it->second;
    if (path.empty()) return Location{};
    // Cut the last component: ".key", "[index]" or "[\"key\"]". A '.' or '[' inside a quoted key
    // yields a prefix that is simply not in the table, so the loop keeps cutting.
    size_t cut = path.find_last_of(".[");
    path = cut == std::string_view::npos ? std::string_view() : path.substr(0, cut);
  }
}

absl::StatusOr<std::vector<YamlDocument>> ParseYamlStream(std::string_view text) {
  auto syntax_error = [](const YAML::Mark& mark, std::string_view message) {
    if (mark.is_null()) {
      return absl::InvalidArgumentError(fmt::format("YAML syntax error: {}", message));
    }
    return absl::InvalidArgumentError(fmt::format("line {}, column {}: YAML syntax error: {}",
                                                  mark.line + 1, mark.column + 1, message));
  };
  // Not YAML::LoadAll: yaml-cpp 0.7 loops forever on some invalid streams (a lone ",": each call
  // yields an empty document without consuming anything). Here every document must make progress.
  std::istringstream stream{std::string(text)};
  YAML::Parser parser(stream);
  std::vector<YamlDocument> documents;
  size_t values_left = text.size() + kAliasSlack;
  int last_empty_position = -1;
  for (int index = 1;; ++index) {
    YamlDocument document;
    document.index = index;
    JsonBuilder builder(&document.locations, &values_left);
    try {
      if (!parser.HandleNextDocument(builder)) break;
    } catch (const BuildError& e) {
      std::string where = e.location.line > 0 ? fmt::format(", line {}, column {}", e.location.line,
                                                            e.location.column)
                                              : "";
      return absl::InvalidArgumentError(fmt::format("document {}{}: {}", index, where, e.message));
    } catch (const YAML::Exception& e) {
      return syntax_error(e.mark, e.msg);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(fmt::format("YAML syntax error: {}", e.what()));
    }
    // Every document consumes at least one byte; more documents than bytes means no progress.
    if (static_cast<size_t>(index) > text.size() + 1) {
      return absl::InvalidArgumentError("YAML syntax error: the parser made no progress");
    }
    if (!builder.has_root()) continue;
    document.value = builder.TakeRoot();
    if (document.value.is_null()) {
      if (builder.root_position() >= 0 && builder.root_position() == last_empty_position) {
        const Location& at = builder.root_location();
        return absl::InvalidArgumentError(fmt::format(
            "line {}, column {}: YAML syntax error: unexpected character", at.line, at.column));
      }
      last_empty_position = builder.root_position();
      continue;
    }
    last_empty_position = -1;
    documents.push_back(std::move(document));
  }
  return documents;
}

std::string PathKey(std::string_view parent, std::string_view key) {
  if (IsIdentifierKey(key)) {
    if (parent.empty()) return std::string(key);
    return fmt::format("{}.{}", parent, key);
  }
  return fmt::format("{}[{}]", parent, json(std::string(key)).dump());
}

std::string PathIndex(std::string_view parent, size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

bool PlainScalarIsString(std::string_view text) { return ResolvePlain(text).is_string(); }

std::string EmitYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  EmitValue(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  return text;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    int extra;
    uint32_t code;
    if ((byte & 0xe0) == 0xc0) {
      extra = 1;
      code = byte & 0x1f;
    } else if ((byte & 0xf0) == 0xe0) {
      extra = 2;
      code = byte & 0x0f;
    } else if ((byte & 0xf8) == 0xf0) {
      extra = 3;
      code = byte & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace tabby::model::internal
