#include "service/scope.h"

#include <algorithm>

namespace tokend::service {

namespace {
constexpr int kMaxPageSize = 200;
}  // namespace

core::Result<void> Require(const core::Principal& caller, core::Permission permission) {
  if (caller.permissions.Has(permission)) return core::Ok();
  return tl::unexpected(core::PermissionDenied(
      "This action needs the " + std::string(core::PermissionName(permission)) + " permission."));
}

core::Result<core::DepartmentTree> LoadTree(store::Store& store, const std::string& tenant_id) {
  auto departments = store.ListDepartments(tenant_id);
  if (!departments) return tl::unexpected(departments.error());
  return core::DepartmentTree(std::move(*departments));
}

std::optional<std::vector<std::string>> ScopeFilter(const core::Principal& caller,
                                                    const core::DepartmentTree& tree) {
  if (caller.department_id == tree.root_id()) return std::nullopt;
  return tree.Subtree(caller.department_id);
}

core::Result<void> CheckLimit(int limit) {
  if (limit >= 1 && limit <= kMaxPageSize) return core::Ok();
  return tl::unexpected(core::InvalidArgument("limit must be between 1 and 200.",
                                              {{"limit", "Must be between 1 and 200."}}));
}

core::Error NotFoundAs(const core::Error& error, const std::string& message) {
  if (error.code != core::ErrorCode::kNotFound) return error;
  core::Error replaced = core::NotFound(message);
  replaced.log_detail = error.log_detail;
  return replaced;
}

bool UserInScope(const core::Principal& caller, const core::DepartmentTree& tree,
                 const core::User& user) {
  return std::any_of(user.memberships.begin(), user.memberships.end(),
                     [&](const core::Membership& m) {
                       return core::InCallerScope(caller, tree, m.department_id);
                     });
}

}  // namespace tokend::service
