#include "service/login_throttle.h"

#include <algorithm>
#include <cctype>

namespace tokend::service {

LoginThrottle::LoginThrottle(LoginThrottleOptions options)
    : accounts_(options.account_failures, options.window, options.max_keys),
      addresses_(options.address_failures, options.window, options.max_keys) {}

std::string LoginThrottle::AccountKey(std::string_view tenant, std::string_view username) {
  // Case-folded so that "Admin" and "admin" share one budget; '\0' cannot occur in either.
  std::string key;
  key.reserve(tenant.size() + username.size() + 1);
  for (char c : tenant)
    key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  key.push_back('\0');
  for (char c : username) {
    key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return key;
}

core::Result<void> LoginThrottle::Check(std::string_view tenant, std::string_view username,
                                        std::string_view client_ip, core::Time now) const {
  std::optional<int> account = accounts_.Blocked(AccountKey(tenant, username), now);
  std::optional<int> address = addresses_.Blocked(std::string(client_ip), now);
  if (!account && !address) return core::Ok();
  int retry = std::max(account.value_or(0), address.value_or(0));
  return tl::unexpected(core::ResourceExhausted(
      "Too many failed sign-in attempts; try again later.", std::max(retry, 1)));
}

void LoginThrottle::RecordFailure(std::string_view tenant, std::string_view username,
                                  std::string_view client_ip, core::Time now) {
  accounts_.Add(AccountKey(tenant, username), now);
  addresses_.Add(std::string(client_ip), now);
}

void LoginThrottle::RecordSuccess(std::string_view tenant, std::string_view username) {
  accounts_.Reset(AccountKey(tenant, username));
}

}  // namespace tokend::service
