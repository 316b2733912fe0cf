// The only way tabby reads time. Leases, retries, backoff and grace periods take a Clock so that
// tests drive time deterministically instead of sleeping.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tabby {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  virtual void SleepFor(absl::Duration duration) = 0;
};

// Real time. Thread-safe; stateless.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration duration) override { absl::SleepFor(duration); }
  // A process-wide instance; SystemClock has no state, so sharing it is not global mutable state.
  static SystemClock& Get();
};

// Time that moves only when told to. Not thread-safe; for unit tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override { return now_; }
  void SleepFor(absl::Duration duration) override { now_ += duration; }
  void Advance(absl::Duration duration) { now_ += duration; }

 private:
  absl::Time now_;
};

}  // namespace tabby
