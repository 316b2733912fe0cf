// The property every incremental calculation must keep (Felix's calc-graph testing idea), shared
// by the randomised calculator tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "calc/calculator.h"
#include "model/resources.h"

namespace tabby::calc::testing {

// Flushes `incremental` and checks that its delta applied to the previous state gives the new
// state, and that the new state equals what a fresh calculator on `node` computes from `live`
// (the resources that should exist now). Use with ASSERT_TRUE.
inline ::testing::AssertionResult FlushMatchesFreshCalculation(
    Calculator& incremental, const std::map<std::string, model::Resource>& live,
    const std::string& node) {
  DesiredState before = incremental.state();
  Delta delta = incremental.Flush();
  Apply(delta, before);
  if (!(before == incremental.state())) {
    return ::testing::AssertionFailure() << "the delta applied to the previous state is not the "
                                            "new state";
  }
  if (absl::Status status = incremental.CheckIndexes(); !status.ok()) {
    return ::testing::AssertionFailure() << status.message();
  }
  Calculator fresh(node);
  for (const auto& [key, resource] : live) fresh.Upsert(resource);
  fresh.Flush();
  if (!(incremental.state() == fresh.state())) {
    return ::testing::AssertionFailure() << "the incremental state diverged from a fresh one";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tabby::calc::testing
