// The router: method + path pattern → handler. Patterns are literal segments and `{name}`
// placeholders, e.g. "/api/v1/tokens/{id}". A placeholder matches exactly one non-empty
// segment.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace tokend::http {

class Env;
using Handler = Response (*)(const Env& env, Request& request);

// Where a handler runs. A handler that writes the store waits for a commit and may hash a
// password: on the blocking pool it leaves the I/O threads free for verifications, and many
// such handlers at once share one commit (the SQLite store's group commit).
enum class Execution {
  kByMethod,  // kBlocking for POST, PUT, PATCH and DELETE; kInline otherwise
  kInline,    // on the I/O thread: only reads, or work that must not pay a thread hop
  kBlocking,  // on the server's blocking pool
};

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // of the pattern; "{id}" for placeholders
  Handler handler = nullptr;
  Execution execution = Execution::kInline;  // never kByMethod once added
};

struct RouteMatch {
  enum class Kind { kFound, kMethodNotAllowed, kNotFound };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;  // kFound
  std::string_view pattern;      // kFound and kMethodNotAllowed; points into the Router
  std::string allow;             // kMethodNotAllowed: e.g. "GET, DELETE"
};

class Router {
 public:
  // REQUIRES: `pattern` starts with '/'; a (method, pattern) pair is added once.
  void Add(std::string method, std::string pattern, Handler handler,
           Execution execution = Execution::kByMethod);
  // On kFound, fills request.path_params. HEAD is served by the GET route of the path.
  RouteMatch Match(Request& request) const;

 private:
  static bool SegmentsMatch(const Route& route, const std::vector<std::string>& segments);
  std::vector<Route> routes_;
};

}  // namespace tokend::http
