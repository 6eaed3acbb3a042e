#include "service/context.h"

namespace tokend::service {

core::Principal CliPrincipal(const std::string& tenant_id, const std::string& root_department_id) {
  core::Principal principal;
  principal.tenant_id = tenant_id;
  principal.username = "cli";
  principal.department_id = root_department_id;
  principal.permissions = core::PermissionSet::All();
  return principal;
}

}  // namespace tokend::service
