#include "service/directory_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/ids.h"
#include "service/service_test_fixture.h"

namespace tokend::service {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class DirectoryServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure()) return;
    sales_ = AddDepartment("Sales");
    emea_ = AddDepartment("EMEA", sales_);
    support_ = AddDepartment("Support");
    manager_type_ =
        AddUserType("User manager", {"users:read", "users:write", "departments:read",
                                     "departments:write", "user_types:read", "user_types:write"});
    core::User carol = AddUser("carol", {{sales_, manager_type_}});
    manager_ = PrincipalOf(carol, {sales_, manager_type_});
  }

  std::string sales_, emea_, support_, manager_type_;
  core::Principal manager_;
};

TEST_F(DirectoryServiceTest, EveryUseCaseRefusesCallersWithoutThePermission) {
  core::Principal nobody = manager_;
  nobody.permissions = {};
  const auto denied = core::ErrorCode::kPermissionDenied;
  auto code = [](const auto& result) {
    return result ? std::optional<core::ErrorCode>() : result.error().code;
  };
  EXPECT_EQ(code(directory_->ListDepartments(nobody)), denied);
  EXPECT_EQ(code(directory_->GetDepartment(nobody, sales_)), denied);
  EXPECT_EQ(code(directory_->CreateDepartment(nobody, {"X", sales_}, ctx_)), denied);
  EXPECT_EQ(code(directory_->UpdateDepartment(nobody, emea_, {"X", {}}, ctx_)), denied);
  EXPECT_EQ(code(directory_->DeleteDepartment(nobody, emea_, ctx_)), denied);
  EXPECT_EQ(code(directory_->ListUserTypes(nobody)), denied);
  EXPECT_EQ(code(directory_->GetUserType(nobody, manager_type_)), denied);
  EXPECT_EQ(code(directory_->CreateUserType(nobody, {"X", {}}, ctx_)), denied);
  EXPECT_EQ(code(directory_->UpdateUserType(nobody, manager_type_, {"X", {}}, ctx_)), denied);
  EXPECT_EQ(code(directory_->DeleteUserType(nobody, manager_type_, ctx_)), denied);
  EXPECT_EQ(code(directory_->ListUsers(nobody, {})), denied);
  EXPECT_EQ(code(directory_->GetUser(nobody, manager_.user_id)), denied);
  EXPECT_EQ(code(directory_->CreateUser(nobody, {}, ctx_)), denied);
  EXPECT_EQ(code(directory_->UpdateUser(nobody, manager_.user_id, {}, ctx_)), denied);
  EXPECT_EQ(code(directory_->DeleteUser(nobody, manager_.user_id, ctx_)), denied);
}

