// Result and Error: the one error type every layer returns.
//
// Codes know nothing of HTTP or exit codes; `http/status.cc` and `cli/exit_code.cc` map them
// in one place each. `public_message` may be shown to clients; `log_detail` is for logs only
// and may hold internal text (SQL errors, paths), but never a secret.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace tokend::core {

// Persisted nowhere, but mapped in http/ and cli/: keep the mappings in step.
enum class ErrorCode {
  kInvalidArgument,     // malformed input (400)
  kValidation,          // well-formed but invalid: field-level errors (422)
  kNotFound,            // unknown id, or out of the caller's scope (404)
  kAlreadyExists,       // conflict, e.g. duplicate username (409)
  kFailedPrecondition,  // state forbids the action, e.g. department still has children (409)
  kUnauthenticated,     // missing, invalid, expired or revoked credentials (401)
  kPermissionDenied,    // authenticated but not allowed (403)
  kResourceExhausted,   // throttled (429)
  kUnavailable,         // store unreachable (503)
  kInternal,            // a bug (500)
};

struct FieldError {
  std::string field;    // JSON pointer-ish field name, e.g. "expires_at" or "memberships[0]"
  std::string message;  // human-readable reason, safe for clients
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string public_message;
  std::string log_detail;
  std::vector<FieldError> fields;
  // For kResourceExhausted: seconds until a retry may succeed (0 = unknown).
  int retry_after_seconds = 0;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Factories. The message is safe to show to a client.
Error InvalidArgument(std::string message, std::vector<FieldError> fields = {});
Error ValidationFailed(std::string message, std::vector<FieldError> fields);
Error FieldInvalid(std::string field, std::string message);  // kValidation with one field
Error NotFound(std::string message);
Error AlreadyExists(std::string message, std::vector<FieldError> fields = {});
Error FailedPrecondition(std::string message);
Error Unauthenticated(std::string message);
Error PermissionDenied(std::string message);
Error ResourceExhausted(std::string message, int retry_after_seconds);
Error Unavailable(std::string log_detail);
Error Internal(std::string log_detail);

// Convenience for Result<void>.
inline tl::expected<void, Error> Ok() { return {}; }

std::string_view ErrorCodeName(ErrorCode code);

}  // namespace tokend::core
