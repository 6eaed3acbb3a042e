#include "core/error.h"

namespace tokend::core {

Error InvalidArgument(std::string message, std::vector<FieldError> fields) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), {}, std::move(fields)};
}
Error ValidationFailed(std::string message, std::vector<FieldError> fields) {
  return Error{ErrorCode::kValidation, std::move(message), {}, std::move(fields)};
}
Error FieldInvalid(std::string field, std::string message) {
  std::vector<FieldError> fields;
  fields.push_back(FieldError{std::move(field), message});
  return Error{ErrorCode::kValidation, std::move(message), {}, std::move(fields)};
}
Error NotFound(std::string message) {
  return Error{ErrorCode::kNotFound, std::move(message), {}, {}};
}
Error AlreadyExists(std::string message, std::vector<FieldError> fields) {
  return Error{ErrorCode::kAlreadyExists, std::move(message), {}, std::move(fields)};
}
Error FailedPrecondition(std::string message) {
  return Error{ErrorCode::kFailedPrecondition, std::move(message), {}, {}};
}
Error Unauthenticated(std::string message) {
  return Error{ErrorCode::kUnauthenticated, std::move(message), {}, {}};
}
Error PermissionDenied(std::string message) {
  return Error{ErrorCode::kPermissionDenied, std::move(message), {}, {}};
}
Error ResourceExhausted(std::string message, int retry_after_seconds) {
  Error error{ErrorCode::kResourceExhausted, std::move(message), {}, {}};
  error.retry_after_seconds = retry_after_seconds;
  return error;
}
Error Unavailable(std::string log_detail) {
  return Error{ErrorCode::kUnavailable,
               "The token store is unavailable; try again shortly.",
               std::move(log_detail),
               {}};
}
Error Internal(std::string log_detail) {
  return Error{ErrorCode::kInternal, "Internal error.", std::move(log_detail), {}};
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kValidation:
      return "validation";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace tokend::core
