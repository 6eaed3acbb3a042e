// The store contract suite: every Store implementation must pass it unchanged.
//
// Usage, in exactly one *_test.cc per implementation:
//
//   struct SqliteFactory {
//     // A fresh, migrated, empty store for each test; nullptr skips the test (e.g. no server).
//     static std::unique_ptr<tokend::store::Store> Make();
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContractTest, ::testing::Types<SqliteFactory>);
//
// The suite names only lowercase ASCII text where order matters, so that byte order (SQLite
// BINARY, PostgreSQL COLLATE "C") is the only order it relies on.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/ids.h"
#include "core/model.h"
#include "store/store.h"

namespace tokend::store {

template <typename T>
std::string DescribeResult(const core::Result<T>& result) {
  if (result) return "ok";
  return std::string(core::ErrorCodeName(result.error().code)) + ": " +
         result.error().public_message + " [" + result.error().log_detail + "]";
}

#define TOKEND_ASSERT_OK(expr)                                                                    \
  do {                                                                                            \
    const auto& tokend_result_ = (expr);                                                          \
    ASSERT_TRUE(tokend_result_.has_value()) << #expr << " -> " << DescribeResult(tokend_result_); \
  } while (0)

#define TOKEND_EXPECT_CODE(expr, expected_code)                              \
  do {                                                                       \
    const auto& tokend_result_ = (expr);                                     \
    ASSERT_FALSE(tokend_result_.has_value()) << #expr << " unexpectedly ok"; \
    EXPECT_EQ(tokend_result_.error().code, (expected_code))                  \
        << #expr << " -> " << DescribeResult(tokend_result_);                \
  } while (0)

// A tenant with a small directory: root > child, two user types, one user holding
// (root, admin) and (child, member).
struct ContractWorld {
  core::Tenant tenant;
  core::Department root, child;
  core::UserType admin_type, member_type;
  core::User user;
};

template <typename Factory>
class StoreContractTest : public ::testing::Test {
 protected:
  static constexpr core::Time kT0 = core::Time{core::seconds{1'700'000'000}};

  void SetUp() override {
    store_ = Factory::Make();
    if (store_ == nullptr) GTEST_SKIP() << "store not available";
  }

  Store& store() { return *store_; }

  core::AuditEvent Audit(const std::string& tenant_id, std::string action,
                         std::string target_id = "", core::Time time = kT0) {
    core::AuditEvent event;
    event.id = "ignored";
    event.tenant_id = tenant_id;
    event.time = time;
    event.actor_username = "actor";
    event.action = std::move(action);
    event.target_type = "token";
    event.target_id = std::move(target_id);
    event.client_ip = "192.0.2.1";
    event.details_json = "{}";
    return event;
  }

  core::Tenant NewTenant(std::string name) {
    core::Tenant tenant;
    tenant.id = core::NewId();
    tenant.name = std::move(name);
    tenant.created_at = kT0;
    return tenant;
  }

  core::Department NewDepartment(const std::string& tenant_id, std::string name,
                                 std::optional<std::string> parent_id) {
    core::Department department;
    department.id = core::NewId();
    department.tenant_id = tenant_id;
    department.name = std::move(name);
    department.parent_id = std::move(parent_id);
    department.created_at = kT0;
    return department;
  }

  core::UserType NewUserType(const std::string& tenant_id, std::string name,
                             core::PermissionSet permissions) {
    core::UserType user_type;
    user_type.id = core::NewId();
    user_type.tenant_id = tenant_id;
    user_type.name = std::move(name);
    user_type.permissions = permissions;
    user_type.created_at = kT0;
    return user_type;
  }

  core::User NewUser(const std::string& tenant_id, std::string username,
                     std::vector<core::Membership> memberships) {
    core::User user;
    user.id = core::NewId();
    user.tenant_id = tenant_id;
    user.email = username + "@example.org";
    user.display_name = "name of " + username;
    user.username = std::move(username);
    user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    user.active = true;
    user.memberships = std::move(memberships);
    user.created_at = kT0;
    return user;
  }

  core::Token NewToken(const ContractWorld& world, core::TokenKind kind, std::string name,
                       core::Time created_at = kT0) {
    core::Token token;
    token.id = core::NewId();
    token.tenant_id = world.tenant.id;
    token.kind = kind;
    token.name = std::move(name);
    token.description = "";
    token.lookup_hash = core::NewId() + "-hash-0123456789";  // unique, 32 bytes
    token.token_hint = kind == core::TokenKind::kApi ? "tka_…abcd" : "tkm_…abcd";
    token.user_id = world.user.id;
    token.department_id = world.root.id;
    token.user_type_id = world.admin_type.id;
    token.device_name = kind == core::TokenKind::kMobile ? "pixel" : "";
    token.created_at = created_at;
    token.expires_at = created_at + core::days{90};
    return token;
  }

  // Creates and stores a world; `prefix` keeps names distinct across tenants.
  ContractWorld MakeWorld(const std::string& prefix = "acme") {
    ContractWorld world;
    world.tenant = NewTenant(prefix);
    EXPECT_TRUE(store().CreateTenant(world.tenant)) << "CreateTenant";
    world.root = NewDepartment(world.tenant.id, prefix + "-root", std::nullopt);
    EXPECT_TRUE(store().CreateDepartment(world.root, Audit(world.tenant.id, "department.create")));
    world.child = NewDepartment(world.tenant.id, prefix + "-child", world.root.id);
    EXPECT_TRUE(store().CreateDepartment(world.child, Audit(world.tenant.id, "department.create")));
    world.admin_type = NewUserType(world.tenant.id, "administrator", core::PermissionSet::All());
    EXPECT_TRUE(
        store().CreateUserType(world.admin_type, Audit(world.tenant.id, "user_type.create")));
    world.member_type = NewUserType(
        world.tenant.id, "member",
        core::PermissionSet::Of({core::Permission::kTokensRead, core::Permission::kUsersRead}));
    EXPECT_TRUE(
        store().CreateUserType(world.member_type, Audit(world.tenant.id, "user_type.create")));
    world.user =
        NewUser(world.tenant.id, prefix + "-admin",
                {{world.root.id, world.admin_type.id}, {world.child.id, world.member_type.id}});
    EXPECT_TRUE(store().CreateUser(world.user, Audit(world.tenant.id, "user.create")));
    return world;
  }

  std::vector<std::string> ListIds(const std::string& tenant_id, const TokenQuery& query) {
    auto page = store().ListTokens(tenant_id, query);
    EXPECT_TRUE(page) << DescribeResult(page);
    std::vector<std::string> ids;
    if (!page) return ids;
    for (const auto& row : page->rows) ids.push_back(row.token.id);
    return ids;
  }

  std::vector<core::AuditEvent> AllAudit(const std::string& tenant_id, AuditQuery query = {}) {
    query.limit = 200;
    auto page = store().ListAudit(tenant_id, query);
    EXPECT_TRUE(page) << DescribeResult(page);
    return page ? page->events : std::vector<core::AuditEvent>{};
  }

  std::unique_ptr<Store> store_;
};

TYPED_TEST_SUITE_P(StoreContractTest);

// --- Migrations and tenants ------------------------------------------------------------------

TYPED_TEST_P(StoreContractTest, MigrateTwiceIsANoOp) {
  auto world = this->MakeWorld();
  TOKEND_ASSERT_OK(this->store().Migrate());
  TOKEND_ASSERT_OK(this->store().Migrate());
  TOKEND_ASSERT_OK(this->store().Ping());
  auto tenant = this->store().GetTenant(world.tenant.id);
  TOKEND_ASSERT_OK(tenant);
  EXPECT_EQ(tenant->name, "acme");
}

TYPED_TEST_P(StoreContractTest, TenantRoundTripsWithSettings) {
  auto tenant = this->NewTenant("globex");
  tenant.settings.api_token_max_lifetime_days = 200;
  tenant.settings.api_token_default_lifetime_days = 30;
  tenant.settings.api_token_reveal = false;
  tenant.settings.mobile_idle_timeout = core::days{7};
  tenant.settings.mobile_max_lifetime = core::days{70};
  tenant.settings.console_idle_timeout = core::minutes{15};
  tenant.settings.console_max_lifetime = core::hours{8};
  TOKEND_ASSERT_OK(this->store().CreateTenant(tenant));

  auto got = this->store().GetTenant(tenant.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->id, tenant.id);
  EXPECT_EQ(got->name, "globex");
  EXPECT_EQ(got->created_at, tenant.created_at);
  EXPECT_EQ(got->settings.api_token_max_lifetime_days, 200);
  EXPECT_EQ(got->settings.api_token_default_lifetime_days, 30);
  EXPECT_FALSE(got->settings.api_token_reveal);
  EXPECT_EQ(got->settings.mobile_idle_timeout, core::days{7});
  EXPECT_EQ(got->settings.mobile_max_lifetime, core::days{70});
  EXPECT_EQ(got->settings.console_idle_timeout, core::minutes{15});
  EXPECT_EQ(got->settings.console_max_lifetime, core::hours{8});

  auto by_name = this->store().GetTenantByName("globex");
  TOKEND_ASSERT_OK(by_name);
  EXPECT_EQ(by_name->id, tenant.id);
  TOKEND_EXPECT_CODE(this->store().GetTenantByName("nobody"), core::ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().GetTenant(core::NewId()), core::ErrorCode::kNotFound);

  core::TenantSettings settings;
  settings.api_token_reveal = true;
  settings.api_token_max_lifetime_days = 100;
  TOKEND_ASSERT_OK(this->store().UpdateTenantSettings(tenant.id, settings));
  got = this->store().GetTenant(tenant.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_TRUE(got->settings.api_token_reveal);
  EXPECT_EQ(got->settings.api_token_max_lifetime_days, 100);
  EXPECT_EQ(got->settings.mobile_idle_timeout, core::days{30});
  TOKEND_EXPECT_CODE(this->store().UpdateTenantSettings(core::NewId(), settings),
                     core::ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContractTest, DuplicateTenantNameIsAlreadyExists) {
  TOKEND_ASSERT_OK(this->store().CreateTenant(this->NewTenant("initech")));
  TOKEND_EXPECT_CODE(this->store().CreateTenant(this->NewTenant("initech")),
                     core::ErrorCode::kAlreadyExists);
  TOKEND_ASSERT_OK(this->store().CreateTenant(this->NewTenant("umbrella")));
  auto tenants = this->store().ListTenants();
  TOKEND_ASSERT_OK(tenants);
  std::set<std::string> names;
  for (const auto& t : *tenants) names.insert(t.name);
  EXPECT_EQ(names, (std::set<std::string>{"initech", "umbrella"}));
}

// --- Departments and user types --------------------------------------------------------------

TYPED_TEST_P(StoreContractTest, DepartmentsRoundTrip) {
  auto world = this->MakeWorld();
  auto departments = this->store().ListDepartments(world.tenant.id);
  TOKEND_ASSERT_OK(departments);
  ASSERT_EQ(departments->size(), 2u);
  std::map<std::string, core::Department> by_id;
  for (const auto& d : *departments) by_id[d.id] = d;
  EXPECT_EQ(by_id[world.root.id].name, "acme-root");
  EXPECT_EQ(by_id[world.root.id].parent_id, std::nullopt);
  EXPECT_EQ(by_id[world.child.id].parent_id, world.root.id);
  EXPECT_EQ(by_id[world.child.id].tenant_id, world.tenant.id);
  EXPECT_EQ(by_id[world.child.id].created_at, this->kT0);

  auto grandchild = this->NewDepartment(world.tenant.id, "grandchild", world.child.id);
  TOKEND_ASSERT_OK(this->store().CreateDepartment(
      grandchild, this->Audit(world.tenant.id, "department.create")));
  grandchild.name = "renamed";
  grandchild.parent_id = world.root.id;
  TOKEND_ASSERT_OK(this->store().UpdateDepartment(
      grandchild, this->Audit(world.tenant.id, "department.update")));
  departments = this->store().ListDepartments(world.tenant.id);
  TOKEND_ASSERT_OK(departments);
  bool seen = false;
  for (const auto& d : *departments) {
    if (d.id != grandchild.id) continue;
    seen = true;
    EXPECT_EQ(d.name, "renamed");
    EXPECT_EQ(d.parent_id, world.root.id);
  }
  EXPECT_TRUE(seen);

  // Duplicate id, unknown parent, unknown id on update.
  TOKEND_EXPECT_CODE(this->store().CreateDepartment(grandchild, this->Audit(world.tenant.id, "x")),
                     core::ErrorCode::kAlreadyExists);
  auto orphan = this->NewDepartment(world.tenant.id, "orphan", core::NewId());
  TOKEND_EXPECT_CODE(this->store().CreateDepartment(orphan, this->Audit(world.tenant.id, "x")),
                     core::ErrorCode::kFailedPrecondition);
  auto ghost = this->NewDepartment(world.tenant.id, "ghost", world.root.id);
  TOKEND_EXPECT_CODE(this->store().UpdateDepartment(ghost, this->Audit(world.tenant.id, "x")),
                     core::ErrorCode::kNotFound);
  grandchild.parent_id = core::NewId();
  TOKEND_EXPECT_CODE(this->store().UpdateDepartment(grandchild, this->Audit(world.tenant.id, "x")),
                     core::ErrorCode::kFailedPrecondition);
}

TYPED_TEST_P(StoreContractTest, DeleteDepartmentRefusedWhileReferenced) {
  auto world = this->MakeWorld();
  // Children.
  TOKEND_EXPECT_CODE(this->store().DeleteDepartment(world.tenant.id, world.root.id,
                                                    this->Audit(world.tenant.id, "d")),
                     core::ErrorCode::kFailedPrecondition);
  // Memberships.
  TOKEND_EXPECT_CODE(this->store().DeleteDepartment(world.tenant.id, world.child.id,
                                                    this->Audit(world.tenant.id, "d")),
                     core::ErrorCode::kFailedPrecondition);
  // Live tokens.
  auto leaf = this->NewDepartment(world.tenant.id, "leaf", world.root.id);
  TOKEND_ASSERT_OK(this->store().CreateDepartment(leaf, this->Audit(world.tenant.id, "c")));
  auto user = world.user;
  user.memberships.push_back({leaf.id, world.member_type.id});
  TOKEND_ASSERT_OK(this->store().UpdateUser(user, this->Audit(world.tenant.id, "u")));
  auto token = this->NewToken(world, core::TokenKind::kApi, "leaf-token");
  token.department_id = leaf.id;
  token.user_type_id = world.member_type.id;
  TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "token.create")));
  user.memberships.pop_back();
  TOKEND_ASSERT_OK(this->store().UpdateUser(user, this->Audit(world.tenant.id, "u")));
  TOKEND_EXPECT_CODE(
      this->store().DeleteDepartment(world.tenant.id, leaf.id, this->Audit(world.tenant.id, "d")),
      core::ErrorCode::kFailedPrecondition);
  // A revoked token does not hold the department.
  std::vector<core::AuditEvent> revoke{this->Audit(world.tenant.id, "token.delete", token.id)};
  TOKEND_ASSERT_OK(this->store().RevokeTokens(world.tenant.id, revoke, this->kT0));
  TOKEND_ASSERT_OK(
      this->store().DeleteDepartment(world.tenant.id, leaf.id, this->Audit(world.tenant.id, "d")));
  auto departments = this->store().ListDepartments(world.tenant.id);
  TOKEND_ASSERT_OK(departments);
  EXPECT_EQ(departments->size(), 2u);
  TOKEND_EXPECT_CODE(
      this->store().DeleteDepartment(world.tenant.id, leaf.id, this->Audit(world.tenant.id, "d")),
      core::ErrorCode::kNotFound);
  // The revoked token still verifies as revoked, not as an error.
  auto credential = this->store().FindCredential(token.lookup_hash);
  TOKEND_ASSERT_OK(credential);
  EXPECT_TRUE(credential->token.revoked_at.has_value());
}

TYPED_TEST_P(StoreContractTest, UserTypesRoundTrip) {
  auto world = this->MakeWorld();
  auto got = this->store().GetUserType(world.tenant.id, world.member_type.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->name, "member");
  EXPECT_EQ(got->tenant_id, world.tenant.id);
  EXPECT_EQ(got->created_at, this->kT0);
  EXPECT_EQ(got->permissions, world.member_type.permissions);
  auto admin = this->store().GetUserType(world.tenant.id, world.admin_type.id);
  TOKEND_ASSERT_OK(admin);
  EXPECT_EQ(admin->permissions, core::PermissionSet::All());

  auto updated = world.member_type;
  updated.name = "auditor";
  updated.permissions = core::PermissionSet::Of({core::Permission::kAuditRead});
  TOKEND_ASSERT_OK(this->store().UpdateUserType(updated, this->Audit(world.tenant.id, "u")));
  got = this->store().GetUserType(world.tenant.id, world.member_type.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->name, "auditor");
  EXPECT_EQ(got->permissions, updated.permissions);

  auto empty = this->NewUserType(world.tenant.id, "nobody", core::PermissionSet{});
  TOKEND_ASSERT_OK(this->store().CreateUserType(empty, this->Audit(world.tenant.id, "c")));
  got = this->store().GetUserType(world.tenant.id, empty.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_TRUE(got->permissions.Empty());

  auto list = this->store().ListUserTypes(world.tenant.id);
  TOKEND_ASSERT_OK(list);
  EXPECT_EQ(list->size(), 3u);
  TOKEND_EXPECT_CODE(this->store().GetUserType(world.tenant.id, core::NewId()),
                     core::ErrorCode::kNotFound);
  auto ghost = this->NewUserType(world.tenant.id, "ghost", core::PermissionSet{});
  TOKEND_EXPECT_CODE(this->store().UpdateUserType(ghost, this->Audit(world.tenant.id, "u")),
                     core::ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().CreateUserType(empty, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kAlreadyExists);
}

TYPED_TEST_P(StoreContractTest, DeleteUserTypeRefusedWhileReferenced) {
  auto world = this->MakeWorld();
  TOKEND_EXPECT_CODE(this->store().DeleteUserType(world.tenant.id, world.member_type.id,
                                                  this->Audit(world.tenant.id, "d")),
                     core::ErrorCode::kFailedPrecondition);
  auto spare = this->NewUserType(world.tenant.id, "spare", core::PermissionSet{});
  TOKEND_ASSERT_OK(this->store().CreateUserType(spare, this->Audit(world.tenant.id, "c")));
  auto token = this->NewToken(world, core::TokenKind::kMobile, "");
  token.user_type_id = spare.id;
  TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "c")));
  TOKEND_EXPECT_CODE(
      this->store().DeleteUserType(world.tenant.id, spare.id, this->Audit(world.tenant.id, "d")),
      core::ErrorCode::kFailedPrecondition);
  std::vector<core::AuditEvent> revoke{this->Audit(world.tenant.id, "token.delete", token.id)};
  TOKEND_ASSERT_OK(this->store().RevokeTokens(world.tenant.id, revoke, this->kT0));
  TOKEND_ASSERT_OK(
      this->store().DeleteUserType(world.tenant.id, spare.id, this->Audit(world.tenant.id, "d")));
  TOKEND_EXPECT_CODE(this->store().GetUserType(world.tenant.id, spare.id),
                     core::ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(
      this->store().DeleteUserType(world.tenant.id, spare.id, this->Audit(world.tenant.id, "d")),
      core::ErrorCode::kNotFound);
}

// --- Users -----------------------------------------------------------------------------------

TYPED_TEST_P(StoreContractTest, UsersRoundTripWithMembershipsInGrantOrder) {
  auto world = this->MakeWorld();
  auto got = this->store().GetUser(world.tenant.id, world.user.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->username, "acme-admin");
  EXPECT_EQ(got->email, "acme-admin@example.org");
  EXPECT_EQ(got->display_name, "name of acme-admin");
  EXPECT_EQ(got->password_hash, world.user.password_hash);
  EXPECT_TRUE(got->active);
  EXPECT_EQ(got->created_at, this->kT0);
  EXPECT_EQ(got->memberships, world.user.memberships);

  // Update replaces every field; memberships keep the new order, even when it is not the
  // order in which their rows were first written.
  auto user = world.user;
  user.username = "renamed";
  user.email = "renamed@example.org";
  user.display_name = "";
  user.password_hash = "";
  user.active = false;
  user.memberships = {{world.child.id, world.admin_type.id},
                      {world.child.id, world.member_type.id},
                      {world.root.id, world.admin_type.id}};
  TOKEND_ASSERT_OK(this->store().UpdateUser(user, this->Audit(world.tenant.id, "user.update")));
  got = this->store().GetUserByUsername(world.tenant.id, "renamed");
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->id, user.id);
  EXPECT_EQ(got->email, "renamed@example.org");
  EXPECT_EQ(got->display_name, "");
  EXPECT_EQ(got->password_hash, "");
  EXPECT_FALSE(got->active);
  EXPECT_EQ(got->memberships, user.memberships);
  TOKEND_EXPECT_CODE(this->store().GetUserByUsername(world.tenant.id, "acme-admin"),
                     core::ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().GetUser(world.tenant.id, core::NewId()),
                     core::ErrorCode::kNotFound);
  auto ghost = this->NewUser(world.tenant.id, "ghost", {});
  TOKEND_EXPECT_CODE(this->store().UpdateUser(ghost, this->Audit(world.tenant.id, "u")),
                     core::ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContractTest, DuplicateUsernameIsAlreadyExistsWithinATenantOnly) {
  auto world = this->MakeWorld();
  auto twin = this->NewUser(world.tenant.id, "acme-admin", {});
  TOKEND_EXPECT_CODE(this->store().CreateUser(twin, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kAlreadyExists);
  auto other = this->MakeWorld("other");
  auto same_name_elsewhere = this->NewUser(other.tenant.id, "acme-admin", {});
  TOKEND_ASSERT_OK(
      this->store().CreateUser(same_name_elsewhere, this->Audit(other.tenant.id, "c")));
  auto second = this->NewUser(world.tenant.id, "second", {});
  TOKEND_ASSERT_OK(this->store().CreateUser(second, this->Audit(world.tenant.id, "c")));
  second.username = "acme-admin";
  TOKEND_EXPECT_CODE(this->store().UpdateUser(second, this->Audit(world.tenant.id, "u")),
                     core::ErrorCode::kAlreadyExists);
  auto got = this->store().GetUser(world.tenant.id, second.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->username, "second");
}

TYPED_TEST_P(StoreContractTest, MembershipOfUnknownDepartmentOrUserTypeIsFailedPrecondition) {
  auto world = this->MakeWorld();
  auto other = this->MakeWorld("other");
  auto bad_department =
      this->NewUser(world.tenant.id, "bad1", {{core::NewId(), world.admin_type.id}});
  TOKEND_EXPECT_CODE(this->store().CreateUser(bad_department, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kFailedPrecondition);
  auto bad_type = this->NewUser(world.tenant.id, "bad2", {{world.root.id, core::NewId()}});
  TOKEND_EXPECT_CODE(this->store().CreateUser(bad_type, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kFailedPrecondition);
  // Another tenant's department is as unknown as a random id.
  auto cross = this->NewUser(world.tenant.id, "bad3", {{other.root.id, world.admin_type.id}});
  TOKEND_EXPECT_CODE(this->store().CreateUser(cross, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kFailedPrecondition);
  // Nothing of the failed creations remains (all or nothing).
  TOKEND_EXPECT_CODE(this->store().GetUserByUsername(world.tenant.id, "bad1"),
                     core::ErrorCode::kNotFound);
  auto user = world.user;
  user.memberships.push_back({core::NewId(), world.admin_type.id});
  user.display_name = "changed";
  TOKEND_EXPECT_CODE(this->store().UpdateUser(user, this->Audit(world.tenant.id, "u")),
                     core::ErrorCode::kFailedPrecondition);
  auto got = this->store().GetUser(world.tenant.id, world.user.id);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->display_name, world.user.display_name);
  EXPECT_EQ(got->memberships, world.user.memberships);
}

TYPED_TEST_P(StoreContractTest, ListUsersFiltersAndPagesByUsername) {
  auto world = this->MakeWorld();
  std::vector<std::string> names = {"bravo", "alpha", "delta", "charlie", "echo"};
  for (const auto& name : names) {
    auto user = this->NewUser(world.tenant.id, name, {{world.child.id, world.member_type.id}});
    if (name == "delta") user.memberships = {{world.root.id, world.member_type.id}};
    if (name == "echo") user.email = "special@corp.test";
    TOKEND_ASSERT_OK(this->store().CreateUser(user, this->Audit(world.tenant.id, "c")));
  }
  UserQuery query;
  query.limit = 2;
  std::vector<std::string> seen;
  for (int page_number = 0; page_number < 10; ++page_number) {
    auto page = this->store().ListUsers(world.tenant.id, query);
    TOKEND_ASSERT_OK(page);
    for (const auto& u : page->users) seen.push_back(u.username);
    if (!page->has_more) break;
    ASSERT_FALSE(page->users.empty());
    query.after_username = page->users.back().username;
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"acme-admin", "alpha", "bravo", "charlie", "delta", "echo"}));

  UserQuery by_q;
  by_q.q = "CORP";
  auto page = this->store().ListUsers(world.tenant.id, by_q);
  TOKEND_ASSERT_OK(page);
  ASSERT_EQ(page->users.size(), 1u);
  EXPECT_EQ(page->users[0].username, "echo");
  EXPECT_EQ(page->users[0].memberships.size(), 1u);

  UserQuery scoped;
  scoped.department_scope = std::vector<std::string>{world.root.id};
  page = this->store().ListUsers(world.tenant.id, scoped);
  TOKEND_ASSERT_OK(page);
  std::vector<std::string> scoped_names;
  for (const auto& u : page->users) scoped_names.push_back(u.username);
  EXPECT_EQ(scoped_names, (std::vector<std::string>{"acme-admin", "delta"}));
  EXPECT_FALSE(page->has_more);
}

TYPED_TEST_P(StoreContractTest, DeleteUserRevokesItsTokensAndEndsItsSessions) {
  auto world = this->MakeWorld();
  auto token = this->NewToken(world, core::TokenKind::kApi, "doomed");
  TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "c")));
  auto user2 = this->NewUser(world.tenant.id, "survivor", {{world.root.id, world.admin_type.id}});
  TOKEND_ASSERT_OK(this->store().CreateUser(user2, this->Audit(world.tenant.id, "c")));
  auto kept = this->NewToken(world, core::TokenKind::kApi, "kept");
  kept.user_id = user2.id;
  TOKEND_ASSERT_OK(this->store().CreateToken(kept, this->Audit(world.tenant.id, "c")));
  Session session{"session-hash-1",    world.tenant.id, world.user.id, world.root.id,
                  world.admin_type.id, "csrf",          this->kT0,     this->kT0};
  TOKEND_ASSERT_OK(this->store().CreateSession(session));

