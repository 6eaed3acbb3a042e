// The handlers' environment and the request pipeline that surrounds every handler:
// request id, routing, the catch-all, security headers, metrics and the access log.
#pragma once

#include <chrono>
#include <string>

#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "service/context.h"

namespace tokend::http {

class Env {
 public:
  Env(ServerOptions options, Services services);

  const ServerOptions& options() const { return options_; }
  const Services& services() const { return services_; }
  Metrics& metrics() const { return metrics_; }
  const Router& router() const { return router_; }
  // Adds a route beside the built-in ones (tests; later extensions). Not thread-safe: only
  // before the server starts.
  void AddRoute(std::string method, std::string pattern, Handler handler) {
    router_.Add(std::move(method), std::move(pattern), handler);
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
  // The answer to a request that could not be parsed far enough to be routed (bad target,
  // oversized header or body): a problem response with the standard headers, counted and
  // logged like any other.
  Response Reject(Request& request, int status, std::string_view detail) const;

 private:
  // Standard headers, metrics and the access log.
  void Finish(const Request& request, Response& response, std::string_view route,
              std::chrono::steady_clock::time_point start) const;

  ServerOptions options_;
  Services services_;
  mutable Metrics metrics_;
  Router router_;
};

// Adds the headers every response carries (CSP, nosniff, no-referrer, DENY framing;
// Cache-Control: no-store under /api, /oauth2 and /auth; X-Request-Id).
void AddStandardHeaders(const Request& request, Response& response);

// A fresh random request id (never taken from the client).
std::string NewRequestId();

}  // namespace tokend::http
