#include "http/auth.h"

#include "core/crypto.h"
#include "http/problem.h"

namespace tokend::http {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// "host:80" for http and "host:443" for https name the same origin as "host".
// The port is cut from the view before copying: shrinking the copy trips g++ 12's -Wrestrict
// false positive at -O3 (Release).
std::string NormalizeAuthority(std::string_view authority, std::string_view scheme) {
  std::string_view default_port = scheme == "https" ? ":443" : ":80";
  if (authority.size() > default_port.size() &&
      EqualsIgnoreCase(authority.substr(authority.size() - default_port.size()), default_port)) {
    authority.remove_suffix(default_port.size());
  }
  return LowerCopy(authority);
}

}  // namespace

BearerToken ParseBearer(const Request& request) {
  BearerToken result;
  int count = request.HeaderCount("authorization");
  if (count == 0) return result;
  if (count > 1) {
    result.kind = BearerToken::Kind::kDuplicate;
    return result;
  }
  std::string_view value = Trim(request.Header("authorization"));
  constexpr std::string_view kScheme = "bearer";
  if (value.size() < kScheme.size() ||
      !EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    result.kind = BearerToken::Kind::kOther;
    return result;
  }
  std::string_view rest = value.substr(kScheme.size());
  if (!rest.empty() && !IsSpace(rest.front())) {  // "Bearerxyz": another scheme
    result.kind = BearerToken::Kind::kOther;
    return result;
  }
  rest = Trim(rest);
  if (rest.empty()) {
    result.kind = BearerToken::Kind::kMalformed;
    return result;
  }
  for (char c : rest) {
    if (IsSpace(c)) {
      result.kind = BearerToken::Kind::kMalformed;
      return result;
    }
  }
  result.kind = BearerToken::Kind::kPresent;
  result.token = rest;
  return result;
}

std::optional<std::string_view> FindCookie(const Request& request, std::string_view name) {
  for (const auto& [key, header] : request.headers) {
    if (key != "cookie") continue;
    std::string_view rest = header;
    while (!rest.empty()) {
      auto semicolon = rest.find(';');
      std::string_view pair = Trim(rest.substr(0, semicolon));
      rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
      auto equals = pair.find('=');
      if (equals == std::string_view::npos) continue;
      if (Trim(pair.substr(0, equals)) == name) {
        std::string_view value = Trim(pair.substr(equals + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        return value;
      }
    }
  }
  return std::nullopt;
}

bool OriginMatchesHost(std::string_view origin, std::string_view host) {
  auto scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos || host.empty()) return false;
  std::string scheme = LowerCopy(origin.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return false;
  std::string_view authority = origin.substr(scheme_end + 3);
  if (authority.empty() || authority.find('/') != std::string_view::npos) return false;
  return NormalizeAuthority(authority, scheme) == NormalizeAuthority(Trim(host), scheme);
}

bool ChangesState(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

Response Unauthorized(bool invalid_token) {
  // One body for every bad token: malformed, unknown, expired and revoked look the same.
  Response response =
      Problem(401, invalid_token ? "The access token is invalid." : "Authentication is required.");
  response.Set("WWW-Authenticate", invalid_token ? R"(Bearer realm="tokend", error="invalid_token")"
                                                 : R"(Bearer realm="tokend")");
  return response;
}

Response InsufficientScope(std::string_view permission) {
  Response response = Problem(403, "The token lacks a permission this request needs.");
  std::string challenge = R"(Bearer realm="tokend", error="insufficient_scope")";
  if (!permission.empty()) {
    challenge += ", scope=\"";
    challenge += permission;
    challenge += '"';
  }
  response.Set("WWW-Authenticate", challenge);
  return response;
}

core::Result<core::Principal> VerifyBearer(const Env& env, const Request& request,
                                           std::string_view token) {
  auto principal = env.services().tokens.Verify(token, env.Context(request));
  if (principal) {
    env.metrics().RecordVerification(VerificationOutcome::kValid);
  } else if (principal.error().code == core::ErrorCode::kUnauthenticated) {
    env.metrics().RecordVerification(VerificationOutcome::kInvalid);
  } else {
    env.metrics().RecordVerification(VerificationOutcome::kUnavailable);
  }
  return principal;
}

core::Result<void> VerifyBearerInto(const Env& env, const Request& request, std::string_view token,
                                    service::VerifiedToken& out) {
  auto ok = env.services().tokens.VerifyInto(token, env.Context(request), out);
  if (ok) {
    env.metrics().RecordVerification(VerificationOutcome::kValid);
  } else if (ok.error().code == core::ErrorCode::kUnauthenticated) {
    env.metrics().RecordVerification(VerificationOutcome::kInvalid);
  } else {
    env.metrics().RecordVerification(VerificationOutcome::kUnavailable);
  }
  return ok;
}

tl::expected<Caller, Response> Authenticate(const Env& env, const Request& request,
                                            Credentials credentials) {
  BearerToken bearer = ParseBearer(request);
  switch (bearer.kind) {
    case BearerToken::Kind::kDuplicate:
      return tl::unexpected(Problem(400, "Only one Authorization header is allowed."));
    case BearerToken::Kind::kMalformed:
      env.metrics().RecordVerification(VerificationOutcome::kInvalid);
      return tl::unexpected(Unauthorized(true));
    case BearerToken::Kind::kPresent: {
      auto principal = VerifyBearer(env, request, bearer.token);
      if (!principal) {
        if (principal.error().code == core::ErrorCode::kUnauthenticated) {
          return tl::unexpected(Unauthorized(true));
        }
        return tl::unexpected(ErrorResponse(request, principal.error()));
      }
      return Caller{std::move(*principal), false};
    }
    case BearerToken::Kind::kOther:
    case BearerToken::Kind::kAbsent:
      break;
  }
  if (credentials == Credentials::kBearerOrSession && bearer.kind == BearerToken::Kind::kAbsent) {
    auto cookie = FindCookie(request, env.SessionCookieName());
    if (cookie && !cookie->empty()) {
      auto session = env.services().auth.Authenticate(std::string(*cookie));
      if (!session) {
        if (session.error().code == core::ErrorCode::kUnauthenticated) {
          Response response = Problem(401, "The session has ended; sign in again.");
          response.Set("WWW-Authenticate", R"(Bearer realm="tokend")");
          return tl::unexpected(std::move(response));
        }
        return tl::unexpected(ErrorResponse(request, session.error()));
      }
      if (ChangesState(request.method)) {
        std::string_view origin = request.Header("origin");
        if (request.HeaderCount("origin") > 0 &&
            !OriginMatchesHost(origin, request.Header("host"))) {
          return tl::unexpected(Problem(403, "The request's Origin does not match this site."));
        }
        std::string_view csrf = request.Header("x-csrf-token");
        if (request.HeaderCount("x-csrf-token") != 1 || csrf.empty() ||
            !core::ConstantTimeEquals(csrf, session->csrf_token)) {
          return tl::unexpected(Problem(403, "A valid X-CSRF-Token header is required."));
        }
      }
      return Caller{std::move(session->principal), true};
    }
  }
  return tl::unexpected(Unauthorized(false));
}

}  // namespace tokend::http
