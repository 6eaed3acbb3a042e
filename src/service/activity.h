// Write-behind token activity: "last used" (time and address) of API tokens and "last active"
// plus the slid expiry of mobile tokens.
//
// Verification records activity here instead of writing the store on the request path
// (STYLE.md: no store write on every authenticated request). A background thread writes what
// is pending in one batch (store.RecordTokenActivity) every `interval`, so each token is
// written at most once per interval however often it is used; Flush() and the destructor
// write the rest.
//
// Every verification records here, so Record only appends a fixed-size record to a log of
// the calling thread's shard: no lookup, no allocation once the log has grown, no cache miss
// (a lookup in a map of the tokens in use cost two or three DRAM misses at millions of tokens,
// as much as the cache hit itself). A second background thread drains the logs every
// kDrainInterval into the map of pending activity (one entry per token), off the request path.
//
// Pending slides are visible through PendingExpiry so that a mobile token's effective expiry
// during verification is the later of the stored one and the pending one.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/periodic.h"
#include "core/string_hash.h"
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
  // Records a shard's log holds between drains at most (~150 bytes each); beyond it a record
  // is dropped. Drained every kDrainInterval, a log holds this many only at millions of
  // verifications per second on one thread, or when the drain thread is held up.
  std::size_t max_log_records = 65536;
};

class ActivityRecorder {
 public:
  // How often the logs are drained into the pending map. The drain's CPU is the same however
  // it is cut (~0.4 us per record), but each drain is a burst that can take the core of a
  // request thread: at 100 ms, bursts of ~5 ms at 115,000 verifications/s put p99 at 2.9-3.6 ms
  // on 2 cores; at 10 ms, 1.6-2.0 ms, at the same throughput (bench/load.sh, A/B).
  static constexpr std::chrono::milliseconds kDrainInterval{10};

  // REQUIRES: `store` outlives the recorder (the destructor flushes into it).
  explicit ActivityRecorder(store::Store& store, ActivityOptions options = {});
  // Stops the thread and flushes.
  ~ActivityRecorder();
  ActivityRecorder(const ActivityRecorder&) = delete;
  ActivityRecorder& operator=(const ActivityRecorder&) = delete;

  // Records one use. The next drain merges it into the token's pending activity: the latest
  // use wins for time and address, the later expiry for new_expires_at.
  void Record(const ActivityRecord& activity);
  // The pending (not yet written) slid expiry of a mobile token.
  std::optional<core::Time> PendingExpiry(std::string_view token_id);
  // Writes everything pending in one batch. On failure the batch is kept for the next try.
  core::Result<void> Flush();
  // Moves what the logs hold into the pending map. The drain thread calls it; so do Flush,
  // PendingExpiry and pending, so that they see every record made before them.
  void Drain();
  // Stops the background thread (idempotent) and flushes.
  void Stop();

  struct Stats {
    std::uint64_t rows_written = 0;     // token activity rows handed to the store
    std::uint64_t batches_written = 0;  // successful RecordTokenActivity calls
    std::uint64_t failed_batches = 0;
    std::uint64_t dropped = 0;  // records dropped: max_pending or max_log_records reached
  };
  Stats stats() const;
  // Tokens with activity not yet written.
  std::size_t pending();

 private:
  using ByTokenId =
      std::unordered_map<std::string, store::TokenActivity, core::StringHash, std::equal_to<>>;

  // One Record, with its strings inline. Ids are 20 characters (core/ids.h) and a textual
  // IPv6 address at most 45; a record whose strings do not fit goes straight to the map.
  struct LogRecord {
    static constexpr std::size_t kMaxId = 32;
    static constexpr std::size_t kMaxIp = 46;
    static bool Fits(const ActivityRecord& activity);
    // REQUIRES: Fits(activity).
    void Set(const ActivityRecord& activity);

    core::Time used_at;
    std::optional<core::Time> new_expires_at;
    std::uint8_t tenant_size, token_size, ip_size;
    std::array<char, kMaxId> tenant_id;
    std::array<char, kMaxId> token_id;
    std::array<char, kMaxIp> client_ip;
  };
  // Threads are spread over the shards round robin, so request threads rarely share a lock.
  static constexpr std::size_t kLogShards = 16;
  struct alignas(64) LogShard {
    std::mutex mutex;
    std::vector<LogRecord> records;  // GUARDED_BY(mutex)
  };

  // The latest use wins for time and address, the later expiry for new_expires_at.
  static void Merge(store::TokenActivity& into, core::Time used_at, std::string_view client_ip,
                    std::optional<core::Time> new_expires_at);
  // REQUIRES: mutex_ held.
  void MergeLocked(std::string_view tenant_id, std::string_view token_id, core::Time used_at,
                   std::string_view client_ip, std::optional<core::Time> new_expires_at);
  void DrainLocked();
  static std::size_t ShardOfThisThread();

  store::Store& store_;
  const ActivityOptions options_;
  std::array<LogShard, kLogShards> logs_;
  mutable std::mutex mutex_;
  ByTokenId pending_;  // drained since the last flush began. GUARDED_BY(mutex_)
  // What the running flush is writing: filled and emptied by Flush only (under flush_mutex_),
  // swapped under mutex_; read by PendingExpiry until the store has it.
  ByTokenId in_flight_;
  std::vector<LogRecord> draining_;          // a log swapped out for draining. GUARDED_BY(mutex_)
  Stats stats_;                              // GUARDED_BY(mutex_)
  std::atomic<std::uint64_t> log_drops_{0};  // records dropped at a full log
  std::mutex flush_mutex_;  // one flush at a time, so batches reach the store in order
  // Last: they call Drain and Flush; absent unless background.
  std::optional<core::PeriodicThread> drainer_;
  std::optional<core::PeriodicThread> flusher_;
};

}  // namespace tokend::service
