// The subcommands of `tokend`. Each returns a process exit code (exit_code.h) and prints
// errors to stderr as "tokend: <message>".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/runtime.h"

namespace tokend::cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  int threads = 0;
  std::string public_url;
  bool secure_cookies = false;
  std::string log_level = "info";
  int cache_size = 1'000'000;
  // Unset: kPostgresCacheTtlSeconds or kSqliteCacheTtlSeconds (serve.cc says why they differ).
  std::optional<int> cache_ttl_seconds;
  int activity_interval_seconds = 5;
};
int RunServe(const StoreConfig& store_config, const ServeOptions& options);

struct TenantCreateOptions {
  std::string name;
  std::string admin_username = "admin";
  std::string admin_password;
};
int RunTenantCreate(const StoreConfig& store_config, const TenantCreateOptions& options);
int RunTenantList(const StoreConfig& store_config);

// Shows a tenant's settings, changing those given first.
struct TenantSettingsOptions {
  std::string name = "default";
  std::optional<std::string> api_token_reveal;  // "on" / "off"
  std::optional<int> api_token_max_days;
  std::optional<int> api_token_default_days;
  std::optional<int> mobile_idle_days;
  std::optional<int> mobile_max_days;
  std::optional<int> console_idle_minutes;
  std::optional<int> console_max_hours;
};
int RunTenantSettings(const StoreConfig& store_config, const TenantSettingsOptions& options);

struct UserAddOptions {
  std::string tenant = "default";
  std::string username, email, display_name;
  bool password_stdin = false;
  std::vector<std::string> memberships;  // "DEPARTMENT:USER_TYPE"
};
int RunUserAdd(const StoreConfig& store_config, const UserAddOptions& options);

struct UserListOptions {
  std::string tenant = "default";
};
int RunUserList(const StoreConfig& store_config, const UserListOptions& options);

struct TokenCreateOptions {
  std::string tenant = "default";
  std::string name, description, expires, user, department, user_type;
};
int RunTokenCreate(const StoreConfig& store_config, const TokenCreateOptions& options);

struct TokenListOptions {
  std::string tenant = "default";
  std::string kind = "api";
  int limit = 50;
};
int RunTokenList(const StoreConfig& store_config, const TokenListOptions& options);

struct TokenShowOptions {
  std::string tenant = "default";
  std::string id;
};
int RunTokenShow(const StoreConfig& store_config, const TokenShowOptions& options);

struct TokenRevokeOptions {
  std::string tenant = "default";
  std::vector<std::string> ids;
};
int RunTokenRevoke(const StoreConfig& store_config, const TokenRevokeOptions& options);

int RunTokenVerify(const StoreConfig& store_config);

// Prints "tokend: <public message>" to stderr (and field errors), returns the exit code.
int ReportError(const core::Error& error);

}  // namespace tokend::cli
