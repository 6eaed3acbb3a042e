#include "service/activity.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace tokend::service {

ActivityRecorder::ActivityRecorder(store::Store& store, ActivityOptions options)
    : store_(store), options_(options) {
  if (options_.background) {
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

void ActivityRecorder::Record(const ActivityRecord& activity) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(activity.token_id);
  if (it != pending_.end()) {
    Merge(it->second, activity.used_at, activity.client_ip, activity.new_expires_at);
    return;
  }
  if (pending_.size() >= options_.max_pending) {
    ++stats_.dropped;
    return;
  }
  pending_.emplace(std::string(activity.token_id),
                   store::TokenActivity{std::string(activity.tenant_id),
                                        std::string(activity.token_id), activity.used_at,
                                        std::string(activity.client_ip), activity.new_expires_at});
}

std::optional<core::Time> ActivityRecorder::PendingExpiry(std::string_view token_id) const {
  std::lock_guard lock(mutex_);
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
  return stats_;
}

std::size_t ActivityRecorder::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size() + in_flight_.size();
}

}  // namespace tokend::service
