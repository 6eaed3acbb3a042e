#include "service/auth_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "service/audit_service.h"
#include "service/login_throttle.h"

namespace tokend::service {

namespace {

constexpr char kBadCredentials[] = "The tenant, username or password is incorrect.";
constexpr char kSessionEnded[] = "Your session has ended; sign in again.";
// 43 base62 characters: 256 bits, like the token body.
constexpr std::size_t kSessionIdLength = 43;
constexpr std::size_t kCsrfTokenLength = 43;
// last_seen_at is written at most this often per session: the idle timeout (an hour by
// default) loses at most this much precision, and a busy console does not write on every
// request.
constexpr core::seconds kTouchInterval{60};

}  // namespace

AuthService::AuthService(store::Store& store, const core::Clock& clock, const core::ServerKey& key,
                         const core::PasswordHasher& hasher, TokenService& tokens,
                         LoginThrottle* throttle)
    : store_(store),
      clock_(clock),
      key_(key),
      hasher_(hasher),
      tokens_(tokens),
      throttle_(throttle) {}

core::Result<std::pair<core::User, core::Membership>> AuthService::CheckCredentials(
    const LoginInput& input, const RequestContext& ctx, std::string_view audit_action) {
  const core::Time now = clock_.Now();
  if (throttle_ != nullptr) {
    if (auto ok = throttle_->Check(input.tenant, input.username, ctx.client_ip, now); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  // Every failure below answers the same and costs one password verification.
  std::optional<core::Tenant> tenant;
  std::optional<core::User> user;
  std::string reason;
  if (auto found = store_.GetTenantByName(input.tenant); found) {
    tenant = std::move(*found);
  } else if (found.error().code != core::ErrorCode::kNotFound) {
    return tl::unexpected(found.error());
  }
  if (tenant) {
    if (auto found = store_.GetUserByUsername(tenant->id, input.username); found) {
      user = std::move(*found);
    } else if (found.error().code != core::ErrorCode::kNotFound) {
      return tl::unexpected(found.error());
    }
  }
  bool password_ok = false;
  if (user && !user->password_hash.empty()) {
    password_ok = hasher_.Verify(user->password_hash, input.password);
  } else {
    hasher_.VerifyDummy(input.password);
  }
  if (!tenant) {
    reason = "unknown tenant";
  } else if (!user) {
    reason = "unknown user";
  } else if (!password_ok) {
    reason = "wrong password";
  } else if (!user->active) {
    reason = "user deactivated";
  } else if (user->memberships.empty()) {
    reason = "no membership";
  }
  if (!reason.empty()) {
    if (throttle_ != nullptr) {
      throttle_->RecordFailure(input.tenant, input.username, ctx.client_ip, now);
    }
    if (tenant) {
      core::AuditEvent event = MakeAuditEvent(
          nullptr, tenant->id, "auth.login_failed", user ? "user" : "", user ? user->id : "", ctx,
          now, {{"channel", std::string(audit_action)}, {"reason", reason}});
      event.actor_username = input.username;
      if (auto written = store_.AppendAudit(event); !written) {
        spdlog::warn("auth: audit of a failed sign-in not written: {}", written.error().log_detail);
      }
    }
    return tl::unexpected(core::Unauthenticated(kBadCredentials));
  }
  if (throttle_ != nullptr) throttle_->RecordSuccess(input.tenant, input.username);

  core::Membership membership = user->memberships.front();
  if (input.department_id) {
    auto it = std::find_if(
        user->memberships.begin(), user->memberships.end(),
        [&](const core::Membership& m) { return m.department_id == *input.department_id; });
    if (it == user->memberships.end()) {
      return tl::unexpected(
          core::FieldInvalid("department_id", "You do not have a membership in this department."));
    }
    membership = *it;
  }
  return std::make_pair(std::move(*user), membership);
}

core::Result<ConsoleSession> AuthService::Login(const LoginInput& input,
                                                const RequestContext& ctx) {
  auto credentials = CheckCredentials(input, ctx, "console");
  if (!credentials) return tl::unexpected(credentials.error());
  auto& [user, membership] = *credentials;
  auto user_type = store_.GetUserType(user.tenant_id, membership.user_type_id);
  if (!user_type) return tl::unexpected(user_type.error());
  const core::Time now = clock_.Now();

  ConsoleSession session;
  session.session_id = core::RandomBase62(kSessionIdLength);
  session.csrf_token = core::RandomBase62(kCsrfTokenLength);
  store::Session stored{key_.LookupHash(session.session_id),
                        user.tenant_id,
                        user.id,
                        membership.department_id,
                        membership.user_type_id,
                        session.csrf_token,
                        now,
                        now};
  if (auto created = store_.CreateSession(stored); !created) {
    return tl::unexpected(created.error());
  }
  session.principal.tenant_id = user.tenant_id;
  session.principal.user_id = user.id;
  session.principal.username = user.username;
  session.principal.department_id = membership.department_id;
  session.principal.user_type_id = membership.user_type_id;
  session.principal.permissions = user_type->permissions;
  core::AuditEvent event =
      MakeAuditEvent(&session.principal, user.tenant_id, "auth.login", "user", user.id, ctx, now,
                     {{"channel", "console"},
                      {"username", user.username},
                      {"department_id", membership.department_id},
                      {"user_type_id", membership.user_type_id}});
  if (auto written = store_.AppendAudit(event); !written) {
    // No trail, no session.
    (void)store_.DeleteSession(stored.id_hash);
    return tl::unexpected(written.error());
  }
  session.user = std::move(user);
  return session;
}

core::Result<void> AuthService::Logout(const std::string& session_id, const RequestContext& ctx) {
  if (session_id.empty()) return core::Ok();
  const std::string id_hash = key_.LookupHash(session_id);
  auto session = store_.GetSession(id_hash);
  if (!session) {
    if (session.error().code == core::ErrorCode::kNotFound) return core::Ok();
    return tl::unexpected(session.error());
  }
  if (auto deleted = store_.DeleteSession(id_hash); !deleted) {
    return tl::unexpected(deleted.error());
  }
  core::Principal actor;
  actor.tenant_id = session->tenant_id;
  actor.user_id = session->user_id;
  if (auto user = store_.GetUser(session->tenant_id, session->user_id); user) {
    actor.username = user->username;
  }
  return store_.AppendAudit(MakeAuditEvent(&actor, session->tenant_id, "auth.logout", "user",
                                           session->user_id, ctx, clock_.Now(), {}));
}

core::Result<ConsoleSession> AuthService::Authenticate(const std::string& session_id) {
  if (session_id.size() != kSessionIdLength) {
    return tl::unexpected(core::Unauthenticated(kSessionEnded));
  }
  const std::string id_hash = key_.LookupHash(session_id);
  auto session = store_.GetSession(id_hash);
  if (!session) {
    if (session.error().code == core::ErrorCode::kNotFound) {
      return tl::unexpected(core::Unauthenticated(kSessionEnded));
    }
    return tl::unexpected(session.error());
  }
  // Defence in depth: the store found the row by this hash.
  if (!core::ConstantTimeEquals(session->id_hash, id_hash)) {
    return tl::unexpected(core::Unauthenticated(kSessionEnded));
  }
  auto tenant = store_.GetTenant(session->tenant_id);
  if (!tenant) return tl::unexpected(tenant.error());
  const core::Time now = clock_.Now();
  const core::TenantSettings& settings = tenant->settings;
  auto end = [&]() -> tl::unexpected<core::Error> {
    (void)store_.DeleteSession(id_hash);
    return tl::unexpected(core::Unauthenticated(kSessionEnded));
  };
  if (now - session->last_seen_at >= settings.console_idle_timeout ||
      now - session->created_at >= settings.console_max_lifetime) {
    return end();
  }
  auto user = store_.GetUser(session->tenant_id, session->user_id);
  if (!user) {
    if (user.error().code == core::ErrorCode::kNotFound) return end();
    return tl::unexpected(user.error());
  }
  const core::Membership membership{session->department_id, session->user_type_id};
  if (!user->active || std::find(user->memberships.begin(), user->memberships.end(), membership) ==
                           user->memberships.end()) {
    return end();
  }
  auto user_type = store_.GetUserType(session->tenant_id, session->user_type_id);
  if (!user_type) {
    if (user_type.error().code == core::ErrorCode::kNotFound) return end();
    return tl::unexpected(user_type.error());
  }
  if (now - session->last_seen_at >= kTouchInterval) {
    if (auto touched = store_.TouchSession(id_hash, now); !touched) {
      return tl::unexpected(touched.error());
    }
  }

  ConsoleSession result;
  result.session_id = session_id;
  result.csrf_token = session->csrf_token;
  result.principal.tenant_id = session->tenant_id;
  result.principal.user_id = user->id;
  result.principal.username = user->username;
  result.principal.department_id = session->department_id;
  result.principal.user_type_id = session->user_type_id;
  result.principal.permissions = user_type->permissions;
  result.user = std::move(*user);
  return result;
}

core::Result<CreatedToken> AuthService::MobileLogin(const MobileLoginInput& input,
                                                    const RequestContext& ctx) {
  auto credentials = CheckCredentials(input.login, ctx, "mobile");
  if (!credentials) return tl::unexpected(credentials.error());
  return tokens_.IssueMobileToken(credentials->first, credentials->second, input.device_name, ctx);
}

core::Result<void> AuthService::MobileLogout(const core::Principal& caller,
                                             const RequestContext& ctx) {
  if (!caller.token || caller.token->kind != core::TokenKind::kMobile) {
    return tl::unexpected(core::InvalidArgument("Only a mobile token can sign out this way."));
  }
  return tokens_.RevokeSelf(caller, "mobile.logout", ctx);
}

}  // namespace tokend::service
