#include "core/permission.h"

#include <array>

namespace tokend::core {
namespace {

struct CatalogueEntry {
  Permission permission;
  std::string_view name;
};

// Catalogue order; the names are part of the public interface (DESIGN.md §1).
constexpr std::array<CatalogueEntry, kPermissionCount> kCatalogue{{
    {Permission::kTokensRead, "tokens:read"},
    {Permission::kTokensWrite, "tokens:write"},
    {Permission::kTokensReveal, "tokens:reveal"},
    {Permission::kUsersRead, "users:read"},
    {Permission::kUsersWrite, "users:write"},
    {Permission::kDepartmentsRead, "departments:read"},
    {Permission::kDepartmentsWrite, "departments:write"},
    {Permission::kUserTypesRead, "user_types:read"},
    {Permission::kUserTypesWrite, "user_types:write"},
    {Permission::kAuditRead, "audit:read"},
    {Permission::kIntrospect, "introspect"},
}};

constexpr std::array<Permission, kPermissionCount> kAll = [] {
  std::array<Permission, kPermissionCount> all{};
  for (std::size_t i = 0; i < kCatalogue.size(); ++i) all[i] = kCatalogue[i].permission;
  return all;
}();

}  // namespace

std::string_view PermissionName(Permission p) {
  for (const auto& entry : kCatalogue) {
    if (entry.permission == p) return entry.name;
  }
  return "";
}

std::optional<Permission> ParsePermission(std::string_view name) {
  for (const auto& entry : kCatalogue) {
    if (entry.name == name) return entry.permission;
  }
  return std::nullopt;
}

std::span<const Permission> AllPermissions() { return kAll; }

PermissionSet PermissionSet::All() {
  PermissionSet set;
  for (Permission p : kAll) set.Add(p);
  return set;
}

PermissionSet PermissionSet::Of(std::initializer_list<Permission> ps) {
  PermissionSet set;
  for (Permission p : ps) set.Add(p);
  return set;
}

std::vector<std::string> PermissionSet::Names() const {
  std::vector<std::string> names;
  for (Permission p : kAll) {
    if (Has(p)) names.emplace_back(PermissionName(p));
  }
  return names;
}

std::string PermissionSet::ToScopeString() const {
  std::size_t size = 0;  // one allocation: every /auth/verify answer carries this string
  for (Permission p : kAll) {
    if (Has(p)) size += PermissionName(p).size() + 1;
  }
  std::string scope;
  scope.reserve(size);
  for (Permission p : kAll) {
    if (!Has(p)) continue;
    if (!scope.empty()) scope += ' ';
    scope += PermissionName(p);
  }
  return scope;
}

std::optional<PermissionSet> PermissionSet::FromNames(std::span<const std::string> names,
                                                      std::string* unknown) {
  PermissionSet set;
  for (const std::string& name : names) {
    std::optional<Permission> p = ParsePermission(name);
    if (!p) {
      if (unknown != nullptr) *unknown = name;
      return std::nullopt;
    }
    set.Add(*p);
  }
  return set;
}

}  // namespace tokend::core
