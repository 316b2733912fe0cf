#include "support/root.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace tabby::test {
namespace {

constexpr int kCapNetAdmin = 12;
constexpr int kCapSysAdmin = 21;

uint64_t EffectiveCapabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

}  // namespace

bool HaveRoot() {
  uint64_t caps = EffectiveCapabilities();
  return geteuid() == 0 && (caps & (uint64_t{1} << kCapNetAdmin)) != 0 &&
         (caps & (uint64_t{1} << kCapSysAdmin)) != 0;
}

void RequireRoot() {
  if (HaveRoot()) return;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::fprintf(stderr, "\n*** SKIPPED %s.%s: %s. Run the 'root' CTest label as root. ***\n\n",
               info != nullptr ? info->test_suite_name() : "?",
               info != nullptr ? info->name() : "?", kNeedsRootMessage);
  GTEST_SKIP() << kNeedsRootMessage;
}

}  // namespace tabby::test
