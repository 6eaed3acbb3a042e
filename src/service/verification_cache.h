// The verification cache: recently verified credentials by lookup hash, so that most requests
// verify without a store round trip.
//
// Invariants:
//  1. A change that affects verification (revocation, permission, membership or user change)
//     calls one of the Invalidate* functions before it returns; from then on no entry filled
//     from data read before the change is ever returned. This holds also for fills racing
//     with the change: every invalidation bumps a global epoch first, and a fill whose Ticket
//     was taken before the bump is dropped (see Put).
//  2. Entries live at most `ttl` (positive) or `negative_ttl` (unknown or revoked lookup
//     hashes), so a change on another instance whose notification is lost is seen within ttl.
//  3. Memory is bounded: at most `capacity` entries, split over kShards shards, each evicting
//     its oldest entry when full.
//
// Invalidation by user, user type and tenant bumps a per-tenant generation that every entry
// records and that is compared on read: cheap, and changes of that kind are rare.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/model.h"

namespace tokend::service {

struct VerificationCacheOptions {
  std::size_t capacity = 100000;  // ~1 KB per entry: ~100 MB at worst
  // Bounds how long a change made on another instance (whose notification was lost) can go
  // unseen here; short enough to be a non-issue for revocation, long enough to absorb bursts.
  core::seconds ttl{5};
  core::seconds negative_ttl{5};
};

// What a positive entry holds: the principal derived at fill time (with the token reference,
// hence the token's tenant, user, department and user type ids and its expiry) and what a
// verification needs to slide a mobile token's expiry.
struct CachedCredential {
  core::Principal principal;  // REQUIRES: principal.token is set
  core::TenantSettings settings;
};

class VerificationCache {
 public:
  static constexpr std::size_t kShards = 64;

  // Taken before reading the store for a fill; see invariant 1.
  struct Ticket {
    std::uint64_t epoch;
  };

  enum class Outcome { kMiss, kHit, kNegative };
  struct Lookup {
    Outcome outcome = Outcome::kMiss;
    std::optional<CachedCredential> credential;  // set for kHit
  };

  explicit VerificationCache(const core::Clock& clock, VerificationCacheOptions options = {});
  VerificationCache(const VerificationCache&) = delete;
  VerificationCache& operator=(const VerificationCache&) = delete;

  Ticket BeginFill() const;
  Lookup Get(const std::string& lookup_hash);
  // Stores a positive entry unless an invalidation happened since `ticket`.
  void Put(const std::string& lookup_hash, CachedCredential credential, Ticket ticket);
  // Stores a negative entry (unknown or revoked) unless an invalidation happened since `ticket`.
  void PutNegative(const std::string& lookup_hash, Ticket ticket);
  // Moves a cached mobile token's expiry to `expires_at` when that is later. No-op when absent.
  void ExtendExpiry(const std::string& lookup_hash, core::Time expires_at);

  // A new token exists with this hash: drops a negative entry for it.
  void OnTokenCreated(const std::string& lookup_hash);
  void InvalidateLookupHash(const std::string& lookup_hash);
  // For notifications that carry only the id (another instance revoked it). Scans every shard.
  void InvalidateTokenId(const std::string& token_id);
  void InvalidateUser(const std::string& tenant_id, const std::string& user_id);
  void InvalidateUserType(const std::string& tenant_id, const std::string& user_type_id);
  void InvalidateTenant(const std::string& tenant_id);
  void InvalidateAll();

  std::size_t size() const;

 private:
  struct Entry {
    bool negative = false;
    std::optional<CachedCredential> credential;
    const std::atomic<std::uint64_t>* tenant_generation = nullptr;  // positive entries
    std::uint64_t generation = 0;  // the tenant generation at fill time
    core::Time expires;            // of the entry (ttl), not of the token
    std::list<std::string>::iterator order;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;  // GUARDED_BY(mutex)
    std::list<std::string> order;                    // insertion order. GUARDED_BY(mutex)
  };

  Shard& ShardFor(const std::string& lookup_hash);
  std::atomic<std::uint64_t>* TenantGeneration(const std::string& tenant_id);
  void BumpTenant(const std::string& tenant_id);
  void InsertLocked(Shard& shard, const std::string& lookup_hash, Entry entry);
  static void EraseLocked(Shard& shard, std::unordered_map<std::string, Entry>::iterator it);

  const core::Clock& clock_;
  const VerificationCacheOptions options_;
  const std::size_t shard_capacity_;
  std::atomic<std::uint64_t> epoch_{0};
  std::array<Shard, kShards> shards_;
  // Counters are never removed (one per tenant ever seen), so entries may point at them.
  std::mutex generations_mutex_;
  std::unordered_map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>>
      generations_;  // GUARDED_BY(generations_mutex_)
};

}  // namespace tokend::service
