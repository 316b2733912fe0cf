#include "model/codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "base/status_macros.h"
#include "model/describe.h"
#include "model/internal.h"
#include "model/validate.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::AlwaysWrittenCodec;
using internal::AsNumberCodec;
using internal::Describe;
using internal::PathIndex;
using internal::PathKey;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Helpers.

template <typename T>
struct IsOptionalT : std::false_type {};
template <typename T>
struct IsOptionalT<std::optional<T>> : std::true_type {};
template <typename T>
struct IsVectorT : std::false_type {};
template <typename T>
struct IsVectorT<std::vector<T>> : std::true_type {};

// JSON text of `value` for messages; never throws (invalid UTF-8 is replaced).
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// `text` in double quotes, JSON-escaped.
std::string Quote(std::string_view text) { return Dump(json(std::string(text))); }

// How a value reads in a message: `string "abc"`, `integer 5`, `a list`, ...
std::string ValueText(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return fmt::format("boolean {}", value.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return fmt::format("integer {}", Dump(value));
    case json::value_t::number_float:
      return fmt::format("number {}", Dump(value));
    case json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (text.size() > 60) return fmt::format("string {}...", Quote(text.substr(0, 60)));
      return fmt::format("string {}", Quote(text));
    }
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "a map";
    default:
      return "an unsupported value";
  }
}

std::string Expected(std::string_view what, const json& got) {
  return fmt::format("expected {}, got {}", what, ValueText(got));
}

