// Operations (/healthz, /readyz, /metrics, /api/v1/openapi.json) and the embedded console.
#include <boost/json.hpp>

#include "console/assets.h"
#include "http/handler_util.h"
#include "http/handlers.h"
#include "http/json_mapping.h"
#include "http/problem.h"

namespace tokend::http {

namespace {

namespace json = boost::json;

// Hashed asset names change with their content, so they can be cached for a year (the
// longest period RFC 9111 caches are expected to honour); everything else is revalidated.
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidate = "no-cache";

Response Healthz(const Env&, Request&) { return JsonResponse(200, json::object{{"status", "ok"}}); }

Response Readyz(const Env& env, Request& request) {
  auto ping = env.services().store.Ping();
  if (!ping) {
    // Whatever the failure, this instance should get no traffic: always 503, never 500.
    core::Error error = ping.error();
    error.code = core::ErrorCode::kUnavailable;
    error.public_message = "The token store is unavailable.";
    return ErrorResponse(request, error);
  }
  return JsonResponse(200, json::object{{"status", "ready"}});
}

Response MetricsText(const Env& env, Request&) {
  Response response;
  response.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response.body = env.metrics().Render(env.services().store, env.services().clock);
  return response;
}

Response OpenApi(const Env&, Request&) {
  Response response;
  response.Set("Content-Type", "application/json");
  response.body = std::string(OpenApiJson());
  return response;
}

const console::Asset* FindAsset(std::string_view path) {
  for (const console::Asset& asset : console::Assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

Response AssetResponse(const console::Asset& asset, std::string_view cache_control) {
  Response response;
  response.Set("Content-Type", asset.content_type);
  response.Set("Cache-Control", cache_control);
  response.body = std::string(asset.body);
  return response;
}

}  // namespace

Response ServeConsole(const Request& request) {
  std::string_view path = request.path;
  bool is_asset = path.starts_with("/assets/");
  if (path != "/" && path != "/index.html") {
    if (const console::Asset* asset = FindAsset(path)) {
      return AssetResponse(*asset, is_asset ? kImmutable : kRevalidate);
    }
    // A missing hashed file is a stale page asking for an old build: answering with the
    // app's HTML would only confuse the browser.
    if (is_asset) return Problem(404, "No such file.");
  }
  // "/" and the single-page app's own routes ("/tokens/abc") all get the app.
  if (const console::Asset* index = FindAsset("/index.html")) {
    return AssetResponse(*index, kRevalidate);
  }
  return Problem(404, "The console is not part of this build.");
}

void AddOpsRoutes(Router& router) {
  router.Add("GET", "/healthz", Healthz);
  router.Add("GET", "/readyz", Readyz);
  router.Add("GET", "/metrics", MetricsText);
  router.Add("GET", "/api/v1/openapi.json", OpenApi);
}

}  // namespace tokend::http
