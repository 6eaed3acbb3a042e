#include "service/bootstrap.h"

#include "core/ids.h"
#include "core/rules.h"
#include "service/audit_service.h"

namespace tokend::service {

namespace {

constexpr char kDefaultTenant[] = "default";
constexpr char kAdminUsername[] = "admin";
constexpr char kRootDepartmentName[] = "Head Office";
// 20 base62 characters: ~119 bits, printed once for the operator to change.
constexpr std::size_t kGeneratedPasswordLength = 20;

}  // namespace

core::Result<TenantSeed> CreateTenantWithAdmin(store::Store& store, const core::Clock& clock,
                                               const core::PasswordHasher& hasher,
                                               const std::string& tenant_name,
                                               const std::string& admin_username,
                                               const std::string& admin_password) {
  if (std::string why = core::CheckEntityName(tenant_name); !why.empty()) {
    return tl::unexpected(core::FieldInvalid("tenant", why));
  }
  if (std::string why = core::CheckUsername(admin_username); !why.empty()) {
    return tl::unexpected(core::FieldInvalid("username", why));
  }
  if (std::string why = core::CheckPassword(admin_password); !why.empty()) {
    return tl::unexpected(core::FieldInvalid("password", why));
  }
  auto password_hash = hasher.Hash(admin_password);
  if (!password_hash) return tl::unexpected(password_hash.error());

  const core::Time now = clock.Now();
  const RequestContext ctx{"cli", ""};
  TenantSeed seed;
  seed.tenant_id = core::NewId();
  seed.root_department_id = core::NewId();
  seed.admin_user_type_id = core::NewId();
  seed.member_user_type_id = core::NewId();
  seed.admin_user_id = core::NewId();
  const core::Principal actor = CliPrincipal(seed.tenant_id, seed.root_department_id);

  core::Tenant tenant{seed.tenant_id, tenant_name, core::TenantSettings{}, now};
  if (auto ok = store.CreateTenant(tenant); !ok) return tl::unexpected(ok.error());

  core::Department root{seed.root_department_id, seed.tenant_id, kRootDepartmentName, std::nullopt,
                        now};
  if (auto ok = store.CreateDepartment(
          root, MakeAuditEvent(&actor, seed.tenant_id, "department.create", "department", root.id,
                               ctx, now, {{"id", root.id}, {"name", root.name}}));
      !ok) {
    return tl::unexpected(ok.error());
  }

  using P = core::Permission;
  const core::UserType types[] = {
      {seed.admin_user_type_id, seed.tenant_id, "Administrator", core::PermissionSet::All(), now},
      {seed.member_user_type_id, seed.tenant_id, "Member",
       core::PermissionSet::Of(
           {P::kTokensRead, P::kUsersRead, P::kDepartmentsRead, P::kUserTypesRead}),
       now},
  };
  for (const core::UserType& type : types) {
    if (auto ok = store.CreateUserType(
            type, MakeAuditEvent(&actor, seed.tenant_id, "user_type.create", "user_type", type.id,
                                 ctx, now,
                                 {{"id", type.id},
                                  {"name", type.name},
                                  {"permissions", type.permissions.ToScopeString()}}));
        !ok) {
      return tl::unexpected(ok.error());
    }
  }

  core::User admin;
  admin.id = seed.admin_user_id;
  admin.tenant_id = seed.tenant_id;
  admin.username = admin_username;
  admin.email = admin_username + "@localhost";
  admin.display_name = "Administrator";
  admin.password_hash = std::move(*password_hash);
  admin.active = true;
  admin.memberships = {{seed.root_department_id, seed.admin_user_type_id}};
  admin.created_at = now;
  if (auto ok = store.CreateUser(
          admin, MakeAuditEvent(&actor, seed.tenant_id, "user.create", "user", admin.id, ctx, now,
                                {{"id", admin.id}, {"username", admin.username}}));
      !ok) {
    return tl::unexpected(ok.error());
  }
  return seed;
}

core::Result<BootstrapResult> Bootstrap(store::Store& store, const core::Clock& clock,
                                        const core::PasswordHasher& hasher,
                                        std::optional<std::string> admin_password) {
  auto tenants = store.ListTenants();
  if (!tenants) return tl::unexpected(tenants.error());
  BootstrapResult result;
  if (!tenants->empty()) {
    result.tenant_id = tenants->front().id;
    for (const core::Tenant& tenant : *tenants) {
      if (tenant.name == kDefaultTenant) result.tenant_id = tenant.id;
    }
    return result;
  }
  std::string password;
  if (admin_password) {
    password = std::move(*admin_password);
  } else {
    password = core::RandomBase62(kGeneratedPasswordLength);
    result.generated_password = password;
  }
  auto seed = CreateTenantWithAdmin(store, clock, hasher, kDefaultTenant, kAdminUsername, password);
  if (!seed) return tl::unexpected(seed.error());
  result.created = true;
  result.tenant_id = seed->tenant_id;
  return result;
}

}  // namespace tokend::service
