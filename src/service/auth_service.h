// Sign-in for the console (sessions) and the mobile app (mobile tokens).
//
// An unknown tenant, unknown user, inactive user and wrong password all give the same
// kUnauthenticated answer and cost the same (the password hasher runs against a dummy hash).
// Throttling (kResourceExhausted) is per account and per client address.
#pragma once

#include <optional>
#include <string>

#include "core/crypto.h"
#include "core/model.h"
#include "service/context.h"
#include "service/token_service.h"
#include "store/store.h"

namespace tokend::service {

class LoginThrottle;

struct LoginInput {
  std::string tenant;  // tenant name
  std::string username;
  std::string password;
  std::optional<std::string> department_id;  // which membership; default the first
};

struct ConsoleSession {
  std::string session_id;  // the secret cookie value: never logged
  std::string csrf_token;
  core::Principal principal;
  core::User user;
};

struct MobileLoginInput {
  LoginInput login;
  std::string device_name;
};

class AuthService {
 public:
  AuthService(store::Store& store, const core::Clock& clock, const core::ServerKey& key,
              const core::PasswordHasher& hasher, TokenService& tokens,
              LoginThrottle* throttle = nullptr);

  core::Result<ConsoleSession> Login(const LoginInput& input, const RequestContext& ctx);
  // Idempotent.
  core::Result<void> Logout(const std::string& session_id, const RequestContext& ctx);
  // The session's principal, computed from current data; kUnauthenticated when unknown,
  // idle or absolute timeout passed, or the user lost access. Touches last-seen.
  core::Result<ConsoleSession> Authenticate(const std::string& session_id);

  core::Result<CreatedToken> MobileLogin(const MobileLoginInput& input, const RequestContext& ctx);
  // Revokes the mobile token that authenticated `caller`. kInvalidArgument when the caller is
  // not a mobile token.
  core::Result<void> MobileLogout(const core::Principal& caller, const RequestContext& ctx);

 private:
  // Resolves tenant + user + password + membership, or one uniform kUnauthenticated.
  core::Result<std::pair<core::User, core::Membership>> CheckCredentials(
      const LoginInput& input, const RequestContext& ctx, std::string_view audit_action);

  store::Store& store_;
  const core::Clock& clock_;
  const core::ServerKey& key_;
  const core::PasswordHasher& hasher_;
  TokenService& tokens_;
  LoginThrottle* throttle_;
};

}  // namespace tokend::service
