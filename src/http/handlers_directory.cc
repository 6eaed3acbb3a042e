// /api/v1/users, /api/v1/departments, /api/v1/user-types: list, create, read, update
// (PATCH, partial), delete. Scope and permissions are the services' business.
#include <boost/json.hpp>

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

// A search string longer than any username, email or display name is a mistake.
constexpr std::size_t kMaxSearchLength = 200;

std::string Id(const Request& request) { return std::string(request.PathParam("id")); }

// Runs the steps every handler here starts with: authenticate, and no query parameters
// unless the route lists them.
#define TOKEND_AUTHENTICATE(caller)                                        \
  auto caller = Authenticate(env, request, Credentials::kBearerOrSession); \
  if (!caller) return std::move(caller.error())

#define TOKEND_RETURN_IF_ERROR(result) \
  if (!(result)) return ErrorResponse(request, (result).error())

// --- Departments ---------------------------------------------------------------------------

tl::expected<service::DepartmentInput, Response> ReadDepartment(const Request& request) {
  std::optional<Response> error;
  auto body = ReadJsonBody(request, error);
  if (!body) return tl::unexpected(std::move(*error));
  ObjectReader reader(*body, {"name", "parent_id"});
  service::DepartmentInput input;
  input.name = reader.String("name");
  input.parent_id = reader.String("parent_id");
  if (auto ok = reader.Finish(); !ok) return tl::unexpected(ErrorResponse(request, ok.error()));
  // Required fields are checked by the service, after the caller's permission.
  return input;
}

Response ListDepartments(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto departments = env.services().directory.ListDepartments(caller->principal);
  TOKEND_RETURN_IF_ERROR(departments);
  json::array items;
  for (const core::Department& d : *departments) items.push_back(DepartmentJson(d));
  return JsonResponse(200, ListJson(std::move(items), std::nullopt));
}

Response CreateDepartment(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto input = ReadDepartment(request);
  if (!input) return std::move(input.error());
  auto created =
      env.services().directory.CreateDepartment(caller->principal, *input, env.Context(request));
  TOKEND_RETURN_IF_ERROR(created);
  return Created("/api/v1/departments/" + created->id, DepartmentJson(*created));
}

Response GetDepartment(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto department = env.services().directory.GetDepartment(caller->principal, Id(request));
  TOKEND_RETURN_IF_ERROR(department);
  return JsonResponse(200, DepartmentJson(*department));
}

Response UpdateDepartment(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto input = ReadDepartment(request);
  if (!input) return std::move(input.error());
  auto updated = env.services().directory.UpdateDepartment(caller->principal, Id(request), *input,
                                                           env.Context(request));
  TOKEND_RETURN_IF_ERROR(updated);
  return JsonResponse(200, DepartmentJson(*updated));
}

Response DeleteDepartment(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto done = env.services().directory.DeleteDepartment(caller->principal, Id(request),
                                                        env.Context(request));
  TOKEND_RETURN_IF_ERROR(done);
  return NoContent();
}

// --- User types ----------------------------------------------------------------------------

tl::expected<service::UserTypeInput, Response> ReadUserType(const Request& request, bool create) {
  std::optional<Response> error;
  auto body = ReadJsonBody(request, error);
  if (!body) return tl::unexpected(std::move(*error));
  ObjectReader reader(*body, {"name", "permissions"});
  service::UserTypeInput input;
  input.name = reader.String("name");
  input.permissions = reader.StringArray("permissions");
  if (auto ok = reader.Finish(); !ok) return tl::unexpected(ErrorResponse(request, ok.error()));
  if (create) {
    // Required fields are checked by the service after the caller's permission.
    if (!input.permissions) input.permissions.emplace();
  }
  return input;
}

Response ListUserTypes(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto types = env.services().directory.ListUserTypes(caller->principal);
  TOKEND_RETURN_IF_ERROR(types);
  json::array items;
  for (const core::UserType& t : *types) items.push_back(UserTypeJson(t));
  return JsonResponse(200, ListJson(std::move(items), std::nullopt));
}

Response CreateUserType(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto input = ReadUserType(request, true);
  if (!input) return std::move(input.error());
  auto created =
      env.services().directory.CreateUserType(caller->principal, *input, env.Context(request));
  TOKEND_RETURN_IF_ERROR(created);
  return Created("/api/v1/user-types/" + created->id, UserTypeJson(*created));
}

Response GetUserType(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto type = env.services().directory.GetUserType(caller->principal, Id(request));
  TOKEND_RETURN_IF_ERROR(type);
  return JsonResponse(200, UserTypeJson(*type));
}

Response UpdateUserType(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto input = ReadUserType(request, false);
  if (!input) return std::move(input.error());
  auto updated = env.services().directory.UpdateUserType(caller->principal, Id(request), *input,
                                                         env.Context(request));
  TOKEND_RETURN_IF_ERROR(updated);
  return JsonResponse(200, UserTypeJson(*updated));
}

Response DeleteUserType(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto done =
      env.services().directory.DeleteUserType(caller->principal, Id(request), env.Context(request));
  TOKEND_RETURN_IF_ERROR(done);
  return NoContent();
}

// --- Users ---------------------------------------------------------------------------------

