#include "service/token_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/ids.h"
#include "core/rules.h"
#include "core/time_format.h"
#include "core/token_format.h"
#include "service/activity.h"
#include "service/audit_service.h"
#include "service/rate_limit.h"
#include "service/scope.h"
#include "service/verification_cache.h"

namespace tokend::service {

namespace {

// One multi-select delete may take a whole filtered selection. 10,000 ids of 20 characters are
// about 230 KB of JSON, inside the HTTP body limit (256 KiB), and revoke in one transaction in
// well under a second.
constexpr std::size_t kMaxRevokeMany = 10000;
constexpr char kInvalidToken[] = "The access token is invalid, expired or revoked.";
constexpr char kTokenNotFound[] = "Token not found.";
// Bounds the reveal limiter's memory: one entry per administrator who revealed this minute.
constexpr std::size_t kRevealLimiterKeys = 10000;

core::Error InvalidToken() { return core::Unauthenticated(kInvalidToken); }

// Verification fails closed: any store failure other than "no such token" is kUnavailable.
core::Error StoreFailure(const core::Error& error) {
  if (error.code == core::ErrorCode::kUnavailable) return error;
  return core::Unavailable(error.log_detail.empty() ? error.public_message : error.log_detail);
}

// The associated data binding a sealed copy to its tenant and token.
std::string SealAssociatedData(const std::string& tenant_id, const std::string& token_id) {
  std::string ad = tenant_id;
  ad.push_back('\0');
  ad += token_id;
  return ad;
}

std::vector<std::pair<std::string, std::string>> TokenDetails(const store::TokenRow& row) {
  return {
      {"id", row.token.id},
      {"name", row.token.name},
      {"kind", std::string(core::TokenKindName(row.token.kind))},
      {"user_id", row.user.id},
      {"username", row.user.username},
      {"department_id", row.department.id},
      {"department", row.department.name},
      {"user_type_id", row.user_type.id},
      {"user_type", row.user_type.name},
  };
}

store::TokenRow::UserRef UserRefOf(const core::User& user) {
  return {user.id, user.username, user.email, user.display_name};
}

}  // namespace

TokenService::TokenService(store::Store& store, const core::Clock& clock,
                           const core::ServerKey& key, TokenServiceOptions options)
    : store_(store),
      clock_(clock),
      key_(key),
      options_(options),
      reveal_limiter_(std::make_unique<RateLimiter>(std::max(options.reveals_per_minute, 1),
                                                    core::minutes{1}, kRevealLimiterKeys)) {}

TokenService::~TokenService() = default;

core::Result<CreatedToken> TokenService::CreateApiToken(const core::Principal& caller,
                                                        const CreateApiTokenInput& input,
                                                        const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kTokensWrite); !ok) {
    return tl::unexpected(ok.error());
  }
  auto tenant = store_.GetTenant(caller.tenant_id);
  if (!tenant) return tl::unexpected(tenant.error());
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return tl::unexpected(tree.error());
  const core::Time now = clock_.Now();

  // Field checks first, all at once, so the form can show every problem together.
  std::vector<core::FieldError> fields;
  if (std::string why = core::CheckTokenName(input.name); !why.empty()) {
    fields.push_back({"name", why});
  }
  if (std::string why = core::CheckDescription(input.description); !why.empty()) {
    fields.push_back({"description", why});
  }
  core::Time expires_at = core::DefaultApiTokenExpiry(now, tenant->settings);
  // DESIGN.md rule 3: expiry is mandatory; clients (the console, the CLI) pre-fill a default.
  if (input.expires_at.empty()) {
    fields.push_back({"expires_at", "Is required: every API token must have an expiry date."});
  } else {
    auto parsed = core::ParseExpiry(input.expires_at);
    if (!parsed) {
      fields.push_back({"expires_at", "Must be a real date (YYYY-MM-DD) or an RFC 3339 time."});
    } else if (auto valid = core::ValidateApiTokenExpiry(parsed->time, now, tenant->settings);
               !valid) {
      if (valid.error().fields.empty()) {
        fields.push_back({"expires_at", valid.error().public_message});
      }
      for (const auto& field : valid.error().fields) fields.push_back(field);
    } else {
      expires_at = *valid;
    }
  }
  if (input.user_id.empty()) fields.push_back({"user_id", "Select a user."});
  if (input.department_id.empty()) fields.push_back({"department_id", "Select a department."});
  if (input.user_type_id.empty()) fields.push_back({"user_type_id", "Select a user type."});
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The token cannot be created.", fields));
  }

  // Scope: anything the caller may not see is "not found", exactly like a missing id.
  const core::Department* department = tree->Find(input.department_id);
  if (department == nullptr || !core::InCallerScope(caller, *tree, department->id)) {
    return tl::unexpected(core::NotFound("Department not found."));
  }
  auto user = store_.GetUser(caller.tenant_id, input.user_id);
  if (!user) return tl::unexpected(NotFoundAs(user.error(), "User not found."));
  if (!UserInScope(caller, *tree, *user)) {
    return tl::unexpected(core::NotFound("User not found."));
  }
  auto user_type = store_.GetUserType(caller.tenant_id, input.user_type_id);
  if (!user_type) return tl::unexpected(NotFoundAs(user_type.error(), "User type not found."));
  if (auto ok = core::CheckNoEscalation(caller, *tree, department->id, user_type->permissions);
      !ok) {
    return tl::unexpected(ok.error());
  }
  if (!user->active) {
    fields.push_back({"user_id", "This user is deactivated."});
  }
  const core::Membership wanted{department->id, user_type->id};
  if (std::find(user->memberships.begin(), user->memberships.end(), wanted) ==
      user->memberships.end()) {
    std::string why = "The user does not hold this department and user type.";
    fields.push_back({"department_id", why});
    fields.push_back({"user_type_id", why});
  }
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The token cannot be created.", fields));
  }

  std::string secret = core::GenerateToken(core::TokenKind::kApi);
  core::Token token;
  token.id = core::NewId();
  token.tenant_id = caller.tenant_id;
  token.kind = core::TokenKind::kApi;
  token.name = input.name;
  token.description = input.description;
  token.lookup_hash = key_.LookupHash(secret);
  if (tenant->settings.api_token_reveal) {
    token.sealed_secret = key_.Seal(secret, SealAssociatedData(token.tenant_id, token.id));
  }
  token.token_hint = core::TokenHint(secret);
  token.user_id = user->id;
  token.department_id = department->id;
  token.user_type_id = user_type->id;
  if (!caller.user_id.empty()) token.created_by = caller.user_id;
  token.created_at = now;
  token.expires_at = expires_at;

  store::TokenRow row;
  row.token = token;
  row.user = UserRefOf(*user);
  row.department = {department->id, department->name};
  row.user_type = {user_type->id, user_type->name};
  if (!caller.user_id.empty()) row.created_by = {caller.user_id, caller.username, "", ""};

  auto details = TokenDetails(row);
  details.emplace_back("expires_at", core::FormatRfc3339(expires_at));
  core::AuditEvent audit = MakeAuditEvent(&caller, caller.tenant_id, "token.create", "token",
                                          token.id, ctx, now, details);
  if (auto created = store_.CreateToken(token, audit); !created) {
    return tl::unexpected(created.error());
  }
  if (options_.cache != nullptr) options_.cache->OnTokenCreated(token.lookup_hash);
  return CreatedToken{std::move(row), std::move(secret)};
}

