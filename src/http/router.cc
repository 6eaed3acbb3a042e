#include "http/router.h"

#include "http/auth.h"

namespace tokend::http {

namespace {

bool IsPlaceholder(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler, Execution execution) {
  Route route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = handler;
  if (execution == Execution::kByMethod) {
    execution = ChangesState(route.method) ? Execution::kBlocking : Execution::kInline;
  }
  route.execution = execution;
  std::string_view rest(route.pattern);
  rest.remove_prefix(1);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    route.segments.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  routes_.push_back(std::move(route));
}

bool Router::SegmentsMatch(const Route& route, const std::vector<std::string>& segments) {
  if (route.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (IsPlaceholder(route.segments[i])) {
      if (segments[i].empty()) return false;
    } else if (route.segments[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

RouteMatch Router::Match(Request& request) const {
  RouteMatch match;
  std::string_view method = request.method;
  if (method == "HEAD") method = "GET";
  for (const Route& route : routes_) {
    if (!SegmentsMatch(route, request.segments)) continue;
    if (route.method == method) {
      match.kind = RouteMatch::Kind::kFound;
      match.route = &route;
      match.pattern = route.pattern;
      request.path_params.clear();
      for (std::size_t i = 0; i < route.segments.size(); ++i) {
        const std::string& segment = route.segments[i];
        if (IsPlaceholder(segment)) {
          request.path_params.emplace_back(segment.substr(1, segment.size() - 2),
                                           request.segments[i]);
        }
      }
      return match;
    }
    match.kind = RouteMatch::Kind::kMethodNotAllowed;
    match.pattern = route.pattern;
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += route.method;
    if (route.method == "GET") match.allow += ", HEAD";
  }
  return match;
}

}  // namespace tokend::http
