#include "service/directory_service.h"

#include <algorithm>
#include <unordered_map>

#include "core/ids.h"
#include "core/rules.h"
#include "service/audit_service.h"
#include "service/scope.h"
#include "service/verification_cache.h"

namespace tokend::service {

namespace {

constexpr char kDepartmentNotFound[] = "Department not found.";
constexpr char kUserTypeNotFound[] = "User type not found.";
constexpr char kUserNotFound[] = "User not found.";

template <typename T>
tl::unexpected<core::Error> Fail(const core::Result<T>& result) {
  return tl::unexpected(result.error());
}

std::string Indexed(const char* field, std::size_t index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

// Parses permission names, naming each unknown one as permissions[i].
core::PermissionSet ParsePermissions(const std::vector<std::string>& names,
                                     std::vector<core::FieldError>& fields) {
  core::PermissionSet set;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (auto p = core::ParsePermission(names[i])) {
      set.Add(*p);
    } else {
      fields.push_back({Indexed("permissions", i), "Unknown permission."});
    }
  }
  return set;
}

using UserTypeIndex = std::unordered_map<std::string, core::UserType>;

core::Result<UserTypeIndex> LoadUserTypes(store::Store& store, const std::string& tenant_id) {
  auto types = store.ListUserTypes(tenant_id);
  if (!types) return Fail(types);
  UserTypeIndex index;
  for (core::UserType& type : *types) index.emplace(type.id, std::move(type));
  return index;
}

// The memberships a caller may see: callers below the root see only those in their subtree.
core::User ScopedView(const core::Principal& caller, const core::DepartmentTree& tree,
                      core::User user) {
  std::erase_if(user.memberships, [&](const core::Membership& m) {
    return !core::InCallerScope(caller, tree, m.department_id);
  });
  user.password_hash.clear();
  return user;
}

// Whether `caller` could have granted every membership `user` holds; changing or deleting a
// user with more access than one's own would be an escalation.
bool CallerCovers(const core::Principal& caller, const core::DepartmentTree& tree,
                  const UserTypeIndex& types, const core::User& user) {
  for (const core::Membership& m : user.memberships) {
    auto type = types.find(m.user_type_id);
    if (type == types.end()) return false;
    if (!core::CheckNoEscalation(caller, tree, m.department_id, type->second.permissions)) {
      return false;
    }
  }
  return true;
}

// A user `caller` may change or delete, with what deciding that needed.
struct WritableUser {
  core::DepartmentTree tree;
  UserTypeIndex types;
  core::User user;
};

// Loads user `id` for a write: kNotFound (like a missing id) outside the caller's subtree;
// kPermissionDenied when the user has more access than the caller (`verb` names the action).
// REQUIRES: the caller holds users:write.
core::Result<WritableUser> LoadWritableUser(store::Store& store, const core::Principal& caller,
                                            const std::string& id, std::string_view verb) {
  if (!core::LooksLikeId(id)) return tl::unexpected(core::NotFound(kUserNotFound));
  auto tree = LoadTree(store, caller.tenant_id);
  if (!tree) return Fail(tree);
  auto types = LoadUserTypes(store, caller.tenant_id);
  if (!types) return Fail(types);
  auto user = store.GetUser(caller.tenant_id, id);
  if (!user) return tl::unexpected(NotFoundAs(user.error(), kUserNotFound));
  if (!UserInScope(caller, *tree, *user)) return tl::unexpected(core::NotFound(kUserNotFound));
  if (!CallerCovers(caller, *tree, *types, *user)) {
    return tl::unexpected(core::PermissionDenied("You cannot " + std::string(verb) +
                                                 " a user with more access than your own."));
  }
  return WritableUser{std::move(*tree), std::move(*types), std::move(*user)};
}

core::Error UsernameTaken(const core::Error& error) {
  if (error.code != core::ErrorCode::kAlreadyExists) return error;
  return core::AlreadyExists("That username is already taken.",
                             {{"username", "That username is already taken."}});
}

}  // namespace

DirectoryService::DirectoryService(store::Store& store, const core::Clock& clock,
                                   const core::PasswordHasher& hasher, VerificationCache* cache)
    : store_(store), clock_(clock), hasher_(hasher), cache_(cache) {}

// --- Departments ---------------------------------------------------------------------------

core::Result<std::vector<core::Department>> DirectoryService::ListDepartments(
    const core::Principal& caller) {
  if (auto ok = Require(caller, core::Permission::kDepartmentsRead); !ok) return Fail(ok);
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  std::vector<core::Department> result;
  for (const std::string& id : tree->Subtree(caller.department_id)) {
    result.push_back(*tree->Find(id));
  }
  return result;
}

core::Result<core::Department> DirectoryService::GetDepartment(const core::Principal& caller,
                                                               const std::string& id) {
  if (auto ok = Require(caller, core::Permission::kDepartmentsRead); !ok) return Fail(ok);
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  const core::Department* department = tree->Find(id);
  if (department == nullptr || !core::InCallerScope(caller, *tree, id)) {
    return tl::unexpected(core::NotFound(kDepartmentNotFound));
  }
  return *department;
}

core::Result<core::Department> DirectoryService::CreateDepartment(const core::Principal& caller,
                                                                  const DepartmentInput& input,
                                                                  const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kDepartmentsWrite); !ok) return Fail(ok);
  std::vector<core::FieldError> fields;
  if (std::string why = core::CheckEntityName(input.name.value_or("")); !why.empty()) {
    fields.push_back({"name", why});
  }
  if (!input.parent_id || input.parent_id->empty()) {
    fields.push_back({"parent_id", "Select a parent department."});
  }
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The department cannot be created.", fields));
  }
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  if (tree->Find(*input.parent_id) == nullptr ||
      !core::InCallerScope(caller, *tree, *input.parent_id)) {
    return tl::unexpected(core::NotFound(kDepartmentNotFound));
  }
  const core::Time now = clock_.Now();
  core::Department department{core::NewId(), caller.tenant_id, *input.name, *input.parent_id, now};
  auto audit = MakeAuditEvent(
      &caller, caller.tenant_id, "department.create", "department", department.id, ctx, now,
      {{"id", department.id}, {"name", department.name}, {"parent_id", *input.parent_id}});
  if (auto ok = store_.CreateDepartment(department, audit); !ok) return Fail(ok);
  return department;
}

