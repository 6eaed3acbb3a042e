#include "core/token_format.h"

#include <isa-l/crc.h>

#include "core/base62.h"
#include "core/crypto.h"

namespace tokend::core {
namespace {

constexpr std::string_view kApiPrefix = "tka_";
constexpr std::string_view kMobilePrefix = "tkm_";
// U+2026 HORIZONTAL ELLIPSIS, UTF-8 encoded.
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
constexpr std::size_t kHintTailLength = 4;

static_assert(kApiPrefix.size() == kTokenPrefixLength);
static_assert(kMobilePrefix.size() == kTokenPrefixLength);

// The CRC-32 of gzip and PNG (reflected, polynomial 0x04C11DB7), which secret scanners
// compute; ISA-L's carry-less-multiply version, ~10 ns for a token where a byte table took
// ~120 ns (DESIGN.md §2 checks it on every presented token, before any lookup).
std::uint32_t Crc32(std::string_view data) {
  return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

}  // namespace

std::string_view TokenPrefix(TokenKind kind) {
  return kind == TokenKind::kMobile ? kMobilePrefix : kApiPrefix;
}

std::string GenerateToken(TokenKind kind) {
  std::string token(TokenPrefix(kind));
  token += RandomBase62(kTokenBodyLength);
  token += Base62Crc32(token);
  return token;
}

std::optional<TokenKind> ParseToken(std::string_view token) {
  if (token.size() != kTokenLength) return std::nullopt;
  std::string_view prefix = token.substr(0, kTokenPrefixLength);
  TokenKind kind;
  if (prefix == kApiPrefix) {
    kind = TokenKind::kApi;
  } else if (prefix == kMobilePrefix) {
    kind = TokenKind::kMobile;
  } else {
    return std::nullopt;
  }
  if (!IsBase62(token.substr(kTokenPrefixLength, kTokenBodyLength))) return std::nullopt;
  // Decode the checksum instead of encoding the CRC: no string is built on this hot path.
  std::uint64_t checksum = 0;
  for (char c : token.substr(kTokenPrefixLength + kTokenBodyLength)) {
    int digit = Base62Value(c);
    if (digit < 0) return std::nullopt;
    checksum = checksum * 62 + static_cast<std::uint64_t>(digit);
  }
  // The checksum is not secret (anyone can compute it from the token): plain compare.
  if (checksum != Crc32(token.substr(0, kTokenPrefixLength + kTokenBodyLength))) {
    return std::nullopt;
  }
  return kind;
}

std::string TokenHint(std::string_view token) {
  if (token.size() < kTokenPrefixLength + kHintTailLength) return std::string(kEllipsis);
  std::string hint(token.substr(0, kTokenPrefixLength));
  hint += kEllipsis;
  hint += token.substr(token.size() - kHintTailLength);
  return hint;
}

std::string Base62Crc32(std::string_view data) {
  // 62^6 > 2^32, so six digits always suffice.
  std::string out;
  AppendBase62(Crc32(data), kTokenChecksumLength, out);
  return out;
}

}  // namespace tokend::core
