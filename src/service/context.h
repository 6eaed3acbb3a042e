// What every use case gets besides its input: who asks, and from where.
#pragma once

#include <string>

#include "core/model.h"

namespace tokend::service {

struct RequestContext {
  std::string client_ip;   // as seen by the listener (or "cli")
  std::string request_id;  // for log lines
};

// The identity the CLI acts as: every permission, at the tenant's root department, recorded
// in the audit trail as actor "cli" with no user id.
core::Principal CliPrincipal(const std::string& tenant_id, const std::string& root_department_id);

}  // namespace tokend::service
