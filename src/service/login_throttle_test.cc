#include "service/login_throttle.h"

#include <gtest/gtest.h>

#include "core/time_format.h"
#include "service/rate_limit.h"

namespace tokend::service {
namespace {

const core::Time kStart = *core::ParseRfc3339("2026-01-01T00:00:00Z");

TEST(LoginThrottleTest, AccountBlockedAfterLimitForTheRestOfTheWindow) {
  LoginThrottle throttle({3, 100, core::minutes{15}, 1000});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(throttle.Check("acme", "bob", "ip1", kStart + core::seconds{i}));
    throttle.RecordFailure("acme", "bob", "ip1", kStart + core::seconds{i});
  }
  auto blocked = throttle.Check("acme", "BOB", "ip2", kStart + core::minutes{1});
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, core::ErrorCode::kResourceExhausted);
  EXPECT_EQ(blocked.error().retry_after_seconds, 14 * 60);
  EXPECT_TRUE(throttle.Check("acme", "alice", "ip1", kStart + core::minutes{1}));
  EXPECT_TRUE(throttle.Check("acme", "bob", "ip1", kStart + core::minutes{15}));
}

TEST(LoginThrottleTest, SuccessResetsTheAccountButNotTheAddress) {
  LoginThrottle throttle({2, 3, core::minutes{15}, 1000});
  throttle.RecordFailure("acme", "bob", "ip1", kStart);
  throttle.RecordFailure("acme", "bob", "ip1", kStart);
  EXPECT_FALSE(throttle.Check("acme", "bob", "ip9", kStart));
  throttle.RecordSuccess("acme", "bob");
  EXPECT_TRUE(throttle.Check("acme", "bob", "ip9", kStart));
  throttle.RecordFailure("acme", "carol", "ip1", kStart);
  EXPECT_FALSE(throttle.Check("acme", "dave", "ip1", kStart));
}

TEST(RateLimiterTest, MemoryIsBoundedAndExpiredKeysGoFirst) {
  RateLimiter limiter(5, core::minutes{1}, 100);
  for (int i = 0; i < 1000; ++i) limiter.Add("key" + std::to_string(i), kStart);
  EXPECT_LE(limiter.size(), 100u);
  // A key at its limit stays blocked while newer keys arrive, as long as older ones remain.
  RateLimiter bounded(1, core::minutes{1}, 3);
  bounded.Add("old", kStart);
  bounded.Add("a", kStart + core::seconds{70});
  EXPECT_FALSE(bounded.Blocked("a", kStart + core::seconds{70}) == std::nullopt);
  bounded.Add("b", kStart + core::seconds{70});
  bounded.Add("c", kStart + core::seconds{70});  // evicts "old", whose window ended
  EXPECT_TRUE(bounded.Blocked("a", kStart + core::seconds{70}).has_value());
  EXPECT_EQ(bounded.size(), 3u);
}

}  // namespace
}  // namespace tokend::service