  const core::Time now = this->kT0 + core::hours{1};
  TOKEND_ASSERT_OK(this->store().DeleteUser(world.tenant.id, world.user.id, now,
                                            this->Audit(world.tenant.id, "user.delete")));
  TOKEND_EXPECT_CODE(this->store().GetUser(world.tenant.id, world.user.id),
                     core::ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().GetToken(world.tenant.id, token.id), core::ErrorCode::kNotFound);
  TOKEND_ASSERT_OK(this->store().GetToken(world.tenant.id, kept.id));
  auto credential = this->store().FindCredential(token.lookup_hash);
  TOKEND_ASSERT_OK(credential);
  EXPECT_EQ(credential->token.revoked_at, now);
  EXPECT_FALSE(credential->user_active);
  EXPECT_FALSE(credential->membership_held);
  TOKEND_EXPECT_CODE(this->store().GetSession("session-hash-1"), core::ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().DeleteUser(world.tenant.id, world.user.id, now,
                                              this->Audit(world.tenant.id, "user.delete")),
                     core::ErrorCode::kNotFound);
  // The username is free again.
  auto again = this->NewUser(world.tenant.id, "acme-admin", {});
  TOKEND_ASSERT_OK(this->store().CreateUser(again, this->Audit(world.tenant.id, "c")));
}

