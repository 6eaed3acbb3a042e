#include "cli/commands.h"

#include <iostream>
#include <optional>
#include <string>

#include "cli/exit_code.h"
#include "core/ids.h"
#include "core/rules.h"
#include "core/time_format.h"
#include "service/bootstrap.h"
#include "service/context.h"
#include "service/directory_service.h"
#include "service/token_service.h"

namespace tokend::cli {

namespace {

// Who the audit trail names as the source of CLI actions.
service::RequestContext CliContext() { return {"cli", "cli"}; }

std::string OrNever(const std::optional<core::Time>& t) {
  return t ? core::FormatRfc3339(*t) : "never";
}

// Finds a department by id, else by exact name. Names may repeat across the tree: an
// ambiguous name is refused rather than guessed.
core::Result<std::string> ResolveDepartment(store::Store& store, const std::string& tenant_id,
                                            const std::string& name_or_id) {
  auto departments = store.ListDepartments(tenant_id);
  if (!departments) return tl::unexpected(departments.error());
  std::optional<std::string> found;
  for (const auto& department : *departments) {
    if (department.id == name_or_id) return department.id;
    if (department.name == name_or_id) {
      if (found) {
        return tl::unexpected(
            core::InvalidArgument("department name '" + name_or_id + "' is ambiguous; use its id"));
      }
      found = department.id;
    }
  }
  if (!found) return tl::unexpected(core::NotFound("no department '" + name_or_id + "'"));
  return *found;
}

core::Result<std::string> ResolveUserType(store::Store& store, const std::string& tenant_id,
                                          const std::string& name_or_id) {
  auto user_types = store.ListUserTypes(tenant_id);
  if (!user_types) return tl::unexpected(user_types.error());
  for (const auto& user_type : *user_types) {
    if (user_type.id == name_or_id || user_type.name == name_or_id) return user_type.id;
  }
  return tl::unexpected(core::NotFound("no user type '" + name_or_id + "'"));
}

core::Result<std::string> ResolveUser(store::Store& store, const std::string& tenant_id,
                                      const std::string& name_or_id) {
  if (core::LooksLikeId(name_or_id)) {
    if (auto user = store.GetUser(tenant_id, name_or_id)) return user->id;
  }
  auto user = store.GetUserByUsername(tenant_id, name_or_id);
  if (!user) {
    if (user.error().code == core::ErrorCode::kNotFound) {
      return tl::unexpected(core::NotFound("no user '" + name_or_id + "'"));
    }
    return tl::unexpected(user.error());
  }
  return user->id;
}

void PrintTokenRow(const store::TokenRow& row, core::Time now) {
  const core::Token& token = row.token;
  std::cout << "id: " << token.id << "\n"
            << "kind: " << core::TokenKindName(token.kind) << "\n";
  if (token.kind == core::TokenKind::kApi) {
    std::cout << "name: " << token.name << "\n"
              << "description: " << token.description << "\n"
              << "token_hint: " << token.token_hint << "\n";
  } else {
    std::cout << "device_name: " << token.device_name << "\n";
  }
  std::cout << "tenant_id: " << token.tenant_id << "\n"
            << "user: " << row.user.username << " (" << row.user.id << ")\n"
            << "email: " << row.user.email << "\n"
            << "department: " << row.department.name << " (" << row.department.id << ")\n"
            << "user_type: " << row.user_type.name << " (" << row.user_type.id << ")\n"
            << "status: " << core::TokenStateName(core::StateAt(token, now)) << "\n"
            << "expires_at: " << core::FormatRfc3339(token.expires_at) << "\n"
            << "created_at: " << core::FormatRfc3339(token.created_at) << "\n"
            << "created_by: " << (row.created_by ? row.created_by->username : "cli") << "\n"
            << (token.kind == core::TokenKind::kApi ? "last_used_at: " : "last_active_at: ")
            << OrNever(token.last_used_at) << "\n";
  if (token.kind == core::TokenKind::kApi) {
    std::cout << "last_used_ip: " << token.last_used_ip.value_or("") << "\n";
  }
}

// The runtime opened on the store, and the tenant named `tenant_name` in it.
struct TenantRuntime {
  std::unique_ptr<Runtime> runtime;
  TenantRef tenant;
};
core::Result<TenantRuntime> OpenTenant(const StoreConfig& store_config,
                                       const std::string& tenant_name) {
  auto runtime = OpenRuntime(store_config);
  if (!runtime) return tl::unexpected(runtime.error());
  auto tenant = ResolveTenant(*(*runtime)->store, tenant_name);
  if (!tenant) return tl::unexpected(tenant.error());
  return TenantRuntime{std::move(*runtime), std::move(*tenant)};
}

core::Principal CliPrincipalOf(const TenantRef& tenant) {
  return service::CliPrincipal(tenant.tenant.id, tenant.root_department_id);
}

}  // namespace

int ReportError(const core::Error& error) {
  std::cerr << "tokend: " << error.public_message;
  // Operators run the CLI on the server itself: the detail of a store failure helps them and
  // holds no secret (log_detail never does).
  if (error.code == core::ErrorCode::kUnavailable || error.code == core::ErrorCode::kInternal) {
    if (!error.log_detail.empty()) std::cerr << " (" << error.log_detail << ")";
  }
  std::cerr << "\n";
  for (const auto& field : error.fields) {
    std::cerr << "  " << field.field << ": " << field.message << "\n";
  }
  return ExitCodeFor(error.code);
}

int RunTenantCreate(const StoreConfig& store_config, const TenantCreateOptions& options) {
  if (std::string reason = core::CheckEntityName(options.name); !reason.empty()) {
    return ReportError(core::FieldInvalid("name", "tenant name " + reason));
  }
  auto runtime = OpenRuntime(store_config);
  if (!runtime) return ReportError(runtime.error());
  std::string password = options.admin_password;
  const bool generated = password.empty();
  if (generated) password = core::RandomBase62(20);
  auto seed =
      service::CreateTenantWithAdmin(*(*runtime)->store, (*runtime)->clock, (*runtime)->hasher,
                                     options.name, options.admin_username, password);
  if (!seed) return ReportError(seed.error());
  std::cout << "tenant_id: " << seed->tenant_id << "\n"
            << "tenant: " << options.name << "\n"
            << "admin_username: " << options.admin_username << "\n";
  if (generated) std::cout << "admin_password: " << password << "\n";
  return kExitOk;
}

int RunTenantList(const StoreConfig& store_config) {
  auto runtime = OpenRuntime(store_config);
  if (!runtime) return ReportError(runtime.error());
  auto tenants = (*runtime)->store->ListTenants();
  if (!tenants) return ReportError(tenants.error());
  std::cout << "ID\tNAME\tCREATED\n";
  for (const auto& tenant : *tenants) {
    std::cout << tenant.id << "\t" << tenant.name << "\t" << core::FormatRfc3339(tenant.created_at)
              << "\n";
  }
  return kExitOk;
}

int RunTenantSettings(const StoreConfig& store_config, const TenantSettingsOptions& options) {
  auto opened = OpenTenant(store_config, options.name);
  if (!opened) return ReportError(opened.error());
  auto& [runtime, tenant] = *opened;
  store::Store& store = *runtime->store;
  core::TenantSettings settings = tenant.tenant.settings;
  const bool changing = options.api_token_reveal || options.api_token_max_days ||
                        options.api_token_default_days || options.mobile_idle_days ||
                        options.mobile_max_days || options.console_idle_minutes ||
                        options.console_max_hours;
  if (options.api_token_reveal) settings.api_token_reveal = *options.api_token_reveal == "on";
  if (options.api_token_max_days) {
    settings.api_token_max_lifetime_days = *options.api_token_max_days;
  }
  if (options.api_token_default_days) {
    settings.api_token_default_lifetime_days = *options.api_token_default_days;
  }
  if (options.mobile_idle_days) {
    settings.mobile_idle_timeout = core::days{*options.mobile_idle_days};
  }
  if (options.mobile_max_days) {
    settings.mobile_max_lifetime = core::days{*options.mobile_max_days};
  }
  if (options.console_idle_minutes) {
    settings.console_idle_timeout = core::minutes{*options.console_idle_minutes};
  }
  if (options.console_max_hours) {
    settings.console_max_lifetime = core::hours{*options.console_max_hours};
  }
  if (changing) {
    if (auto fields = core::CheckTenantSettings(settings); !fields.empty()) {
      return ReportError(core::ValidationFailed("invalid tenant settings", std::move(fields)));
    }
    if (auto updated = store.UpdateTenantSettings(tenant.tenant.id, settings); !updated) {
      return ReportError(updated.error());
    }
  }
  const auto in_days = [](core::seconds s) {
    return std::chrono::duration_cast<core::days>(s).count();
  };
  std::cout << "tenant: " << tenant.tenant.name << "\n"
            << "api_token_reveal: " << (settings.api_token_reveal ? "on" : "off") << "\n"
            << "api_token_max_days: " << settings.api_token_max_lifetime_days << "\n"
            << "api_token_default_days: " << settings.api_token_default_lifetime_days << "\n"
            << "mobile_idle_days: " << in_days(settings.mobile_idle_timeout) << "\n"
            << "mobile_max_days: " << in_days(settings.mobile_max_lifetime) << "\n"
            << "console_idle_minutes: "
            << std::chrono::duration_cast<core::minutes>(settings.console_idle_timeout).count()
            << "\n"
            << "console_max_hours: "
            << std::chrono::duration_cast<core::hours>(settings.console_max_lifetime).count()
            << "\n";
  return kExitOk;
}

int RunUserAdd(const StoreConfig& store_config, const UserAddOptions& options) {
  std::string password;
  if (options.password_stdin) {
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
  }
  auto opened = OpenTenant(store_config, options.tenant);
  if (!opened) return ReportError(opened.error());
  auto& [runtime, tenant] = *opened;
  store::Store& store = *runtime->store;

  service::UserInput input;
  input.username = options.username;
  input.email = options.email;
  input.display_name = options.display_name;
  if (options.password_stdin) input.password = password;
  std::vector<core::Membership> memberships;
  for (const auto& spec : options.memberships) {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) {
      return ReportError(
          core::InvalidArgument("--membership must be DEPARTMENT:USER_TYPE, got '" + spec + "'"));
    }
    auto department = ResolveDepartment(store, tenant.tenant.id, spec.substr(0, colon));
    if (!department) return ReportError(department.error());
    auto user_type = ResolveUserType(store, tenant.tenant.id, spec.substr(colon + 1));
    if (!user_type) return ReportError(user_type.error());
    memberships.push_back(core::Membership{*department, *user_type});
  }
  input.memberships = memberships;

