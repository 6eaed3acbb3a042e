// The handlers' environment and the request pipeline that surrounds every handler:
// request id, routing, the catch-all, security headers, metrics and the access log.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "http/display_cache.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "service/context.h"

namespace tokend::http {

class AccessLog;  // env.cc

class Env {
 public:
  Env(ServerOptions options, Services services);

  const ServerOptions& options() const { return options_; }
  const Services& services() const { return services_; }
  Metrics& metrics() const { return metrics_; }
  DisplayCache& display_cache() const { return display_cache_; }
  const Router& router() const { return router_; }
  // Adds a route beside the built-in ones (tests; later extensions). Not thread-safe: only
  // before the server starts.
  void AddRoute(std::string method, std::string pattern, Handler handler,
                Execution execution = Execution::kByMethod) {
    router_.Add(std::move(method), std::move(pattern), handler, execution);
  }

  // The name of the console session cookie: "__Host-tokend_session" when cookies are Secure
  // (the prefix requires it), else "tokend_session".
  std::string_view SessionCookieName() const;
  // "https://tokens.example.com" from ServerOptions::public_url, else "http://<Host>".
  std::string BaseUrl(const Request& request) const;
  service::RequestContext Context(const Request& request) const;

  // Turns any request into a response. Never throws: a handler's exception becomes a 500 with
  // a generic body and the detail in the log. Assigns request.request_id when empty.
  Response Handle(Request& request) const;
  // The same with the route already matched (router().Match(request)): the server matches
  // first to learn where the handler runs (Route::execution), and matches only once.
  Response Handle(Request& request, const RouteMatch& match) const;
  // The answer to a request that could not be parsed far enough to be routed (bad target,
  // oversized header or body): a problem response with the standard headers, counted and
  // logged like any other.
  Response Reject(Request& request, int status, std::string_view detail) const;
  // Waits (at most 2 s) until every access-log line of the requests answered so far has been
  // written (the access log is asynchronous). For tests and shutdown.
  void FlushAccessLog() const;

 private:
  // Standard headers, metrics and the access log.
  void Finish(const Request& request, Response& response, std::string_view route,
              std::chrono::steady_clock::time_point start) const;

  ServerOptions options_;
  Services services_;
  mutable Metrics metrics_;
  mutable DisplayCache display_cache_;
  Router router_;
  std::shared_ptr<AccessLog> access_log_;  // asynchronous; see env.cc
};

// Adds the standard headers: on every response Cache-Control: no-store (under /api, /oauth2 and
// /auth) and X-Request-Id; on responses that may carry a body also those that govern how a
// browser treats it (CSP, nosniff, no-referrer, DENY framing).
void AddStandardHeaders(const Request& request, Response& response);

// A fresh request id, 16 base62 characters, unique within the process and never taken from the
// client. Thread-safe.
std::string NewRequestId();

}  // namespace tokend::http
