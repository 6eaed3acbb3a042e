#include "http/message.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace tokend::http {
namespace {

TEST(ParseTargetTest, SplitsPathAndDecodesQuery) {
  Request request;
  ASSERT_TRUE(ParseTarget("/api/v1/tokens?q=a+b%21&kind=api", request));
  EXPECT_EQ(request.path, "/api/v1/tokens");
  ASSERT_EQ(request.segments.size(), 3u);
  EXPECT_EQ(request.segments[2], "tokens");
  EXPECT_EQ(request.Query("q").value_or("?"), "a b!");
  EXPECT_EQ(request.Query("kind").value_or("?"), "api");
  EXPECT_FALSE(request.Query("sort"));
}

TEST(ParseTargetTest, RootHasNoSegments) {
  Request request;
  ASSERT_TRUE(ParseTarget("/", request));
  EXPECT_EQ(request.path, "/");
  EXPECT_TRUE(request.segments.empty());
}

TEST(ParseTargetTest, PercentEncodedSegmentsAreDecodedOneByOne) {
  Request request;
  ASSERT_TRUE(ParseTarget("/a%2Fb/c", request));
  ASSERT_EQ(request.segments.size(), 2u);
  EXPECT_EQ(request.segments[0], "a/b");
}

TEST(ParseTargetTest, RefusesMalformedTargets) {
  for (const char* target : {"http://example.com/x", "*", "no-slash", "/a/../b", "/./a",
                             "/a/%2E%2E/b", "/a/..", "/bad%zz", "/a?x=1&x=2", "/a b"}) {
    Request request;
    EXPECT_FALSE(ParseTarget(target, request)) << target << " -> " << request.path;
  }
}

TEST(ParseTargetTest, BoundsTheNumberOfParameters) {
  std::string target = "/a?";
  for (int i = 0; i < 32; ++i) target += "p" + std::to_string(i) + "=1&";
  Request request;
  EXPECT_TRUE(ParseTarget(target, request));
  target += "one_more=1";
  EXPECT_FALSE(ParseTarget(target, request));
}

// Plain paths take a shortcut around Boost.URL (message.cc); the same path with an empty
// query ("?"), or with a character percent-encoded, takes the general parse. Both must agree.
TEST(ParseTargetTest, PlainPathsParseAsTheGeneralParserDoes) {
  std::mt19937 random(42);
  // Mostly what a plain path is made of, plus characters that must send it to the general
  // parse: a shortcut that took them would disagree with it.
  const std::string alphabet = "/./-_~aZ9/a/.#+%?:@ !$";
  std::vector<std::string> targets = {
      "/",    "/a",     "/a/",  "/auth/verify", "/api/v1/tokens/x-_~Y",
      "/.",   "/..",    "/./a", "/a/.",         "/a/..",
      "/...", "/.a/b.", "//",   "/a//b",        "/a/b//"};
  for (int i = 0; i < 5000; ++i) {
    std::string target = "/";
    const int length = static_cast<int>(random() % 10);
    for (int j = 0; j < length; ++j) target += alphabet[random() % alphabet.size()];
    targets.push_back(target);
  }
  for (const std::string& target : targets) {
    std::string encoded = target;  // the first letter or digit percent-encoded
    if (std::size_t at = encoded.find_first_of("aZ9");
        at != std::string::npos && encoded.find('%') == std::string::npos) {
      encoded.replace(at, 1, encoded[at] == 'a' ? "%61" : encoded[at] == 'Z' ? "%5A" : "%39");
    }
    Request plain, general, decoded;
    const bool plain_ok = ParseTarget(target, plain).has_value();
    const bool general_ok = ParseTarget(target + "?", general).has_value();
    const bool decoded_ok = ParseTarget(encoded + "?", decoded).has_value();
    ASSERT_EQ(plain_ok, general_ok) << target;
    ASSERT_EQ(plain_ok, decoded_ok) << encoded;
    if (!plain_ok) continue;
    EXPECT_EQ(plain.path, general.path) << target;
    EXPECT_EQ(plain.segments, general.segments) << target;
    EXPECT_EQ(plain.path, decoded.path) << encoded;
    EXPECT_EQ(plain.segments, decoded.segments) << encoded;
    if (target.find('?') == std::string::npos) {
      EXPECT_TRUE(plain.query.empty()) << target;
    }
  }
}

TEST(ParseTargetTest, ReusedRequestKeepsNothingFromThePreviousTarget) {
  Request request;
  ASSERT_TRUE(ParseTarget("/api/v1/tokens?limit=5", request));
  ASSERT_TRUE(ParseTarget("/auth/verify", request));
  EXPECT_EQ(request.path, "/auth/verify");
  EXPECT_EQ(request.segments, (std::vector<std::string>{"auth", "verify"}));
  EXPECT_TRUE(request.query.empty());
}

TEST(ResponseTest, SetReplacesCaseInsensitively) {
  Response response;
  response.Set("Content-Type", "text/plain");
  response.Set("content-type", "application/json");
  EXPECT_EQ(response.HeaderCount(), 1);
  EXPECT_EQ(response.Get("CONTENT-TYPE"), "application/json");
  response.Add("Set-Cookie", "a=1");
  response.Add("Set-Cookie", "b=2");
  EXPECT_EQ(response.HeaderCount(), 3);
}

TEST(ResponseTest, SetRemovesEveryLineOfThatNameAndKeepsTheOthers) {
  Response response;
  response.Add("Set-Cookie", "a=1");
  response.Add("X-Set-Cookie", "kept");
  response.Add("set-cookie", "b=2");
  response.Set("SET-COOKIE", "c=3");
  EXPECT_EQ(response.header_lines(), "X-Set-Cookie: kept\r\nSET-COOKIE: c=3\r\n");
  EXPECT_EQ(response.Get("x-set-cookie"), "kept");
  EXPECT_EQ(response.Get("Set-Cookie"), "c=3");
  EXPECT_FALSE(response.Has("Cookie"));
  EXPECT_FALSE(response.Has("Set"));  // a prefix of a name is not that name
  EXPECT_FALSE(response.Has("X-Set"));
  EXPECT_FALSE(response.Has("X-Set-Cookie: kept"));  // nor is a name with its value
  response.Set("Allow", "");
  EXPECT_TRUE(response.Has("Allow"));
  EXPECT_EQ(response.Get("Allow"), "");
}

TEST(ResponseTest, AddDropsFramingHeadersAndLineBreaks) {
  Response response;
  response.Add("Content-Length", "5");
  response.Add("transfer-encoding", "chunked");
  response.Add("Connection", "close");
  response.Add("Location", "/a\r\nSet-Cookie: stolen=1");
  response.Add("X-Bad\n", "v");
  response.Add("", "empty name");
  response.Add("A: b", "c");  // a name must be a token
  response.Add("X-Nul", std::string_view("a\0b", 3));
  EXPECT_EQ(response.HeaderCount(), 0);
  EXPECT_EQ(response.header_lines(), "");
}

}  // namespace
}  // namespace tokend::http
