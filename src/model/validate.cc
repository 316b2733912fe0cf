#include "model/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "model/check.h"
#include "model/describe.h"
#include "model/kind_registry.h"
#include "model/yaml_json.h"

namespace tabby::model {
namespace {

using internal::CheckAnnotations;
using internal::Checker;
using internal::CheckLabels;
using internal::IsDnsLabel;
using internal::IsDnsSubdomain;
using internal::kMaxLabelLength;
using internal::PathIndex;
using internal::PathKey;
using internal::Quote;

// Every string must be UTF-8 (JSON and YAML output depend on it). Walks the descriptions.
class Utf8Walker {
 public:
  explicit Utf8Walker(Checker& checker) : checker_(checker) {}

  template <typename T>
  void Field(std::string_view key, const T& member) {
    Walk(PathKey(path_, key), member);
  }
  template <typename T, typename Codec>
  void Field(std::string_view key, const T& member, Codec) {
    Walk(PathKey(path_, key), member);
  }
  template <typename T>
  void Required(std::string_view key, const T& member) {
    Walk(PathKey(path_, key), member);
  }
  template <typename F>
  void Object(std::string_view key, F&& describe) {
    std::string saved = std::exchange(path_, PathKey(path_, key));
    describe(*this);
    path_ = std::move(saved);
  }

  template <typename T>
  void Walk(const std::string& path, const T& value) {
    if (failed_) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!internal::IsValidUtf8(value)) failed_ = !checker_.Fail(path, "not valid UTF-8");
    } else if constexpr (std::is_same_v<T, Labels>) {
      for (const auto& [key, item] : value) {
        Walk(path, key);
        Walk(PathKey(path, key), item);
      }
    } else if constexpr (requires { value.has_value(); }) {
      if (value.has_value()) Walk(path, *value);
    } else if constexpr (requires { value.begin(); }) {
      for (size_t i = 0; i < value.size(); ++i) Walk(PathIndex(path, i), value[i]);
    } else if constexpr (requires { internal::Describe(*this, value); }) {
      std::string saved = std::exchange(path_, path);
      internal::Describe(*this, value);
      path_ = std::move(saved);
    } else if constexpr (requires { value.name; }) {
      // Written as a scalar (a port, a protocol): its only text is its name.
      Walk(path, value.name);
    } else {
      static_assert(!std::is_class_v<T>, "a struct needs a Describe, or a name if it is a scalar");
    }
  }

  bool failed() const { return failed_; }

 private:
  Checker& checker_;
  std::string path_;
  bool failed_ = false;
};

bool CheckName(Checker& c, const Resource& r) {
  const std::string& name = r.metadata.name;
  if (name.empty()) return c.Fail(internal::kNamePath, "required field is missing");
  const KindInfo& info = KindInfoOf(r.kind);
  if (info.check_name == nullptr) return internal::CheckObjectName(c, name);
  return info.check_name(c, name);
}

bool CheckMetadata(Checker& c, const Resource& r) {
  if (!CheckName(c, r)) return false;
  const std::string& ns = r.metadata.namespace_name;
  if (IsNamespaced(r.kind)) {
    if (ns.empty()) return c.Fail("metadata.namespace", "required field is missing");
    if (ns.size() > kMaxLabelLength || !IsDnsLabel(ns)) {
      return c.Fail("metadata.namespace",
                    fmt::format("invalid namespace {}: 1-63 lower case alphanumerics and '-', "
                                "starting and ending with an alphanumeric",
                                Quote(ns)));
    }
  } else if (!ns.empty()) {
    return c.Fail("metadata.namespace",
                  fmt::format("{} is cluster-scoped: remove the namespace", KindName(r.kind)));
  }
  const std::string& version = r.metadata.resource_version;
  if (!version.empty() && !std::all_of(version.begin(), version.end(),
                                       [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return c.Fail(
        "metadata.resourceVersion",
        fmt::format("invalid resourceVersion {}: expected a decimal revision", Quote(version)));
  }
  return CheckLabels(c, "metadata.labels", r.metadata.labels) &&
         CheckAnnotations(c, "metadata.annotations", r.metadata.annotations);
}

bool SpecMatchesKind(const Resource& r) {
  return KindInfoOf(r.kind).empty_spec().index() == r.spec.index();
}

}  // namespace

std::string FieldError::ToString() const {
  if (path.empty()) return message;
  return fmt::format("field {}: {}", path, message);
}

void ApplyDefaults(Resource& r) {
  if (!SpecMatchesKind(r)) return;
  if (IsNamespaced(r.kind) && r.metadata.namespace_name.empty()) {
    r.metadata.namespace_name = "default";
  }
  if (auto apply_defaults = KindInfoOf(r.kind).apply_defaults) apply_defaults(r);
}

std::optional<FieldError> CheckResource(const Resource& r) {
  Checker c;
  if (!SpecMatchesKind(r)) {
    c.Fail("spec", fmt::format("spec does not belong to kind {}", KindName(r.kind)));
    return c.TakeError();
  }
  if (!AcceptsApiVersion(r.kind, r.api_version)) {
    if (IsKubernetesKind(r.kind)) {
      c.Fail("apiVersion",
             fmt::format("unsupported apiVersion {} for kind {}: use {}", Quote(r.api_version),
                         WireKindName(r.kind), ApiVersionOf(r.kind)));
    } else {
      c.Fail("apiVersion", fmt::format("unsupported apiVersion {}: use {} or {}",
                                       Quote(r.api_version), kTabbyApiVersion, kCalicoApiVersion));
    }
    return c.TakeError();
  }
  Utf8Walker walker(c);
  walker.Walk("metadata", r.metadata);
  std::visit([&](const auto& spec) { walker.Walk("spec", spec); }, r.spec);
  if (walker.failed() || !CheckMetadata(c, r)) return c.TakeError();
  KindInfoOf(r.kind).check(c, r);
  return c.TakeError();
}

absl::Status Validate(const Resource& resource) {
  if (std::optional<FieldError> error = CheckResource(resource)) {
    return absl::InvalidArgumentError(error->ToString());
  }
  return absl::OkStatus();
}

std::string WorkloadEndpointName(std::string_view node, std::string_view orchestrator,
                                 std::string_view workload, std::string_view endpoint) {
  std::string name;
  for (std::string_view part : {node, orchestrator, workload, endpoint}) {
    if (!name.empty()) name.push_back('-');
    for (char ch : part) {
      name.push_back(ch);
      if (ch == '-') name.push_back('-');
    }
  }
  return name;
}

absl::StatusOr<std::string> ResolveNodeName(std::string_view explicit_name, std::string_view source,
                                            std::string_view hostname) {
  constexpr std::string_view kRule =
      "a node name is lower case alphanumerics, '-' and '.', starting and ending with an "
      "alphanumeric, at most 253 characters";
  if (!explicit_name.empty()) {
    if (!IsDnsSubdomain(explicit_name)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid node name {} from {}: {}", Quote(explicit_name), source, kRule));
    }
    return std::string(explicit_name);
  }
  std::string name(absl::StripAsciiWhitespace(absl::string_view(hostname.data(), hostname.size())));
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!IsDnsSubdomain(name)) {
    return absl::InvalidArgumentError(
        fmt::format("cannot derive a node name from the host name {}: {}; give one with --node or "
                    "$TABBY_NODE",
                    Quote(hostname), kRule));
  }
  return name;
}

}  // namespace tabby::model
