// The PostgreSQL store. How it keeps store.h's contracts:
//  - every call borrows one pooled connection (pg_pool.h) for one statement, or for one
//    BEGIN..COMMIT when it writes several rows or a row plus its audit event (contract 2);
//  - every query is a named constant, prepared once per connection; every tenant query filters
//    on tenant_id (contract 1), and tenant-owned foreign keys include it;
//  - errors map in one place (pg_connection.h); a slow server is cut off by statement_timeout
//    and an exhausted pool by the acquire timeout: kUnavailable, never a hang (contract 3);
//  - READ COMMITTED isolation, plus explicit row locks where tokens, which have no foreign
//    keys, race with deletes (see kTokenRefsExist);
//  - changes that can alter a verification are announced with NOTIFY in their transaction
//    (pg_notifier.h).
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_migrations.h"
#include "store/postgres/pg_notifier.h"
#include "store/postgres/pg_pool.h"
#include "store/postgres/pg_url.h"

namespace tokend::store {
namespace {

using core::Error;
using core::Ok;
using postgres::Connection;
using postgres::ConnectionPool;
using postgres::Params;
using postgres::PgResult;
using postgres::Query;

// --- Queries -------------------------------------------------------------------------------
// Every statement is prepared once per connection under its name. Sorted or keyset-compared
// text uses COLLATE "C" so that pages match the SQLite store's byte order.

constexpr std::string_view kTenantColumns =
    "id, name, api_token_max_lifetime_days, api_token_default_lifetime_days, api_token_reveal, "
    "mobile_idle_timeout_seconds, mobile_max_lifetime_seconds, console_idle_timeout_seconds, "
    "console_max_lifetime_seconds, created_at";

constexpr Query kPing{"ping", "SELECT 1"};

constexpr Query kInsertTenant{
    "tenant_insert",
    "INSERT INTO tenants (id, name, api_token_max_lifetime_days, api_token_default_lifetime_days, "
    "api_token_reveal, mobile_idle_timeout_seconds, mobile_max_lifetime_seconds, "
    "console_idle_timeout_seconds, console_max_lifetime_seconds, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"};
constexpr Query kGetTenant{
    "tenant_get",
    "SELECT id, name, api_token_max_lifetime_days, api_token_default_lifetime_days, "
    "api_token_reveal, mobile_idle_timeout_seconds, mobile_max_lifetime_seconds, "
    "console_idle_timeout_seconds, console_max_lifetime_seconds, created_at "
    "FROM tenants WHERE id = $1"};
constexpr Query kGetTenantByName{
    "tenant_get_by_name",
    "SELECT id, name, api_token_max_lifetime_days, api_token_default_lifetime_days, "
    "api_token_reveal, mobile_idle_timeout_seconds, mobile_max_lifetime_seconds, "
    "console_idle_timeout_seconds, console_max_lifetime_seconds, created_at "
    "FROM tenants WHERE name = $1"};
constexpr Query kListTenants{
    "tenant_list",
    "SELECT id, name, api_token_max_lifetime_days, api_token_default_lifetime_days, "
    "api_token_reveal, mobile_idle_timeout_seconds, mobile_max_lifetime_seconds, "
    "console_idle_timeout_seconds, console_max_lifetime_seconds, created_at "
    "FROM tenants ORDER BY created_at, id COLLATE \"C\""};
constexpr Query kUpdateTenantSettings{
    "tenant_update_settings",
    "UPDATE tenants SET api_token_max_lifetime_days = $2, api_token_default_lifetime_days = $3, "
    "api_token_reveal = $4, mobile_idle_timeout_seconds = $5, mobile_max_lifetime_seconds = $6, "
    "console_idle_timeout_seconds = $7, console_max_lifetime_seconds = $8 WHERE id = $1"};

constexpr Query kInsertDepartment{
    "department_insert",
    "INSERT INTO departments (tenant_id, id, name, parent_id, created_at) "
    "VALUES ($1, $2, $3, $4, $5)"};
constexpr Query kListDepartments{
    "department_list",
    "SELECT id, tenant_id, name, parent_id, created_at FROM departments WHERE tenant_id = $1 "
    "ORDER BY created_at, id COLLATE \"C\""};
constexpr Query kUpdateDepartment{
    "department_update",
    "UPDATE departments SET name = $3, parent_id = $4 WHERE tenant_id = $1 AND id = $2"};
constexpr Query kDepartmentInUse{
    "department_in_use",
    "SELECT EXISTS (SELECT 1 FROM departments WHERE tenant_id = $1 AND parent_id = $2) "
    "OR EXISTS (SELECT 1 FROM memberships WHERE tenant_id = $1 AND department_id = $2) "
    "OR EXISTS (SELECT 1 FROM tokens WHERE tenant_id = $1 AND department_id = $2 "
    "AND revoked_at IS NULL)"};
constexpr Query kDeleteDepartment{"department_delete",
                                  "DELETE FROM departments WHERE tenant_id = $1 AND id = $2"};

constexpr Query kInsertUserType{
    "user_type_insert",
    "INSERT INTO user_types (tenant_id, id, name, permissions, created_at) "
    "VALUES ($1, $2, $3, $4, $5)"};
constexpr Query kGetUserType{"user_type_get",
                             "SELECT id, tenant_id, name, permissions, created_at FROM user_types "
                             "WHERE tenant_id = $1 AND id = $2"};
constexpr Query kListUserTypes{
    "user_type_list",
    "SELECT id, tenant_id, name, permissions, created_at FROM user_types WHERE tenant_id = $1 "
    "ORDER BY created_at, id COLLATE \"C\""};
constexpr Query kUpdateUserType{
    "user_type_update",
    "UPDATE user_types SET name = $3, permissions = $4 WHERE tenant_id = $1 AND id = $2"};
constexpr Query kUserTypeInUse{
    "user_type_in_use",
    "SELECT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_type_id = $2) "
    "OR EXISTS (SELECT 1 FROM tokens WHERE tenant_id = $1 AND user_type_id = $2 "
    "AND revoked_at IS NULL)"};
constexpr Query kDeleteUserType{"user_type_delete",
                                "DELETE FROM user_types WHERE tenant_id = $1 AND id = $2"};

constexpr Query kInsertUser{
    "user_insert",
    "INSERT INTO users (tenant_id, id, username, email, display_name, password_hash, active, "
    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"};
constexpr Query kGetUser{
    "user_get",
    "SELECT id, tenant_id, username, email, display_name, password_hash, active, created_at "
    "FROM users WHERE tenant_id = $1 AND id = $2"};
constexpr Query kGetUserByUsername{
    "user_get_by_username",
    "SELECT id, tenant_id, username, email, display_name, password_hash, active, created_at "
    "FROM users WHERE tenant_id = $1 AND username = $2"};
constexpr Query kListUsers{
    "user_list",
    "SELECT id, tenant_id, username, email, display_name, password_hash, active, created_at "
    "FROM users u WHERE tenant_id = $1 "
    "AND ($2::text = '' OR strpos(lower(username), lower($2)) > 0 "
    "  OR strpos(lower(email), lower($2)) > 0 OR strpos(lower(display_name), lower($2)) > 0) "
    "AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = "
    "  u.tenant_id AND m.user_id = u.id AND m.department_id = ANY ($3::text[]))) "
    "AND ($4::text IS NULL OR username COLLATE \"C\" > $4::text) "
    "ORDER BY username COLLATE \"C\" LIMIT $5"};
constexpr Query kUpdateUser{
    "user_update",
    "UPDATE users SET username = $3, email = $4, display_name = $5, password_hash = $6, "
    "active = $7 WHERE tenant_id = $1 AND id = $2"};
constexpr Query kDeleteUser{"user_delete", "DELETE FROM users WHERE tenant_id = $1 AND id = $2"};
constexpr Query kRevokeUserTokens{
    "user_revoke_tokens",
    "UPDATE tokens SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 "
    "AND revoked_at IS NULL"};

constexpr Query kInsertMembership{
    "membership_insert",
    "INSERT INTO memberships (tenant_id, user_id, department_id, user_type_id, position) "
    "VALUES ($1, $2, $3, $4, $5)"};
constexpr Query kDeleteMemberships{"membership_delete_all",
                                   "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2"};
constexpr Query kListMemberships{
    "membership_list",
    "SELECT user_id, department_id, user_type_id FROM memberships "
    "WHERE tenant_id = $1 AND user_id = ANY ($2::text[]) ORDER BY user_id, position"};

#define TOKEND_TOKEN_COLUMNS                                                                \
  "t.tenant_id, t.id, t.kind, t.name, t.description, t.lookup_hash, t.sealed_secret, "      \
  "t.token_hint, t.user_id, t.department_id, t.user_type_id, t.created_by, t.device_name, " \
  "t.created_at, t.expires_at, t.last_used_at, t.last_used_ip, t.revoked_at"
constexpr int kTokenColumnCount = 18;

// TokenRow = token columns + these, in this order.
#define TOKEND_TOKEN_ROW_SELECT                                                       \
  "SELECT " TOKEND_TOKEN_COLUMNS                                                      \
  ", coalesce(u.username, ''), coalesce(u.email, ''), coalesce(u.display_name, ''), " \
  "coalesce(d.name, ''), coalesce(ut.name, ''), cb.username "
#define TOKEND_TOKEN_ROW_JOINS                                                        \
  "FROM tokens t "                                                                    \
  "LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id "              \
  "LEFT JOIN departments d ON d.tenant_id = t.tenant_id AND d.id = t.department_id "  \
  "LEFT JOIN user_types ut ON ut.tenant_id = t.tenant_id AND ut.id = t.user_type_id " \
  "LEFT JOIN users cb ON cb.tenant_id = t.tenant_id AND cb.id = t.created_by "

// Tokens have no foreign keys, so PostgreSQL's concurrency is handled by hand: CreateToken
// key-share-locks the rows it references (as a foreign key check would), and the deletes
// below lock their row FOR UPDATE before checking for live tokens. Whichever commits first,
// the other sees it: no live token can reference a deleted user, department or user type.
constexpr Query kTokenRefsExist{
    "token_refs_exist",
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 "
    "  FOR KEY SHARE) AS u) "
    "+ (SELECT count(*) FROM (SELECT 1 FROM departments WHERE tenant_id = $1 AND id = $3 "
    "  FOR KEY SHARE) AS d) "
    "+ (SELECT count(*) FROM (SELECT 1 FROM user_types WHERE tenant_id = $1 AND id = $4 "
    "  FOR KEY SHARE) AS ut) = 3"};
constexpr Query kLockDepartment{
    "department_lock", "SELECT 1 FROM departments WHERE tenant_id = $1 AND id = $2 FOR UPDATE"};
constexpr Query kLockUserType{
    "user_type_lock", "SELECT 1 FROM user_types WHERE tenant_id = $1 AND id = $2 FOR UPDATE"};
constexpr Query kLockUser{"user_lock",
                          "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE"};
constexpr Query kInsertToken{
    "token_insert",
    "INSERT INTO tokens (tenant_id, id, kind, name, description, lookup_hash, sealed_secret, "
    "token_hint, user_id, department_id, user_type_id, created_by, device_name, created_at, "
    "expires_at, last_used_at, last_used_ip, revoked_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"};
constexpr Query kGetToken{"token_get", TOKEND_TOKEN_ROW_SELECT TOKEND_TOKEN_ROW_JOINS
                          "WHERE t.tenant_id = $1 AND t.id = $2 AND t.revoked_at IS NULL"};
constexpr Query kRevokeToken{
    "token_revoke",
    "UPDATE tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL"};
constexpr Query kFindCredential{
    "token_find_credential",
    "SELECT " TOKEND_TOKEN_COLUMNS
    ", coalesce(u.username, ''), coalesce(u.active, false), coalesce(ut.permissions, ''), "
    "EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = t.tenant_id AND m.user_id = "
    "  t.user_id AND m.department_id = t.department_id AND m.user_type_id = t.user_type_id), "
    "tn.api_token_max_lifetime_days, tn.api_token_default_lifetime_days, tn.api_token_reveal, "
    "tn.mobile_idle_timeout_seconds, tn.mobile_max_lifetime_seconds, "
    "tn.console_idle_timeout_seconds, tn.console_max_lifetime_seconds "
    "FROM tokens t JOIN tenants tn ON tn.id = t.tenant_id "
    "LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id "
    "LEFT JOIN user_types ut ON ut.tenant_id = t.tenant_id AND ut.id = t.user_type_id "
    "WHERE t.lookup_hash = $1"};
constexpr Query kRecordActivity{"token_record_activity",
                                "UPDATE tokens SET last_used_at = $3, last_used_ip = $4, "
                                "expires_at = coalesce($5::bigint, expires_at) "
                                "WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL"};
constexpr Query kCountLiveTokens{
    "token_count_live",
    "SELECT kind, count(*) FROM tokens WHERE revoked_at IS NULL AND expires_at > $1 "
    "GROUP BY kind ORDER BY kind"};

// Delivered to listeners only if the surrounding transaction commits (see pg_notifier.h).
constexpr Query kNotify{"notify", "SELECT pg_notify('tokend_invalidate', $1)"};

constexpr Query kInsertSession{
    "session_insert",
    "INSERT INTO sessions (id_hash, tenant_id, user_id, department_id, user_type_id, csrf_token, "
    "created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"};
constexpr Query kGetSession{
    "session_get",
    "SELECT id_hash, tenant_id, user_id, department_id, user_type_id, csrf_token, created_at, "
    "last_seen_at FROM sessions WHERE id_hash = $1"};
constexpr Query kTouchSession{"session_touch",
                              "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1"};
constexpr Query kDeleteSession{"session_delete", "DELETE FROM sessions WHERE id_hash = $1"};

constexpr Query kInsertAudit{
    "audit_insert",
    "INSERT INTO audit_events (tenant_id, time, actor_user_id, actor_username, action, "
    "target_type, target_id, client_ip, details_json) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"};
constexpr Query kListAudit{
    "audit_list",
    "SELECT id, tenant_id, time, actor_user_id, actor_username, action, target_type, target_id, "
    "client_ip, details_json FROM audit_events WHERE tenant_id = $1 "
    "AND ($2::text = '' OR action = $2) AND ($3::text = '' OR actor_user_id = $3) "
    "AND ($4::text = '' OR target_id = $4) AND ($5::bigint IS NULL OR time >= $5) "
    "AND ($6::bigint IS NULL OR time <= $6) AND ($7::bigint IS NULL OR id < $7) "
    "ORDER BY id DESC LIMIT $8"};

// ListTokens: one prepared statement per (sort, direction), built once.
struct SortSpec {
  TokenSort sort;
  std::string_view key;  // SQL expression of the sort value
  bool numeric;          // key is BIGINT (after_key must parse as an integer)
};
constexpr std::array<SortSpec, 7> kSorts = {{
    {TokenSort::kCreatedAt, "t.created_at", true},
    {TokenSort::kName, "t.name COLLATE \"C\"", false},
    {TokenSort::kExpiresAt, "t.expires_at", true},
    {TokenSort::kLastUsedAt, "coalesce(t.last_used_at, -1)", true},
    {TokenSort::kUsername, "coalesce(u.username, '') COLLATE \"C\"", false},
    {TokenSort::kDepartment, "coalesce(d.name, '') COLLATE \"C\"", false},
    {TokenSort::kUserType, "coalesce(ut.name, '') COLLATE \"C\"", false},
}};

struct ListTokensStatement {
  std::string name;
  std::string sql;
  bool numeric;
};

// Parameters: $1 tenant, $2 kind, $3 q, $4 user, $5 department, $6 user type, $7 scope,
// $8 status (0 any, 1 active, 2 expired), $9 now, $10 after_key, $11 after_id, $12 limit.
std::string BuildListTokensSql(const SortSpec& spec, bool descending) {
  const std::string key(spec.key);
  const std::string cmp = descending ? "<" : ">";
  const std::string dir = descending ? " DESC" : " ASC";
  return std::string(TOKEND_TOKEN_ROW_SELECT) + ", (" + key + ")::text " + TOKEND_TOKEN_ROW_JOINS +
         "WHERE t.tenant_id = $1 AND t.kind = $2 AND t.revoked_at IS NULL "
         "AND ($3::text = '' OR strpos(lower(t.name), lower($3)) > 0 "
         "  OR strpos(lower(coalesce(u.username, '')), lower($3)) > 0 "
         "  OR strpos(lower(coalesce(u.email, '')), lower($3)) > 0 "
         "  OR strpos(lower(t.device_name), lower($3)) > 0) "
         "AND ($4::text IS NULL OR t.user_id = $4) "
         "AND ($5::text IS NULL OR t.department_id = $5) "
         "AND ($6::text IS NULL OR t.user_type_id = $6) "
         "AND ($7::text[] IS NULL OR t.department_id = ANY ($7::text[])) "
         "AND ($8::int = 0 OR ($8 = 1 AND t.expires_at > $9::bigint) "
         "  OR ($8 = 2 AND t.expires_at <= $9::bigint)) "
         "AND ($10::" +
         (spec.numeric ? "bigint" : "text") + " IS NULL OR (" + key + ", t.id COLLATE \"C\") " +
         cmp + " ($10, $11::text)) ORDER BY " + key + dir + ", t.id COLLATE \"C\"" + dir +
         " LIMIT $12";
}

const ListTokensStatement& ListTokensFor(TokenSort sort, bool descending) {
  static const auto statements = [] {
    std::vector<ListTokensStatement> all;
    for (const SortSpec& spec : kSorts) {
      for (bool desc : {false, true}) {
        all.push_back({"token_list_" + std::to_string(static_cast<int>(spec.sort)) +
                           (desc ? "_desc" : "_asc"),
                       BuildListTokensSql(spec, desc), spec.numeric});
      }
    }
    return all;
  }();
  for (std::size_t i = 0; i < kSorts.size(); ++i) {
    if (kSorts[i].sort == sort) return statements[i * 2 + (descending ? 1 : 0)];
  }
  return statements[1];  // kCreatedAt, descending: the default
}

// --- Row readers ---------------------------------------------------------------------------

core::Tenant ReadTenant(const PgResult& r, int row) {
  core::Tenant t;
  t.id = r.Text(row, 0);
  t.name = r.Text(row, 1);
  t.settings.api_token_max_lifetime_days = static_cast<int>(r.Int(row, 2));
  t.settings.api_token_default_lifetime_days = static_cast<int>(r.Int(row, 3));
  t.settings.api_token_reveal = r.Bool(row, 4);
  t.settings.mobile_idle_timeout = core::seconds{r.Int(row, 5)};
  t.settings.mobile_max_lifetime = core::seconds{r.Int(row, 6)};
  t.settings.console_idle_timeout = core::seconds{r.Int(row, 7)};
  t.settings.console_max_lifetime = core::seconds{r.Int(row, 8)};
  t.created_at = core::FromUnixSeconds(r.Int(row, 9));
  return t;
}

Params& AddSettings(Params& p, const core::TenantSettings& s) {
  return p.Int(s.api_token_max_lifetime_days)
      .Int(s.api_token_default_lifetime_days)
      .Bool(s.api_token_reveal)
      .Int(s.mobile_idle_timeout.count())
      .Int(s.mobile_max_lifetime.count())
      .Int(s.console_idle_timeout.count())
      .Int(s.console_max_lifetime.count());
}

core::Department ReadDepartment(const PgResult& r, int row) {
  return core::Department{r.Text(row, 0), r.Text(row, 1), r.Text(row, 2), r.OptText(row, 3),
                          core::FromUnixSeconds(r.Int(row, 4))};
}

// Stored as space-separated names; unknown names (from a newer version) are ignored.
core::PermissionSet ParsePermissions(std::string_view text) {
  core::PermissionSet set;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view name = text.substr(0, space);
    if (auto p = core::ParsePermission(name)) set.Add(*p);
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return set;
}

core::UserType ReadUserType(const PgResult& r, int row) {
  return core::UserType{r.Text(row, 0), r.Text(row, 1), r.Text(row, 2),
                        ParsePermissions(r.Text(row, 3)), core::FromUnixSeconds(r.Int(row, 4))};
}

core::User ReadUser(const PgResult& r, int row) {
  core::User u;
  u.id = r.Text(row, 0);
  u.tenant_id = r.Text(row, 1);
  u.username = r.Text(row, 2);
  u.email = r.Text(row, 3);
  u.display_name = r.Text(row, 4);
  u.password_hash = r.Text(row, 5);
  u.active = r.Bool(row, 6);
  u.created_at = core::FromUnixSeconds(r.Int(row, 7));
  return u;
}

std::optional<core::Time> OptTime(const PgResult& r, int row, int col) {
  auto value = r.OptInt(row, col);
  if (!value) return std::nullopt;
  return core::FromUnixSeconds(*value);
}

core::Token ReadToken(const PgResult& r, int row) {
  core::Token t;
  t.tenant_id = r.Text(row, 0);
  t.id = r.Text(row, 1);
  t.kind = static_cast<core::TokenKind>(r.Int(row, 2));
  t.name = r.Text(row, 3);
  t.description = r.Text(row, 4);
  t.lookup_hash = r.Bytes(row, 5);
  t.sealed_secret = r.OptBytes(row, 6);
  t.token_hint = r.Text(row, 7);
  t.user_id = r.Text(row, 8);
  t.department_id = r.Text(row, 9);
  t.user_type_id = r.Text(row, 10);
  t.created_by = r.OptText(row, 11);
  t.device_name = r.Text(row, 12);
  t.created_at = core::FromUnixSeconds(r.Int(row, 13));
  t.expires_at = core::FromUnixSeconds(r.Int(row, 14));
  t.last_used_at = OptTime(r, row, 15);
  t.last_used_ip = r.OptText(row, 16);
  t.revoked_at = OptTime(r, row, 17);
  return t;
}

TokenRow ReadTokenRow(const PgResult& r, int row) {
  TokenRow out;
  out.token = ReadToken(r, row);
  constexpr int c = kTokenColumnCount;
  out.user = {out.token.user_id, r.Text(row, c), r.Text(row, c + 1), r.Text(row, c + 2)};
  out.department = {out.token.department_id, r.Text(row, c + 3)};
  out.user_type = {out.token.user_type_id, r.Text(row, c + 4)};
  if (out.token.created_by) {
    out.created_by =
        TokenRow::UserRef{*out.token.created_by, r.OptText(row, c + 5).value_or(""), "", ""};
  }
  return out;
}

std::optional<std::int64_t> OptSeconds(const std::optional<core::Time>& t) {
  if (!t) return std::nullopt;
  return core::ToUnixSeconds(*t);
}

Params TokenInsertParams(const core::Token& t) {
  Params p;
  p.Text(t.tenant_id)
      .Text(t.id)
      .Int(static_cast<int>(t.kind))
      .Text(t.name)
      .Text(t.description)
      .Bytes(t.lookup_hash)
      .OptBytes(t.sealed_secret)
      .Text(t.token_hint)
      .Text(t.user_id)
      .Text(t.department_id)
      .Text(t.user_type_id)
      .OptText(t.created_by)
      .Text(t.device_name)
      .Int(core::ToUnixSeconds(t.created_at))
      .Int(core::ToUnixSeconds(t.expires_at))
      .OptInt(OptSeconds(t.last_used_at))
      .OptText(t.last_used_ip)
      .OptInt(OptSeconds(t.revoked_at));
  return p;
}

Params AuditParams(const core::AuditEvent& e) {
  Params p;
  p.Text(e.tenant_id)
      .Int(core::ToUnixSeconds(e.time))
      .OptText(e.actor_user_id)
      .Text(e.actor_username)
      .Text(e.action)
      .Text(e.target_type)
      .Text(e.target_id)
      .Text(e.client_ip)
      .Text(e.details_json);
  return p;
}

std::optional<std::int64_t> ParseInt64(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

int ClampLimit(int limit) { return std::clamp(limit, 1, 200); }

// --- The store -----------------------------------------------------------------------------

class PostgresStore final : public Store {
 public:
  PostgresStore(postgres::ConnectionSettings settings, std::size_t pool_size,
                std::chrono::milliseconds acquire_timeout)
      : pool_(std::move(settings), pool_size, acquire_timeout) {}

  // Runs `f(conn)` on a pooled connection.
  template <typename F>
  auto WithConnection(F&& f) -> decltype(f(std::declval<Connection&>())) {
    auto lease = pool_.Acquire();
    if (!lease) return tl::unexpected(std::move(lease.error()));
    return f(**lease);
  }

  // Runs `f(conn)` inside BEGIN/COMMIT; rolls back when it fails. All or nothing
  // (store.h contract 2).
  template <typename F>
  auto InTransaction(F&& f) -> decltype(f(std::declval<Connection&>())) {
    auto lease = pool_.Acquire();
    if (!lease) return tl::unexpected(std::move(lease.error()));
    Connection& conn = **lease;
    if (auto begun = conn.ExecSql("BEGIN"); !begun) return tl::unexpected(begun.error());
    auto result = f(conn);
    if (!result) {
      // A broken connection rolls back on its own and is dropped by the pool.
      (void)conn.ExecSql("ROLLBACK");
      return result;
    }
    if (auto committed = conn.ExecSql("COMMIT"); !committed) {
      return tl::unexpected(committed.error());
    }
    return result;
  }

  // Runs one statement on a pooled connection.
  Result<PgResult> Exec(const Query& query, const Params& params) {
    return WithConnection([&](Connection& conn) { return conn.Exec(query, params); });
  }

  VoidResult Migrate() override {
    return WithConnection([](Connection& conn) { return postgres::RunMigrations(conn); });
  }

  VoidResult Ping() override {
    auto r = Exec(kPing, {});
    if (!r) return tl::unexpected(std::move(r.error()));
    return Ok();
  }

  // --- Tenants ---

  VoidResult CreateTenant(const core::Tenant& tenant) override {
    Params p;
    p.Text(tenant.id).Text(tenant.name);
    AddSettings(p, tenant.settings).Int(core::ToUnixSeconds(tenant.created_at));
    auto r = Exec(kInsertTenant, p);
    if (!r) return Fail(std::move(r.error()), "A tenant with this name already exists.");
    return Ok();
  }

  Result<core::Tenant> GetTenant(const std::string& tenant_id) override {
    return GetOneTenant(kGetTenant, tenant_id);
  }

  Result<core::Tenant> GetTenantByName(const std::string& name) override {
    return GetOneTenant(kGetTenantByName, name);
  }

  Result<std::vector<core::Tenant>> ListTenants() override {
    auto r = Exec(kListTenants, {});
    if (!r) return tl::unexpected(std::move(r.error()));
    std::vector<core::Tenant> tenants;
    for (int i = 0; i < r->rows(); ++i) tenants.push_back(ReadTenant(*r, i));
    return tenants;
  }

  VoidResult UpdateTenantSettings(const std::string& tenant_id,
                                  const core::TenantSettings& settings) override {
    Params p;
    p.Text(tenant_id);
    AddSettings(p, settings);
    return InTransaction([&](Connection& conn) -> VoidResult {
      auto r = conn.Exec(kUpdateTenantSettings, p);
      if (!r) return tl::unexpected(std::move(r.error()));
      if (r->affected() == 0) return tl::unexpected(core::NotFound("Tenant not found."));
      return Announce(conn, Kind::kTenant, tenant_id, "");
    });
  }

  // --- Departments ---

  VoidResult CreateDepartment(const core::Department& d, const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto inserted = conn.Exec(kInsertDepartment, Params()
                                                       .Text(d.tenant_id)
                                                       .Text(d.id)
                                                       .Text(d.name)
                                                       .OptText(d.parent_id)
                                                       .Int(core::ToUnixSeconds(d.created_at)));
      if (!inserted) return tl::unexpected(std::move(inserted.error()));
      return Audit(conn, audit);
    });
    if (!r) {
      return Fail(std::move(r.error()), "A department with this id already exists.",
                  "The parent department does not exist.");
    }
    return Ok();
  }

  Result<std::vector<core::Department>> ListDepartments(const std::string& tenant_id) override {
    auto r = Exec(kListDepartments, Params().Text(tenant_id));
    if (!r) return tl::unexpected(std::move(r.error()));
    std::vector<core::Department> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back(ReadDepartment(*r, i));
    return out;
  }

  VoidResult UpdateDepartment(const core::Department& d, const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto updated =
          conn.Exec(kUpdateDepartment,
                    Params().Text(d.tenant_id).Text(d.id).Text(d.name).OptText(d.parent_id));
      if (!updated) return tl::unexpected(std::move(updated.error()));
      if (updated->affected() == 0) return tl::unexpected(core::NotFound("Department not found."));
      if (auto a = Audit(conn, audit); !a) return a;
      return Announce(conn, Kind::kDepartment, d.tenant_id, d.id);
    });
    if (!r) return Fail(std::move(r.error()), "", "The parent department does not exist.");
    return Ok();
  }

