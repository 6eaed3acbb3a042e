// The HTTP server: a listener accepting on one address, sessions reading and writing, and a
// router turning requests into responses (handlers never see a socket).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "http/message.h"
#include "http/router.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/directory_service.h"
#include "service/token_service.h"
#include "store/store.h"

namespace tokend::http {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 = any free port (tests); see Server::port()
  int threads = 0;            // 0 = the number of cores
  // The address clients use to reach tokend, for the "usage" text of API tokens
  // (e.g. "https://tokens.example.com"). Empty = derived from the request's Host header.
  std::string public_url;
  bool secure_cookies = false;  // set Secure on the session cookie (behind TLS)
  // Connection timeouts, enforced to the second (a per-thread sweep, not a timer per I/O).
  // One request must arrive completely within request_timeout of its first byte: slow-loris
  // clients would otherwise hold connections (and file descriptors) for ever.
  std::chrono::seconds request_timeout{30};
  // An idle keep-alive connection is closed after idle_timeout: longer than typical client
  // pools (nginx upstream keepalive_timeout 60 s, Node's agent 5 s) so they close first, short
  // enough to shed abandoned connections.
  std::chrono::seconds idle_timeout{60};
  // A client that does not take its response within write_timeout is gone or hostile.
  std::chrono::seconds write_timeout{30};
};

// The use cases the handlers call. All references outlive the Server.
struct Services {
  store::Store& store;
  const core::Clock& clock;
  service::TokenService& tokens;
  service::AuthService& auth;
  service::DirectoryService& directory;
  service::AuditService& audit;
};

// The bytes of `response` as an HTTP/1.x answer (status line, headers, framing, body) in
// `out`, which is cleared first. `version` is 10 or 11 (the request's); `head` leaves the body
// out but keeps its Content-Length. Headers that set the framing (Content-Length, Connection,
// Transfer-Encoding) are the session's own and are skipped; a header containing CR, LF or NUL is
// dropped (and logged) rather than sent.
void SerializeResponse(const Response& response, unsigned version, bool keep_alive, bool head,
                       std::string& out);

class Server {
 public:
  Server(ServerOptions options, Services services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // A route beside the built-in ones (tests; later extensions). Only before Start.
  void AddRoute(std::string method, std::string pattern, Handler handler,
                Execution execution = Execution::kByMethod);
  // Binds and listens. kUnavailable when the address cannot be bound.
  core::Result<void> Start();
  // The bound port (after Start).
  std::uint16_t port() const;
  // Serves until SIGINT/SIGTERM or Stop(); then stops accepting, finishes in-flight requests,
  // flushes pending writes and returns. `on_stopping` runs once before the threads are joined
  // (e.g. to flush write-behind activity).
  void Run(std::function<void()> on_stopping = {});
  // Thread-safe; may be called from any thread or a signal-handling coroutine.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokend::http
