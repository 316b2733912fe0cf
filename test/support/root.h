// Tests that create network namespaces need root. Without it they skip, loudly: a skipped
// namespace test is a test that did not run, and the output says so.
#pragma once

#include <gtest/gtest.h>

namespace tabby::test {

inline constexpr char kNeedsRootMessage[] = "needs root (CAP_NET_ADMIN) for network namespaces";

// Whether this process may create network namespaces and program nftables: effective uid 0 with
// CAP_NET_ADMIN and CAP_SYS_ADMIN.
bool HaveRoot();

// Prints a banner to stderr and marks the current test skipped when not root. From a fixture's
// SetUp() this skips the test body (gtest checks IsSkipped() after SetUp); in a test body, use
// TABBY_REQUIRE_ROOT(), which also returns.
void RequireRoot();

}  // namespace tabby::test

#define TABBY_REQUIRE_ROOT()                  \
  do {                                        \
    ::tabby::test::RequireRoot();             \
    if (::testing::Test::IsSkipped()) return; \
  } while (0)
