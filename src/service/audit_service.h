// Reading the audit trail (audit:read), and the one place audit events are built.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/model.h"
#include "service/context.h"
#include "store/store.h"

namespace tokend::service {

// Builds an event with a JSON object of `details` (string values; never a secret).
core::AuditEvent MakeAuditEvent(const core::Principal* actor, std::string tenant_id,
                                std::string action, std::string target_type, std::string target_id,
                                const RequestContext& ctx, core::Time now,
                                const std::vector<std::pair<std::string, std::string>>& details);

class AuditService {
 public:
  AuditService(store::Store& store);
  core::Result<store::AuditPage> List(const core::Principal& caller, store::AuditQuery query);

 private:
  store::Store& store_;
};

}  // namespace tokend::service
