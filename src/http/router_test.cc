#include "http/router.h"

#include <gtest/gtest.h>

namespace tokend::http {
namespace {

Response Ok(const Env&, Request&) { return Response{}; }

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/api/v1/tokens", Ok);
    router_.Add("POST", "/api/v1/tokens", Ok);
    router_.Add("POST", "/api/v1/tokens/delete", Ok);
    router_.Add("GET", "/api/v1/tokens/{id}", Ok);
    router_.Add("DELETE", "/api/v1/tokens/{id}", Ok);
    router_.Add("POST", "/api/v1/tokens/{id}/reveal", Ok);
  }

  RouteMatch Match(std::string method, std::string_view target) {
    request_ = Request{};
    request_.method = std::move(method);
    EXPECT_TRUE(ParseTarget(target, request_));
    return router_.Match(request_);
  }

  Router router_;
  Request request_;
};

TEST_F(RouterTest, MatchesLiteralAndPlaceholderSegments) {
  auto match = Match("GET", "/api/v1/tokens/abc123");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.pattern, "/api/v1/tokens/{id}");
  EXPECT_EQ(request_.PathParam("id"), "abc123");

  match = Match("POST", "/api/v1/tokens/abc123/reveal");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(request_.PathParam("id"), "abc123");
}

TEST_F(RouterTest, LiteralRouteWinsForItsMethod) {
  auto match = Match("POST", "/api/v1/tokens/delete");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(match.pattern, "/api/v1/tokens/delete");
}

TEST_F(RouterTest, KnownPathWithAnotherMethodIsMethodNotAllowedWithAllow) {
  auto match = Match("PATCH", "/api/v1/tokens/abc");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET, HEAD, DELETE");
  match = Match("DELETE", "/api/v1/tokens");
  ASSERT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET, HEAD, POST");
}

TEST_F(RouterTest, HeadIsServedByGet) {
  EXPECT_EQ(Match("HEAD", "/api/v1/tokens").kind, RouteMatch::Kind::kFound);
}

TEST_F(RouterTest, UnknownPathsAreNotFound) {
  for (const char* target : {"/api/v1", "/api/v1/tokens/", "/api/v1/tokens/a/b", "/api/v2/tokens",
                             "/api/v1/tokens/abc/reveal/x"}) {
    EXPECT_EQ(Match("GET", target).kind, RouteMatch::Kind::kNotFound) << target;
  }
}

}  // namespace
}  // namespace tokend::http
