#include "base/clock.h"

namespace tabby {

SystemClock& SystemClock::Get() {
  static SystemClock clock;
  return clock;
}

}  // namespace tabby