  service::DirectoryService directory(store, runtime->clock, runtime->hasher);
  auto user = directory.CreateUser(CliPrincipalOf(tenant), input, CliContext());
  if (!user) return ReportError(user.error());
  std::cout << "id: " << user->id << "\nusername: " << user->username << "\n";
  return kExitOk;
}

int RunUserList(const StoreConfig& store_config, const UserListOptions& options) {
  auto opened = OpenTenant(store_config, options.tenant);
  if (!opened) return ReportError(opened.error());
  auto& [runtime, tenant] = *opened;
  store::Store& store = *runtime->store;
  std::cout << "ID\tUSERNAME\tEMAIL\tACTIVE\tMEMBERSHIPS\n";
  store::UserQuery query;
  query.limit = 200;
  while (true) {
    auto page = store.ListUsers(tenant.tenant.id, query);
    if (!page) return ReportError(page.error());
    for (const auto& user : page->users) {
      std::cout << user.id << "\t" << user.username << "\t" << user.email << "\t"
                << (user.active ? "yes" : "no") << "\t";
      for (std::size_t i = 0; i < user.memberships.size(); ++i) {
        std::cout << (i ? "," : "") << user.memberships[i].department_id << ":"
                  << user.memberships[i].user_type_id;
      }
      std::cout << "\n";
    }
    if (!page->has_more || page->users.empty()) break;
    query.after_username = page->users.back().username;
  }
  return kExitOk;
}