// Edit distance, for "did you mean" on unknown fields.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string UnknownFieldMessage(std::string_view key, const std::vector<std::string_view>& known) {
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view candidate : known) {
    size_t distance = EditDistance(key, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  if (!best.empty() && best_distance <= std::max<size_t>(1, std::min<size_t>(3, key.size() / 3))) {
    return fmt::format("unknown field \"{}\" (did you mean \"{}\"?)", key, best);
  }
  std::string list;
  for (std::string_view candidate : known) {
    if (!list.empty()) list += ", ";
    list += candidate;
  }
  return fmt::format("unknown field \"{}\" (known fields: {})", key, list);
}

// ---------------------------------------------------------------------------------------------
// Decoding.

struct DecodeState {
  std::optional<FieldError> error;
  bool failed() const { return error.has_value(); }
  void Fail(std::string path, std::string message) {
    if (!error) error = FieldError{std::move(path), std::move(message)};
  }
};

// Collects the field names a description declares.
class KeyCollector {
 public:
  template <typename T>
  void Field(std::string_view key, T&) {
    keys_.push_back(key);
  }
  template <typename T, typename Codec>
  void Field(std::string_view key, T&, Codec) {
    keys_.push_back(key);
  }
  template <typename T>
  void Required(std::string_view key, T&) {
    keys_.push_back(key);
  }
  template <typename F>
  void Object(std::string_view key, F&&) {
    keys_.push_back(key);
  }
  const std::vector<std::string_view>& keys() const { return keys_; }

 private:
  std::vector<std::string_view> keys_;
};

template <typename T>
void DecodeValue(const json& value, const std::string& path, T& out, DecodeState& state);

// Checks that `value` is an object with only the fields `describe` declares, then decodes them.
template <typename F>
void DecodeObject(const json& value, const std::string& path, DecodeState& state, F&& describe);

class Decoder {
 public:
  Decoder(const json& object, const std::string& path, DecodeState& state)
      : object_(object), path_(path), state_(state) {}

  template <typename T>
  void Field(std::string_view key, T& member) {
    if (const json* value = Find(key)) DecodeValue(*value, PathKey(path_, key), member, state_);
  }
  template <typename T, typename Codec>
  void Field(std::string_view key, T& member, Codec codec) {
    if (const json* value = Find(key)) DecodeWith(codec, *value, PathKey(path_, key), member);
  }
  template <typename T>
  void Required(std::string_view key, T& member) {
    if (state_.failed()) return;
    const json* value = Find(key);
    if (value == nullptr) {
      state_.Fail(PathKey(path_, key), "required field is missing");
      return;
    }
    DecodeValue(*value, PathKey(path_, key), member, state_);
  }
  template <typename F>
  void Object(std::string_view key, F&& describe) {
    if (const json* value = Find(key)) {
      DecodeObject(*value, PathKey(path_, key), state_, std::forward<F>(describe));
    }
  }

 private:
  // The value of `key` unless absent or null (null counts as absent), or after an error.
  const json* Find(std::string_view key) const {
    if (state_.failed()) return nullptr;
    auto it = object_.find(std::string(key));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  template <typename T>
  void DecodeWith(AlwaysWrittenCodec, const json& value, const std::string& path, T& out) {
    DecodeValue(value, path, out, state_);
  }

  void DecodeWith(AsNumberCodec, const json& value, const std::string& path, int64_t& out) {
    constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
    std::string message = fmt::format(
        "invalid AS number {}: expected 0-4294967295 or asdot notation like \"1.10\"", Dump(value));
    if (value.is_number_integer()) {
      if (value.is_number_unsigned() ? value.get<uint64_t>() > static_cast<uint64_t>(kMax)
                                     : (value.get<int64_t>() < 0 || value.get<int64_t>() > kMax)) {
        state_.Fail(path, message);
        return;
      }
      out = value.get<int64_t>();
      return;
    }
    if (!value.is_string()) {
      state_.Fail(path, Expected("an AS number", value));
      return;
    }
    const std::string& text = value.get_ref<const std::string&>();
    auto parse = [](std::string_view digits, uint64_t max) -> std::optional<uint64_t> {
      uint64_t number = 0;
      if (digits.empty() || digits.size() > 10 || digits[0] == '+') return std::nullopt;
      auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
      if (err != std::errc() || end != digits.data() + digits.size() || number > max) {
        return std::nullopt;
      }
      return number;
    };
    size_t dot = text.find('.');
    if (dot == std::string::npos) {
      if (auto number = parse(text, kMax)) {
        out = static_cast<int64_t>(*number);
        return;
      }
    } else {
      auto high = parse(std::string_view(text).substr(0, dot), 0xffff);
      auto low = parse(std::string_view(text).substr(dot + 1), 0xffff);
      if (high && low) {
        out = static_cast<int64_t>(*high * 65536 + *low);
        return;
      }
    }
    state_.Fail(path, message);
  }

  const json& object_;
  const std::string& path_;
  DecodeState& state_;
};

template <typename F>
void DecodeObject(const json& value, const std::string& path, DecodeState& state, F&& describe) {
  if (state.failed()) return;
  if (!value.is_object()) {
    state.Fail(path, Expected("a map", value));
    return;
  }
  KeyCollector collector;
  describe(collector);
  for (const auto& [key, item] : value.items()) {
    const auto& known = collector.keys();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      state.Fail(PathKey(path, key), UnknownFieldMessage(key, known));
      return;
    }
  }
  Decoder decoder(value, path, state);
  describe(decoder);
}

void DecodePort(const json& value, const std::string& path, PortSpec& out, DecodeState& state) {
  constexpr std::string_view kExpected = "a port: a number, a range \"first:last\" or a name";
  auto parse_number = [](std::string_view digits) -> std::optional<int> {
    int number = 0;
    if (digits.empty() || digits.size() > 5) return std::nullopt;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    std::from_chars(digits.data(), digits.data() + digits.size(), number);
    return number;
  };
  if (value.is_number_integer()) {
    bool in_range = value.is_number_unsigned()
                        ? value.get<uint64_t>() <= 65535
                        : value.get<int64_t>() >= 0 && value.get<int64_t>() <= 65535;
    if (!in_range) {
      state.Fail(path, fmt::format("invalid port {}: ports are 1-65535", Dump(value)));
      return;
    }
    out.first = out.last = static_cast<uint16_t>(value.get<int64_t>());
    return;
  }
  if (!value.is_string()) {
    state.Fail(path, Expected(kExpected, value));
    return;
  }
  const std::string& text = value.get_ref<const std::string&>();
  size_t colon = text.find(':');
  if (colon != std::string::npos) {
    std::optional<int> first = parse_number(std::string_view(text).substr(0, colon));
    std::optional<int> last = parse_number(std::string_view(text).substr(colon + 1));
    if (!first || !last) {
      state.Fail(path,
                 fmt::format("invalid port range {}: expected \"first:last\" with numbers 1-65535",
                             Dump(value)));
      return;
    }
    if (*first > 65535 || *last > 65535) {
      state.Fail(path, fmt::format("invalid port range {}: ports are 1-65535", Dump(value)));
      return;
    }
    out.first = static_cast<uint16_t>(*first);
    out.last = static_cast<uint16_t>(*last);
    return;
  }
  if (std::optional<int> number = parse_number(text)) {
    if (*number > 65535) {
      state.Fail(path, fmt::format("invalid port {}: ports are 1-65535", Dump(value)));
      return;
    }
    out.first = out.last = static_cast<uint16_t>(*number);
    return;
  }
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '-' || c == '+';
      })) {
    state.Fail(path, fmt::format("invalid port {}: ports are 1-65535", Dump(value)));
    return;
  }
  out.name = text;  // a named port; validation checks the name
}

