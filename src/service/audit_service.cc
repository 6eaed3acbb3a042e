#include "service/audit_service.h"

#include <boost/json.hpp>

#include "service/scope.h"

namespace tokend::service {

core::AuditEvent MakeAuditEvent(const core::Principal* actor, std::string tenant_id,
                                std::string action, std::string target_type, std::string target_id,
                                const RequestContext& ctx, core::Time now,
                                const std::vector<std::pair<std::string, std::string>>& details) {
  core::AuditEvent event;
  event.tenant_id = std::move(tenant_id);
  event.time = now;
  if (actor != nullptr) {
    // The CLI principal has no user id: it is recorded by name only.
    if (!actor->user_id.empty()) event.actor_user_id = actor->user_id;
    event.actor_username = actor->username;
  }
  event.action = std::move(action);
  event.target_type = std::move(target_type);
  event.target_id = std::move(target_id);
  event.client_ip = ctx.client_ip;
  boost::json::object object;
  for (const auto& [key, value] : details) object[key] = value;
  event.details_json = boost::json::serialize(object);
  return event;
}

AuditService::AuditService(store::Store& store) : store_(store) {}

core::Result<store::AuditPage> AuditService::List(const core::Principal& caller,
                                                  store::AuditQuery query) {
  if (auto ok = Require(caller, core::Permission::kAuditRead); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = CheckLimit(query.limit); !ok) return tl::unexpected(ok.error());
  // The audit trail is tenant-wide: audit:read is an administrator's permission and events
  // about departments outside the caller's subtree are still the tenant's own.
  return store_.ListAudit(caller.tenant_id, query);
}

}  // namespace tokend::service