int RunTokenCreate(const StoreConfig& store_config, const TokenCreateOptions& options) {
  auto opened = OpenTenant(store_config, options.tenant);
  if (!opened) return ReportError(opened.error());
  auto& [runtime, tenant] = *opened;
  store::Store& store = *runtime->store;
  auto user = ResolveUser(store, tenant.tenant.id, options.user);
  if (!user) return ReportError(user.error());
  auto department = ResolveDepartment(store, tenant.tenant.id, options.department);
  if (!department) return ReportError(department.error());
  auto user_type = ResolveUserType(store, tenant.tenant.id, options.user_type);
  if (!user_type) return ReportError(user_type.error());

  service::TokenService tokens(store, runtime->clock, *runtime->key);
  // Like the console, the CLI pre-fills the tenant's default expiry when none is given.
  const std::string expires = options.expires.empty()
                                  ? core::FormatDate(core::DefaultApiTokenExpiry(
                                        runtime->clock.Now(), tenant.tenant.settings))
                                  : options.expires;
  service::CreateApiTokenInput input{options.name, options.description, expires,
                                     *user,        *department,         *user_type};
  auto created = tokens.CreateApiToken(CliPrincipalOf(tenant), input, CliContext());
  if (!created) return ReportError(created.error());
  PrintTokenRow(created->row, runtime->clock.Now());
  // The secret goes to stdout only, once; it is never logged.
  std::cout << "token: " << created->secret << "\n";
  return kExitOk;
}