core::Result<core::Department> DirectoryService::UpdateDepartment(const core::Principal& caller,
                                                                  const std::string& id,
                                                                  const DepartmentInput& input,
                                                                  const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kDepartmentsWrite); !ok) return Fail(ok);
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  const core::Department* current = tree->Find(id);
  if (current == nullptr || !core::InCallerScope(caller, *tree, id)) {
    return tl::unexpected(core::NotFound(kDepartmentNotFound));
  }
  core::Department department = *current;
  std::vector<core::FieldError> fields;
  if (input.name) {
    if (std::string why = core::CheckEntityName(*input.name); !why.empty()) {
      fields.push_back({"name", why});
    }
    department.name = *input.name;
  }
  if (input.parent_id && input.parent_id != department.parent_id) {
    if (!department.parent_id) {
      fields.push_back({"parent_id", "The root department cannot be moved."});
    } else if (tree->Find(*input.parent_id) == nullptr ||
               !core::InCallerScope(caller, *tree, *input.parent_id)) {
      return tl::unexpected(core::NotFound(kDepartmentNotFound));
    } else if (tree->WouldCycle(id, *input.parent_id)) {
      fields.push_back(
          {"parent_id", "A department cannot move under itself or one of its descendants."});
    } else if (id == caller.department_id) {
      fields.push_back({"parent_id", "You cannot move your own department."});
    }
    department.parent_id = *input.parent_id;
  }
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The department cannot be changed.", fields));
  }
  const core::Time now = clock_.Now();
  auto audit = MakeAuditEvent(
      &caller, caller.tenant_id, "department.update", "department", id, ctx, now,
      {{"id", id}, {"name", department.name}, {"parent_id", department.parent_id.value_or("")}});
  if (auto ok = store_.UpdateDepartment(department, audit); !ok) return Fail(ok);
  return department;
}

