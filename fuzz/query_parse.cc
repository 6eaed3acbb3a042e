// Request targets and query strings (http::ParseTarget) and the pagination cursors
// (http/cursor.h). Input: the first line is a request target; the rest is tried as a cursor
// for each list. Invariants: parsed paths hold no "." or ".." segment and no parameter twice;
// an accepted cursor re-encodes to exactly the same text (decoding is canonical).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "core/ids.h"
#include "http/cursor.h"
#include "http/message.h"

using namespace tokend::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto nl = text.find('\n');
  std::string_view target = text.substr(0, nl);
  std::string_view rest = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);

  Request request;
  if (ParseTarget(target, request)) {
    FUZZ_CHECK(!request.path.empty() && request.path.front() == '/');
    for (const auto& s : request.segments) FUZZ_CHECK(s != "." && s != "..");
    std::set<std::string> names;
    for (const auto& [k, v] : request.query) FUZZ_CHECK(names.insert(k).second);
    if (auto c = request.Query("cursor")) rest = *c;  // a query's cursor is what the server decodes
  }

  if (auto raw = Base64UrlDecode(rest)) FUZZ_CHECK(Base64UrlEncode(*raw) == rest);
  for (std::string_view kind : {"api", "mobile"}) {
    for (std::string_view sort : {"-created_at", "name", "expires_at"}) {
      auto cursor = DecodeTokenCursor(rest, kind, sort);
      if (cursor) {
        FUZZ_CHECK(cursor->kind == kind && cursor->sort == sort);
        FUZZ_CHECK(EncodeTokenCursor(*cursor) == rest);
      } else {
        FUZZ_CHECK(cursor.error().code == tokend::core::ErrorCode::kInvalidArgument);
      }
    }
  }
  if (auto user = DecodeUserCursor(rest)) FUZZ_CHECK(EncodeUserCursor(*user) == rest);
  if (auto audit = DecodeAuditCursor(rest)) FUZZ_CHECK(EncodeAuditCursor(*audit) == rest);
  // Round trip from the other side: what the server encodes, it decodes.
  static const std::string kId = tokend::core::NewId();
  TokenCursor made{"api", "-created_at", kId, std::string(rest.substr(0, 1000))};
  auto back = DecodeTokenCursor(EncodeTokenCursor(made), "api", "-created_at");
  FUZZ_CHECK(back && back->id == made.id && back->key == made.key);
  return 0;
}
