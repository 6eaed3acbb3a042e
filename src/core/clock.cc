#include "core/clock.h"

namespace tokend::core {

Time SystemClock::Now() const {
  return std::chrono::floor<seconds>(std::chrono::system_clock::now());
}

}  // namespace tokend::core
