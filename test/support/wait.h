// Polling instead of sleeping: tests wait for a condition, never for a fixed time, and never
// assert on how long something took (the machines are shared and noisy).
#pragma once

#include <chrono>
#include <thread>

namespace tabby::test {

// Calls `condition` every `interval` until it returns true or `timeout` has passed, and returns
// its last result. Deadlines are generous on purpose: they bound a failing test, not a passing one.
template <typename Predicate>
bool WaitFor(Predicate&& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10),
             std::chrono::milliseconds interval = std::chrono::milliseconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace tabby::test
