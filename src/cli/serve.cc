// `tokend serve`: the composition root of the server.
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "http/server.h"
#include "service/activity.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/bootstrap.h"
#include "service/directory_service.h"
#include "service/external_changes.h"
#include "service/login_throttle.h"
#include "service/token_service.h"
#include "service/verification_cache.h"
#include "store/postgres/pg_notifier.h"

namespace tokend::cli {

namespace {

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:0".
std::optional<ListenAddress> ParseListen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return std::nullopt;
  }
  return ListenAddress{host, static_cast<std::uint16_t>(port)};
}

constexpr int kPostgresCacheTtlSeconds = 5;
constexpr int kSqliteCacheTtlSeconds = 60;

}  // namespace

int RunServe(const StoreConfig& store_config, const ServeOptions& options) {
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  auto listen = ParseListen(options.listen);
  if (!listen) {
    return ReportError(
        core::InvalidArgument("--listen must be HOST:PORT, got '" + options.listen + "'"));
  }

  auto opened = OpenRuntime(store_config);
  if (!opened) return ReportError(opened.error());
  Runtime& runtime = **opened;
  store::Store& store = *runtime.store;

  std::optional<std::string> admin_password;
  // Read once, before any thread starts.
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* env = std::getenv("TOKEND_BOOTSTRAP_ADMIN_PASSWORD"); env && *env) {
    admin_password = env;
  }
  auto bootstrap = service::Bootstrap(store, runtime.clock, runtime.hasher, admin_password);
  if (!bootstrap) return ReportError(bootstrap.error());

  // The time-to-live bounds how long a change can go unseen when its announcement is lost.
  // PostgreSQL announcements can be lost (a partitioned instance), so its entries live 5 s.
  // A change to a SQLite file is never missed: this process invalidates its own changes as
  // it makes them, and the watcher below sees every other process's commit within 100 ms.
  // There the TTL is only a safety net, and a long one spares the refills that would
  // otherwise cost a quarter of the verification throughput (docs/performance.md).
  const bool postgres = runtime.config.db.starts_with("postgres");
  const int cache_ttl_seconds = options.cache_ttl_seconds.value_or(
      postgres ? kPostgresCacheTtlSeconds : kSqliteCacheTtlSeconds);
  // Declared after the store and destroyed before it: the recorder flushes into the store.
  service::VerificationCache cache(
      runtime.clock,
      service::VerificationCacheOptions{.capacity = static_cast<std::size_t>(options.cache_size),
                                        .ttl = core::seconds{cache_ttl_seconds},
                                        .negative_ttl = core::seconds{cache_ttl_seconds}});
  service::ActivityRecorder activity(
      store, service::ActivityOptions{.interval =
                                          std::chrono::seconds{options.activity_interval_seconds}});
  // Several instances on one PostgreSQL: revocations and permission changes made by any of
  // them reach this instance's cache at once (DESIGN.md §6). Without the listener the cache
  // time-to-live still bounds how long a change can go unseen.
  std::unique_ptr<store::postgres::PgNotifier> notifier;
  std::unique_ptr<service::ExternalChangeWatcher> watcher;
  if (!postgres) {
    watcher = std::make_unique<service::ExternalChangeWatcher>(store,
                                                               [&cache] { cache.InvalidateAll(); });
  } else {
    auto started = store::postgres::PgNotifier::Start(
        runtime.config.db, [&cache](const store::postgres::Invalidation& change) {
          using Kind = store::postgres::Invalidation::Kind;
          switch (change.kind) {
            case Kind::kToken:
              cache.InvalidateTokenId(change.id);
              break;
            case Kind::kUser:
              cache.InvalidateUser(change.tenant_id, change.id);
              break;
            case Kind::kUserType:
              cache.InvalidateUserType(change.tenant_id, change.id);
              break;
            case Kind::kTenant:
            case Kind::kDepartment:
              cache.InvalidateTenant(change.tenant_id);
              break;
            case Kind::kAll:
              cache.InvalidateAll();
              break;
          }
        });
    if (started) {
      notifier = std::move(*started);
    } else {
      spdlog::warn(
          "cross-instance invalidation is off ({}); cached verifications expire after "
          "{} s",
          started.error().log_detail.empty() ? started.error().public_message
                                             : started.error().log_detail,
          cache_ttl_seconds);
    }
  }
  service::LoginThrottle throttle;
  service::TokenServiceOptions token_options;
  token_options.activity = &activity;
  token_options.cache = options.cache_size > 0 ? &cache : nullptr;
  service::TokenService tokens(store, runtime.clock, *runtime.key, token_options);
  service::AuthService auth(store, runtime.clock, *runtime.key, runtime.hasher, tokens, &throttle);
  service::DirectoryService directory(store, runtime.clock, runtime.hasher, &cache);
  service::AuditService audit(store);

  http::ServerOptions server_options;
  server_options.address = listen->host;
  server_options.port = listen->port;
  server_options.threads = options.threads;
  server_options.public_url = options.public_url;
  server_options.secure_cookies = options.secure_cookies;
  http::Server server(server_options,
                      http::Services{store, runtime.clock, tokens, auth, directory, audit});
  if (auto started = server.Start(); !started) return ReportError(started.error());

  const std::string host =
      listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
  const std::string url = "http://" + host + ":" + std::to_string(server.port());
  if (bootstrap->created) {
    std::cout << "Created tenant 'default' with administrator 'admin'.\n";
    if (bootstrap->generated_password) {
      std::cout << "Administrator password (shown once, change it after signing in): "
                << *bootstrap->generated_password << "\n";
    } else {
      std::cout << "Administrator password: taken from TOKEND_BOOTSTRAP_ADMIN_PASSWORD.\n";
    }
  }
  std::cout << "Console: open " << url << "/ and sign in with tenant 'default'.\n";
  // Tests and scripts wait for this exact line.
  std::cout << "tokend listening on " << url << std::endl;

  // Pending last-used / last-active facts are written before the process exits.
  server.Run([&] { activity.Stop(); });
  spdlog::info("tokend stopped");
  return kExitOk;
}

}  // namespace tokend::cli
