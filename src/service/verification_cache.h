// The verification cache: recently verified credentials by lookup hash, so that most requests
// verify without a store round trip, in compact form so that millions fit (docs/performance.md:
// ~200 bytes per cached token with its table, indexes and interned ids; a lookup ~0.45 us at
// 1,000,000 tokens and ~0.57 us at 10,000,000, where a hit is two random DRAM reads).
//
// Layout: kShards shards chosen by the lookup hash, each behind its own mutex (held only to
// probe, compare and copy one entry out). A shard keeps fixed-size entries (32-byte lookup
// hash, 20-char token id, expiry, permission bits and 32-bit handles of the tenant, user (with
// its username), department and user type ids) in an open-addressing table by lookup hash,
// sized for its capacity, plus an index of 32-bit slots by token id for id-only revocations.
// The id strings live once in a shared intern table: many tokens share a tenant, department
// and user type.
//
// Invariants:
//  1. A change that affects verification (revocation, permission, membership or user change)
//     calls one of the Invalidate* functions before it returns; from then on no entry filled
//     from data read before the change is ever returned. This holds also for fills racing
//     with the change: every invalidation bumps a global epoch first, and a fill whose Ticket
//     was taken before the bump is dropped (see Put).
//  2. Entries live at most `ttl` (positive) or `negative_ttl` (unknown or revoked lookup
//     hashes), so a change on another instance whose notification is lost is seen within ttl.
//  3. Memory is bounded: at most `capacity` positive entries (CLOCK eviction per shard), at
//     most `negative_capacity` negative ones (a direct-mapped table per shard: a new entry
//     overwrites whatever shares its slot), and an intern table of at most
//     kInternedPerEntry * capacity strings, which is reset together with every entry when full
//     (ids of users long gone would otherwise accumulate forever).
//
// Invalidation by user, user type and tenant bumps a generation kept with that id's interned
// string; an entry records the sum of its tenant's, user's and user type's generations at fill
// time and is dropped on read when the sum differs (each only grows, so any bump changes it).
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/model.h"

namespace tokend::service {

struct VerificationCacheOptions {
  // Positive entries at most: ~200 bytes each with the table, indexes and interned ids, so the
  // default costs ~200 MB when full. At most max(capacity, kShards). The table (4/3 of the
  // capacity, 155 bytes per token of capacity) is reserved up front as address space, which
  // the kernel maps 4 KiB at a time as entries land in it: a cache a hundredth full already
  // maps about a quarter of it (entries fall at random positions), and it stays mapped after an
  // invalidation of everything, to be refilled.
  std::size_t capacity = 1'000'000;
  // Bounds how long a change made on another instance (whose notification was lost) can go
  // unseen here; short enough to be a non-issue for revocation, long enough to absorb bursts.
  core::seconds ttl{5};
  core::seconds negative_ttl{5};
  // Negative entries at most; 0 = capacity / 8. Kept apart from positive entries so that a
  // flood of well-formed but unknown tokens (cheap to make: the checksum is public) cannot
  // evict valid ones. 40 bytes each.
  std::size_t negative_capacity = 0;
};

// What a fill stores: the principal derived from the store (with the token reference, hence
// the token's tenant, user, department and user type ids and its expiry) and the tenant
// settings a verification needs to slide a mobile token's expiry.
struct CachedCredential {
  core::Principal principal;  // REQUIRES: principal.token is set
  core::TenantSettings settings;
};

// A verified token as views into the object's own storage: what a cache hit yields without a
// heap allocation (every real token's ids fit the inline storage). Not copyable or movable,
// since the views point into the object itself.
struct VerifiedToken {
  std::string_view tenant_id, user_id, username, department_id, user_type_id, token_id;
  core::PermissionSet permissions;
  core::TokenKind kind = core::TokenKind::kApi;
  core::Time expires_at;
  core::Time issued_at;
  // The tenant's mobile timeouts at fill time, for sliding a mobile token's expiry.
  core::seconds mobile_idle_timeout{0};
  core::seconds mobile_max_lifetime{0};

  VerifiedToken() = default;
  VerifiedToken(const VerifiedToken&) = delete;
  VerifiedToken& operator=(const VerifiedToken&) = delete;

  // Copies the strings into this object and points the views at the copies.
  void SetStrings(std::string_view tenant, std::string_view user, std::string_view name,
                  std::string_view department, std::string_view user_type, std::string_view token);
  // Everything but the strings and settings from `credential`, plus the strings.
  void SetFrom(const CachedCredential& credential);
  core::Principal ToPrincipal() const;
  CachedCredential ToCredential() const;

