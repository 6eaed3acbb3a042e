#include "http/metrics.h"

#include <fmt/format.h>

namespace tokend::http {

namespace {

std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

std::string_view OutcomeLabel(int outcome) {
  switch (static_cast<VerificationOutcome>(outcome)) {
    case VerificationOutcome::kValid:
      return "valid";
    case VerificationOutcome::kInvalid:
      return "invalid";
    case VerificationOutcome::kInsufficientScope:
      return "insufficient_scope";
    case VerificationOutcome::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

// Label values are route patterns and fixed words, but escape anyway: the format requires it.
std::string Escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

Metrics::Metrics()
    : instance_([] {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
      }()) {}

Metrics::Shard& Metrics::ThreadShard() {
  // One entry per thread: a request thread serves one Env, so this hits on every request.
  struct Cached {
    std::uint64_t instance = 0;
    Shard* shard = nullptr;
  };
  thread_local Cached cached;
  if (cached.instance == instance_) return *cached.shard;
  std::lock_guard lock(shards_mutex_);
  // A thread that alternates between instances (tests) gets a new shard each time it comes
  // back; Render sums them all, so nothing is lost.
  Shard& shard = *shards_.emplace_back(std::make_unique<Shard>());
  cached = {instance_, &shard};
  return shard;
}

void Metrics::RecordRequest(std::string_view route, std::string_view method, int status,
                            double seconds) {
  Shard& shard = ThreadShard();
  std::lock_guard lock(shard.mutex);
  ++shard.requests[{route, MethodLabel(method), status}];
  Histogram& histogram = shard.durations[route];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++histogram.buckets[i];
      break;
    }
  }
  ++histogram.count;
  histogram.sum += seconds;
}

void Metrics::RecordVerification(VerificationOutcome outcome) {
  verifications_[static_cast<int>(outcome)].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Render(store::Store& store, const core::Clock& clock) {
  std::map<std::tuple<std::string_view, std::string_view, int>, std::uint64_t> requests_;
  std::map<std::string_view, Histogram> durations_;
  {
    std::lock_guard shards_lock(shards_mutex_);
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mutex);
      for (const auto& [key, count] : shard->requests) requests_[key] += count;
      for (const auto& [route, histogram] : shard->durations) {
        Histogram& total = durations_[route];
        for (std::size_t i = 0; i < kBuckets.size(); ++i) total.buckets[i] += histogram.buckets[i];
        total.count += histogram.count;
        total.sum += histogram.sum;
      }
    }
  }
  std::string out;
  {
    out += "# HELP tokend_http_requests_total HTTP requests by route, method and status.\n";
    out += "# TYPE tokend_http_requests_total counter\n";
    for (const auto& [key, count] : requests_) {
      const auto& [route, method, status] = key;
      out +=
          fmt::format("tokend_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                      Escape(route), method, status, count);
    }
    out += "# HELP tokend_http_request_duration_seconds Time to answer HTTP requests.\n";
    out += "# TYPE tokend_http_request_duration_seconds histogram\n";
    for (const auto& [route, histogram] : durations_) {
      std::string label = Escape(route);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += histogram.buckets[i];
        out += fmt::format(
            "tokend_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", label,
            kBuckets[i], cumulative);
      }
      out += fmt::format(
          "tokend_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", label,
          histogram.count);
      out += fmt::format("tokend_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", label,
                         histogram.sum);
      out += fmt::format("tokend_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", label,
                         histogram.count);
    }
  }
  out += "# HELP tokend_verifications_total Token verifications by outcome.\n";
  out += "# TYPE tokend_verifications_total counter\n";
  for (int i = 0; i < kVerificationOutcomeCount; ++i) {
    out += fmt::format("tokend_verifications_total{{outcome=\"{}\"}} {}\n", OutcomeLabel(i),
                       verifications_[i].load(std::memory_order_relaxed));
  }

  std::lock_guard lock(count_mutex_);
  core::Time now = clock.Now();
  if (!counted_at_ || now - *counted_at_ >= kTokenCountTtl || now < *counted_at_) {
    auto counts = store.CountLiveTokens(now);
    if (counts) {
      live_tokens_ = std::move(*counts);
      counted_at_ = now;
    } else {
      live_tokens_.clear();
      counted_at_.reset();
    }
  }
  if (counted_at_) {
    out += "# HELP tokend_tokens_active Live (unrevoked, unexpired) tokens by kind.\n";
    out += "# TYPE tokend_tokens_active gauge\n";
    for (core::TokenKind kind : {core::TokenKind::kApi, core::TokenKind::kMobile}) {
      std::int64_t count = 0;
      for (const auto& [k, n] : live_tokens_) {
        if (k == kind) count = n;
      }
      out +=
          fmt::format("tokend_tokens_active{{kind=\"{}\"}} {}\n", core::TokenKindName(kind), count);
    }
  }
  return out;
}

}  // namespace tokend::http
