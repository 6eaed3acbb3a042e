// First start: create tenant "default" with a root department, the user types Administrator
// (every permission) and Member (read-only), and user "admin".
#pragma once

#include <optional>
#include <string>

#include "core/crypto.h"
#include "core/error.h"
#include "store/store.h"

namespace tokend::service {

struct BootstrapResult {
  bool created = false;  // false: the store already had a tenant; nothing was changed
  std::string tenant_id;
  // The admin password when it was generated (not taken from the environment): print once.
  std::optional<std::string> generated_password;
};

// Creates a tenant named `tenant_name` with its root department, the two user types and an
// admin user. Used by Bootstrap and by `tokend tenant create`.
struct TenantSeed {
  std::string tenant_id;
  std::string root_department_id;
  std::string admin_user_type_id;
  std::string member_user_type_id;
  std::string admin_user_id;
};
core::Result<TenantSeed> CreateTenantWithAdmin(store::Store& store, const core::Clock& clock,
                                               const core::PasswordHasher& hasher,
                                               const std::string& tenant_name,
                                               const std::string& admin_username,
                                               const std::string& admin_password);

// When the store has no tenant: creates tenant "default" and admin with `admin_password`
// (or a random one when nullopt). Idempotent.
core::Result<BootstrapResult> Bootstrap(store::Store& store, const core::Clock& clock,
                                        const core::PasswordHasher& hasher,
                                        std::optional<std::string> admin_password);

}  // namespace tokend::service
