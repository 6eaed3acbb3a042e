// A real SQLite store in memory, a fake clock and a seeded tenant, for the service tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/model.h"
#include "core/time_format.h"
#include "service/bootstrap.h"
#include "service/context.h"
#include "service/directory_service.h"
#include "store/store.h"

namespace tokend::service {

inline core::ServerKey TestKey() {
  EXPECT_TRUE(core::InitCrypto());
  return core::ServerKey::Generate();
}

// Prints an error for failure messages.
inline std::string Describe(const core::Error& error) {
  std::string text = std::string(core::ErrorCodeName(error.code)) + ": " + error.public_message;
  if (!error.log_detail.empty()) text += " [" + error.log_detail + "]";
  for (const auto& field : error.fields) text += " {" + field.field + ": " + field.message + "}";
  return text;
}

// The real store with switchable faults, for fail-closed paths that a healthy SQLite database
// cannot produce: every call is forwarded to `inner` unless its fault is switched on.
class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& inner) : inner_(inner) {}

  std::atomic<bool> fail_find_credential{false};
  std::atomic<bool> fail_append_audit{false};
  std::atomic<bool> fail_external_change_version{false};
  std::atomic<int> activity_writes{0};  // RecordTokenActivity calls that reached the store
  std::atomic<bool> fail_activity_write{false};
  // Runs inside RecordTokenActivity before the write: lets a test act during a flush.
  std::function<void()> on_activity_write;

  store::VoidResult Migrate() override { return inner_.Migrate(); }
  store::VoidResult Ping() override { return inner_.Ping(); }
  store::Result<std::uint64_t> ExternalChangeVersion() override {
    if (fail_external_change_version) return tl::unexpected(core::Unavailable("injected fault"));
    return inner_.ExternalChangeVersion();
  }
  store::VoidResult CreateTenant(const core::Tenant& t) override { return inner_.CreateTenant(t); }
  store::Result<core::Tenant> GetTenant(const std::string& id) override {
    return inner_.GetTenant(id);
  }
  store::Result<core::Tenant> GetTenantByName(const std::string& name) override {
    return inner_.GetTenantByName(name);
  }
  store::Result<std::vector<core::Tenant>> ListTenants() override { return inner_.ListTenants(); }
  store::VoidResult UpdateTenantSettings(const std::string& id,
                                         const core::TenantSettings& s) override {
    return inner_.UpdateTenantSettings(id, s);
  }
  store::VoidResult CreateDepartment(const core::Department& d,
                                     const core::AuditEvent& a) override {
    return inner_.CreateDepartment(d, a);
  }
  store::Result<std::vector<core::Department>> ListDepartments(const std::string& t) override {
    return inner_.ListDepartments(t);
  }
  store::VoidResult UpdateDepartment(const core::Department& d,
                                     const core::AuditEvent& a) override {
    return inner_.UpdateDepartment(d, a);
  }
  store::VoidResult DeleteDepartment(const std::string& t, const std::string& id,
                                     const core::AuditEvent& a) override {
    return inner_.DeleteDepartment(t, id, a);
  }
  store::VoidResult CreateUserType(const core::UserType& u, const core::AuditEvent& a) override {
    return inner_.CreateUserType(u, a);
  }
  store::Result<core::UserType> GetUserType(const std::string& t, const std::string& id) override {
    return inner_.GetUserType(t, id);
  }
  store::Result<std::vector<core::UserType>> ListUserTypes(const std::string& t) override {
    return inner_.ListUserTypes(t);
  }
  store::VoidResult UpdateUserType(const core::UserType& u, const core::AuditEvent& a) override {
    return inner_.UpdateUserType(u, a);
  }
  store::VoidResult DeleteUserType(const std::string& t, const std::string& id,
                                   const core::AuditEvent& a) override {
    return inner_.DeleteUserType(t, id, a);
  }
  store::VoidResult CreateUser(const core::User& u, const core::AuditEvent& a) override {
    return inner_.CreateUser(u, a);
  }
  store::Result<core::User> GetUser(const std::string& t, const std::string& id) override {
    return inner_.GetUser(t, id);
  }
  store::Result<core::User> GetUserByUsername(const std::string& t,
                                              const std::string& name) override {
    return inner_.GetUserByUsername(t, name);
  }
  store::Result<store::UserPage> ListUsers(const std::string& t,
                                           const store::UserQuery& q) override {
    return inner_.ListUsers(t, q);
  }
  store::VoidResult UpdateUser(const core::User& u, const core::AuditEvent& a) override {
    return inner_.UpdateUser(u, a);
  }
  store::VoidResult DeleteUser(const std::string& t, const std::string& id, core::Time now,
                               const core::AuditEvent& a) override {
    return inner_.DeleteUser(t, id, now, a);
  }
  store::VoidResult CreateToken(const core::Token& token, const core::AuditEvent& a) override {
    return inner_.CreateToken(token, a);
  }
  store::Result<store::TokenRow> GetToken(const std::string& t, const std::string& id) override {
    return inner_.GetToken(t, id);
  }
  store::Result<std::vector<store::TokenRow>> GetTokens(const std::string& t,
                                                        std::span<const std::string> ids) override {
    return inner_.GetTokens(t, ids);
  }
  store::Result<store::TokenPage> ListTokens(const std::string& t,
                                             const store::TokenQuery& q) override {
    return inner_.ListTokens(t, q);
  }
  store::Result<std::vector<std::string>> RevokeTokens(const std::string& t,
                                                       std::span<const core::AuditEvent> a,
                                                       core::Time now) override {
    return inner_.RevokeTokens(t, a, now);
  }
  store::Result<store::CredentialRecord> FindCredential(const std::string& hash) override {
    if (fail_find_credential) return tl::unexpected(core::Unavailable("injected fault"));
    return inner_.FindCredential(hash);
  }
  store::VoidResult RecordTokenActivity(std::span<const store::TokenActivity> batch) override {
    ++activity_writes;
    if (on_activity_write) on_activity_write();
    if (fail_activity_write) return tl::unexpected(core::Unavailable("injected fault"));
    return inner_.RecordTokenActivity(batch);
  }
  store::Result<std::vector<std::pair<core::TokenKind, std::int64_t>>> CountLiveTokens(
      core::Time now) override {
    return inner_.CountLiveTokens(now);
  }
  store::VoidResult CreateSession(const store::Session& s) override {
    return inner_.CreateSession(s);
  }
  store::Result<store::Session> GetSession(const std::string& h) override {
    return inner_.GetSession(h);
  }
  store::VoidResult TouchSession(const std::string& h, core::Time now) override {
    return inner_.TouchSession(h, now);
  }
  store::VoidResult DeleteSession(const std::string& h) override { return inner_.DeleteSession(h); }
  store::VoidResult AppendAudit(const core::AuditEvent& e) override {
    if (fail_append_audit) return tl::unexpected(core::Unavailable("injected fault"));
    return inner_.AppendAudit(e);
  }
  store::Result<store::AuditPage> ListAudit(const std::string& t,
                                            const store::AuditQuery& q) override {
    return inner_.ListAudit(t, q);
  }

 private:
  store::Store& inner_;
};

