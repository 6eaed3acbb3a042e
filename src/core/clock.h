// Time as tokend sees it: whole seconds since the Unix epoch, UTC.
//
// All reads of "now" go through a Clock so that tests control time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tokend::core {

using Time = std::chrono::sys_seconds;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

inline std::int64_t ToUnixSeconds(Time t) { return t.time_since_epoch().count(); }
inline Time FromUnixSeconds(std::int64_t s) { return Time{seconds{s}}; }

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Time Now() const override;
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Time start) : now_(ToUnixSeconds(start)) {}
  Time Now() const override { return FromUnixSeconds(now_.load()); }
  void Set(Time t) { now_.store(ToUnixSeconds(t)); }
  void Advance(seconds d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace tokend::core
