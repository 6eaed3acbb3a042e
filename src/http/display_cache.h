// What GET /api/v1/me shows besides the principal: the caller's user record, department and user
// type as JSON fragments, kept briefly so that /me does not read three tables (one of them the
// whole department list) on every call.
//
// Staleness: an entry lives kTtl at most, and Env::Handle clears everything after any successful
// write to /api/v1/users, /departments or /user-types on this instance. So a rename or email
// change made here shows at once, one made on another instance or by the CLI within kTtl. Nothing
// here grants access: permissions and the token come from verification, never from this cache.
// Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tokend::http {

struct DisplayFragments {
  std::string user;        // {"id","username","email","display_name"}
  std::string department;  // {"id","name"} or null
  std::string user_type;   // {"id","name"}
};

class DisplayCache {
 public:
  // As long as the verification cache's own time-to-live is far longer (5 s): /me is never the
  // stalest thing a caller sees.
  static constexpr std::chrono::seconds kTtl{1};
  // Entries at most (~300 bytes each); when full, everything is dropped and refilled.
  static constexpr std::size_t kCapacity = 10'000;

  // REQUIRES: `key` identifies tenant, user, department and user type.
  std::optional<DisplayFragments> Get(const std::string& key);
  void Put(const std::string& key, DisplayFragments fragments);
  void Clear();

 private:
  struct Entry {
    DisplayFragments fragments;
    std::chrono::steady_clock::time_point expires;
  };
  // Shards so that two request threads rarely meet on one lock.
  static constexpr std::size_t kShards = 16;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;  // GUARDED_BY(mutex)
  };
  Shard& ShardFor(const std::string& key);
  std::array<Shard, kShards> shards_;
};

}  // namespace tokend::http
