#include "store/postgres/pg_migrations.h"

#include <iterator>
#include <set>
#include <string>

namespace tokend::store::postgres {
namespace {

// pg_advisory_xact_lock key: "tokend" in ASCII, so it will not collide with other users of
// advisory locks in a shared database by accident.
constexpr std::int64_t kMigrationLockKey = 0x746f6b656e64;

// Dialect differences from the SQLite twin: BIGINT times, BOOLEAN flags, BYTEA bytes, an
// identity column for audit ids, and no WITHOUT ROWID. Sorted text is compared with
// COLLATE "C" in the queries, so the indexes that serve sorts use it too.
constexpr std::string_view kV1Initial = R"sql(
CREATE TABLE tenants (
  id                              TEXT    NOT NULL PRIMARY KEY,
  name                            TEXT    NOT NULL UNIQUE,
  api_token_max_lifetime_days     INTEGER NOT NULL,
  api_token_default_lifetime_days INTEGER NOT NULL,
  api_token_reveal                BOOLEAN NOT NULL,
  mobile_idle_timeout_seconds     BIGINT  NOT NULL,
  mobile_max_lifetime_seconds     BIGINT  NOT NULL,
  console_idle_timeout_seconds    BIGINT  NOT NULL,
  console_max_lifetime_seconds    BIGINT  NOT NULL,
  created_at                      BIGINT  NOT NULL
);

CREATE TABLE departments (
  tenant_id  TEXT   NOT NULL REFERENCES tenants (id),
  id         TEXT   NOT NULL,
  name       TEXT   NOT NULL,
  parent_id  TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, parent_id) REFERENCES departments (tenant_id, id)
);
CREATE INDEX departments_parent ON departments (tenant_id, parent_id);

CREATE TABLE user_types (
  tenant_id   TEXT   NOT NULL REFERENCES tenants (id),
  id          TEXT   NOT NULL,
  name        TEXT   NOT NULL,
  permissions TEXT   NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE users (
  tenant_id     TEXT    NOT NULL REFERENCES tenants (id),
  id            TEXT    NOT NULL,
  username      TEXT    NOT NULL,
  email         TEXT    NOT NULL,
  display_name  TEXT    NOT NULL,
  password_hash TEXT    NOT NULL,
  active        BOOLEAN NOT NULL,
  created_at    BIGINT  NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, username)
);
CREATE INDEX users_by_username ON users (tenant_id, username COLLATE "C");

CREATE TABLE memberships (
  tenant_id     TEXT    NOT NULL,
  user_id       TEXT    NOT NULL,
  department_id TEXT    NOT NULL,
  user_type_id  TEXT    NOT NULL,
  position      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, user_id, department_id, user_type_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, department_id) REFERENCES departments (tenant_id, id),
  FOREIGN KEY (tenant_id, user_type_id) REFERENCES user_types (tenant_id, id)
);
CREATE INDEX memberships_department ON memberships (tenant_id, department_id);
CREATE INDEX memberships_user_type ON memberships (tenant_id, user_type_id);

