// Use cases on departments, user types and users: list, create, read, update, delete,
// scoped like everything else (rules in core/rules.h).
//
//  - Departments: needs departments:read / departments:write. Callers see their own subtree.
//    Create needs a parent inside the caller's subtree; the root cannot be deleted or moved.
//  - User types: needs user_types:read / user_types:write. Everyone with read sees all user
//    types of the tenant; create/update may not grant permissions the caller lacks.
//  - Users: needs users:read / users:write. Callers see users holding a membership inside
//    their subtree; memberships granted must pass CheckNoEscalation.
// Changes that affect verification (permissions, memberships, deactivation, deletion)
// invalidate the verification cache before returning.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/model.h"
#include "service/context.h"
#include "store/store.h"

namespace tokend::service {

class VerificationCache;

struct DepartmentInput {
  std::optional<std::string> name;
  std::optional<std::string> parent_id;
};

struct UserTypeInput {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> permissions;  // names from the catalogue
};

struct UserInput {
  std::optional<std::string> username;
  std::optional<std::string> email;
  std::optional<std::string> display_name;
  std::optional<std::string> password;
  std::optional<bool> active;
  std::optional<std::vector<core::Membership>> memberships;
};

class DirectoryService {
 public:
  DirectoryService(store::Store& store, const core::Clock& clock,
                   const core::PasswordHasher& hasher, VerificationCache* cache = nullptr);

  core::Result<std::vector<core::Department>> ListDepartments(const core::Principal& caller);
  core::Result<core::Department> GetDepartment(const core::Principal& caller,
                                               const std::string& id);
  // name and parent_id required.
  core::Result<core::Department> CreateDepartment(const core::Principal& caller,
                                                  const DepartmentInput& input,
                                                  const RequestContext& ctx);
  core::Result<core::Department> UpdateDepartment(const core::Principal& caller,
                                                  const std::string& id,
                                                  const DepartmentInput& input,
                                                  const RequestContext& ctx);
  core::Result<void> DeleteDepartment(const core::Principal& caller, const std::string& id,
                                      const RequestContext& ctx);

  core::Result<std::vector<core::UserType>> ListUserTypes(const core::Principal& caller);
  core::Result<core::UserType> GetUserType(const core::Principal& caller, const std::string& id);
  core::Result<core::UserType> CreateUserType(const core::Principal& caller,
                                              const UserTypeInput& input,
                                              const RequestContext& ctx);
  core::Result<core::UserType> UpdateUserType(const core::Principal& caller, const std::string& id,
                                              const UserTypeInput& input,
                                              const RequestContext& ctx);
  core::Result<void> DeleteUserType(const core::Principal& caller, const std::string& id,
                                    const RequestContext& ctx);

  core::Result<store::UserPage> ListUsers(const core::Principal& caller, store::UserQuery query);
  core::Result<core::User> GetUser(const core::Principal& caller, const std::string& id);
  // username, email, password and at least one membership required.
  core::Result<core::User> CreateUser(const core::Principal& caller, const UserInput& input,
                                      const RequestContext& ctx);
  core::Result<core::User> UpdateUser(const core::Principal& caller, const std::string& id,
                                      const UserInput& input, const RequestContext& ctx);
  // Also revokes the user's tokens.
  core::Result<void> DeleteUser(const core::Principal& caller, const std::string& id,
                                const RequestContext& ctx);

 private:
  store::Store& store_;
  const core::Clock& clock_;
  const core::PasswordHasher& hasher_;
  VerificationCache* cache_;
};

}  // namespace tokend::service
