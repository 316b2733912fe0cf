#include "model/yaml_json.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "base/status_macros.h"
#include "model/internal.h"

namespace tabby::model::internal {
namespace {

using nlohmann::json;

// Bounds on what one stream may expand to: aliases let a small text describe a huge tree. Without
// aliases every value takes at least one byte of text, so a stream may hold as many values as it
// has bytes, plus some slack for aliases.
constexpr int kMaxDepth = 64;
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

class Converter {
 public:
  Converter(LocationTable* locations, size_t* values_left)
      : locations_(locations), values_left_(values_left) {}

  absl::Status Convert(const YAML::Node& node, const std::string& path, Location key_location,
                       int depth, json* out) {
    if (*values_left_ == 0) {
      return Error(node, "document too large after expanding aliases");
    }
    --*values_left_;
    if (depth > kMaxDepth) {
      return Error(node,
                   fmt::format("document nested too deeply (more than {} levels)", kMaxDepth));
    }
    Location location = key_location.line > 0 ? key_location : LocationOf(node);
    if (location.line > 0) locations_->Add(path, location);
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        *out = nullptr;
        return absl::OkStatus();
      case YAML::NodeType::Scalar:
        return ConvertScalar(node, out);
      case YAML::NodeType::Sequence: {
        *out = json::array();
        size_t index = 0;
        for (const YAML::Node& item : node) {
          json value;
          absl::Status status =
              Convert(item, PathIndex(path, index), Location{}, depth + 1, &value);
          if (!status.ok()) return status;
          out->push_back(std::move(value));
          ++index;
        }
        return absl::OkStatus();
      }
      case YAML::NodeType::Map: {
        *out = json::object();
        for (const auto& entry : node) {
          // Copies: iterator values are temporaries (Node copies share the tree).
          const YAML::Node key = entry.first;
          const YAML::Node item = entry.second;
          if (!key.IsScalar()) {
            return Error(key.IsNull() ? YAML::Node(node) : key, "a map key must be a string");
          }
          const std::string& name = key.Scalar();
          if (!IsValidUtf8(name)) return Error(key, "map key is not valid UTF-8");
          if (out->contains(name)) {
            return Error(key, fmt::format("duplicate key \"{}\"", name));
          }
          json value;
          absl::Status status =
              Convert(item, PathKey(path, name), LocationOf(key), depth + 1, &value);
          if (!status.ok()) return status;
          (*out)[name] = std::move(value);
        }
        return absl::OkStatus();
      }
    }
    return Error(node, "unsupported YAML node");
  }

 private:
  static Location LocationOf(const YAML::Node& node) {
    YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.line < 0) return Location{};
    return Location{mark.line + 1, mark.column + 1};
  }

  static absl::Status Error(const YAML::Node& node, std::string_view message) {
    Location location = LocationOf(node);
    if (location.line == 0) return absl::InvalidArgumentError(std::string(message));
    return absl::InvalidArgumentError(
        fmt::format("line {}, column {}: {}", location.line, location.column, message));
  }

  static absl::Status ConvertScalar(const YAML::Node& node, json* out) {
    const std::string& text = node.Scalar();
    if (!IsValidUtf8(text)) return Error(node, "value is not valid UTF-8");
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == kTagStr) {
      *out = text;
    } else if (tag == "?" || tag.empty()) {
      *out = ResolvePlain(text);
    } else if (std::string_view(tag).substr(0, kTagPrefix.size()) == kTagPrefix) {
      std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
      json value = ResolvePlain(text);
      bool matches = (type == "int" && value.is_number_integer()) ||
                     (type == "float" && value.is_number()) ||
                     (type == "bool" && value.is_boolean()) || (type == "null" && value.is_null());
      if (!matches) {
        return Error(node, fmt::format("\"{}\" is not a valid !!{}", text, type));
      }
      if (type == "float") value = value.get<double>();
      *out = std::move(value);
    } else {
      return Error(node, fmt::format("unsupported tag \"{}\"", tag));
    }
    return absl::OkStatus();
  }

  LocationTable* locations_;
  size_t* values_left_;
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
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      return absl::InvalidArgumentError(fmt::format("YAML syntax error: {}", e.msg));
    }
    return absl::InvalidArgumentError(fmt::format("line {}, column {}: YAML syntax error: {}",
                                                  e.mark.line + 1, e.mark.column + 1, e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("YAML syntax error: {}", e.what()));
  }
  std::vector<YamlDocument> documents;
  int index = 0;
  size_t values_left = text.size() + kAliasSlack;
  for (const YAML::Node& node : nodes) {
    ++index;
    if (node.IsNull()) continue;
    YamlDocument document;
    document.index = index;
    Converter converter(&document.locations, &values_left);
    absl::Status status = converter.Convert(node, "", Location{}, 0, &document.value);
    if (!status.ok()) {
      return absl::InvalidArgumentError(fmt::format("document {}, {}", index, MessageOf(status)));
    }
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
