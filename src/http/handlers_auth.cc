// Console sign-in (session cookie + CSRF token) and mobile sign-in (mobile tokens).
#include <boost/json.hpp>

#include "http/auth.h"
#include "http/handler_util.h"
#include "http/handlers.h"
#include "http/json_body.h"
#include "http/json_mapping.h"
#include "http/problem.h"

namespace tokend::http {

namespace {

namespace json = boost::json;

// The tenant name used when a sign-in request names none (single-tenant installations).
constexpr std::string_view kDefaultTenant = "default";

// Login forms are a classic CSRF target too (signing a victim into the attacker's account):
// a cross-site Origin is refused even before there is a session.
std::optional<Response> CheckOrigin(const Request& request) {
  if (request.HeaderCount("origin") > 0 &&
      !OriginMatchesHost(request.Header("origin"), request.Header("host"))) {
    return Problem(403, "The request's Origin does not match this site.");
  }
  return std::nullopt;
}

std::string SessionCookie(const Env& env, std::string_view value, bool expire) {
  std::string cookie(env.SessionCookieName());
  cookie += '=';
  cookie += value;
  // No Max-Age on a live session: the browser drops it on exit and the server enforces the
  // tenant's idle and absolute timeouts either way.
  cookie += "; Path=/; HttpOnly; SameSite=Strict";
  if (env.options().secure_cookies) cookie += "; Secure";
  if (expire) cookie += "; Max-Age=0";
  return cookie;
}

// Reads the sign-in fields shared by console and mobile login.
struct LoginBody {
  service::LoginInput login;
  std::string device_name;
};

tl::expected<LoginBody, Response> ReadLogin(const Request& request, bool mobile) {
  std::optional<Response> error;
  auto body = ReadJsonBody(request, error);
  if (!body) return tl::unexpected(std::move(*error));
  std::initializer_list<std::string_view> console_fields = {"tenant", "username", "password"};
  std::initializer_list<std::string_view> mobile_fields = {"tenant", "username", "password",
                                                           "device_name", "department_id"};
  ObjectReader reader(*body, mobile ? mobile_fields : console_fields);
  LoginBody out;
  out.login.tenant = reader.String("tenant", true).value_or(std::string(kDefaultTenant));
  out.login.username = reader.String("username").value_or("");
  out.login.password = reader.String("password").value_or("");
  if (mobile) {
    out.device_name = reader.String("device_name", true).value_or("");
    out.login.department_id = reader.String("department_id", true);
  }
  if (auto ok = reader.Finish(); !ok) return tl::unexpected(ErrorResponse(request, ok.error()));
  auto required = mobile ? RequireFields(reader, {"username", "password", "device_name"})
                         : RequireFields(reader, {"username", "password"});
  if (!required) return tl::unexpected(ErrorResponse(request, required.error()));
  return out;
}

Response SignInFailure(const Request& request, const core::Error& error) {
  Response response = ErrorResponse(request, error);
  if (response.status == 401) response.Set("WWW-Authenticate", R"(Bearer realm="tokend")");
  return response;
}

Response Login(const Env& env, Request& request) {
  if (auto refused = CheckOrigin(request)) return std::move(*refused);
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  auto body = ReadLogin(request, false);
  if (!body) return std::move(body.error());
  auto session = env.services().auth.Login(body->login, env.Context(request));
  if (!session) return SignInFailure(request, session.error());
  Response response = JsonResponse(
      200, json::object{{"csrf_token", session->csrf_token}, {"user", UserJson(session->user)}});
  response.Add("Set-Cookie", SessionCookie(env, session->session_id, false));
  return response;
}

// Idempotent: without a live session it only clears the cookie.
Response Logout(const Env& env, Request& request) {
  auto cookie = FindCookie(request, env.SessionCookieName());
  if (cookie && !cookie->empty()) {
    std::string session_id(*cookie);
    auto session = env.services().auth.Authenticate(session_id);
    if (session) {
      // A live session: the same CSRF rules as every other state-changing cookie request.
      auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
      if (!caller) return std::move(caller.error());
      auto done = env.services().auth.Logout(session_id, env.Context(request));
      if (!done) return ErrorResponse(request, done.error());
    }
  }
  Response response = NoContent();
  response.Add("Set-Cookie", SessionCookie(env, "", true));
  return response;
}

Response MobileLogin(const Env& env, Request& request) {
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  auto body = ReadLogin(request, true);
  if (!body) return std::move(body.error());
  service::MobileLoginInput input{std::move(body->login), std::move(body->device_name)};
  auto created = env.services().auth.MobileLogin(input, env.Context(request));
  if (!created) return SignInFailure(request, created.error());
  return Created("/api/v1/tokens/" + created->row.token.id,
                 MobileTokenJson(created->row, core::TokenState::kActive, &created->secret));
}

Response MobileLogout(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearer);
  if (!caller) return std::move(caller.error());
  auto done = env.services().auth.MobileLogout(caller->principal, env.Context(request));
  if (!done) return ErrorResponse(request, done.error());
  return NoContent();
}

}  // namespace

void AddAuthRoutes(Router& router) {
  router.Add("POST", "/api/v1/auth/login", Login);
  router.Add("POST", "/api/v1/auth/logout", Logout);
  router.Add("POST", "/api/v1/mobile/login", MobileLogin);
  router.Add("POST", "/api/v1/mobile/logout", MobileLogout);
}

}  // namespace tokend::http
