#include "service/verification_cache.h"

#include <gtest/gtest.h>

#include "core/time_format.h"

namespace tokend::service {
namespace {

CachedCredential Credential(const std::string& tenant, const std::string& token_id) {
  CachedCredential credential;
  credential.principal.tenant_id = tenant;
  credential.principal.user_id = "user-" + token_id;
  credential.principal.token =
      core::Principal::TokenRef{token_id, core::TokenKind::kApi, core::Time{}, core::Time{}};
  return credential;
}

// Lookup hashes are uniformly random bytes; spread test keys over the shards the same way.
std::string Hash(int i) { return std::string(1, static_cast<char>(i & 0xff)) + std::to_string(i); }

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

TEST_F(VerificationCacheTest, NegativeEntriesUntilATokenIsCreated) {
  cache_.PutNegative(Hash(2), cache_.BeginFill());
  EXPECT_EQ(cache_.Get(Hash(2)).outcome, VerificationCache::Outcome::kNegative);
  cache_.OnTokenCreated(Hash(2));
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
  cache_.InvalidateUserType("t2", "any");
  EXPECT_EQ(cache_.Get(Hash(7)).outcome, VerificationCache::Outcome::kMiss);
  // Entries filled after the bump are valid again.
  cache_.Put(Hash(7), Credential("t2", "k7"), cache_.BeginFill());
  EXPECT_EQ(cache_.Get(Hash(7)).outcome, VerificationCache::Outcome::kHit);
  cache_.InvalidateTenant("t2");
  EXPECT_EQ(cache_.Get(Hash(7)).outcome, VerificationCache::Outcome::kMiss);
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
  // The newest entry is still there.
  EXPECT_EQ(small.Get(Hash(4999)).outcome, VerificationCache::Outcome::kHit);
}

}  // namespace
}  // namespace tokend::service
