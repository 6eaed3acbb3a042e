#include "http/problem.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace tokend::http {
namespace {

TEST(StatusForTest, MapsEveryErrorCode) {
  using core::ErrorCode;
  struct {
    ErrorCode code;
    int status;
  } cases[] = {
      {ErrorCode::kInvalidArgument, 400},    {ErrorCode::kValidation, 422},
      {ErrorCode::kNotFound, 404},           {ErrorCode::kAlreadyExists, 409},
      {ErrorCode::kFailedPrecondition, 409}, {ErrorCode::kUnauthenticated, 401},
      {ErrorCode::kPermissionDenied, 403},   {ErrorCode::kResourceExhausted, 429},
      {ErrorCode::kUnavailable, 503},        {ErrorCode::kInternal, 500},
  };
  for (const auto& c : cases) EXPECT_EQ(StatusFor(c.code), c.status) << core::ErrorCodeName(c.code);
}

TEST(ErrorResponseTest, SendsOnlyThePublicMessageAndFields) {
  Request request;
  request.request_id = "r1";
  core::Error error = core::ValidationFailed("Expiry too far.", {{"expires_at", "too far"}});
  error.log_detail = "SELECT secret FROM internals";
  Response response = ErrorResponse(request, error);
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(response.Get("Content-Type"), "application/problem+json");
  EXPECT_EQ(response.body.find("SELECT"), std::string::npos);
  auto body = boost::json::parse(response.body).as_object();
  EXPECT_EQ(body.at("type"), "about:blank");
  EXPECT_EQ(body.at("title"), "Unprocessable Entity");
  EXPECT_EQ(body.at("status"), 422);
  EXPECT_EQ(body.at("detail"), "Expiry too far.");
  ASSERT_EQ(body.at("errors").as_array().size(), 1u);
  EXPECT_EQ(body.at("errors").as_array()[0].at("field"), "expires_at");
}

TEST(ErrorResponseTest, ThrottledAndUnavailableCarryRetryAfter) {
  Request request;
  Response throttled = ErrorResponse(request, core::ResourceExhausted("Slow down.", 7));
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.Get("Retry-After"), "7");
  Response unavailable = ErrorResponse(request, core::Unavailable("db down"));
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_FALSE(unavailable.Get("Retry-After").empty());
  EXPECT_EQ(unavailable.body.find("db down"), std::string::npos);
  Response internal = ErrorResponse(request, core::Internal("null pointer in X"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.body.find("null pointer"), std::string::npos);
}

}  // namespace
}  // namespace tokend::http
