#include "service/activity.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace tokend::service {
namespace {

std::string_view View(const char* chars, std::uint8_t size) { return {chars, size}; }

}  // namespace

bool ActivityRecorder::LogRecord::Fits(const ActivityRecord& activity) {
  return activity.tenant_id.size() <= kMaxId && activity.token_id.size() <= kMaxId &&
         activity.client_ip.size() <= kMaxIp;
}

void ActivityRecorder::LogRecord::Set(const ActivityRecord& activity) {
  used_at = activity.used_at;
  new_expires_at = activity.new_expires_at;
  tenant_size = static_cast<std::uint8_t>(activity.tenant_id.size());
  token_size = static_cast<std::uint8_t>(activity.token_id.size());
  ip_size = static_cast<std::uint8_t>(activity.client_ip.size());
  std::memcpy(tenant_id.data(), activity.tenant_id.data(), tenant_size);
  std::memcpy(token_id.data(), activity.token_id.data(), token_size);
  std::memcpy(client_ip.data(), activity.client_ip.data(), ip_size);
}

ActivityRecorder::ActivityRecorder(store::Store& store, ActivityOptions options)
    : store_(store), options_(options) {
  if (options_.background) {
    drainer_.emplace(std::min(kDrainInterval, options_.interval), [this] { Drain(); });
    flusher_.emplace(options_.interval, [this] {
      if (auto flushed = Flush(); !flushed) {
        spdlog::warn("activity: flush failed, will retry: {}", flushed.error().log_detail);
      }
    });
  }
}

ActivityRecorder::~ActivityRecorder() { Stop(); }

void ActivityRecorder::Stop() {
  flusher_.reset();
  drainer_.reset();
  if (auto flushed = Flush(); !flushed) {
    spdlog::warn("activity: final flush failed, {} tokens' activity lost: {}", pending(),
                 flushed.error().log_detail);
  }
}

void ActivityRecorder::Merge(store::TokenActivity& into, core::Time used_at,
                             std::string_view client_ip, std::optional<core::Time> new_expires_at) {
  if (used_at >= into.used_at) {
    into.used_at = used_at;
    into.client_ip.assign(client_ip);
  }
  if (new_expires_at && (!into.new_expires_at || *into.new_expires_at < *new_expires_at)) {
    into.new_expires_at = new_expires_at;
  }
}

void ActivityRecorder::MergeLocked(std::string_view tenant_id, std::string_view token_id,
                                   core::Time used_at, std::string_view client_ip,
                                   std::optional<core::Time> new_expires_at) {
  auto it = pending_.find(token_id);
  if (it != pending_.end()) {
    Merge(it->second, used_at, client_ip, new_expires_at);
    return;
  }
  if (pending_.size() >= options_.max_pending) {
    ++stats_.dropped;
    return;
  }
  pending_.emplace(std::string(token_id),
                   store::TokenActivity{std::string(tenant_id), std::string(token_id), used_at,
                                        std::string(client_ip), new_expires_at});
}

std::size_t ActivityRecorder::ShardOfThisThread() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kLogShards;
  return shard;
}

void ActivityRecorder::Record(const ActivityRecord& activity) {
  if (!LogRecord::Fits(activity)) {
    std::lock_guard lock(mutex_);
    MergeLocked(activity.tenant_id, activity.token_id, activity.used_at, activity.client_ip,
                activity.new_expires_at);
    return;
  }
  LogShard& log = logs_[ShardOfThisThread()];
  std::lock_guard lock(log.mutex);
  if (log.records.size() >= options_.max_log_records) {
    log_drops_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  log.records.emplace_back().Set(activity);
}

void ActivityRecorder::Drain() {
  std::lock_guard lock(mutex_);
  DrainLocked();
}

void ActivityRecorder::DrainLocked() {
  for (std::size_t s = 0; s < kLogShards; ++s) {
    {
      // draining_ is empty here and keeps its capacity, which the log takes over: a log
      // allocates only while the load grows.
      std::lock_guard log_lock(logs_[s].mutex);
      if (logs_[s].records.empty()) continue;
      draining_.swap(logs_[s].records);
    }
    for (const LogRecord& r : draining_) {
      MergeLocked(View(r.tenant_id.data(), r.tenant_size), View(r.token_id.data(), r.token_size),
                  r.used_at, View(r.client_ip.data(), r.ip_size), r.new_expires_at);
    }
    draining_.clear();
  }
}

std::optional<core::Time> ActivityRecorder::PendingExpiry(std::string_view token_id) {
  std::lock_guard lock(mutex_);
  DrainLocked();
  std::optional<core::Time> latest;
  for (const ByTokenId* map : {&pending_, &in_flight_}) {
    auto it = map->find(token_id);
    if (it != map->end() && it->second.new_expires_at &&
        (!latest || *latest < *it->second.new_expires_at)) {
      latest = it->second.new_expires_at;
    }
  }
  return latest;
}

core::Result<void> ActivityRecorder::Flush() {
  std::lock_guard flush_lock(flush_mutex_);
  {
    std::lock_guard lock(mutex_);
    DrainLocked();
    if (pending_.empty()) return core::Ok();
    in_flight_.swap(pending_);  // in_flight_ was empty: every flush leaves it so
  }
  // No one writes in_flight_ but this flush, so reading it unlocked is safe.
  std::vector<store::TokenActivity> batch;
  batch.reserve(in_flight_.size());
  for (const auto& [id, activity] : in_flight_) batch.push_back(activity);
  core::Result<void> written = store_.RecordTokenActivity(batch);

  ByTokenId finished;
  std::lock_guard lock(mutex_);
  if (written) {
    ++stats_.batches_written;
    stats_.rows_written += batch.size();
  } else {
    ++stats_.failed_batches;
    // Kept for the next try, merged with what was recorded meanwhile.
    for (auto& [id, activity] : in_flight_) {
      auto it = pending_.find(id);
      if (it == pending_.end()) {
        pending_.emplace(id, std::move(activity));
      } else {
        Merge(it->second, activity.used_at, activity.client_ip, activity.new_expires_at);
      }
    }
  }
  finished.swap(in_flight_);
  return written;
}

ActivityRecorder::Stats ActivityRecorder::stats() const {
  std::lock_guard lock(mutex_);
  Stats stats = stats_;
  stats.dropped += log_drops_.load(std::memory_order_relaxed);
  return stats;
}

std::size_t ActivityRecorder::pending() {
  std::lock_guard lock(mutex_);
  DrainLocked();
  return pending_.size() + in_flight_.size();
}

}  // namespace tokend::service