// --- Tenant isolation ------------------------------------------------------------------------

TYPED_TEST_P(StoreContractTest, AnotherTenantsIdsAreNotFoundEverywhere) {
  auto mine = this->MakeWorld("mine");
  auto theirs = this->MakeWorld("theirs");
  auto token = this->NewToken(theirs, core::TokenKind::kApi, "theirs-token");
  TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(theirs.tenant.id, "c")));
  TOKEND_ASSERT_OK(this->store().AppendAudit(this->Audit(theirs.tenant.id, "x", token.id)));
  const std::string& t = mine.tenant.id;
  const auto audit = this->Audit(t, "probe");
  using core::ErrorCode;

  TOKEND_EXPECT_CODE(this->store().GetUserType(t, theirs.admin_type.id), ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().GetUser(t, theirs.user.id), ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().GetUserByUsername(t, "theirs-admin"), ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().GetToken(t, token.id), ErrorCode::kNotFound);

  auto department = theirs.child;
  department.tenant_id = t;
  department.parent_id = std::nullopt;
  TOKEND_EXPECT_CODE(this->store().UpdateDepartment(department, audit), ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().DeleteDepartment(t, theirs.root.id, audit),
                     ErrorCode::kNotFound);
  auto user_type = theirs.member_type;
  user_type.tenant_id = t;
  TOKEND_EXPECT_CODE(this->store().UpdateUserType(user_type, audit), ErrorCode::kNotFound);
  auto spare = this->NewUserType(theirs.tenant.id, "spare", core::PermissionSet{});
  TOKEND_ASSERT_OK(this->store().CreateUserType(spare, this->Audit(theirs.tenant.id, "c")));
  TOKEND_EXPECT_CODE(this->store().DeleteUserType(t, spare.id, audit), ErrorCode::kNotFound);
  auto user = theirs.user;
  user.tenant_id = t;
  user.memberships.clear();
  TOKEND_EXPECT_CODE(this->store().UpdateUser(user, audit), ErrorCode::kNotFound);
  TOKEND_EXPECT_CODE(this->store().DeleteUser(t, theirs.user.id, this->kT0, audit),
                     ErrorCode::kNotFound);

  // A token of my tenant cannot name their user, department or user type.
  auto cross = this->NewToken(mine, core::TokenKind::kApi, "cross");
  cross.user_id = theirs.user.id;
  TOKEND_EXPECT_CODE(this->store().CreateToken(cross, audit), ErrorCode::kFailedPrecondition);
  cross = this->NewToken(mine, core::TokenKind::kApi, "cross");
  cross.department_id = theirs.root.id;
  TOKEND_EXPECT_CODE(this->store().CreateToken(cross, audit), ErrorCode::kFailedPrecondition);
  cross = this->NewToken(mine, core::TokenKind::kApi, "cross");
  cross.user_type_id = theirs.admin_type.id;
  TOKEND_EXPECT_CODE(this->store().CreateToken(cross, audit), ErrorCode::kFailedPrecondition);

  // Lists and revocation see nothing of theirs.
  TokenQuery query;
  EXPECT_TRUE(this->ListIds(t, query).empty());
  query.user_id = theirs.user.id;
  EXPECT_TRUE(this->ListIds(t, query).empty());
  std::vector<core::AuditEvent> revoke{this->Audit(t, "token.delete", token.id)};
  auto revoked = this->store().RevokeTokens(t, revoke, this->kT0);
  TOKEND_ASSERT_OK(revoked);
  EXPECT_TRUE(revoked->empty());
  TOKEND_ASSERT_OK(this->store().GetToken(theirs.tenant.id, token.id));
  std::vector<TokenActivity> activity{
      {t, token.id, this->kT0 + core::hours{1}, "198.51.100.7", std::nullopt}};
  TOKEND_ASSERT_OK(this->store().RecordTokenActivity(activity));
  auto row = this->store().GetToken(theirs.tenant.id, token.id);
  TOKEND_ASSERT_OK(row);
  EXPECT_EQ(row->token.last_used_at, std::nullopt);

  auto departments = this->store().ListDepartments(t);
  TOKEND_ASSERT_OK(departments);
  for (const auto& d : *departments) EXPECT_EQ(d.tenant_id, t);
  auto user_types = this->store().ListUserTypes(t);
  TOKEND_ASSERT_OK(user_types);
  for (const auto& ut : *user_types) EXPECT_EQ(ut.tenant_id, t);
  auto users = this->store().ListUsers(t, UserQuery{});
  TOKEND_ASSERT_OK(users);
  ASSERT_EQ(users->users.size(), 1u);
  EXPECT_EQ(users->users[0].id, mine.user.id);
  for (const auto& event : this->AllAudit(t)) EXPECT_EQ(event.tenant_id, t);
  AuditQuery by_target;
  by_target.target_id = token.id;
  EXPECT_TRUE(this->AllAudit(t, by_target).empty());
}