core::Result<store::TokenPage> TokenService::List(const core::Principal& caller,
                                                  store::TokenQuery query) {
  if (auto ok = Require(caller, core::Permission::kTokensRead); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = CheckLimit(query.limit); !ok) return tl::unexpected(ok.error());
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return tl::unexpected(tree.error());
  // A filter on a department outside the scope matches nothing the caller may see.
  if (query.department_id && !core::InCallerScope(caller, *tree, *query.department_id)) {
    return store::TokenPage{};
  }
  query.department_scope = ScopeFilter(caller, *tree);
  query.now = clock_.Now();
  return store_.ListTokens(caller.tenant_id, query);
}

core::Result<TokenView> TokenService::Get(const core::Principal& caller, const std::string& id) {
  if (auto ok = Require(caller, core::Permission::kTokensRead); !ok) {
    return tl::unexpected(ok.error());
  }
  if (!core::LooksLikeId(id)) return tl::unexpected(core::NotFound(kTokenNotFound));
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return tl::unexpected(tree.error());
  auto row = store_.GetToken(caller.tenant_id, id);
  if (!row) {
    if (row.error().code == core::ErrorCode::kNotFound) {
      return tl::unexpected(core::NotFound(kTokenNotFound));
    }
    return tl::unexpected(row.error());
  }
  if (!core::InCallerScope(caller, *tree, row->token.department_id)) {
    return tl::unexpected(core::NotFound(kTokenNotFound));
  }
  auto tenant = store_.GetTenant(caller.tenant_id);
  if (!tenant) return tl::unexpected(tenant.error());
  TokenView view;
  view.state = core::StateAt(row->token, clock_.Now());
  view.revealable = row->token.kind == core::TokenKind::kApi &&
                    row->token.sealed_secret.has_value() && tenant->settings.api_token_reveal &&
                    caller.permissions.Has(core::Permission::kTokensReveal);
  view.row = std::move(*row);
  return view;
}

