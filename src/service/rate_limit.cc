#include "service/rate_limit.h"

namespace tokend::service {

RateLimiter::RateLimiter(int limit, core::seconds window, std::size_t max_keys)
    : limit_(limit), window_(window), max_keys_(max_keys == 0 ? 1 : max_keys) {}

std::optional<int> RateLimiter::Blocked(const std::string& key, core::Time now) const {
  std::lock_guard lock(mutex_);
  return BlockedLocked(key, now);
}

void RateLimiter::Add(const std::string& key, core::Time now) {
  std::lock_guard lock(mutex_);
  AddLocked(key, now);
}

std::optional<int> RateLimiter::Acquire(const std::string& key, core::Time now) {
  std::lock_guard lock(mutex_);
  if (auto retry = BlockedLocked(key, now)) return retry;
  AddLocked(key, now);
  return std::nullopt;
}

void RateLimiter::Reset(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  order_.erase(it->second.order);
  entries_.erase(it);
}

std::size_t RateLimiter::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::optional<int> RateLimiter::BlockedLocked(const std::string& key, core::Time now) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  const Entry& entry = it->second;
  core::Time window_end = entry.window_start + window_;
  if (now >= window_end || entry.count < limit_) return std::nullopt;
  return static_cast<int>((window_end - now).count());
}

void RateLimiter::AddLocked(const std::string& key, core::Time now) {
  auto it = entries_.find(key);
  if (it != entries_.end() && now >= it->second.window_start + window_) {
    // The window ended: start a new one at the back of the order.
    order_.erase(it->second.order);
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) EvictLocked(now);
    order_.push_back(key);
    it = entries_.emplace(key, Entry{now, 0, std::prev(order_.end())}).first;
  }
  ++it->second.count;
}

void RateLimiter::EvictLocked(core::Time now) {
  // order_ is sorted by window start, so ended windows are at the front; when none has ended
  // the oldest window goes anyway (memory is the harder limit).
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    bool ended = now >= it->second.window_start + window_;
    if (!ended && entries_.size() < max_keys_) break;
    entries_.erase(it);
    order_.pop_front();
  }
}

}  // namespace tokend::service
