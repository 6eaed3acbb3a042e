#include "http/message.h"

#include <gtest/gtest.h>

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

TEST(ResponseTest, SetReplacesCaseInsensitively) {
  Response response;
  response.Set("Content-Type", "text/plain");
  response.Set("content-type", "application/json");
  EXPECT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.Get("CONTENT-TYPE"), "application/json");
  response.Add("Set-Cookie", "a=1");
  response.Add("Set-Cookie", "b=2");
  EXPECT_EQ(response.headers.size(), 3u);
}

}  // namespace
}  // namespace tokend::http
