// Throttling of failed sign-ins, in memory, per account and per client address.
//
// Limits (defaults): 5 failures per account (tenant + username) per 15 minutes, and 20 per
// client address per 15 minutes. Why these values: Argon2id already makes each guess cost
// tens of milliseconds of server time, but online guessing must also be slowed per target — 5 tries
// per 15 minutes allows ~480 guesses a day against one account, useless against any password
// CheckPassword accepts that is not in a top-list, while a user who mistypes a few times is
// not locked out for long. The address limit is higher because several people may share an
// address (NAT, an office), and it stops one address from spraying many accounts.
// A success resets the account's counter (not the address's: a spraying attacker who owns one
// account must not clear its address budget by signing in to it).
//
// Memory is bounded (see RateLimiter): an attacker rotating usernames or addresses evicts the
// oldest entries rather than growing the process. Per-instance: with N instances the limits
// are N times looser, which is accepted.
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/error.h"
#include "service/rate_limit.h"

namespace tokend::service {

struct LoginThrottleOptions {
  int account_failures = 5;
  int address_failures = 20;
  core::seconds window = core::minutes{15};
  std::size_t max_keys = 100000;  // per map: ~100 bytes each, ~10 MB at worst
};

class LoginThrottle {
 public:
  explicit LoginThrottle(LoginThrottleOptions options = {});

  // kResourceExhausted with retry_after_seconds when either the account or the address is
  // at its limit now; Ok otherwise. Does not count anything.
  core::Result<void> Check(std::string_view tenant, std::string_view username,
                           std::string_view client_ip, core::Time now) const;
  void RecordFailure(std::string_view tenant, std::string_view username, std::string_view client_ip,
                     core::Time now);
  // Resets the account's failure count.
  void RecordSuccess(std::string_view tenant, std::string_view username);

 private:
  static std::string AccountKey(std::string_view tenant, std::string_view username);

  RateLimiter accounts_;
  RateLimiter addresses_;
};

}  // namespace tokend::service
