// The rules of DESIGN.md §1 as pure functions.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace tokend::core {

// StateAt: revoked wins over expired; a token is expired from `expires_at` on.
TokenState StateAt(const Token& token, Time now);

// A tenant's department tree, built from its flat list.
// INVARIANT: exactly one root; every parent_id names a department in the list; no cycles
// (departments whose chain does not end at the root are treated as outside every subtree).
class DepartmentTree {
 public:
  explicit DepartmentTree(std::vector<Department> departments);

  // True when `department_id` is `ancestor_id` or one of its descendants.
  bool InSubtree(std::string_view ancestor_id, std::string_view department_id) const;
  // `root_id` and every descendant, root first (breadth-first).
  std::vector<std::string> Subtree(std::string_view root_id) const;
  const Department* Find(std::string_view id) const;
  const std::string& root_id() const { return root_id_; }
  const std::vector<Department>& all() const { return departments_; }
  // Would making `parent_id` the parent of `id` create a cycle?
  bool WouldCycle(std::string_view id, std::string_view parent_id) const;

 private:
  std::vector<Department> departments_;
  std::unordered_map<std::string, std::size_t> index_;
  std::unordered_map<std::string, std::vector<std::size_t>> children_;
  // rooted_[i]: departments_[i] is reachable from the root. Only rooted departments are in any
  // subtree, which is how cycles and orphans are kept out.
  std::vector<bool> rooted_;
  std::string root_id_;

  bool IsRooted(std::string_view id) const;
};

// No escalation (DESIGN.md §1 rule 2): `caller` may grant `department_id` with `permissions`
// only inside its own subtree and with a subset of its own permissions.
// Errors: kNotFound when the department is outside the caller's subtree (no existence leak),
// kPermissionDenied when the permissions exceed the caller's.
Result<void> CheckNoEscalation(const Principal& caller, const DepartmentTree& tree,
                               std::string_view department_id, PermissionSet permissions);

// Whether the caller may see/act on data of `department_id`.
bool InCallerScope(const Principal& caller, const DepartmentTree& tree,
                   std::string_view department_id);

// Expiry policy for API tokens (rule 3). `requested` is the parsed expires_at.
// Refuses a time not in the future and one beyond now + the tenant's maximum lifetime
// (a date-only value on the last allowed day is accepted). Errors are kValidation naming
// the field "expires_at".
Result<Time> ValidateApiTokenExpiry(Time requested, Time now, const TenantSettings& settings);
Time DefaultApiTokenExpiry(Time now, const TenantSettings& settings);

// Mobile tokens: each use moves the expiry `mobile_idle_timeout` ahead of `now`, never beyond
// `created_at + mobile_max_lifetime`.
Time SlideMobileExpiry(Time created_at, Time now, const TenantSettings& settings);

// Field checks shared by every layer. Each returns an empty string when valid, else the reason.
std::string CheckTokenName(std::string_view name);     // 1..100 chars, no control chars
std::string CheckDescription(std::string_view text);   // 0..1000 chars, no control chars but \n
std::string CheckUsername(std::string_view username);  // 1..64, [A-Za-z0-9._@-]
std::string CheckEmail(std::string_view email);        // 3..254, one @, no spaces
std::string CheckDisplayName(std::string_view name);   // 0..100, no control chars
std::string CheckPassword(std::string_view password);  // 8..1024 bytes
std::string CheckEntityName(std::string_view name);    // departments, user types: 1..100
std::string CheckDeviceName(std::string_view name);    // 0..100, no control chars

// Whether an operator may choose these tenant settings: one FieldError per bad setting, named
// after the TenantSettings member ("api_token_max_lifetime_days", ...). Empty when valid.
std::vector<FieldError> CheckTenantSettings(const TenantSettings& settings);

}  // namespace tokend::core
