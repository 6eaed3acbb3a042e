// The embedded SQLite store: one database file in WAL mode, foreign keys on.
//
// Writes go through one connection behind a mutex (SQLite has one writer anyway); reads use a
// small pool of read-only connections, so verifications never wait for a write to finish.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace tokend::store {

// `path` is a file path, a SQLite "file:" URI (e.g. "file:/x.db?mode=ro" opens read-only:
// reads work, writes are kUnavailable) or ":memory:" (tests: one private database per call).
// Creates the file when missing. Does not run migrations (call Migrate()). kUnavailable when
// the file cannot be opened.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace tokend::store
