#include "store/postgres/pg_connection.h"

#include <poll.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace tokend::store::postgres {
namespace {

// Keeps libpq's NOTICEs (e.g. "relation already exists, skipping") off stderr.
void IgnoreNotice(void*, const char*) {}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

// --- Params --------------------------------------------------------------------------------

Params& Params::Text(std::string_view value) {
  values_.emplace_back(std::string(value));
  lengths_.push_back(0);
  formats_.push_back(0);
  return *this;
}

Params& Params::OptText(const std::optional<std::string>& value) {
  return value ? Text(std::string_view(*value)) : Null();
}

Params& Params::Int(std::int64_t value) { return Text(std::to_string(value)); }

Params& Params::OptInt(const std::optional<std::int64_t>& value) {
  return value ? Int(*value) : Null();
}

Params& Params::Bool(bool value) { return Text(value ? "true" : "false"); }

Params& Params::Bytes(std::string_view value) {
  values_.emplace_back(std::string(value));
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(1);
  return *this;
}

Params& Params::OptBytes(const std::optional<std::string>& value) {
  return value ? Bytes(std::string_view(*value)) : Null();
}

Params& Params::TextArray(const std::optional<std::vector<std::string>>& values) {
  if (!values) return Null();
  std::string literal = "{";
  for (std::size_t i = 0; i < values->size(); ++i) {
    if (i > 0) literal += ',';
    literal += '"';
    for (char c : (*values)[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  return Text(literal);
}

Params& Params::Null() {
  values_.emplace_back(std::nullopt);
  lengths_.push_back(0);
  formats_.push_back(0);
  return *this;
}

std::vector<const char*> Params::ValuePointers() const {
  std::vector<const char*> pointers;
  pointers.reserve(values_.size());
  for (const auto& value : values_) pointers.push_back(value ? value->c_str() : nullptr);
  return pointers;
}

// --- PgResult ------------------------------------------------------------------------------

std::int64_t PgResult::affected() const {
  const char* n = result_ ? PQcmdTuples(result_.get()) : "";
  return n[0] == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(result_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, col)));
}

std::optional<std::string> PgResult::OptText(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Text(row, col);
}

std::int64_t PgResult::Int(int row, int col) const {
  std::int64_t value = 0;
  const char* text = PQgetvalue(result_.get(), row, col);
  std::from_chars(text, text + PQgetlength(result_.get(), row, col), value);
  return value;
}

std::optional<std::int64_t> PgResult::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

bool PgResult::Bool(int row, int col) const {
  return PQgetvalue(result_.get(), row, col)[0] == 't';
}

std::string PgResult::Bytes(int row, int col) const {
  std::size_t length = 0;
  unsigned char* raw = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col)), &length);
  if (raw == nullptr) return {};
  std::string bytes(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return bytes;
}

std::optional<std::string> PgResult::OptBytes(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Bytes(row, col);
}

// --- Errors --------------------------------------------------------------------------------

core::Error ErrorFromResult(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string detail = std::string(what) + ": ";
  if (result == nullptr || PQstatus(conn) != CONNECTION_OK) {
    detail += Trimmed(PQerrorMessage(conn));
    return core::Unavailable(std::move(detail));
  }
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string_view sqlstate = state ? state : "";
  detail += Trimmed(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
  detail += " (SQLSTATE " + std::string(sqlstate);
  if (const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME)) {
    detail += ", constraint " + std::string(constraint);
  }
  detail += ")";

  if (sqlstate == "23505") {
    core::Error error = core::AlreadyExists("It already exists.");
    error.log_detail = std::move(detail);
    return error;
  }
  if (sqlstate == "23503") {
    core::Error error = core::FailedPrecondition(
        "It is still referenced, or references something that does not exist.");
    error.log_detail = std::move(detail);
    return error;
  }
  if (StartsWith(sqlstate, "08") || StartsWith(sqlstate, "53") || StartsWith(sqlstate, "57") ||
      sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "25006") {
    return core::Unavailable(std::move(detail));
  }
  return core::Internal(std::move(detail));
}

// --- Connection ----------------------------------------------------------------------------