core::Result<void> DirectoryService::DeleteDepartment(const core::Principal& caller,
                                                      const std::string& id,
                                                      const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kDepartmentsWrite); !ok) return Fail(ok);
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  const core::Department* department = tree->Find(id);
  if (department == nullptr || !core::InCallerScope(caller, *tree, id)) {
    return tl::unexpected(core::NotFound(kDepartmentNotFound));
  }
  if (!department->parent_id) {
    return tl::unexpected(core::FailedPrecondition("The root department cannot be deleted."));
  }
  if (id == caller.department_id) {
    return tl::unexpected(core::FailedPrecondition("You cannot delete your own department."));
  }
  const core::Time now = clock_.Now();
  auto audit = MakeAuditEvent(&caller, caller.tenant_id, "department.delete", "department", id, ctx,
                              now, {{"id", id}, {"name", department->name}});
  if (auto ok = store_.DeleteDepartment(caller.tenant_id, id, audit); !ok) {
    if (ok.error().code == core::ErrorCode::kFailedPrecondition) {
      return tl::unexpected(
          core::FailedPrecondition("The department still has sub-departments, members or tokens."));
    }
    return ok;
  }
  return core::Ok();
}

// --- User types ----------------------------------------------------------------------------

core::Result<std::vector<core::UserType>> DirectoryService::ListUserTypes(
    const core::Principal& caller) {
  if (auto ok = Require(caller, core::Permission::kUserTypesRead); !ok) return Fail(ok);
  return store_.ListUserTypes(caller.tenant_id);
}

core::Result<core::UserType> DirectoryService::GetUserType(const core::Principal& caller,
                                                           const std::string& id) {
  if (auto ok = Require(caller, core::Permission::kUserTypesRead); !ok) return Fail(ok);
  if (!core::LooksLikeId(id)) return tl::unexpected(core::NotFound(kUserTypeNotFound));
  auto type = store_.GetUserType(caller.tenant_id, id);
  if (!type) return tl::unexpected(NotFoundAs(type.error(), kUserTypeNotFound));
  return type;
}

core::Result<core::UserType> DirectoryService::CreateUserType(const core::Principal& caller,
                                                              const UserTypeInput& input,
                                                              const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kUserTypesWrite); !ok) return Fail(ok);
  std::vector<core::FieldError> fields;
  if (std::string why = core::CheckEntityName(input.name.value_or("")); !why.empty()) {
    fields.push_back({"name", why});
  }
  core::PermissionSet permissions =
      ParsePermissions(input.permissions.value_or(std::vector<std::string>{}), fields);
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The user type cannot be created.", fields));
  }
  if (!permissions.IsSubsetOf(caller.permissions)) {
    return tl::unexpected(
        core::PermissionDenied("You cannot grant permissions you do not have yourself."));
  }
  const core::Time now = clock_.Now();
  core::UserType type{core::NewId(), caller.tenant_id, *input.name, permissions, now};
  auto audit = MakeAuditEvent(
      &caller, caller.tenant_id, "user_type.create", "user_type", type.id, ctx, now,
      {{"id", type.id}, {"name", type.name}, {"permissions", permissions.ToScopeString()}});
  if (auto ok = store_.CreateUserType(type, audit); !ok) return Fail(ok);
  return type;
}

