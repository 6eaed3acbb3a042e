// Who is calling (/api/v1/me), token checks for other services (/oauth2/introspect,
// /auth/verify) and the audit trail (/api/v1/audit-events).
#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>

#include "core/permission.h"
#include "core/time_format.h"
#include "http/auth.h"
#include "http/cursor.h"
#include "http/handler_util.h"
#include "http/handlers.h"
#include "http/json_body.h"
#include "http/json_mapping.h"
#include "http/problem.h"

namespace tokend::http {

namespace {

namespace json = boost::json;

Response Me(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  const core::Principal& p = caller->principal;
  store::Store& store = env.services().store;

  // The caller's own records: no permission is needed to see oneself.
  auto user = store.GetUser(p.tenant_id, p.user_id);
  if (!user) return ErrorResponse(request, user.error());
  auto departments = store.ListDepartments(p.tenant_id);
  if (!departments) return ErrorResponse(request, departments.error());
  auto user_type = store.GetUserType(p.tenant_id, p.user_type_id);
  if (!user_type) return ErrorResponse(request, user_type.error());
  json::value department = nullptr;
  for (const core::Department& d : *departments) {
    if (d.id == p.department_id) department = json::object{{"id", d.id}, {"name", d.name}};
  }
  json::value token = nullptr;
  if (p.token) {
    token = json::object{{"id", p.token->id},
                         {"kind", core::TokenKindName(p.token->kind)},
                         {"expires_at", TimeJson(p.token->expires_at)}};
  }
  return JsonResponse(
      200,
      json::object{{"tenant_id", p.tenant_id},
                   {"user", json::object{{"id", user->id},
                                         {"username", user->username},
                                         {"email", user->email},
                                         {"display_name", user->display_name}}},
                   {"department", std::move(department)},
                   {"user_type", json::object{{"id", user_type->id}, {"name", user_type->name}}},
                   {"permissions", PermissionsJson(p.permissions)},
                   {"token", std::move(token)}});
}

bool IsFormContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return EqualsIgnoreCase(media, "application/x-www-form-urlencoded");
}

// The `token` parameter of an introspection request: form-encoded (RFC 7662) or JSON.
tl::expected<std::string, Response> ReadIntrospectedToken(const Request& request) {
  std::string_view content_type = request.Header("content-type");
  if (IsFormContentType(content_type)) {
    auto params = boost::urls::parse_query(request.body);
    if (!params) return tl::unexpected(Problem(400, "The form body is malformed."));
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    std::optional<std::string> token;
    for (auto param : *params) {
      if (param.key.decode(opts) != "token") continue;
      if (token) {
        return tl::unexpected(Problem(400, "The token parameter is given twice.",
                                      {{"token", "given more than once"}}));
      }
      token = param.has_value ? param.value.decode(opts) : std::string();
    }
    if (!token || token->empty()) {
      return tl::unexpected(
          Problem(400, "The token parameter is required.", {{"token", "is required"}}));
    }
    return std::move(*token);
  }
  if (IsJsonContentType(content_type)) {
    auto body = ParseJsonObject(request.body);
    if (!body) return tl::unexpected(ErrorResponse(request, body.error()));
    ObjectReader reader(*body, {"token", "token_type_hint"});
    auto token = reader.String("token");
    reader.String("token_type_hint", true);
    if (auto ok = reader.Finish(); !ok) return tl::unexpected(ErrorResponse(request, ok.error()));
    if (!token || token->empty()) {
      return tl::unexpected(
          Problem(400, "The token field is required.", {{"token", "is required"}}));
    }
    return std::move(*token);
  }
  return tl::unexpected(Problem(
      415, "The request body must be application/x-www-form-urlencoded or application/json."));
}

Response Introspect(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearer);
  if (!caller) return std::move(caller.error());
  if (!caller->principal.permissions.Has(core::Permission::kIntrospect)) {
    env.metrics().RecordVerification(VerificationOutcome::kInsufficientScope);
    return InsufficientScope("introspect");
  }
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  auto presented = ReadIntrospectedToken(request);
  if (!presented) return std::move(presented.error());