class ServiceTest : public ::testing::Test {
 protected:
  static constexpr char kAdminPassword[] = "correct horse battery";

  void SetUp() override {
    auto opened = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(opened) << Describe(opened.error());
    store_ = std::move(*opened);
    auto migrated = store_->Migrate();
    ASSERT_TRUE(migrated) << Describe(migrated.error());
    auto seed = CreateTenantWithAdmin(*store_, clock_, hasher_, "acme", "admin", kAdminPassword);
    ASSERT_TRUE(seed) << Describe(seed.error());
    seed_ = *seed;
    admin_.tenant_id = seed_.tenant_id;
    admin_.user_id = seed_.admin_user_id;
    admin_.username = "admin";
    admin_.department_id = seed_.root_department_id;
    admin_.user_type_id = seed_.admin_user_type_id;
    admin_.permissions = core::PermissionSet::All();
    directory_ = std::make_unique<DirectoryService>(*store_, clock_, hasher_);
  }

  // A department under `parent` (root when empty), created as the admin.
  std::string AddDepartment(const std::string& name, std::string parent = "") {
    if (parent.empty()) parent = seed_.root_department_id;
    auto department = directory_->CreateDepartment(admin_, {name, parent}, ctx_);
    EXPECT_TRUE(department) << Describe(department.error());
    return department ? department->id : "";
  }

  std::string AddUserType(const std::string& name, std::vector<std::string> permissions) {
    auto type = directory_->CreateUserType(admin_, {name, permissions}, ctx_);
    EXPECT_TRUE(type) << Describe(type.error());
    return type ? type->id : "";
  }

  core::User AddUser(const std::string& username, std::vector<core::Membership> memberships,
                     const std::string& password = "a long password") {
    UserInput input;
    input.username = username;
    input.email = username + "@example.com";
    input.display_name = username;
    input.password = password;
    input.memberships = std::move(memberships);
    auto user = directory_->CreateUser(admin_, input, ctx_);
    EXPECT_TRUE(user) << Describe(user.error());
    return user ? *user : core::User{};
  }

  // The principal a token or session of `user` in `membership` would carry.
  core::Principal PrincipalOf(const core::User& user, const core::Membership& membership) {
    core::Principal principal;
    principal.tenant_id = user.tenant_id;
    principal.user_id = user.id;
    principal.username = user.username;
    principal.department_id = membership.department_id;
    principal.user_type_id = membership.user_type_id;
    auto type = store_->GetUserType(user.tenant_id, membership.user_type_id);
    EXPECT_TRUE(type);
    if (type) principal.permissions = type->permissions;
    return principal;
  }

  std::vector<core::AuditEvent> AuditEvents(const std::string& tenant_id,
                                            const std::string& action) {
    store::AuditQuery query;
    query.action = action;
    query.limit = 200;
    auto page = store_->ListAudit(tenant_id, query);
    EXPECT_TRUE(page) << Describe(page.error());
    return page ? page->events : std::vector<core::AuditEvent>{};
  }

  core::FakeClock clock_{*core::ParseRfc3339("2026-01-01T00:00:00Z")};
  core::PasswordHasher hasher_ = core::PasswordHasher::Fast();
  core::ServerKey key_ = TestKey();
  std::unique_ptr<store::Store> store_;
  TenantSeed seed_;
  core::Principal admin_;
  RequestContext ctx_{"192.0.2.7", "test"};
  std::unique_ptr<DirectoryService> directory_;
};

// Field names of an error, for EXPECT_THAT.
inline std::vector<std::string> FieldNames(const core::Error& error) {
  std::vector<std::string> names;
  for (const auto& field : error.fields) names.push_back(field.field);
  return names;
}

}  // namespace tokend::service