// --- Tokens ----------------------------------------------------------------------------------

TYPED_TEST_P(StoreContractTest, CreateAndGetTokenRoundTripsEveryField) {
  auto world = this->MakeWorld();
  auto token = this->NewToken(world, core::TokenKind::kApi, "ci-deploy");
  token.description = "deploys\nthe site";
  using namespace std::string_literals;
  token.lookup_hash = "\x00\x01\xff\x80 binary hash with a nul \x00 byte--"s;  // 36 bytes
  token.sealed_secret = "\x00sealed\xfe"s;
  token.created_by = world.user.id;
  token.department_id = world.child.id;
  token.user_type_id = world.member_type.id;
  TOKEND_ASSERT_OK(
      this->store().CreateToken(token, this->Audit(world.tenant.id, "token.create", token.id)));
  auto row = this->store().GetToken(world.tenant.id, token.id);
  TOKEND_ASSERT_OK(row);
  const core::Token& got = row->token;
  EXPECT_EQ(got.id, token.id);
  EXPECT_EQ(got.tenant_id, world.tenant.id);
  EXPECT_EQ(got.kind, core::TokenKind::kApi);
  EXPECT_EQ(got.name, "ci-deploy");
  EXPECT_EQ(got.description, "deploys\nthe site");
  EXPECT_EQ(got.lookup_hash, token.lookup_hash);
  EXPECT_EQ(got.sealed_secret, token.sealed_secret);
  EXPECT_EQ(got.token_hint, token.token_hint);
  EXPECT_EQ(got.user_id, world.user.id);
  EXPECT_EQ(got.department_id, world.child.id);
  EXPECT_EQ(got.user_type_id, world.member_type.id);
  EXPECT_EQ(got.created_by, world.user.id);
  EXPECT_EQ(got.device_name, "");
  EXPECT_EQ(got.created_at, token.created_at);
  EXPECT_EQ(got.expires_at, token.expires_at);
  EXPECT_EQ(got.last_used_at, std::nullopt);
  EXPECT_EQ(got.last_used_ip, std::nullopt);
  EXPECT_EQ(got.revoked_at, std::nullopt);
  EXPECT_EQ(row->user.id, world.user.id);
  EXPECT_EQ(row->user.username, "acme-admin");
  EXPECT_EQ(row->user.email, "acme-admin@example.org");
  EXPECT_EQ(row->user.display_name, "name of acme-admin");
  EXPECT_EQ(row->department.id, world.child.id);
  EXPECT_EQ(row->department.name, "acme-child");
  EXPECT_EQ(row->user_type.id, world.member_type.id);
  EXPECT_EQ(row->user_type.name, "member");
  ASSERT_TRUE(row->created_by.has_value());
  EXPECT_EQ(row->created_by->id, world.user.id);
  EXPECT_EQ(row->created_by->username, "acme-admin");

  // The audit event went in with the token.
  AuditQuery query;
  query.action = "token.create";
  auto events = this->AllAudit(world.tenant.id, query);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target_id, token.id);

  auto mobile = this->NewToken(world, core::TokenKind::kMobile, "");
  mobile.device_name = "ipad";
  TOKEND_ASSERT_OK(this->store().CreateToken(mobile, this->Audit(world.tenant.id, "c")));
  row = this->store().GetToken(world.tenant.id, mobile.id);
  TOKEND_ASSERT_OK(row);
  EXPECT_EQ(row->token.kind, core::TokenKind::kMobile);
  EXPECT_EQ(row->token.device_name, "ipad");
  EXPECT_EQ(row->token.sealed_secret, std::nullopt);
  EXPECT_EQ(row->token.created_by, std::nullopt);
  EXPECT_FALSE(row->created_by.has_value());
  TOKEND_EXPECT_CODE(this->store().GetToken(world.tenant.id, core::NewId()),
                     core::ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContractTest, CreateTokenRefusesUnknownReferencesAndDuplicates) {
  auto world = this->MakeWorld();
  auto token = this->NewToken(world, core::TokenKind::kApi, "a");
  TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "c")));
  auto same_hash = this->NewToken(world, core::TokenKind::kApi, "b");
  same_hash.lookup_hash = token.lookup_hash;
  TOKEND_EXPECT_CODE(this->store().CreateToken(same_hash, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kAlreadyExists);
  auto same_id = this->NewToken(world, core::TokenKind::kApi, "c");
  same_id.id = token.id;
  TOKEND_EXPECT_CODE(this->store().CreateToken(same_id, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kAlreadyExists);
  auto no_user = this->NewToken(world, core::TokenKind::kApi, "d");
  no_user.user_id = core::NewId();
  TOKEND_EXPECT_CODE(this->store().CreateToken(no_user, this->Audit(world.tenant.id, "c")),
                     core::ErrorCode::kFailedPrecondition);
  auto no_tenant = this->NewToken(world, core::TokenKind::kApi, "e");
  no_tenant.tenant_id = core::NewId();
  auto result = this->store().CreateToken(no_tenant, this->Audit(no_tenant.tenant_id, "c"));
  EXPECT_FALSE(result.has_value());
  // Failed creations leave neither token nor audit event behind.
  EXPECT_EQ(this->ListIds(world.tenant.id, TokenQuery{}), std::vector<std::string>{token.id});
  AuditQuery query;
  query.action = "c";
  EXPECT_EQ(this->AllAudit(world.tenant.id, query).size(), 1u);
}

TYPED_TEST_P(StoreContractTest, ListTokensFiltersByKindUserDepartmentAndUserType) {
  auto world = this->MakeWorld();
  auto other_user =
      this->NewUser(world.tenant.id, "other", {{world.child.id, world.member_type.id}});
  TOKEND_ASSERT_OK(this->store().CreateUser(other_user, this->Audit(world.tenant.id, "c")));

  auto api_root = this->NewToken(world, core::TokenKind::kApi, "api-root");
  auto api_child = this->NewToken(world, core::TokenKind::kApi, "api-child");
  api_child.department_id = world.child.id;
  api_child.user_type_id = world.member_type.id;
  auto api_other = this->NewToken(world, core::TokenKind::kApi, "api-other");
  api_other.user_id = other_user.id;
  api_other.department_id = world.child.id;
  auto mobile = this->NewToken(world, core::TokenKind::kMobile, "");
  for (const auto& t : {api_root, api_child, api_other, mobile}) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(world.tenant.id, "c")));
  }
  auto sorted = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  using Ids = std::vector<std::string>;
  TokenQuery query;
  EXPECT_EQ(sorted(this->ListIds(world.tenant.id, query)),
            sorted(Ids{api_root.id, api_child.id, api_other.id}));
  query.kind = core::TokenKind::kMobile;
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{mobile.id});

  query = TokenQuery{};
  query.user_id = other_user.id;
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{api_other.id});
  query = TokenQuery{};
  query.department_id = world.child.id;
  EXPECT_EQ(sorted(this->ListIds(world.tenant.id, query)), sorted(Ids{api_child.id, api_other.id}));
  query = TokenQuery{};
  query.user_type_id = world.member_type.id;
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{api_child.id});
  query = TokenQuery{};
  query.department_id = world.child.id;
  query.user_id = world.user.id;
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{api_child.id});

  query = TokenQuery{};
  query.department_scope = std::vector<std::string>{world.child.id};
  EXPECT_EQ(sorted(this->ListIds(world.tenant.id, query)), sorted(Ids{api_child.id, api_other.id}));
  query.department_scope = std::vector<std::string>{world.child.id, world.root.id};
  EXPECT_EQ(this->ListIds(world.tenant.id, query).size(), 3u);
  query.department_scope = std::vector<std::string>{};
  EXPECT_TRUE(this->ListIds(world.tenant.id, query).empty());
  // A scope value is data, never SQL.
  query.department_scope = std::vector<std::string>{"x') OR ('1'='1"};
  EXPECT_TRUE(this->ListIds(world.tenant.id, query).empty());
}

