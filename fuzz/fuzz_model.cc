// Fuzzes the resource codec: any bytes either fail cleanly with InvalidArgument, or decode to
// valid resources that encode to JSON and YAML which decode back to the same resources, and
// whose JSON re-encodes byte for byte (what the datastore relies on).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/status_macros.h"
#include "model/codec.h"
#include "model/validate.h"

namespace {

using tabby::model::Resource;

void Check(bool ok, const char* what, std::string_view detail, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_model: %s\n%.*s\ninput: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data(), static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<Resource>> decoded = tabby::model::DecodeDocuments(input, "fuzz");
  if (!decoded.ok()) {
    Check(decoded.status().code() == absl::StatusCode::kInvalidArgument, "unexpected error code",
          tabby::MessageOf(decoded.status()), input);
    return 0;
  }
  for (const Resource& resource : *decoded) {
    Check(tabby::model::Validate(resource).ok(), "decoded resource is invalid",
          tabby::MessageOf(tabby::model::Validate(resource)), input);
    Resource expected = resource;
    expected.api_version = std::string(tabby::model::ApiVersionOf(resource.kind));

    std::string json = tabby::model::EncodeJson(resource);
    absl::StatusOr<Resource> stored = tabby::model::DecodeStored(json);
    Check(stored.ok(), "encoded JSON does not decode",
          stored.ok() ? json : std::string(tabby::MessageOf(stored.status())) + "\n" + json, input);
    Check(*stored == expected, "JSON round trip changed the resource", json, input);
    Check(tabby::model::EncodeJson(*stored) == json, "JSON re-encoding differs", json, input);

    std::string yaml = tabby::model::EncodeYaml(resource);
    absl::StatusOr<std::vector<Resource>> from_yaml = tabby::model::DecodeDocuments(yaml, "yaml");
    Check(from_yaml.ok(), "encoded YAML does not decode",
          from_yaml.ok() ? yaml : std::string(tabby::MessageOf(from_yaml.status())) + "\n" + yaml,
          input);
    Check(from_yaml->size() == 1 && from_yaml->front() == expected,
          "YAML round trip changed the resource", yaml, input);
  }
  if (!decoded->empty()) {
    std::string list = tabby::model::EncodeListYaml(*decoded);
    absl::StatusOr<std::vector<Resource>> from_list = tabby::model::DecodeDocuments(list, "list");
    Check(from_list.ok() && from_list->size() == decoded->size(), "list does not decode", list,
          input);
  }
  return 0;
}
