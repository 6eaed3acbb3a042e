// core::ParseToken (DESIGN.md §2 format): never crashes, accepts only the exact shape, and a
// token it accepts keeps its prefix, length and checksum; TokenHint works on every accepted one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/token_format.h"
#include "fuzz/fuzz_util.h"

using namespace tokend::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto kind = ParseToken(text);
  if (kind) {
    FUZZ_CHECK(text.size() == kTokenLength);
    FUZZ_CHECK(text.substr(0, kTokenPrefixLength) == TokenPrefix(*kind));
    std::string_view payload = text.substr(0, kTokenLength - kTokenChecksumLength);
    FUZZ_CHECK(Base62Crc32(payload) == text.substr(kTokenLength - kTokenChecksumLength));
    for (char c : text.substr(kTokenPrefixLength)) {
      FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
    }
    std::string hint = TokenHint(text);
    FUZZ_CHECK(hint.starts_with(TokenPrefix(*kind)));
  }
  // A fixed-up checksum makes any 47-byte prefix+body a candidate: exercises the accept path.
  if (size >= kTokenLength - kTokenChecksumLength) {
    std::string candidate(text.substr(0, kTokenLength - kTokenChecksumLength));
    candidate += Base62Crc32(candidate);
    auto k2 = ParseToken(candidate);
    if (k2) FUZZ_CHECK(candidate.substr(0, kTokenPrefixLength) == TokenPrefix(*k2));
  }
  return 0;
}