int RunTokenList(const StoreConfig& store_config, const TokenListOptions& options) {
  auto opened = OpenTenant(store_config, options.tenant);
  if (!opened) return ReportError(opened.error());
  auto& [runtime, tenant] = *opened;
  store::Store& store = *runtime->store;
  service::TokenService tokens(store, runtime->clock, *runtime->key);
  store::TokenQuery query;
  query.kind = *core::ParseTokenKind(options.kind);
  query.limit = options.limit;
  auto page = tokens.List(CliPrincipalOf(tenant), query);
  if (!page) return ReportError(page.error());
  const core::Time now = runtime->clock.Now();
  if (query.kind == core::TokenKind::kApi) {
    std::cout << "ID\tNAME\tUSER\tDEPARTMENT\tUSER_TYPE\tSTATUS\tEXPIRES\tLAST_USED\n";
  } else {
    std::cout << "ID\tUSER\tEMAIL\tDEPARTMENT\tUSER_TYPE\tSTATUS\tEXPIRES\tLAST_ACTIVE\n";
  }
  for (const auto& row : page->rows) {
    const core::Token& token = row.token;
    std::cout << token.id << "\t"
              << (query.kind == core::TokenKind::kApi ? token.name : row.user.username) << "\t"
              << (query.kind == core::TokenKind::kApi ? row.user.username : row.user.email) << "\t"
              << row.department.name << "\t" << row.user_type.name << "\t"
              << core::TokenStateName(core::StateAt(token, now)) << "\t"
              << core::FormatRfc3339(token.expires_at) << "\t" << OrNever(token.last_used_at)
              << "\n";
  }
  return kExitOk;
}

int RunTokenShow(const StoreConfig& store_config, const TokenShowOptions& options) {
  auto opened = OpenTenant(store_config, options.tenant);
  if (!opened) return ReportError(opened.error());
  auto& [runtime, tenant] = *opened;
  store::Store& store = *runtime->store;
  service::TokenService tokens(store, runtime->clock, *runtime->key);
  auto view = tokens.Get(CliPrincipalOf(tenant), options.id);
  if (!view) return ReportError(view.error());
  PrintTokenRow(view->row, runtime->clock.Now());
  return kExitOk;
}

int RunTokenRevoke(const StoreConfig& store_config, const TokenRevokeOptions& options) {
  auto opened = OpenTenant(store_config, options.tenant);
  if (!opened) return ReportError(opened.error());
  auto& [runtime, tenant] = *opened;
  store::Store& store = *runtime->store;
  service::TokenService tokens(store, runtime->clock, *runtime->key);
  auto result = tokens.RevokeMany(CliPrincipalOf(tenant), options.ids, CliContext());
  if (!result) return ReportError(result.error());
  for (const auto& id : result->deleted) std::cout << "revoked " << id << "\n";
  for (const auto& id : result->not_found) std::cerr << "tokend: no token " << id << "\n";
  return result->not_found.empty() ? kExitOk : kExitNotFound;
}

int RunTokenVerify(const StoreConfig& store_config) {
  std::string presented;
  std::getline(std::cin, presented);
  while (!presented.empty() && (presented.back() == '\r' || presented.back() == ' ')) {
    presented.pop_back();
  }
  auto runtime = OpenRuntime(store_config);
  if (!runtime) return ReportError(runtime.error());
  service::TokenService tokens(*(*runtime)->store, (*runtime)->clock, *(*runtime)->key);
  auto principal = tokens.Verify(presented, CliContext());
  if (!principal) return ReportError(principal.error());
  std::cout << "active: true\n"
            << "tenant_id: " << principal->tenant_id << "\n"
            << "user_id: " << principal->user_id << "\n"
            << "username: " << principal->username << "\n"
            << "department_id: " << principal->department_id << "\n"
            << "user_type_id: " << principal->user_type_id << "\n"
            << "permissions: " << principal->permissions.ToScopeString() << "\n";
  if (principal->token) {
    std::cout << "token_id: " << principal->token->id << "\n"
              << "expires_at: " << core::FormatRfc3339(principal->token->expires_at) << "\n";
  }
  return kExitOk;
}

}  // namespace tokend::cli