// A Kubernetes IntOrString port. An integer is a port number and a string a port name, "80"
// included: validation rejects that as a name, as Kubernetes does.
void DecodePortNumberOrName(const json& value, const std::string& path, PortNumberOrName& out,
                            DecodeState& state) {
  if (value.is_number_integer()) {
    bool in_range = value.is_number_unsigned()
                        ? value.get<uint64_t>() <= 65535
                        : value.get<int64_t>() >= std::numeric_limits<int32_t>::min() &&
                              value.get<int64_t>() <= 65535;
    if (!in_range) {
      state.Fail(path, fmt::format("invalid port {}: ports are 1-65535", Dump(value)));
      return;
    }
    out.number = static_cast<int32_t>(value.get<int64_t>());
    out.name.clear();
    return;
  }
  if (!value.is_string()) {
    state.Fail(path, Expected("a port number or a port name", value));
    return;
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (text.empty()) {
    state.Fail(path, "invalid port \"\": expected a port number or a port name");
    return;
  }
  out.number = 0;
  out.name = text;
}

void DecodeProtocol(const json& value, const std::string& path, Protocol& out, DecodeState& state) {
  std::string message = fmt::format(
      "invalid protocol {}: expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255",
      Dump(value));
  if (value.is_number_integer()) {
    bool in_range = value.is_number_unsigned()
                        ? value.get<uint64_t>() <= 255
                        : value.get<int64_t>() >= 1 && value.get<int64_t>() <= 255;
    if (!in_range || value.get<int64_t>() == 0) {
      state.Fail(path, message);
      return;
    }
    out = Protocol{static_cast<uint8_t>(value.get<int64_t>()), ""};
    return;
  }
  if (!value.is_string()) {
    state.Fail(path, Expected("a protocol name or number", value));
    return;
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (auto named = internal::ProtocolFromName(text)) {
    out = *std::move(named);
    return;
  }
  int number = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && text[0] != '-' && err == std::errc() && end == text.data() + text.size() &&
      number >= 1 && number <= 255) {
    out = Protocol{static_cast<uint8_t>(number), ""};
    return;
  }
  state.Fail(path, message);
}

template <typename Enum, size_t N>
void DecodeEnum(const json& value, const std::string& path, Enum& out, DecodeState& state,
                const std::array<Enum, N>& values, std::string_view (*name)(Enum),
                std::string_view what) {
  std::string choices;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) choices += i + 1 == N ? " or " : ", ";
    choices += name(values[i]);
  }
  if (!value.is_string()) {
    state.Fail(path, Expected(fmt::format("{} ({})", what, choices), value));
    return;
  }
  const std::string& text = value.get_ref<const std::string&>();
  for (Enum candidate : values) {
    if (internal::EqualsIgnoreCase(text, name(candidate))) {
      out = candidate;
      return;
    }
  }
  state.Fail(path, fmt::format("invalid {} {}: expected {}", what, Dump(value), choices));
}

template <typename T>
void DecodeValue(const json& value, const std::string& path, T& out, DecodeState& state) {
  if (state.failed()) return;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) {
      std::string message = Expected("a string", value);
      if (value.is_primitive() && !value.is_null()) {
        message += fmt::format(" (quote it to make it a string: {})", Quote(Dump(value)));
      }
      state.Fail(path, std::move(message));
      return;
    }
    out = value.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) {
      state.Fail(path, Expected("true or false", value));
      return;
    }
    out = value.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!value.is_number_integer()) {
      state.Fail(path, Expected("an integer", value));
      return;
    }
    bool in_range =
        value.is_number_unsigned()
            ? value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
            : value.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                  value.get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max());
    if (!in_range) {
      state.Fail(path, fmt::format("integer {} is out of range ({}-{})", Dump(value),
                                   std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
      return;
    }
    out = static_cast<T>(value.get<int64_t>());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!value.is_number()) {
      state.Fail(path, Expected("a number", value));
      return;
    }
    out = value.get<T>();
  } else if constexpr (IsOptionalT<T>::value) {
    DecodeValue(value, path, out.emplace(), state);
  } else if constexpr (IsVectorT<T>::value) {
    if (!value.is_array()) {
      state.Fail(path, Expected("a list", value));
      return;
    }
    out.clear();
    out.resize(value.size());
    for (size_t i = 0; i < value.size() && !state.failed(); ++i) {
      DecodeValue(value[i], PathIndex(path, i), out[i], state);
    }
  } else if constexpr (std::is_same_v<T, Labels>) {
    if (!value.is_object()) {
      state.Fail(path, Expected("a map of strings", value));
      return;
    }
    out.clear();
    for (const auto& [key, item] : value.items()) {
      std::string item_path = PathKey(path, key);
      if (item.is_null()) {
        state.Fail(item_path, "expected a string, got null (write \"\" for an empty value)");
        return;
      }
      DecodeValue(item, item_path, out[key], state);
      if (state.failed()) return;
    }
  } else if constexpr (std::is_same_v<T, PortSpec>) {
    DecodePort(value, path, out, state);
  } else if constexpr (std::is_same_v<T, Protocol>) {
    DecodeProtocol(value, path, out, state);
  } else if constexpr (std::is_same_v<T, Action>) {
    static constexpr std::array<Action, 4> kActions = {Action::kAllow, Action::kDeny, Action::kLog,
                                                       Action::kPass};
    DecodeEnum(value, path, out, state, kActions, &ActionName, "action");
  } else if constexpr (std::is_same_v<T, PolicyType>) {
    static constexpr std::array<PolicyType, 2> kTypes = {PolicyType::kIngress, PolicyType::kEgress};
    DecodeEnum(value, path, out, state, kTypes, &PolicyTypeName, "policy type");
  } else if constexpr (std::is_same_v<T, SelectorOperator>) {
    static constexpr std::array<SelectorOperator, 4> kOperators = {
        SelectorOperator::kIn, SelectorOperator::kNotIn, SelectorOperator::kExists,
        SelectorOperator::kDoesNotExist};
    DecodeEnum(value, path, out, state, kOperators, &SelectorOperatorName, "operator");
  } else if constexpr (std::is_same_v<T, PortNumberOrName>) {
    DecodePortNumberOrName(value, path, out, state);
  } else {
    DecodeObject(value, path, state, [&](auto& visitor) { Describe(visitor, out); });
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding.

template <typename T>
json EncodeValue(const T& value);

// True for what an optional field omits: "", 0, false, [], {}.
bool IsEmptyJson(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return true;
    case json::value_t::string:
      return value.get_ref<const std::string&>().empty();
    case json::value_t::boolean:
      return !value.get<bool>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return value.get<int64_t>() == 0;
    case json::value_t::array:
    case json::value_t::object:
      return value.empty();
    default:
      return false;
  }
}

