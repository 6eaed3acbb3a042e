#include "service/auth_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "service/login_throttle.h"
#include "service/service_test_fixture.h"

namespace tokend::service {
namespace {

using ::testing::HasSubstr;

class AuthServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure()) return;
    tokens_ = std::make_unique<TokenService>(*store_, clock_, key_);
    auth_ = std::make_unique<AuthService>(*store_, clock_, key_, hasher_, *tokens_, &throttle_);
  }

  core::Result<ConsoleSession> LoginAs(const std::string& username, const std::string& password,
                                       const std::string& tenant = "acme") {
    return auth_->Login({tenant, username, password, {}}, ctx_);
  }

  LoginThrottle throttle_;
  std::unique_ptr<TokenService> tokens_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, LoginCreatesASessionThatAuthenticates) {
  auto session = LoginAs("admin", kAdminPassword);
  ASSERT_TRUE(session) << Describe(session.error());
  EXPECT_EQ(session->session_id.size(), 43u);
  EXPECT_FALSE(session->csrf_token.empty());
  EXPECT_NE(session->csrf_token, session->session_id);
  EXPECT_EQ(session->principal.user_id, seed_.admin_user_id);
  EXPECT_EQ(session->principal.department_id, seed_.root_department_id);
  EXPECT_EQ(session->principal.permissions, core::PermissionSet::All());
  EXPECT_FALSE(session->principal.token.has_value());

  auto again = auth_->Authenticate(session->session_id);
  ASSERT_TRUE(again) << Describe(again.error());
  EXPECT_EQ(again->csrf_token, session->csrf_token);
  EXPECT_EQ(again->principal.user_id, seed_.admin_user_id);
  EXPECT_EQ(again->user.username, "admin");
  // The store keeps only the hash.
  EXPECT_FALSE(store_->GetSession(session->session_id));
  EXPECT_TRUE(store_->GetSession(key_.LookupHash(session->session_id)));

  auto events = AuditEvents(seed_.tenant_id, "auth.login");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].details_json, ::testing::Not(HasSubstr(session->session_id)));
}

TEST_F(AuthServiceTest, UnknownUserWrongPasswordAndUnknownTenantAnswerTheSame) {
  auto wrong_password = LoginAs("admin", "not the password");
  auto unknown_user = LoginAs("mallory", "not the password");
  auto unknown_tenant = LoginAs("admin", kAdminPassword, "nowhere");
  for (const auto* result : {&wrong_password, &unknown_user, &unknown_tenant}) {
    ASSERT_FALSE(*result);
    EXPECT_EQ(result->error().code, core::ErrorCode::kUnauthenticated);
    EXPECT_EQ(result->error().public_message, wrong_password.error().public_message);
  }
  auto failures = AuditEvents(seed_.tenant_id, "auth.login_failed");
  ASSERT_EQ(failures.size(), 2u);  // the unknown tenant has no trail to write to
  EXPECT_THAT(failures[0].details_json, ::testing::Not(HasSubstr("not the password")));
}

TEST_F(AuthServiceTest, DeactivatedUserCannotSignIn) {
  core::User bob = AddUser("bob", {{seed_.root_department_id, seed_.member_user_type_id}});
  ASSERT_TRUE(LoginAs("bob", "a long password"));
  UserInput change;
  change.active = false;
  ASSERT_TRUE(directory_->UpdateUser(admin_, bob.id, change, ctx_));
  auto refused = LoginAs("bob", "a long password");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, AccountIsThrottledAfterFiveFailures) {
  for (int i = 0; i < 5; ++i) {
    auto failed = LoginAs("admin", "guess " + std::to_string(i));
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, core::ErrorCode::kUnauthenticated);
    clock_.Advance(core::seconds{10});
  }
  // Even the right password is refused while throttled.
  auto throttled = LoginAs("admin", kAdminPassword);
  ASSERT_FALSE(throttled);
  EXPECT_EQ(throttled.error().code, core::ErrorCode::kResourceExhausted);
  EXPECT_GT(throttled.error().retry_after_seconds, 0);
  EXPECT_LE(throttled.error().retry_after_seconds, 15 * 60);
  // Other accounts are not affected (the address limit is higher).
  core::User bob = AddUser("bob", {{seed_.root_department_id, seed_.member_user_type_id}});
  EXPECT_TRUE(LoginAs("bob", "a long password"));

  clock_.Advance(core::seconds{throttled.error().retry_after_seconds});
  EXPECT_TRUE(LoginAs("admin", kAdminPassword));
}

TEST_F(AuthServiceTest, SuccessResetsTheAccountCounter) {
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(LoginAs("admin", "guess"));
  ASSERT_TRUE(LoginAs("admin", kAdminPassword));
  for (int i = 0; i < 4; ++i) {
    auto failed = LoginAs("admin", "guess");
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, core::ErrorCode::kUnauthenticated) << i;
  }
}

