// /api/v1/tokens: list, create, read, delete (one or many), reveal.
#include <boost/json.hpp>

#include "core/ids.h"
#include "core/rules.h"
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

// A search string longer than any name, username or email it could match is a mistake.
constexpr std::size_t kMaxSearchLength = 200;

struct SortOption {
  std::string_view name;
  store::TokenSort sort;
};
constexpr SortOption kSorts[] = {
    {"created_at", store::TokenSort::kCreatedAt}, {"name", store::TokenSort::kName},
    {"expires_at", store::TokenSort::kExpiresAt}, {"last_used_at", store::TokenSort::kLastUsedAt},
    {"user", store::TokenSort::kUsername},        {"department", store::TokenSort::kDepartment},
    {"user_type", store::TokenSort::kUserType},
};
constexpr std::string_view kDefaultSort = "-created_at";

core::Error BadParam(std::string field, std::string message) {
  std::string detail = "Invalid query parameter " + field + ": " + message + ".";
  return core::InvalidArgument(std::move(detail), {{std::move(field), std::move(message)}});
}

// Whether the caller may reveal API tokens of its tenant now (the tenant setting can change
// after a sealed copy was kept).
bool CallerMayReveal(const Env& env, const core::Principal& caller) {
  if (!caller.permissions.Has(core::Permission::kTokensReveal)) return false;
  auto tenant = env.services().store.GetTenant(caller.tenant_id);
  return tenant && tenant->settings.api_token_reveal;
}

json::object TokenJson(const Env& env, const Request& request, const store::TokenRow& row,
                       core::TokenState state, bool revealable,
                       const std::string* secret = nullptr) {
  if (row.token.kind == core::TokenKind::kMobile) return MobileTokenJson(row, state, secret);
  return ApiTokenJson(row, state, revealable, env.BaseUrl(request), secret);
}

core::Result<store::TokenQuery> ParseTokenQuery(const Request& request, std::string* sort_text) {
  if (auto ok = CheckQueryParams(request, {"kind", "q", "user_id", "department_id", "user_type_id",
                                           "status", "sort", "limit", "cursor"});
      !ok) {
    return tl::unexpected(ok.error());
  }
  store::TokenQuery query;
  std::string_view kind = request.Query("kind").value_or("api");
  auto parsed_kind = core::ParseTokenKind(kind);
  if (!parsed_kind) return tl::unexpected(BadParam("kind", "must be api or mobile"));
  query.kind = *parsed_kind;

  query.q = std::string(request.Query("q").value_or(""));
  if (query.q.size() > kMaxSearchLength) {
    return tl::unexpected(BadParam("q", "must be at most 200 characters"));
  }
  for (auto [name, target] :
       {std::pair{"user_id", &query.user_id}, std::pair{"department_id", &query.department_id},
        std::pair{"user_type_id", &query.user_type_id}}) {
    if (auto value = request.Query(name)) {
      if (!core::LooksLikeId(*value)) return tl::unexpected(BadParam(name, "is not an id"));
      *target = std::string(*value);
    }
  }
  if (auto status = request.Query("status")) {
    if (*status == "active") {
      query.status = store::TokenStatusFilter::kActive;
    } else if (*status == "expired") {
      query.status = store::TokenStatusFilter::kExpired;
    } else {
      return tl::unexpected(BadParam("status", "must be active or expired"));
    }
  }

  std::string_view sort = request.Query("sort").value_or(kDefaultSort);
  *sort_text = std::string(sort);
  query.descending = sort.starts_with('-');
  std::string_view sort_name = query.descending ? sort.substr(1) : sort;
  bool known = false;
  for (const SortOption& option : kSorts) {
    if (option.name == sort_name) {
      query.sort = option.sort;
      known = true;
    }
  }
  if (!known) return tl::unexpected(BadParam("sort", "is not a sortable field"));

  auto limit = ParseLimit(request);
  if (!limit) return tl::unexpected(limit.error());
  query.limit = *limit;

  if (auto text = request.Query("cursor")) {
    auto cursor = DecodeTokenCursor(*text, core::TokenKindName(query.kind), sort);
    if (!cursor) return tl::unexpected(cursor.error());
    query.after_key = std::move(cursor->key);
    query.after_id = std::move(cursor->id);
  }
  return query;
}