core::Result<core::UserType> DirectoryService::UpdateUserType(const core::Principal& caller,
                                                              const std::string& id,
                                                              const UserTypeInput& input,
                                                              const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kUserTypesWrite); !ok) return Fail(ok);
  if (!core::LooksLikeId(id)) return tl::unexpected(core::NotFound(kUserTypeNotFound));
  auto type = store_.GetUserType(caller.tenant_id, id);
  if (!type) return tl::unexpected(NotFoundAs(type.error(), kUserTypeNotFound));
  std::vector<core::FieldError> fields;
  if (input.name) {
    if (std::string why = core::CheckEntityName(*input.name); !why.empty()) {
      fields.push_back({"name", why});
    }
    type->name = *input.name;
  }
  core::PermissionSet permissions = type->permissions;
  if (input.permissions) permissions = ParsePermissions(*input.permissions, fields);
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The user type cannot be changed.", fields));
  }
  // Both the old and the new set must be within the caller's: changing a more powerful type
  // (even only to weaken it) is not the caller's call.
  if (!type->permissions.IsSubsetOf(caller.permissions) ||
      !permissions.IsSubsetOf(caller.permissions)) {
    return tl::unexpected(core::PermissionDenied(
        "You cannot change a user type with permissions you do not have yourself."));
  }
  type->permissions = permissions;
  const core::Time now = clock_.Now();
  auto audit = MakeAuditEvent(
      &caller, caller.tenant_id, "user_type.update", "user_type", id, ctx, now,
      {{"id", id}, {"name", type->name}, {"permissions", permissions.ToScopeString()}});
  auto updated = store_.UpdateUserType(*type, audit);
  if (cache_ != nullptr) cache_->InvalidateUserType(caller.tenant_id, id);
  if (!updated) return Fail(updated);
  return type;
}

core::Result<void> DirectoryService::DeleteUserType(const core::Principal& caller,
                                                    const std::string& id,
                                                    const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kUserTypesWrite); !ok) return Fail(ok);
  if (!core::LooksLikeId(id)) return tl::unexpected(core::NotFound(kUserTypeNotFound));
  auto type = store_.GetUserType(caller.tenant_id, id);
  if (!type) return tl::unexpected(NotFoundAs(type.error(), kUserTypeNotFound));
  if (!type->permissions.IsSubsetOf(caller.permissions)) {
    return tl::unexpected(core::PermissionDenied(
        "You cannot delete a user type with permissions you do not have yourself."));
  }
  const core::Time now = clock_.Now();
  auto audit = MakeAuditEvent(&caller, caller.tenant_id, "user_type.delete", "user_type", id, ctx,
                              now, {{"id", id}, {"name", type->name}});
  auto deleted = store_.DeleteUserType(caller.tenant_id, id, audit);
  if (cache_ != nullptr) cache_->InvalidateUserType(caller.tenant_id, id);
  if (!deleted) {
    if (deleted.error().code == core::ErrorCode::kFailedPrecondition) {
      return tl::unexpected(
          core::FailedPrecondition("The user type is still held by users or tokens."));
    }
    return deleted;
  }
  return core::Ok();
}

// --- Users ---------------------------------------------------------------------------------

core::Result<store::UserPage> DirectoryService::ListUsers(const core::Principal& caller,
                                                          store::UserQuery query) {
  if (auto ok = Require(caller, core::Permission::kUsersRead); !ok) return Fail(ok);
  if (auto ok = CheckLimit(query.limit); !ok) return Fail(ok);
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  query.department_scope = ScopeFilter(caller, *tree);
  auto page = store_.ListUsers(caller.tenant_id, query);
  if (!page) return page;
  for (core::User& user : page->users) user = ScopedView(caller, *tree, std::move(user));
  return page;
}

