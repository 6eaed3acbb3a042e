// A fixed-window counter per key, in memory, bounded.
//
// Each key counts events in a window that starts at its first event; once `limit` events are
// in the window, further ones are refused until the window ends. Memory is bounded by
// `max_keys`: when full, keys whose window has ended are dropped first, then the oldest.
// Thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace tokend::service {

class RateLimiter {
 public:
  RateLimiter(int limit, core::seconds window, std::size_t max_keys);

  // Seconds until `key` may act again when it is at its limit now; nullopt when allowed.
  std::optional<int> Blocked(const std::string& key, core::Time now) const;
  // Counts one event for `key`.
  void Add(const std::string& key, core::Time now);
  // Blocked + Add in one step: nullopt (and counted) when allowed.
  std::optional<int> Acquire(const std::string& key, core::Time now);
  // Forgets `key`. Idempotent.
  void Reset(const std::string& key);
  std::size_t size() const;

 private:
  struct Entry {
    core::Time window_start;
    int count = 0;
    std::list<std::string>::iterator order;  // position in order_
  };
  std::optional<int> BlockedLocked(const std::string& key, core::Time now) const;
  void AddLocked(const std::string& key, core::Time now);
  void EvictLocked(core::Time now);

  const int limit_;
  const core::seconds window_;
  const std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mutex_)
  std::list<std::string> order_;  // keys by window start, oldest first. GUARDED_BY(mutex_)
};

}  // namespace tokend::service
