#include "store/postgres/pg_notifier.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <utility>

#include "store/postgres/pg_url.h"

namespace tokend::store::postgres {
namespace {

constexpr std::array<std::pair<Invalidation::Kind, std::string_view>, 6> kKindNames = {{
    {Invalidation::Kind::kToken, "token"},
    {Invalidation::Kind::kUser, "user"},
    {Invalidation::Kind::kUserType, "user_type"},
    {Invalidation::Kind::kTenant, "tenant"},
    {Invalidation::Kind::kDepartment, "department"},
    {Invalidation::Kind::kAll, "all"},
}};

// application_name of the listening connection, to tell it apart in pg_stat_activity.
constexpr std::string_view kListenerName = "tokend-listener";

}  // namespace

std::string EncodeInvalidation(const Invalidation& invalidation) {
  std::string_view kind = "all";
  for (const auto& [k, name] : kKindNames) {
    if (k == invalidation.kind) kind = name;
  }
  return std::string(kind) + " " + invalidation.tenant_id + " " + invalidation.id;
}

std::optional<Invalidation> DecodeInvalidation(std::string_view payload) {
  const std::size_t first = payload.find(' ');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = payload.find(' ', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  const std::string_view kind = payload.substr(0, first);
  for (const auto& [k, name] : kKindNames) {
    if (name == kind) {
      return Invalidation{k, std::string(payload.substr(first + 1, second - first - 1)),
                          std::string(payload.substr(second + 1))};
    }
  }
  return std::nullopt;
}

core::Result<PGconn*> OpenListeningConnection(const ConnectionSettings& settings) {
  auto conn = ConnectRaw(settings);
  if (!conn) return conn;
  const std::string sql = "SET application_name = '" + std::string(kListenerName) + "'; LISTEN " +
                          std::string(kInvalidationChannel);
  PGresult* result = PQexec(*conn, sql.c_str());
  if (PQresultStatus(result) != PGRES_COMMAND_OK) {
    core::Error error = ErrorFromResult(*conn, result, "listen");
    error.code = core::ErrorCode::kUnavailable;
    PQclear(result);
    PQfinish(*conn);
    return tl::unexpected(std::move(error));
  }
  PQclear(result);
  return conn;
}

core::Result<std::unique_ptr<PgNotifier>> PgNotifier::Start(const std::string& url,
                                                            Callback callback, Options options) {
  PostgresOptions pool_options;
  auto settings = SettingsFromUrl(url, pool_options);
  if (!settings) return tl::unexpected(std::move(settings.error()));
  auto conn = OpenListeningConnection(*settings);
  if (!conn) return tl::unexpected(std::move(conn.error()));
  std::unique_ptr<PgNotifier> notifier(
      new PgNotifier(std::move(*settings), std::move(callback), options, *conn));
  if (::pipe2(notifier->wake_fd_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return tl::unexpected(core::Internal("pipe2 failed"));
  }
  notifier->connected_ = true;
  notifier->thread_ = std::thread([n = notifier.get()] { n->Run(); });
  return notifier;
}

core::Result<std::unique_ptr<PgNotifier>> PgNotifier::Start(const std::string& url,
                                                            Callback callback) {
  return Start(url, std::move(callback), Options{});
}

PgNotifier::PgNotifier(ConnectionSettings settings, Callback callback, Options options,
                       PGconn* conn)
    : settings_(std::move(settings)),
      callback_(std::move(callback)),
      options_(options),
      conn_(conn) {}

PgNotifier::~PgNotifier() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (wake_fd_[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] auto written = ::write(wake_fd_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  if (conn_ != nullptr) PQfinish(conn_);
  for (int fd : wake_fd_) {
    if (fd >= 0) ::close(fd);
  }
}

bool PgNotifier::SleepUnlessStopped(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !stop_cv_.wait_for(lock, delay, [this] { return stop_; });
}

void PgNotifier::Run() {
  for (;;) {
    Listen();
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
    }
    connected_ = false;
    // From now on announcements are lost. Drop everything at once rather than at the
    // reconnect: when the database itself went away, cached verifications must not outlive it
    // (fail closed, DESIGN.md §1 rule 5); refills then go to the store and get 503 while it is
    // down.
    callback_(Invalidation{Invalidation::Kind::kAll, "", ""});
    if (conn_ != nullptr) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
    // Reconnect until it works or we are stopped.
    while (conn_ == nullptr) {
      if (!SleepUnlessStopped(options_.reconnect_delay)) return;
      if (auto conn = OpenListeningConnection(settings_)) conn_ = *conn;
    }
    connected_ = true;
    ++reconnects_;
    // Whatever was announced while we were away is lost: everything may be stale.
    callback_(Invalidation{Invalidation::Kind::kAll, "", ""});
  }
}

void PgNotifier::Listen() {
  auto last_traffic = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
    }
    std::array<pollfd, 2> fds = {{{PQsocket(conn_), POLLIN, 0}, {wake_fd_[0], POLLIN, 0}}};
    const int ready =
        ::poll(fds.data(), fds.size(), static_cast<int>(options_.probe_interval.count()));
    if (ready < 0) continue;          // EINTR
    if (fds[1].revents != 0) return;  // stop requested
    if (ready == 0 || std::chrono::steady_clock::now() - last_traffic >= options_.probe_interval) {
      // Quiet for a whole interval: make sure the server is still there. Bounded by the
      // connection's tcp_user_timeout and keepalives.
      PGresult* probe = PQexec(conn_, "SELECT 1");
      const bool alive = PQresultStatus(probe) == PGRES_TUPLES_OK;
      PQclear(probe);
      if (!alive) return;
      last_traffic = std::chrono::steady_clock::now();
    }
    if (fds[0].revents != 0) {
      if (PQconsumeInput(conn_) == 0) return;
      last_traffic = std::chrono::steady_clock::now();
    }
    while (PGnotify* notify = PQnotifies(conn_)) {
      auto invalidation = DecodeInvalidation(notify->extra);
      PQfreemem(notify);
      // An announcement this version does not understand may still matter: drop everything.
      callback_(invalidation.value_or(Invalidation{Invalidation::Kind::kAll, "", ""}));
    }
    if (PQstatus(conn_) != CONNECTION_OK) return;
  }
}

}  // namespace tokend::store::postgres
