// Decoding shortcuts for model tests: one document that must decode, or one that must not.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/status_macros.h"
#include "model/codec.h"

namespace tabby::model::testing {

// The one resource `text` decodes to; a test failure (and an empty Resource) otherwise.
inline Resource DecodeOne(std::string_view text) {
  absl::StatusOr<std::vector<Resource>> resources = DecodeDocuments(text, "test.yaml");
  EXPECT_TRUE(resources.ok()) << resources.status();
  if (!resources.ok() || resources->size() != 1) {
    ADD_FAILURE() << "expected one resource";
    return Resource{};
  }
  return resources->front();
}

// The message decoding `text` fails with (InvalidArgument); a test failure if it decodes.
inline std::string DecodeError(std::string_view text) {
  absl::StatusOr<std::vector<Resource>> resources = DecodeDocuments(text, "test.yaml");
  EXPECT_FALSE(resources.ok()) << "decoded:\n" << text;
  if (resources.ok()) return "";
  EXPECT_EQ(resources.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(MessageOf(resources.status()));
}

}  // namespace tabby::model::testing
