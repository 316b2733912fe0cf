#include "base/hash.h"

#include <gtest/gtest.h>

namespace tabby {
namespace {

TEST(StableHash, KnownValues) {
  // FNV-1a reference values: the hash must never change (kernel object names depend on it).
  EXPECT_EQ(StableHash64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(StableHash64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(StableHashHex("a", 8), "af63dc4c");
}

}  // namespace
}  // namespace tabby
