#include "service/activity.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace tokend::service {

ActivityRecorder::ActivityRecorder(store::Store& store, ActivityOptions options)
    : store_(store), options_(options) {
  if (options_.background) thread_ = std::thread([this] { Run(); });
}

ActivityRecorder::~ActivityRecorder() { Stop(); }

void ActivityRecorder::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (auto flushed = Flush(); !flushed) {
    spdlog::warn("activity: final flush failed, {} tokens' activity lost: {}", pending(),
                 flushed.error().log_detail);
  }
}

void ActivityRecorder::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (auto flushed = Flush(); !flushed) {
      spdlog::warn("activity: flush failed, will retry: {}", flushed.error().log_detail);
    }
    lock.lock();
  }
}

void ActivityRecorder::MergeLocked(const store::TokenActivity& activity) {
  auto it = pending_.find(activity.token_id);
  if (it == pending_.end()) {
    if (pending_.size() >= options_.max_pending) {
      ++stats_.dropped;
      return;
    }
    pending_.emplace(activity.token_id, activity);
    return;
  }
  store::TokenActivity& merged = it->second;
  if (activity.used_at >= merged.used_at) {
    merged.used_at = activity.used_at;
    merged.client_ip = activity.client_ip;
  }
  if (activity.new_expires_at &&
      (!merged.new_expires_at || *merged.new_expires_at < *activity.new_expires_at)) {
    merged.new_expires_at = activity.new_expires_at;
  }
}

void ActivityRecorder::Record(const store::TokenActivity& activity) {
  std::lock_guard lock(mutex_);
  MergeLocked(activity);
}

std::optional<core::Time> ActivityRecorder::PendingExpiry(const std::string& token_id) const {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(token_id);
  if (it == pending_.end()) return std::nullopt;
  return it->second.new_expires_at;
}

core::Result<void> ActivityRecorder::Flush() {
  std::lock_guard flush_lock(flush_mutex_);
  std::vector<store::TokenActivity> batch;
  {
    std::lock_guard lock(mutex_);
    if (pending_.empty()) return core::Ok();
    batch.reserve(pending_.size());
    for (auto& [id, activity] : pending_) batch.push_back(activity);
  }
  // The batch stays visible in pending_ (for PendingExpiry) until the store has it: a
  // verification between the store read and this write must not see an older expiry.
  core::Result<void> written = store_.RecordTokenActivity(batch);
  std::lock_guard lock(mutex_);
  if (!written) {
    ++stats_.failed_batches;
    return written;
  }
  ++stats_.batches_written;
  stats_.rows_written += batch.size();
  for (const store::TokenActivity& sent : batch) {
    auto it = pending_.find(sent.token_id);
    if (it == pending_.end()) continue;
    const store::TokenActivity& now = it->second;
    // Drop only what was written; newer activity recorded meanwhile waits for the next flush.
    if (now.used_at == sent.used_at && now.client_ip == sent.client_ip &&
        now.new_expires_at == sent.new_expires_at) {
      pending_.erase(it);
    }
  }
  return core::Ok();
}

ActivityRecorder::Stats ActivityRecorder::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t ActivityRecorder::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

}  // namespace tokend::service
