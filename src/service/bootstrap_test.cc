#include "service/bootstrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "service/auth_service.h"
#include "service/key_file.h"
#include "service/service_test_fixture.h"
#include "service/token_service.h"

namespace tokend::service {
namespace {

class BootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(opened) << Describe(opened.error());
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate());
  }

  bool CanSignIn(const std::string& password) {
    TokenService tokens(*store_, clock_, key_);
    AuthService auth(*store_, clock_, key_, hasher_, tokens);
    return auth.Login({"default", "admin", password, {}}, {"127.0.0.1", ""}).has_value();
  }

  core::FakeClock clock_{*core::ParseRfc3339("2026-01-01T00:00:00Z")};
  core::PasswordHasher hasher_ = core::PasswordHasher::Fast();
  core::ServerKey key_ = TestKey();
  std::unique_ptr<store::Store> store_;
};

TEST_F(BootstrapTest, CreatesTheDefaultTenantOnceWithTheGivenPassword) {
  auto first = Bootstrap(*store_, clock_, hasher_, std::string("bootstrap secret"));
  ASSERT_TRUE(first) << Describe(first.error());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(first->generated_password.has_value());
  EXPECT_TRUE(CanSignIn("bootstrap secret"));

  auto tenant = store_->GetTenantByName("default");
  ASSERT_TRUE(tenant);
  EXPECT_EQ(tenant->id, first->tenant_id);
  auto departments = store_->ListDepartments(tenant->id);
  ASSERT_TRUE(departments);
  ASSERT_EQ(departments->size(), 1u);
  EXPECT_EQ((*departments)[0].name, "Head Office");
  auto types = store_->ListUserTypes(tenant->id);
  ASSERT_TRUE(types);
  ASSERT_EQ(types->size(), 2u);
  for (const core::UserType& type : *types) {
    if (type.name == "Administrator") {
      EXPECT_EQ(type.permissions, core::PermissionSet::All());
    } else {
      EXPECT_EQ(type.name, "Member");
      EXPECT_EQ(type.permissions.ToScopeString(),
                "tokens:read users:read departments:read user_types:read");
    }
  }
  auto admin = store_->GetUserByUsername(tenant->id, "admin");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->email, "admin@localhost");
  ASSERT_EQ(admin->memberships.size(), 1u);
  EXPECT_EQ(admin->memberships[0].department_id, (*departments)[0].id);

  // Idempotent: a second start changes nothing, not even the password.
  auto second = Bootstrap(*store_, clock_, hasher_, std::string("another secret"));
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->tenant_id, first->tenant_id);
  EXPECT_TRUE(CanSignIn("bootstrap secret"));
  EXPECT_FALSE(CanSignIn("another secret"));
  EXPECT_EQ(store_->ListTenants()->size(), 1u);
}

TEST_F(BootstrapTest, GeneratesAPasswordWhenNoneIsGiven) {
  auto result = Bootstrap(*store_, clock_, hasher_, std::nullopt);
  ASSERT_TRUE(result) << Describe(result.error());
  ASSERT_TRUE(result->generated_password.has_value());
  EXPECT_EQ(result->generated_password->size(), 20u);
  EXPECT_TRUE(CanSignIn(*result->generated_password));
}

TEST_F(BootstrapTest, RefusesATooShortPassword) {
  auto result = Bootstrap(*store_, clock_, hasher_, std::string("short"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ErrorCode::kValidation);
  EXPECT_TRUE(store_->ListTenants()->empty());
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(core::InitCrypto());
    char pattern[] = "/tmp/tokend-key-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static unsigned Mode(const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 0777;
  }

  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, CreatesPrivateFileAndReadsItBack) {
  const std::filesystem::path path = dir_ / "data" / "keys" / "server.key";
  auto created = LoadOrCreateServerKey(path.string());
  ASSERT_TRUE(created) << Describe(created.error());
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(Mode(path.parent_path()), 0700u);
  EXPECT_EQ(std::filesystem::file_size(path), core::kServerKeyBytes);

  auto again = LoadOrCreateServerKey(path.string());
  ASSERT_TRUE(again) << Describe(again.error());
  EXPECT_EQ(again->raw(), created->raw());
  EXPECT_EQ(again->LookupHash("tka_x"), created->LookupHash("tka_x"));
}

TEST_F(KeyFileTest, RefusesAKeyOthersCanRead) {
  const std::filesystem::path path = dir_ / "server.key";
  ASSERT_TRUE(LoadOrCreateServerKey(path.string()));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto refused = LoadOrCreateServerKey(path.string());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().public_message, ::testing::HasSubstr("chmod 600"));
}

TEST_F(KeyFileTest, RefusesAKeyOfTheWrongSize) {
  const std::filesystem::path path = dir_ / "server.key";
  {
    std::ofstream out(path);
    out << "too short";
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto refused = LoadOrCreateServerKey(path.string());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().public_message, ::testing::HasSubstr("32 bytes"));
}

}  // namespace
}  // namespace tokend::service
