#include "store/sqlite/sqlite_connection.h"

#include <string>

namespace tokend::store::sqlite {
namespace {

// How long a connection waits for another process's write lock before reporting kUnavailable.
// Writers of this process are serialised by the store's mutex; this covers the CLI writing
// the same file while the server runs.
constexpr int kBusyTimeoutMs = 5000;

std::string Detail(sqlite3* db, int rc, std::string_view context) {
  std::string detail = "sqlite: ";
  detail += context;
  detail += ": ";
  detail += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  detail += " (code " + std::to_string(rc) + ")";
  return detail;
}

}  // namespace

core::Error ErrorFrom(sqlite3* db, int rc, std::string_view context) {
  std::string detail = Detail(db, rc, context);
  core::Error error;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: {
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        error = core::FailedPrecondition("A referenced item does not exist or is still in use.");
      } else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        if (detail.find("users.username") != std::string::npos) {
          error = core::AlreadyExists("The username is already taken.",
                                      {{"username", "is already taken"}});
        } else if (detail.find("tenants.name") != std::string::npos) {
          error = core::AlreadyExists("The tenant name is already taken.",
                                      {{"name", "is already taken"}});
        } else {
          error = core::AlreadyExists("The item already exists.");
        }
      } else {
        error = core::Internal("");
      }
      break;
    }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      error = core::Unavailable("");
      break;
    default:
      error = core::Internal("");
      break;
  }
  error.log_detail = std::move(detail);
  return error;
}

// --- Statement -------------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : stmt_(other.stmt_),
      owned_(other.owned_),
      next_index_(other.next_index_),
      bind_rc_(other.bind_rc_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

void Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindOne(std::string_view value) {
  Check(sqlite3_bind_text64(stmt_, next_index_++, value.data(), value.size(), SQLITE_TRANSIENT,
                            SQLITE_UTF8));
}

void Statement::BindOne(Blob value) {
  // A zero-length blob must still be a BLOB, not NULL: bind_zeroblob for that case.
  if (value.bytes.empty()) {
    Check(sqlite3_bind_zeroblob(stmt_, next_index_++, 0));
    return;
  }
  Check(sqlite3_bind_blob64(stmt_, next_index_++, value.bytes.data(), value.bytes.size(),
                            SQLITE_TRANSIENT));
}

void Statement::BindOne(std::int64_t value) {
  Check(sqlite3_bind_int64(stmt_, next_index_++, value));
}

void Statement::BindOne(std::nullopt_t) { Check(sqlite3_bind_null(stmt_, next_index_++)); }

Result<bool> Statement::Step() {
  sqlite3* db = sqlite3_db_handle(stmt_);
  if (bind_rc_ != SQLITE_OK) {
    return tl::unexpected(ErrorFrom(db, bind_rc_, "bind"));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_step returns the extended code when extended codes are on.
  const char* sql = sqlite3_sql(stmt_);
  std::string_view context = sql != nullptr ? std::string_view(sql) : "step";
  if (context.size() > 80) context = context.substr(0, 80);
  return tl::unexpected(ErrorFrom(db, rc, context));
}

VoidResult Statement::Run() {
  while (true) {
    auto row = Step();
    if (!row) return tl::unexpected(std::move(row.error()));
    if (!*row) return core::Ok();
  }
}

int Statement::Changes() const { return sqlite3_changes(sqlite3_db_handle(stmt_)); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
  // Ask for the blob first so no UTF conversion happens, then the size.
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

std::optional<std::string> Statement::OptText(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Text(column);
}

std::optional<core::Time> Statement::OptTime(int column) const {
  if (IsNull(column)) return std::nullopt;
  return TimeAt(column);
}

// --- Connection ------------------------------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    core::Error error = ErrorFrom(db, rc, "open");
    error.code = core::ErrorCode::kUnavailable;
    sqlite3_close(db);
    return tl::unexpected(std::move(error));
  }
  std::unique_ptr<Connection> connection(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  if (auto ok = connection->Exec("PRAGMA foreign_keys = ON"); !ok) {
    return tl::unexpected(std::move(ok.error()));
  }
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return Statement(it->second, false);
  const bool cache = cache_.size() < kMaxCachedStatements;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return tl::unexpected(ErrorFrom(db_, rc, "prepare"));
  }
  if (!cache) return Statement(stmt, true);
  cache_.emplace(std::string(sql), stmt);
  return Statement(stmt, false);
}

VoidResult Connection::Exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) return tl::unexpected(ErrorFrom(db_, sqlite3_extended_errcode(db_), "exec"));
  return core::Ok();
}

// --- Transaction -----------------------------------------------------------------------------

Result<Transaction> Transaction::Begin(Connection& connection, Mode mode) {
  auto stmt = connection.Prepare(mode == Mode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!stmt) return tl::unexpected(std::move(stmt.error()));
  if (auto ok = stmt->Run(); !ok) return tl::unexpected(std::move(ok.error()));
  return Transaction(&connection);
}

Transaction::~Transaction() {
  if (connection_ == nullptr) return;
  // Rollback fails only when SQLite already rolled back (e.g. after SQLITE_FULL): nothing to do.
  if (auto stmt = connection_->Prepare("ROLLBACK")) (void)stmt->Run();
}

VoidResult Transaction::Commit() {
  auto stmt = connection_->Prepare("COMMIT");
  if (!stmt) return tl::unexpected(std::move(stmt.error()));
  if (auto ok = stmt->Run(); !ok) return tl::unexpected(std::move(ok.error()));
  connection_ = nullptr;
  return core::Ok();
}

}  // namespace tokend::store::sqlite
