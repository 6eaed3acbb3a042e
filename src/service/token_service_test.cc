#include "service/token_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/ids.h"
#include "core/rules.h"
#include "core/token_format.h"
#include "service/activity.h"
#include "service/auth_service.h"
#include "service/service_test_fixture.h"
#include "service/verification_cache.h"

namespace tokend::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

class TokenServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (HasFatalFailure()) return;
    tokens_ = std::make_unique<TokenService>(*store_, clock_, key_);
    sales_ = AddDepartment("Sales");
    support_ = AddDepartment("Support");
    integrator_type_ = AddUserType("Integrator", {"tokens:read", "users:read"});
    bob_ = AddUser("bob", {{sales_, integrator_type_}, {support_, seed_.member_user_type_id}});
  }

  CreateApiTokenInput InputFor(const core::User& user, const core::Membership& membership,
                               std::string expires_at = "") {
    CreateApiTokenInput input;
    input.name = "CI pipeline";
    input.description = "Deploys from CI";
    // An empty argument means "what the console pre-fills": 90 days ahead.
    input.expires_at = expires_at.empty() ? core::FormatDate(clock_.Now() + core::days{90})
                                          : std::move(expires_at);
    input.user_id = user.id;
    input.department_id = membership.department_id;
    input.user_type_id = membership.user_type_id;
    return input;
  }

  CreatedToken CreateFor(TokenService& tokens, const core::Principal& caller,
                         const core::User& user, const core::Membership& membership,
                         std::string expires_at = "") {
    auto created = tokens.CreateApiToken(caller, InputFor(user, membership, expires_at), ctx_);
    EXPECT_TRUE(created) << Describe(created.error());
    return created ? *created : CreatedToken{};
  }

  CreatedToken CreateBobToken() {
    return CreateFor(*tokens_, admin_, bob_, {sales_, integrator_type_});
  }

  // A caller who manages tokens inside Sales only.
  core::Principal SalesManager() {
    std::string type = AddUserType("Token manager",
                                   {"tokens:read", "tokens:write", "tokens:reveal", "users:read"});
    core::User carol = AddUser("carol", {{sales_, type}});
    return PrincipalOf(carol, {sales_, type});
  }

  std::unique_ptr<TokenService> tokens_;
  std::string sales_, support_, integrator_type_;
  core::User bob_;
};

TEST_F(TokenServiceTest, CreateReturnsSecretOnceAndAuditsWithoutIt) {
  CreatedToken created = CreateBobToken();
  ASSERT_EQ(core::ParseToken(created.secret), core::TokenKind::kApi);
  EXPECT_EQ(created.row.token.token_hint, core::TokenHint(created.secret));
  EXPECT_EQ(created.row.user.username, "bob");
  EXPECT_EQ(created.row.department.name, "Sales");
  EXPECT_EQ(created.row.user_type.name, "Integrator");
  EXPECT_EQ(core::FormatDate(created.row.token.expires_at),
            core::FormatDate(clock_.Now() + core::days{90}));
  EXPECT_EQ(created.row.token.lookup_hash, key_.LookupHash(created.secret));
  EXPECT_TRUE(created.row.token.sealed_secret.has_value());

  auto events = AuditEvents(seed_.tenant_id, "token.create");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target_id, created.row.token.id);
  EXPECT_EQ(events[0].actor_user_id, seed_.admin_user_id);
  EXPECT_THAT(events[0].details_json, HasSubstr("\"name\":\"CI pipeline\""));
  EXPECT_THAT(events[0].details_json, Not(HasSubstr(created.secret)));

  auto stored = store_->GetToken(seed_.tenant_id, created.row.token.id);
  ASSERT_TRUE(stored) << Describe(stored.error());
  EXPECT_EQ(stored->token.name, "CI pipeline");
}

TEST_F(TokenServiceTest, EveryUseCaseRefusesCallersWithoutThePermission) {
  CreatedToken created = CreateBobToken();
  core::Principal reader = PrincipalOf(bob_, {sales_, integrator_type_});  // tokens:read only
  core::Principal nobody = reader;
  nobody.permissions = {};
  const std::string id = created.row.token.id;

  auto code = [](const auto& result) {
    return result ? std::optional<core::ErrorCode>() : result.error().code;
  };
  const auto denied = core::ErrorCode::kPermissionDenied;
  EXPECT_EQ(code(tokens_->CreateApiToken(reader, InputFor(bob_, {sales_, integrator_type_}), ctx_)),
            denied);
  EXPECT_EQ(code(tokens_->List(nobody, {})), denied);
  EXPECT_EQ(code(tokens_->Get(nobody, id)), denied);
  EXPECT_EQ(code(tokens_->Reveal(reader, id, ctx_)), denied);
  EXPECT_EQ(code(tokens_->Revoke(reader, id, ctx_)), denied);
  EXPECT_EQ(code(tokens_->RevokeMany(reader, {id}, ctx_)), denied);
  // The reader may read.
  EXPECT_TRUE(tokens_->Get(reader, id));
  EXPECT_TRUE(tokens_->List(reader, {}));
  // Nothing was revoked by the refused calls.
  EXPECT_TRUE(tokens_->Verify(created.secret, ctx_));
}

