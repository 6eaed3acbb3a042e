#include "core/permission.h"

#include <gtest/gtest.h>

#include "core/model.h"

namespace tokend::core {
namespace {

TEST(PermissionTest, CatalogueNamesAreThoseOfTheDesign) {
  const std::vector<std::string> expected = {
      "tokens:read",      "tokens:write",     "tokens:reveal",     "users:read",
      "users:write",      "departments:read", "departments:write", "user_types:read",
      "user_types:write", "audit:read",       "introspect"};
  ASSERT_EQ(AllPermissions().size(), expected.size());
  ASSERT_EQ(static_cast<int>(expected.size()), kPermissionCount);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    Permission p = AllPermissions()[i];
    EXPECT_EQ(PermissionName(p), expected[i]) << i;
    EXPECT_EQ(ParsePermission(expected[i]), p) << expected[i];
  }
  EXPECT_EQ(PermissionSet::All().Names(), expected);
}

TEST(PermissionTest, UnknownNamesAreRefused) {
  for (std::string_view name : {"", "tokens", "Tokens:read", "tokens:read ", "tokens:*", "admin"}) {
    EXPECT_EQ(ParsePermission(name), std::nullopt) << "'" << name << "'";
  }
  std::string unknown;
  std::vector<std::string> names = {"tokens:read", "tokens:destroy", "bogus"};
  EXPECT_EQ(PermissionSet::FromNames(names, &unknown), std::nullopt);
  EXPECT_EQ(unknown, "tokens:destroy");
}

TEST(PermissionTest, SetOperations) {
  PermissionSet read = PermissionSet::Of({Permission::kTokensRead, Permission::kUsersRead});
  PermissionSet all = PermissionSet::All();
  EXPECT_TRUE(read.IsSubsetOf(all));
  EXPECT_FALSE(all.IsSubsetOf(read));
  EXPECT_TRUE(read.IsSubsetOf(read));
  EXPECT_TRUE(PermissionSet().IsSubsetOf(read));
  EXPECT_TRUE(PermissionSet().Empty());
  EXPECT_FALSE(read.Empty());
  PermissionSet more = read;
  more.Add(Permission::kTokensWrite);
  EXPECT_FALSE(more.IsSubsetOf(read));
  more.Remove(Permission::kTokensWrite);
  EXPECT_EQ(more, read);
  EXPECT_TRUE(read.Has(Permission::kUsersRead));
  EXPECT_FALSE(read.Has(Permission::kUsersWrite));
  for (Permission p : AllPermissions()) EXPECT_TRUE(all.Has(p)) << PermissionName(p);
}

TEST(PermissionTest, NamesAndScopeAreInCatalogueOrder) {
  // Added in reverse order; output must still follow the catalogue.
  PermissionSet set =
      PermissionSet::Of({Permission::kIntrospect, Permission::kAuditRead, Permission::kTokensRead});
  EXPECT_EQ(set.ToScopeString(), "tokens:read audit:read introspect");
  EXPECT_EQ(PermissionSet().ToScopeString(), "");
  std::vector<std::string> names = set.Names();
  EXPECT_EQ(PermissionSet::FromNames(names), set);
  std::vector<std::string> duplicated = {"introspect", "introspect"};
  EXPECT_EQ(PermissionSet::FromNames(duplicated), PermissionSet::Of({Permission::kIntrospect}));
}

TEST(ModelTest, KindAndStateNames) {
  EXPECT_EQ(TokenKindName(TokenKind::kApi), "api");
  EXPECT_EQ(TokenKindName(TokenKind::kMobile), "mobile");
  EXPECT_EQ(ParseTokenKind("api"), TokenKind::kApi);
  EXPECT_EQ(ParseTokenKind("mobile"), TokenKind::kMobile);
  for (std::string_view bad : {"", "API", "Mobile", "apis", "web"}) {
    EXPECT_EQ(ParseTokenKind(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(TokenStateName(TokenState::kActive), "active");
  EXPECT_EQ(TokenStateName(TokenState::kExpired), "expired");
  EXPECT_EQ(TokenStateName(TokenState::kRevoked), "revoked");
}

}  // namespace
}  // namespace tokend::core
