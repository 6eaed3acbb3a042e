// The Store: the one interface to persistent state. SQLite and PostgreSQL implement it and
// pass the same contract suite (store_contract_test.h).
//
// Contracts for every implementation:
//  1. Every call that reads or writes tenant data takes the tenant id and never touches rows
//     of another tenant. The single exception is FindCredential, which is keyed by a globally
//     unique lookup hash and returns the tenant it found.
//  2. Methods that change several rows (RevokeTokens, ReplaceMemberships via UpdateUser,
//     CreateToken + its audit event, ...) do so in one transaction: all or nothing.
//  3. Errors: kNotFound for an unknown id (in that tenant), kAlreadyExists for a unique
//     violation, kFailedPrecondition for a foreign-key conflict (e.g. deleting a department
//     that still has children or members), kUnavailable when the database cannot be reached
//     or is busy/read-only/full. Implementations never throw.
//  4. Thread-safe: one Store is shared by all request threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace tokend::store {

using core::Result;
using VoidResult = core::Result<void>;

// --- Queries -------------------------------------------------------------------------------

enum class TokenSort {
  kCreatedAt,  // default
  kName,
  kExpiresAt,
  kLastUsedAt,  // last_used_at; null sorts as oldest
  kUsername,
  kDepartment,
  kUserType,
};

enum class TokenStatusFilter { kAny, kActive, kExpired };

struct TokenQuery {
  core::TokenKind kind = core::TokenKind::kApi;
  std::string q;  // case-insensitive substring of token name, username, email or device name
  std::optional<std::string> user_id;
  std::optional<std::string> department_id;
  std::optional<std::string> user_type_id;
  // Caller scope: only tokens whose department is one of these. nullopt = the whole tenant.
  std::optional<std::vector<std::string>> department_scope;
  TokenStatusFilter status = TokenStatusFilter::kAny;
  core::Time now;  // for the status filter
  TokenSort sort = TokenSort::kCreatedAt;
  bool descending = true;
  int limit = 50;  // 1..200; the store clamps values outside
  // Keyset position: the sort key and id of the last row of the previous page (both or
  // neither). Rows are ordered by (sort value, id), both in the `descending` direction; the next
  // page starts strictly after (after_key, after_id). kInvalidArgument when after_key does not
  // parse for the sort (see TokenRow::sort_key).
  std::optional<std::string> after_key;
  std::optional<std::string> after_id;
};

// A token with the names the lists and detail views show, joined in one query.
struct TokenRow {
  core::Token token;
  struct UserRef {
    std::string id, username, email, display_name;
  } user;
  struct NamedRef {
    std::string id, name;
  } department, user_type;
  std::optional<UserRef> created_by;  // only id and username are filled
  // The sort key of this row as the store wants it back in TokenQuery::after_key:
  //   kCreatedAt, kExpiresAt: decimal Unix seconds ("1700000000");
  //   kLastUsedAt: decimal Unix seconds, "-1" when never used;
  //   kName, kUsername, kDepartment, kUserType: the text itself (ordered by bytes).
  std::string sort_key;
};

struct TokenPage {
  std::vector<TokenRow> rows;
  bool has_more = false;  // another page follows the last row
};

// Everything a verification needs, read in one round trip by lookup hash.
struct CredentialRecord {
  core::Token token;
  std::string username;
  bool user_active = false;
  core::PermissionSet permissions;  // the user type's current permissions
  // Whether the user still holds (department, user type) of the token.
  bool membership_held = false;
  core::TenantSettings tenant_settings;
};

struct UserQuery {
  std::string q;  // substring of username, email or display name
  std::optional<std::vector<std::string>> department_scope;  // users with a membership in these
  int limit = 50;
  std::optional<std::string> after_username;  // keyset by username
};

struct UserPage {
  std::vector<core::User> users;
  bool has_more = false;
};

struct AuditQuery {
  std::string action;  // exact; empty = any
  std::string actor_user_id;
  std::string target_id;
  std::optional<core::Time> since, until;  // both inclusive
  int limit = 50;
  // Keyset: events older than this one (newest first). An AuditEvent::id (decimal); anything
  // else is kInvalidArgument.
  std::optional<std::string> before_id;
};

struct AuditPage {
  std::vector<core::AuditEvent> events;
  bool has_more = false;
};

// A console session. The session id itself is never stored, only its keyed hash.
struct Session {
  std::string id_hash;
  std::string tenant_id;
  std::string user_id;
  std::string department_id;
  std::string user_type_id;
  std::string csrf_token;
  core::Time created_at;
  core::Time last_seen_at;
};

// Write-behind activity of one token (see service/activity.h).
struct TokenActivity {
  std::string tenant_id;
  std::string token_id;
  core::Time used_at;
  std::string client_ip;
  std::optional<core::Time> new_expires_at;  // mobile tokens: the slid expiry
};