TEST_F(TokenServiceTest, OtherTenantsTokensAreNotFound) {
  auto other =
      CreateTenantWithAdmin(*store_, clock_, hasher_, "globex", "root", "another password");
  ASSERT_TRUE(other) << Describe(other.error());
  core::Principal other_admin = CliPrincipal(other->tenant_id, other->root_department_id);
  CreatedToken created = CreateBobToken();

  auto got = tokens_->Get(other_admin, created.row.token.id);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, core::ErrorCode::kNotFound);
  auto revoked = tokens_->Revoke(other_admin, created.row.token.id, ctx_);
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error().code, core::ErrorCode::kNotFound);
  auto reveal = tokens_->Reveal(other_admin, created.row.token.id, ctx_);
  ASSERT_FALSE(reveal);
  EXPECT_EQ(reveal.error().code, core::ErrorCode::kNotFound);
  // Creating with ids of another tenant: not found, like a missing id.
  auto create =
      tokens_->CreateApiToken(other_admin, InputFor(bob_, {sales_, integrator_type_}), ctx_);
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().code, core::ErrorCode::kNotFound);
  auto list = tokens_->List(other_admin, {});
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->rows.empty());
  EXPECT_TRUE(tokens_->Verify(created.secret, ctx_));
}

TEST_F(TokenServiceTest, SiblingDepartmentIsNotFoundWithTheSameMessageAsAMissingId) {
  core::Principal manager = SalesManager();
  CreatedToken in_support =
      CreateFor(*tokens_, admin_, bob_, {support_, seed_.member_user_type_id});
  CreatedToken in_sales = CreateBobToken();

  auto sibling = tokens_->Get(manager, in_support.row.token.id);
  auto missing = tokens_->Get(manager, core::NewId());
  ASSERT_FALSE(sibling);
  ASSERT_FALSE(missing);
  EXPECT_EQ(sibling.error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(sibling.error().public_message, missing.error().public_message);
  EXPECT_EQ(tokens_->Revoke(manager, in_support.row.token.id, ctx_).error().code,
            core::ErrorCode::kNotFound);
  EXPECT_TRUE(tokens_->Verify(in_support.secret, ctx_));

  auto create =
      tokens_->CreateApiToken(manager, InputFor(bob_, {support_, seed_.member_user_type_id}), ctx_);
  ASSERT_FALSE(create);
  EXPECT_EQ(create.error().code, core::ErrorCode::kNotFound);

  auto list = tokens_->List(manager, {});
  ASSERT_TRUE(list) << Describe(list.error());
  ASSERT_EQ(list->rows.size(), 1u);
  EXPECT_EQ(list->rows[0].token.id, in_sales.row.token.id);
  EXPECT_TRUE(tokens_->Get(manager, in_sales.row.token.id));
}

TEST_F(TokenServiceTest, CallerCannotCreateATokenWithMorePermissionsThanItsOwn) {
  core::Principal manager = SalesManager();
  core::User dave = AddUser("dave", {{sales_, seed_.admin_user_type_id}});
  auto created =
      tokens_->CreateApiToken(manager, InputFor(dave, {sales_, seed_.admin_user_type_id}), ctx_);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, core::ErrorCode::kPermissionDenied);
  // Within its own permissions it may.
  EXPECT_TRUE(tokens_->CreateApiToken(manager, InputFor(bob_, {sales_, integrator_type_}), ctx_));
}

TEST_F(TokenServiceTest, ExpiryPolicyErrorsNameTheField) {
  // "" first: expiry is mandatory (DESIGN.md rule 3), never silently defaulted.
  const char* bad[] = {"",           "2025-12-31", "2027-06-01",
                       "2026-02-30", "next week",  "2026-01-01T00:00:00Z"};
  for (const char* expires_at : bad) {
    CreateApiTokenInput input = InputFor(bob_, {sales_, integrator_type_});
    input.expires_at = expires_at;
    auto created = tokens_->CreateApiToken(admin_, input, ctx_);
    ASSERT_FALSE(created) << expires_at;
    EXPECT_EQ(created.error().code, core::ErrorCode::kValidation) << expires_at;
    EXPECT_THAT(FieldNames(created.error()), ElementsAre("expires_at")) << expires_at;
  }
  auto explicit_date = tokens_->CreateApiToken(
      admin_, InputFor(bob_, {sales_, integrator_type_}, "2026-03-01"), ctx_);
  ASSERT_TRUE(explicit_date) << Describe(explicit_date.error());
  EXPECT_EQ(core::FormatDate(explicit_date->row.token.expires_at), "2026-03-01");
}

TEST_F(TokenServiceTest, AllFieldErrorsAreReportedTogether) {
  CreateApiTokenInput input;
  input.name = "";
  input.expires_at = "2026-13-01";
  auto created = tokens_->CreateApiToken(admin_, input, ctx_);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, core::ErrorCode::kValidation);
  EXPECT_THAT(FieldNames(created.error()), UnorderedElementsAre("name", "expires_at", "user_id",
                                                                "department_id", "user_type_id"));
}