core::Result<std::string> TokenService::Reveal(const core::Principal& caller, const std::string& id,
                                               const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kTokensReveal); !ok) {
    return tl::unexpected(ok.error());
  }
  const core::Time now = clock_.Now();
  const std::string limiter_key = caller.tenant_id + '\0' + caller.user_id;
  if (auto retry = reveal_limiter_->Acquire(limiter_key, now)) {
    return tl::unexpected(
        core::ResourceExhausted("Too many tokens revealed; try again shortly.", *retry));
  }
  if (!core::LooksLikeId(id)) return tl::unexpected(core::NotFound(kTokenNotFound));
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return tl::unexpected(tree.error());
  auto row = store_.GetToken(caller.tenant_id, id);
  if (!row) {
    if (row.error().code == core::ErrorCode::kNotFound) {
      return tl::unexpected(core::NotFound(kTokenNotFound));
    }
    return tl::unexpected(row.error());
  }
  if (!core::InCallerScope(caller, *tree, row->token.department_id)) {
    return tl::unexpected(core::NotFound(kTokenNotFound));
  }
  auto tenant = store_.GetTenant(caller.tenant_id);
  if (!tenant) return tl::unexpected(tenant.error());
  if (row->token.kind != core::TokenKind::kApi || !row->token.sealed_secret ||
      !tenant->settings.api_token_reveal) {
    return tl::unexpected(core::FailedPrecondition(
        "This token cannot be revealed: it was shown only once, at creation."));
  }
  auto secret =
      key_.Open(*row->token.sealed_secret, SealAssociatedData(row->token.tenant_id, row->token.id));
  if (!secret) {
    return tl::unexpected(core::Internal("sealed copy of token " + row->token.id +
                                         " does not open (wrong key or tampered row)"));
  }
  core::AuditEvent audit =
      MakeAuditEvent(&caller, caller.tenant_id, "token.reveal", "token", row->token.id, ctx, now,
                     {{"id", row->token.id}, {"name", row->token.name}});
  // The audit write comes first: no trail, no secret.
  if (auto written = store_.AppendAudit(audit); !written) {
    return tl::unexpected(written.error());
  }
  return std::move(*secret);
}

