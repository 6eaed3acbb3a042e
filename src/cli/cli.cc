#include "cli/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/runtime.h"

namespace tokend::cli {

int Main(int argc, char** argv) {
  CLI::App app{"tokend: issues, verifies and revokes access tokens for multi-tenant systems."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tokend 0.1.0");

  StoreConfig store_config;
  // The chosen subcommand, run after parsing so that CLI11 validates every flag first.
  std::function<int()> run;
  app.add_option("--data-dir", store_config.data_dir,
                 "Directory for the SQLite database and the server key")
      ->envname("TOKEND_DATA_DIR")
      ->capture_default_str();
  app.add_option("--db", store_config.db,
                 "Store URL: sqlite:///path/file.db (default sqlite://<data dir>/tokend.db) or "
                 "postgresql://user@host:port/db")
      ->envname("TOKEND_DB");
  app.add_option("--key-file", store_config.key_file,
                 "Server key file (default <data dir>/server.key, created 0600)")
      ->envname("TOKEND_KEY_FILE");

  // serve
  ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP server and the console");
  serve_cmd->add_option("--listen", serve.listen, "Address and port to listen on")
      ->envname("TOKEND_LISTEN")
      ->capture_default_str();
  serve_cmd->add_option("--threads", serve.threads, "Worker threads (0 = number of cores)")
      ->envname("TOKEND_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  serve_cmd
      ->add_option("--public-url", serve.public_url,
                   "URL clients use to reach tokend, for usage texts")
      ->envname("TOKEND_PUBLIC_URL");
  serve_cmd
      ->add_flag("--secure-cookies", serve.secure_cookies,
                 "Mark the session cookie Secure (when served behind TLS)")
      ->envname("TOKEND_SECURE_COOKIES");
  serve_cmd->add_option("--log-level", serve.log_level, "trace, debug, info, warn, error")
      ->envname("TOKEND_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  serve_cmd->add_option("--cache-size", serve.cache_size, "Verification cache capacity in tokens")
      ->envname("TOKEND_CACHE_SIZE")
      ->check(CLI::Range(0, 100'000'000))
      ->capture_default_str();
  serve_cmd
      ->add_option("--cache-ttl", serve.cache_ttl_seconds,
                   "Seconds a cached verification may be reused [default: 5 on PostgreSQL, 60 "
                   "on SQLite]")
      ->envname("TOKEND_CACHE_TTL")
      ->check(CLI::Range(0, 300));
  serve_cmd
      ->add_option("--activity-interval", serve.activity_interval_seconds,
                   "Seconds between write-behind flushes of last-used/last-active")
      ->envname("TOKEND_ACTIVITY_INTERVAL")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve_cmd->callback([&] { run = [&] { return RunServe(store_config, serve); }; });

  // tenant
  auto* tenant_cmd = app.add_subcommand("tenant", "Manage tenants");
  tenant_cmd->require_subcommand(1);
  TenantCreateOptions tenant_create;
  auto* tenant_create_cmd = tenant_cmd->add_subcommand("create", "Create a tenant with an admin");
  tenant_create_cmd->add_option("name", tenant_create.name, "Tenant name")->required();
  tenant_create_cmd->add_option("--admin-username", tenant_create.admin_username)
      ->capture_default_str();
  tenant_create_cmd->add_option("--admin-password", tenant_create.admin_password,
                                "Admin password (default: random, printed once)");
  tenant_create_cmd->callback(
      [&] { run = [&] { return RunTenantCreate(store_config, tenant_create); }; });
  TenantSettingsOptions tenant_settings;
  auto* tenant_settings_cmd = tenant_cmd->add_subcommand(
      "settings", "Show a tenant's settings, changing those given (new tokens and sessions)");
  tenant_settings_cmd->add_option("name", tenant_settings.name, "Tenant name")
      ->capture_default_str();
  tenant_settings_cmd
      ->add_option("--api-token-reveal", tenant_settings.api_token_reveal,
                   "on: administrators can reveal API tokens again; off: show once")
      ->check(CLI::IsMember({"on", "off"}));
  tenant_settings_cmd
      ->add_option("--api-token-max-days", tenant_settings.api_token_max_days,
                   "Longest API token lifetime accepted")
      ->check(CLI::Range(1, 3650));
  tenant_settings_cmd
      ->add_option("--api-token-default-days", tenant_settings.api_token_default_days,
                   "Expiry the console and CLI pre-fill")
      ->check(CLI::Range(1, 3650));
  tenant_settings_cmd
      ->add_option("--mobile-idle-days", tenant_settings.mobile_idle_days,
                   "Mobile tokens expire after this many days without activity")
      ->check(CLI::Range(1, 3650));
  tenant_settings_cmd
      ->add_option("--mobile-max-days", tenant_settings.mobile_max_days,
                   "Mobile tokens never live longer than this after sign-in")
      ->check(CLI::Range(1, 3650));
  tenant_settings_cmd
      ->add_option("--console-idle-minutes", tenant_settings.console_idle_minutes,
                   "Console sessions end after this idle time")
      ->check(CLI::Range(1, 1440));
  tenant_settings_cmd
      ->add_option("--console-max-hours", tenant_settings.console_max_hours,
                   "Console sessions end after this time in all")
      ->check(CLI::Range(1, 24));
  tenant_settings_cmd->callback(
      [&] { run = [&] { return RunTenantSettings(store_config, tenant_settings); }; });
  auto* tenant_list_cmd = tenant_cmd->add_subcommand("list", "List tenants");
  tenant_list_cmd->callback([&] { run = [&] { return RunTenantList(store_config); }; });

  // user
  auto* user_cmd = app.add_subcommand("user", "Manage users");
  user_cmd->require_subcommand(1);
  UserAddOptions user_add;
  auto* user_add_cmd = user_cmd->add_subcommand("add", "Add a user");
  user_add_cmd->add_option("--tenant", user_add.tenant)->capture_default_str();
  user_add_cmd->add_option("--username", user_add.username)->required();
  user_add_cmd->add_option("--email", user_add.email)->required();
  user_add_cmd->add_option("--display-name", user_add.display_name);
  user_add_cmd->add_flag("--password-stdin", user_add.password_stdin,
                         "Read the password from the first line of standard input");
  user_add_cmd
      ->add_option("--membership", user_add.memberships,
                   "DEPARTMENT:USER_TYPE (names or ids); repeatable")
      ->required();
  user_add_cmd->callback([&] { run = [&] { return RunUserAdd(store_config, user_add); }; });
  UserListOptions user_list;
  auto* user_list_cmd = user_cmd->add_subcommand("list", "List users");
  user_list_cmd->add_option("--tenant", user_list.tenant)->capture_default_str();
  user_list_cmd->callback([&] { run = [&] { return RunUserList(store_config, user_list); }; });

  // token
  auto* token_cmd = app.add_subcommand("token", "Manage tokens");
  token_cmd->require_subcommand(1);
  TokenCreateOptions token_create;
  auto* token_create_cmd = token_cmd->add_subcommand("create", "Create an API token");
  token_create_cmd->add_option("--tenant", token_create.tenant)->capture_default_str();
  token_create_cmd->add_option("--name", token_create.name)->required();
  token_create_cmd->add_option("--description", token_create.description);
  token_create_cmd->add_option("--expires", token_create.expires,
                               "YYYY-MM-DD or RFC 3339 (default: 90 days ahead)");
  token_create_cmd->add_option("--user", token_create.user, "Username or id")->required();
  token_create_cmd->add_option("--department", token_create.department, "Name or id")->required();
  token_create_cmd->add_option("--user-type", token_create.user_type, "Name or id")->required();
  token_create_cmd->callback(
      [&] { run = [&] { return RunTokenCreate(store_config, token_create); }; });

  TokenListOptions token_list;
  auto* token_list_cmd = token_cmd->add_subcommand("list", "List tokens");
  token_list_cmd->add_option("--tenant", token_list.tenant)->capture_default_str();
  token_list_cmd->add_option("--kind", token_list.kind)
      ->check(CLI::IsMember({"api", "mobile"}))
      ->capture_default_str();
  token_list_cmd->add_option("--limit", token_list.limit)
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  token_list_cmd->callback([&] { run = [&] { return RunTokenList(store_config, token_list); }; });

  TokenShowOptions token_show;
  auto* token_show_cmd = token_cmd->add_subcommand("show", "Show one token");
  token_show_cmd->add_option("--tenant", token_show.tenant)->capture_default_str();
  token_show_cmd->add_option("id", token_show.id)->required();
  token_show_cmd->callback([&] { run = [&] { return RunTokenShow(store_config, token_show); }; });

  TokenRevokeOptions token_revoke;
  auto* token_revoke_cmd = token_cmd->add_subcommand("revoke", "Revoke (delete) tokens");
  token_revoke_cmd->add_option("--tenant", token_revoke.tenant)->capture_default_str();
  token_revoke_cmd->add_option("ids", token_revoke.ids)->required();
  token_revoke_cmd->callback(
      [&] { run = [&] { return RunTokenRevoke(store_config, token_revoke); }; });

  auto* token_verify_cmd = token_cmd->add_subcommand(
      "verify", "Verify a token read from standard input (never pass tokens as arguments)");
  token_verify_cmd->callback([&] { run = [&] { return RunTokenVerify(store_config); }; });

  for (auto* sub : {serve_cmd, tenant_cmd, user_cmd, token_cmd}) sub->fallthrough();
  for (auto* sub :
       {tenant_create_cmd, tenant_list_cmd, user_add_cmd, user_list_cmd, token_create_cmd,
        token_list_cmd, token_show_cmd, token_revoke_cmd, token_verify_cmd}) {
    sub->fallthrough();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return run ? run() : kExitUsage;
}

}  // namespace tokend::cli