TEST_F(TokenServiceTest, UserMustHoldTheMembershipAndBeActive) {
  // bob holds (sales, integrator) and (support, member), not (sales, member).
  auto created =
      tokens_->CreateApiToken(admin_, InputFor(bob_, {sales_, seed_.member_user_type_id}), ctx_);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, core::ErrorCode::kValidation);
  EXPECT_THAT(FieldNames(created.error()), UnorderedElementsAre("department_id", "user_type_id"));
  EXPECT_THAT(created.error().fields[0].message, HasSubstr("does not hold"));

  UserInput deactivate;
  deactivate.active = false;
  ASSERT_TRUE(directory_->UpdateUser(admin_, bob_.id, deactivate, ctx_));
  auto inactive = tokens_->CreateApiToken(admin_, InputFor(bob_, {sales_, integrator_type_}), ctx_);
  ASSERT_FALSE(inactive);
  EXPECT_EQ(inactive.error().code, core::ErrorCode::kValidation);
  EXPECT_THAT(FieldNames(inactive.error()), ElementsAre("user_id"));
}

TEST_F(TokenServiceTest, VerifyGivesThePrincipalFromCurrentData) {
  CreatedToken created = CreateBobToken();
  auto principal = tokens_->Verify(created.secret, ctx_);
  ASSERT_TRUE(principal) << Describe(principal.error());
  EXPECT_EQ(principal->tenant_id, seed_.tenant_id);
  EXPECT_EQ(principal->user_id, bob_.id);
  EXPECT_EQ(principal->username, "bob");
  EXPECT_EQ(principal->department_id, sales_);
  EXPECT_EQ(principal->user_type_id, integrator_type_);
  EXPECT_EQ(principal->permissions.ToScopeString(), "tokens:read users:read");
  ASSERT_TRUE(principal->token);
  EXPECT_EQ(principal->token->id, created.row.token.id);
  EXPECT_EQ(principal->token->kind, core::TokenKind::kApi);
}

TEST_F(TokenServiceTest, MalformedAndUnknownTokensGetOneUniformAnswer) {
  CreatedToken created = CreateBobToken();
  std::string tampered = created.secret;
  tampered[10] = tampered[10] == 'a' ? 'b' : 'a';  // breaks the checksum
  const std::string unknown = core::GenerateToken(core::TokenKind::kApi);
  for (const std::string& presented :
       {tampered, unknown, std::string("tka_short"), std::string(""), created.secret + "x"}) {
    auto verified = tokens_->Verify(presented, ctx_);
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().code, core::ErrorCode::kUnauthenticated);
    EXPECT_EQ(verified.error().public_message, "The access token is invalid, expired or revoked.");
  }
}

TEST_F(TokenServiceTest, RevokedTokenNeverAuthenticatesAgain) {
  CreatedToken created = CreateBobToken();
  ASSERT_TRUE(tokens_->Verify(created.secret, ctx_));
  ASSERT_TRUE(tokens_->Revoke(admin_, created.row.token.id, ctx_));
  auto verified = tokens_->Verify(created.secret, ctx_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, core::ErrorCode::kUnauthenticated);
  // Revoking again: the id is gone.
  EXPECT_EQ(tokens_->Revoke(admin_, created.row.token.id, ctx_).error().code,
            core::ErrorCode::kNotFound);

  auto events = AuditEvents(seed_.tenant_id, "token.delete");
  ASSERT_EQ(events.size(), 1u);
  for (const char* part : {"\"username\":\"bob\"", "\"department\":\"Sales\"",
                           "\"user_type\":\"Integrator\"", "\"name\":\"CI pipeline\""}) {
    EXPECT_THAT(events[0].details_json, HasSubstr(part));
  }
  EXPECT_THAT(events[0].details_json, Not(HasSubstr(created.secret)));
}

TEST_F(TokenServiceTest, ExpiredExactlyAtExpiresAt) {
  CreatedToken created =
      CreateFor(*tokens_, admin_, bob_, {sales_, integrator_type_}, "2026-02-01T12:00:00Z");
  clock_.Set(*core::ParseRfc3339("2026-02-01T11:59:59Z"));
  EXPECT_TRUE(tokens_->Verify(created.secret, ctx_));
  clock_.Set(*core::ParseRfc3339("2026-02-01T12:00:00Z"));
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
  auto view = tokens_->Get(admin_, created.row.token.id);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->state, core::TokenState::kExpired);
}

TEST_F(TokenServiceTest, RevealWritesAuditAndReturnsTheSecret) {
  CreatedToken created = CreateBobToken();
  auto view = tokens_->Get(admin_, created.row.token.id);
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->revealable);
  auto revealed = tokens_->Reveal(admin_, created.row.token.id, ctx_);
  ASSERT_TRUE(revealed) << Describe(revealed.error());
  EXPECT_EQ(*revealed, created.secret);
  auto events = AuditEvents(seed_.tenant_id, "token.reveal");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target_id, created.row.token.id);
  EXPECT_EQ(events[0].client_ip, "192.0.2.7");
  EXPECT_THAT(events[0].details_json, Not(HasSubstr(created.secret)));

  // A reader without tokens:reveal sees it as not revealable.
  core::Principal reader = PrincipalOf(bob_, {sales_, integrator_type_});
  EXPECT_FALSE(tokens_->Get(reader, created.row.token.id)->revealable);
}

