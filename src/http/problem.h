// Errors as HTTP answers: the one mapping from core::ErrorCode to a status code, and RFC 9457
// problem+json bodies. Only Error::public_message and field errors reach clients;
// Error::log_detail goes to the log, tagged with the request id.
#pragma once

#include <string_view>

#include "core/error.h"
#include "http/message.h"

namespace tokend::http {

// The one mapping of error codes to status codes (keep cli/exit_code.cc in step).
int StatusFor(core::ErrorCode code);

// Seconds clients are told to wait after a 503 (the store is down: retrying at once only
// adds load; a few seconds is long enough for a failover or a busy SQLite writer).
inline constexpr int kUnavailableRetryAfterSeconds = 5;

// A problem+json response for `error`; logs log_detail (if any) with the request id.
// Adds Retry-After for kResourceExhausted and kUnavailable.
Response ErrorResponse(const Request& request, const core::Error& error);

// A problem+json response with a status and a client-safe detail.
Response Problem(int status, std::string_view detail,
                 const std::vector<core::FieldError>& fields = {});

// The reason phrase of a status code ("Not Found").
std::string_view ReasonPhrase(int status);

}  // namespace tokend::http