CREATE TABLE tokens (
  tenant_id     TEXT     NOT NULL REFERENCES tenants (id),
  id            TEXT     NOT NULL,
  kind          SMALLINT NOT NULL,
  name          TEXT     NOT NULL,
  description   TEXT     NOT NULL,
  lookup_hash   BYTEA    NOT NULL UNIQUE,
  sealed_secret BYTEA,
  token_hint    TEXT     NOT NULL,
  user_id       TEXT     NOT NULL,
  department_id TEXT     NOT NULL,
  user_type_id  TEXT     NOT NULL,
  created_by    TEXT,
  device_name   TEXT     NOT NULL,
  created_at    BIGINT   NOT NULL,
  expires_at    BIGINT   NOT NULL,
  last_used_at  BIGINT,
  last_used_ip  TEXT,
  revoked_at    BIGINT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tokens_by_created ON tokens (tenant_id, kind, created_at, id COLLATE "C")
  WHERE revoked_at IS NULL;
CREATE INDEX tokens_by_name ON tokens (tenant_id, kind, name COLLATE "C", id COLLATE "C")
  WHERE revoked_at IS NULL;
CREATE INDEX tokens_by_expires ON tokens (tenant_id, kind, expires_at, id COLLATE "C")
  WHERE revoked_at IS NULL;
CREATE INDEX tokens_by_last_used
  ON tokens (tenant_id, kind, (coalesce(last_used_at, -1)), id COLLATE "C")
  WHERE revoked_at IS NULL;
CREATE INDEX tokens_by_user ON tokens (tenant_id, user_id, kind, created_at, id COLLATE "C")
  WHERE revoked_at IS NULL;
CREATE INDEX tokens_by_department
  ON tokens (tenant_id, department_id, kind, created_at, id COLLATE "C")
  WHERE revoked_at IS NULL;
CREATE INDEX tokens_by_user_type
  ON tokens (tenant_id, user_type_id, kind, created_at, id COLLATE "C")
  WHERE revoked_at IS NULL;

CREATE TABLE sessions (
  id_hash       BYTEA  NOT NULL PRIMARY KEY,
  tenant_id     TEXT   NOT NULL,
  user_id       TEXT   NOT NULL,
  department_id TEXT   NOT NULL,
  user_type_id  TEXT   NOT NULL,
  csrf_token    TEXT   NOT NULL,
  created_at    BIGINT NOT NULL,
  last_seen_at  BIGINT NOT NULL,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

CREATE TABLE audit_events (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id      TEXT   NOT NULL,
  time           BIGINT NOT NULL,
  actor_user_id  TEXT,
  actor_username TEXT   NOT NULL,
  action         TEXT   NOT NULL,
  target_type    TEXT   NOT NULL,
  target_id      TEXT   NOT NULL,
  client_ip      TEXT   NOT NULL,
  details_json   TEXT   NOT NULL
);
CREATE INDEX audit_by_tenant ON audit_events (tenant_id, id);
CREATE INDEX audit_by_action ON audit_events (tenant_id, action, id);
CREATE INDEX audit_by_actor ON audit_events (tenant_id, actor_user_id, id);
CREATE INDEX audit_by_target ON audit_events (tenant_id, target_id, id);
)sql";

// Mirrors SQLite's migration 2: full instead of partial token indexes, so that a revocation
// (an UPDATE of revoked_at, which no index names any more) leaves every index alone and can
// be a HOT update. Lists filter revoked rows as they read them.
constexpr std::string_view kV2FullTokenIndexes = R"sql(
DROP INDEX tokens_by_created;
DROP INDEX tokens_by_name;
DROP INDEX tokens_by_expires;
DROP INDEX tokens_by_last_used;
DROP INDEX tokens_by_user;
DROP INDEX tokens_by_department;
DROP INDEX tokens_by_user_type;
CREATE INDEX tokens_by_created ON tokens (tenant_id, kind, created_at, id COLLATE "C");
CREATE INDEX tokens_by_name ON tokens (tenant_id, kind, name COLLATE "C", id COLLATE "C");
CREATE INDEX tokens_by_expires ON tokens (tenant_id, kind, expires_at, id COLLATE "C");
CREATE INDEX tokens_by_last_used
  ON tokens (tenant_id, kind, (coalesce(last_used_at, -1)), id COLLATE "C");
CREATE INDEX tokens_by_user ON tokens (tenant_id, user_id, kind, created_at, id COLLATE "C");
CREATE INDEX tokens_by_department
  ON tokens (tenant_id, department_id, kind, created_at, id COLLATE "C");
CREATE INDEX tokens_by_user_type
  ON tokens (tenant_id, user_type_id, kind, created_at, id COLLATE "C");
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial schema", kV1Initial},
    {2, "full token indexes", kV2FullTokenIndexes},
};

constexpr std::string_view kCreateMigrationsTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at BIGINT  NOT NULL
))sql";

constexpr Query kInsertMigration{"migrate_insert",
                                 "INSERT INTO schema_migrations (version, name, applied_at) "
                                 "VALUES ($1, $2, extract(epoch FROM now())::bigint)"};

core::Result<void> ApplyPending(Connection& conn) {
  // Migrations may outlast the pool's per-statement limits (an index on a large table), and
  // a second instance waits here for the first one's migration. LOCAL: only this transaction.
  auto limits =
      conn.ExecSql("SET LOCAL statement_timeout = '15min'; SET LOCAL lock_timeout = '15min'");
  if (!limits) return tl::unexpected(std::move(limits.error()));
  auto locked =
      conn.ExecSql("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")");
  if (!locked) return tl::unexpected(std::move(locked.error()));
  auto created = conn.ExecSql(kCreateMigrationsTable);
  if (!created) return tl::unexpected(std::move(created.error()));
  auto applied = conn.ExecSql("SELECT version FROM schema_migrations");
  if (!applied) return tl::unexpected(std::move(applied.error()));
  std::set<std::int64_t> done;
  for (int row = 0; row < applied->rows(); ++row) done.insert(applied->Int(row, 0));
  // A database migrated by a newer tokend: running on it could corrupt what this version
  // does not know about.
  if (!done.empty() && *done.rbegin() > std::end(kMigrations)[-1].version) {
    core::Error error = core::FailedPrecondition(
        "The database schema is newer than this version of tokend; upgrade tokend.");
    error.log_detail = "schema version " + std::to_string(*done.rbegin()) + " > known " +
                       std::to_string(std::end(kMigrations)[-1].version);
    return tl::unexpected(std::move(error));
  }

  for (const Migration& migration : kMigrations) {
    if (done.contains(migration.version)) continue;
    auto ran = conn.ExecSql(migration.sql);
    if (!ran) {
      core::Error error = std::move(ran.error());
      error.log_detail = "migration " + std::to_string(migration.version) + ": " + error.log_detail;
      return tl::unexpected(std::move(error));
    }
    auto recorded = conn.Exec(
        kInsertMigration, Params().Int(migration.version).Text(std::string_view(migration.name)));
    if (!recorded) return tl::unexpected(std::move(recorded.error()));
  }
  return core::Ok();
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

core::Result<void> RunMigrations(Connection& conn) {
  auto begun = conn.ExecSql("BEGIN");
  if (!begun) return tl::unexpected(std::move(begun.error()));
  auto result = ApplyPending(conn);
  auto ended = conn.ExecSql(result ? "COMMIT" : "ROLLBACK");
  if (!result) return result;
  if (!ended) return tl::unexpected(std::move(ended.error()));
  return core::Ok();
}

}  // namespace tokend::store::postgres
