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
//
// Every verification records here, so Record allocates nothing for a token already pending
// (views in, lookup by view), and a flush holds the mutex only to swap maps: with 100,000
// tokens in use, copying the pending map under the mutex blocked verifications for tens of
// milliseconds every interval.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/periodic.h"
#include "store/store.h"

namespace tokend::service {

// What one verification did, as views into the caller's strings.
struct ActivityRecord {
  std::string_view tenant_id;
  std::string_view token_id;
  core::Time used_at;
  std::string_view client_ip;
  std::optional<core::Time> new_expires_at;  // mobile tokens: the slid expiry
};

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
  void Record(const ActivityRecord& activity);
  // The pending (not yet written) slid expiry of a mobile token.
  std::optional<core::Time> PendingExpiry(std::string_view token_id) const;
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
  // Lets the maps be searched by string_view without building a std::string.
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  using ByTokenId = std::unordered_map<std::string, store::TokenActivity, IdHash, std::equal_to<>>;

  // The latest use wins for time and address, the later expiry for new_expires_at.
  static void Merge(store::TokenActivity& into, core::Time used_at, std::string_view client_ip,
                    std::optional<core::Time> new_expires_at);

  store::Store& store_;
  const ActivityOptions options_;
  mutable std::mutex mutex_;
  ByTokenId pending_;  // recorded since the last flush began. GUARDED_BY(mutex_)
  // What the running flush is writing: filled and emptied by Flush only (under flush_mutex_),
  // swapped under mutex_; read by PendingExpiry until the store has it.
  ByTokenId in_flight_;
  Stats stats_;             // GUARDED_BY(mutex_)
  std::mutex flush_mutex_;  // one flush at a time, so batches reach the store in order
  std::optional<core::PeriodicThread> flusher_;  // last: it calls Flush; absent unless background
};

}  // namespace tokend::service
