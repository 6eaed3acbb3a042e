// The domain of DESIGN.md §1 as plain data. No I/O, no JSON, no SQL.
//
// Ids are opaque strings (see ids.h). Times are whole seconds UTC. Optional facts are
// std::optional; state (active/expired/revoked) is derived, never stored (see rules.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/permission.h"

namespace tokend::core {

struct TenantSettings {
  int api_token_max_lifetime_days = 365;
  int api_token_default_lifetime_days = 90;
  bool api_token_reveal = true;  // false = "show once": no sealed copy is kept
  seconds mobile_idle_timeout = days{30};
  seconds mobile_max_lifetime = days{180};
  seconds console_idle_timeout = minutes{60};
  seconds console_max_lifetime = hours{12};
};

struct Tenant {
  std::string id;
  std::string name;  // unique; what users type at sign-in
  TenantSettings settings;
  Time created_at;
};

struct Department {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::optional<std::string> parent_id;  // nullopt only for the tenant's root
  Time created_at;
};

struct UserType {
  std::string id;
  std::string tenant_id;
  std::string name;
  PermissionSet permissions;
  Time created_at;
};

struct Membership {
  std::string department_id;
  std::string user_type_id;
  friend bool operator==(const Membership&, const Membership&) = default;
};

struct User {
  std::string id;
  std::string tenant_id;
  std::string username;  // unique per tenant
  std::string email;
  std::string display_name;
  std::string password_hash;  // Argon2id encoded string; empty = cannot sign in
  bool active = true;
  std::vector<Membership> memberships;  // in the order they were granted
  Time created_at;
};

// Do not change the values: they are stored.
enum class TokenKind { kApi = 1, kMobile = 2 };
std::string_view TokenKindName(TokenKind kind);  // "api" / "mobile"
std::optional<TokenKind> ParseTokenKind(std::string_view name);

// A stored token: facts only. The secret itself is never stored; `lookup_hash` is its keyed
// hash and `sealed_secret` (API tokens, reveal on) its AEAD-sealed copy.
struct Token {
  std::string id;
  std::string tenant_id;
  TokenKind kind = TokenKind::kApi;
  std::string name;                          // API tokens; empty for mobile
  std::string description;                   // API tokens; may be empty
  std::string lookup_hash;                   // 32 raw bytes
  std::optional<std::string> sealed_secret;  // raw bytes: nonce || ciphertext
  std::string token_hint;                    // "tka_…Ab3x": prefix and last four characters
  std::string user_id;
  std::string department_id;
  std::string user_type_id;
  std::optional<std::string> created_by;  // user id; nullopt when created by the CLI
  std::string device_name;                // mobile tokens
  Time created_at;
  Time expires_at;
  std::optional<Time> last_used_at;  // API: last use; mobile: last activity
  std::optional<std::string> last_used_ip;
  std::optional<Time> revoked_at;
};

enum class TokenState { kActive, kExpired, kRevoked };
std::string_view TokenStateName(TokenState state);  // "active" / "expired" / "revoked"

// What a verified credential stands for, computed from current data at verification time.
struct Principal {
  std::string tenant_id;
  std::string user_id;
  std::string username;
  std::string department_id;
  std::string user_type_id;
  PermissionSet permissions;
  // The token that authenticated the request; nullopt for console sessions.
  struct TokenRef {
    std::string id;
    TokenKind kind;
    Time expires_at;
    Time issued_at;
  };
  std::optional<TokenRef> token;
};

struct AuditEvent {
  std::string id;
  std::string tenant_id;
  Time time;
  std::optional<std::string> actor_user_id;  // nullopt: the CLI or an anonymous caller
  std::string actor_username;                // as typed at a failed login, or the actor's name
  std::string action;       // "token.create", "token.delete", "auth.login_failed", ...
  std::string target_type;  // "token", "user", "department", "user_type", "session", ""
  std::string target_id;
  std::string client_ip;
  std::string details_json;  // a JSON object with ids and names; never a secret
};

}  // namespace tokend::core
