// The PostgreSQL schema as ordered, versioned migrations, mirroring the SQLite store version
// for version (store/schema.md is the readable form of both).
//
// Do not edit a migration once released: append a new one with the same version number as
// its SQLite twin.
#pragma once

#include <span>
#include <string_view>

#include "core/error.h"
#include "store/postgres/pg_connection.h"

namespace tokend::store::postgres {

struct Migration {
  int version;            // strictly increasing from 1; recorded in schema_migrations
  std::string_view name;  // short description, recorded with the version
  std::string_view sql;   // one or more statements, run in one transaction
};

// Every migration, in version order.
std::span<const Migration> Migrations();

// Applies every pending migration in one transaction, holding a transaction-scoped advisory
// lock so that several instances starting at once apply each version exactly once (the
// others wait, then find nothing pending). Idempotent. REQUIRES: `conn` is outside a
// transaction.
core::Result<void> RunMigrations(Connection& conn);

}  // namespace tokend::store::postgres
