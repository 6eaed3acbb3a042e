// Domain values → the JSON shapes of DESIGN.md §3. Field names are the interface; absent
// values are JSON null, never missing; times are RFC 3339 UTC.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/model.h"
#include "http/message.h"
#include "store/store.h"

namespace tokend::http {

boost::json::value TimeJson(core::Time t);
boost::json::value TimeOrNull(const std::optional<core::Time>& t);
boost::json::value StringOrNull(const std::optional<std::string>& s);

// The "usage" text of an API token: how to call the REST API with it, with a ready curl line
// against `base_url`. It names $TOKEND_TOKEN, never the secret.
std::string UsageText(std::string_view base_url);

// The API token object. `secret` only on create and reveal answers.
boost::json::object ApiTokenJson(const store::TokenRow& row, core::TokenState state,
                                 bool revealable, std::string_view base_url,
                                 const std::string* secret = nullptr);
// The mobile token object. `secret` only on the mobile login answer.
boost::json::object MobileTokenJson(const store::TokenRow& row, core::TokenState state,
                                    const std::string* secret = nullptr);

boost::json::object UserRefJson(const store::TokenRow::UserRef& user);
boost::json::object NamedRefJson(const store::TokenRow::NamedRef& ref);
boost::json::object UserJson(const core::User& user);
boost::json::object DepartmentJson(const core::Department& department);
boost::json::object UserTypeJson(const core::UserType& user_type);
boost::json::object AuditEventJson(const core::AuditEvent& event);
boost::json::array PermissionsJson(const core::PermissionSet& permissions);

// {"items": [...], "next_cursor": "…" | null}
boost::json::object ListJson(boost::json::array items, const std::optional<std::string>& next);

// A JSON response ("application/json").
Response JsonResponse(int status, const boost::json::value& body);

}  // namespace tokend::http
