#include "http/display_cache.h"

#include <functional>

namespace tokend::http {

DisplayCache::Shard& DisplayCache::ShardFor(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

std::optional<DisplayFragments> DisplayCache::Get(const std::string& key) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() >= it->second.expires) {
    shard.entries.erase(it);
    return std::nullopt;
  }
  return it->second.fragments;
}

void DisplayCache::Put(const std::string& key, DisplayFragments fragments) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  if (shard.entries.size() >= kCapacity / kShards) shard.entries.clear();
  shard.entries[key] = Entry{std::move(fragments), std::chrono::steady_clock::now() + kTtl};
}

void DisplayCache::Clear() {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    shard.entries.clear();
  }
}

}  // namespace tokend::http
