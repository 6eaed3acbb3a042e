// The token string format of DESIGN.md §2:
//   <prefix><43 base62 chars of randomness><6 base62 chars of CRC32(prefix + body)>
// prefix "tka_" for API tokens, "tkm_" for mobile tokens. 43 base62 characters carry
// 43 * log2(62) = 256.03 bits. Total length: 4 + 43 + 6 = 53.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/model.h"

namespace tokend::core {

inline constexpr std::size_t kTokenPrefixLength = 4;
inline constexpr std::size_t kTokenBodyLength = 43;
inline constexpr std::size_t kTokenChecksumLength = 6;
inline constexpr std::size_t kTokenLength =
    kTokenPrefixLength + kTokenBodyLength + kTokenChecksumLength;

std::string_view TokenPrefix(TokenKind kind);  // "tka_" / "tkm_"

// A fresh token from the OS CSPRNG (libsodium). REQUIRES: sodium_init() succeeded.
std::string GenerateToken(TokenKind kind);

// Checks shape and checksum without any lookup. nullopt when malformed: wrong length,
// unknown prefix, non-base62 bytes, or a checksum that does not match.
std::optional<TokenKind> ParseToken(std::string_view token);

// "tka_…Ab3x": the prefix and the last four characters. REQUIRES: a well-formed token.
std::string TokenHint(std::string_view token);

// Base62-encoded CRC32 (6 chars, zero-padded) of `data`; exposed for tests.
std::string Base62Crc32(std::string_view data);

}  // namespace tokend::core