TYPED_TEST_P(StoreContractTest, ListTokensQueryMatchesNameUsernameEmailAndDeviceIgnoringCase) {
  auto world = this->MakeWorld();
  auto other_user = this->NewUser(world.tenant.id, "zed", {{world.root.id, world.admin_type.id}});
  other_user.email = "zed@mailhost.test";
  TOKEND_ASSERT_OK(this->store().CreateUser(other_user, this->Audit(world.tenant.id, "c")));
  auto named = this->NewToken(world, core::TokenKind::kApi, "Billing-Export");
  auto by_user = this->NewToken(world, core::TokenKind::kApi, "plain");
  by_user.user_id = other_user.id;
  auto mobile = this->NewToken(world, core::TokenKind::kMobile, "");
  mobile.device_name = "Galaxy Tab";
  mobile.user_id = other_user.id;
  for (const auto& t : {named, by_user, mobile}) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(world.tenant.id, "c")));
  }
  using Ids = std::vector<std::string>;
  TokenQuery query;
  query.q = "billing-EXP";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{named.id});
  query.q = "ZED";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{by_user.id});
  query.q = "mailhost";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{by_user.id});
  query.q = "nothing-matches";
  EXPECT_TRUE(this->ListIds(world.tenant.id, query).empty());
  query.kind = core::TokenKind::kMobile;
  query.q = "galaxy";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{mobile.id});
  query.q = "zed";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{mobile.id});
}

TYPED_TEST_P(StoreContractTest, ListTokensQueryTakesWildcardsLiterally) {
  auto world = this->MakeWorld();
  auto percent = this->NewToken(world, core::TokenKind::kApi, "cpu 100% alert");
  auto underscore = this->NewToken(world, core::TokenKind::kApi, "snake_case");
  auto backslash = this->NewToken(world, core::TokenKind::kApi, "back\\slash");
  auto plain = this->NewToken(world, core::TokenKind::kApi, "snakeXcase 1000 alert");
  for (const auto& t : {percent, underscore, backslash, plain}) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(world.tenant.id, "c")));
  }
  using Ids = std::vector<std::string>;
  TokenQuery query;
  query.q = "0%";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{percent.id});
  query.q = "e_c";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{underscore.id});
  query.q = "%";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{percent.id});
  query.q = "\\";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{backslash.id});
  query.q = "k\\s";
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{backslash.id});
}

