// The programs under test as CMake built them (paths compiled in by tabby_e2e_test).
#pragma once

#include "support/cluster.h"

namespace tabby::test {

inline ClusterBinaries BuiltBinaries() { return {TABBYD, TABBYCTL, TABBY_CNI}; }

}  // namespace tabby::test
