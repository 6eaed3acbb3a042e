// Helpers shared by the use cases: the permission check and the caller's department scope.
// Internal to the service layer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "core/rules.h"
#include "store/store.h"

namespace tokend::service {

// kPermissionDenied naming the missing permission (the catalogue is public; nothing leaks).
core::Result<void> Require(const core::Principal& caller, core::Permission permission);

// The caller's tenant's department tree, read whole.
core::Result<core::DepartmentTree> LoadTree(store::Store& store, const std::string& tenant_id);

// The store-side scope filter for lists: nullopt when the caller sits at the root (the whole
// tenant), else the ids of the caller's subtree.
std::optional<std::vector<std::string>> ScopeFilter(const core::Principal& caller,
                                                    const core::DepartmentTree& tree);

// kInvalidArgument naming `limit` outside 1..200 (DESIGN.md §3).
core::Result<void> CheckLimit(int limit);

// `error` with a kNotFound replaced by one carrying `message`, so that every "not found" of
// one kind of object reads the same whatever the store said.
core::Error NotFoundAs(const core::Error& error, const std::string& message);

// Whether `user` holds a membership inside the caller's subtree (users are visible through
// their memberships).
bool UserInScope(const core::Principal& caller, const core::DepartmentTree& tree,
                 const core::User& user);

}  // namespace tokend::service