TYPED_TEST_P(StoreContractTest, ListTokensStatusFilterUsesQueryNow) {
  auto world = this->MakeWorld();
  auto early = this->NewToken(world, core::TokenKind::kApi, "early");
  early.expires_at = this->kT0 + core::days{1};
  auto late = this->NewToken(world, core::TokenKind::kApi, "late");
  late.expires_at = this->kT0 + core::days{10};
  for (const auto& t : {early, late}) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(world.tenant.id, "c")));
  }
  using Ids = std::vector<std::string>;
  TokenQuery query;
  query.now = this->kT0 + core::days{1};  // early expires exactly now: expired
  query.status = TokenStatusFilter::kActive;
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{late.id});
  query.status = TokenStatusFilter::kExpired;
  EXPECT_EQ(this->ListIds(world.tenant.id, query), Ids{early.id});
  query.status = TokenStatusFilter::kAny;
  EXPECT_EQ(this->ListIds(world.tenant.id, query).size(), 2u);
  query.now = this->kT0;
  query.status = TokenStatusFilter::kExpired;
  EXPECT_TRUE(this->ListIds(world.tenant.id, query).empty());
  query.now = this->kT0 + core::days{11};
  EXPECT_EQ(this->ListIds(world.tenant.id, query).size(), 2u);
}

// Every sort, both directions, pages of 3 over rows with ties: the pages together visit the
// rows exactly once, in (sort value, id) order.
TYPED_TEST_P(StoreContractTest, ListTokensEverySortPagesThroughEveryRowOnce) {
  auto world = this->MakeWorld();
  // Three users, departments and user types with distinct names; the user holds every pair.
  std::vector<core::Department> departments = {world.root, world.child};
  auto third = this->NewDepartment(world.tenant.id, "acme-b", world.root.id);
  TOKEND_ASSERT_OK(this->store().CreateDepartment(third, this->Audit(world.tenant.id, "c")));
  departments.push_back(third);
  std::vector<core::UserType> types = {world.admin_type, world.member_type};
  auto viewer = this->NewUserType(world.tenant.id, "viewer", core::PermissionSet{});
  TOKEND_ASSERT_OK(this->store().CreateUserType(viewer, this->Audit(world.tenant.id, "c")));
  types.push_back(viewer);
  std::vector<core::User> users;
  for (const char* name : {"mike", "alice", "zoe"}) {
    users.push_back(this->NewUser(world.tenant.id, name, {}));
    TOKEND_ASSERT_OK(this->store().CreateUser(users.back(), this->Audit(world.tenant.id, "c")));
  }
  std::vector<core::Token> tokens;
  const char* names[] = {"delta", "alpha",   "charlie", "alpha", "bravo", "echo",
                         "delta", "foxtrot", "alpha",   "golf",  "hotel"};
  for (int i = 0; i < 11; ++i) {
    auto token = this->NewToken(world, core::TokenKind::kApi, names[i],
                                this->kT0 + core::seconds{(i * 7) % 4});  // ties in created_at
    token.expires_at = this->kT0 + core::days{1 + (i % 3)};
    if (i % 4 != 0) token.last_used_at = this->kT0 + core::seconds{i % 2};
    token.user_id = users[i % 3].id;
    token.department_id = departments[(i / 3) % 3].id;
    token.user_type_id = types[(i + 1) % 3].id;
    TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "c")));
    tokens.push_back(token);
  }
  auto name_of_user = [&](const std::string& id) {
    for (const auto& u : users)
      if (u.id == id) return u.username;
    return std::string();
  };
  auto name_of_department = [&](const std::string& id) {
    for (const auto& d : departments)
      if (d.id == id) return d.name;
    return std::string();
  };
  auto name_of_type = [&](const std::string& id) {
    for (const auto& t : types)
      if (t.id == id) return t.name;
    return std::string();
  };
  // Each sort's value as (number, text): only one of them varies per sort.
  auto value = [&](TokenSort sort, const core::Token& t) -> std::pair<std::int64_t, std::string> {
    switch (sort) {
      case TokenSort::kCreatedAt:
        return {core::ToUnixSeconds(t.created_at), ""};
      case TokenSort::kName:
        return {0, t.name};
      case TokenSort::kExpiresAt:
        return {core::ToUnixSeconds(t.expires_at), ""};
      case TokenSort::kLastUsedAt:
        return {t.last_used_at ? core::ToUnixSeconds(*t.last_used_at) : -1, ""};
      case TokenSort::kUsername:
        return {0, name_of_user(t.user_id)};
      case TokenSort::kDepartment:
        return {0, name_of_department(t.department_id)};
      case TokenSort::kUserType:
        return {0, name_of_type(t.user_type_id)};
    }
    return {0, ""};
  };
  for (TokenSort sort :
       {TokenSort::kCreatedAt, TokenSort::kName, TokenSort::kExpiresAt, TokenSort::kLastUsedAt,
        TokenSort::kUsername, TokenSort::kDepartment, TokenSort::kUserType}) {
    for (bool descending : {true, false}) {
      SCOPED_TRACE(testing::Message()
                   << "sort " << static_cast<int>(sort) << " descending " << descending);
      auto expected_tokens = tokens;
      std::sort(expected_tokens.begin(), expected_tokens.end(),
                [&](const core::Token& a, const core::Token& b) {
                  auto ka = std::make_pair(value(sort, a), a.id);
                  auto kb = std::make_pair(value(sort, b), b.id);
                  return descending ? kb < ka : ka < kb;
                });
      std::vector<std::string> expected;
      for (const auto& t : expected_tokens) expected.push_back(t.id);

      TokenQuery query;
      query.sort = sort;
      query.descending = descending;
      query.limit = 3;
      std::vector<std::string> seen;
      int pages = 0;
      while (pages < 20) {
        auto page = this->store().ListTokens(world.tenant.id, query);
        TOKEND_ASSERT_OK(page);
        ++pages;
        ASSERT_LE(page->rows.size(), 3u);
        for (const auto& row : page->rows) {
          seen.push_back(row.token.id);
          auto v = value(sort, row.token);
          std::string want_key = v.second.empty() ? std::to_string(v.first) : v.second;
          EXPECT_EQ(row.sort_key, want_key);
        }
        if (!page->has_more) break;
        query.after_key = page->rows.back().sort_key;
        query.after_id = page->rows.back().token.id;
      }
      EXPECT_EQ(pages, 4);
      EXPECT_EQ(seen, expected);
    }
  }
}

TYPED_TEST_P(StoreContractTest, ListTokensLimitAndHasMore) {
  auto world = this->MakeWorld();
  for (int i = 0; i < 4; ++i) {
    auto token = this->NewToken(world, core::TokenKind::kApi, "t" + std::to_string(i),
                                this->kT0 + core::seconds{i});
    TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "c")));
  }
  TokenQuery query;
  query.limit = 4;
  auto page = this->store().ListTokens(world.tenant.id, query);
  TOKEND_ASSERT_OK(page);
  EXPECT_EQ(page->rows.size(), 4u);
  EXPECT_FALSE(page->has_more);
  query.limit = 3;
  page = this->store().ListTokens(world.tenant.id, query);
  TOKEND_ASSERT_OK(page);
  EXPECT_EQ(page->rows.size(), 3u);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(page->rows[0].token.name, "t3");  // newest first by default
  // A malformed numeric key is refused, not misread.
  query.after_key = "not-a-number";
  query.after_id = page->rows.back().token.id;
  TOKEND_EXPECT_CODE(this->store().ListTokens(world.tenant.id, query),
                     core::ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(StoreContractTest, GetTokensReturnsTheUnrevokedOnesOfThatTenantOnly) {
  auto world = this->MakeWorld();
  auto other = this->MakeWorld("other");
  auto a = this->NewToken(world, core::TokenKind::kApi, "a");
  auto b = this->NewToken(world, core::TokenKind::kMobile, "");
  auto revoked = this->NewToken(world, core::TokenKind::kApi, "revoked");
  auto foreign = this->NewToken(other, core::TokenKind::kApi, "foreign");
  for (const auto& t : {a, b, revoked}) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(world.tenant.id, "token.create")));
  }
  TOKEND_ASSERT_OK(
      this->store().CreateToken(foreign, this->Audit(other.tenant.id, "token.create")));
  std::vector<core::AuditEvent> revoke{this->Audit(world.tenant.id, "token.delete", revoked.id)};
  TOKEND_ASSERT_OK(this->store().RevokeTokens(world.tenant.id, revoke, this->kT0));

  const std::vector<std::string> ids{b.id, core::NewId(), revoked.id, foreign.id, a.id};
  auto rows = this->store().GetTokens(world.tenant.id, ids);
  TOKEND_ASSERT_OK(rows);
  std::vector<std::string> got;
  for (const auto& row : *rows) got.push_back(row.token.id);
  EXPECT_THAT(got, testing::UnorderedElementsAre(a.id, b.id));
  for (const auto& row : *rows) {
    auto one = this->store().GetToken(world.tenant.id, row.token.id);
    TOKEND_ASSERT_OK(one);
    EXPECT_EQ(row.token.name, one->token.name);
    EXPECT_EQ(row.token.kind, one->token.kind);
    EXPECT_EQ(row.token.department_id, one->token.department_id);
  }
  auto none = this->store().GetTokens(world.tenant.id, {});
  TOKEND_ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(StoreContractTest, RevokeTokensRevokesOnceAndAuditsOnlyWhatItRevoked) {
  auto world = this->MakeWorld();
  auto a = this->NewToken(world, core::TokenKind::kApi, "a");
  auto b = this->NewToken(world, core::TokenKind::kApi, "b");
  auto c = this->NewToken(world, core::TokenKind::kMobile, "");
  for (const auto& t : {a, b, c}) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(world.tenant.id, "token.create")));
  }
  const core::Time now = this->kT0 + core::hours{2};
  const std::string unknown = core::NewId();
  std::vector<core::AuditEvent> first{this->Audit(world.tenant.id, "token.delete", a.id, now),
                                      this->Audit(world.tenant.id, "token.delete", unknown, now),
                                      this->Audit(world.tenant.id, "token.delete", c.id, now)};
  auto revoked = this->store().RevokeTokens(world.tenant.id, first, now);
  TOKEND_ASSERT_OK(revoked);
  EXPECT_THAT(*revoked, testing::UnorderedElementsAre(a.id, c.id));

  std::vector<core::AuditEvent> second{this->Audit(world.tenant.id, "token.delete", a.id, now),
                                       this->Audit(world.tenant.id, "token.delete", b.id, now)};
  revoked = this->store().RevokeTokens(world.tenant.id, second, now + core::hours{1});
  TOKEND_ASSERT_OK(revoked);
  EXPECT_EQ(*revoked, std::vector<std::string>{b.id});
  revoked = this->store().RevokeTokens(world.tenant.id, second, now + core::hours{1});
  TOKEND_ASSERT_OK(revoked);
  EXPECT_TRUE(revoked->empty());

  AuditQuery query;
  query.action = "token.delete";
  std::multiset<std::string> targets;
  for (const auto& event : this->AllAudit(world.tenant.id, query)) targets.insert(event.target_id);
  EXPECT_EQ(targets, (std::multiset<std::string>{a.id, b.id, c.id}));

  // The first revocation time stands.
  auto credential = this->store().FindCredential(a.lookup_hash);
  TOKEND_ASSERT_OK(credential);
  EXPECT_EQ(credential->token.revoked_at, now);
  EXPECT_TRUE(this->ListIds(world.tenant.id, TokenQuery{}).empty());
}

