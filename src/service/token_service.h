// Use cases on tokens: create, list, get, reveal, revoke one, revoke many, verify.
//
// Each authorises first (permission, then scope: ids outside the caller's tenant or
// department subtree are kNotFound, never kPermissionDenied, so existence does not leak),
// then acts, and returns a Result. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/error.h"
#include "core/model.h"
#include "service/context.h"
#include "store/store.h"

namespace tokend::service {

class VerificationCache;
class ActivityRecorder;
class RateLimiter;
struct VerifiedToken;  // service/verification_cache.h

struct CreateApiTokenInput {
  std::string name;
  std::string description;
  std::string expires_at;  // "YYYY-MM-DD" or RFC 3339; required (DESIGN.md rule 3)
  std::string user_id;
  std::string department_id;
  std::string user_type_id;
};

struct CreatedToken {
  store::TokenRow row;
  std::string secret;  // the token string: shown once (and again via Reveal when allowed)
};

struct RevokeManyResult {
  std::vector<std::string> deleted;
  std::vector<std::string> not_found;  // unknown, already revoked, or outside the caller's scope
};

// A token as shown to one caller.
struct TokenView {
  store::TokenRow row;
  core::TokenState state;
  bool revealable;  // a sealed copy exists, tenant reveal is on, and the caller has tokens:reveal
};

struct TokenServiceOptions {
  // Mobile tokens' sliding expiry and last-used facts go through the ActivityRecorder when
  // one is set; else they are written synchronously.
  ActivityRecorder* activity = nullptr;
  VerificationCache* cache = nullptr;
  // Reveals per administrator per minute. A console user reveals a token now and then; a
  // burst beyond this looks like someone harvesting secrets with a stolen session.
  int reveals_per_minute = 30;
};

class TokenService {
 public:
  TokenService(store::Store& store, const core::Clock& clock, const core::ServerKey& key,
               TokenServiceOptions options = {});
  ~TokenService();
  TokenService(const TokenService&) = delete;
  TokenService& operator=(const TokenService&) = delete;

  // Needs tokens:write. The user must hold (department, user type); the caller must not
  // escalate (CheckNoEscalation). Errors name fields: name, description, expires_at, user_id,
  // department_id, user_type_id.
  core::Result<CreatedToken> CreateApiToken(const core::Principal& caller,
                                            const CreateApiTokenInput& input,
                                            const RequestContext& ctx);

  // Needs tokens:read. Scope is applied to the query by the service.
  core::Result<store::TokenPage> List(const core::Principal& caller, store::TokenQuery query);
  core::Result<TokenView> Get(const core::Principal& caller, const std::string& id);

  // Needs tokens:reveal; API tokens only; at most reveals_per_minute per caller
  // (kResourceExhausted beyond); writes the audit event first and reveals nothing
  // when that write fails. kFailedPrecondition when no sealed copy exists (show-once tenant,
  // or a mobile token).
  core::Result<std::string> Reveal(const core::Principal& caller, const std::string& id,
                                   const RequestContext& ctx);

  // Needs tokens:write. Idempotent at the store; kNotFound for an unknown or out-of-scope id.
  core::Result<void> Revoke(const core::Principal& caller, const std::string& id,
                            const RequestContext& ctx);
  // Needs tokens:write. One transaction. At most 10,000 ids (kInvalidArgument beyond).
  core::Result<RevokeManyResult> RevokeMany(const core::Principal& caller,
                                            const std::vector<std::string>& ids,
                                            const RequestContext& ctx);

  // Turns a presented token string into a Principal, or kUnauthenticated (one message for
  // malformed, unknown, expired, revoked, inactive user, membership gone). Malformed tokens
  // are refused before any lookup. Records activity (last used / last active + sliding
  // expiry). kUnavailable when the store cannot be reached: fail closed.
  core::Result<core::Principal> Verify(std::string_view presented, const RequestContext& ctx);
  // Verify without building a Principal: on a cache hit nothing is allocated here, which is
  // what hot paths that only read ids want (GET /auth/verify, introspection). `out` is set only
  // when the result is a value.
  core::Result<void> VerifyInto(std::string_view presented, const RequestContext& ctx,
                                VerifiedToken& out);

  // Issues a mobile token for `user` (already authenticated by AuthService).
  core::Result<CreatedToken> IssueMobileToken(const core::User& user,
                                              const core::Membership& membership,
                                              std::string device_name, const RequestContext& ctx);

  // Revokes the token that authenticated `caller` (mobile logout), recording `audit_action`.
  // kInvalidArgument when the caller was not authenticated by a token. Idempotent.
  core::Result<void> RevokeSelf(const core::Principal& caller, const std::string& audit_action,
                                const RequestContext& ctx);

 private:
  // The checks and bookkeeping after a token was found (cached or not): expiry (with a pending
  // mobile slide), activity, the slid expiry of a mobile token.
  core::Result<void> Accept(std::string_view lookup_hash, VerifiedToken& token, core::Time now,
                            const RequestContext& ctx);
  void InvalidateToken(const core::Token& token);

  store::Store& store_;
  const core::Clock& clock_;
  const core::ServerKey& key_;
  TokenServiceOptions options_;
  std::unique_ptr<RateLimiter> reveal_limiter_;
};

}  // namespace tokend::service
