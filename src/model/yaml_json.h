// Internal to tabby_model: YAML (and JSON, which yaml-cpp reads as YAML) text to nlohmann::json
// with the source position of every value, and nlohmann::json back to YAML text.
//
// Scalars resolve per the YAML 1.2 core schema: a plain (unquoted) scalar is null, a boolean, an
// integer or a float when it looks like one, else a string; a quoted scalar is always a string.
// Positions are recorded per field path, spelt like the decoder's error paths:
//   spec.ingress[0].destination.ports[1]      metadata.labels["app.kubernetes.io/name"]
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"

namespace tabby::model::internal {

// 1-based; 0 when unknown.
struct Location {
  int line = 0;
  int column = 0;
};

class LocationTable {
 public:
  void Add(std::string path, Location location);
  // The location of `path`, or else of its nearest ancestor that has one (a missing field is
  // reported at the line of the object that lacks it).
  Location Find(std::string_view path) const;
  bool empty() const { return locations_.empty(); }

 private:
  std::unordered_map<std::string, Location> locations_;
};

struct YamlDocument {
  int index = 0;  // 1-based position of the document in the stream
  nlohmann::json value;
  LocationTable locations;
};

// Parses every document of a YAML stream; documents that are empty (null) are skipped. Errors are
// InvalidArgument with a message starting "line L, column C: ".
absl::StatusOr<std::vector<YamlDocument>> ParseYamlStream(std::string_view text);

// Path of `key` inside the object at `parent` ("" is the document root).
std::string PathKey(std::string_view parent, std::string_view key);
// Path of item `index` inside the list at `parent`.
std::string PathIndex(std::string_view parent, size_t index);

// True if `text`, written as a plain YAML scalar, would read back as a string.
bool PlainScalarIsString(std::string_view text);

// Block-style YAML for `value`; strings are quoted where a plain scalar would change type.
std::string EmitYaml(const nlohmann::json& value);

// True if `text` is well-formed UTF-8.
bool IsValidUtf8(std::string_view text);

}  // namespace tabby::model::internal
