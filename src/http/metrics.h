// Prometheus metrics of the HTTP layer, rendered in the text exposition format:
//   tokend_http_requests_total{route,method,status}
//   tokend_http_request_duration_seconds{route} (histogram)
//   tokend_verifications_total{outcome}
//   tokend_tokens_active{kind} (from Store::CountLiveTokens, cached)
// Labels are bounded: `route` is a route pattern (never a raw path), `method` one of the
// known methods or "other". Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/clock.h"
#include "store/store.h"

namespace tokend::http {

enum class VerificationOutcome { kValid, kInvalid, kInsufficientScope, kUnavailable };
inline constexpr int kVerificationOutcomeCount = 4;

class Metrics {
 public:
  Metrics();

  // Upper bounds of the duration histogram, in seconds: from a cache hit (~0.1 ms) to a slow
  // store write (seconds).
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  // How long tokend_tokens_active is served from cache: counting live tokens is a table scan,
  // and scrapes come every 15–60 s from each scraper.
  static constexpr core::seconds kTokenCountTtl{5};

  // REQUIRES: `route` outlives this object (a pattern held by the Router, or a literal).
  // `method` may be anything: it is reduced to a known method or "other".
  void RecordRequest(std::string_view route, std::string_view method, int status, double seconds);
  void RecordVerification(VerificationOutcome outcome);
  // The exposition text. Reads the live token counts through `store` at most every
  // kTokenCountTtl; when the store fails the gauge is left out.
  std::string Render(store::Store& store, const core::Clock& clock);

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};  // not cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };
  // The series recorded by one thread. Its mutex is taken by that thread for every request and
  // by Render, so it is uncontended in practice: request threads never share a lock or a cache
  // line (one global mutex cost ~2% of a cached /auth/verify on two cores).
  struct alignas(64) Shard {
    std::mutex mutex;
    // Keys are views (see RecordRequest): once a series exists, recording allocates nothing.
    std::map<std::tuple<std::string_view, std::string_view, int>, std::uint64_t>
        requests;                                     // GUARDED_BY(mutex)
    std::map<std::string_view, Histogram> durations;  // GUARDED_BY(mutex)
  };
  // This thread's shard, created on its first request.
  Shard& ThreadShard();

  // Tells instances apart in the per-thread cache of ThreadShard (an address may be reused).
  const std::uint64_t instance_;
  std::mutex shards_mutex_;
  std::vector<std::unique_ptr<Shard>> shards_;  // GUARDED_BY(shards_mutex_); never shrinks
  std::array<std::atomic<std::uint64_t>, kVerificationOutcomeCount> verifications_{};

  std::mutex count_mutex_;
  std::optional<core::Time> counted_at_;                               // GUARDED_BY(count_mutex_)
  std::vector<std::pair<core::TokenKind, std::int64_t>> live_tokens_;  // GUARDED_BY(count_mutex_)
};

}  // namespace tokend::http
