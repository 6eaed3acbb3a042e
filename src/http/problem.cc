#include "http/problem.h"

#include <spdlog/spdlog.h>

#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>

namespace tokend::http {

int StatusFor(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::kInvalidArgument:
      return 400;
    case core::ErrorCode::kValidation:
      return 422;
    case core::ErrorCode::kNotFound:
      return 404;
    case core::ErrorCode::kAlreadyExists:
    case core::ErrorCode::kFailedPrecondition:
      return 409;
    case core::ErrorCode::kUnauthenticated:
      return 401;
    case core::ErrorCode::kPermissionDenied:
      return 403;
    case core::ErrorCode::kResourceExhausted:
      return 429;
    case core::ErrorCode::kUnavailable:
      return 503;
    case core::ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

std::string_view ReasonPhrase(int status) {
  auto reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  return std::string_view(reason.data(), reason.size());
}

Response Problem(int status, std::string_view detail, const std::vector<core::FieldError>& fields) {
  boost::json::object body;
  body["type"] = "about:blank";
  body["title"] = ReasonPhrase(status);
  body["status"] = status;
  body["detail"] = detail;
  boost::json::array errors;
  for (const auto& field : fields) {
    errors.push_back(boost::json::object{{"field", field.field}, {"message", field.message}});
  }
  body["errors"] = std::move(errors);
  Response response;
  response.status = status;
  response.Set("Content-Type", "application/problem+json");
  response.body = boost::json::serialize(body);
  return response;
}

Response ErrorResponse(const Request& request, const core::Error& error) {
  int status = StatusFor(error.code);
  if (!error.log_detail.empty()) {
    spdlog::log(status >= 500 ? spdlog::level::err : spdlog::level::info,
                "request_id={} error={} detail={}", request.request_id,
                core::ErrorCodeName(error.code), error.log_detail);
  }
  std::string_view detail = error.public_message;
  if (detail.empty()) detail = ReasonPhrase(status);
  Response response = Problem(status, detail, error.fields);
  if (error.code == core::ErrorCode::kResourceExhausted) {
    int seconds = error.retry_after_seconds > 0 ? error.retry_after_seconds : 1;
    response.Set("Retry-After", std::to_string(seconds));
  } else if (error.code == core::ErrorCode::kUnavailable) {
    response.Set("Retry-After", std::to_string(kUnavailableRetryAfterSeconds));
  }
  return response;
}

}  // namespace tokend::http
