// Wiring shared by every subcommand: config → store → key → services.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/directory_service.h"
#include "service/token_service.h"
#include "store/store.h"

namespace tokend::cli {

// Where the data lives. Each field is a flag with an environment variable (see cli.cc).
struct StoreConfig {
  std::string data_dir = "data";  // TOKEND_DATA_DIR
  std::string db;                 // TOKEND_DB; empty = sqlite://<data_dir>/tokend.db
  std::string key_file;           // TOKEND_KEY_FILE; empty = <data_dir>/server.key
};

// Owns everything a command needs. Members are declared in dependency order so that
// destruction runs in reverse (services before the store).
struct Runtime {
  StoreConfig config;
  core::SystemClock clock;
  std::unique_ptr<store::Store> store;
  std::optional<core::ServerKey> key;
  core::PasswordHasher hasher;
};

// Creates the data directory (0700) when needed, opens and migrates the store, loads or
// creates the server key.
core::Result<std::unique_ptr<Runtime>> OpenRuntime(const StoreConfig& config);

// The tenant named `name`, its root department id.
struct TenantRef {
  core::Tenant tenant;
  std::string root_department_id;
};
core::Result<TenantRef> ResolveTenant(store::Store& store, const std::string& name);

}  // namespace tokend::cli
