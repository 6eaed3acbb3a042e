#include "http/message.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace tokend::http {

namespace {

// No route takes more than nine parameters; the bound also keeps the duplicate check below
// (quadratic) cheap for a hostile 16 KiB query string.
constexpr std::size_t kMaxQueryParams = 32;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool StatusHasNoBody(int status) { return status < 200 || status == 204 || status == 304; }

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

int Request::HeaderCount(std::string_view name) const {
  int count = 0;
  for (const auto& [key, value] : headers) {
    if (key == name) ++count;
  }
  return count;
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::string_view Request::PathParam(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return value;
  }
  return {};
}

void Response::Set(std::string_view name, std::string_view value) {
  for (auto it = headers.begin(); it != headers.end();) {
    if (EqualsIgnoreCase(it->first, name)) {
      it = headers.erase(it);
    } else {
      ++it;
    }
  }
  headers.emplace_back(std::string(name), std::string(value));
}

void Response::Add(std::string_view name, std::string_view value) {
  headers.emplace_back(std::string(name), std::string(value));
}

std::string_view Response::Get(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

bool Response::Has(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return true;
  }
  return false;
}

core::Result<void> ParseTarget(std::string_view target, Request& request) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return tl::unexpected(core::InvalidArgument("The request target is malformed."));
  const boost::urls::url_view& url = *parsed;

  // Dot segments are never produced by well-behaved clients; refusing them keeps one spelling
  // per resource (and keeps the console's file lookup inside its root). Checked on the raw
  // path: the decoded segment view hides a leading "./".
  std::string_view raw = url.encoded_path();
  for (std::string_view dots : {"/./", "/../"}) {
    if (raw.find(dots) != std::string_view::npos) {
      return tl::unexpected(core::InvalidArgument("The request path is malformed."));
    }
  }
  if (raw.ends_with("/.") || raw.ends_with("/..")) {
    return tl::unexpected(core::InvalidArgument("The request path is malformed."));
  }

  request.segments.clear();
  request.path.clear();
  for (auto segment : url.segments()) {
    if (segment == "." || segment == "..") {  // percent-encoded dots: "%2E%2E"
      return tl::unexpected(core::InvalidArgument("The request path is malformed."));
    }
    request.path += '/';
    request.path += segment;
    request.segments.push_back(std::move(segment));
  }
  if (request.path.empty()) request.path.push_back('/');  // not = "/": g++ 12 -Wrestrict at -O3
  // "/a/" keeps its trailing empty segment: routes never match it, the console may.

  request.query.clear();
  if (url.has_query()) {
    // Query strings follow HTML form encoding, where '+' is a space.
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    for (auto param : url.params(opts)) {
      if (param.key.empty() && !param.has_value) continue;  // "?" or "&&"
      if (request.query.size() == kMaxQueryParams) {
        return tl::unexpected(core::InvalidArgument("Too many query parameters."));
      }
      for (const auto& [key, value] : request.query) {
        if (key == param.key) {
          return tl::unexpected(core::InvalidArgument("A query parameter is given twice.",
                                                      {{param.key, "given more than once"}}));
        }
      }
      request.query.emplace_back(std::move(param.key), std::move(param.value));
    }
  }
  return core::Ok();
}

}  // namespace tokend::http