class Encoder {
 public:
  template <typename T>
  void Field(std::string_view key, const T& member) {
    if constexpr (IsOptionalT<T>::value) {
      if (member.has_value()) object_[std::string(key)] = EncodeValue(*member);
    } else {
      json value = EncodeValue(member);
      if (!IsEmptyJson(value)) object_[std::string(key)] = std::move(value);
    }
  }
  template <typename T>
  void Field(std::string_view key, const T& member, AlwaysWrittenCodec) {
    object_[std::string(key)] = EncodeValue(member);
  }
  void Field(std::string_view key, const int64_t& member, AsNumberCodec) {
    if (member != 0) object_[std::string(key)] = member;
  }
  template <typename T>
  void Required(std::string_view key, const T& member) {
    object_[std::string(key)] = EncodeValue(member);
  }
  template <typename F>
  void Object(std::string_view key, F&& describe) {
    Encoder nested;
    describe(nested);
    if (!nested.object_.empty()) object_[std::string(key)] = std::move(nested.object_);
  }
  json Take() { return std::move(object_); }

 private:
  json object_ = json::object();
};

template <typename T>
json EncodeValue(const T& value) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool> ||
                std::is_integral_v<T>) {
    return json(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    // Whole numbers print as integers ("order: 100", not 100.0).
    if (std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 9.0e15) {
      return json(static_cast<int64_t>(value));
    }
    return json(value);
  } else if constexpr (IsOptionalT<T>::value) {
    return value.has_value() ? EncodeValue(*value) : json();
  } else if constexpr (IsVectorT<T>::value) {
    json array = json::array();
    for (const auto& item : value) array.push_back(EncodeValue(item));
    return array;
  } else if constexpr (std::is_same_v<T, Labels>) {
    json object = json::object();
    for (const auto& [key, item] : value) object[key] = item;
    return object;
  } else if constexpr (std::is_same_v<T, PortSpec>) {
    if (value.is_named()) return json(value.name);
    if (value.first == value.last) return json(value.first);
    return json(internal::PortText(value));
  } else if constexpr (std::is_same_v<T, Protocol>) {
    if (!value.name.empty()) return json(value.name);
    return json(value.number);
  } else if constexpr (std::is_same_v<T, Action>) {
    return json(std::string(ActionName(value)));
  } else if constexpr (std::is_same_v<T, PolicyType>) {
    return json(std::string(PolicyTypeName(value)));
  } else if constexpr (std::is_same_v<T, SelectorOperator>) {
    return json(std::string(SelectorOperatorName(value)));
  } else if constexpr (std::is_same_v<T, PortNumberOrName>) {
    if (value.is_named()) return json(value.name);
    return json(value.number);
  } else {
    Encoder encoder;
    Describe(encoder, value);
    return encoder.Take();
  }
}

// ---------------------------------------------------------------------------------------------
// Resources and documents.