core::Result<core::User> DirectoryService::GetUser(const core::Principal& caller,
                                                   const std::string& id) {
  if (auto ok = Require(caller, core::Permission::kUsersRead); !ok) return Fail(ok);
  if (!core::LooksLikeId(id)) return tl::unexpected(core::NotFound(kUserNotFound));
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  auto user = store_.GetUser(caller.tenant_id, id);
  if (!user) return tl::unexpected(NotFoundAs(user.error(), kUserNotFound));
  if (!UserInScope(caller, *tree, *user)) return tl::unexpected(core::NotFound(kUserNotFound));
  return ScopedView(caller, *tree, std::move(*user));
}

namespace {

// Field checks of a user's memberships (present, no duplicates), then scope and escalation.
core::Result<void> CheckMemberships(const core::Principal& caller, const core::DepartmentTree& tree,
                                    const UserTypeIndex& types,
                                    const std::vector<core::Membership>& memberships,
                                    std::vector<core::FieldError>& fields) {
  if (memberships.empty()) {
    fields.push_back({"memberships", "A user needs at least one department and user type."});
  }
  for (std::size_t i = 0; i < memberships.size(); ++i) {
    const core::Membership& m = memberships[i];
    std::string prefix = Indexed("memberships", i);
    if (m.department_id.empty()) fields.push_back({prefix + ".department_id", "Required."});
    if (m.user_type_id.empty()) fields.push_back({prefix + ".user_type_id", "Required."});
    if (std::find(memberships.begin(), memberships.begin() + static_cast<std::ptrdiff_t>(i), m) !=
        memberships.begin() + static_cast<std::ptrdiff_t>(i)) {
      fields.push_back({prefix, "Duplicate membership."});
    }
  }
  if (!fields.empty()) return core::Ok();  // the caller reports the field errors
  for (const core::Membership& m : memberships) {
    if (tree.Find(m.department_id) == nullptr ||
        !core::InCallerScope(caller, tree, m.department_id)) {
      return tl::unexpected(core::NotFound(kDepartmentNotFound));
    }
    auto type = types.find(m.user_type_id);
    if (type == types.end()) return tl::unexpected(core::NotFound(kUserTypeNotFound));
    if (auto ok = core::CheckNoEscalation(caller, tree, m.department_id, type->second.permissions);
        !ok) {
      return ok;
    }
  }
  return core::Ok();
}

}  // namespace

core::Result<core::User> DirectoryService::CreateUser(const core::Principal& caller,
                                                      const UserInput& input,
                                                      const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kUsersWrite); !ok) return Fail(ok);
  auto tree = LoadTree(store_, caller.tenant_id);
  if (!tree) return Fail(tree);
  auto types = LoadUserTypes(store_, caller.tenant_id);
  if (!types) return Fail(types);

  std::vector<core::FieldError> fields;
  if (std::string why = core::CheckUsername(input.username.value_or("")); !why.empty()) {
    fields.push_back({"username", why});
  }
  if (std::string why = core::CheckEmail(input.email.value_or("")); !why.empty()) {
    fields.push_back({"email", why});
  }
  if (std::string why = core::CheckDisplayName(input.display_name.value_or("")); !why.empty()) {
    fields.push_back({"display_name", why});
  }
  if (std::string why = core::CheckPassword(input.password.value_or("")); !why.empty()) {
    fields.push_back({"password", why});
  }
  const std::vector<core::Membership> memberships =
      input.memberships.value_or(std::vector<core::Membership>{});
  if (auto ok = CheckMemberships(caller, *tree, *types, memberships, fields); !ok) return Fail(ok);
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The user cannot be created.", fields));
  }
  auto password_hash = hasher_.Hash(*input.password);
  if (!password_hash) return Fail(password_hash);

  const core::Time now = clock_.Now();
  core::User user;
  user.id = core::NewId();
  user.tenant_id = caller.tenant_id;
  user.username = *input.username;
  user.email = *input.email;
  user.display_name = input.display_name.value_or("");
  user.password_hash = std::move(*password_hash);
  user.active = input.active.value_or(true);
  user.memberships = memberships;
  user.created_at = now;
  auto audit = MakeAuditEvent(&caller, caller.tenant_id, "user.create", "user", user.id, ctx, now,
                              {{"id", user.id}, {"username", user.username}});
  if (auto ok = store_.CreateUser(user, audit); !ok) {
    return tl::unexpected(UsernameTaken(ok.error()));
  }
  return ScopedView(caller, *tree, std::move(user));
}

