#include "http/message.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cstring>

namespace tokend::http {

namespace {

// No route takes more than nine parameters; the bound also keeps the duplicate check below
// (quadratic) cheap for a hostile 16 KiB query string.
constexpr std::size_t kMaxQueryParams = 32;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A header the session writes itself, or one that would break the framing of the answer.
bool IsFramingHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Connection") ||
         EqualsIgnoreCase(name, "Transfer-Encoding");
}

// Whether `name` is an RFC 9110 token, as a field name must be: no separators (':', ' '), so
// that a line's name ends at its first ':'.
bool IsToken(std::string_view name) {
  constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  if (name.empty()) return false;
  for (char c : name) {
    const bool alphanumeric =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alphanumeric && kPunctuation.find(c) == std::string_view::npos) return false;
  }
  return true;
}

// CR, LF or NUL in a header would let a value start a new header or end the head early.
bool IsSafeHeaderText(std::string_view text) {
  // Every response header passes here, the 190-byte CSP included: three vectorised memchr
  // scans. A character loop (GCC does not vectorise it) was ~2% of a request's CPU, and
  // find_first_of calls memchr once per character.
  if (text.empty()) return true;
  for (char c : {'\r', '\n', '\0'}) {
    if (std::memchr(text.data(), c, text.size()) != nullptr) return false;
  }
  return true;
}

// The line of `lines` ("Name: value\r\n" each) for the header `name` (case-insensitive),
// CRLF included; empty when there is none. One scan for line ends and a name comparison only
// where the length fits: AddStandardHeaders asks this of every answer, six times.
std::string_view FindHeaderLine(std::string_view lines, std::string_view name) {
  if (!IsToken(name)) return {};  // "X: a" must not match the line "X: a..."
  while (!lines.empty()) {
    const std::size_t end = lines.find('\n');
    if (end == std::string_view::npos) break;  // Add ends every line with CRLF
    const std::string_view line = lines.substr(0, end + 1);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        EqualsIgnoreCase(line.substr(0, name.size()), name)) {
      return line;
    }
    lines.remove_prefix(line.size());
  }
  return {};
}

// Whether a raw (still percent-encoded) path has a "." or ".." segment. Well-behaved clients
// never send one; refusing them keeps one spelling per resource (and keeps the console's file
// lookup inside its root). Checked on the raw path: the decoded segment view hides a leading
// "./".
bool HasDotSegment(std::string_view raw) {
  for (std::string_view dots : {"/./", "/../"}) {
    if (raw.find(dots) != std::string_view::npos) return true;
  }
  return raw.ends_with("/.") || raw.ends_with("/..");
}

// Whether `target` is a plain path: "/"-separated segments of unreserved characters (RFC 3986
// §2.3), no query and no empty segment but a trailing one. Nearly every request's target is
// one ("/auth/verify", "/api/v1/tokens/{id}"), and for them Boost.URL's general parse and
// decoding were ~5% of the CPU of a cached /auth/verify. Such a target needs no decoding, so
// its segments are the text between its slashes.
bool IsPlainPath(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  char previous = '\0';
  for (char c : target) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (!unreserved && c != '/') return false;
    if (c == '/' && previous == '/') return false;
    previous = c;
  }
  return true;
}

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
  for (std::string_view line; !(line = FindHeaderLine(header_lines_, name)).empty();) {
    header_lines_.erase(static_cast<std::size_t>(line.data() - header_lines_.data()), line.size());
  }
  Add(name, value);
}

void Response::Add(std::string_view name, std::string_view value) {
  if (IsFramingHeader(name)) return;
  if (!IsToken(name) || !IsSafeHeaderText(value)) {
    spdlog::error("dropped a response header with a bad name or a line break in its value: {}",
                  IsToken(name) ? name : "(bad name)");
    return;
  }
  // Room for a /auth/verify answer's headers in one allocation.
  if (header_lines_.empty()) header_lines_.reserve(512);
  header_lines_.append(name).append(": ").append(value).append("\r\n");
}

std::string_view Response::Get(std::string_view name) const {
  std::string_view line = FindHeaderLine(header_lines_, name);
  if (line.empty()) return {};
  return line.substr(name.size() + 2, line.size() - name.size() - 4);  // "Name: " ... "\r\n"
}

bool Response::Has(std::string_view name) const {
  return !FindHeaderLine(header_lines_, name).empty();
}

int Response::HeaderCount() const {
  return static_cast<int>(std::count(header_lines_.begin(), header_lines_.end(), '\n'));
}

core::Result<void> ParseTarget(std::string_view target, Request& request) {
  if (IsPlainPath(target)) {
    if (HasDotSegment(target)) {
      return tl::unexpected(core::InvalidArgument("The request path is malformed."));
    }
    request.path.assign(target);
    request.segments.clear();
    request.query.clear();
    if (target.size() == 1) return core::Ok();  // "/" has no segments
    for (std::string_view rest = target.substr(1);;) {
      const std::size_t slash = rest.find('/');
      request.segments.emplace_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    return core::Ok();
  }

  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return tl::unexpected(core::InvalidArgument("The request target is malformed."));
  const boost::urls::url_view& url = *parsed;
  if (HasDotSegment(url.encoded_path())) {
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