  VoidResult DeleteDepartment(const std::string& tenant_id, const std::string& id,
                              const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto locked = conn.Exec(kLockDepartment, Params().Text(tenant_id).Text(id));
      if (!locked) return tl::unexpected(std::move(locked.error()));
      if (locked->rows() == 0) return tl::unexpected(core::NotFound("Department not found."));
      auto in_use = conn.Exec(kDepartmentInUse, Params().Text(tenant_id).Text(id));
      if (!in_use) return tl::unexpected(std::move(in_use.error()));
      if (in_use->Bool(0, 0)) {
        return tl::unexpected(core::FailedPrecondition(
            "The department still has sub-departments, members or tokens."));
      }
      auto deleted = conn.Exec(kDeleteDepartment, Params().Text(tenant_id).Text(id));
      if (!deleted) return tl::unexpected(std::move(deleted.error()));
      if (deleted->affected() == 0) return tl::unexpected(core::NotFound("Department not found."));
      if (auto a = Audit(conn, audit); !a) return a;
      return Announce(conn, Kind::kDepartment, tenant_id, id);
    });
    if (!r) {
      return Fail(std::move(r.error()), "",
                  "The department still has sub-departments, members or tokens.");
    }
    return Ok();
  }

  // --- User types ---

  VoidResult CreateUserType(const core::UserType& ut, const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto inserted = conn.Exec(kInsertUserType, Params()
                                                     .Text(ut.tenant_id)
                                                     .Text(ut.id)
                                                     .Text(ut.name)
                                                     .Text(ut.permissions.ToScopeString())
                                                     .Int(core::ToUnixSeconds(ut.created_at)));
      if (!inserted) return tl::unexpected(std::move(inserted.error()));
      return Audit(conn, audit);
    });
    if (!r) return Fail(std::move(r.error()), "A user type with this id already exists.");
    return Ok();
  }

  Result<core::UserType> GetUserType(const std::string& tenant_id, const std::string& id) override {
    auto r = Exec(kGetUserType, Params().Text(tenant_id).Text(id));
    if (!r) return tl::unexpected(std::move(r.error()));
    if (r->rows() == 0) return tl::unexpected(core::NotFound("User type not found."));
    return ReadUserType(*r, 0);
  }

  Result<std::vector<core::UserType>> ListUserTypes(const std::string& tenant_id) override {
    auto r = Exec(kListUserTypes, Params().Text(tenant_id));
    if (!r) return tl::unexpected(std::move(r.error()));
    std::vector<core::UserType> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back(ReadUserType(*r, i));
    return out;
  }

  VoidResult UpdateUserType(const core::UserType& ut, const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto updated = conn.Exec(kUpdateUserType, Params()
                                                    .Text(ut.tenant_id)
                                                    .Text(ut.id)
                                                    .Text(ut.name)
                                                    .Text(ut.permissions.ToScopeString()));
      if (!updated) return tl::unexpected(std::move(updated.error()));
      if (updated->affected() == 0) return tl::unexpected(core::NotFound("User type not found."));
      if (auto a = Audit(conn, audit); !a) return a;
      return Announce(conn, Kind::kUserType, ut.tenant_id, ut.id);
    });
    if (!r) return tl::unexpected(std::move(r.error()));
    return Ok();
  }

  VoidResult DeleteUserType(const std::string& tenant_id, const std::string& id,
                            const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto locked = conn.Exec(kLockUserType, Params().Text(tenant_id).Text(id));
      if (!locked) return tl::unexpected(std::move(locked.error()));
      if (locked->rows() == 0) return tl::unexpected(core::NotFound("User type not found."));
      auto in_use = conn.Exec(kUserTypeInUse, Params().Text(tenant_id).Text(id));
      if (!in_use) return tl::unexpected(std::move(in_use.error()));
      if (in_use->Bool(0, 0)) {
        return tl::unexpected(
            core::FailedPrecondition("The user type is still granted or used by tokens."));
      }
      auto deleted = conn.Exec(kDeleteUserType, Params().Text(tenant_id).Text(id));
      if (!deleted) return tl::unexpected(std::move(deleted.error()));
      if (deleted->affected() == 0) return tl::unexpected(core::NotFound("User type not found."));
      if (auto a = Audit(conn, audit); !a) return a;
      return Announce(conn, Kind::kUserType, tenant_id, id);
    });
    if (!r) {
      return Fail(std::move(r.error()), "", "The user type is still granted or used by tokens.");
    }
    return Ok();
  }

  // --- Users ---

  VoidResult CreateUser(const core::User& u, const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto inserted = conn.Exec(kInsertUser, Params()
                                                 .Text(u.tenant_id)
                                                 .Text(u.id)
                                                 .Text(u.username)
                                                 .Text(u.email)
                                                 .Text(u.display_name)
                                                 .Text(u.password_hash)
                                                 .Bool(u.active)
                                                 .Int(core::ToUnixSeconds(u.created_at)));
      if (!inserted) return tl::unexpected(std::move(inserted.error()));
      if (auto m = InsertMemberships(conn, u); !m) return m;
      return Audit(conn, audit);
    });
    if (!r) {
      return Fail(std::move(r.error()), "This username is already taken.",
                  "A membership names a department or user type that does not exist.");
    }
    return Ok();
  }

  Result<core::User> GetUser(const std::string& tenant_id, const std::string& id) override {
    return GetOneUser(kGetUser, tenant_id, id);
  }

  Result<core::User> GetUserByUsername(const std::string& tenant_id,
                                       const std::string& username) override {
    return GetOneUser(kGetUserByUsername, tenant_id, username);
  }

  Result<UserPage> ListUsers(const std::string& tenant_id, const UserQuery& query) override {
    const int limit = ClampLimit(query.limit);
    return WithConnection([&](Connection& conn) -> Result<UserPage> {
      auto r = conn.Exec(kListUsers, Params()
                                         .Text(tenant_id)
                                         .Text(query.q)
                                         .TextArray(query.department_scope)
                                         .OptText(query.after_username)
                                         .Int(limit + 1));
      if (!r) return tl::unexpected(std::move(r.error()));
      UserPage page;
      for (int i = 0; i < r->rows() && i < limit; ++i) page.users.push_back(ReadUser(*r, i));
      page.has_more = r->rows() > limit;
      if (auto m = LoadMemberships(conn, tenant_id, page.users); !m) {
        return tl::unexpected(std::move(m.error()));
      }
      return page;
    });
  }

  VoidResult UpdateUser(const core::User& u, const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      auto updated = conn.Exec(kUpdateUser, Params()
                                                .Text(u.tenant_id)
                                                .Text(u.id)
                                                .Text(u.username)
                                                .Text(u.email)
                                                .Text(u.display_name)
                                                .Text(u.password_hash)
                                                .Bool(u.active));
      if (!updated) return tl::unexpected(std::move(updated.error()));
      if (updated->affected() == 0) return tl::unexpected(core::NotFound("User not found."));
      auto cleared = conn.Exec(kDeleteMemberships, Params().Text(u.tenant_id).Text(u.id));
      if (!cleared) return tl::unexpected(std::move(cleared.error()));
      if (auto m = InsertMemberships(conn, u); !m) return m;
      if (auto a = Audit(conn, audit); !a) return a;
      return Announce(conn, Kind::kUser, u.tenant_id, u.id);
    });
    if (!r) {
      return Fail(std::move(r.error()), "This username is already taken.",
                  "A membership names a department or user type that does not exist.");
    }
    return Ok();
  }

  VoidResult DeleteUser(const std::string& tenant_id, const std::string& id, core::Time now,
                        const core::AuditEvent& audit) override {
    return InTransaction([&](Connection& conn) -> VoidResult {
      auto locked = conn.Exec(kLockUser, Params().Text(tenant_id).Text(id));
      if (!locked) return tl::unexpected(std::move(locked.error()));
      if (locked->rows() == 0) return tl::unexpected(core::NotFound("User not found."));
      auto revoked = conn.Exec(kRevokeUserTokens,
                               Params().Text(tenant_id).Text(id).Int(core::ToUnixSeconds(now)));
      if (!revoked) return tl::unexpected(std::move(revoked.error()));
      // Memberships and sessions go with the user (ON DELETE CASCADE).
      auto deleted = conn.Exec(kDeleteUser, Params().Text(tenant_id).Text(id));
      if (!deleted) return tl::unexpected(std::move(deleted.error()));
      if (deleted->affected() == 0) return tl::unexpected(core::NotFound("User not found."));
      if (auto a = Audit(conn, audit); !a) return a;
      return Announce(conn, Kind::kUser, tenant_id, id);
    });
  }

  // --- Tokens ---

  VoidResult CreateToken(const core::Token& token, const core::AuditEvent& audit) override {
    auto r = InTransaction([&](Connection& conn) -> VoidResult {
      // Tokens have no foreign keys (a revoked token outlives its user): check here.
      auto refs = conn.Exec(kTokenRefsExist, Params()
                                                 .Text(token.tenant_id)
                                                 .Text(token.user_id)
                                                 .Text(token.department_id)
                                                 .Text(token.user_type_id));
      if (!refs) return tl::unexpected(std::move(refs.error()));
      if (!refs->Bool(0, 0)) {
        return tl::unexpected(
            core::FailedPrecondition("The token's user, department or user type does not exist."));
      }
      auto inserted = conn.Exec(kInsertToken, TokenInsertParams(token));
      if (!inserted) return tl::unexpected(std::move(inserted.error()));
      return Audit(conn, audit);
    });
    if (!r) {
      return Fail(std::move(r.error()), "The token already exists.",
                  "The token's tenant does not exist.");
    }
    return Ok();
  }

  Result<TokenRow> GetToken(const std::string& tenant_id, const std::string& id) override {
    auto r = Exec(kGetToken, Params().Text(tenant_id).Text(id));
    if (!r) return tl::unexpected(std::move(r.error()));
    if (r->rows() == 0) return tl::unexpected(core::NotFound("Token not found."));
    return ReadTokenRow(*r, 0);
  }

  Result<TokenPage> ListTokens(const std::string& tenant_id, const TokenQuery& query) override {
    const ListTokensStatement& statement = ListTokensFor(query.sort, query.descending);
    if (query.after_key.has_value() != query.after_id.has_value()) {
      return tl::unexpected(
          core::InvalidArgument("The page cursor is incomplete: it needs a key and an id."));
    }
    if (query.after_key && statement.numeric && !ParseInt64(*query.after_key)) {
      return tl::unexpected(core::InvalidArgument("The page cursor is malformed."));
    }
    const int limit = ClampLimit(query.limit);
    const int status = query.status == TokenStatusFilter::kActive    ? 1
                       : query.status == TokenStatusFilter::kExpired ? 2
                                                                     : 0;
    Params p;
    p.Text(tenant_id)
        .Int(static_cast<int>(query.kind))
        .Text(query.q)
        .OptText(query.user_id)
        .OptText(query.department_id)
        .OptText(query.user_type_id)
        .TextArray(query.department_scope)
        .Int(status)
        .Int(core::ToUnixSeconds(query.now))
        .OptText(query.after_key)
        .OptText(query.after_id)
        .Int(limit + 1);
    auto r = Exec(Query{statement.name, statement.sql}, p);
    if (!r) return tl::unexpected(std::move(r.error()));
    TokenPage page;
    for (int i = 0; i < r->rows() && i < limit; ++i) {
      TokenRow row = ReadTokenRow(*r, i);
      row.sort_key = r->Text(i, kTokenColumnCount + 6);
      page.rows.push_back(std::move(row));
    }
    page.has_more = r->rows() > limit;
    return page;
  }

  Result<std::vector<std::string>> RevokeTokens(const std::string& tenant_id,
                                                std::span<const core::AuditEvent> audit_per_token,
                                                core::Time now) override {
    // Rows are locked in id order, whatever the caller's order, so that concurrent batches
    // (revocations, activity) cannot deadlock; the answer keeps the caller's order.
    std::vector<std::size_t> order(audit_per_token.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return audit_per_token[a].target_id < audit_per_token[b].target_id;
    });
    return InTransaction([&](Connection& conn) -> Result<std::vector<std::string>> {
      std::vector<bool> done(audit_per_token.size(), false);
      for (std::size_t i : order) {
        const core::AuditEvent& event = audit_per_token[i];
        auto r =
            conn.Exec(kRevokeToken,
                      Params().Text(tenant_id).Text(event.target_id).Int(core::ToUnixSeconds(now)));
        if (!r) return tl::unexpected(std::move(r.error()));
        if (r->affected() == 0) continue;  // unknown or already revoked: idempotent
        if (auto a = Audit(conn, event); !a) return tl::unexpected(std::move(a.error()));
        if (auto n = Announce(conn, Kind::kToken, tenant_id, event.target_id); !n) {
          return tl::unexpected(std::move(n.error()));
        }
        done[i] = true;
      }
      std::vector<std::string> revoked;
      for (std::size_t i = 0; i < done.size(); ++i) {
        if (done[i]) revoked.push_back(audit_per_token[i].target_id);
      }
      return revoked;
    });
  }

  Result<CredentialRecord> FindCredential(const std::string& lookup_hash) override {
    auto r = Exec(kFindCredential, Params().Bytes(lookup_hash));
    if (!r) return tl::unexpected(std::move(r.error()));
    if (r->rows() == 0) return tl::unexpected(core::NotFound("Token not found."));
    constexpr int c = kTokenColumnCount;
    CredentialRecord record;
    record.token = ReadToken(*r, 0);
    record.username = r->Text(0, c);
    record.user_active = r->Bool(0, c + 1);
    record.permissions = ParsePermissions(r->Text(0, c + 2));
    record.membership_held = r->Bool(0, c + 3);
    core::TenantSettings& s = record.tenant_settings;
    s.api_token_max_lifetime_days = static_cast<int>(r->Int(0, c + 4));
    s.api_token_default_lifetime_days = static_cast<int>(r->Int(0, c + 5));
    s.api_token_reveal = r->Bool(0, c + 6);
    s.mobile_idle_timeout = core::seconds{r->Int(0, c + 7)};
    s.mobile_max_lifetime = core::seconds{r->Int(0, c + 8)};
    s.console_idle_timeout = core::seconds{r->Int(0, c + 9)};
    s.console_max_lifetime = core::seconds{r->Int(0, c + 10)};
    return record;
  }

  VoidResult RecordTokenActivity(std::span<const TokenActivity> batch) override {
    if (batch.empty()) return Ok();
    // Id order, as in RevokeTokens: no deadlock between concurrent batches.
    std::vector<const TokenActivity*> sorted;
    for (const TokenActivity& a : batch) sorted.push_back(&a);
    std::sort(sorted.begin(), sorted.end(), [](const TokenActivity* a, const TokenActivity* b) {
      return std::tie(a->tenant_id, a->token_id) < std::tie(b->tenant_id, b->token_id);
    });
    return InTransaction([&](Connection& conn) -> VoidResult {
      for (const TokenActivity* activity : sorted) {
        const TokenActivity& a = *activity;
        auto r = conn.Exec(kRecordActivity, Params()
                                                .Text(a.tenant_id)
                                                .Text(a.token_id)
                                                .Int(core::ToUnixSeconds(a.used_at))
                                                .Text(a.client_ip)
                                                .OptInt(OptSeconds(a.new_expires_at)));
        if (!r) return tl::unexpected(std::move(r.error()));
      }
      return Ok();
    });
  }

  Result<std::vector<std::pair<core::TokenKind, std::int64_t>>> CountLiveTokens(
      core::Time now) override {
    auto r = Exec(kCountLiveTokens, Params().Int(core::ToUnixSeconds(now)));
    if (!r) return tl::unexpected(std::move(r.error()));
    std::vector<std::pair<core::TokenKind, std::int64_t>> counts;
    for (int i = 0; i < r->rows(); ++i) {
      counts.emplace_back(static_cast<core::TokenKind>(r->Int(i, 0)), r->Int(i, 1));
    }
    return counts;
  }

  // --- Sessions ---

  VoidResult CreateSession(const Session& s) override {
    auto r = Exec(kInsertSession, Params()
                                      .Bytes(s.id_hash)
                                      .Text(s.tenant_id)
                                      .Text(s.user_id)
                                      .Text(s.department_id)
                                      .Text(s.user_type_id)
                                      .Text(s.csrf_token)
                                      .Int(core::ToUnixSeconds(s.created_at))
                                      .Int(core::ToUnixSeconds(s.last_seen_at)));
    if (!r) {
      return Fail(std::move(r.error()), "The session already exists.",
                  "The session's user does not exist.");
    }
    return Ok();
  }

  Result<Session> GetSession(const std::string& id_hash) override {
    auto r = Exec(kGetSession, Params().Bytes(id_hash));
    if (!r) return tl::unexpected(std::move(r.error()));
    if (r->rows() == 0) return tl::unexpected(core::NotFound("Session not found."));
    return Session{r->Bytes(0, 0),
                   r->Text(0, 1),
                   r->Text(0, 2),
                   r->Text(0, 3),
                   r->Text(0, 4),
                   r->Text(0, 5),
                   core::FromUnixSeconds(r->Int(0, 6)),
                   core::FromUnixSeconds(r->Int(0, 7))};
  }

  VoidResult TouchSession(const std::string& id_hash, core::Time now) override {
    auto r = Exec(kTouchSession, Params().Bytes(id_hash).Int(core::ToUnixSeconds(now)));
    if (!r) return tl::unexpected(std::move(r.error()));
    if (r->affected() == 0) return tl::unexpected(core::NotFound("Session not found."));
    return Ok();
  }

  VoidResult DeleteSession(const std::string& id_hash) override {
    auto r = Exec(kDeleteSession, Params().Bytes(id_hash));
    if (!r) return tl::unexpected(std::move(r.error()));
    return Ok();
  }

  // --- Audit ---

  VoidResult AppendAudit(const core::AuditEvent& event) override {
    auto r = Exec(kInsertAudit, AuditParams(event));
    if (!r) return tl::unexpected(std::move(r.error()));
    return Ok();
  }

  Result<AuditPage> ListAudit(const std::string& tenant_id, const AuditQuery& query) override {
    std::optional<std::int64_t> before;
    if (query.before_id) {
      before = ParseInt64(*query.before_id);
      if (!before || *before < 0) {
        return tl::unexpected(core::InvalidArgument("The page cursor is malformed."));
      }
    }
    const int limit = ClampLimit(query.limit);
    auto r = Exec(kListAudit, Params()
                                  .Text(tenant_id)
                                  .Text(query.action)
                                  .Text(query.actor_user_id)
                                  .Text(query.target_id)
                                  .OptInt(OptSeconds(query.since))
                                  .OptInt(OptSeconds(query.until))
                                  .OptInt(before)
                                  .Int(limit + 1));
    if (!r) return tl::unexpected(std::move(r.error()));
    AuditPage page;
    for (int i = 0; i < r->rows() && i < limit; ++i) {
      core::AuditEvent e;
      e.id = r->Text(i, 0);
      e.tenant_id = r->Text(i, 1);
      e.time = core::FromUnixSeconds(r->Int(i, 2));
      e.actor_user_id = r->OptText(i, 3);
      e.actor_username = r->Text(i, 4);
      e.action = r->Text(i, 5);
      e.target_type = r->Text(i, 6);
      e.target_id = r->Text(i, 7);
      e.client_ip = r->Text(i, 8);
      e.details_json = r->Text(i, 9);
      page.events.push_back(std::move(e));
    }
    page.has_more = r->rows() > limit;
    return page;
  }

 private:
  // Replaces the generic public message of a constraint error with one naming what clashed.
  static tl::unexpected<Error> Fail(Error error, std::string_view already_exists,
                                    std::string_view failed_precondition = "") {
    if (error.code == core::ErrorCode::kAlreadyExists && !already_exists.empty() &&
        !error.log_detail.empty()) {
      error.public_message = std::string(already_exists);
    }
    if (error.code == core::ErrorCode::kFailedPrecondition && !failed_precondition.empty() &&
        !error.log_detail.empty()) {
      error.public_message = std::string(failed_precondition);
    }
    return tl::unexpected(std::move(error));
  }

  using Kind = postgres::Invalidation::Kind;
  // Announces a committed change to every instance's PgNotifier (NOTIFY is transactional).
  static VoidResult Announce(Connection& conn, Kind kind, const std::string& tenant_id,
                             const std::string& id) {
    auto r = conn.Exec(kNotify, Params().Text(postgres::EncodeInvalidation({kind, tenant_id, id})));
    if (!r) return tl::unexpected(std::move(r.error()));
    return Ok();
  }

  static VoidResult Audit(Connection& conn, const core::AuditEvent& event) {
    auto r = conn.Exec(kInsertAudit, AuditParams(event));
    if (!r) return tl::unexpected(std::move(r.error()));
    return Ok();
  }

  static VoidResult InsertMemberships(Connection& conn, const core::User& u) {
    for (std::size_t i = 0; i < u.memberships.size(); ++i) {
      const core::Membership& m = u.memberships[i];
      auto r = conn.Exec(kInsertMembership, Params()
                                                .Text(u.tenant_id)
                                                .Text(u.id)
                                                .Text(m.department_id)
                                                .Text(m.user_type_id)
                                                .Int(static_cast<std::int64_t>(i)));
      if (!r) return tl::unexpected(std::move(r.error()));
    }
    return Ok();
  }

  static VoidResult LoadMemberships(Connection& conn, const std::string& tenant_id,
                                    std::vector<core::User>& users) {
    if (users.empty()) return Ok();
    std::vector<std::string> ids;
    std::map<std::string, core::User*> by_id;
    for (core::User& u : users) {
      ids.push_back(u.id);
      by_id[u.id] = &u;
    }
    auto r = conn.Exec(kListMemberships, Params().Text(tenant_id).TextArray(ids));
    if (!r) return tl::unexpected(std::move(r.error()));
    for (int i = 0; i < r->rows(); ++i) {
      auto it = by_id.find(r->Text(i, 0));
      if (it != by_id.end()) {
        it->second->memberships.push_back(core::Membership{r->Text(i, 1), r->Text(i, 2)});
      }
    }
    return Ok();
  }

  Result<core::Tenant> GetOneTenant(const Query& query, const std::string& key) {
    auto r = Exec(query, Params().Text(key));
    if (!r) return tl::unexpected(std::move(r.error()));
    if (r->rows() == 0) return tl::unexpected(core::NotFound("Tenant not found."));
    return ReadTenant(*r, 0);
  }

  Result<core::User> GetOneUser(const Query& query, const std::string& tenant_id,
                                const std::string& key) {
    return WithConnection([&](Connection& conn) -> Result<core::User> {
      auto r = conn.Exec(query, Params().Text(tenant_id).Text(key));
      if (!r) return tl::unexpected(std::move(r.error()));
      if (r->rows() == 0) return tl::unexpected(core::NotFound("User not found."));
      std::vector<core::User> users{ReadUser(*r, 0)};
      if (auto m = LoadMemberships(conn, tenant_id, users); !m) {
        return tl::unexpected(std::move(m.error()));
      }
      return std::move(users.front());
    });
  }

  ConnectionPool pool_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const PostgresOptions& defaults) {
  PostgresOptions options = defaults;
  auto settings = postgres::SettingsFromUrl(url, options);
  if (!settings) return tl::unexpected(std::move(settings.error()));
  auto store = std::make_unique<PostgresStore>(
      std::move(*settings), std::max<std::size_t>(1, options.pool_size), options.acquire_timeout);
  // Fail early (kUnavailable) when the server cannot be reached; the connection stays pooled.
  if (auto ping = store->Ping(); !ping) return tl::unexpected(std::move(ping.error()));
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url) {
  return OpenPostgresStore(url, PostgresOptions{});
}

}  // namespace tokend::store