// --- The interface -------------------------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;

  // Runs pending migrations. Idempotent. Called once at start-up.
  virtual VoidResult Migrate() = 0;
  // A cheap round trip, for /readyz.
  virtual VoidResult Ping() = 0;
  // For stores other processes can write without telling this one (SQLite: the CLI, another
  // tokend on the same file): a value that differs between two calls means another process
  // committed in between, so whatever this process cached from the store may be stale. Writes
  // through this object never change it. Stores that announce changes otherwise (PostgreSQL:
  // PgNotifier) return 0 forever.
  virtual Result<std::uint64_t> ExternalChangeVersion() { return std::uint64_t{0}; }

  // Tenants.
  virtual VoidResult CreateTenant(const core::Tenant& tenant) = 0;
  virtual Result<core::Tenant> GetTenant(const std::string& tenant_id) = 0;
  virtual Result<core::Tenant> GetTenantByName(const std::string& name) = 0;
  virtual Result<std::vector<core::Tenant>> ListTenants() = 0;
  virtual VoidResult UpdateTenantSettings(const std::string& tenant_id,
                                          const core::TenantSettings& settings) = 0;

  // Departments. A tenant's tree is small (hundreds): it is always read whole.
  virtual VoidResult CreateDepartment(const core::Department& department,
                                      const core::AuditEvent& audit) = 0;
  virtual Result<std::vector<core::Department>> ListDepartments(const std::string& tenant_id) = 0;
  // Updates name and parent_id.
  virtual VoidResult UpdateDepartment(const core::Department& department,
                                      const core::AuditEvent& audit) = 0;
  // kFailedPrecondition while children, memberships or live tokens reference it.
  virtual VoidResult DeleteDepartment(const std::string& tenant_id, const std::string& id,
                                      const core::AuditEvent& audit) = 0;

  // User types.
  virtual VoidResult CreateUserType(const core::UserType& user_type,
                                    const core::AuditEvent& audit) = 0;
  virtual Result<core::UserType> GetUserType(const std::string& tenant_id,
                                             const std::string& id) = 0;
  virtual Result<std::vector<core::UserType>> ListUserTypes(const std::string& tenant_id) = 0;
  // Updates name and permissions.
  virtual VoidResult UpdateUserType(const core::UserType& user_type,
                                    const core::AuditEvent& audit) = 0;
  // kFailedPrecondition while memberships or live tokens reference it.
  virtual VoidResult DeleteUserType(const std::string& tenant_id, const std::string& id,
                                    const core::AuditEvent& audit) = 0;

  // Users. Memberships are read and written with the user.
  virtual VoidResult CreateUser(const core::User& user, const core::AuditEvent& audit) = 0;
  virtual Result<core::User> GetUser(const std::string& tenant_id, const std::string& id) = 0;
  virtual Result<core::User> GetUserByUsername(const std::string& tenant_id,
                                               const std::string& username) = 0;
  virtual Result<UserPage> ListUsers(const std::string& tenant_id, const UserQuery& query) = 0;
  // Replaces every field including memberships and password_hash.
  virtual VoidResult UpdateUser(const core::User& user, const core::AuditEvent& audit) = 0;
  // Deletes the user and revokes all of its tokens, in one transaction.
  virtual VoidResult DeleteUser(const std::string& tenant_id, const std::string& id, core::Time now,
                                const core::AuditEvent& audit) = 0;

  // Tokens.
  // Inserts the token and its audit event in one transaction.
  virtual VoidResult CreateToken(const core::Token& token, const core::AuditEvent& audit) = 0;
  // Revoked tokens are kNotFound.
  virtual Result<TokenRow> GetToken(const std::string& tenant_id, const std::string& id) = 0;
  // The unrevoked tokens among `ids` (at most 10,000), in no particular order; unknown and
  // revoked ids are left out. The default asks GetToken once per id; a store overrides it
  // when it can read them all at once.
  virtual Result<std::vector<TokenRow>> GetTokens(const std::string& tenant_id,
                                                  std::span<const std::string> ids);
  // Only unrevoked tokens of `query.kind`.
  virtual Result<TokenPage> ListTokens(const std::string& tenant_id, const TokenQuery& query) = 0;
  // Revokes each listed token that is not yet revoked and appends the audit event whose
  // target_id names it, all in one transaction. Returns the ids actually revoked; ids already
  // revoked or unknown are left out. Idempotent: revoking twice is not an error.
  virtual Result<std::vector<std::string>> RevokeTokens(
      const std::string& tenant_id, std::span<const core::AuditEvent> audit_per_token,
      core::Time now) = 0;
  // By lookup hash, across tenants. Revoked tokens are returned too (the caller derives state).
  virtual Result<CredentialRecord> FindCredential(const std::string& lookup_hash) = 0;
  // Applies a batch of activity in one transaction; unknown or revoked tokens are skipped.
  virtual VoidResult RecordTokenActivity(std::span<const TokenActivity> batch) = 0;
  // Live (unrevoked, unexpired) tokens per kind, for /metrics.
  virtual Result<std::vector<std::pair<core::TokenKind, std::int64_t>>> CountLiveTokens(
      core::Time now) = 0;

  // Console sessions.
  virtual VoidResult CreateSession(const Session& session) = 0;
  virtual Result<Session> GetSession(const std::string& id_hash) = 0;
  virtual VoidResult TouchSession(const std::string& id_hash, core::Time now) = 0;
  // Idempotent.
  virtual VoidResult DeleteSession(const std::string& id_hash) = 0;

  // Audit trail. Every method taking an AuditEvent appends it; the store assigns `id`
  // (increasing with insertion order, so newest-first listing is by id) and ignores the
  // event's own `id` field.
  virtual VoidResult AppendAudit(const core::AuditEvent& event) = 0;
  virtual Result<AuditPage> ListAudit(const std::string& tenant_id, const AuditQuery& query) = 0;
};

// Opens the store named by `url`: "sqlite:///abs/path.db" (-> "/abs/path.db"),
// "sqlite://relative.db" (-> "relative.db"),
// "sqlite::memory:" (tests) or "postgresql://...". kInvalidArgument for an unknown scheme,
// kUnavailable when the database cannot be opened.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

}  // namespace tokend::store