core::Result<void> TokenService::Revoke(const core::Principal& caller, const std::string& id,
                                        const RequestContext& ctx) {
  auto result = RevokeMany(caller, {id}, ctx);
  if (!result) return tl::unexpected(result.error());
  if (result->deleted.empty()) return tl::unexpected(core::NotFound(kTokenNotFound));
  return core::Ok();
}

core::Result<RevokeManyResult> TokenService::RevokeMany(const core::Principal& caller,
                                                        const std::vector<std::string>& ids,
                                                        const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kTokensWrite); !ok) {
    return tl::unexpected(ok.error());
  }
  if (ids.size() > kMaxRevokeMany) {
    return tl::unexpected(core::InvalidArgument("At most 10000 tokens can be deleted at once.",
                                                {{"ids", "At most 10000 ids."}}));
  }
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return tl::unexpected(tree.error());
  const core::Time now = clock_.Now();

  RevokeManyResult result;
  std::vector<std::string> wanted;  // distinct, well-formed, in request order
  std::unordered_set<std::string> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) continue;
    if (!core::LooksLikeId(id)) {
      result.not_found.push_back(id);
      continue;
    }
    wanted.push_back(id);
  }
  // One batched read (a per-id read was a third of a 10,000-token delete).
  auto rows = store_.GetTokens(caller.tenant_id, wanted);
  if (!rows) return tl::unexpected(rows.error());
  std::unordered_map<std::string, const store::TokenRow*> found;
  found.reserve(rows->size());
  for (const store::TokenRow& row : *rows) found.emplace(row.token.id, &row);

  std::vector<core::AuditEvent> audits;
  std::vector<core::Token> targets;
  for (const std::string& id : wanted) {
    auto it = found.find(id);
    if (it == found.end() || !core::InCallerScope(caller, *tree, it->second->token.department_id)) {
      result.not_found.push_back(id);
      continue;
    }
    audits.push_back(MakeAuditEvent(&caller, caller.tenant_id, "token.delete", "token", id, ctx,
                                    now, TokenDetails(*it->second)));
    targets.push_back(it->second->token);
  }
  if (targets.empty()) return result;

  auto revoked = store_.RevokeTokens(caller.tenant_id, audits, now);
  // Invalidate whatever the outcome: a failed commit may still have revoked, and dropping a
  // cache entry is always safe.
  for (const core::Token& token : targets) InvalidateToken(token);
  if (!revoked) return tl::unexpected(revoked.error());

  std::unordered_set<std::string> done(revoked->begin(), revoked->end());
  for (const core::Token& token : targets) {
    if (done.contains(token.id)) {
      result.deleted.push_back(token.id);
    } else {
      result.not_found.push_back(token.id);  // revoked concurrently
    }
  }
  return result;
}

core::Result<void> TokenService::RevokeSelf(const core::Principal& caller,
                                            const std::string& audit_action,
                                            const RequestContext& ctx) {
  if (!caller.token) {
    return tl::unexpected(core::InvalidArgument("The request was not made with a token."));
  }
  auto row = store_.GetToken(caller.tenant_id, caller.token->id);
  if (!row) {
    if (row.error().code == core::ErrorCode::kNotFound) {
      if (options_.cache != nullptr) options_.cache->InvalidateTokenId(caller.token->id);
      return core::Ok();  // already revoked
    }
    return tl::unexpected(row.error());
  }
  const core::Time now = clock_.Now();
  std::vector<core::AuditEvent> audits{MakeAuditEvent(&caller, caller.tenant_id, audit_action,
                                                      "token", row->token.id, ctx, now,
                                                      TokenDetails(*row))};
  auto revoked = store_.RevokeTokens(caller.tenant_id, audits, now);
  InvalidateToken(row->token);
  if (!revoked) return tl::unexpected(revoked.error());
  return core::Ok();
}

