#include "http/env.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

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

std::string NewRequestId() { return core::RandomBase62(kRequestIdLength); }

Env::Env(ServerOptions options, Services services)
    : options_(std::move(options)), services_(services) {
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
  response.Set("Content-Security-Policy", kContentSecurityPolicy);
  response.Set("X-Content-Type-Options", "nosniff");
  response.Set("Referrer-Policy", "no-referrer");
  response.Set("X-Frame-Options", "DENY");
  if (IsApiPath(request.path)) response.Set("Cache-Control", "no-store");
  response.Set("X-Request-Id", request.request_id);
}

Response Env::Handle(Request& request) const {
  auto start = std::chrono::steady_clock::now();
  if (request.request_id.empty()) request.request_id = NewRequestId();
  std::string_view route = "unmatched";  // views into the router or literals
  Response response;
  RouteMatch match;
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
      match = router_.Match(request);
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
  if (response.status == 403 && !response.Has("WWW-Authenticate") &&
      ParseBearer(request).kind == BearerToken::Kind::kPresent) {
    response.Set("WWW-Authenticate", R"(Bearer realm="tokend", error="insufficient_scope")");
  }
  Finish(request, response, route, start);
  return response;
}

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
  spdlog::info("http method={} path={} status={} duration_ms={:.3f} request_id={} client_ip={}",
               IsKnownMethod(request.method) ? std::string_view(request.method) : "other",
               LoggedPath(request), response.status, seconds * 1000, request.request_id,
               request.client_ip);
}

}  // namespace tokend::http
