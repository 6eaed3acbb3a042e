// The SQLite Store.
//
// Invariants:
//  1. Every write runs on `writer_` under `write_mutex_`, inside a BEGIN IMMEDIATE transaction
//     and its own savepoint, so a failed write leaves nothing behind; concurrent writes share
//     one commit (group commit) and each returns only after that commit.
//  2. File databases read on a pool of read-only connections (WAL lets them read while the
//     writer writes); ":memory:" has one connection that serves reads too, under the mutex.
//  3. SQL text is built only from constants; every value is a bound parameter.
#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/periodic.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/sqlite_migrations.h"

namespace tokend::store {
namespace {

using sqlite::Blob;
using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

// Readers in the pool: request threads beyond this wait for a free one. Each holds its own
// page cache, so a few suffice for two cores.
constexpr int kReaderCount = 4;
// Lists return at most this many rows (TokenQuery::limit, UserQuery::limit, AuditQuery::limit).
constexpr int kMaxLimit = 200;
// Writes sharing one commit at most: bounds how long one transaction holds the write lock.
constexpr std::size_t kMaxJobsPerCommit = 256;

// Durability: WAL with synchronous=NORMAL. A commit appends to the WAL with write() before it
// returns, so every acknowledged write survives a process crash (SIGKILL); only a power loss or
// kernel crash may drop the last commits (the WAL is fsynced at checkpoints). FULL would fsync
// the WAL on every commit: measured on these machines that caps token creation at about 200/s,
// far below the 5,000/s target, so FULL is not worth its cost here.
constexpr const char* kWriterPragmas =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    // Checkpoints normally run on the store's own checkpoint thread (kCheckpointInterval), off
    // the write path. A committing writer checkpoints itself only when the WAL has grown past
    // 65,536 pages (256 MiB): when that thread falls behind, or for a process without one (the
    // CLI). The size limit gives the space back after each checkpoint.
    "PRAGMA wal_autocheckpoint = 65536;"
    "PRAGMA journal_size_limit = 67108864;"
    "PRAGMA cache_size = -16384;"  // 16 MiB: keeps the hot index pages of 1M tokens resident
    // No memory-mapped reads (see kReaderPragmas).
    "PRAGMA mmap_size = 0;"
    // The statement journals of a group commit's savepoints: in memory, not in a temporary
    // file created and unlinked for each (strace: ~20 file creations per second under load).
    "PRAGMA temp_store = MEMORY;";
// A checkpoint copies the WAL into the database file and fsyncs both (tens of ms at a time
// under load). Run by the committing writer, it stalls every write queued behind it; on a
// thread of its own, PASSIVE (never waiting for readers or writers), it runs beside the writes.
constexpr auto kCheckpointInterval = std::chrono::milliseconds(250);
// Reads go through each connection's page cache, not a memory map: a connection that begins a
// read after another one committed drops its whole mapping (SQLite unmaps on every change of
// the WAL), so under a steady stream of writes every read paid a munmap, a TLB shootdown on
// every core and a page fault per page touched. Off, token creation went from 4,000-4,400/s
// to 5,300-5,900/s and a cache miss served from SQLite at 1M tokens from 21 to 15 us.
constexpr const char* kReaderPragmas =
    "PRAGMA cache_size = -16384;"
    "PRAGMA mmap_size = 0;";

#define TRY(expr)                                                            \
  do {                                                                       \
    auto tokend_try_ = (expr);                                               \
    if (!tokend_try_) return tl::unexpected(std::move(tokend_try_.error())); \
  } while (0)

// Declares `var` as the value of a Result-returning expression or returns its error.
#define TRY_ASSIGN(var, expr)                                                  \
  auto var##_result_ = (expr);                                                 \
  if (!var##_result_) return tl::unexpected(std::move(var##_result_.error())); \
  auto& var = *var##_result_

std::string EscapeLike(std::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += '%';
  return pattern;
}

std::string Placeholders(std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

int ClampLimit(int limit) { return std::clamp(limit, 1, kMaxLimit); }

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

core::PermissionSet ParsePermissions(std::string_view names) {
  core::PermissionSet set;
  while (!names.empty()) {
    std::size_t space = names.find(' ');
    std::string_view name = names.substr(0, space);
    // Names this version does not know (written by a newer one) grant nothing.
    if (auto p = core::ParsePermission(name)) set.Add(*p);
    if (space == std::string_view::npos) break;
    names.remove_prefix(space + 1);
  }
  return set;
}

// --- Row readers: column lists and the functions that read them stay side by side. ----------

constexpr std::string_view kTenantColumns =
    "te.id, te.name, te.api_token_max_lifetime_days, te.api_token_default_lifetime_days, "
    "te.api_token_reveal, te.mobile_idle_timeout_seconds, te.mobile_max_lifetime_seconds, "
    "te.console_idle_timeout_seconds, te.console_max_lifetime_seconds, te.created_at";
constexpr int kTenantColumnCount = 10;

core::TenantSettings ReadSettings(const Statement& s, int c) {
  core::TenantSettings settings;
  settings.api_token_max_lifetime_days = static_cast<int>(s.Int(c));
  settings.api_token_default_lifetime_days = static_cast<int>(s.Int(c + 1));
  settings.api_token_reveal = s.Int(c + 2) != 0;
  settings.mobile_idle_timeout = core::seconds{s.Int(c + 3)};
  settings.mobile_max_lifetime = core::seconds{s.Int(c + 4)};
  settings.console_idle_timeout = core::seconds{s.Int(c + 5)};
  settings.console_max_lifetime = core::seconds{s.Int(c + 6)};
  return settings;
}

core::Tenant ReadTenant(const Statement& s, int c) {
  core::Tenant tenant;
  tenant.id = s.Text(c);
  tenant.name = s.Text(c + 1);
  tenant.settings = ReadSettings(s, c + 2);
  tenant.created_at = s.TimeAt(c + 9);
  return tenant;
}

constexpr std::string_view kDepartmentColumns = "tenant_id, id, name, parent_id, created_at";

core::Department ReadDepartment(const Statement& s) {
  core::Department department;
  department.tenant_id = s.Text(0);
  department.id = s.Text(1);
  department.name = s.Text(2);
  department.parent_id = s.OptText(3);
  department.created_at = s.TimeAt(4);
  return department;
}

constexpr std::string_view kUserTypeColumns = "tenant_id, id, name, permissions, created_at";

core::UserType ReadUserType(const Statement& s) {
  core::UserType user_type;
  user_type.tenant_id = s.Text(0);
  user_type.id = s.Text(1);
  user_type.name = s.Text(2);
  user_type.permissions = ParsePermissions(s.Text(3));
  user_type.created_at = s.TimeAt(4);
  return user_type;
}

constexpr std::string_view kUserColumns =
    "u.tenant_id, u.id, u.username, u.email, u.display_name, u.password_hash, u.active, "
    "u.created_at";

core::User ReadUser(const Statement& s) {
  core::User user;
  user.tenant_id = s.Text(0);
  user.id = s.Text(1);
  user.username = s.Text(2);
  user.email = s.Text(3);
  user.display_name = s.Text(4);
  user.password_hash = s.Text(5);
  user.active = s.Int(6) != 0;
  user.created_at = s.TimeAt(7);
  return user;
}

constexpr std::string_view kTokenColumns =
    "t.tenant_id, t.id, t.kind, t.name, t.description, t.lookup_hash, t.sealed_secret, "
    "t.token_hint, t.user_id, t.department_id, t.user_type_id, t.created_by, t.device_name, "
    "t.created_at, t.expires_at, t.last_used_at, t.last_used_ip, t.revoked_at";
constexpr int kTokenColumnCount = 18;

core::Token ReadToken(const Statement& s) {
  core::Token token;
  token.tenant_id = s.Text(0);
  token.id = s.Text(1);
  token.kind = static_cast<core::TokenKind>(s.Int(2));
  token.name = s.Text(3);
  token.description = s.Text(4);
  token.lookup_hash = s.Text(5);
  token.sealed_secret = s.OptText(6);
  token.token_hint = s.Text(7);
  token.user_id = s.Text(8);
  token.department_id = s.Text(9);
  token.user_type_id = s.Text(10);
  token.created_by = s.OptText(11);
  token.device_name = s.Text(12);
  token.created_at = s.TimeAt(13);
  token.expires_at = s.TimeAt(14);
  token.last_used_at = s.OptTime(15);
  token.last_used_ip = s.OptText(16);
  token.revoked_at = s.OptTime(17);
  return token;
}

// The token with its names, as lists and detail views show it. Live tokens always have their
// user, department and user type (DeleteUser revokes; the other deletes refuse), so inner joins.
// CROSS JOIN is SQLite's "do not reorder": tokens stay the outer loop, read in index order, so
// a page of a 1M-row list stops after limit+1 rows. Without it, statistics from ANALYZE (one
// user owning many tokens) lead the planner to start from users and sort every token.
constexpr std::string_view kTokenRowSelect =
    ", u.username, u.email, u.display_name, d.name, ut.name, cb.username "
    "FROM tokens t "
    "CROSS JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id "
    "CROSS JOIN departments d ON d.tenant_id = t.tenant_id AND d.id = t.department_id "
    "CROSS JOIN user_types ut ON ut.tenant_id = t.tenant_id AND ut.id = t.user_type_id "
    "LEFT JOIN users cb ON cb.tenant_id = t.tenant_id AND cb.id = t.created_by ";
// The same row for the username order: users are the outer loop, read in username order from
// their unique (tenant_id, username) index, each user's tokens from tokens_by_user; only each
// user's own tokens are sorted by id, and a page stops after limit+1 rows.
constexpr std::string_view kTokenRowSelectByUser =
    ", u.username, u.email, u.display_name, d.name, ut.name, cb.username "
    "FROM users u "
    "CROSS JOIN tokens t ON t.tenant_id = u.tenant_id AND t.user_id = u.id "
    "CROSS JOIN departments d ON d.tenant_id = t.tenant_id AND d.id = t.department_id "
    "CROSS JOIN user_types ut ON ut.tenant_id = t.tenant_id AND ut.id = t.user_type_id "
    "LEFT JOIN users cb ON cb.tenant_id = t.tenant_id AND cb.id = t.created_by ";

TokenRow ReadTokenRow(const Statement& s) {
  TokenRow row;
  row.token = ReadToken(s);
  constexpr int c = kTokenColumnCount;
  row.user = {row.token.user_id, s.Text(c), s.Text(c + 1), s.Text(c + 2)};
  row.department = {row.token.department_id, s.Text(c + 3)};
  row.user_type = {row.token.user_type_id, s.Text(c + 4)};
  if (row.token.created_by) {
    row.created_by = TokenRow::UserRef{*row.token.created_by, s.Text(c + 5), "", ""};
  }
  return row;
}

constexpr std::string_view kAuditColumns =
    "id, tenant_id, time, actor_user_id, actor_username, action, target_type, target_id, "
    "client_ip, details_json";

core::AuditEvent ReadAudit(const Statement& s) {
  core::AuditEvent event;
  event.id = std::to_string(s.Int(0));
  event.tenant_id = s.Text(1);
  event.time = s.TimeAt(2);
  event.actor_user_id = s.OptText(3);
  event.actor_username = s.Text(4);
  event.action = s.Text(5);
  event.target_type = s.Text(6);
  event.target_id = s.Text(7);
  event.client_ip = s.Text(8);
  event.details_json = s.Text(9);
  return event;
}

// The sort column of each TokenSort, and whether its key is numeric.
struct SortSpec {
  std::string_view expression;
  bool numeric;
};

SortSpec SortOf(TokenSort sort) {
  switch (sort) {
    case TokenSort::kCreatedAt:
      return {"t.created_at", true};
    case TokenSort::kName:
      return {"t.name", false};
    case TokenSort::kExpiresAt:
      return {"t.expires_at", true};
    case TokenSort::kLastUsedAt:
      return {"coalesce(t.last_used_at, -1)", true};
    case TokenSort::kUsername:
      return {"u.username", false};
    case TokenSort::kDepartment:
      return {"d.name", false};
    case TokenSort::kUserType:
      return {"ut.name", false};
  }
  return {"t.created_at", true};
}

// Pointers to `items`, sorted by `key(item)`: the rows' primary-key order. Statements run in
// that order land on the same pages one after another; for the batches of activity flushes,
// multi-select deletes and their reads (up to 100,000 rows) that took a third of the time of
// the order the ids came in.
template <typename T, typename Key>
std::vector<const T*> InKeyOrder(std::span<const T> items, Key key) {
  std::vector<const T*> ordered;
  ordered.reserve(items.size());
  for (const T& item : items) ordered.push_back(&item);
  std::sort(ordered.begin(), ordered.end(),
            [&](const T* x, const T* y) { return key(*x) < key(*y); });
  return ordered;
}

// --- The store -------------------------------------------------------------------------------

class SqliteStore final : public Store {
 public:
  // `checkpointer`: a read-write connection for the checkpoint thread; null for ":memory:"
  // and read-only files.
  SqliteStore(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers,
              std::unique_ptr<Connection> checkpointer)
      : writer_(std::move(writer)),
        readers_(std::move(readers)),
        checkpointer_(std::move(checkpointer)) {
    for (auto& reader : readers_) free_readers_.push_back(reader.get());
    if (checkpointer_) checkpoints_.emplace(kCheckpointInterval, [this] { Checkpoint(); });
  }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // --- Migrations ---

  VoidResult Migrate() override {
    std::lock_guard lock(write_mutex_);
    TRY_ASSIGN(applied, AppliedVersions(*writer_));
    if (!HasPending(applied)) return core::Ok();  // no write: works on a read-only file too
    TRY_ASSIGN(tx, Transaction::Begin(*writer_, Transaction::Mode::kWrite));
    TRY(writer_->Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
    // Re-read inside the transaction: another process may have migrated meanwhile.
    TRY_ASSIGN(current, AppliedVersions(*writer_));
    for (const auto& migration : sqlite::Migrations()) {
      if (current.count(migration.version) != 0) continue;
      TRY(writer_->Exec(std::string(migration.sql)));
      TRY_ASSIGN(insert,
                 writer_->Prepare("INSERT INTO schema_migrations (version, name, applied_at) "
                                  "VALUES (?, ?, unixepoch())"));
      TRY(insert.Bind(migration.version, migration.name).Run());
    }
    return tx.Commit();
  }

  VoidResult Ping() override {
    return Read([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("SELECT 1"));
      return stmt.Run();
    });
  }

  // PRAGMA data_version changes only for commits made by other connections; asked of the
  // writer, the one connection of this object that commits, it counts exactly the commits of
  // other processes (the readers never write).
  Result<std::uint64_t> ExternalChangeVersion() override {
    std::lock_guard lock(write_mutex_);
    TRY_ASSIGN(stmt, writer_->Prepare("PRAGMA data_version"));
    TRY_ASSIGN(row, stmt.Step());
    if (!row) return tl::unexpected(core::Unavailable("sqlite: PRAGMA data_version gave no row"));
    return static_cast<std::uint64_t>(stmt.Int(0));
  }

  // --- Tenants ---

  VoidResult CreateTenant(const core::Tenant& tenant) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("INSERT INTO tenants (id, name, api_token_max_lifetime_days, "
                                 "api_token_default_lifetime_days, api_token_reveal, "
                                 "mobile_idle_timeout_seconds, mobile_max_lifetime_seconds, "
                                 "console_idle_timeout_seconds, console_max_lifetime_seconds, "
                                 "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      const auto& s = tenant.settings;
      return stmt
          .Bind(tenant.id, tenant.name, s.api_token_max_lifetime_days,
                s.api_token_default_lifetime_days, s.api_token_reveal,
                s.mobile_idle_timeout.count(), s.mobile_max_lifetime.count(),
                s.console_idle_timeout.count(), s.console_max_lifetime.count(), tenant.created_at)
          .Run();
    });
  }

  Result<core::Tenant> GetTenant(const std::string& tenant_id) override {
    return GetTenantWhere("te.id = ?", tenant_id);
  }

  Result<core::Tenant> GetTenantByName(const std::string& name) override {
    return GetTenantWhere("te.name = ?", name);
  }

  Result<std::vector<core::Tenant>> ListTenants() override {
    return Read([&](Connection& c) -> Result<std::vector<core::Tenant>> {
      TRY_ASSIGN(stmt, c.Prepare("SELECT " + std::string(kTenantColumns) +
                                 " FROM tenants te ORDER BY te.name"));
      std::vector<core::Tenant> tenants;
      while (true) {
        TRY_ASSIGN(row, stmt.Step());
        if (!row) break;
        tenants.push_back(ReadTenant(stmt, 0));
      }
      return tenants;
    });
  }

  VoidResult UpdateTenantSettings(const std::string& tenant_id,
                                  const core::TenantSettings& s) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt,
                 c.Prepare("UPDATE tenants SET api_token_max_lifetime_days = ?, "
                           "api_token_default_lifetime_days = ?, api_token_reveal = ?, "
                           "mobile_idle_timeout_seconds = ?, mobile_max_lifetime_seconds = ?, "
                           "console_idle_timeout_seconds = ?, console_max_lifetime_seconds = ? "
                           "WHERE id = ?"));
      TRY(stmt.Bind(s.api_token_max_lifetime_days, s.api_token_default_lifetime_days,
                    s.api_token_reveal, s.mobile_idle_timeout.count(),
                    s.mobile_max_lifetime.count(), s.console_idle_timeout.count(),
                    s.console_max_lifetime.count(), tenant_id)
              .Run());
      if (stmt.Changes() == 0) return tl::unexpected(core::NotFound("Tenant not found."));
      return core::Ok();
    });
  }

  // --- Departments ---

  VoidResult CreateDepartment(const core::Department& d, const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("INSERT INTO departments (tenant_id, id, name, parent_id, "
                                 "created_at) VALUES (?, ?, ?, ?, ?)"));
      TRY(stmt.Bind(d.tenant_id, d.id, d.name, d.parent_id, d.created_at).Run());
      return InsertAudit(c, audit);
    });
  }

  Result<std::vector<core::Department>> ListDepartments(const std::string& tenant_id) override {
    return Read([&](Connection& c) -> Result<std::vector<core::Department>> {
      TRY_ASSIGN(stmt, c.Prepare("SELECT " + std::string(kDepartmentColumns) +
                                 " FROM departments WHERE tenant_id = ? ORDER BY name, id"));
      stmt.Bind(tenant_id);
      std::vector<core::Department> departments;
      while (true) {
        TRY_ASSIGN(row, stmt.Step());
        if (!row) break;
        departments.push_back(ReadDepartment(stmt));
      }
      return departments;
    });
  }

  VoidResult UpdateDepartment(const core::Department& d, const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("UPDATE departments SET name = ?, parent_id = ? "
                                 "WHERE tenant_id = ? AND id = ?"));
      TRY(stmt.Bind(d.name, d.parent_id, d.tenant_id, d.id).Run());
      if (stmt.Changes() == 0) return tl::unexpected(core::NotFound("Department not found."));
      return InsertAudit(c, audit);
    });
  }

  VoidResult DeleteDepartment(const std::string& tenant_id, const std::string& id,
                              const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(exists, Exists(c, "SELECT 1 FROM departments WHERE tenant_id = ? AND id = ?",
                                tenant_id, id));
      if (!exists) return tl::unexpected(core::NotFound("Department not found."));
      TRY_ASSIGN(children,
                 Exists(c, "SELECT 1 FROM departments WHERE tenant_id = ? AND parent_id = ?",
                        tenant_id, id));
      if (children) {
        return tl::unexpected(core::FailedPrecondition("The department has sub-departments."));
      }
      TRY_ASSIGN(members,
                 Exists(c, "SELECT 1 FROM memberships WHERE tenant_id = ? AND department_id = ?",
                        tenant_id, id));
      if (members) {
        return tl::unexpected(
            core::FailedPrecondition("Users are still members of the department."));
      }
      TRY_ASSIGN(tokens, Exists(c,
                                "SELECT 1 FROM tokens WHERE tenant_id = ? AND department_id = ? "
                                "AND revoked_at IS NULL",
                                tenant_id, id));
      if (tokens) {
        return tl::unexpected(core::FailedPrecondition("Tokens still belong to the department."));
      }
      TRY_ASSIGN(stmt, c.Prepare("DELETE FROM departments WHERE tenant_id = ? AND id = ?"));
      TRY(stmt.Bind(tenant_id, id).Run());
      return InsertAudit(c, audit);
    });
  }

  // --- User types ---

  VoidResult CreateUserType(const core::UserType& t, const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("INSERT INTO user_types (tenant_id, id, name, permissions, "
                                 "created_at) VALUES (?, ?, ?, ?, ?)"));
      TRY(stmt.Bind(t.tenant_id, t.id, t.name, t.permissions.ToScopeString(), t.created_at).Run());
      return InsertAudit(c, audit);
    });
  }

  Result<core::UserType> GetUserType(const std::string& tenant_id, const std::string& id) override {
    return Read([&](Connection& c) -> Result<core::UserType> {
      TRY_ASSIGN(stmt, c.Prepare("SELECT " + std::string(kUserTypeColumns) +
                                 " FROM user_types WHERE tenant_id = ? AND id = ?"));
      TRY_ASSIGN(row, stmt.Bind(tenant_id, id).Step());
      if (!row) return tl::unexpected(core::NotFound("User type not found."));
      return ReadUserType(stmt);
    });
  }

  Result<std::vector<core::UserType>> ListUserTypes(const std::string& tenant_id) override {
    return Read([&](Connection& c) -> Result<std::vector<core::UserType>> {
      TRY_ASSIGN(stmt, c.Prepare("SELECT " + std::string(kUserTypeColumns) +
                                 " FROM user_types WHERE tenant_id = ? ORDER BY name, id"));
      stmt.Bind(tenant_id);
      std::vector<core::UserType> types;
      while (true) {
        TRY_ASSIGN(row, stmt.Step());
        if (!row) break;
        types.push_back(ReadUserType(stmt));
      }
      return types;
    });
  }

  VoidResult UpdateUserType(const core::UserType& t, const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("UPDATE user_types SET name = ?, permissions = ? "
                                 "WHERE tenant_id = ? AND id = ?"));
      TRY(stmt.Bind(t.name, t.permissions.ToScopeString(), t.tenant_id, t.id).Run());
      if (stmt.Changes() == 0) return tl::unexpected(core::NotFound("User type not found."));
      return InsertAudit(c, audit);
    });
  }

  VoidResult DeleteUserType(const std::string& tenant_id, const std::string& id,
                            const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(exists, Exists(c, "SELECT 1 FROM user_types WHERE tenant_id = ? AND id = ?",
                                tenant_id, id));
      if (!exists) return tl::unexpected(core::NotFound("User type not found."));
      TRY_ASSIGN(members,
                 Exists(c, "SELECT 1 FROM memberships WHERE tenant_id = ? AND user_type_id = ?",
                        tenant_id, id));
      if (members) {
        return tl::unexpected(core::FailedPrecondition("Users still hold the user type."));
      }
      TRY_ASSIGN(tokens, Exists(c,
                                "SELECT 1 FROM tokens WHERE tenant_id = ? AND user_type_id = ? "
                                "AND revoked_at IS NULL",
                                tenant_id, id));
      if (tokens) {
        return tl::unexpected(core::FailedPrecondition("Tokens still carry the user type."));
      }
      TRY_ASSIGN(stmt, c.Prepare("DELETE FROM user_types WHERE tenant_id = ? AND id = ?"));
      TRY(stmt.Bind(tenant_id, id).Run());
      return InsertAudit(c, audit);
    });
  }

  // --- Users ---

  VoidResult CreateUser(const core::User& user, const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("INSERT INTO users (tenant_id, id, username, email, "
                                 "display_name, password_hash, active, created_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
      TRY(stmt.Bind(user.tenant_id, user.id, user.username, user.email, user.display_name,
                    user.password_hash, user.active, user.created_at)
              .Run());
      TRY(InsertMemberships(c, user));
      return InsertAudit(c, audit);
    });
  }

  Result<core::User> GetUser(const std::string& tenant_id, const std::string& id) override {
    return GetUserWhere("u.id = ?", tenant_id, id);
  }

  Result<core::User> GetUserByUsername(const std::string& tenant_id,
                                       const std::string& username) override {
    return GetUserWhere("u.username = ?", tenant_id, username);
  }

  Result<UserPage> ListUsers(const std::string& tenant_id, const UserQuery& query) override {
    std::string sql = "SELECT " + std::string(kUserColumns) + " FROM users u WHERE u.tenant_id = ?";
    const bool has_q = !query.q.empty();
    if (has_q) {
      sql +=
          " AND (u.username LIKE ? ESCAPE '\\' OR u.email LIKE ? ESCAPE '\\' "
          "OR u.display_name LIKE ? ESCAPE '\\')";
    }
    if (query.department_scope) {
      sql +=
          " AND EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = u.tenant_id AND "
          "m.user_id = u.id AND m.department_id IN (" +
          Placeholders(query.department_scope->size()) + "))";
    }
    if (query.after_username) sql += " AND u.username > ?";
    sql += " ORDER BY u.username LIMIT ?";
    const int limit = ClampLimit(query.limit);

    return Read([&](Connection& c) -> Result<UserPage> {
      TRY_ASSIGN(tx, Transaction::Begin(c, Transaction::Mode::kRead));
      UserPage page;
      {
        TRY_ASSIGN(stmt, c.Prepare(sql));
        stmt.Bind(tenant_id);
        if (has_q) {
          std::string pattern = EscapeLike(query.q);
          stmt.Bind(pattern, pattern, pattern);
        }
        if (query.department_scope) {
          for (const auto& id : *query.department_scope) stmt.Bind(id);
        }
        if (query.after_username) stmt.Bind(*query.after_username);
        stmt.Bind(limit + 1);
        while (true) {
          TRY_ASSIGN(row, stmt.Step());
          if (!row) break;
          if (static_cast<int>(page.users.size()) == limit) {
            page.has_more = true;
            break;
          }
          page.users.push_back(ReadUser(stmt));
        }
      }
      for (auto& user : page.users) TRY(LoadMemberships(c, user));
      TRY(tx.Commit());
      return page;
    });
  }

  VoidResult UpdateUser(const core::User& user, const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      {
        TRY_ASSIGN(stmt, c.Prepare("UPDATE users SET username = ?, email = ?, display_name = ?, "
                                   "password_hash = ?, active = ? WHERE tenant_id = ? AND id = ?"));
        TRY(stmt.Bind(user.username, user.email, user.display_name, user.password_hash, user.active,
                      user.tenant_id, user.id)
                .Run());
        if (stmt.Changes() == 0) return tl::unexpected(core::NotFound("User not found."));
      }
      TRY_ASSIGN(clear, c.Prepare("DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?"));
      TRY(clear.Bind(user.tenant_id, user.id).Run());
      TRY(InsertMemberships(c, user));
      return InsertAudit(c, audit);
    });
  }

  VoidResult DeleteUser(const std::string& tenant_id, const std::string& id, core::Time now,
                        const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      {
        // Memberships and sessions go with the user (ON DELETE CASCADE).
        TRY_ASSIGN(stmt, c.Prepare("DELETE FROM users WHERE tenant_id = ? AND id = ?"));
        TRY(stmt.Bind(tenant_id, id).Run());
        if (stmt.Changes() == 0) return tl::unexpected(core::NotFound("User not found."));
      }
      TRY_ASSIGN(revoke, c.Prepare("UPDATE tokens SET revoked_at = ? WHERE tenant_id = ? AND "
                                   "user_id = ? AND revoked_at IS NULL"));
      TRY(revoke.Bind(now, tenant_id, id).Run());
      return InsertAudit(c, audit);
    });
  }

  // --- Tokens ---

  VoidResult CreateToken(const core::Token& t, const core::AuditEvent& audit) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(refs, Exists(c,
                              "SELECT 1 WHERE "
                              "EXISTS (SELECT 1 FROM users WHERE tenant_id = ?1 AND id = ?2) AND "
                              "EXISTS (SELECT 1 FROM departments WHERE tenant_id = ?1 AND id = ?3) "
                              "AND EXISTS (SELECT 1 FROM user_types WHERE tenant_id = ?1 AND "
                              "id = ?4)",
                              t.tenant_id, t.user_id, t.department_id, t.user_type_id));
      if (!refs) {
        return tl::unexpected(
            core::FailedPrecondition("The token's user, department or user type does not exist."));
      }
      TRY_ASSIGN(stmt, c.Prepare("INSERT INTO tokens (tenant_id, id, kind, name, description, "
                                 "lookup_hash, sealed_secret, token_hint, user_id, department_id, "
                                 "user_type_id, created_by, device_name, created_at, expires_at, "
                                 "last_used_at, last_used_ip, revoked_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      std::optional<Blob> sealed;
      if (t.sealed_secret) sealed = Blob{*t.sealed_secret};
      TRY(stmt.Bind(t.tenant_id, t.id, t.kind, t.name, t.description, Blob{t.lookup_hash}, sealed,
                    t.token_hint, t.user_id, t.department_id, t.user_type_id, t.created_by,
                    t.device_name, t.created_at, t.expires_at, t.last_used_at, t.last_used_ip,
                    t.revoked_at)
              .Run());
      return InsertAudit(c, audit);
    });
  }

  Result<TokenRow> GetToken(const std::string& tenant_id, const std::string& id) override {
    return Read([&](Connection& c) -> Result<TokenRow> {
      TRY_ASSIGN(stmt,
                 c.Prepare("SELECT " + std::string(kTokenColumns) + std::string(kTokenRowSelect) +
                           "WHERE t.tenant_id = ? AND t.id = ? AND t.revoked_at IS NULL"));
      TRY_ASSIGN(row, stmt.Bind(tenant_id, id).Step());
      if (!row) return tl::unexpected(core::NotFound("Token not found."));
      return ReadTokenRow(stmt);
    });
  }

  // One read transaction on one connection instead of one per id (each costs a pool hand-off
  // and the WAL read locks), in primary-key order.
  Result<std::vector<TokenRow>> GetTokens(const std::string& tenant_id,
                                          std::span<const std::string> ids) override {
    const auto ordered =
        InKeyOrder(ids, [](const std::string& id) -> const std::string& { return id; });
    const std::string sql = "SELECT " + std::string(kTokenColumns) + std::string(kTokenRowSelect) +
                            "WHERE t.tenant_id = ? AND t.id = ? AND t.revoked_at IS NULL";
    return Read([&](Connection& c) -> Result<std::vector<TokenRow>> {
      TRY_ASSIGN(tx, Transaction::Begin(c, Transaction::Mode::kRead));
      std::vector<TokenRow> rows;
      for (const std::string* id : ordered) {
        TRY_ASSIGN(stmt, c.Prepare(sql));
        TRY_ASSIGN(row, stmt.Bind(tenant_id, *id).Step());
        if (row) rows.push_back(ReadTokenRow(stmt));
      }
      TRY(tx.Commit());
      return rows;
    });
  }

  Result<TokenPage> ListTokens(const std::string& tenant_id, const TokenQuery& query) override {
    const SortSpec sort = SortOf(query.sort);
    if (query.after_key.has_value() != query.after_id.has_value()) {
      return tl::unexpected(core::InvalidArgument("Invalid cursor."));
    }
    std::optional<std::int64_t> after_number;
    if (query.after_key && sort.numeric) {
      after_number = ParseInt(*query.after_key);
      if (!after_number) return tl::unexpected(core::InvalidArgument("Invalid cursor."));
    }
    const std::string sort_expression(sort.expression);
    const bool by_user = query.sort == TokenSort::kUsername;
    std::string sql = "SELECT " + std::string(kTokenColumns) +
                      std::string(by_user ? kTokenRowSelectByUser : kTokenRowSelect) + "WHERE " +
                      (by_user ? "u" : "t") +
                      ".tenant_id = ? AND t.kind = ? AND t.revoked_at IS NULL";
    if (query.user_id) sql += " AND t.user_id = ?";
    if (query.department_id) sql += " AND t.department_id = ?";
    if (query.user_type_id) sql += " AND t.user_type_id = ?";
    if (query.department_scope) {
      sql += query.department_scope->empty()
                 ? " AND 0"
                 : " AND t.department_id IN (" + Placeholders(query.department_scope->size()) + ")";
    }
    // Unary + keeps the index on expires_at out of the plan: most tokens are active, so reading
    // the sort index in order and skipping expired rows beats sorting every active token.
    if (query.status == TokenStatusFilter::kActive) sql += " AND +t.expires_at > ?";
    if (query.status == TokenStatusFilter::kExpired) sql += " AND t.expires_at <= ?";
    if (!query.q.empty()) {
      // The matching users are found once (a small table); each token row then needs no join
      // before the test, which keeps a scan of many tokens cheap.
      sql +=
          " AND (t.name LIKE ? ESCAPE '\\' OR t.device_name LIKE ? ESCAPE '\\' OR "
          "t.user_id IN (SELECT mu.id FROM users mu WHERE mu.tenant_id = ? AND "
          "(mu.username LIKE ? ESCAPE '\\' OR mu.email LIKE ? ESCAPE '\\')))";
    }
    const char* direction = query.descending ? " DESC" : "";
    if (query.after_key) {
      // (sort, id) beyond (key, id), spelled out rather than as a row value so that SQLite can
      // also range-scan the expression index of kLastUsedAt.
      const char* beyond = query.descending ? " < " : " > ";
      const char* beyond_or_equal = query.descending ? " <= " : " >= ";
      sql += " AND " + sort_expression + beyond_or_equal + "? AND (" + sort_expression + beyond +
             "? OR t.id" + beyond + "?)";
    }
    sql += " ORDER BY " + sort_expression + direction + ", t.id" + direction + " LIMIT ?";
    const int limit = ClampLimit(query.limit);

    return Read([&](Connection& c) -> Result<TokenPage> {
      TRY_ASSIGN(stmt, c.Prepare(sql));
      stmt.Bind(tenant_id, query.kind);
      if (query.user_id) stmt.Bind(*query.user_id);
      if (query.department_id) stmt.Bind(*query.department_id);
      if (query.user_type_id) stmt.Bind(*query.user_type_id);
      if (query.department_scope) {
        for (const auto& id : *query.department_scope) stmt.Bind(id);
      }
      if (query.status != TokenStatusFilter::kAny) stmt.Bind(query.now);
      if (!query.q.empty()) {
        std::string pattern = EscapeLike(query.q);
        stmt.Bind(pattern, pattern, tenant_id, pattern, pattern);
      }
      if (query.after_key) {
        for (int i = 0; i < 2; ++i) {
          if (after_number) {
            stmt.Bind(*after_number);
          } else {
            stmt.Bind(*query.after_key);
          }
        }
        stmt.Bind(*query.after_id);
      }
      stmt.Bind(limit + 1);
      TokenPage page;
      while (true) {
        TRY_ASSIGN(row, stmt.Step());
        if (!row) break;
        if (static_cast<int>(page.rows.size()) == limit) {
          page.has_more = true;
          break;
        }
        TokenRow token_row = ReadTokenRow(stmt);
        token_row.sort_key = SortKey(query.sort, token_row);
        page.rows.push_back(std::move(token_row));
      }
      return page;
    });
  }

  Result<std::vector<std::string>> RevokeTokens(const std::string& tenant_id,
                                                std::span<const core::AuditEvent> audit_per_token,
                                                core::Time now) override {
    // A multi-select delete carries up to 10,000 ids in the order they were picked.
    const auto ordered = InKeyOrder(
        audit_per_token,
        [](const core::AuditEvent& audit) -> const std::string& { return audit.target_id; });
    return Write([&](Connection& c) -> Result<std::vector<std::string>> {
      std::vector<std::string> revoked;
      for (const core::AuditEvent* event : ordered) {
        const core::AuditEvent& audit = *event;
        {
          TRY_ASSIGN(stmt, c.Prepare("UPDATE tokens SET revoked_at = ? WHERE tenant_id = ? AND "
                                     "id = ? AND revoked_at IS NULL"));
          TRY(stmt.Bind(now, tenant_id, audit.target_id).Run());
          if (stmt.Changes() == 0) continue;
        }
        TRY(InsertAudit(c, audit));
        revoked.push_back(audit.target_id);
      }
      return revoked;
    });
  }

  Result<CredentialRecord> FindCredential(const std::string& lookup_hash) override {
    return Read([&](Connection& c) -> Result<CredentialRecord> {
      TRY_ASSIGN(stmt,
                 c.Prepare("SELECT " + std::string(kTokenColumns) +
                           ", u.username, u.active, ut.permissions, "
                           "EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = t.tenant_id "
                           "AND m.user_id = t.user_id AND m.department_id = t.department_id AND "
                           "m.user_type_id = t.user_type_id), " +
                           std::string(kTenantColumns) +
                           " FROM tokens t JOIN tenants te ON te.id = t.tenant_id "
                           "LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id "
                           "LEFT JOIN user_types ut ON ut.tenant_id = t.tenant_id AND "
                           "ut.id = t.user_type_id "
                           "WHERE t.lookup_hash = ?"));
      TRY_ASSIGN(row, stmt.Bind(Blob{lookup_hash}).Step());
      if (!row) return tl::unexpected(core::NotFound("Token not found."));
      CredentialRecord record;
      record.token = ReadToken(stmt);
      constexpr int c0 = kTokenColumnCount;
      record.username = stmt.Text(c0);  // empty once the user is deleted
      record.user_active = !stmt.IsNull(c0 + 1) && stmt.Int(c0 + 1) != 0;
      record.permissions = ParsePermissions(stmt.Text(c0 + 2));
      record.membership_held = stmt.Int(c0 + 3) != 0;
      record.tenant_settings = ReadSettings(stmt, c0 + 4 + 2);
      static_assert(kTenantColumnCount == 10);
      return record;
    });
  }

  // A flush can carry every active token (100,000 rows every few seconds under load), so the
  // cost per row matters: in key order (InKeyOrder), and without expires_at in the SET list for
  // API tokens, which spares an update of tokens_by_expires per row (SQLite updates every index
  // on an assigned column, changed or not).
  VoidResult RecordTokenActivity(std::span<const TokenActivity> batch) override {
    if (batch.empty()) return core::Ok();
    const auto ordered =
        InKeyOrder(batch, [](const TokenActivity& a) { return std::tie(a.tenant_id, a.token_id); });
    return Write([&](Connection& c) -> VoidResult {
      for (const TokenActivity* a : ordered) {
        if (a->new_expires_at) {
          TRY_ASSIGN(stmt, c.Prepare("UPDATE tokens SET last_used_at = ?, last_used_ip = ?, "
                                     "expires_at = ? "
                                     "WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL"));
          TRY(stmt.Bind(a->used_at, a->client_ip, *a->new_expires_at, a->tenant_id, a->token_id)
                  .Run());
        } else {
          TRY_ASSIGN(stmt, c.Prepare("UPDATE tokens SET last_used_at = ?, last_used_ip = ? "
                                     "WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL"));
          TRY(stmt.Bind(a->used_at, a->client_ip, a->tenant_id, a->token_id).Run());
        }
      }
      return core::Ok();
    });
  }

  Result<std::vector<std::pair<core::TokenKind, std::int64_t>>> CountLiveTokens(
      core::Time now) override {
    using Counts = std::vector<std::pair<core::TokenKind, std::int64_t>>;
    return Read([&](Connection& c) -> Result<Counts> {
      TRY_ASSIGN(stmt, c.Prepare("SELECT kind, count(*) FROM tokens WHERE revoked_at IS NULL "
                                 "AND expires_at > ? GROUP BY kind"));
      stmt.Bind(now);
      Counts counts{{core::TokenKind::kApi, 0}, {core::TokenKind::kMobile, 0}};
      while (true) {
        TRY_ASSIGN(row, stmt.Step());
        if (!row) break;
        auto kind = static_cast<core::TokenKind>(stmt.Int(0));
        for (auto& [k, n] : counts) {
          if (k == kind) n = stmt.Int(1);
        }
      }
      return counts;
    });
  }

  // --- Sessions ---

  VoidResult CreateSession(const Session& s) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("INSERT INTO sessions (id_hash, tenant_id, user_id, "
                                 "department_id, user_type_id, csrf_token, created_at, "
                                 "last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
      return stmt
          .Bind(Blob{s.id_hash}, s.tenant_id, s.user_id, s.department_id, s.user_type_id,
                s.csrf_token, s.created_at, s.last_seen_at)
          .Run();
    });
  }

  Result<Session> GetSession(const std::string& id_hash) override {
    return Read([&](Connection& c) -> Result<Session> {
      TRY_ASSIGN(stmt, c.Prepare("SELECT id_hash, tenant_id, user_id, department_id, "
                                 "user_type_id, csrf_token, created_at, last_seen_at "
                                 "FROM sessions WHERE id_hash = ?"));
      TRY_ASSIGN(row, stmt.Bind(Blob{id_hash}).Step());
      if (!row) return tl::unexpected(core::NotFound("Session not found."));
      return Session{stmt.Text(0), stmt.Text(1), stmt.Text(2),   stmt.Text(3),
                     stmt.Text(4), stmt.Text(5), stmt.TimeAt(6), stmt.TimeAt(7)};
    });
  }

  VoidResult TouchSession(const std::string& id_hash, core::Time now) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?"));
      TRY(stmt.Bind(now, Blob{id_hash}).Run());
      if (stmt.Changes() == 0) return tl::unexpected(core::NotFound("Session not found."));
      return core::Ok();
    });
  }

  VoidResult DeleteSession(const std::string& id_hash) override {
    return Write([&](Connection& c) -> VoidResult {
      TRY_ASSIGN(stmt, c.Prepare("DELETE FROM sessions WHERE id_hash = ?"));
      return stmt.Bind(Blob{id_hash}).Run();
    });
  }

  // --- Audit ---

  VoidResult AppendAudit(const core::AuditEvent& event) override {
    return Write([&](Connection& c) -> VoidResult { return InsertAudit(c, event); });
  }

  Result<AuditPage> ListAudit(const std::string& tenant_id, const AuditQuery& query) override {
    std::optional<std::int64_t> before;
    if (query.before_id) {
      before = ParseInt(*query.before_id);
      if (!before) return tl::unexpected(core::InvalidArgument("Invalid cursor."));
    }
    std::string sql =
        "SELECT " + std::string(kAuditColumns) + " FROM audit_events WHERE tenant_id = ?";
    if (!query.action.empty()) sql += " AND action = ?";
    if (!query.actor_user_id.empty()) sql += " AND actor_user_id = ?";
    if (!query.target_id.empty()) sql += " AND target_id = ?";
    if (query.since) sql += " AND time >= ?";
    if (query.until) sql += " AND time <= ?";
    if (before) sql += " AND id < ?";
    sql += " ORDER BY id DESC LIMIT ?";
    const int limit = ClampLimit(query.limit);
    return Read([&](Connection& c) -> Result<AuditPage> {
      TRY_ASSIGN(stmt, c.Prepare(sql));
      stmt.Bind(tenant_id);
      if (!query.action.empty()) stmt.Bind(query.action);
      if (!query.actor_user_id.empty()) stmt.Bind(query.actor_user_id);
      if (!query.target_id.empty()) stmt.Bind(query.target_id);
      if (query.since) stmt.Bind(*query.since);
      if (query.until) stmt.Bind(*query.until);
      if (before) stmt.Bind(*before);
      stmt.Bind(limit + 1);
      AuditPage page;
      while (true) {
        TRY_ASSIGN(row, stmt.Step());
        if (!row) break;
        if (static_cast<int>(page.events.size()) == limit) {
          page.has_more = true;
          break;
        }
        page.events.push_back(ReadAudit(stmt));
      }
      return page;
    });
  }

 private:
  // Failures (SQLITE_BUSY while another process checkpoints, I/O errors) are left to the next
  // round and, failing that, to the writer's own autocheckpoint (kWriterPragmas).
  void Checkpoint() {
    int wal_frames = 0;
    int checkpointed = 0;
    (void)sqlite3_wal_checkpoint_v2(checkpointer_->db(), "main", SQLITE_CHECKPOINT_PASSIVE,
                                    &wal_frames, &checkpointed);
  }

  // Runs `fn` on a reader connection (or the single connection of ":memory:").
  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    if (readers_.empty()) {
      std::lock_guard lock(write_mutex_);
      return fn(*writer_);
    }
    Connection* reader = nullptr;
    {
      std::unique_lock lock(pool_mutex_);
      pool_cv_.wait(lock, [&] { return !free_readers_.empty(); });
      reader = free_readers_.back();
      free_readers_.pop_back();
    }
    auto result = fn(*reader);
    {
      std::lock_guard lock(pool_mutex_);
      free_readers_.push_back(reader);
    }
    pool_cv_.notify_one();
    return result;
  }

  // A write waiting for the writer. The job at the front of the queue leads: it runs itself
  // and every job queued behind it in one transaction (group commit), each inside its own
  // savepoint, while the others wait on their own condition variable (as leveldb's
  // DBImpl::Write). Waiting on the write mutex instead made every finished job take the lock
  // in turn just to learn it was done: a convoy that kept batches at ~2 jobs.
  struct WriteJob {
    std::function<VoidResult(Connection&)> run;
    VoidResult result;  // written by the leader before `done`
    bool done = false;  // GUARDED_BY(queue_mutex_)
    std::condition_variable ready;
  };

  // Runs `fn` on the writer inside a BEGIN IMMEDIATE transaction; returns after the commit.
  // A failed `fn` is rolled back to its savepoint and leaves no trace; other jobs of the same
  // transaction are unaffected. Group commit matters because each commit writes every page it
  // touched to the WAL: sharing one commit among concurrent requests multiplies throughput.
  template <typename Fn>
  auto Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    using R = decltype(fn(std::declval<Connection&>()));
    std::optional<R> out;
    WriteJob job;
    job.run = [&](Connection& c) -> VoidResult {
      out.emplace(fn(c));
      if (*out) return core::Ok();
      return tl::unexpected(out->error());
    };
    std::unique_lock lock(queue_mutex_);
    queue_.push_back(&job);
    job.ready.wait(lock, [&] { return job.done || queue_.front() == &job; });
    if (!job.done) {
      // Leader: everything queued so far, this job first.
      std::vector<WriteJob*> batch(queue_.begin(), queue_.end());
      lock.unlock();
      {
        std::lock_guard write_lock(write_mutex_);
        RunBatch(batch);
      }
      lock.lock();
      for (WriteJob* finished : batch) {
        queue_.pop_front();
        finished->done = true;
        if (finished != &job) finished->ready.notify_one();
      }
      if (!queue_.empty()) queue_.front()->ready.notify_one();
    }
    lock.unlock();
    if (!job.result) return tl::unexpected(std::move(job.result.error()));
    return std::move(*out);
  }

  // REQUIRES: write_mutex_ held.
  void RunBatch(const std::vector<WriteJob*>& batch) {
    std::size_t next = 0;
    while (next < batch.size()) {
      auto tx = Transaction::Begin(*writer_, Transaction::Mode::kWrite);
      if (!tx) {
        for (; next < batch.size(); ++next) batch[next]->result = tl::unexpected(tx.error());
        return;
      }
      std::vector<WriteJob*> pending;  // succeeded, awaiting the commit
      bool aborted = false;
      for (std::size_t count = 0; next < batch.size() && count < kMaxJobsPerCommit;
           ++next, ++count) {
        WriteJob* job = batch[next];
        if (auto ok = RunStatement("SAVEPOINT job"); !ok) {
          job->result = tl::unexpected(std::move(ok.error()));
          continue;
        }
        job->result = job->run(*writer_);
        if (job->result) {
          job->result = RunStatement("RELEASE job");
          if (job->result) pending.push_back(job);
          continue;
        }
        if (sqlite3_get_autocommit(writer_->db()) != 0) {
          // SQLite itself rolled the whole transaction back (e.g. disk full): the jobs that
          // succeeded before this one are gone too.
          aborted = true;
          ++next;
          break;
        }
        (void)RunStatement("ROLLBACK TO job");
        (void)RunStatement("RELEASE job");
      }
      VoidResult committed = aborted ? tl::unexpected(core::Unavailable(
                                           "sqlite: transaction rolled back by a failed write"))
                                     : tx->Commit();
      if (!committed) {
        for (WriteJob* job : pending) job->result = tl::unexpected(committed.error());
      }
    }
  }

  VoidResult RunStatement(std::string_view sql) {
    TRY_ASSIGN(stmt, writer_->Prepare(sql));
    return stmt.Run();
  }

  template <typename... Args>
  static Result<bool> Exists(Connection& c, std::string_view sql, const Args&... args) {
    TRY_ASSIGN(stmt, c.Prepare(sql));
    return stmt.Bind(args...).Step();
  }

  static VoidResult InsertAudit(Connection& c, const core::AuditEvent& e) {
    TRY_ASSIGN(stmt, c.Prepare("INSERT INTO audit_events (tenant_id, time, actor_user_id, "
                               "actor_username, action, target_type, target_id, client_ip, "
                               "details_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    return stmt
        .Bind(e.tenant_id, e.time, e.actor_user_id, e.actor_username, e.action, e.target_type,
              e.target_id, e.client_ip, e.details_json)
        .Run();
  }

  static VoidResult InsertMemberships(Connection& c, const core::User& user) {
    for (std::size_t i = 0; i < user.memberships.size(); ++i) {
      TRY_ASSIGN(stmt, c.Prepare("INSERT INTO memberships (tenant_id, user_id, department_id, "
                                 "user_type_id, position) VALUES (?, ?, ?, ?, ?)"));
      const auto& m = user.memberships[i];
      TRY(stmt.Bind(user.tenant_id, user.id, m.department_id, m.user_type_id,
                    static_cast<std::int64_t>(i))
              .Run());
    }
    return core::Ok();
  }

  static VoidResult LoadMemberships(Connection& c, core::User& user) {
    TRY_ASSIGN(stmt, c.Prepare("SELECT department_id, user_type_id FROM memberships "
                               "WHERE tenant_id = ? AND user_id = ? ORDER BY position"));
    stmt.Bind(user.tenant_id, user.id);
    user.memberships.clear();
    while (true) {
      TRY_ASSIGN(row, stmt.Step());
      if (!row) break;
      user.memberships.push_back({stmt.Text(0), stmt.Text(1)});
    }
    return core::Ok();
  }

  static std::string SortKey(TokenSort sort, const TokenRow& row) {
    const core::Token& t = row.token;
    switch (sort) {
      case TokenSort::kCreatedAt:
        return std::to_string(core::ToUnixSeconds(t.created_at));
      case TokenSort::kName:
        return t.name;
      case TokenSort::kExpiresAt:
        return std::to_string(core::ToUnixSeconds(t.expires_at));
      case TokenSort::kLastUsedAt:
        return t.last_used_at ? std::to_string(core::ToUnixSeconds(*t.last_used_at)) : "-1";
      case TokenSort::kUsername:
        return row.user.username;
      case TokenSort::kDepartment:
        return row.department.name;
      case TokenSort::kUserType:
        return row.user_type.name;
    }
    return "";
  }

  Result<core::Tenant> GetTenantWhere(std::string_view condition, const std::string& value) {
    return Read([&](Connection& c) -> Result<core::Tenant> {
      TRY_ASSIGN(stmt, c.Prepare("SELECT " + std::string(kTenantColumns) +
                                 " FROM tenants te WHERE " + std::string(condition)));
      TRY_ASSIGN(row, stmt.Bind(value).Step());
      if (!row) return tl::unexpected(core::NotFound("Tenant not found."));
      return ReadTenant(stmt, 0);
    });
  }

  Result<core::User> GetUserWhere(std::string_view condition, const std::string& tenant_id,
                                  const std::string& value) {
    return Read([&](Connection& c) -> Result<core::User> {
      TRY_ASSIGN(tx, Transaction::Begin(c, Transaction::Mode::kRead));
      core::User user;
      {
        TRY_ASSIGN(stmt,
                   c.Prepare("SELECT " + std::string(kUserColumns) +
                             " FROM users u WHERE u.tenant_id = ? AND " + std::string(condition)));
        TRY_ASSIGN(row, stmt.Bind(tenant_id, value).Step());
        if (!row) return tl::unexpected(core::NotFound("User not found."));
        user = ReadUser(stmt);
      }
      TRY(LoadMemberships(c, user));
      TRY(tx.Commit());
      return user;
    });
  }

  static Result<std::set<int>> AppliedVersions(Connection& c) {
    std::set<int> versions;
    TRY_ASSIGN(table, Exists(c,
                             "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                             "name = 'schema_migrations'"));
    if (!table) return versions;
    TRY_ASSIGN(stmt, c.Prepare("SELECT version FROM schema_migrations"));
    while (true) {
      TRY_ASSIGN(row, stmt.Step());
      if (!row) break;
      versions.insert(static_cast<int>(stmt.Int(0)));
    }
    return versions;
  }

  static bool HasPending(const std::set<int>& applied) {
    for (const auto& migration : sqlite::Migrations()) {
      if (applied.count(migration.version) == 0) return true;
    }
    return false;
  }

  // Never held together: Write takes queue_mutex_, releases it, then takes write_mutex_.
  std::mutex write_mutex_;
  std::unique_ptr<Connection> writer_;  // GUARDED_BY(write_mutex_)
  std::mutex queue_mutex_;
  std::deque<WriteJob*> queue_;  // GUARDED_BY(queue_mutex_); the front one leads

  std::vector<std::unique_ptr<Connection>> readers_;  // fixed after construction
  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<Connection*> free_readers_;  // GUARDED_BY(pool_mutex_)

  std::unique_ptr<Connection> checkpointer_;         // only the checkpoint thread uses it
  std::optional<core::PeriodicThread> checkpoints_;  // last: stopped before the connections close
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  const bool memory = path == ":memory:" || path.empty();
  auto writer = Connection::Open(memory ? ":memory:" : path,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  if (!writer) return tl::unexpected(std::move(writer.error()));
  std::vector<std::unique_ptr<Connection>> readers;
  std::unique_ptr<Connection> checkpointer;
  if (!memory) {
    // A file opened read-only (permissions, or "mode=ro") keeps its journal mode: skip WAL.
    const bool read_only = sqlite3_db_readonly((*writer)->db(), "main") == 1;
    if (!read_only) {
      if (auto ok = (*writer)->Exec(kWriterPragmas); !ok) {
        return tl::unexpected(std::move(ok.error()));
      }
      auto opened = Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
      if (!opened) return tl::unexpected(std::move(opened.error()));
      // A connection that has not yet read the file does not know it is in WAL mode, and
      // its checkpoints do nothing.
      if (auto ok = (*opened)->Exec("PRAGMA journal_mode = WAL;"); !ok) {
        return tl::unexpected(std::move(ok.error()));
      }
      checkpointer = std::move(*opened);
    }
    for (int i = 0; i < kReaderCount; ++i) {
      auto reader = Connection::Open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
      if (!reader) return tl::unexpected(std::move(reader.error()));
      if (auto ok = (*reader)->Exec(kReaderPragmas); !ok) {
        return tl::unexpected(std::move(ok.error()));
      }
      readers.push_back(std::move(*reader));
    }
  }
  return std::unique_ptr<Store>(
      new SqliteStore(std::move(*writer), std::move(readers), std::move(checkpointer)));
}

}  // namespace tokend::store
