#include "http/env.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "core/crypto.h"
#include "http/auth.h"
#include "http/handlers.h"
#include "http/problem.h"

namespace tokend::http {

namespace {

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// 16 base62 characters (95 bits): unique enough to find one request in any log.
constexpr std::size_t kRequestIdLength = 16;

bool IsKnownMethod(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return true;
  }
  return false;
}

bool UnderPrefix(std::string_view path, std::string_view prefix) {
  return path == prefix ||
         (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

// Paths that belong to the API (404 problem when unknown) rather than to the console.
bool IsApiPath(std::string_view path) {
  return UnderPrefix(path, "/api") || UnderPrefix(path, "/oauth2") || UnderPrefix(path, "/auth");
}

// The path for the access log, with anything shaped like a token string replaced: a client
// that puts a token in a URL must not get it written to disk as well.
std::string LoggedPath(const Request& request) {
  std::string out;
  for (const std::string& segment : request.segments) {
    out += '/';
    if (segment.starts_with("tka_") || segment.starts_with("tkm_")) {
      out += "[redacted]";
    } else {
      out += segment;
    }
  }
  return out.empty() ? "/" : out;
}

// Host header values that are safe to put in the usage text (no spaces, quotes or scripts).
bool IsPlainHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

// Request ids: a random per-thread prefix from the CSPRNG and a per-thread counter, both in
// base62. Unique within the process (a prefix repeats with probability ~2^-59 per pair of
// threads) and unpredictable enough for a log key, at the cost of an increment instead of a
// getrandom() system call per request (~2% of a cached /auth/verify).
constexpr std::size_t kRequestIdPrefixLength = 10;
constexpr std::size_t kRequestIdCounterLength = kRequestIdLength - kRequestIdPrefixLength;
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::string NewRequestId() {
  struct State {
    std::string prefix;
    std::uint64_t counter = 0;
  };
  thread_local State state;
  // 62^6 ids per prefix; a fresh prefix then (and on a thread's first request).
  constexpr std::uint64_t kCounterLimit = 56'800'235'584;
  if (state.prefix.empty() || state.counter == kCounterLimit) {
    state.prefix = core::RandomBase62(kRequestIdPrefixLength);
    state.counter = 0;
  }
  std::string id;
  id.reserve(kRequestIdLength);
  id = state.prefix;
  char digits[kRequestIdCounterLength];
  std::uint64_t n = state.counter++;
  for (std::size_t i = kRequestIdCounterLength; i-- > 0;) {
    digits[i] = kBase62[n % 62];
    n /= 62;
  }
  id.append(digits, kRequestIdCounterLength);
  return id;
}

namespace {

// Forwards each line to the sinks the default logger has when the line is written, so that the
// access log follows a logger swapped after start (tests capture it that way).
class DefaultLoggerSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::uint64_t written() const { return written_.load(std::memory_order_acquire); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    auto logger = spdlog::default_logger();
    for (auto& sink : logger->sinks()) {
      if (sink->should_log(msg.level)) sink->log(msg);
    }
    written_.fetch_add(1, std::memory_order_release);
  }
  void flush_() override { spdlog::default_logger()->flush(); }

 private:
  std::atomic<std::uint64_t> written_{0};
};

}  // namespace

// The access log: one line per request, written by a background thread so that a request
// never waits for the terminal or a pipe (a synchronous line cost a write() per request). The
// queue is bounded (kQueue lines); when the writer falls behind, the oldest queued lines are
// dropped rather than slowing requests down or growing without bound. Lines go to the default
// logger's sinks, and its level gates them: `--log-level warn` turns the access log off.
class AccessLog {
 public:
  // ~2.5 MB of queued lines at most; about 0.1 s of a saturated server.
  static constexpr std::size_t kQueue = 8192;

  AccessLog()
      : pool_(std::make_shared<spdlog::details::thread_pool>(kQueue, 1)),
        sink_(std::make_shared<DefaultLoggerSink>()),
        logger_(std::make_shared<spdlog::async_logger>(
            "access", sink_, pool_, spdlog::async_overflow_policy::overrun_oldest)) {
    logger_->set_level(spdlog::level::trace);  // gated by the default logger's level instead
  }

  template <typename... Args>
  void Info(fmt::format_string<Args...> format, Args&&... args) {
    queued_.fetch_add(1, std::memory_order_relaxed);
    logger_->info(format, std::forward<Args>(args)...);
  }

  // Waits (up to `limit`) until every line queued so far was written or dropped.
  void Flush(std::chrono::milliseconds limit) {
    std::uint64_t target = queued_.load(std::memory_order_relaxed);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (sink_->written() + pool_->overrun_counter() < target &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    logger_->flush();
  }

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<DefaultLoggerSink> sink_;
  std::shared_ptr<spdlog::async_logger> logger_;
  std::atomic<std::uint64_t> queued_{0};
};

Env::Env(ServerOptions options, Services services)
    : options_(std::move(options)),
      services_(services),
      access_log_(std::make_shared<AccessLog>()) {
  AddAuthRoutes(router_);
  AddTokenRoutes(router_);
  AddDirectoryRoutes(router_);
  AddIdentityRoutes(router_);
  AddOpsRoutes(router_);
}

std::string_view Env::SessionCookieName() const {
  return options_.secure_cookies ? "__Host-tokend_session" : "tokend_session";
}

std::string Env::BaseUrl(const Request& request) const {
  if (!options_.public_url.empty()) {
    std::string url = options_.public_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  std::string_view host = request.Header("host");
  if (!IsPlainHost(host)) host = "localhost";
  return "http://" + std::string(host);
}

service::RequestContext Env::Context(const Request& request) const {
  return service::RequestContext{request.client_ip, request.request_id};
}

void AddStandardHeaders(const Request& request, Response& response) {
  // A 1xx, 204 or 304 answer has no body for a browser to sniff, render, frame or leave by a
  // link, so these ~270 bytes would only cost every /auth/verify (a 204) and its caller.
  if (!StatusHasNoBody(response.status)) {
    response.Set("Content-Security-Policy", kContentSecurityPolicy);
    response.Set("X-Content-Type-Options", "nosniff");
    response.Set("Referrer-Policy", "no-referrer");
    response.Set("X-Frame-Options", "DENY");
  }
  if (IsApiPath(request.path)) response.Set("Cache-Control", "no-store");
  response.Set("X-Request-Id", request.request_id);
}

Response Env::Handle(Request& request) const { return Handle(request, router_.Match(request)); }

Response Env::Handle(Request& request, const RouteMatch& match) const {
  auto start = std::chrono::steady_clock::now();
  if (request.request_id.empty()) request.request_id = NewRequestId();
  std::string_view route = "unmatched";  // views into the router or literals
  Response response;
  try {
    if (!IsKnownMethod(request.method)) {
      response = Problem(405, "This method is not supported.");
      response.Set("Allow", "");
    } else if (request.Query("access_token")) {
      // RFC 6750 §2.3 allows it, but URLs end up in logs and browser history.
      response = Problem(400,
                         "Tokens are not accepted in the query string; use the "
                         "Authorization header.",
                         {{"access_token", "not allowed in the query string"}});
    } else {
      switch (match.kind) {
        case RouteMatch::Kind::kFound:
          route = match.route->pattern;
          response = match.route->handler(*this, request);
          break;
        case RouteMatch::Kind::kMethodNotAllowed:
          route = match.pattern;
          response = Problem(405, "This method is not allowed on this resource.");
          response.Set("Allow", match.allow);
          break;
        case RouteMatch::Kind::kNotFound:
          if (IsApiPath(request.path)) {
            response = Problem(404, "No such resource.");
          } else if (request.method == "GET" || request.method == "HEAD") {
            route = "console";
            response = ServeConsole(request);
          } else {
            response = Problem(405, "This method is not allowed on this resource.");
            response.Set("Allow", "GET, HEAD");
          }
          break;
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("request_id={} unhandled exception: {}", request.request_id, e.what());
    response = Problem(500, "Internal error.");
  } catch (...) {
    spdlog::error("request_id={} unhandled non-standard exception", request.request_id);
    response = Problem(500, "Internal error.");
  }
  // Directory writes on this instance show in /api/v1/me at once (display_cache.h).
  if (response.status < 400 && ChangesState(request.method) &&
      (UnderPrefix(request.path, "/api/v1/users") ||
       UnderPrefix(request.path, "/api/v1/departments") ||
       UnderPrefix(request.path, "/api/v1/user-types"))) {
    display_cache_.Clear();
  }
  if (response.status == 403 && !response.Has("WWW-Authenticate") &&
      ParseBearer(request).kind == BearerToken::Kind::kPresent) {
    response.Set("WWW-Authenticate", R"(Bearer realm="tokend", error="insufficient_scope")");
  }
  Finish(request, response, route, start);
  return response;
}

void Env::FlushAccessLog() const { access_log_->Flush(std::chrono::seconds(2)); }

Response Env::Reject(Request& request, int status, std::string_view detail) const {
  auto start = std::chrono::steady_clock::now();
  if (request.request_id.empty()) request.request_id = NewRequestId();
  Response response = Problem(status, detail);
  Finish(request, response, "unmatched", start);
  return response;
}

void Env::Finish(const Request& request, Response& response, std::string_view route,
                 std::chrono::steady_clock::time_point start) const {
  AddStandardHeaders(request, response);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.RecordRequest(route, request.method, response.status, seconds);
  // Never the query string or a header: a token may be in either.
  if (spdlog::should_log(spdlog::level::info)) {
    access_log_->Info(
        "http method={} path={} status={} duration_ms={:.3f} request_id={} client_ip={}",
        IsKnownMethod(request.method) ? std::string_view(request.method) : "other",
        LoggedPath(request), response.status, seconds * 1000, request.request_id,
        request.client_ip);
  }
}

}  // namespace tokend::http
