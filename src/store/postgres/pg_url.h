// tokend's own parameters in a PostgreSQL URL (pool_size, acquire_timeout_ms,
// statement_timeout_ms): split off before libpq, which rejects unknown parameters.
#pragma once

#include <string>

#include "core/error.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_store.h"

namespace tokend::store::postgres {

// Overrides `options` with the URL's parameters and returns the connection settings for the
// rest of it. kInvalidArgument for a malformed parameter value (the message never quotes the
// URL, which may hold a password).
core::Result<ConnectionSettings> SettingsFromUrl(const std::string& url, PostgresOptions& options);

}  // namespace tokend::store::postgres
