// Authentication middleware: bearer tokens (RFC 6750) and console session cookies with CSRF
// protection. Handlers call Authenticate first; on failure they return its response as is.
//
// Bearer failures follow RFC 6750: no credentials → 401 `WWW-Authenticate: Bearer
// realm="tokend"`; a bad token → 401 with error="invalid_token" and ONE body for malformed,
// unknown, expired and revoked tokens (nothing tells them apart). Cookie requests that change
// state (POST, PUT, PATCH, DELETE) must echo the session's CSRF token in X-CSRF-Token, and an
// Origin header, when present, must name the Host; else 403.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "core/model.h"
#include "http/env.h"
#include "http/message.h"
#include "service/verification_cache.h"

namespace tokend::http {

struct Caller {
  core::Principal principal;
  bool via_session = false;
};

enum class Credentials {
  kBearer,           // services and the mobile app
  kBearerOrSession,  // the JSON API: also the console's cookie
};

struct BearerToken {
  enum class Kind {
    kAbsent,     // no Authorization header
    kOther,      // another scheme (Basic, ...): treated as no bearer credentials
    kMalformed,  // "Bearer" without a single token after it
    kPresent,
    kDuplicate,  // more than one Authorization header: 400
  };
  Kind kind = Kind::kAbsent;
  std::string_view token;  // kPresent: a view into the request's header
};
// Case-insensitive scheme; spaces and tabs around the token are ignored.
BearerToken ParseBearer(const Request& request);

// The value of cookie `name` in the request's Cookie header(s).
std::optional<std::string_view> FindCookie(const Request& request, std::string_view name);

// Whether `origin` ("https://host:port") names the same host and port as `host`.
bool OriginMatchesHost(std::string_view origin, std::string_view host);

tl::expected<Caller, Response> Authenticate(const Env& env, const Request& request,
                                            Credentials credentials);

// Verifies a presented token string alone (no CSRF, no session), counting the outcome in
// /metrics; kUnauthenticated for any bad token.
core::Result<core::Principal> VerifyBearer(const Env& env, const Request& request,
                                           std::string_view token);

// VerifyBearer without building a Principal: on a verification-cache hit nothing is allocated
// (`out` holds views into itself). For the hot paths that only read ids: /auth/verify and
// introspection. `out` is set only when the result is a value.
core::Result<void> VerifyBearerInto(const Env& env, const Request& request, std::string_view token,
                                    service::VerifiedToken& out);

// The 401 answers. `invalid_token` adds error="invalid_token".
Response Unauthorized(bool invalid_token);
// The 403 for a verified bearer token lacking a permission (error="insufficient_scope").
Response InsufficientScope(std::string_view permission);
// Whether a state-changing method (needs CSRF protection when sent with a cookie).
bool ChangesState(std::string_view method);

}  // namespace tokend::http