TEST_F(TokenServiceTest, RevealRefusedOnShowOnceTenants) {
  auto tenant = store_->GetTenant(seed_.tenant_id);
  ASSERT_TRUE(tenant);
  core::TenantSettings settings = tenant->settings;
  settings.api_token_reveal = false;
  ASSERT_TRUE(store_->UpdateTenantSettings(seed_.tenant_id, settings));

  CreatedToken created = CreateBobToken();
  EXPECT_FALSE(created.row.token.sealed_secret.has_value());
  auto stored = store_->GetToken(seed_.tenant_id, created.row.token.id);
  ASSERT_TRUE(stored);
  EXPECT_FALSE(stored->token.sealed_secret.has_value());
  auto revealed = tokens_->Reveal(admin_, created.row.token.id, ctx_);
  ASSERT_FALSE(revealed);
  EXPECT_EQ(revealed.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(tokens_->Get(admin_, created.row.token.id)->revealable);
  EXPECT_TRUE(AuditEvents(seed_.tenant_id, "token.reveal").empty());
}

TEST_F(TokenServiceTest, RevealIsRateLimitedPerAdministrator) {
  TokenServiceOptions options;
  options.reveals_per_minute = 3;
  TokenService tokens(*store_, clock_, key_, options);
  CreatedToken created = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tokens.Reveal(admin_, created.row.token.id, ctx_));
  auto limited = tokens.Reveal(admin_, created.row.token.id, ctx_);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, core::ErrorCode::kResourceExhausted);
  EXPECT_GT(limited.error().retry_after_seconds, 0);
  // Another administrator is not affected.
  core::Principal other = SalesManager();
  EXPECT_TRUE(tokens.Reveal(other, created.row.token.id, ctx_));
  clock_.Advance(core::minutes{1});
  EXPECT_TRUE(tokens.Reveal(admin_, created.row.token.id, ctx_));
}

TEST_F(TokenServiceTest, MobileTokensAreNeverRevealable) {
  AuthService auth(*store_, clock_, key_, hasher_, *tokens_);
  auto mobile = auth.MobileLogin({{"acme", "bob", "a long password", {}}, "Pixel"}, ctx_);
  ASSERT_TRUE(mobile) << Describe(mobile.error());
  auto revealed = tokens_->Reveal(admin_, mobile->row.token.id, ctx_);
  ASSERT_FALSE(revealed);
  EXPECT_EQ(revealed.error().code, core::ErrorCode::kFailedPrecondition);
}

