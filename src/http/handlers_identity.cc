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

// The caller's user, department and user type as JSON fragments, from the display cache or
// the store.
core::Result<DisplayFragments> LoadDisplayFragments(const Env& env, const core::Principal& p) {
  std::string key;
  key.reserve(p.tenant_id.size() + p.user_id.size() + p.department_id.size() +
              p.user_type_id.size() + 3);
  for (const std::string* part : {&p.tenant_id, &p.user_id, &p.department_id, &p.user_type_id}) {
    key += *part;
    key += '\n';  // ids never contain a line break
  }
  if (auto cached = env.display_cache().Get(key)) return std::move(*cached);

  // The caller's own records: no permission is needed to see oneself.
  store::Store& store = env.services().store;
  auto user = store.GetUser(p.tenant_id, p.user_id);
  if (!user) return tl::unexpected(user.error());
  auto departments = store.ListDepartments(p.tenant_id);
  if (!departments) return tl::unexpected(departments.error());
  auto user_type = store.GetUserType(p.tenant_id, p.user_type_id);
  if (!user_type) return tl::unexpected(user_type.error());
  json::value department = nullptr;
  for (const core::Department& d : *departments) {
    if (d.id == p.department_id) department = json::object{{"id", d.id}, {"name", d.name}};
  }
  DisplayFragments fragments{
      json::serialize(json::object{{"id", user->id},
                                   {"username", user->username},
                                   {"email", user->email},
                                   {"display_name", user->display_name}}),
      json::serialize(department),
      json::serialize(json::object{{"id", user_type->id}, {"name", user_type->name}})};
  env.display_cache().Put(key, fragments);
  return fragments;
}

// Appends `text` as a JSON string (quotes and escapes included).
void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  // Characters that need no escape are appended a run at a time, not one by one.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.substr(run, i - run));
    run = i + 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      constexpr std::string_view kHex = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    }
  }
  out.append(text.substr(run));
  out += '"';
}

Response Me(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  const core::Principal& p = caller->principal;
  auto fragments = LoadDisplayFragments(env, p);
  if (!fragments) return ErrorResponse(request, fragments.error());
  // The same document as a json::object would give, written directly as Introspect's is
  // (building and serialising the objects cost ~1 µs a call), with the cached parts pasted in.
  Response response;
  response.Set("Content-Type", "application/json");
  std::string& out = response.body;
  out.reserve(768);
  out += R"({"tenant_id":)";
  AppendJsonString(out, p.tenant_id);
  out += R"(,"user":)";
  out += fragments->user;
  out += R"(,"department":)";
  out += fragments->department;
  out += R"(,"user_type":)";
  out += fragments->user_type;
  out += R"(,"permissions":[)";
  bool first = true;
  for (core::Permission permission : core::AllPermissions()) {
    if (!p.permissions.Has(permission)) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, core::PermissionName(permission));
  }
  out += R"(],"token":)";
  if (p.token) {
    out += R"({"id":)";
    AppendJsonString(out, p.token->id);
    out += R"(,"kind":)";
    AppendJsonString(out, core::TokenKindName(p.token->kind));
    out += R"(,"expires_at":)";
    AppendJsonString(out, core::FormatRfc3339(p.token->expires_at));
    out += '}';
  } else {
    out += "null";
  }
  out += '}';
  return response;
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

Response InactiveToken() {
  Response response;
  response.Set("Content-Type", "application/json");
  response.body = R"({"active":false})";
  return response;
}

Response Introspect(const Env& env, Request& request) {
  // The caller: a bearer token with the introspect permission. Checked through the
  // allocation-free path like the presented token; only the permission and tenant are needed.
  BearerToken bearer = ParseBearer(request);
  service::VerifiedToken caller;
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
      if (auto ok = VerifyBearerInto(env, request, bearer.token, caller); !ok) {
        if (ok.error().code == core::ErrorCode::kUnauthenticated) return Unauthorized(true);
        return ErrorResponse(request, ok.error());
      }
      break;
  }
  if (!caller.permissions.Has(core::Permission::kIntrospect)) {
    env.metrics().RecordVerification(VerificationOutcome::kInsufficientScope);
    return InsufficientScope("introspect");
  }
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  auto presented = ReadIntrospectedToken(request);
  if (!presented) return std::move(presented.error());

  service::VerifiedToken token;
  if (auto ok = VerifyBearerInto(env, request, *presented, token); !ok) {
    if (ok.error().code != core::ErrorCode::kUnauthenticated) {
      return ErrorResponse(request, ok.error());  // fail closed: 503, never "active"
    }
    return InactiveToken();
  }
  // Another tenant's token is none of this caller's business: it is inactive to them.
  if (token.tenant_id != caller.tenant_id) return InactiveToken();
  // Written directly rather than through Boost.JSON: building and serialising the object cost
  // more than the whole cached verification (docs/performance.md). Field order and types are
  // those of RFC 7662 plus DESIGN.md's extensions.
  Response response;
  response.Set("Content-Type", "application/json");
  std::string& out = response.body;
  out.reserve(512);
  out += R"({"active":true,"token_type":"Bearer","sub":)";
  AppendJsonString(out, token.user_id);
  out += R"(,"username":)";
  AppendJsonString(out, token.username);
  out += R"(,"exp":)";
  out += std::to_string(core::ToUnixSeconds(token.expires_at));
  out += R"(,"iat":)";
  out += std::to_string(core::ToUnixSeconds(token.issued_at));
  out += R"(,"scope":)";
  AppendJsonString(out, token.permissions.ToScopeString());
  out += R"(,"tenant_id":)";
  AppendJsonString(out, token.tenant_id);
  out += R"(,"department_id":)";
  AppendJsonString(out, token.department_id);
  out += R"(,"user_type_id":)";
  AppendJsonString(out, token.user_type_id);
  out += '}';
  return response;
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
  service::VerifiedToken p;
  if (auto ok = VerifyBearerInto(env, request, bearer.token, p); !ok) {
    if (ok.error().code == core::ErrorCode::kUnauthenticated) return Unauthorized(true);
    return ErrorResponse(request, ok.error());
  }
  if (required && !p.permissions.Has(*required)) {
    env.metrics().RecordVerification(VerificationOutcome::kInsufficientScope);
    return InsufficientScope(core::PermissionName(*required));
  }
  Response response;
  response.status = 204;
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
  // A verification like /auth/verify, POSTed only to keep the token out of the URL: it reads
  // (a cache hit, usually) and records activity in memory, so it never blocks for long.
  router.Add("POST", "/oauth2/introspect", Introspect, Execution::kInline);
  router.Add("GET", "/auth/verify", Verify);
  router.Add("GET", "/api/v1/audit-events", AuditEvents);
}

}  // namespace tokend::http
