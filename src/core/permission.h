// The fixed permission catalogue of DESIGN.md §1 and sets of permissions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokend::core {

// Bit positions are stored (as a bitmask) nowhere outside memory: the store keeps permission
// names. Still, append new permissions at the end.
enum class Permission : std::uint8_t {
  kTokensRead,
  kTokensWrite,
  kTokensReveal,
  kUsersRead,
  kUsersWrite,
  kDepartmentsRead,
  kDepartmentsWrite,
  kUserTypesRead,
  kUserTypesWrite,
  kAuditRead,
  kIntrospect,
};
inline constexpr int kPermissionCount = 11;

// "tokens:read" etc.
std::string_view PermissionName(Permission p);
std::optional<Permission> ParsePermission(std::string_view name);
// Every permission, in catalogue order.
std::span<const Permission> AllPermissions();

class PermissionSet {
 public:
  constexpr PermissionSet() = default;
  static constexpr PermissionSet FromBits(std::uint32_t bits) { return PermissionSet(bits); }
  static PermissionSet All();
  static PermissionSet Of(std::initializer_list<Permission> ps);

  bool Has(Permission p) const { return (bits_ & Bit(p)) != 0; }
  void Add(Permission p) { bits_ |= Bit(p); }
  void Remove(Permission p) { bits_ &= ~Bit(p); }
  bool IsSubsetOf(PermissionSet other) const { return (bits_ & ~other.bits_) == 0; }
  bool Empty() const { return bits_ == 0; }
  std::uint32_t bits() const { return bits_; }

  // Names in catalogue order.
  std::vector<std::string> Names() const;
  // Space-separated names in catalogue order (OAuth "scope", X-Auth-Permissions).
  std::string ToScopeString() const;
  // Parses names; returns the first unknown name in `unknown` and nullopt on failure.
  static std::optional<PermissionSet> FromNames(std::span<const std::string> names,
                                                std::string* unknown = nullptr);

  friend bool operator==(PermissionSet, PermissionSet) = default;

 private:
  constexpr explicit PermissionSet(std::uint32_t bits) : bits_(bits) {}
  static constexpr std::uint32_t Bit(Permission p) {
    return std::uint32_t{1} << static_cast<unsigned>(p);
  }
  std::uint32_t bits_ = 0;
};

}  // namespace tokend::core
