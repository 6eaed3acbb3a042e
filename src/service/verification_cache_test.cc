#include "service/verification_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "core/time_format.h"

namespace tokend::service {
namespace {

CachedCredential Credential(const std::string& tenant, const std::string& token_id,
                            const std::string& user = "", const std::string& user_type = "ut") {
  CachedCredential credential;
  credential.principal.tenant_id = tenant;
  credential.principal.user_id = user.empty() ? "user-" + token_id : user;
  credential.principal.username = "name-" + credential.principal.user_id;
  credential.principal.department_id = "dept";
  credential.principal.user_type_id = user_type;
  credential.principal.permissions = core::PermissionSet::Of({core::Permission::kTokensRead});
  credential.principal.token =
      core::Principal::TokenRef{token_id, core::TokenKind::kApi, core::Time{}, core::Time{}};
  return credential;
}

// Lookup hashes are 32 uniformly random bytes; test keys are spread over the shards the same
// way, deterministically.
std::string Hash(std::uint64_t i) {
  std::mt19937_64 random(i * 7919 + 1);
  std::string hash(32, '\0');
  for (char& c : hash) c = static_cast<char>(random() & 0xff);
  return hash;
}

// A hash landing in shard 0 (the low byte of the first 8 bytes picks the shard), so that one
// shard's tables fill, grow and shrink.
std::string ShardZeroHash(std::uint64_t i) {
  std::string hash = Hash(i);
  hash[0] = 0;
  return hash;
}

class VerificationCacheTest : public ::testing::Test {
 protected:
  core::FakeClock clock_{*core::ParseRfc3339("2026-01-01T00:00:00Z")};
  VerificationCache cache_{clock_};
};

TEST_F(VerificationCacheTest, HitsUntilTheTtlEnds) {
  cache_.Put(Hash(1), Credential("t1", "k1"), cache_.BeginFill());
  auto hit = cache_.Get(Hash(1));
  ASSERT_EQ(hit.outcome, VerificationCache::Outcome::kHit);
  EXPECT_EQ(hit.credential->principal.token->id, "k1");
  clock_.Advance(core::seconds{4});
  EXPECT_EQ(cache_.Get(Hash(1)).outcome, VerificationCache::Outcome::kHit);
  clock_.Advance(core::seconds{1});
  EXPECT_EQ(cache_.Get(Hash(1)).outcome, VerificationCache::Outcome::kMiss);
}

TEST_F(VerificationCacheTest, AHitGivesBackEverythingThatWasPut) {
  CachedCredential credential = Credential("tenant-a", "abcdefghij0123456789", "u1", "type-1");
  credential.principal.department_id = "department-x";
  credential.principal.permissions = core::PermissionSet::All();
  credential.principal.token->kind = core::TokenKind::kMobile;
  credential.principal.token->expires_at = *core::ParseRfc3339("2026-02-01T00:00:00Z");
  credential.principal.token->issued_at = *core::ParseRfc3339("2025-12-01T00:00:00Z");
  credential.settings.mobile_idle_timeout = core::days{7};
  credential.settings.mobile_max_lifetime = core::days{90};
  cache_.Put(Hash(1), credential, cache_.BeginFill());

  VerifiedToken token;
  ASSERT_EQ(cache_.Find(Hash(1), token), VerificationCache::Outcome::kHit);
  EXPECT_EQ(token.tenant_id, "tenant-a");
  EXPECT_EQ(token.user_id, "u1");
  EXPECT_EQ(token.username, "name-u1");
  EXPECT_EQ(token.department_id, "department-x");
  EXPECT_EQ(token.user_type_id, "type-1");
  EXPECT_EQ(token.token_id, "abcdefghij0123456789");
  EXPECT_EQ(token.permissions, core::PermissionSet::All());
  EXPECT_EQ(token.kind, core::TokenKind::kMobile);
  EXPECT_EQ(token.expires_at, credential.principal.token->expires_at);
  EXPECT_EQ(token.issued_at, credential.principal.token->issued_at);
  EXPECT_EQ(token.mobile_idle_timeout, core::days{7});
  EXPECT_EQ(token.mobile_max_lifetime, core::days{90});
  core::Principal principal = token.ToPrincipal();
  EXPECT_EQ(principal.tenant_id, "tenant-a");
  EXPECT_EQ(principal.username, "name-u1");
  EXPECT_EQ(principal.token->id, "abcdefghij0123456789");
}

TEST_F(VerificationCacheTest, StringsBeyondTheInlineStorageSurvive) {
  // Not a valid username (at most 64), but the cache must not truncate whatever it is given.
  CachedCredential credential = Credential("t1", "k1", std::string(200, 'u'));
  cache_.Put(Hash(1), credential, cache_.BeginFill());
  VerifiedToken token;
  ASSERT_EQ(cache_.Find(Hash(1), token), VerificationCache::Outcome::kHit);
  EXPECT_EQ(token.user_id, std::string(200, 'u'));
  EXPECT_EQ(token.username, "name-" + std::string(200, 'u'));
  EXPECT_EQ(token.token_id, "k1");
  // Beyond what the intern table stores: not cached at all.
  cache_.Put(Hash(2), Credential("t1", "k2", std::string(300, 'u')), cache_.BeginFill());
  EXPECT_EQ(cache_.Find(Hash(2), token), VerificationCache::Outcome::kMiss);
}

TEST_F(VerificationCacheTest, ARenamedUserIsInvalidatedWhicheverNameWasCached) {
  // Two fills of one user under two usernames (the rename raced with verifications): the
  // invalidation must reach both records.
  CachedCredential old_name = Credential("t1", "k1", "u1");
  CachedCredential new_name = Credential("t1", "k2", "u1");
  new_name.principal.username = "renamed";
  cache_.Put(Hash(1), old_name, cache_.BeginFill());
  cache_.Put(Hash(2), new_name, cache_.BeginFill());
  EXPECT_EQ(cache_.Get(Hash(1)).credential->principal.username, "name-u1");
  EXPECT_EQ(cache_.Get(Hash(2)).credential->principal.username, "renamed");
  cache_.InvalidateUser("t1", "u1");
  EXPECT_EQ(cache_.Get(Hash(1)).outcome, VerificationCache::Outcome::kMiss);
  EXPECT_EQ(cache_.Get(Hash(2)).outcome, VerificationCache::Outcome::kMiss);
}

TEST_F(VerificationCacheTest, TokenIdsLongerThanRealIdsAreNotCached) {
  cache_.Put(Hash(1), Credential("t1", std::string(21, 'k')), cache_.BeginFill());
  EXPECT_EQ(cache_.Get(Hash(1)).outcome, VerificationCache::Outcome::kMiss);
  EXPECT_EQ(cache_.Get("short").outcome, VerificationCache::Outcome::kMiss);
}

TEST_F(VerificationCacheTest, NegativeEntriesUntilATokenIsCreated) {
  cache_.PutNegative(Hash(2), cache_.BeginFill());
  EXPECT_EQ(cache_.Get(Hash(2)).outcome, VerificationCache::Outcome::kNegative);
  cache_.OnTokenCreated(Hash(2));
  EXPECT_EQ(cache_.Get(Hash(2)).outcome, VerificationCache::Outcome::kMiss);
}

TEST_F(VerificationCacheTest, NegativeEntriesExpire) {
  cache_.PutNegative(Hash(2), cache_.BeginFill());
  clock_.Advance(core::seconds{5});
  EXPECT_EQ(cache_.Get(Hash(2)).outcome, VerificationCache::Outcome::kMiss);
}

TEST_F(VerificationCacheTest, FillStartedBeforeAnInvalidationIsDropped) {
  // A verification read the store, then a revocation completed, then the fill arrives.
  auto ticket = cache_.BeginFill();
  cache_.InvalidateLookupHash(Hash(3));
  cache_.Put(Hash(3), Credential("t1", "k3"), ticket);
  EXPECT_EQ(cache_.Get(Hash(3)).outcome, VerificationCache::Outcome::kMiss);
  auto negative_ticket = cache_.BeginFill();
  cache_.OnTokenCreated(Hash(4));
  cache_.PutNegative(Hash(4), negative_ticket);
  EXPECT_EQ(cache_.Get(Hash(4)).outcome, VerificationCache::Outcome::kMiss);
  // Also when the invalidation names a user never seen before (nothing interned to bump).
  auto user_ticket = cache_.BeginFill();
  cache_.InvalidateUser("t1", "new-user");
  cache_.Put(Hash(5), Credential("t1", "k5", "new-user"), user_ticket);
  EXPECT_EQ(cache_.Get(Hash(5)).outcome, VerificationCache::Outcome::kMiss);
}

TEST_F(VerificationCacheTest, InvalidationByTokenIdUserAndTenant) {
  cache_.Put(Hash(5), Credential("t1", "k5"), cache_.BeginFill());
  cache_.Put(Hash(6), Credential("t1", "k6"), cache_.BeginFill());
  cache_.Put(Hash(7), Credential("t2", "k7"), cache_.BeginFill());
  cache_.InvalidateTokenId("k5");
  EXPECT_EQ(cache_.Get(Hash(5)).outcome, VerificationCache::Outcome::kMiss);
  EXPECT_EQ(cache_.Get(Hash(6)).outcome, VerificationCache::Outcome::kHit);
  cache_.InvalidateUser("t1", "user-k6");
  EXPECT_EQ(cache_.Get(Hash(6)).outcome, VerificationCache::Outcome::kMiss);
  EXPECT_EQ(cache_.Get(Hash(7)).outcome, VerificationCache::Outcome::kHit);
  cache_.InvalidateTenant("t2");
  EXPECT_EQ(cache_.Get(Hash(7)).outcome, VerificationCache::Outcome::kMiss);
  // Entries filled after the bump are valid again.
  cache_.Put(Hash(7), Credential("t2", "k7"), cache_.BeginFill());
  EXPECT_EQ(cache_.Get(Hash(7)).outcome, VerificationCache::Outcome::kHit);
}

TEST_F(VerificationCacheTest, UserAndUserTypeInvalidationDropOnlyTheirTokens) {
  cache_.Put(Hash(1), Credential("t1", "k1", "alice", "admin"), cache_.BeginFill());
  cache_.Put(Hash(2), Credential("t1", "k2", "alice", "member"), cache_.BeginFill());
  cache_.Put(Hash(3), Credential("t1", "k3", "bob", "member"), cache_.BeginFill());
  cache_.Put(Hash(4), Credential("t1", "k4", "carol", "admin"), cache_.BeginFill());
  cache_.InvalidateUser("t1", "alice");
  EXPECT_EQ(cache_.Get(Hash(1)).outcome, VerificationCache::Outcome::kMiss);
  EXPECT_EQ(cache_.Get(Hash(2)).outcome, VerificationCache::Outcome::kMiss);
  EXPECT_EQ(cache_.Get(Hash(3)).outcome, VerificationCache::Outcome::kHit);
  EXPECT_EQ(cache_.Get(Hash(4)).outcome, VerificationCache::Outcome::kHit);
  cache_.InvalidateUserType("t1", "member");
  EXPECT_EQ(cache_.Get(Hash(3)).outcome, VerificationCache::Outcome::kMiss);
  EXPECT_EQ(cache_.Get(Hash(4)).outcome, VerificationCache::Outcome::kHit);
}

TEST_F(VerificationCacheTest, ExtendExpiryOnlyMovesForward) {
  CachedCredential credential = Credential("t1", "k8");
  credential.principal.token->expires_at = *core::ParseRfc3339("2026-02-01T00:00:00Z");
  cache_.Put(Hash(8), credential, cache_.BeginFill());
  cache_.ExtendExpiry(Hash(8), *core::ParseRfc3339("2026-03-01T00:00:00Z"));
  cache_.ExtendExpiry(Hash(8), *core::ParseRfc3339("2026-01-15T00:00:00Z"));
  EXPECT_EQ(cache_.Get(Hash(8)).credential->principal.token->expires_at,
            *core::ParseRfc3339("2026-03-01T00:00:00Z"));
}

TEST_F(VerificationCacheTest, StaysWithinCapacity) {
  VerificationCache small(clock_, {640, core::seconds{5}, core::seconds{5}});
  for (int i = 0; i < 5000; ++i) {
    small.Put(Hash(i), Credential("t1", std::to_string(i)), small.BeginFill());
  }
  EXPECT_LE(small.size(), 640u);
  EXPECT_GT(small.stats().evictions, 0u);
  // The newest entry is still there.
  EXPECT_EQ(small.Get(Hash(4999)).outcome, VerificationCache::Outcome::kHit);
}

TEST_F(VerificationCacheTest, EvictionGivesRecentlyHitEntriesASecondChance) {
  // 4 entries per shard; all keys in shard 0.
  VerificationCache small(clock_, {4 * VerificationCache::kShards, core::seconds{5}});
  for (int i = 0; i < 4; ++i) {
    small.Put(ShardZeroHash(i), Credential("t1", std::to_string(i)), small.BeginFill());
  }
  VerifiedToken token;
  ASSERT_EQ(small.Find(ShardZeroHash(0), token), VerificationCache::Outcome::kHit);
  small.Put(ShardZeroHash(4), Credential("t1", "4"), small.BeginFill());
  EXPECT_EQ(small.Find(ShardZeroHash(0), token), VerificationCache::Outcome::kHit);
  EXPECT_EQ(small.Find(ShardZeroHash(4), token), VerificationCache::Outcome::kHit);
  // The hand walks the table in position order, so which of the three others goes depends on
  // where their hashes put them; exactly one does.
  int evicted = 0;
  for (int i = 1; i < 4; ++i) {
    if (small.Find(ShardZeroHash(i), token) == VerificationCache::Outcome::kMiss) ++evicted;
  }
  EXPECT_EQ(evicted, 1);
  EXPECT_EQ(small.size(), 4u);
}

TEST_F(VerificationCacheTest, AFloodOfUnknownTokensDoesNotEvictValidOnes) {
  VerificationCache small(clock_, {2560, core::seconds{5}, core::seconds{5}, 256});
  for (int i = 0; i < 1000; ++i) {
    small.Put(Hash(i), Credential("t1", std::to_string(i)), small.BeginFill());
  }
  const std::size_t cached = small.size();
  for (int i = 100000; i < 150000; ++i) small.PutNegative(Hash(i), small.BeginFill());
  EXPECT_EQ(small.size(), cached);
  EXPECT_LE(small.stats().negative_entries, 256u);
  EXPECT_EQ(small.Get(Hash(149999)).outcome, VerificationCache::Outcome::kNegative);
}

// The indexes use backward-shift deletion; a model checks it over random puts, invalidations
// by hash and by id, all in one shard so that probe chains are long and wrap around.
TEST_F(VerificationCacheTest, IndexesAgreeWithAModelUnderChurn) {
  VerificationCache cache(clock_, {300 * VerificationCache::kShards, core::seconds{100}});
  std::map<int, bool> model;  // key -> cached
  std::mt19937 random(42);
  for (int step = 0; step < 20000; ++step) {
    const int key = static_cast<int>(random() % 400);
    switch (random() % 4) {
      case 0:
      case 1:
        if (model.size() < 300 || model.contains(key)) {
          cache.Put(ShardZeroHash(key), Credential("t1", "id" + std::to_string(key)),
                    cache.BeginFill());
          model[key] = true;
        }
        break;
      case 2:
        cache.InvalidateLookupHash(ShardZeroHash(key));
        model.erase(key);
        break;
      case 3:
        cache.InvalidateTokenId("id" + std::to_string(key));
        model.erase(key);
        break;
    }
  }
  ASSERT_EQ(cache.size(), model.size());
  for (int key = 0; key < 400; ++key) {
    VerifiedToken token;
    auto outcome = cache.Find(ShardZeroHash(key), token);
    ASSERT_EQ(outcome == VerificationCache::Outcome::kHit, model.contains(key)) << "key " << key;
    if (model.contains(key)) {
      EXPECT_EQ(token.token_id, "id" + std::to_string(key));
    }
  }
}

// Entry memory is reserved once for the capacity: a cleared shard must refill the blocks it
// has, or a few hundred invalidations would exhaust the reservation (std::bad_alloc).
TEST_F(VerificationCacheTest, RefillsItsFullCapacityAfterEveryInvalidation) {
  constexpr int kPerShard = 200;
  VerificationCache small(clock_, {VerificationCache::kShards * kPerShard, core::seconds{5}});
  for (int round = 0; round < 300; ++round) {
    for (int i = 0; i < kPerShard; ++i) {
      small.Put(ShardZeroHash(i), Credential("t1", std::to_string(i)), small.BeginFill());
    }
    ASSERT_EQ(small.size(), static_cast<std::size_t>(kPerShard)) << "round " << round;
    small.InvalidateAll();
    ASSERT_EQ(small.size(), 0u);
  }
  small.Put(ShardZeroHash(7), Credential("t1", "7"), small.BeginFill());
  auto hit = small.Get(ShardZeroHash(7));
  ASSERT_EQ(hit.outcome, VerificationCache::Outcome::kHit);
  EXPECT_EQ(hit.credential->principal.token->id, "7");
  EXPECT_EQ(small.stats().evictions, 0u);
}

TEST_F(VerificationCacheTest, AFullInternTableStartsOverInsteadOfGrowing) {
  // 256 entries at most, so at most 1024 interned records; every token has its own user.
  VerificationCache small(clock_, {256, core::seconds{5}});
  for (int i = 0; i < 3000; ++i) {
    small.Put(Hash(i), Credential("t1", std::to_string(i)), small.BeginFill());
  }
  VerificationCache::Stats stats = small.stats();
  EXPECT_GT(stats.intern_resets, 0u);
  EXPECT_LE(stats.interned, VerificationCache::kInternedPerEntry * 256);
  small.Put(Hash(5000), Credential("t1", "5000"), small.BeginFill());
  auto hit = small.Get(Hash(5000));
  ASSERT_EQ(hit.outcome, VerificationCache::Outcome::kHit);
  EXPECT_EQ(hit.credential->principal.user_id, "user-5000");
}

// Readers, fillers and invalidations on several threads: once InvalidateUser returns, no
// reader may see an entry of that user filled before it (the fillers here always "read" the
// old data, so any hit after the invalidation that carries the old permission is a bug).
TEST_F(VerificationCacheTest, NoStaleHitAfterInvalidationUnderConcurrency) {
  VerificationCache cache(clock_, {4096, core::seconds{100}});
  // 0: old data; 1: the change committed (fills read new data); 2: the invalidation returned.
  std::atomic<int> phase{0};
  std::atomic<int> stale{0};
  std::atomic<bool> stop{false};
  auto credential_for = [](int key, bool fresh) {
    CachedCredential c = Credential("t1", std::to_string(key), "u" + std::to_string(key % 8));
    c.principal.permissions =
        fresh ? core::PermissionSet() : core::PermissionSet::Of({core::Permission::kUsersWrite});
    return c;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(t);
      while (!stop.load()) {
        const int key = static_cast<int>(random() % 512);
        auto ticket = cache.BeginFill();
        // Data "read from the store" now: old before the change committed.
        const bool fresh = phase.load() >= 1;
        cache.Put(Hash(key), credential_for(key, fresh), ticket);
        const bool invalidated_before_read = phase.load() == 2;
        VerifiedToken token;
        if (cache.Find(Hash(key), token) == VerificationCache::Outcome::kHit &&
            invalidated_before_read && token.permissions.Has(core::Permission::kUsersWrite)) {
          ++stale;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{20});
  phase = 1;
  for (int u = 0; u < 8; ++u) cache.InvalidateUser("t1", "u" + std::to_string(u));
  phase = 2;
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  stop = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(stale.load(), 0);
}

}  // namespace
}  // namespace tokend::service