Result<PGconn*> ConnectRaw(const ConnectionSettings& settings) {
  const std::string connect_timeout = std::to_string(settings.connect_timeout.count());
  const std::string tcp_user_timeout = std::to_string(settings.tcp_user_timeout.count());
  // Defaults first, the caller's conninfo after: libpq lets later entries win, so a URL can
  // still override any of these.
  const char* keywords[] = {"connect_timeout",
                            "tcp_user_timeout",
                            "keepalives",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "application_name",
                            "dbname",
                            nullptr};
  const char* values[] = {connect_timeout.c_str(),
                          tcp_user_timeout.c_str(),
                          "1",
                          "10",
                          "5",
                          "3",
                          "tokend",
                          settings.conninfo.c_str(),
                          nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return tl::unexpected(core::Unavailable("libpq: out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    core::Error error = core::Unavailable("connect: " + Trimmed(PQerrorMessage(conn)));
    PQfinish(conn);
    return tl::unexpected(std::move(error));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  // synchronous_commit is deliberately left at the server's setting (on): a revocation that
  // was acknowledged must survive a crash.
  const std::string setup =
      "SET statement_timeout = " + std::to_string(settings.statement_timeout.count()) +
      "; SET lock_timeout = " + std::to_string(settings.lock_timeout.count()) +
      "; SET idle_in_transaction_session_timeout = 60000; SET TIME ZONE 'UTC'";
  PGresult* result = PQexec(conn, setup.c_str());
  if (result == nullptr || PQresultStatus(result) != PGRES_COMMAND_OK) {
    core::Error error = ErrorFromResult(conn, result, "session setup");
    if (error.code != core::ErrorCode::kUnavailable) error = core::Unavailable(error.log_detail);
    PQclear(result);
    PQfinish(conn);
    return tl::unexpected(std::move(error));
  }
  PQclear(result);
  return conn;
}

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectionSettings& settings) {
  auto conn = ConnectRaw(settings);
  if (!conn) return tl::unexpected(std::move(conn.error()));
  return std::unique_ptr<Connection>(new Connection(*conn));
}

Connection::~Connection() { PQfinish(conn_); }

Result<PgResult> Connection::Check(PGresult* result, std::string_view what) {
  if (result != nullptr) {
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return PgResult(result);
  }
  core::Error error = ErrorFromResult(conn_, result, what);
  PQclear(result);
  return tl::unexpected(std::move(error));
}

Result<PgResult> Connection::Exec(const Query& query, const Params& params) {
  const std::string name(query.name);
  if (!prepared_.contains(name)) {
    const std::string sql(query.sql);
    auto prepared =
        Check(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), "prepare " + name);
    if (!prepared) return prepared;
    prepared_.insert(name);
  }
  std::vector<const char*> values = params.ValuePointers();
  return Check(PQexecPrepared(conn_, name.c_str(), params.size(), values.data(), params.lengths(),
                              params.formats(), /*resultFormat=*/0),
               name);
}

Result<PgResult> Connection::ExecSql(std::string_view sql) {
  const std::string text(sql);
  return Check(PQexec(conn_, text.c_str()), "exec");
}

Result<PgResult> Connection::ExecSql(std::string_view sql, const Params& params) {
  const std::string text(sql);
  std::vector<const char*> values = params.ValuePointers();
  return Check(PQexecParams(conn_, text.c_str(), params.size(), nullptr, values.data(),
                            params.lengths(), params.formats(), 0),
               "exec");
}

bool Connection::Healthy() {
  // A server that ended the session (restart, pg_terminate_backend, failover) leaves a FATAL
  // message and then EOF on the socket; libpq notices EOF only when it reads again. So read
  // while the socket stays readable (bounded: an idle session receives at most a few
  // asynchronous messages). Never blocks: poll has a zero timeout.
  for (int i = 0; i < 4 && PQstatus(conn_) == CONNECTION_OK; ++i) {
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    if (::poll(&fd, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) return false;
    while (PGnotify* notify = PQnotifies(conn_)) PQfreemem(notify);
  }
  return PQstatus(conn_) == CONNECTION_OK;
}

bool Connection::Idle() const { return PQtransactionStatus(conn_) == PQTRANS_IDLE; }

}  // namespace tokend::store::postgres
