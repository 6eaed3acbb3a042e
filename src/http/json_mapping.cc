#include "http/json_mapping.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/time_format.h"

namespace tokend::http {

namespace json = boost::json;

json::value TimeJson(core::Time t) { return json::value(core::FormatRfc3339(t)); }

json::value TimeOrNull(const std::optional<core::Time>& t) {
  if (!t) return nullptr;
  return TimeJson(*t);
}

json::value StringOrNull(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(*s);
}

std::string UsageText(std::string_view base_url) {
  std::string text =
      "Send this token in the Authorization header of every request to the REST API: "
      "\"Authorization: Bearer <token>\". Keep it in an environment variable or a secret "
      "store, never in source code. For example, with the token in TOKEND_TOKEN:\n";
  text += "curl -H \"Authorization: Bearer $TOKEND_TOKEN\" ";
  text += base_url;
  text += "/api/v1/me";
  return text;
}

json::object UserRefJson(const store::TokenRow::UserRef& user) {
  return json::object{{"id", user.id},
                      {"username", user.username},
                      {"email", user.email},
                      {"display_name", user.display_name}};
}

json::object NamedRefJson(const store::TokenRow::NamedRef& ref) {
  return json::object{{"id", ref.id}, {"name", ref.name}};
}

json::object ApiTokenJson(const store::TokenRow& row, core::TokenState state, bool revealable,
                          std::string_view base_url, const std::string* secret) {
  const core::Token& token = row.token;
  json::object out;
  out["id"] = token.id;
  out["kind"] = core::TokenKindName(token.kind);
  out["name"] = token.name;
  out["description"] = token.description;
  if (secret != nullptr) out["token"] = *secret;
  out["token_hint"] = token.token_hint;
  out["revealable"] = revealable;
  out["tenant_id"] = token.tenant_id;
  out["usage"] = UsageText(base_url);
  out["expires_at"] = TimeJson(token.expires_at);
  out["status"] = core::TokenStateName(state);
  out["created_at"] = TimeJson(token.created_at);
  if (row.created_by) {
    out["created_by"] =
        json::object{{"id", row.created_by->id}, {"username", row.created_by->username}};
  } else {
    out["created_by"] = nullptr;
  }
  out["last_used_at"] = TimeOrNull(token.last_used_at);
  out["last_used_ip"] = StringOrNull(token.last_used_ip);
  out["user"] = UserRefJson(row.user);
  out["department"] = NamedRefJson(row.department);
  out["user_type"] = NamedRefJson(row.user_type);
  return out;
}

json::object MobileTokenJson(const store::TokenRow& row, core::TokenState state,
                             const std::string* secret) {
  const core::Token& token = row.token;
  json::object out;
  out["id"] = token.id;
  out["kind"] = core::TokenKindName(token.kind);
  if (secret != nullptr) out["token"] = *secret;
  out["user"] = UserRefJson(row.user);
  out["department"] = NamedRefJson(row.department);
  out["user_type"] = NamedRefJson(row.user_type);
  out["device_name"] = token.device_name;
  out["last_active_at"] = TimeOrNull(token.last_used_at);
  out["expires_at"] = TimeJson(token.expires_at);
  out["status"] = core::TokenStateName(state);
  out["created_at"] = TimeJson(token.created_at);
  return out;
}

json::array PermissionsJson(const core::PermissionSet& permissions) {
  json::array out;
  for (const std::string& name : permissions.Names()) out.emplace_back(name);
  return out;
}

json::object UserJson(const core::User& user) {
  json::array memberships;
  for (const core::Membership& m : user.memberships) {
    memberships.push_back(
        json::object{{"department_id", m.department_id}, {"user_type_id", m.user_type_id}});
  }
  return json::object{{"id", user.id},         {"username", user.username},
                      {"email", user.email},   {"display_name", user.display_name},
                      {"active", user.active}, {"memberships", std::move(memberships)}};
}

json::object DepartmentJson(const core::Department& department) {
  return json::object{{"id", department.id},
                      {"name", department.name},
                      {"parent_id", StringOrNull(department.parent_id)}};
}

json::object UserTypeJson(const core::UserType& user_type) {
  return json::object{{"id", user_type.id},
                      {"name", user_type.name},
                      {"permissions", PermissionsJson(user_type.permissions)}};
}

json::object AuditEventJson(const core::AuditEvent& event) {
  json::value details = json::object();
  if (!event.details_json.empty()) {
    json::error_code ec;
    json::value parsed = json::parse(event.details_json, ec);
    if (!ec && parsed.is_object()) details = std::move(parsed);
  }
  json::value actor = nullptr;
  if (event.actor_user_id || !event.actor_username.empty()) {
    actor =
        json::object{{"id", StringOrNull(event.actor_user_id)}, {"username", event.actor_username}};
  }
  json::value target = nullptr;
  if (!event.target_type.empty() || !event.target_id.empty()) {
    target = json::object{{"type", event.target_type}, {"id", event.target_id}};
  }
  return json::object{{"id", event.id},
                      {"time", TimeJson(event.time)},
                      {"action", event.action},
                      {"actor", std::move(actor)},
                      {"target", std::move(target)},
                      {"client_ip", event.client_ip},
                      {"details", std::move(details)}};
}

json::object ListJson(json::array items, const std::optional<std::string>& next) {
  return json::object{{"items", std::move(items)}, {"next_cursor", StringOrNull(next)}};
}

Response JsonResponse(int status, const json::value& body) {
  Response response;
  response.status = status;
  response.Set("Content-Type", "application/json");
  response.body = json::serialize(body);
  return response;
}

}  // namespace tokend::http
