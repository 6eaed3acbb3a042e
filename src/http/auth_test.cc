#include "http/auth.h"

#include <gtest/gtest.h>

namespace tokend::http {
namespace {

Request WithHeaders(Fields headers) {
  Request request;
  request.method = "GET";
  request.headers = std::move(headers);
  return request;
}

TEST(ParseBearerTest, TableOfAuthorizationHeaders) {
  using Kind = BearerToken::Kind;
  struct Case {
    const char* header;
    Kind kind;
    const char* token;
  } cases[] = {
      {"Bearer abc", Kind::kPresent, "abc"},     {"bearer abc", Kind::kPresent, "abc"},
      {"BEARER   abc  ", Kind::kPresent, "abc"}, {"  Bearer\tabc", Kind::kPresent, "abc"},
      {"Bearer", Kind::kMalformed, ""},          {"Bearer    ", Kind::kMalformed, ""},
      {"Bearer a b", Kind::kMalformed, ""},      {"Basic dXNlcjpwYXNz", Kind::kOther, ""},
      {"Bearerabc", Kind::kOther, ""},           {"", Kind::kOther, ""},
  };
  for (const Case& c : cases) {
    Request request = WithHeaders({{"authorization", c.header}});  // the token views into it
    BearerToken bearer = ParseBearer(request);
    EXPECT_EQ(bearer.kind, c.kind) << "'" << c.header << "'";
    EXPECT_EQ(bearer.token, c.token) << "'" << c.header << "'";
  }
  EXPECT_EQ(ParseBearer(WithHeaders({})).kind, Kind::kAbsent);
  EXPECT_EQ(
      ParseBearer(WithHeaders({{"authorization", "Bearer a"}, {"authorization", "Bearer a"}})).kind,
      Kind::kDuplicate);
}

TEST(FindCookieTest, FindsTheNamedCookieAmongOthers) {
  Request request = WithHeaders({{"cookie", "theme=dark; tokend_session=s3cr3t ; x=\"q\""}});
  EXPECT_EQ(FindCookie(request, "tokend_session").value_or("?"), "s3cr3t");
  EXPECT_EQ(FindCookie(request, "x").value_or("?"), "q");
  EXPECT_FALSE(FindCookie(request, "tokend"));
  EXPECT_FALSE(FindCookie(WithHeaders({}), "tokend_session"));
}

TEST(OriginMatchesHostTest, ComparesSchemeDefaultPortsAndCase) {
  EXPECT_TRUE(OriginMatchesHost("http://tokend.test:8080", "tokend.test:8080"));
  EXPECT_TRUE(OriginMatchesHost("https://Tokens.Example.com", "tokens.example.com"));
  EXPECT_TRUE(OriginMatchesHost("https://tokens.example.com:443", "tokens.example.com"));
  EXPECT_FALSE(OriginMatchesHost("http://evil.test", "tokend.test"));
  EXPECT_FALSE(OriginMatchesHost("http://tokend.test:8081", "tokend.test:8080"));
  EXPECT_FALSE(OriginMatchesHost("null", "tokend.test"));
  EXPECT_FALSE(OriginMatchesHost("http://tokend.test/path", "tokend.test"));
  EXPECT_FALSE(OriginMatchesHost("ftp://tokend.test", "tokend.test"));
  EXPECT_FALSE(OriginMatchesHost("http://tokend.test", ""));
}

TEST(UnauthorizedTest, FollowsRfc6750) {
  Response missing = Unauthorized(false);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.Get("WWW-Authenticate"), R"(Bearer realm="tokend")");
  Response invalid = Unauthorized(true);
  EXPECT_EQ(invalid.Get("WWW-Authenticate"), R"(Bearer realm="tokend", error="invalid_token")");
  Response scope = InsufficientScope("users:write");
  EXPECT_EQ(scope.status, 403);
  EXPECT_EQ(scope.Get("WWW-Authenticate"),
            R"(Bearer realm="tokend", error="insufficient_scope", scope="users:write")");
}

}  // namespace
}  // namespace tokend::http