core::Result<core::User> DirectoryService::UpdateUser(const core::Principal& caller,
                                                      const std::string& id, const UserInput& input,
                                                      const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kUsersWrite); !ok) return Fail(ok);
  auto target = LoadWritableUser(store_, caller, id, "change");
  if (!target) return Fail(target);

  std::vector<core::FieldError> fields;
  std::vector<std::string> changed;
  if (input.username) {
    if (std::string why = core::CheckUsername(*input.username); !why.empty()) {
      fields.push_back({"username", why});
    }
    target->user.username = *input.username;
    changed.push_back("username");
  }
  if (input.email) {
    if (std::string why = core::CheckEmail(*input.email); !why.empty()) {
      fields.push_back({"email", why});
    }
    target->user.email = *input.email;
    changed.push_back("email");
  }
  if (input.display_name) {
    if (std::string why = core::CheckDisplayName(*input.display_name); !why.empty()) {
      fields.push_back({"display_name", why});
    }
    target->user.display_name = *input.display_name;
    changed.push_back("display_name");
  }
  if (input.password) {
    if (std::string why = core::CheckPassword(*input.password); !why.empty()) {
      fields.push_back({"password", why});
    }
    changed.push_back("password");
  }
  if (input.active) {
    target->user.active = *input.active;
    changed.push_back("active");
  }
  if (input.memberships) {
    if (auto ok = CheckMemberships(caller, target->tree, target->types, *input.memberships, fields);
        !ok) {
      return Fail(ok);
    }
    target->user.memberships = *input.memberships;
    changed.push_back("memberships");
  }
  if (!fields.empty()) {
    return tl::unexpected(core::ValidationFailed("The user cannot be changed.", fields));
  }
  if (input.password) {
    auto password_hash = hasher_.Hash(*input.password);
    if (!password_hash) return Fail(password_hash);
    target->user.password_hash = std::move(*password_hash);
  }
  std::string changed_list;
  for (const std::string& field : changed) {
    if (!changed_list.empty()) changed_list += ",";
    changed_list += field;
  }
  const core::Time now = clock_.Now();
  auto audit =
      MakeAuditEvent(&caller, caller.tenant_id, "user.update", "user", id, ctx, now,
                     {{"id", id}, {"username", target->user.username}, {"changed", changed_list}});
  auto updated = store_.UpdateUser(target->user, audit);
  if (cache_ != nullptr) cache_->InvalidateUser(caller.tenant_id, id);
  if (!updated) return tl::unexpected(UsernameTaken(updated.error()));
  return ScopedView(caller, target->tree, std::move(target->user));
}

core::Result<void> DirectoryService::DeleteUser(const core::Principal& caller,
                                                const std::string& id, const RequestContext& ctx) {
  if (auto ok = Require(caller, core::Permission::kUsersWrite); !ok) return Fail(ok);
  auto target = LoadWritableUser(store_, caller, id, "delete");
  if (!target) return Fail(target);
  if (id == caller.user_id) {
    return tl::unexpected(core::FailedPrecondition("You cannot delete yourself."));
  }
  const core::Time now = clock_.Now();
  auto audit = MakeAuditEvent(&caller, caller.tenant_id, "user.delete", "user", id, ctx, now,
                              {{"id", id}, {"username", target->user.username}});
  auto deleted = store_.DeleteUser(caller.tenant_id, id, now, audit);
  if (cache_ != nullptr) cache_->InvalidateUser(caller.tenant_id, id);
  if (!deleted) return Fail(deleted);
  return core::Ok();
}

}  // namespace tokend::service
