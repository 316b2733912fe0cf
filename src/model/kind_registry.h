// One table of every resource kind: its names, scope, empty spec, defaults, validation and
// `tabbyctl get` columns. resources.cc, validate.cc and ctl's tables look kinds up here instead of
// switching on Kind, so a kind lives in its own two files.
//
// Adding a kind:
//   1. model/kinds/<kind>.h: the spec struct(s) and their Describe (field names).
//   2. model/kinds/<kind>.cc: its defaults, validation and columns, and its KindInfo
//      (`extern constexpr KindInfo k<Kind>Kind{...}`); add the file to model/CMakeLists.txt.
//   3. types.h: the Kind enumerator. resources.h: include the header, add the spec to the Spec
//      variant (and, if you like, a typed accessor to Resource).
//   4. kind_registry.cc: declare k<Kind>Kind and list it in apply order.
// KindRegistry.EveryKindOnce (test/model/kind_registry_test.cc) lists every Kind in a switch that
// the compiler keeps complete, and fails until the new kind is registered.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>

#include "model/resources.h"

namespace tabby::model {

namespace internal {
class Checker;  // model/check.h: records the first FieldError
}  // namespace internal

// One column of a `tabbyctl get` table. Every table starts with NAME (and NAMESPACE before it
// under -A); a kind lists the columns after it, in order.
struct Column {
  enum Shown { kAlways, kWideOnly };  // kWideOnly: only with -o wide
  std::string_view header;
  Shown shown;
  std::string (*cell)(const Resource&);  // see model/table_cells.h
};

// Everything the model and tabbyctl need to know about a kind beyond its spec struct. Each
// kinds/<kind>.cc defines its own as a constant (no registration at start-up).
struct KindInfo {
  Kind kind;
  std::string_view name;  // KindName
  // Lower-case spellings KindFromName accepts besides the lower-cased name; unused ones empty.
  std::array<std::string_view, 5> aliases;
  std::string_view wire_name;                       // WireKindName: `kind` in documents
  std::string_view api_version = kTabbyApiVersion;  // ApiVersionOf: what the encoder writes
  bool kubernetes = false;                          // IsKubernetesKind
  bool namespaced = false;                          // IsNamespaced
  Spec (*empty_spec)();                             // EmptySpec<XSpec>: the alternative it holds
  // metadata.name once known to be present (length included: CheckNameLength); nullptr: a
  // DNS-1123 subdomain (CheckObjectName).
  bool (*check_name)(internal::Checker&, const std::string& name) = nullptr;
  // The kind's part of ApplyDefaults (after the namespace); nullptr: nothing to fill in.
  void (*apply_defaults)(Resource&) = nullptr;
  // The kind's part of CheckResource, after apiVersion, UTF-8 and metadata: false after
  // recording the first problem.
  bool (*check)(internal::Checker&, const Resource&);
  std::span<const Column> columns;
};

template <typename S>
Spec EmptySpec() {
  return S{};
}

// The registration of `kind`. Every Kind has one (a missing one is a programming error: abort).
const KindInfo& KindInfoOf(Kind kind);

// Every registration, in the order apply processes a mixed file (AllKinds).
std::span<const KindInfo* const> KindRegistry();

}  // namespace tabby::model