constexpr std::string_view kTopLevelFields[] = {"apiVersion", "kind", "metadata", "spec"};
// Kubernetes objects as kubectl prints them also carry a status, which is accepted and ignored.
constexpr std::string_view kKubernetesTopLevelFields[] = {"apiVersion", "kind", "metadata", "spec",
                                                          "status"};

// Read-only metadata the API server adds to Kubernetes objects.
constexpr std::string_view kServerPopulatedMetadata[] = {"generation", "managedFields", "selfLink"};

bool IsKnownApiVersion(std::string_view version) {
  return version == kTabbyApiVersion || version == kCalicoApiVersion ||
         version == kKubernetesCoreApiVersion || version == kKubernetesNetworkingApiVersion;
}

std::string UnsupportedApiVersion(std::string_view version) {
  return fmt::format(
      "unsupported apiVersion {}: use {} or {} ({} for Namespace, {} for Kubernetes "
      "NetworkPolicy)",
      Quote(version), kTabbyApiVersion, kCalicoApiVersion, kKubernetesCoreApiVersion,
      kKubernetesNetworkingApiVersion);
}

// "projectcalico.org/v3 or tabby.dev/v1", "v1": the apiVersions documents of `kinds` may say.
std::string AcceptedApiVersionsText(const std::vector<Kind>& kinds) {
  std::vector<std::string_view> versions;
  auto add = [&](std::string_view version) {
    if (std::find(versions.begin(), versions.end(), version) == versions.end()) {
      versions.push_back(version);
    }
  };
  for (Kind kind : kinds) {
    if (IsKubernetesKind(kind)) {
      add(ApiVersionOf(kind));
    } else {
      add(kCalicoApiVersion);
      add(kTabbyApiVersion);
    }
  }
  std::string text;
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i > 0) text += i + 1 == versions.size() ? " or " : ", ";
    text += versions[i];
  }
  return text;
}

// The kinds documents call `wire_name` (NetworkPolicy is two: Calico's and Kubernetes').
std::vector<Kind> KindsWithWireName(std::string_view wire_name) {
  std::vector<Kind> kinds;
  for (Kind kind : AllKinds()) {
    if (WireKindName(kind) == wire_name) kinds.push_back(kind);
  }
  return kinds;
}

// The kind `wire_name` names under `api_version`, else (so that errors can name it) the first
// kind of that wire name, else nullopt.
std::optional<Kind> ResolveKind(std::string_view api_version, std::string_view wire_name) {
  std::vector<Kind> kinds = KindsWithWireName(wire_name);
  for (Kind kind : kinds) {
    if (AcceptsApiVersion(kind, api_version)) return kind;
  }
  if (kinds.empty()) return std::nullopt;
  return kinds.front();
}

// "kind IPPool is not part of apiVersion v1; use projectcalico.org/v3 or tabby.dev/v1".
std::string WrongGroupMessage(std::string_view wire_name, std::string_view api_version) {
  return fmt::format("kind {} is not part of apiVersion {}; use {}", wire_name, api_version,
                     AcceptedApiVersionsText(KindsWithWireName(wire_name)));
}