TYPED_TEST_P(StoreContractTest, RevokedTokensAreInvisibleButFindCredentialReturnsThem) {
  auto world = this->MakeWorld();
  auto token = this->NewToken(world, core::TokenKind::kApi, "gone");
  TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "c")));
  std::vector<core::AuditEvent> revoke{this->Audit(world.tenant.id, "token.delete", token.id)};
  TOKEND_ASSERT_OK(this->store().RevokeTokens(world.tenant.id, revoke, this->kT0));
  TOKEND_EXPECT_CODE(this->store().GetToken(world.tenant.id, token.id), core::ErrorCode::kNotFound);
  TokenQuery query;
  query.q = "gone";
  EXPECT_TRUE(this->ListIds(world.tenant.id, query).empty());
  auto credential = this->store().FindCredential(token.lookup_hash);
  TOKEND_ASSERT_OK(credential);
  EXPECT_EQ(credential->token.id, token.id);
  EXPECT_EQ(credential->token.revoked_at, this->kT0);
}

TYPED_TEST_P(StoreContractTest, FindCredentialReadsCurrentPermissionsMembershipAndSettings) {
  auto world = this->MakeWorld();
  auto token = this->NewToken(world, core::TokenKind::kApi, "verify-me");
  token.department_id = world.child.id;
  token.user_type_id = world.member_type.id;
  TOKEND_ASSERT_OK(this->store().CreateToken(token, this->Audit(world.tenant.id, "c")));

  auto credential = this->store().FindCredential(token.lookup_hash);
  TOKEND_ASSERT_OK(credential);
  EXPECT_EQ(credential->token.id, token.id);
  EXPECT_EQ(credential->token.tenant_id, world.tenant.id);
  EXPECT_EQ(credential->token.expires_at, token.expires_at);
  EXPECT_EQ(credential->username, "acme-admin");
  EXPECT_TRUE(credential->user_active);
  EXPECT_TRUE(credential->membership_held);
  EXPECT_EQ(credential->permissions, world.member_type.permissions);
  EXPECT_EQ(credential->tenant_settings.mobile_idle_timeout, core::days{30});

  // Changes take effect on the next lookup.
  auto user_type = world.member_type;
  user_type.permissions = core::PermissionSet::Of({core::Permission::kIntrospect});
  TOKEND_ASSERT_OK(this->store().UpdateUserType(user_type, this->Audit(world.tenant.id, "u")));
  auto user = world.user;
  user.active = false;
  user.memberships = {{world.root.id, world.admin_type.id}};
  TOKEND_ASSERT_OK(this->store().UpdateUser(user, this->Audit(world.tenant.id, "u")));
  core::TenantSettings settings;
  settings.mobile_idle_timeout = core::days{3};
  TOKEND_ASSERT_OK(this->store().UpdateTenantSettings(world.tenant.id, settings));

  credential = this->store().FindCredential(token.lookup_hash);
  TOKEND_ASSERT_OK(credential);
  EXPECT_EQ(credential->permissions, user_type.permissions);
  EXPECT_FALSE(credential->user_active);
  EXPECT_FALSE(credential->membership_held);
  EXPECT_EQ(credential->tenant_settings.mobile_idle_timeout, core::days{3});

  TOKEND_EXPECT_CODE(this->store().FindCredential("no such hash, 32 bytes long......"),
                     core::ErrorCode::kNotFound);
}

TYPED_TEST_P(StoreContractTest, RecordTokenActivityUpdatesLastUseAndExpiry) {
  auto world = this->MakeWorld();
  auto api = this->NewToken(world, core::TokenKind::kApi, "api");
  auto mobile = this->NewToken(world, core::TokenKind::kMobile, "");
  auto revoked = this->NewToken(world, core::TokenKind::kApi, "revoked");
  for (const auto& t : {api, mobile, revoked}) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(world.tenant.id, "c")));
  }
  std::vector<core::AuditEvent> revoke{this->Audit(world.tenant.id, "d", revoked.id)};
  TOKEND_ASSERT_OK(this->store().RevokeTokens(world.tenant.id, revoke, this->kT0));

  const core::Time t1 = this->kT0 + core::hours{1};
  const core::Time slid = t1 + core::days{30};
  std::vector<TokenActivity> batch{
      {world.tenant.id, api.id, t1, "198.51.100.1", std::nullopt},
      {world.tenant.id, mobile.id, t1, "198.51.100.2", slid},
      {world.tenant.id, revoked.id, t1, "198.51.100.3", std::nullopt},
      {world.tenant.id, core::NewId(), t1, "198.51.100.4", std::nullopt},
  };
  TOKEND_ASSERT_OK(this->store().RecordTokenActivity(batch));
  auto row = this->store().GetToken(world.tenant.id, api.id);
  TOKEND_ASSERT_OK(row);
  EXPECT_EQ(row->token.last_used_at, t1);
  EXPECT_EQ(row->token.last_used_ip, "198.51.100.1");
  EXPECT_EQ(row->token.expires_at, api.expires_at);
  row = this->store().GetToken(world.tenant.id, mobile.id);
  TOKEND_ASSERT_OK(row);
  EXPECT_EQ(row->token.last_used_at, t1);
  EXPECT_EQ(row->token.expires_at, slid);
  auto credential = this->store().FindCredential(revoked.lookup_hash);
  TOKEND_ASSERT_OK(credential);
  EXPECT_EQ(credential->token.last_used_at, std::nullopt);
  TOKEND_ASSERT_OK(this->store().RecordTokenActivity({}));
}

TYPED_TEST_P(StoreContractTest, CountLiveTokensCountsUnrevokedUnexpiredPerKind) {
  auto world = this->MakeWorld();
  auto other = this->MakeWorld("other");
  std::vector<core::Token> tokens = {this->NewToken(world, core::TokenKind::kApi, "a"),
                                     this->NewToken(world, core::TokenKind::kApi, "b"),
                                     this->NewToken(other, core::TokenKind::kApi, "c"),
                                     this->NewToken(world, core::TokenKind::kMobile, ""),
                                     this->NewToken(world, core::TokenKind::kApi, "expired"),
                                     this->NewToken(world, core::TokenKind::kMobile, "")};
  tokens[4].expires_at = this->kT0 + core::hours{1};
  for (const auto& t : tokens) {
    TOKEND_ASSERT_OK(this->store().CreateToken(t, this->Audit(t.tenant_id, "c")));
  }
  std::vector<core::AuditEvent> revoke{this->Audit(world.tenant.id, "d", tokens[5].id)};
  TOKEND_ASSERT_OK(this->store().RevokeTokens(world.tenant.id, revoke, this->kT0));
  auto counts = this->store().CountLiveTokens(this->kT0 + core::hours{1});
  TOKEND_ASSERT_OK(counts);
  std::map<core::TokenKind, std::int64_t> by_kind(counts->begin(), counts->end());
  EXPECT_EQ(by_kind[core::TokenKind::kApi], 3);
  EXPECT_EQ(by_kind[core::TokenKind::kMobile], 1);
}

