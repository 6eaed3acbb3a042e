// The PostgreSQL store (libpq): for several tokend instances on one database.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "store/store.h"

namespace tokend::store {

struct PostgresOptions {
  // Connections per store. Each request holds one for a single statement or transaction.
  std::size_t pool_size = 8;
  // How long a request waits for a free connection before answering kUnavailable (503):
  // long enough to ride out a burst, short enough that clients are not left hanging.
  std::chrono::milliseconds acquire_timeout{2000};
  std::chrono::seconds connect_timeout{5};
  // Server-side cap per statement: a slow or locked database yields kUnavailable.
  std::chrono::milliseconds statement_timeout{5000};
};

// `url` is a libpq connection URI ("postgresql://user@host:port/db"). It may carry tokend's
// own query parameters, which override `options` and are removed before libpq sees the URL:
// pool_size, acquire_timeout_ms, connect_timeout (seconds), statement_timeout_ms.
// Opens one connection to check the server. Does not run migrations (call Migrate()).
// kUnavailable when the server cannot be reached, kInvalidArgument for a bad parameter.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const PostgresOptions& options);
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url);

}  // namespace tokend::store
