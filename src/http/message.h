// Request and Response as the handlers see them: plain data, no sockets, no Beast types, so
// that routing and handlers are testable as functions from a request to a response.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace tokend::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // as received, e.g. "GET"
  std::string path;    // percent-decoded path without the query, e.g. "/api/v1/tokens/abc"
  std::vector<std::string> segments;  // `path` split on '/', each decoded on its own
  Fields query;                       // decoded query parameters, in order
  Fields headers;                     // names in lower case, values as received
  std::string body;
  std::string client_ip;
  std::string request_id;
  Fields path_params;  // filled by the router from the route's {name} segments

  // The first header named `name` (lower case), or empty.
  std::string_view Header(std::string_view name) const;
  int HeaderCount(std::string_view name) const;
  std::optional<std::string_view> Query(std::string_view name) const;
  std::string_view PathParam(std::string_view name) const;
};

class Response {
 public:
  int status = 200;
  std::string body;

  // Replaces any header of that name (case-insensitive).
  void Set(std::string_view name, std::string_view value);
  // Adds without replacing (e.g. several Set-Cookie).
  void Add(std::string_view name, std::string_view value);
  // The first value of that header (case-insensitive), or empty.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  int HeaderCount() const;

  // The headers as they go on the wire: "Name: value\r\n" each, in the order added. The
  // server's framing headers (Content-Length, Connection, Transfer-Encoding) are never among
  // them, nor a header with CR, LF or NUL in it: Add drops those.
  std::string_view header_lines() const { return header_lines_; }

 private:
  // One buffer rather than a string per name and value: most of a /auth/verify answer's
  // eight header values (ids, the scope list) and several names are longer than the
  // small-string buffer, so each was an allocation. One buffer is one allocation.
  std::string header_lines_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Whether an answer with this status never has a body (1xx, 204, 304; RFC 9110 §6.4.1).
bool StatusHasNoBody(int status);

// Fills path, segments and query of `request` from an origin-form request target
// ("/a/b?x=1"). kInvalidArgument for anything else (absolute form, bad percent-encoding,
// a parameter given twice, a path with "." or ".." segments).
core::Result<void> ParseTarget(std::string_view target, Request& request);

}  // namespace tokend::http
