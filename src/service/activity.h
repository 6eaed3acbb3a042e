// Write-behind token activity: "last used" (time and address) of API tokens and "last active"
// plus the slid expiry of mobile tokens.
//
// Verification records activity here instead of writing the store on the request path
// (STYLE.md: no store write on every authenticated request). A background thread writes what
// is pending in one batch (store.RecordTokenActivity) every `interval`, so each token is
// written at most once per interval however often it is used; Flush() and the destructor
// write the rest.
//
// Pending slides are visible through PendingExpiry so that a mobile token's effective expiry
// during verification is the later of the stored one and the pending one.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "store/store.h"

namespace tokend::service {

struct ActivityOptions {
  // How stale "last used" may be in the console, and the longest a slid expiry waits.
  std::chrono::milliseconds interval{5000};
  // Tests turn the thread off and call Flush themselves.
  bool background = true;
  // Bound on memory when the store is unreachable for long: beyond it, activity of tokens
  // with nothing pending yet is dropped (it is best-effort bookkeeping; a dropped mobile
  // slide only means the token may expire earlier than it would have).
  std::size_t max_pending = 200000;
};

class ActivityRecorder {
 public:
  // REQUIRES: `store` outlives the recorder (the destructor flushes into it).
  explicit ActivityRecorder(store::Store& store, ActivityOptions options = {});
  // Stops the thread and flushes.
  ~ActivityRecorder();
  ActivityRecorder(const ActivityRecorder&) = delete;
  ActivityRecorder& operator=(const ActivityRecorder&) = delete;

  // Merges into the token's pending activity: the latest use wins for time and address, the
  // later expiry wins for new_expires_at.
  void Record(const store::TokenActivity& activity);
  // The pending (not yet written) slid expiry of a mobile token.
  std::optional<core::Time> PendingExpiry(const std::string& token_id) const;
  // Writes everything pending in one batch. On failure the batch is kept for the next try.
  core::Result<void> Flush();
  // Stops the background thread (idempotent) and flushes.
  void Stop();

  struct Stats {
    std::uint64_t rows_written = 0;     // token activity rows handed to the store
    std::uint64_t batches_written = 0;  // successful RecordTokenActivity calls
    std::uint64_t failed_batches = 0;
    std::uint64_t dropped = 0;  // records dropped because max_pending was reached
  };
  Stats stats() const;
  std::size_t pending() const;

 private:
  void Run();
  // REQUIRES: mutex_ held.
  void MergeLocked(const store::TokenActivity& activity);

  store::Store& store_;
  const ActivityOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, store::TokenActivity>
      pending_;             // by token id. GUARDED_BY(mutex_)
  Stats stats_;             // GUARDED_BY(mutex_)
  std::mutex flush_mutex_;  // one flush at a time, so batches reach the store in order
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace tokend::service
