// One libpq connection, its results and its parameters: the thin layer between the PostgreSQL
// store and libpq. Nothing here throws; every failure is a core::Error.
//
// Error mapping (SQLSTATE → core::ErrorCode), shared by every query of the store:
//   23505 unique_violation        → kAlreadyExists
//   23503 foreign_key_violation   → kFailedPrecondition
//   connection lost, 08xxx, 53xxx, 57xxx (statement_timeout, shutdown), 40001, 40P01, 55P03,
//   25006 (read-only transaction) → kUnavailable
//   anything else                 → kInternal
// The server's message goes to log_detail only, never to public_message. DETAIL (which can
// quote key values) is not copied at all.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace tokend::store::postgres {

using core::Result;

// A statement with a stable name: prepared once per connection under `name` on first use.
// REQUIRES: names are unique per SQL text across the process.
struct Query {
  std::string_view name;
  std::string_view sql;
};

// Query parameters, sent as text except bytes (sent binary, so BYTEA needs no escaping).
class Params {
 public:
  Params& Text(std::string_view value);
  Params& OptText(const std::optional<std::string>& value);
  Params& Int(std::int64_t value);
  Params& OptInt(const std::optional<std::int64_t>& value);
  Params& Bool(bool value);
  Params& Bytes(std::string_view value);
  Params& OptBytes(const std::optional<std::string>& value);
  // A PostgreSQL text[] literal; nullopt is SQL NULL.
  Params& TextArray(const std::optional<std::vector<std::string>>& values);
  Params& Null();

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into this object: valid while it lives and is not modified.
  std::vector<const char*> ValuePointers() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// Owns a PGresult. Columns are read in text format.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result) : result_(result) {}
  PgResult(PgResult&&) noexcept = default;
  PgResult& operator=(PgResult&&) noexcept = default;

  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  // Rows changed by INSERT/UPDATE/DELETE.
  std::int64_t affected() const;
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  std::string Text(int row, int col) const;
  std::optional<std::string> OptText(int row, int col) const;
  std::int64_t Int(int row, int col) const;
  std::optional<std::int64_t> OptInt(int row, int col) const;
  bool Bool(int row, int col) const;
  // A BYTEA column (hex text format) decoded to raw bytes.
  std::string Bytes(int row, int col) const;
  std::optional<std::string> OptBytes(int row, int col) const;

 private:
  struct Deleter {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Deleter> result_;
};

// Settings applied to every connection of a store.
struct ConnectionSettings {
  std::string conninfo;  // a libpq URI or key=value string, without tokend's own parameters
  std::chrono::seconds connect_timeout{5};
  // Server-side limits, so that a slow or locked database yields kUnavailable, never a hang.
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::milliseconds lock_timeout{3000};
  // Client-side: a peer that stops answering mid-query (network loss) is given up after this.
  std::chrono::milliseconds tcp_user_timeout{10000};
};

// One connection. Not thread-safe: used by one thread at a time (the pool hands it out).
class Connection {
 public:
  // kUnavailable when the server cannot be reached or refuses the connection.
  static Result<std::unique_ptr<Connection>> Open(const ConnectionSettings& settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a named statement, preparing it on this connection first if needed.
  Result<PgResult> Exec(const Query& query, const Params& params = {});
  // Runs unprepared SQL (may hold several statements when `params` is empty): transactions
  // control, migrations, and statements whose text is built at run time.
  Result<PgResult> ExecSql(std::string_view sql);
  Result<PgResult> ExecSql(std::string_view sql, const Params& params);

  // False when the connection is known broken. Reads pending input without blocking, so a
  // server that closed the socket while the connection sat idle is noticed here.
  bool Healthy();
  // True when no transaction is open (safe to hand to another user).
  bool Idle() const;

  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Result<PgResult> Check(PGresult* result, std::string_view what);

  PGconn* conn_;
  std::unordered_set<std::string> prepared_;  // statement names prepared here
};

// The core::Error for a failed result (may be null) on `conn`. `what` names the operation.
core::Error ErrorFromResult(PGconn* conn, const PGresult* result, std::string_view what);

// Opens a raw connection with `settings` applied (URL parameters win over the defaults;
// timeouts are SET after connecting). kUnavailable on failure. For the notifier, which keeps
// its own connection outside the pool.
Result<PGconn*> ConnectRaw(const ConnectionSettings& settings);

}  // namespace tokend::store::postgres