// --- Sessions --------------------------------------------------------------------------------

TYPED_TEST_P(StoreContractTest, SessionsRoundTripTouchAndDeleteIdempotently) {
  auto world = this->MakeWorld();
  Session session{std::string("\x01\x00hash", 6), world.tenant.id, world.user.id, world.child.id,
                  world.member_type.id,           "csrf-value",    this->kT0,     this->kT0};
  TOKEND_ASSERT_OK(this->store().CreateSession(session));
  TOKEND_EXPECT_CODE(this->store().CreateSession(session), core::ErrorCode::kAlreadyExists);
  auto got = this->store().GetSession(session.id_hash);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->id_hash, session.id_hash);
  EXPECT_EQ(got->tenant_id, world.tenant.id);
  EXPECT_EQ(got->user_id, world.user.id);
  EXPECT_EQ(got->department_id, world.child.id);
  EXPECT_EQ(got->user_type_id, world.member_type.id);
  EXPECT_EQ(got->csrf_token, "csrf-value");
  EXPECT_EQ(got->created_at, this->kT0);
  EXPECT_EQ(got->last_seen_at, this->kT0);

  TOKEND_ASSERT_OK(this->store().TouchSession(session.id_hash, this->kT0 + core::minutes{5}));
  got = this->store().GetSession(session.id_hash);
  TOKEND_ASSERT_OK(got);
  EXPECT_EQ(got->last_seen_at, this->kT0 + core::minutes{5});
  EXPECT_EQ(got->created_at, this->kT0);
  TOKEND_EXPECT_CODE(this->store().TouchSession("unknown", this->kT0), core::ErrorCode::kNotFound);

  TOKEND_ASSERT_OK(this->store().DeleteSession(session.id_hash));
  TOKEND_ASSERT_OK(this->store().DeleteSession(session.id_hash));
  TOKEND_EXPECT_CODE(this->store().GetSession(session.id_hash), core::ErrorCode::kNotFound);
}

// --- Audit -----------------------------------------------------------------------------------

TYPED_TEST_P(StoreContractTest, AuditAppendsAndListsNewestFirstWithFiltersAndKeyset) {
  auto world = this->MakeWorld();
  auto other = this->MakeWorld("other");
  const auto before = this->AllAudit(world.tenant.id);  // MakeWorld's own events
  for (int i = 0; i < 6; ++i) {
    auto event = this->Audit(world.tenant.id, i % 2 == 0 ? "token.create" : "token.delete",
                             "target-" + std::to_string(i % 3), this->kT0 + core::hours{i});
    if (i == 4) {
      event.actor_user_id = world.user.id;
      event.details_json = R"({"name":"x"})";
    }
    TOKEND_ASSERT_OK(this->store().AppendAudit(event));
  }
  TOKEND_ASSERT_OK(this->store().AppendAudit(this->Audit(other.tenant.id, "token.create")));

  auto all = this->AllAudit(world.tenant.id);
  ASSERT_EQ(all.size(), before.size() + 6);
  for (std::size_t i = 1; i < all.size(); ++i) {
    EXPECT_GT(std::stoll(all[i - 1].id), std::stoll(all[i].id)) << "newest first";
  }
  EXPECT_EQ(all[0].time, this->kT0 + core::hours{5});
  EXPECT_EQ(all[1].actor_user_id, world.user.id);
  EXPECT_EQ(all[1].details_json, R"({"name":"x"})");
  EXPECT_EQ(all[1].actor_username, "actor");
  EXPECT_EQ(all[1].target_type, "token");
  EXPECT_EQ(all[1].client_ip, "192.0.2.1");
  EXPECT_EQ(all[0].actor_user_id, std::nullopt);

  AuditQuery query;
  query.action = "token.delete";
  EXPECT_EQ(this->AllAudit(world.tenant.id, query).size(), 3u);
  query = AuditQuery{};
  query.target_id = "target-1";
  EXPECT_EQ(this->AllAudit(world.tenant.id, query).size(), 2u);
  query = AuditQuery{};
  query.actor_user_id = world.user.id;
  auto by_actor = this->AllAudit(world.tenant.id, query);
  ASSERT_EQ(by_actor.size(), 1u);
  EXPECT_EQ(by_actor[0].id, all[1].id);
  query = AuditQuery{};
  query.since = this->kT0 + core::hours{2};
  query.until = this->kT0 + core::hours{4};
  EXPECT_EQ(this->AllAudit(world.tenant.id, query).size(), 3u);

  // Keyset pages of 4 visit every event once.
  query = AuditQuery{};
  query.limit = 4;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 20; ++pages) {
    auto page = this->store().ListAudit(world.tenant.id, query);
    TOKEND_ASSERT_OK(page);
    for (const auto& event : page->events) seen.push_back(event.id);
    if (!page->has_more) break;
    query.before_id = page->events.back().id;
  }
  std::vector<std::string> all_ids;
  for (const auto& event : all) all_ids.push_back(event.id);
  EXPECT_EQ(seen, all_ids);

  query = AuditQuery{};
  query.before_id = "not-a-number";
  TOKEND_EXPECT_CODE(this->store().ListAudit(world.tenant.id, query),
                     core::ErrorCode::kInvalidArgument);
}

TYPED_TEST_P(StoreContractTest, WritesWithAuditAppendTheirEvent) {
  auto world = this->MakeWorld();
  AuditQuery query;
  std::multiset<std::string> actions;
  for (const auto& event : this->AllAudit(world.tenant.id, query)) actions.insert(event.action);
  EXPECT_EQ(actions.count("department.create"), 2u);
  EXPECT_EQ(actions.count("user_type.create"), 2u);
  EXPECT_EQ(actions.count("user.create"), 1u);
  TOKEND_ASSERT_OK(this->store().DeleteUser(world.tenant.id, world.user.id, this->kT0,
                                            this->Audit(world.tenant.id, "user.delete")));
  query.action = "user.delete";
  EXPECT_EQ(this->AllAudit(world.tenant.id, query).size(), 1u);
  // A refused write appends nothing.
  TOKEND_EXPECT_CODE(this->store().DeleteDepartment(world.tenant.id, world.root.id,
                                                    this->Audit(world.tenant.id, "refused")),
                     core::ErrorCode::kFailedPrecondition);
  query.action = "refused";
  EXPECT_TRUE(this->AllAudit(world.tenant.id, query).empty());
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreContractTest, MigrateTwiceIsANoOp, GetTokensReturnsTheUnrevokedOnesOfThatTenantOnly,
    TenantRoundTripsWithSettings, DuplicateTenantNameIsAlreadyExists, DepartmentsRoundTrip,
    DeleteDepartmentRefusedWhileReferenced, UserTypesRoundTrip,
    DeleteUserTypeRefusedWhileReferenced, UsersRoundTripWithMembershipsInGrantOrder,
    DuplicateUsernameIsAlreadyExistsWithinATenantOnly,
    MembershipOfUnknownDepartmentOrUserTypeIsFailedPrecondition, ListUsersFiltersAndPagesByUsername,
    DeleteUserRevokesItsTokensAndEndsItsSessions, AnotherTenantsIdsAreNotFoundEverywhere,
    CreateAndGetTokenRoundTripsEveryField, CreateTokenRefusesUnknownReferencesAndDuplicates,
    ListTokensFiltersByKindUserDepartmentAndUserType,
    ListTokensQueryMatchesNameUsernameEmailAndDeviceIgnoringCase,
    ListTokensQueryTakesWildcardsLiterally, ListTokensStatusFilterUsesQueryNow,
    ListTokensEverySortPagesThroughEveryRowOnce, ListTokensLimitAndHasMore,
    RevokeTokensRevokesOnceAndAuditsOnlyWhatItRevoked,
    RevokedTokensAreInvisibleButFindCredentialReturnsThem,
    FindCredentialReadsCurrentPermissionsMembershipAndSettings,
    RecordTokenActivityUpdatesLastUseAndExpiry, CountLiveTokensCountsUnrevokedUnexpiredPerKind,
    SessionsRoundTripTouchAndDeleteIdempotently,
    AuditAppendsAndListsNewestFirstWithFiltersAndKeyset, WritesWithAuditAppendTheirEvent);

}  // namespace tokend::store
