// Notices changes other processes commit to the store, for stores that cannot announce them
// (SQLite: the CLI, or a second tokend on the same file), by polling
// store.ExternalChangeVersion().
//
// The verification cache is kept correct by invalidations that this process's own writes make
// before they return; a change committed by another process makes none. The watcher turns such
// a change into one `on_change` call (serve drops the whole cache) within `interval`, so a
// `tokend token revoke` run beside a server takes effect in that server within about 100 ms,
// independently of the cache time-to-live.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "core/periodic.h"
#include "store/store.h"

namespace tokend::service {

struct ExternalChangeOptions {
  // The poll costs one PRAGMA under the store's write lock: microseconds.
  std::chrono::milliseconds interval{100};
  // Tests turn the thread off and call Poll themselves.
  bool background = true;
};

class ExternalChangeWatcher {
 public:
  // Reads the first version at once. REQUIRES: `store` outlives the watcher; `on_change`
  // does not block for long (it runs on the watcher's thread).
  ExternalChangeWatcher(store::Store& store, std::function<void()> on_change,
                        ExternalChangeOptions options = {});
  ExternalChangeWatcher(const ExternalChangeWatcher&) = delete;
  ExternalChangeWatcher& operator=(const ExternalChangeWatcher&) = delete;

  // One poll: calls `on_change` when the version moved since the last poll, or when it cannot
  // be read (nothing can then prove the cache current). Returns whether it called.
  bool Poll();

 private:
  store::Store& store_;
  const std::function<void()> on_change_;
  std::mutex mutex_;  // Poll is public: a caller and the thread may poll at once
  std::optional<std::uint64_t> version_;        // GUARDED_BY(mutex_); nullopt after a failed read
  bool failing_ = false;                        // GUARDED_BY(mutex_): log a failure once, not 10x/s
  std::optional<core::PeriodicThread> poller_;  // last: it calls Poll
};

}  // namespace tokend::service