 private:
  // Four 20-char ids, a 20-char token id and a username of up to 64 characters (core/rules.h)
  // take 164 bytes; longer strings go to `overflow_`, which allocates.
  static constexpr std::size_t kInlineChars = 192;
  std::array<char, kInlineChars> inline_;
  std::string overflow_;
};

class VerificationCache {
 public:
  // Enough shards that two request threads rarely meet on one lock, few enough that the
  // per-shard overhead (a few hundred bytes plus one block of entries) stays small for small
  // caches.
  static constexpr std::size_t kShards = 256;
  // Records interned per cached token at most (tenant, user with username, department, user
  // type): the intern table's bound is this times the capacity.
  static constexpr std::size_t kInternedPerEntry = 4;

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
  ~VerificationCache();
  VerificationCache(const VerificationCache&) = delete;
  VerificationCache& operator=(const VerificationCache&) = delete;

  Ticket BeginFill() const;
  // The hot path: copies a live positive entry into `out` (no allocation). `out` is written
  // only for kHit. A lookup hash that is not kLookupHashBytes long is always a miss.
  Outcome Find(std::string_view lookup_hash, VerifiedToken& out);
  // The same at `now`, for a caller that has just read the clock (a clock read costs ~40 ns in
  // a VM: a tenth of a hit).
  Outcome Find(std::string_view lookup_hash, core::Time now, VerifiedToken& out);
  // Find, materialised (allocates): for tests and callers that want a Principal anyway.
  Lookup Get(std::string_view lookup_hash);
  // Stores a positive entry unless an invalidation happened since `ticket`. Entries that do not
  // fit the compact form (a token id longer than 20 characters, another id or the username
  // longer than 255 bytes, mobile timeouts beyond 2^32 s) are not cached: correct, only slower.
  void Put(std::string_view lookup_hash, const CachedCredential& credential, Ticket ticket);
  // Stores a negative entry (unknown or revoked) unless an invalidation happened since `ticket`.
  void PutNegative(std::string_view lookup_hash, Ticket ticket);
  // Moves a cached mobile token's expiry to `expires_at` when that is later. No-op when absent.
  void ExtendExpiry(std::string_view lookup_hash, core::Time expires_at);

  // A new token exists with this hash: drops a negative entry for it.
  void OnTokenCreated(std::string_view lookup_hash);
  void InvalidateLookupHash(std::string_view lookup_hash);
  // For notifications that carry only the id (another instance revoked it): probes the token
  // id index of every shard.
  void InvalidateTokenId(std::string_view token_id);
  void InvalidateUser(const std::string& tenant_id, const std::string& user_id);
  void InvalidateUserType(const std::string& tenant_id, const std::string& user_type_id);
  void InvalidateTenant(const std::string& tenant_id);
  void InvalidateAll();

  // Positive entries.
  std::size_t size() const;
  struct Stats {
    std::size_t entries = 0;           // positive
    std::size_t negative_entries = 0;  // occupied negative slots (live or expired)
    std::size_t interned = 0;          // strings in the intern table
    std::uint64_t evictions = 0;       // positive entries evicted to make room
    std::uint64_t intern_resets = 0;   // times the intern table filled up (invariant 3)
  };
  Stats stats() const;

 private:
  struct Entry;
  struct NegativeSlot;
  class Arena;
  struct Shard;
  class Interner;

  Shard& ShardFor(std::uint64_t h) const;
  bool CheckFresh(const Entry& entry, core::Time now) const;
  void EraseLocked(Shard& shard, std::uint32_t index);
  // Returns whether the shard's table should now get huge pages (see Arena::Advise).
  bool InsertLocked(Shard& shard, const Entry& entry, std::uint64_t h);
  void EvictOneLocked(Shard& shard, core::Time now);
  void DropNegativeLocked(Shard& shard, std::string_view lookup_hash, std::uint64_t h);
  void ClearLocked(Shard& shard);
  void BumpGeneration(const std::string& id);
  // Drops every entry and every interned string (invariant 3). REQUIRES: no shard lock held.
  void ResetInterner();

  const core::Clock& clock_;
  const VerificationCacheOptions options_;
  const std::size_t shard_capacity_;
  const std::size_t negative_slots_per_shard_;  // a power of two
  const std::size_t slots_per_shard_;           // positions in a shard's table: > 4/3 capacity
  std::unique_ptr<Arena> slot_arena_;
  std::unique_ptr<Arena> entry_arena_;
  std::atomic<std::uint64_t> epoch_{0};
  std::unique_ptr<Shard[]> shards_;
  std::unique_ptr<Interner> interner_;
  std::atomic<std::uint64_t> intern_resets_{0};
};

}  // namespace tokend::service