TEST_F(DirectoryServiceTest, CallersSeeOnlyTheirSubtree) {
  auto departments = directory_->ListDepartments(manager_);
  ASSERT_TRUE(departments) << Describe(departments.error());
  std::vector<std::string> names;
  for (const auto& d : *departments) names.push_back(d.name);
  EXPECT_THAT(names, UnorderedElementsAre("Sales", "EMEA"));

  auto sibling = directory_->GetDepartment(manager_, support_);
  auto missing = directory_->GetDepartment(manager_, core::NewId());
  ASSERT_FALSE(sibling);
  ASSERT_FALSE(missing);
  EXPECT_EQ(sibling.error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(sibling.error().public_message, missing.error().public_message);
  EXPECT_EQ(directory_->CreateDepartment(manager_, {"Sub", support_}, ctx_).error().code,
            core::ErrorCode::kNotFound);
  EXPECT_EQ(directory_->DeleteDepartment(manager_, support_, ctx_).error().code,
            core::ErrorCode::kNotFound);

  core::User in_support = AddUser("sam", {{support_, seed_.member_user_type_id}});
  core::User in_emea =
      AddUser("erin", {{emea_, seed_.member_user_type_id}, {support_, seed_.member_user_type_id}});
  EXPECT_EQ(directory_->GetUser(manager_, in_support.id).error().code, core::ErrorCode::kNotFound);
  auto erin = directory_->GetUser(manager_, in_emea.id);
  ASSERT_TRUE(erin);
  // Memberships outside the caller's subtree are not shown.
  ASSERT_EQ(erin->memberships.size(), 1u);
  EXPECT_EQ(erin->memberships[0].department_id, emea_);
  EXPECT_TRUE(erin->password_hash.empty());

  auto users = directory_->ListUsers(manager_, {});
  ASSERT_TRUE(users) << Describe(users.error());
  std::vector<std::string> usernames;
  for (const auto& u : users->users) usernames.push_back(u.username);
  EXPECT_THAT(usernames, UnorderedElementsAre("carol", "erin"));
}

TEST_F(DirectoryServiceTest, OtherTenantsIdsAreNotFound) {
  auto other =
      CreateTenantWithAdmin(*store_, clock_, hasher_, "globex", "root", "another password");
  ASSERT_TRUE(other);
  core::Principal other_admin = CliPrincipal(other->tenant_id, other->root_department_id);
  EXPECT_EQ(directory_->GetDepartment(other_admin, sales_).error().code,
            core::ErrorCode::kNotFound);
  EXPECT_EQ(directory_->GetUserType(other_admin, manager_type_).error().code,
            core::ErrorCode::kNotFound);
  EXPECT_EQ(directory_->GetUser(other_admin, manager_.user_id).error().code,
            core::ErrorCode::kNotFound);
  EXPECT_EQ(directory_->DeleteUser(other_admin, manager_.user_id, ctx_).error().code,
            core::ErrorCode::kNotFound);
}

TEST_F(DirectoryServiceTest, NoEscalationThroughUsersOrUserTypes) {
  UserInput input;
  input.username = "eve";
  input.email = "eve@example.com";
  input.password = "a long password";
  input.memberships = std::vector<core::Membership>{{sales_, seed_.admin_user_type_id}};
  auto admin_member = directory_->CreateUser(manager_, input, ctx_);
  ASSERT_FALSE(admin_member);
  EXPECT_EQ(admin_member.error().code, core::ErrorCode::kPermissionDenied);

  auto wider = directory_->CreateUserType(manager_, {"Wider", {{"tokens:write"}}}, ctx_);
  ASSERT_FALSE(wider);
  EXPECT_EQ(wider.error().code, core::ErrorCode::kPermissionDenied);
  // Weakening the Administrator type is not the manager's call either.
  auto weaken =
      directory_->UpdateUserType(manager_, seed_.admin_user_type_id, {{}, {{"users:read"}}}, ctx_);
  ASSERT_FALSE(weaken);
  EXPECT_EQ(weaken.error().code, core::ErrorCode::kPermissionDenied);

  // A user in scope who also holds more than the manager cannot be changed by it.
  core::User boss = AddUser("boss", {{emea_, seed_.admin_user_type_id}});
  UserInput reset;
  reset.password = "taken over!!";
  auto takeover = directory_->UpdateUser(manager_, boss.id, reset, ctx_);
  ASSERT_FALSE(takeover);
  EXPECT_EQ(takeover.error().code, core::ErrorCode::kPermissionDenied);

  // Member carries tokens:read, which the manager lacks.
  input.memberships = std::vector<core::Membership>{{emea_, seed_.member_user_type_id}};
  EXPECT_EQ(directory_->CreateUser(manager_, input, ctx_).error().code,
            core::ErrorCode::kPermissionDenied);
  std::string reader = AddUserType("Reader", {"users:read"});
  input.memberships = std::vector<core::Membership>{{emea_, reader}};
  auto created = directory_->CreateUser(manager_, input, ctx_);
  EXPECT_TRUE(created) << Describe(created.error());
}

TEST_F(DirectoryServiceTest, ValidationNamesEveryField) {
  UserInput input;
  input.username = "bad name!";
  input.email = "nope";
  input.password = "short";
  input.memberships = std::vector<core::Membership>{{sales_, seed_.member_user_type_id},
                                                    {"", seed_.member_user_type_id}};
  auto user = directory_->CreateUser(admin_, input, ctx_);
  ASSERT_FALSE(user);
  EXPECT_EQ(user.error().code, core::ErrorCode::kValidation);
  EXPECT_THAT(FieldNames(user.error()), UnorderedElementsAre("username", "email", "password",
                                                             "memberships[1].department_id"));

  UserInput no_memberships;
  no_memberships.username = "ok";
  no_memberships.email = "ok@example.com";
  no_memberships.password = "a long password";
  auto none = directory_->CreateUser(admin_, no_memberships, ctx_);
  ASSERT_FALSE(none);
  EXPECT_THAT(FieldNames(none.error()), ElementsAre("memberships"));

  auto type =
      directory_->CreateUserType(admin_, {"", {{"tokens:read", "users:read", "tokens:fly"}}}, ctx_);
  ASSERT_FALSE(type);
  EXPECT_THAT(FieldNames(type.error()), UnorderedElementsAre("name", "permissions[2]"));

  auto department = directory_->CreateDepartment(admin_, {"", {}}, ctx_);
  ASSERT_FALSE(department);
  EXPECT_THAT(FieldNames(department.error()), UnorderedElementsAre("name", "parent_id"));
}

TEST_F(DirectoryServiceTest, DuplicateUsernameIsAConflict) {
  AddUser("bob", {{sales_, seed_.member_user_type_id}});
  UserInput input;
  input.username = "bob";
  input.email = "bob2@example.com";
  input.password = "a long password";
  input.memberships = std::vector<core::Membership>{{sales_, seed_.member_user_type_id}};
  auto duplicate = directory_->CreateUser(admin_, input, ctx_);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, core::ErrorCode::kAlreadyExists);
  EXPECT_THAT(FieldNames(duplicate.error()), ElementsAre("username"));
}