void TokenService::InvalidateToken(const core::Token& token) {
  if (options_.cache == nullptr) return;
  if (!token.lookup_hash.empty()) {
    options_.cache->InvalidateLookupHash(token.lookup_hash);
  } else {
    options_.cache->InvalidateTokenId(token.id);
  }
}

core::Result<core::Principal> TokenService::Verify(std::string_view presented,
                                                   const RequestContext& ctx) {
  VerifiedToken token;
  if (auto ok = VerifyInto(presented, ctx, token); !ok) return tl::unexpected(ok.error());
  return token.ToPrincipal();
}

core::Result<void> TokenService::VerifyInto(std::string_view presented, const RequestContext& ctx,
                                            VerifiedToken& out) {
  // Shape and checksum first: junk never costs a lookup.
  std::optional<core::TokenKind> kind = core::ParseToken(presented);
  if (!kind) return tl::unexpected(InvalidToken());
  core::LookupHashBuffer hash_bytes;
  key_.LookupHashInto(presented, hash_bytes);
  const std::string_view hash(hash_bytes.data(), hash_bytes.size());
  const core::Time now = clock_.Now();
  VerificationCache* cache = options_.cache;

  VerificationCache::Ticket ticket{};
  if (cache != nullptr) {
    switch (cache->Find(hash, now, out)) {
      case VerificationCache::Outcome::kNegative:
        return tl::unexpected(InvalidToken());
      case VerificationCache::Outcome::kHit:
        return Accept(hash, out, now, ctx);
      case VerificationCache::Outcome::kMiss:
        break;
    }
    ticket = cache->BeginFill();
  }

  auto record = store_.FindCredential(std::string(hash));
  if (!record) {
    if (record.error().code == core::ErrorCode::kNotFound) {
      if (cache != nullptr) cache->PutNegative(hash, ticket);
      return tl::unexpected(InvalidToken());
    }
    return tl::unexpected(StoreFailure(record.error()));
  }
  const core::Token& token = record->token;
  if (token.kind != *kind || !core::ConstantTimeEquals(token.lookup_hash, hash)) {
    return tl::unexpected(InvalidToken());
  }
  if (token.revoked_at) {
    // Revocation is final: remembering it is always correct.
    if (cache != nullptr) cache->PutNegative(hash, ticket);
    return tl::unexpected(InvalidToken());
  }
  // Inactive users and lost memberships are not cached: either may come back.
  if (!record->user_active || !record->membership_held) return tl::unexpected(InvalidToken());

  CachedCredential credential;
  core::Principal& principal = credential.principal;
  principal.tenant_id = token.tenant_id;
  principal.user_id = token.user_id;
  principal.username = record->username;
  principal.department_id = token.department_id;
  principal.user_type_id = token.user_type_id;
  principal.permissions = record->permissions;
  principal.token =
      core::Principal::TokenRef{token.id, token.kind, token.expires_at, token.created_at};
  credential.settings = record->tenant_settings;
  if (cache != nullptr) cache->Put(hash, credential, ticket);
  out.SetFrom(credential);
  return Accept(hash, out, now, ctx);
}

