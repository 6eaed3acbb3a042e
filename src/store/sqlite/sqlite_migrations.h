// The SQLite schema as ordered, versioned migrations, embedded in the binary.
//
// Do not edit a migration once released: append a new one. The PostgreSQL store mirrors
// every version in its own dialect (see store/schema.md for the readable form).
#pragma once

#include <span>
#include <string_view>

namespace tokend::store::sqlite {

struct Migration {
  int version;            // strictly increasing from 1; recorded in schema_migrations
  std::string_view name;  // short description, recorded with the version
  std::string_view sql;   // one or more statements, run in one transaction
};

// Every migration, in version order.
std::span<const Migration> Migrations();

}  // namespace tokend::store::sqlite