// The kind of a "<Kind>List" ("IPPoolList", "NetworkPolicyList") under `api_version`, or, when
// the list's apiVersion does not fit, the first kind of that name (DecodeList reports it).
std::optional<Kind> KindOfListKind(std::string_view list_kind, std::string_view api_version) {
  constexpr std::string_view kSuffix = "List";
  if (list_kind.size() <= kSuffix.size() ||
      list_kind.substr(list_kind.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  return ResolveKind(api_version, list_kind.substr(0, list_kind.size() - kSuffix.size()));
}

// Defaults of a list the item sits in.
struct ListContext {
  std::optional<Kind> kind;
  std::string api_version;
};

std::optional<Resource> DecodeResource(const json& value, const ListContext& list,
                                       DecodeState& state) {
  if (!value.is_object()) {
    state.Fail("", Expected("a resource (a map with apiVersion, kind, metadata and spec)", value));
    return std::nullopt;
  }
  for (const auto& [key, item] : value.items()) {
    if (std::find(std::begin(kKubernetesTopLevelFields), std::end(kKubernetesTopLevelFields),
                  key) == std::end(kKubernetesTopLevelFields)) {
      std::vector<std::string_view> known(std::begin(kTopLevelFields), std::end(kTopLevelFields));
      state.Fail(PathKey("", key), UnknownFieldMessage(key, known));
      return std::nullopt;
    }
  }

  std::string api_version = list.api_version;
  auto api_it = value.find("apiVersion");
  if (api_it != value.end() && !api_it->is_null()) {
    if (!api_it->is_string()) {
      state.Fail("apiVersion", Expected("a string", *api_it));
      return std::nullopt;
    }
    api_version = api_it->get<std::string>();
    if (!IsKnownApiVersion(api_version)) {
      state.Fail("apiVersion", UnsupportedApiVersion(api_version));
      return std::nullopt;
    }
  }
  if (api_version.empty()) {
    state.Fail("apiVersion", fmt::format("required field is missing (use {} or {})",
                                         kTabbyApiVersion, kCalicoApiVersion));
    return std::nullopt;
  }

  std::optional<Kind> kind = list.kind;
  std::string wire_name = kind ? std::string(WireKindName(*kind)) : "";
  auto kind_it = value.find("kind");
  if (kind_it != value.end() && !kind_it->is_null()) {
    if (!kind_it->is_string()) {
      state.Fail("kind", Expected("a string", *kind_it));
      return std::nullopt;
    }
    wire_name = kind_it->get<std::string>();
    std::optional<Kind> named = ResolveKind(api_version, wire_name);
    if (!named) {
      std::string kinds;
      for (Kind candidate : AllKinds()) {
        if (!AcceptsApiVersion(candidate, api_version)) continue;
        if (!kinds.empty()) kinds += ", ";
        kinds += WireKindName(candidate);
      }
      std::optional<Kind> alias = KindFromName(wire_name);
      if (alias && AcceptsApiVersion(*alias, api_version)) {
        state.Fail("kind", fmt::format("unknown kind \"{}\" (did you mean \"{}\"?)", wire_name,
                                       WireKindName(*alias)));
      } else if (alias) {
        state.Fail("kind", fmt::format("unknown kind \"{}\" (did you mean {} with apiVersion {}?)",
                                       wire_name, WireKindName(*alias), ApiVersionOf(*alias)));
      } else {
        state.Fail("kind", fmt::format("unknown kind \"{}\" (supported: {})", wire_name, kinds));
      }
      return std::nullopt;
    }
    if (list.kind && WireKindName(*list.kind) != wire_name) {
      state.Fail("kind", fmt::format("kind {} in a {}List", wire_name, WireKindName(*list.kind)));
      return std::nullopt;
    }
    // In a NetworkPolicyList the list's group decides; a mismatch is reported below.
    kind = list.kind ? list.kind : named;
  }
  if (!kind) {
    state.Fail("kind", "required field is missing");
    return std::nullopt;
  }
  if (!AcceptsApiVersion(*kind, api_version)) {
    std::optional<Kind> fits = ResolveKind(api_version, wire_name);
    if (list.kind && fits && AcceptsApiVersion(*fits, api_version)) {
      // A NetworkPolicy of one group in a NetworkPolicyList of the other.
      state.Fail("apiVersion",
                 fmt::format("apiVersion {} in a {}List of apiVersion {}", api_version,
                             WireKindName(*list.kind), ApiVersionOf(*list.kind)));
    } else {
      state.Fail(api_it != value.end() && !api_it->is_null() ? "apiVersion" : "kind",
                 WrongGroupMessage(wire_name, api_version));
    }
    return std::nullopt;
  }

  auto status_it = value.find("status");
  if (status_it != value.end()) {
    if (!IsKubernetesKind(*kind)) {
      std::vector<std::string_view> known(std::begin(kTopLevelFields), std::end(kTopLevelFields));
      state.Fail("status", UnknownFieldMessage("status", known));
      return std::nullopt;
    }
    if (!status_it->is_null() && !status_it->is_object()) {
      state.Fail("status", Expected("a map", *status_it));
      return std::nullopt;
    }
  }

  Resource resource = MakeResource(*kind, "", "");
  resource.api_version = api_version;
  auto metadata_it = value.find("metadata");
  if (metadata_it != value.end() && !metadata_it->is_null()) {
    if (IsKubernetesKind(*kind) && metadata_it->is_object()) {
      // What `kubectl get -o yaml` prints besides ObjectMeta's fields: set by the API server,
      // meaningless here, accepted and dropped like status.
      json metadata = *metadata_it;
      for (std::string_view key : kServerPopulatedMetadata) metadata.erase(std::string(key));
      DecodeValue(metadata, "metadata", resource.metadata, state);
    } else {
      DecodeValue(*metadata_it, "metadata", resource.metadata, state);
    }
  }
  auto spec_it = value.find("spec");
  if (spec_it != value.end() && !spec_it->is_null()) {
    std::visit([&](auto& spec) { DecodeValue(*spec_it, "spec", spec, state); }, resource.spec);
  }
  if (state.failed()) return std::nullopt;

  ApplyDefaults(resource);
  if (std::optional<FieldError> error = CheckResource(resource)) {
    state.Fail(error->path, error->message);
    return std::nullopt;
  }
  return resource;
}

// `GlobalNetworkPolicy "allow-web"` from whatever the raw object says (its list's kind when it
// has none), or "".
std::string Identify(const json& value, std::string_view list_kind = "") {
  if (!value.is_object()) return "";
  auto kind = value.find("kind");
  std::string kind_text(list_kind);
  if (kind != value.end() && kind->is_string()) kind_text = kind->get<std::string>();
  if (kind_text.empty()) return "";
  std::string name;
  auto metadata = value.find("metadata");
  if (metadata != value.end() && metadata->is_object()) {
    auto name_it = metadata->find("name");
    auto namespace_it = metadata->find("namespace");
    if (name_it != metadata->end() && name_it->is_string()) {
      name = name_it->get<std::string>();
      if (namespace_it != metadata->end() && namespace_it->is_string()) {
        name = fmt::format("{}/{}", namespace_it->get<std::string>(), name);
      }
    }
  }
  if (kind_text.size() > 40) kind_text = kind_text.substr(0, 40) + "...";
  if (name.size() > 80) name = name.substr(0, 80) + "...";
  if (name.empty()) return kind_text;
  return fmt::format("{} {}", kind_text, Quote(name));
}

// ", field <path>: <message>" or ": <message>".
std::string FieldSuffix(const FieldError& error) {
  if (error.path.empty()) return fmt::format(": {}", error.message);
  return fmt::format(", field {}: {}", error.path, error.message);
}

// Joins the path of an item inside its document with a path inside the item.
std::string JoinPath(std::string_view root, std::string_view path) {
  if (root.empty()) return std::string(path);
  if (path.empty()) return std::string(root);
  if (path[0] == '[') return fmt::format("{}{}", root, path);
  return fmt::format("{}.{}", root, path);
}

absl::Status DocumentError(std::string_view source_name, const internal::YamlDocument& document,
                           std::optional<size_t> item, const json& value, std::string_view root,
                           const FieldError& error, std::string_view list_kind = "") {
  std::string message;
  if (!source_name.empty()) message = fmt::format("{}: ", source_name);
  message += fmt::format("document {}", document.index);
  if (item) message += fmt::format(", item {}", *item + 1);
  std::string identity = Identify(value, list_kind);
  if (!identity.empty()) message += fmt::format(" ({})", identity);
  internal::Location location = document.locations.Find(JoinPath(root, error.path));
  if (location.line > 0) message += fmt::format(", line {}", location.line);
  message += FieldSuffix(error);
  return absl::InvalidArgumentError(message);
}

// The list's apiVersion when it is a string, else "".
std::string ListApiVersion(const json& list) {
  auto api = list.find("apiVersion");
  if (api == list.end() || !api->is_string()) return "";
  return api->get<std::string>();
}

bool IsListObject(const json& value) {
  if (!value.is_object()) return false;
  auto kind = value.find("kind");
  if (kind == value.end() || !kind->is_string()) return false;
  const std::string& name = kind->get_ref<const std::string&>();
  return name == "List" || KindOfListKind(name, ListApiVersion(value)).has_value();
}

// Decodes a list object's items into `out`.
absl::Status DecodeList(std::string_view source_name, const internal::YamlDocument& document,
                        std::vector<Resource>& out) {
  const json& list = document.value;
  auto fail = [&](std::string path, std::string message) {
    return DocumentError(source_name, document, std::nullopt, list, "",
                         FieldError{std::move(path), std::move(message)});
  };
  ListContext context;
  const std::string& list_kind = list["kind"].get_ref<const std::string&>();
  context.kind = KindOfListKind(list_kind, ListApiVersion(list));
  for (const auto& [key, item] : list.items()) {
    if (key != "apiVersion" && key != "kind" && key != "metadata" && key != "items") {
      return fail(PathKey("", key),
                  UnknownFieldMessage(key, {"apiVersion", "kind", "metadata", "items"}));
    }
  }
  auto api = list.find("apiVersion");
  if (api != list.end() && !api->is_null()) {
    if (!api->is_string()) return fail("apiVersion", Expected("a string", *api));
    const std::string& version = api->get_ref<const std::string&>();
    if (!IsKnownApiVersion(version)) return fail("apiVersion", UnsupportedApiVersion(version));
    if (context.kind) {
      // A <Kind>List's items default to its apiVersion, which must be their kind's.
      if (!AcceptsApiVersion(*context.kind, version)) {
        return fail(
            "apiVersion",
            fmt::format("kind {} is not part of apiVersion {}; use {}", list_kind, version,
                        AcceptedApiVersionsText(KindsWithWireName(WireKindName(*context.kind)))));
      }
      context.api_version = version;
    } else if (version == kTabbyApiVersion || version == kCalicoApiVersion) {
      context.api_version = version;  // a generic List's items default to tabby's own groups
    }
  }
  auto metadata = list.find("metadata");
  if (metadata != list.end() && !metadata->is_null() && !metadata->is_object()) {
    return fail("metadata", Expected("a map", *metadata));
  }
  auto items = list.find("items");
  if (items == list.end() || items->is_null()) {
    return absl::OkStatus();  // an empty list, as kubectl prints it
  }
  if (!items->is_array()) return fail("items", Expected("a list", *items));
  for (size_t i = 0; i < items->size(); ++i) {
    DecodeState state;
    std::optional<Resource> resource = DecodeResource((*items)[i], context, state);
    if (!resource) {
      return DocumentError(source_name, document, i, (*items)[i], PathIndex("items", i),
                           *state.error, context.kind ? KindName(*context.kind) : "");
    }
    out.push_back(*std::move(resource));
  }
  return absl::OkStatus();
}

// The one kind of `resources`, or nullopt when they are empty or mixed.
std::optional<Kind> SingleKind(const std::vector<Resource>& resources) {
  if (resources.empty()) return std::nullopt;
  Kind kind = resources.front().kind;
  for (const Resource& resource : resources) {
    if (resource.kind != kind) return std::nullopt;
  }
  return kind;
}

}  // namespace

absl::StatusOr<std::vector<Resource>> DecodeDocuments(std::string_view text,
                                                      std::string_view source_name) {
  absl::StatusOr<std::vector<internal::YamlDocument>> documents = internal::ParseYamlStream(text);
  if (!documents.ok()) {
    if (source_name.empty()) return documents.status();
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", source_name, MessageOf(documents.status())));
  }
  std::vector<Resource> resources;
  for (const internal::YamlDocument& document : *documents) {
    if (IsListObject(document.value)) {
      absl::Status status = DecodeList(source_name, document, resources);
      if (!status.ok()) return status;
    } else if (document.value.is_array()) {
      for (size_t i = 0; i < document.value.size(); ++i) {
        DecodeState state;
        std::optional<Resource> resource = DecodeResource(document.value[i], {}, state);
        if (!resource) {
          return DocumentError(source_name, document, i, document.value[i], PathIndex("", i),
                               *state.error);
        }
        resources.push_back(*std::move(resource));
      }
    } else {
      DecodeState state;
      std::optional<Resource> resource = DecodeResource(document.value, {}, state);
      if (!resource) {
        return DocumentError(source_name, document, std::nullopt, document.value, "", *state.error);
      }
      resources.push_back(*std::move(resource));
    }
  }
  return resources;
}

absl::StatusOr<Resource> DecodeJsonObject(const nlohmann::json& object) {
  DecodeState state;
  std::optional<Resource> resource = DecodeResource(object, {}, state);
  if (!resource) {
    std::string identity = Identify(object);
    if (identity.empty()) return absl::InvalidArgumentError(state.error->ToString());
    return absl::InvalidArgumentError(fmt::format("{}{}", identity, FieldSuffix(*state.error)));
  }
  return *std::move(resource);
}

absl::StatusOr<Resource> DecodeStored(std::string_view json_text) {
  json object =
      json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return absl::InvalidArgumentError("stored value is not valid JSON");
  }
  absl::StatusOr<Resource> resource = DecodeJsonObject(object);
  if (!resource.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid stored resource: {}", MessageOf(resource.status())));
  }
  return resource;
}