Response ListTokens(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  std::string sort;
  auto query = ParseTokenQuery(request, &sort);
  if (!query) return ErrorResponse(request, query.error());
  core::Time now = env.services().clock.Now();
  query->now = now;
  core::TokenKind kind = query->kind;
  auto page = env.services().tokens.List(caller->principal, *query);
  if (!page) return ErrorResponse(request, page.error());

  bool may_reveal = kind == core::TokenKind::kApi && CallerMayReveal(env, caller->principal);
  json::array items;
  for (const store::TokenRow& row : page->rows) {
    bool revealable = may_reveal && row.token.sealed_secret.has_value();
    items.push_back(TokenJson(env, request, row, core::StateAt(row.token, now), revealable));
  }
  std::optional<std::string> next;
  if (page->has_more && !page->rows.empty()) {
    const store::TokenRow& last = page->rows.back();
    next = EncodeTokenCursor(
        {std::string(core::TokenKindName(kind)), sort, last.token.id, last.sort_key});
  }
  return JsonResponse(200, ListJson(std::move(items), next));
}

Response CreateToken(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  std::optional<Response> error;
  auto body = ReadJsonBody(request, error);
  if (!body) return std::move(*error);
  ObjectReader reader(
      *body, {"name", "description", "expires_at", "user_id", "department_id", "user_type_id"});
  service::CreateApiTokenInput input;
  input.name = reader.String("name").value_or("");
  input.description = reader.String("description", true).value_or("");
  input.expires_at = reader.String("expires_at").value_or("");
  input.user_id = reader.String("user_id").value_or("");
  input.department_id = reader.String("department_id").value_or("");
  input.user_type_id = reader.String("user_type_id").value_or("");
  if (auto ok = reader.Finish(); !ok) return ErrorResponse(request, ok.error());
  // Required fields (expiry included, DESIGN.md §1 rule 3) are checked by the service, after
  // it has checked the caller's permission: a caller without tokens:write learns nothing more.
  auto created =
      env.services().tokens.CreateApiToken(caller->principal, input, env.Context(request));
  if (!created) return ErrorResponse(request, created.error());
  bool revealable = created->row.token.sealed_secret.has_value() &&
                    caller->principal.permissions.Has(core::Permission::kTokensReveal);
  return Created("/api/v1/tokens/" + created->row.token.id,
                 ApiTokenJson(created->row, core::TokenState::kActive, revealable,
                              env.BaseUrl(request), &created->secret));
}

Response GetToken(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  auto view = env.services().tokens.Get(caller->principal, std::string(request.PathParam("id")));
  if (!view) return ErrorResponse(request, view.error());
  return JsonResponse(200, TokenJson(env, request, view->row, view->state, view->revealable));
}

Response DeleteToken(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  auto done = env.services().tokens.Revoke(caller->principal, std::string(request.PathParam("id")),
                                           env.Context(request));
  if (!done) return ErrorResponse(request, done.error());
  return NoContent();
}

Response DeleteTokens(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  std::optional<Response> error;
  auto body = ReadJsonBody(request, error);
  if (!body) return std::move(*error);
  ObjectReader reader(*body, {"ids"});
  auto ids = reader.StringArray("ids");
  if (auto ok = reader.Finish(); !ok) return ErrorResponse(request, ok.error());
  if (auto ok = RequireFields(reader, {"ids"}); !ok) return ErrorResponse(request, ok.error());
  auto result = env.services().tokens.RevokeMany(caller->principal, *ids, env.Context(request));
  if (!result) return ErrorResponse(request, result.error());
  json::array deleted(result->deleted.begin(), result->deleted.end());
  json::array not_found(result->not_found.begin(), result->not_found.end());
  return JsonResponse(
      200, json::object{{"deleted", std::move(deleted)}, {"not_found", std::move(not_found)}});
}

Response RevealToken(const Env& env, Request& request) {
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession);
  if (!caller) return std::move(caller.error());
  if (auto ok = NoQueryParams(request); !ok) return ErrorResponse(request, ok.error());
  auto secret = env.services().tokens.Reveal(
      caller->principal, std::string(request.PathParam("id")), env.Context(request));
  if (!secret) return ErrorResponse(request, secret.error());
  Response response = JsonResponse(200, json::object{{"token", *secret}});
  response.Set("Cache-Control", "no-store");
  return response;
}

}  // namespace

void AddTokenRoutes(Router& router) {
  router.Add("GET", "/api/v1/tokens", ListTokens);
  router.Add("POST", "/api/v1/tokens", CreateToken);
  router.Add("POST", "/api/v1/tokens/delete", DeleteTokens);
  router.Add("GET", "/api/v1/tokens/{id}", GetToken);
  router.Add("DELETE", "/api/v1/tokens/{id}", DeleteToken);
  router.Add("POST", "/api/v1/tokens/{id}/reveal", RevealToken);
}

}  // namespace tokend::http
