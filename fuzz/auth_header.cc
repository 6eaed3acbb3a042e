// The Authorization header parser (http::ParseBearer), the Cookie parser and the Origin check.
// Input: header lines "name: value" separated by '\n' (names lower-cased as the server does).
// Invariants: a present token is non-empty, has no space or tab, and is a view into the one
// Authorization header; two Authorization headers are always kDuplicate.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "http/auth.h"
#include "http/message.h"

using namespace tokend::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Request request;
  int authorization = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "authorization") ++authorization;
    request.headers.emplace_back(std::move(name), std::string(value));
  }
  BearerToken bearer = ParseBearer(request);
  if (authorization == 0) FUZZ_CHECK(bearer.kind == BearerToken::Kind::kAbsent);
  if (authorization > 1) FUZZ_CHECK(bearer.kind == BearerToken::Kind::kDuplicate);
  if (bearer.kind == BearerToken::Kind::kPresent) {
    FUZZ_CHECK(authorization == 1);
    FUZZ_CHECK(!bearer.token.empty());
    FUZZ_CHECK(bearer.token.find(' ') == std::string_view::npos);
    FUZZ_CHECK(bearer.token.find('\t') == std::string_view::npos);
    std::string_view header = request.Header("authorization");
    FUZZ_CHECK(bearer.token.data() >= header.data() &&
               bearer.token.data() + bearer.token.size() <= header.data() + header.size());
  }
  auto cookie = FindCookie(request, "tokend_session");
  if (cookie) FUZZ_CHECK(cookie->find(';') == std::string_view::npos);
  std::string_view origin = request.Header("origin");
  std::string_view host = request.Header("host");
  bool same = OriginMatchesHost(origin, host);
  if (same) FUZZ_CHECK(!origin.empty());
  (void)ChangesState(request.Header("x-method"));
  return 0;
}