std::optional<std::vector<core::Membership>> ReadMemberships(ObjectReader& reader) {
  const json::value* value = reader.Raw("memberships");
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (!value->is_array()) {
    reader.AddError("memberships", "must be an array");
    return std::nullopt;
  }
  std::vector<core::Membership> out;
  const json::array& array = value->get_array();
  for (std::size_t i = 0; i < array.size(); ++i) {
    std::string prefix = "memberships[" + std::to_string(i) + "]";
    if (!array[i].is_object()) {
      reader.AddError(prefix, "must be an object");
      continue;
    }
    ObjectReader item(array[i].get_object(), {"department_id", "user_type_id"}, prefix + ".");
    core::Membership membership;
    membership.department_id = item.String("department_id").value_or("");
    membership.user_type_id = item.String("user_type_id").value_or("");
    for (const char* field : {"department_id", "user_type_id"}) {
      if (!item.Has(field)) item.AddError(item.FieldName(field), "is required");
    }
    for (const core::FieldError& e : item.errors()) reader.AddError(e.field, e.message);
    out.push_back(std::move(membership));
  }
  return out;
}

tl::expected<service::UserInput, Response> ReadUser(const Request& request) {
  std::optional<Response> error;
  auto body = ReadJsonBody(request, error);
  if (!body) return tl::unexpected(std::move(*error));
  ObjectReader reader(*body,
                      {"username", "email", "display_name", "password", "active", "memberships"});
  service::UserInput input;
  input.username = reader.String("username");
  input.email = reader.String("email");
  input.display_name = reader.String("display_name");
  input.password = reader.String("password");
  input.active = reader.Bool("active");
  input.memberships = ReadMemberships(reader);
  if (auto ok = reader.Finish(); !ok) return tl::unexpected(ErrorResponse(request, ok.error()));
  // Required fields are checked by the service, after the caller's permission.
  return input;
}

Response ListUsers(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = CheckQueryParams(request, {"q", "limit", "cursor"});
  TOKEND_RETURN_IF_ERROR(ok);
  store::UserQuery query;
  query.q = std::string(request.Query("q").value_or(""));
  if (query.q.size() > kMaxSearchLength) {
    return ErrorResponse(
        request, core::InvalidArgument("q must be at most 200 characters.", {{"q", "too long"}}));
  }
  auto limit = ParseLimit(request);
  TOKEND_RETURN_IF_ERROR(limit);
  query.limit = *limit;
  if (auto text = request.Query("cursor")) {
    auto after = DecodeUserCursor(*text);
    TOKEND_RETURN_IF_ERROR(after);
    query.after_username = std::move(*after);
  }
  auto page = env.services().directory.ListUsers(caller->principal, query);
  TOKEND_RETURN_IF_ERROR(page);
  json::array items;
  for (const core::User& user : page->users) items.push_back(UserJson(user));
  std::optional<std::string> next;
  if (page->has_more && !page->users.empty()) {
    next = EncodeUserCursor(page->users.back().username);
  }
  return JsonResponse(200, ListJson(std::move(items), next));
}

Response CreateUser(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto input = ReadUser(request);
  if (!input) return std::move(input.error());
  auto created =
      env.services().directory.CreateUser(caller->principal, *input, env.Context(request));
  TOKEND_RETURN_IF_ERROR(created);
  return Created("/api/v1/users/" + created->id, UserJson(*created));
}

Response GetUser(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto user = env.services().directory.GetUser(caller->principal, Id(request));
  TOKEND_RETURN_IF_ERROR(user);
  return JsonResponse(200, UserJson(*user));
}

Response UpdateUser(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto input = ReadUser(request);
  if (!input) return std::move(input.error());
  auto updated = env.services().directory.UpdateUser(caller->principal, Id(request), *input,
                                                     env.Context(request));
  TOKEND_RETURN_IF_ERROR(updated);
  return JsonResponse(200, UserJson(*updated));
}

Response DeleteUser(const Env& env, Request& request) {
  TOKEND_AUTHENTICATE(caller);
  auto ok = NoQueryParams(request);
  TOKEND_RETURN_IF_ERROR(ok);
  auto done =
      env.services().directory.DeleteUser(caller->principal, Id(request), env.Context(request));
  TOKEND_RETURN_IF_ERROR(done);
  return NoContent();
}

#undef TOKEND_AUTHENTICATE
#undef TOKEND_RETURN_IF_ERROR

}  // namespace

void AddDirectoryRoutes(Router& router) {
  router.Add("GET", "/api/v1/departments", ListDepartments);
  router.Add("POST", "/api/v1/departments", CreateDepartment);
  router.Add("GET", "/api/v1/departments/{id}", GetDepartment);
  router.Add("PATCH", "/api/v1/departments/{id}", UpdateDepartment);
  router.Add("DELETE", "/api/v1/departments/{id}", DeleteDepartment);
  router.Add("GET", "/api/v1/user-types", ListUserTypes);
  router.Add("POST", "/api/v1/user-types", CreateUserType);
  router.Add("GET", "/api/v1/user-types/{id}", GetUserType);
  router.Add("PATCH", "/api/v1/user-types/{id}", UpdateUserType);
  router.Add("DELETE", "/api/v1/user-types/{id}", DeleteUserType);
  router.Add("GET", "/api/v1/users", ListUsers);
  router.Add("POST", "/api/v1/users", CreateUser);
  router.Add("GET", "/api/v1/users/{id}", GetUser);
  router.Add("PATCH", "/api/v1/users/{id}", UpdateUser);
  router.Add("DELETE", "/api/v1/users/{id}", DeleteUser);
}

}  // namespace tokend::http
