// Test support: a fresh, migrated, empty PostgreSQL database per test.
//
// The server comes from env TOKEND_TEST_PG_URL, else from the file named by env
// TOKEND_TEST_PG_URL_FILE (written by tests/pg/pg_fixture.sh). Without either, tests skip.
//
// Speed: the schema is migrated once per server into a template database (named after a hash
// of the migrations, so a changed schema gets a new template), and each test database is a
// CREATE DATABASE ... TEMPLATE copy of it. Test databases are dropped when the process ends.
// Header-only on purpose: a .cc file in this folder would be linked into tokend_store.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "store/postgres/pg_migrations.h"
#include "store/postgres/postgres_store.h"

namespace tokend::store::postgres::testing {

// The server URL, or nullopt when no server is configured.
inline std::optional<std::string> TestServerUrl() {
  if (const char* url = std::getenv("TOKEND_TEST_PG_URL"); url && *url) return std::string(url);
  if (const char* file = std::getenv("TOKEND_TEST_PG_URL_FILE"); file && *file) {
    std::ifstream in(file);
    std::string url;
    if (in && std::getline(in, url) && !url.empty()) return url;
  }
  return std::nullopt;
}

// A conninfo for `database` on the server of `server_url` (every other option kept).
inline std::string ConninfoFor(const std::string& server_url, const std::string& database) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(server_url.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return server_url;
  }
  auto quote = [](const std::string& value) {
    std::string out = "'";
    for (char c : value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  std::string conninfo = "dbname=" + quote(database);
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string(o->keyword) == "dbname") continue;
    conninfo += " " + std::string(o->keyword) + "=" + quote(o->val);
  }
  PQconninfoFree(options);
  return conninfo;
}

// An admin session on the server, for CREATE/DROP DATABASE. Dies loudly on failure: tests
// cannot run without it.
class AdminConnection {
 public:
  explicit AdminConnection(const std::string& server_url)
      : conn_(PQconnectdb(server_url.c_str())) {}
  ~AdminConnection() { PQfinish(conn_); }
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }
  // Returns the error message, empty on success; `first_value` gets row 0 column 0 if any.
  std::string Exec(const std::string& sql, std::string* first_value = nullptr) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string message;
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      message = PQerrorMessage(conn_);
      if (message.empty()) message = "query failed";
    } else if (first_value && PQntuples(r) > 0) {
      *first_value = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return message;
  }
  PGconn* raw() { return conn_; }

 private:
  PGconn* conn_;
};

inline std::string QuoteIdent(const std::string& name) { return "\"" + name + "\""; }

inline std::string TemplateName() {
  std::string all;
  for (const Migration& m : Migrations()) all += std::string(m.sql) + "\n--\n";
  return "tokend_tmpl_" + std::to_string(std::hash<std::string>{}(all) % 1'000'000'007);
}

// Databases created by this process, dropped at exit (see DropCreatedDatabases).
struct CreatedDatabases {
  std::mutex mutex;
  std::string server_url;
  std::vector<std::string> names;
};
inline CreatedDatabases& Created() {
  static CreatedDatabases created;
  return created;
}

inline void DropCreatedDatabases() {
  CreatedDatabases& created = Created();
  std::lock_guard lock(created.mutex);
  if (created.names.empty()) return;
  AdminConnection admin(created.server_url);
  if (!admin.ok()) return;
  for (const std::string& name : created.names) {
    admin.Exec("DROP DATABASE IF EXISTS " + QuoteIdent(name) + " WITH (FORCE)");
  }
  created.names.clear();
}

// Creates an empty database (no schema) named uniquely; returns its conninfo, or an error
// message prefixed with "error: ".
inline std::string CreateEmptyDatabase(const std::string& server_url, AdminConnection& admin,
                                       const std::string& template_name = "template0") {
  std::string name = "tokend_test_" + core::NewId();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // NewId is base62: lower-casing keeps ~103 bits, ample for uniqueness.
  std::string error =
      admin.Exec("CREATE DATABASE " + QuoteIdent(name) + " TEMPLATE " + QuoteIdent(template_name));
  if (!error.empty()) return "error: " + error;
  {
    std::lock_guard lock(Created().mutex);
    Created().server_url = server_url;
    Created().names.push_back(name);
  }
  return ConninfoFor(server_url, name);
}

// Makes sure the migrated template exists. Serialised across processes by an advisory lock.
inline std::string EnsureTemplate(const std::string& server_url, AdminConnection& admin) {
  const std::string name = TemplateName();
  // Key: "tokendtm".
  std::string error = admin.Exec("SELECT pg_advisory_lock(8390876012423197037)");
  if (!error.empty()) return error;
  std::string ready;
  error = admin.Exec(
      "SELECT count(*) FROM pg_database WHERE datname = '" + name + "' AND datistemplate", &ready);
  if (error.empty() && ready != "1") {
    // A half-made template from an interrupted run is dropped and rebuilt.
    admin.Exec("DROP DATABASE IF EXISTS " + QuoteIdent(name) + " WITH (FORCE)");
    error = admin.Exec("CREATE DATABASE " + QuoteIdent(name) + " TEMPLATE template0");
    if (error.empty()) {
      auto store = OpenPostgresStore(ConninfoFor(server_url, name));
      if (!store) {
        error = "open template: " + store.error().log_detail;
      } else if (auto migrated = (*store)->Migrate(); !migrated) {
        error = "migrate template: " + migrated.error().log_detail;
      }
    }
    if (error.empty())
      error = admin.Exec("ALTER DATABASE " + QuoteIdent(name) + " IS_TEMPLATE true");
  }
  admin.Exec("SELECT pg_advisory_unlock(8390876012423197037)");
  return error;
}

// A fresh migrated database's conninfo; "error: ..." on failure; nullopt when no server.
inline std::optional<std::string> FreshMigratedDatabase() {
  auto server = TestServerUrl();
  if (!server) return std::nullopt;
  AdminConnection admin(*server);
  if (!admin.ok()) return "error: " + admin.error();
  if (std::string error = EnsureTemplate(*server, admin); !error.empty()) return "error: " + error;
  return CreateEmptyDatabase(*server, admin, TemplateName());
}

}  // namespace tokend::store::postgres::testing
