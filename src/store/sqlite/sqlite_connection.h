// A thin RAII layer over the SQLite C API: connections with a prepared-statement cache,
// statements that reset themselves, transactions that roll back unless committed, and the one
// mapping from SQLite result codes to core::Error.
//
// Thread-safety: a Connection and its Statements are used by one thread at a time; the store
// guarantees that with its writer mutex and reader pool.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"
#include "core/string_hash.h"

namespace tokend::store::sqlite {

using core::Result;
using VoidResult = core::Result<void>;

// Raw bytes, bound as a BLOB (hashes, sealed secrets) rather than TEXT.
struct Blob {
  std::string_view bytes;
};

// Maps a failed SQLite call to an Error. Unique/primary-key violations are kAlreadyExists,
// foreign-key violations kFailedPrecondition, busy/locked/read-only/full/I/O/open failures
// kUnavailable, anything else kInternal. The SQLite message goes to log_detail only.
core::Error ErrorFrom(sqlite3* db, int rc, std::string_view context);

// A cached (or, past the cache's size, owned) prepared statement. Binds positionally from 1.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, bool owned) : stmt_(stmt), owned_(owned) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  template <typename... Args>
  Statement& Bind(const Args&... args) {
    (BindOne(args), ...);
    return *this;
  }

  // true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion; rows, if any, are ignored.
  VoidResult Run();
  // Rows changed by the last Run() on this statement's connection.
  int Changes() const;

  bool IsNull(int column) const;
  std::int64_t Int(int column) const;
  std::string Text(int column) const;  // also reads BLOBs
  core::Time TimeAt(int column) const { return core::FromUnixSeconds(Int(column)); }
  std::optional<std::string> OptText(int column) const;
  std::optional<core::Time> OptTime(int column) const;

 private:
  void BindOne(std::string_view value);
  void BindOne(const char* value) { BindOne(std::string_view(value)); }
  void BindOne(const std::string& value) { BindOne(std::string_view(value)); }
  void BindOne(Blob value);
  void BindOne(std::int64_t value);
  void BindOne(int value) { BindOne(static_cast<std::int64_t>(value)); }
  void BindOne(bool value) { BindOne(static_cast<std::int64_t>(value ? 1 : 0)); }
  void BindOne(core::Time value) { BindOne(core::ToUnixSeconds(value)); }
  void BindOne(core::TokenKind value) { BindOne(static_cast<std::int64_t>(value)); }
  void BindOne(std::nullopt_t);
  template <typename T>
  void BindOne(const std::optional<T>& value) {
    if (value) {
      BindOne(*value);
    } else {
      BindOne(std::nullopt);
    }
  }
  void Check(int rc);

  sqlite3_stmt* stmt_;
  bool owned_;
  int next_index_ = 1;
  int bind_rc_ = SQLITE_OK;
};

class Connection {
 public:
  // Opens `path` (a file name, a "file:" URI or ":memory:") with `flags` and applies the
  // per-connection settings every connection needs (extended codes, busy timeout, foreign keys).
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int flags);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares `sql` once and hands out the cached statement afterwards.
  // REQUIRES: no other Statement for the same SQL is alive on this connection.
  Result<Statement> Prepare(std::string_view sql);
  // Runs one or more statements without results (pragmas, migrations).
  VoidResult Exec(const std::string& sql);
  sqlite3* db() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  // Bounded so that the list queries' many shapes cannot grow it without limit.
  static constexpr std::size_t kMaxCachedStatements = 256;
  // Searched by the caller's string_view: a lookup allocates nothing.
  std::unordered_map<std::string, sqlite3_stmt*, core::StringHash, std::equal_to<>> cache_;
};

// BEGIN IMMEDIATE (writes) or BEGIN (consistent multi-statement reads); rolls back on
// destruction unless Commit() succeeded.
class Transaction {
 public:
  enum class Mode { kRead, kWrite };
  static Result<Transaction> Begin(Connection& connection, Mode mode);
  Transaction(Transaction&& other) noexcept : connection_(other.connection_) {
    other.connection_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  VoidResult Commit();

 private:
  explicit Transaction(Connection* connection) : connection_(connection) {}
  Connection* connection_;  // null once committed or rolled back
};

}  // namespace tokend::store::sqlite