TEST_F(DirectoryServiceTest, DepartmentMovesRefuseCyclesAndTheRoot) {
  auto cycle = directory_->UpdateDepartment(admin_, sales_, {{}, emea_}, ctx_);
  ASSERT_FALSE(cycle);
  EXPECT_THAT(FieldNames(cycle.error()), ElementsAre("parent_id"));
  auto root = directory_->UpdateDepartment(admin_, seed_.root_department_id, {{}, sales_}, ctx_);
  ASSERT_FALSE(root);
  EXPECT_THAT(FieldNames(root.error()), ElementsAre("parent_id"));
  auto moved = directory_->UpdateDepartment(admin_, emea_, {"Europe", support_}, ctx_);
  ASSERT_TRUE(moved) << Describe(moved.error());
  EXPECT_EQ(moved->parent_id, support_);
  // Now outside the manager's subtree.
  EXPECT_EQ(directory_->GetDepartment(manager_, emea_).error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(directory_->DeleteDepartment(admin_, seed_.root_department_id, ctx_).error().code,
            core::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(directory_->DeleteDepartment(admin_, sales_, ctx_).error().code,
            core::ErrorCode::kFailedPrecondition);  // carol is a member
  EXPECT_TRUE(directory_->DeleteDepartment(admin_, emea_, ctx_));
}

TEST_F(DirectoryServiceTest, ChangesAreAudited) {
  EXPECT_EQ(AuditEvents(seed_.tenant_id, "department.create").size(), 4u);  // root + 3
  EXPECT_EQ(AuditEvents(seed_.tenant_id, "user_type.create").size(), 3u);
  UserInput change;
  change.password = "a new long password";
  ASSERT_TRUE(directory_->UpdateUser(admin_, manager_.user_id, change, ctx_));
  auto events = AuditEvents(seed_.tenant_id, "user.update");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].details_json, ::testing::HasSubstr("password"));
  EXPECT_THAT(events[0].details_json, ::testing::Not(::testing::HasSubstr("a new long password")));
  ASSERT_TRUE(directory_->DeleteUser(admin_, manager_.user_id, ctx_));
  EXPECT_EQ(AuditEvents(seed_.tenant_id, "user.delete").size(), 1u);
  EXPECT_EQ(directory_->DeleteUser(admin_, admin_.user_id, ctx_).error().code,
            core::ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tokend::service