nlohmann::json Encode(const Resource& resource) {
  json out = json::object();
  out["apiVersion"] = std::string(ApiVersionOf(resource.kind));
  out["kind"] = std::string(WireKindName(resource.kind));
  out["metadata"] = EncodeValue(resource.metadata);
  out["spec"] = std::visit([](const auto& spec) { return EncodeValue(spec); }, resource.spec);
  return out;
}

std::string EncodeJson(const Resource& resource, bool pretty) {
  return Encode(resource).dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace);
}

std::string EncodeYaml(const Resource& resource) { return internal::EmitYaml(Encode(resource)); }

nlohmann::json EncodeList(const std::vector<Resource>& resources) {
  json list = json::object();
  std::optional<Kind> kind = SingleKind(resources);
  list["apiVersion"] = kind ? std::string(ApiVersionOf(*kind)) : std::string(kTabbyApiVersion);
  list["kind"] = kind ? fmt::format("{}List", WireKindName(*kind)) : std::string("List");
  json items = json::array();
  for (const Resource& resource : resources) items.push_back(Encode(resource));
  list["items"] = std::move(items);
  return list;
}

std::string EncodeListJson(const std::vector<Resource>& resources, bool pretty) {
  return EncodeList(resources).dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace);
}

std::string EncodeListYaml(const std::vector<Resource>& resources) {
  return internal::EmitYaml(EncodeList(resources));
}

std::string EncodeYamlDocuments(const std::vector<Resource>& resources) {
  std::string out;
  for (const Resource& resource : resources) {
    out += "---\n";
    out += EncodeYaml(resource);
  }
  return out;
}

}  // namespace tabby::model