  auto principal = VerifyBearer(env, request, *presented);
  if (!principal) {
    if (principal.error().code != core::ErrorCode::kUnauthenticated) {
      return ErrorResponse(request, principal.error());  // fail closed: 503, never "active"
    }
    return JsonResponse(200, json::object{{"active", false}});
  }
  const core::Principal& p = *principal;
  // Another tenant's token is none of this caller's business: it is inactive to them.
  if (p.tenant_id != caller->principal.tenant_id || !p.token) {
    return JsonResponse(200, json::object{{"active", false}});
  }
  return JsonResponse(200, json::object{{"active", true},
                                        {"token_type", "Bearer"},
                                        {"sub", p.user_id},
                                        {"username", p.username},
                                        {"exp", core::ToUnixSeconds(p.token->expires_at)},
                                        {"iat", core::ToUnixSeconds(p.token->issued_at)},
                                        {"scope", p.permissions.ToScopeString()},
                                        {"tenant_id", p.tenant_id},
                                        {"department_id", p.department_id},
                                        {"user_type_id", p.user_type_id}});
}

// The nginx auth_request endpoint: the hot path. Headers only, no JSON on success.
Response Verify(const Env& env, Request& request) {
  std::optional<core::Permission> required;
  for (const auto& [key, value] : request.query) {
    if (key != "permission") {
      return Problem(400, "Unknown query parameter.", {{key.substr(0, 64), "unknown"}});
    }
    required = core::ParsePermission(value);
    if (!required) {
      return Problem(400, "Unknown permission.", {{"permission", "is not a permission"}});
    }
  }
  BearerToken bearer = ParseBearer(request);
  switch (bearer.kind) {
    case BearerToken::Kind::kDuplicate:
      return Problem(400, "Only one Authorization header is allowed.");
    case BearerToken::Kind::kAbsent:
    case BearerToken::Kind::kOther:
      return Unauthorized(false);
    case BearerToken::Kind::kMalformed:
      env.metrics().RecordVerification(VerificationOutcome::kInvalid);
      return Unauthorized(true);
    case BearerToken::Kind::kPresent:
      break;
  }
  auto principal = VerifyBearer(env, request, bearer.token);
  if (!principal) {
    if (principal.error().code == core::ErrorCode::kUnauthenticated) return Unauthorized(true);
    return ErrorResponse(request, principal.error());
  }
  const core::Principal& p = *principal;
  if (required && !p.permissions.Has(*required)) {
    env.metrics().RecordVerification(VerificationOutcome::kInsufficientScope);
    return InsufficientScope(core::PermissionName(*required));
  }
  Response response;
  response.status = 204;
  response.headers.reserve(12);
  response.Add("X-Auth-Tenant-Id", p.tenant_id);
  response.Add("X-Auth-User-Id", p.user_id);
  response.Add("X-Auth-Username", p.username);
  response.Add("X-Auth-Department-Id", p.department_id);
  response.Add("X-Auth-User-Type-Id", p.user_type_id);
  response.Add("X-Auth-Permissions", p.permissions.ToScopeString());
  return response;
}

Response AuditEvents(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = CheckQueryParams(
          request, {"action", "actor", "target", "since", "until", "limit", "cursor"});
      !ok) {
    return ErrorResponse(request, ok.error());
  }
  store::AuditQuery query;
  query.action = std::string(request.Query("action").value_or(""));
  query.actor_user_id = std::string(request.Query("actor").value_or(""));
  query.target_id = std::string(request.Query("target").value_or(""));
  for (auto [name, target] : {std::pair{"since", &query.since}, std::pair{"until", &query.until}}) {
    if (auto text = request.Query(name)) {
      auto time = core::ParseRfc3339(*text);
      if (!time) {
        return ErrorResponse(request,
                             core::InvalidArgument(std::string(name) + " must be an RFC 3339 time.",
                                                   {{name, "must be an RFC 3339 time"}}));
      }
      *target = *time;
    }
  }
  auto limit = ParseLimit(request);
  if (!limit) return ErrorResponse(request, limit.error());
  query.limit = *limit;
  if (auto text = request.Query("cursor")) {
    auto before = DecodeAuditCursor(*text);
    if (!before) return ErrorResponse(request, before.error());
    query.before_id = std::move(*before);
  }
  auto page = env.services().audit.List(caller->principal, query);
  if (!page) return ErrorResponse(request, page.error());
  json::array items;
  for (const core::AuditEvent& event : page->events) items.push_back(AuditEventJson(event));
  std::optional<std::string> next;
  if (page->has_more && !page->events.empty()) next = EncodeAuditCursor(page->events.back().id);
  return JsonResponse(200, ListJson(std::move(items), next));
}

}  // namespace

void AddIdentityRoutes(Router& router) {
  router.Add("GET", "/api/v1/me", Me);
  router.Add("POST", "/oauth2/introspect", Introspect);
  router.Add("GET", "/auth/verify", Verify);
  router.Add("GET", "/api/v1/audit-events", AuditEvents);
}

}  // namespace tokend::http