TEST_F(AuthServiceTest, AddressIsThrottledAcrossAccounts) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_FALSE(LoginAs("user" + std::to_string(i), "guess"));
  }
  auto throttled = LoginAs("admin", kAdminPassword);
  ASSERT_FALSE(throttled);
  EXPECT_EQ(throttled.error().code, core::ErrorCode::kResourceExhausted);
  // Another address may still sign in.
  EXPECT_TRUE(auth_->Login({"acme", "admin", kAdminPassword, {}}, {"203.0.113.9", ""}));
}

TEST_F(AuthServiceTest, SessionEndsAfterIdleTimeout) {
  auto session = LoginAs("admin", kAdminPassword);
  ASSERT_TRUE(session);
  clock_.Advance(core::minutes{59});
  ASSERT_TRUE(auth_->Authenticate(session->session_id));  // activity: idle restarts
  clock_.Advance(core::minutes{59});
  ASSERT_TRUE(auth_->Authenticate(session->session_id));
  clock_.Advance(core::minutes{60});
  auto ended = auth_->Authenticate(session->session_id);
  ASSERT_FALSE(ended);
  EXPECT_EQ(ended.error().code, core::ErrorCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, SessionEndsAfterAbsoluteTimeoutDespiteActivity) {
  const core::Time start = clock_.Now();
  auto session = LoginAs("admin", kAdminPassword);
  ASSERT_TRUE(session);
  while (clock_.Now() + core::minutes{30} < start + core::hours{12}) {
    clock_.Advance(core::minutes{30});
    ASSERT_TRUE(auth_->Authenticate(session->session_id)) << core::FormatRfc3339(clock_.Now());
  }
  clock_.Set(start + core::hours{12});
  EXPECT_FALSE(auth_->Authenticate(session->session_id));
}

TEST_F(AuthServiceTest, LogoutEndsTheSessionAndIsIdempotent) {
  auto session = LoginAs("admin", kAdminPassword);
  ASSERT_TRUE(session);
  ASSERT_TRUE(auth_->Logout(session->session_id, ctx_));
  EXPECT_FALSE(auth_->Authenticate(session->session_id));
  EXPECT_TRUE(auth_->Logout(session->session_id, ctx_));
  EXPECT_EQ(AuditEvents(seed_.tenant_id, "auth.logout").size(), 1u);
}

TEST_F(AuthServiceTest, SessionLosesAccessWithTheMembership) {
  std::string sales = AddDepartment("Sales");
  core::User bob = AddUser("bob", {{sales, seed_.member_user_type_id}});
  auto session = LoginAs("bob", "a long password");
  ASSERT_TRUE(session);
  EXPECT_EQ(session->principal.permissions.ToScopeString(),
            "tokens:read users:read departments:read user_types:read");
  UserInput change;
  change.memberships =
      std::vector<core::Membership>{{seed_.root_department_id, seed_.member_user_type_id}};
  ASSERT_TRUE(directory_->UpdateUser(admin_, bob.id, change, ctx_));
  EXPECT_FALSE(auth_->Authenticate(session->session_id));
}

TEST_F(AuthServiceTest, MobileLoginUsesTheChosenOrFirstMembership) {
  std::string sales = AddDepartment("Sales");
  core::User bob = AddUser("bob", {{sales, seed_.member_user_type_id},
                                   {seed_.root_department_id, seed_.member_user_type_id}});
  auto first = auth_->MobileLogin({{"acme", "bob", "a long password", {}}, "Phone"}, ctx_);
  ASSERT_TRUE(first) << Describe(first.error());
  EXPECT_EQ(first->row.token.department_id, sales);
  EXPECT_EQ(first->row.token.expires_at, clock_.Now() + core::days{30});

  auto chosen = auth_->MobileLogin(
      {{"acme", "bob", "a long password", seed_.root_department_id}, "Phone"}, ctx_);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->row.token.department_id, seed_.root_department_id);
  auto principal = tokens_->Verify(chosen->secret, ctx_);
  ASSERT_TRUE(principal);
  EXPECT_EQ(principal->token->kind, core::TokenKind::kMobile);

  std::string support = AddDepartment("Support");
  auto not_held = auth_->MobileLogin({{"acme", "bob", "a long password", support}, "Phone"}, ctx_);
  ASSERT_FALSE(not_held);
  EXPECT_EQ(not_held.error().code, core::ErrorCode::kValidation);
  EXPECT_EQ(not_held.error().fields.at(0).field, "department_id");

  auto wrong = auth_->MobileLogin({{"acme", "bob", "wrong password", {}}, "Phone"}, ctx_);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, core::ErrorCode::kUnauthenticated);
}

}  // namespace
}  // namespace tokend::service