core::Result<void> TokenService::Accept(std::string_view lookup_hash, VerifiedToken& token,
                                        core::Time now, const RequestContext& ctx) {
  const bool mobile = token.kind == core::TokenKind::kMobile;
  core::Time expires_at = token.expires_at;
  // A pending slide matters only to a token that looks expired without it: the new slide does
  // not depend on the old expiry. Asking only then keeps the recorder off the hot path.
  if (mobile && options_.activity != nullptr && now >= expires_at) {
    if (auto pending = options_.activity->PendingExpiry(token.token_id);
        pending && *pending > expires_at) {
      expires_at = *pending;
    }
  }
  // Expired from expires_at on (core::StateAt).
  if (now >= expires_at) return tl::unexpected(InvalidToken());

  ActivityRecord activity{token.tenant_id, token.token_id, now, ctx.client_ip, std::nullopt};
  if (mobile) {
    core::TenantSettings settings;
    settings.mobile_idle_timeout = token.mobile_idle_timeout;
    settings.mobile_max_lifetime = token.mobile_max_lifetime;
    // Never move an expiry backwards (e.g. after the tenant shortened its timeouts).
    activity.new_expires_at =
        std::max(expires_at, core::SlideMobileExpiry(token.issued_at, now, settings));
    token.expires_at = *activity.new_expires_at;
  }
  if (options_.activity != nullptr) {
    options_.activity->Record(activity);
  } else {
    const store::TokenActivity row{std::string(activity.tenant_id), std::string(activity.token_id),
                                   activity.used_at, std::string(activity.client_ip),
                                   activity.new_expires_at};
    if (auto written = store_.RecordTokenActivity({&row, 1}); !written) {
      // Bookkeeping only: the request itself is authenticated.
      spdlog::warn("verify: recording activity of token {} failed: {}", token.token_id,
                   written.error().log_detail);
    }
  }
  if (mobile && options_.cache != nullptr) {
    options_.cache->ExtendExpiry(lookup_hash, token.expires_at);
  }
  return core::Ok();
}

core::Result<CreatedToken> TokenService::IssueMobileToken(const core::User& user,
                                                          const core::Membership& membership,
                                                          std::string device_name,
                                                          const RequestContext& ctx) {
  if (std::string why = core::CheckDeviceName(device_name); !why.empty()) {
    return tl::unexpected(core::FieldInvalid("device_name", why));
  }
  if (!user.active || std::find(user.memberships.begin(), user.memberships.end(), membership) ==
                          user.memberships.end()) {
    return tl::unexpected(core::FieldInvalid(
        "department_id", "The user does not hold a membership in this department."));
  }
  auto tenant = store_.GetTenant(user.tenant_id);
  if (!tenant) return tl::unexpected(tenant.error());
  auto tree = LoadTree(store_, user.tenant_id);
  if (!tree) return tl::unexpected(tree.error());
  auto user_type = store_.GetUserType(user.tenant_id, membership.user_type_id);
  if (!user_type) return tl::unexpected(user_type.error());
  const core::Department* department = tree->Find(membership.department_id);
  if (department == nullptr) return tl::unexpected(core::NotFound("Department not found."));
  const core::Time now = clock_.Now();

  std::string secret = core::GenerateToken(core::TokenKind::kMobile);
  core::Token token;
  token.id = core::NewId();
  token.tenant_id = user.tenant_id;
  token.kind = core::TokenKind::kMobile;
  token.lookup_hash = key_.LookupHash(secret);
  token.token_hint = core::TokenHint(secret);  // mobile tokens are never sealed
  token.user_id = user.id;
  token.department_id = department->id;
  token.user_type_id = user_type->id;
  token.created_by = user.id;
  token.device_name = std::move(device_name);
  token.created_at = now;
  token.expires_at = core::SlideMobileExpiry(now, now, tenant->settings);

  store::TokenRow row;
  row.token = token;
  row.user = UserRefOf(user);
  row.department = {department->id, department->name};
  row.user_type = {user_type->id, user_type->name};
  row.created_by = store::TokenRow::UserRef{user.id, user.username, "", ""};

  core::Principal actor;
  actor.tenant_id = user.tenant_id;
  actor.user_id = user.id;
  actor.username = user.username;
  auto details = TokenDetails(row);
  details.emplace_back("device_name", token.device_name);
  core::AuditEvent audit =
      MakeAuditEvent(&actor, user.tenant_id, "mobile.login", "token", token.id, ctx, now, details);
  if (auto created = store_.CreateToken(token, audit); !created) {
    return tl::unexpected(created.error());
  }
  if (options_.cache != nullptr) options_.cache->OnTokenCreated(token.lookup_hash);
  return CreatedToken{std::move(row), std::move(secret)};
}

}  // namespace tokend::service
