// Cross-instance invalidation over PostgreSQL LISTEN/NOTIFY (DESIGN.md §6).
//
// Writers: the PostgreSQL store announces every change that can alter a verification result
// with NOTIFY on kInvalidationChannel inside the transaction that makes it, so the
// announcement is delivered if and only if the change commits:
//   RevokeTokens          → kToken per revoked token
//   UpdateUser/DeleteUser → kUser (active flag, memberships; DeleteUser also revokes)
//   UpdateUserType/DeleteUserType → kUserType (permissions)
//   UpdateTenantSettings  → kTenant
//   UpdateDepartment/DeleteDepartment → kDepartment (the tree, hence scopes)
// Readers: a PgNotifier per instance keeps one dedicated connection LISTENing and hands each
// announcement to a callback (e.g. the verification cache dropping entries).
//
// Delivery is at most once: while the listening connection is down, announcements are lost.
// So after every reconnect the notifier reports kAll (drop everything), and cached entries
// must still carry a short time-to-live.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/error.h"
#include "store/postgres/pg_connection.h"

namespace tokend::store::postgres {

inline constexpr std::string_view kInvalidationChannel = "tokend_invalidate";

struct Invalidation {
  // Do not change the names: they travel between instances of different versions.
  enum class Kind { kToken, kUser, kUserType, kTenant, kDepartment, kAll };
  Kind kind = Kind::kAll;
  std::string tenant_id;  // empty for kAll
  std::string id;         // the token, user, user type or department id; empty otherwise
  friend bool operator==(const Invalidation&, const Invalidation&) = default;
};

// "<kind> <tenant_id> <id>" (ids are base62: no spaces). Payloads stay far below NOTIFY's
// 8000-byte limit.
std::string EncodeInvalidation(const Invalidation& invalidation);
// nullopt for a payload this version does not understand (a newer kind): callers should
// treat that as kAll.
std::optional<Invalidation> DecodeInvalidation(std::string_view payload);

class PgNotifier {
 public:
  using Callback = std::function<void(const Invalidation&)>;
  struct Options {
    // Wait between reconnection attempts while the server is unreachable.
    std::chrono::milliseconds reconnect_delay{1000};
    // An idle listening connection is probed this often, so a silently dead one (network
    // loss without RST) is found and replaced.
    std::chrono::milliseconds probe_interval{15000};
  };

  // Starts listening on a background thread. `callback` runs on that thread, one call at a
  // time, and must not block for long. kUnavailable when the first connection fails (the
  // caller decides whether to run without it); kInvalidArgument for a bad URL parameter.
  static core::Result<std::unique_ptr<PgNotifier>> Start(const std::string& url, Callback callback,
                                                         Options options);
  static core::Result<std::unique_ptr<PgNotifier>> Start(const std::string& url, Callback callback);
  // Stops the thread and closes the connection.
  ~PgNotifier();
  PgNotifier(const PgNotifier&) = delete;
  PgNotifier& operator=(const PgNotifier&) = delete;

  // Whether the listening connection is up now. Thread-safe.
  bool connected() const { return connected_.load(); }
  // How many times the connection was re-established after a loss. Thread-safe.
  int reconnects() const { return reconnects_.load(); }

 private:
  PgNotifier(ConnectionSettings settings, Callback callback, Options options, PGconn* conn);
  void Run();
  // Reads notifications until the connection breaks or Stop is requested.
  void Listen();
  bool SleepUnlessStopped(std::chrono::milliseconds delay);

  const ConnectionSettings settings_;
  const Callback callback_;
  const Options options_;
  PGconn* conn_;               // owned by the thread once started
  int wake_fd_[2] = {-1, -1};  // a pipe: writing to it wakes the thread's poll()

  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // GUARDED_BY(mutex_)
  std::atomic<bool> connected_{false};
  std::atomic<int> reconnects_{0};
  std::thread thread_;
};

// Opens a connection and runs LISTEN on it. kUnavailable on failure.
core::Result<PGconn*> OpenListeningConnection(const ConnectionSettings& settings);

}  // namespace tokend::store::postgres