TEST_F(TokenServiceTest, RevokeManyTakesAtMostTenThousandIds) {
  CreatedToken token = CreateBobToken();
  std::vector<std::string> ids(10000, "unknownunknownunknow");
  ids.back() = token.row.token.id;
  auto revoked = tokens_->RevokeMany(admin_, ids, ctx_);
  ASSERT_TRUE(revoked) << Describe(revoked.error());
  EXPECT_THAT(revoked->deleted, ElementsAre(token.row.token.id));

  ids.push_back("unknownunknownunknow");
  auto refused = tokens_->RevokeMany(admin_, ids, ctx_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_THAT(FieldNames(refused.error()), ElementsAre("ids"));
}

TEST_F(TokenServiceTest, RevokeManyReportsFoundNotFoundAndOutOfScope) {
  core::Principal manager = SalesManager();
  CreatedToken a = CreateBobToken();
  CreatedToken b = CreateBobToken();
  CreatedToken other = CreateFor(*tokens_, admin_, bob_, {support_, seed_.member_user_type_id});
  CreatedToken gone = CreateBobToken();
  ASSERT_TRUE(tokens_->Revoke(admin_, gone.row.token.id, ctx_));
  const std::string unknown = core::NewId();

  auto result = tokens_->RevokeMany(manager,
                                    {a.row.token.id, unknown, other.row.token.id, b.row.token.id,
                                     gone.row.token.id, "junk!", a.row.token.id},
                                    ctx_);
  ASSERT_TRUE(result) << Describe(result.error());
  EXPECT_THAT(result->deleted, UnorderedElementsAre(a.row.token.id, b.row.token.id));
  EXPECT_THAT(result->not_found,
              UnorderedElementsAre(unknown, other.row.token.id, gone.row.token.id, "junk!"));
  EXPECT_FALSE(tokens_->Verify(a.secret, ctx_));
  EXPECT_FALSE(tokens_->Verify(b.secret, ctx_));
  EXPECT_TRUE(tokens_->Verify(other.secret, ctx_));
  EXPECT_EQ(AuditEvents(seed_.tenant_id, "token.delete").size(), 3u);  // gone + a + b
}

TEST_F(TokenServiceTest, StoreFailureFailsClosed) {
  CreatedToken created = CreateBobToken();
  FaultyStore faulty(*store_);
  TokenService tokens(faulty, clock_, key_);
  faulty.fail_find_credential = true;
  auto verified = tokens.Verify(created.secret, ctx_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, core::ErrorCode::kUnavailable);
  faulty.fail_find_credential = false;
  EXPECT_TRUE(tokens.Verify(created.secret, ctx_));
}

TEST_F(TokenServiceTest, RevealShowsNothingWhenTheAuditWriteFails) {
  CreatedToken created = CreateBobToken();
  FaultyStore faulty(*store_);
  TokenService tokens(faulty, clock_, key_);
  faulty.fail_append_audit = true;
  auto revealed = tokens.Reveal(admin_, created.row.token.id, ctx_);
  ASSERT_FALSE(revealed);
  EXPECT_EQ(revealed.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(revealed.error().public_message, Not(HasSubstr(created.secret)));
}

TEST_F(TokenServiceTest, VerifyDoesNotWriteTheStoreWhenARecorderIsSet) {
  FaultyStore faulty(*store_);
  ActivityRecorder recorder(faulty, {std::chrono::milliseconds{5000}, false});
  TokenServiceOptions options;
  options.activity = &recorder;
  TokenService tokens(faulty, clock_, key_, options);
  CreatedToken created = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(tokens.Verify(created.secret, ctx_));
  EXPECT_EQ(faulty.activity_writes.load(), 0);
  ASSERT_TRUE(recorder.Flush());
  EXPECT_EQ(faulty.activity_writes.load(), 1);
}

// --- With the verification cache ---------------------------------------------------------------

class CachedTokenServiceTest : public TokenServiceTest {
 protected:
  void SetUp() override {
    TokenServiceTest::SetUp();
    if (HasFatalFailure()) return;
    TokenServiceOptions options;
    options.cache = &cache_;
    tokens_ = std::make_unique<TokenService>(*store_, clock_, key_, options);
    directory_ = std::make_unique<DirectoryService>(*store_, clock_, hasher_, &cache_);
  }

  // Verifies twice so that the second answer comes from the cache.
  void VerifyTwice(const std::string& secret) {
    ASSERT_TRUE(tokens_->Verify(secret, ctx_));
    ASSERT_TRUE(tokens_->Verify(secret, ctx_));
    ASSERT_GE(cache_.size(), 1u);
  }

  VerificationCache cache_{clock_};
};

TEST_F(CachedTokenServiceTest, RevokedTokenIsRefusedAtOnceThroughTheCache) {
  CreatedToken created = CreateBobToken();
  VerifyTwice(created.secret);
  ASSERT_TRUE(tokens_->Revoke(admin_, created.row.token.id, ctx_));
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
}

// Regression guard for fills racing with a revocation: verifications running on other threads
// while the revocation happens must not leave a cache entry that accepts the token afterwards.
TEST_F(CachedTokenServiceTest, ConcurrentVerificationsNeverOutliveTheRevocation) {
  for (int round = 0; round < 5; ++round) {
    CreatedToken created = CreateBobToken();
    std::atomic<bool> revoked{false};
    std::atomic<int> accepted_after{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          bool was_revoked = revoked.load();
          if (tokens_->Verify(created.secret, ctx_) && was_revoked) ++accepted_after;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
    ASSERT_TRUE(tokens_->Revoke(admin_, created.row.token.id, ctx_));
    revoked = true;
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(accepted_after.load(), 0) << "round " << round;
    EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
  }
}

TEST_F(CachedTokenServiceTest, RevokeManyInvalidatesEveryCachedToken) {
  CreatedToken a = CreateBobToken();
  CreatedToken b = CreateBobToken();
  VerifyTwice(a.secret);
  VerifyTwice(b.secret);
  ASSERT_TRUE(tokens_->RevokeMany(admin_, {a.row.token.id, b.row.token.id}, ctx_));
  EXPECT_FALSE(tokens_->Verify(a.secret, ctx_));
  EXPECT_FALSE(tokens_->Verify(b.secret, ctx_));
}

TEST_F(CachedTokenServiceTest, RemovedPermissionIsGoneOnTheNextVerify) {
  CreatedToken created = CreateBobToken();
  VerifyTwice(created.secret);
  UserTypeInput change;
  change.permissions = std::vector<std::string>{"tokens:read"};
  ASSERT_TRUE(directory_->UpdateUserType(admin_, integrator_type_, change, ctx_));
  auto principal = tokens_->Verify(created.secret, ctx_);
  ASSERT_TRUE(principal);
  EXPECT_FALSE(principal->permissions.Has(core::Permission::kUsersRead));
  EXPECT_TRUE(principal->permissions.Has(core::Permission::kTokensRead));
}

TEST_F(CachedTokenServiceTest, RemovedMembershipRefusesTheToken) {
  CreatedToken created = CreateBobToken();
  VerifyTwice(created.secret);
  UserInput change;
  change.memberships = std::vector<core::Membership>{{support_, seed_.member_user_type_id}};
  auto updated = directory_->UpdateUser(admin_, bob_.id, change, ctx_);
  ASSERT_TRUE(updated) << Describe(updated.error());
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
  // Granting it back brings the token back: it was never revoked.
  change.memberships->push_back({sales_, integrator_type_});
  ASSERT_TRUE(directory_->UpdateUser(admin_, bob_.id, change, ctx_));
  EXPECT_TRUE(tokens_->Verify(created.secret, ctx_));
}

TEST_F(CachedTokenServiceTest, DeactivatedOrDeletedUserIsRefused) {
  CreatedToken created = CreateBobToken();
  VerifyTwice(created.secret);
  UserInput deactivate;
  deactivate.active = false;
  ASSERT_TRUE(directory_->UpdateUser(admin_, bob_.id, deactivate, ctx_));
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));

  UserInput activate;
  activate.active = true;
  ASSERT_TRUE(directory_->UpdateUser(admin_, bob_.id, activate, ctx_));
  VerifyTwice(created.secret);
  ASSERT_TRUE(directory_->DeleteUser(admin_, bob_.id, ctx_));
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
}

TEST_F(CachedTokenServiceTest, CachedEntryExpiresWithTheToken) {
  CreatedToken created =
      CreateFor(*tokens_, admin_, bob_, {sales_, integrator_type_}, "2026-01-01T00:00:03Z");
  VerifyTwice(created.secret);
  clock_.Advance(core::seconds{3});
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
}

TEST_F(CachedTokenServiceTest, UnknownTokenIsRememberedButANewTokenIsNot) {
  const std::string unknown = core::GenerateToken(core::TokenKind::kApi);
  EXPECT_FALSE(tokens_->Verify(unknown, ctx_));
  EXPECT_EQ(cache_.Get(key_.LookupHash(unknown)).outcome, VerificationCache::Outcome::kNegative);
  CreatedToken created = CreateBobToken();
  EXPECT_TRUE(tokens_->Verify(created.secret, ctx_));
}

// --- Mobile tokens and activity ----------------------------------------------------------------

class MobileTokenTest : public TokenServiceTest {
 protected:
  CreatedToken Login(TokenService& tokens) {
    AuthService auth(*store_, clock_, key_, hasher_, tokens);
    auto created = auth.MobileLogin({{"acme", "bob", "a long password", {}}, "Pixel 8"}, ctx_);
    EXPECT_TRUE(created) << Describe(created.error());
    return created ? *created : CreatedToken{};
  }
};

TEST_F(MobileTokenTest, ActivitySlidesTheExpiryUpToTheMaximum) {
  const core::Time login = clock_.Now();
  CreatedToken created = Login(*tokens_);
  EXPECT_EQ(created.row.token.kind, core::TokenKind::kMobile);
  EXPECT_EQ(created.row.token.expires_at, login + core::days{30});
  EXPECT_EQ(created.row.token.device_name, "Pixel 8");

  // Used every 29 days: each use moves the expiry 30 days ahead, until 180 days after login.
  for (int day = 29; day < 180; day += 29) {
    clock_.Set(login + core::days{day});
    auto principal = tokens_->Verify(created.secret, ctx_);
    ASSERT_TRUE(principal) << "day " << day;
    EXPECT_EQ(principal->token->expires_at,
              std::min(login + core::days{day + 30}, login + core::days{180}))
        << "day " << day;
  }
  auto stored = store_->GetToken(seed_.tenant_id, created.row.token.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->token.expires_at, login + core::days{180});
  EXPECT_EQ(stored->token.last_used_at, login + core::days{174});
  clock_.Set(login + core::days{180} - core::seconds{1});
  EXPECT_TRUE(tokens_->Verify(created.secret, ctx_));
  clock_.Set(login + core::days{180});
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
}

TEST_F(MobileTokenTest, IdleTokenExpires) {
  const core::Time login = clock_.Now();
  CreatedToken created = Login(*tokens_);
  clock_.Set(login + core::days{30});
  EXPECT_FALSE(tokens_->Verify(created.secret, ctx_));
}

TEST_F(MobileTokenTest, PendingSlideCountsBeforeItIsFlushed) {
  ActivityRecorder recorder(*store_, {std::chrono::milliseconds{5000}, false});
  VerificationCache cache(clock_);
  TokenServiceOptions options;
  options.activity = &recorder;
  options.cache = &cache;
  TokenService tokens(*store_, clock_, key_, options);
  const core::Time login = clock_.Now();
  CreatedToken created = Login(tokens);

  clock_.Set(login + core::days{29});
  ASSERT_TRUE(tokens.Verify(created.secret, ctx_));
  // Nothing reached the store on the request path.
  auto stored = store_->GetToken(seed_.tenant_id, created.row.token.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->token.expires_at, login + core::days{30});
  EXPECT_FALSE(stored->token.last_used_at.has_value());

  // Past the stored expiry, within the pending one; with and without a cached entry.
  clock_.Set(login + core::days{45});
  cache.InvalidateAll();
  auto principal = tokens.Verify(created.secret, ctx_);
  ASSERT_TRUE(principal);
  EXPECT_EQ(principal->token->expires_at, login + core::days{75});
  EXPECT_TRUE(tokens.Verify(created.secret, ctx_));

  ASSERT_TRUE(recorder.Flush());
  stored = store_->GetToken(seed_.tenant_id, created.row.token.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->token.expires_at, login + core::days{75});
  EXPECT_EQ(stored->token.last_used_at, login + core::days{45});
  EXPECT_EQ(stored->token.last_used_ip, "192.0.2.7");
}

TEST_F(MobileTokenTest, MobileLogoutRevokesTheToken) {
  VerificationCache cache(clock_);
  TokenServiceOptions options;
  options.cache = &cache;
  TokenService tokens(*store_, clock_, key_, options);
  AuthService auth(*store_, clock_, key_, hasher_, tokens);
  CreatedToken created = Login(tokens);
  auto principal = tokens.Verify(created.secret, ctx_);
  ASSERT_TRUE(principal);
  ASSERT_TRUE(tokens.Verify(created.secret, ctx_));
  ASSERT_TRUE(auth.MobileLogout(*principal, ctx_));
  EXPECT_FALSE(tokens.Verify(created.secret, ctx_));
  EXPECT_EQ(AuditEvents(seed_.tenant_id, "mobile.logout").size(), 1u);
  EXPECT_EQ(AuditEvents(seed_.tenant_id, "mobile.login").size(), 1u);
  // An API token cannot sign out as a mobile app.
  CreatedToken api = CreateBobToken();
  auto api_principal = tokens.Verify(api.secret, ctx_);
  ASSERT_TRUE(api_principal);
  EXPECT_EQ(auth.MobileLogout(*api_principal, ctx_).error().code,
            core::ErrorCode::kInvalidArgument);
}

TEST_F(TokenServiceTest, ActivityIsWrittenOncePerTokenPerFlush) {
  ActivityRecorder recorder(*store_, {std::chrono::milliseconds{5000}, false});
  TokenServiceOptions options;
  options.activity = &recorder;
  TokenService tokens(*store_, clock_, key_, options);
  CreatedToken a = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  CreatedToken b = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  for (int i = 0; i < 50; ++i) {
    clock_.Advance(core::seconds{1});
    ASSERT_TRUE(tokens.Verify(a.secret, ctx_));
    ASSERT_TRUE(tokens.Verify(b.secret, {"198.51.100.1", ""}));
  }
  EXPECT_FALSE(store_->GetToken(seed_.tenant_id, a.row.token.id)->token.last_used_at);
  EXPECT_EQ(recorder.pending(), 2u);
  ASSERT_TRUE(recorder.Flush());
  ActivityRecorder::Stats stats = recorder.stats();
  EXPECT_EQ(stats.batches_written, 1u);
  EXPECT_EQ(stats.rows_written, 2u);
  auto stored_a = store_->GetToken(seed_.tenant_id, a.row.token.id);
  auto stored_b = store_->GetToken(seed_.tenant_id, b.row.token.id);
  ASSERT_TRUE(stored_a && stored_b);
  EXPECT_EQ(stored_a->token.last_used_at, clock_.Now());
  EXPECT_EQ(stored_a->token.last_used_ip, "192.0.2.7");
  EXPECT_EQ(stored_b->token.last_used_ip, "198.51.100.1");
  // Nothing pending: the next flush writes nothing.
  ASSERT_TRUE(recorder.Flush());
  EXPECT_EQ(recorder.stats().batches_written, 1u);
}

// Verifications keep recording while a flush writes: what they record is neither lost nor
// overwritten by the older batch, and a slide being written still counts.
TEST_F(TokenServiceTest, ActivityRecordedDuringAFlushWaitsForTheNextOne) {
  FaultyStore faulty(*store_);
  ActivityRecorder recorder(faulty, {std::chrono::milliseconds{5000}, false});
  TokenService tokens(faulty, clock_, key_, {});
  CreatedToken a = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  const std::string& id = a.row.token.id;
  const core::Time first = clock_.Now();
  const core::Time slid = first + core::days{3};
  recorder.Record({seed_.tenant_id, id, first, "192.0.2.1", slid});
  std::optional<core::Time> expiry_during_write;
  faulty.on_activity_write = [&] {
    expiry_during_write = recorder.PendingExpiry(id);
    recorder.Record({seed_.tenant_id, id, first + core::seconds{5}, "192.0.2.2", std::nullopt});
  };
  ASSERT_TRUE(recorder.Flush());
  EXPECT_EQ(expiry_during_write, slid);
  EXPECT_EQ(recorder.pending(), 1u);
  auto stored = store_->GetToken(seed_.tenant_id, id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->token.last_used_ip, "192.0.2.1");

  faulty.on_activity_write = nullptr;
  ASSERT_TRUE(recorder.Flush());
  EXPECT_EQ(recorder.pending(), 0u);
  stored = store_->GetToken(seed_.tenant_id, id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->token.last_used_at, first + core::seconds{5});
  EXPECT_EQ(stored->token.last_used_ip, "192.0.2.2");
  EXPECT_EQ(stored->token.expires_at, slid);
}

TEST_F(TokenServiceTest, AFailedFlushKeepsItsRowsMergedWithNewerActivity) {
  FaultyStore faulty(*store_);
  ActivityRecorder recorder(faulty, {std::chrono::milliseconds{5000}, false});
  TokenService tokens(faulty, clock_, key_, {});
  CreatedToken a = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  CreatedToken b = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  const core::Time first = clock_.Now();
  recorder.Record({seed_.tenant_id, a.row.token.id, first, "192.0.2.1", std::nullopt});
  recorder.Record({seed_.tenant_id, b.row.token.id, first, "192.0.2.1", std::nullopt});
  faulty.fail_activity_write = true;
  faulty.on_activity_write = [&] {
    recorder.Record(
        {seed_.tenant_id, a.row.token.id, first + core::seconds{9}, "192.0.2.9", std::nullopt});
  };
  EXPECT_FALSE(recorder.Flush());
  EXPECT_EQ(recorder.pending(), 2u);
  EXPECT_EQ(recorder.stats().failed_batches, 1u);

  faulty.fail_activity_write = false;
  faulty.on_activity_write = nullptr;
  ASSERT_TRUE(recorder.Flush());
  EXPECT_EQ(recorder.pending(), 0u);
  auto stored_a = store_->GetToken(seed_.tenant_id, a.row.token.id);
  auto stored_b = store_->GetToken(seed_.tenant_id, b.row.token.id);
  ASSERT_TRUE(stored_a && stored_b);
  EXPECT_EQ(stored_a->token.last_used_at, first + core::seconds{9});
  EXPECT_EQ(stored_a->token.last_used_ip, "192.0.2.9");
  EXPECT_EQ(stored_b->token.last_used_at, first);
}

// Record appends to a log per thread; the drain merges the logs. Whatever the interleaving,
// each token ends with its latest use.
TEST_F(TokenServiceTest, ActivityFromManyThreadsEndsWithEachTokensLatestUse) {
  ActivityRecorder recorder(*store_, {std::chrono::milliseconds{5000}, false});
  TokenService tokens(*store_, clock_, key_, {});
  CreatedToken a = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  CreatedToken b = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  const core::Time first = clock_.Now();
  constexpr int kThreads = 8;
  constexpr int kRecordsPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string ip = "192.0.2." + std::to_string(t);
      for (int i = 0; i < kRecordsPerThread; ++i) {
        const std::string& id = i % 2 == 0 ? a.row.token.id : b.row.token.id;
        // Thread 5 makes the latest use of each token.
        const core::Time at = first + core::seconds{i + (t == 5 ? kRecordsPerThread : 0)};
        recorder.Record({seed_.tenant_id, id, at, ip, std::nullopt});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(recorder.pending(), 2u);
  ASSERT_TRUE(recorder.Flush());
  EXPECT_EQ(recorder.stats().rows_written, 2u);
  EXPECT_EQ(recorder.stats().dropped, 0u);
  auto stored_a = store_->GetToken(seed_.tenant_id, a.row.token.id);
  auto stored_b = store_->GetToken(seed_.tenant_id, b.row.token.id);
  ASSERT_TRUE(stored_a && stored_b);
  EXPECT_EQ(stored_a->token.last_used_at, first + core::seconds{2 * kRecordsPerThread - 2});
  EXPECT_EQ(stored_b->token.last_used_at, first + core::seconds{2 * kRecordsPerThread - 1});
  EXPECT_EQ(stored_a->token.last_used_ip, "192.0.2.5");
  EXPECT_EQ(stored_b->token.last_used_ip, "192.0.2.5");
}

// A record's strings are kept inline in the log; longer ones take the slow path, not the bin.
TEST_F(TokenServiceTest, ActivityWithAnAddressLongerThanALogRecordStillReachesTheStore) {
  ActivityRecorder recorder(*store_, {std::chrono::milliseconds{5000}, false});
  TokenService tokens(*store_, clock_, key_, {});
  CreatedToken a = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  const std::string long_address(80, 'f');
  recorder.Record({seed_.tenant_id, a.row.token.id, clock_.Now(), long_address, std::nullopt});
  ASSERT_TRUE(recorder.Flush());
  auto stored = store_->GetToken(seed_.tenant_id, a.row.token.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->token.last_used_ip, long_address);
}

TEST_F(TokenServiceTest, AFullActivityLogDropsAndCountsWhatItCannotHold) {
  ActivityOptions options{std::chrono::milliseconds{5000}, false};
  options.max_log_records = 2;
  ActivityRecorder recorder(*store_, options);
  for (int i = 0; i < 3; ++i) {
    recorder.Record(
        {seed_.tenant_id, "token" + std::to_string(i), clock_.Now(), "192.0.2.1", std::nullopt});
  }
  EXPECT_EQ(recorder.stats().dropped, 1u);
  EXPECT_EQ(recorder.pending(), 2u);
  // Drained, the log has room again.
  recorder.Record({seed_.tenant_id, "token3", clock_.Now(), "192.0.2.1", std::nullopt});
  EXPECT_EQ(recorder.pending(), 3u);
  EXPECT_EQ(recorder.stats().dropped, 1u);
}

TEST_F(TokenServiceTest, BackgroundThreadFlushesOnItsInterval) {
  ActivityRecorder recorder(*store_, {std::chrono::milliseconds{50}, true});
  TokenServiceOptions options;
  options.activity = &recorder;
  TokenService tokens(*store_, clock_, key_, options);
  CreatedToken a = CreateFor(tokens, admin_, bob_, {sales_, integrator_type_});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(tokens.Verify(a.secret, ctx_));
  for (int i = 0; i < 200 && recorder.pending() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  EXPECT_EQ(recorder.pending(), 0u);
  EXPECT_EQ(recorder.stats().rows_written, 1u);
  EXPECT_EQ(store_->GetToken(seed_.tenant_id, a.row.token.id)->token.last_used_at, clock_.Now());
}

}  // namespace
}  // namespace tokend::service
