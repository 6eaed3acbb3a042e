#include "http/cursor.h"

#include <gtest/gtest.h>

#include "core/ids.h"

namespace tokend::http {
namespace {

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    auto decoded = Base64UrlDecode(Base64UrlEncode(data));
    ASSERT_TRUE(decoded) << i;
    EXPECT_EQ(*decoded, data);
    data += static_cast<char>(i * 37);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64UrlTest, RefusesNonCanonicalText) {
  for (const char* text : {"a", "ab=", "a+b/", "ab c", "-_9"}) {
    EXPECT_FALSE(Base64UrlDecode(text)) << text;
  }
}

TEST(TokenCursorTest, RoundTripsAndKeepsAnyKey) {
  std::string id = core::NewId();
  std::string cursor = EncodeTokenCursor({"api", "-name", id, "a|b\nc"});
  auto decoded = DecodeTokenCursor(cursor, "api", "-name");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->id, id);
  EXPECT_EQ(decoded->key, "a|b\nc");
}

TEST(TokenCursorTest, RefusesForeignAndForgedCursors) {
  std::string id = core::NewId();
  std::string cursor = EncodeTokenCursor({"api", "-name", id, "k"});
  EXPECT_FALSE(DecodeTokenCursor(cursor, "mobile", "-name"));  // another list
  EXPECT_FALSE(DecodeTokenCursor(cursor, "api", "name"));      // another order
  EXPECT_FALSE(DecodeTokenCursor(EncodeUserCursor("bob"), "api", "-name"));
  EXPECT_FALSE(DecodeTokenCursor(Base64UrlEncode("t1|api|-name|not-an-id|k"), "api", "-name"));
  EXPECT_FALSE(DecodeTokenCursor(Base64UrlEncode("t2|api|-name|" + id + "|k"), "api", "-name"));
  EXPECT_FALSE(DecodeTokenCursor("!!!", "api", "-name"));
  EXPECT_FALSE(DecodeTokenCursor(std::string(5000, 'A'), "api", "-name"));
  auto error = DecodeTokenCursor("x", "api", "-name");
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code, core::ErrorCode::kInvalidArgument);
  ASSERT_EQ(error.error().fields.size(), 1u);
  EXPECT_EQ(error.error().fields[0].field, "cursor");
}

TEST(OtherCursorsTest, RoundTripAndRefuseEachOther) {
  auto user = DecodeUserCursor(EncodeUserCursor("alice"));
  ASSERT_TRUE(user);
  EXPECT_EQ(*user, "alice");
  auto audit = DecodeAuditCursor(EncodeAuditCursor("1234"));
  ASSERT_TRUE(audit);
  EXPECT_EQ(*audit, "1234");
  EXPECT_FALSE(DecodeUserCursor(EncodeAuditCursor("1234")));
  EXPECT_FALSE(DecodeAuditCursor(EncodeUserCursor("alice")));
  EXPECT_FALSE(DecodeAuditCursor(Base64UrlEncode("a1|12 34")));
}

}  // namespace
}  // namespace tokend::http
