#include "core/token_format.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/crypto.h"

namespace tokend::core {
namespace {

// A well-formed API token whose checksum was computed outside our code, with Python:
//   zlib.crc32(b"tka_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg") encoded big-endian in
//   base62 (0-9A-Za-z), 6 digits zero-padded -> "0SPQKH".
constexpr std::string_view kKnownToken = "tka_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg0SPQKH";

class TokenFormatTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

TEST_F(TokenFormatTest, Crc32MatchesTheStandardCheckValue) {
  // CRC-32/ISO-HDLC check value: CRC32("123456789") = 0xCBF43926 (the catalogue value);
  // 0xCBF43926 = 3421780262 -> base62 "3jZRME" (computed with Python).
  EXPECT_EQ(Base62Crc32("123456789"), "3jZRME");
  // CRC32("") = 0: zero-padded to six digits.
  EXPECT_EQ(Base62Crc32(""), "000000");
}

TEST_F(TokenFormatTest, KnownTokenParses) {
  ASSERT_EQ(kKnownToken.size(), kTokenLength);
  EXPECT_EQ(ParseToken(kKnownToken), TokenKind::kApi);
  std::string mobile(kKnownToken.substr(0, kTokenPrefixLength + kTokenBodyLength));
  mobile.replace(0, 4, "tkm_");
  mobile += Base62Crc32(mobile);
  EXPECT_EQ(ParseToken(mobile), TokenKind::kMobile);
}

TEST_F(TokenFormatTest, GeneratedTokensAlwaysParse) {
  for (TokenKind kind : {TokenKind::kApi, TokenKind::kMobile}) {
    for (int i = 0; i < 1000; ++i) {
      std::string token = GenerateToken(kind);
      ASSERT_EQ(token.size(), kTokenLength) << token.size();
      ASSERT_EQ(token.substr(0, 4), TokenPrefix(kind));
      ASSERT_EQ(ParseToken(token), kind)
          << "generated token failed to parse (kind " << TokenKindName(kind) << ")";
    }
  }
}

TEST_F(TokenFormatTest, TenThousandGeneratedTokensAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(GenerateToken(TokenKind::kApi));
  EXPECT_EQ(seen.size(), 10000u);
}

TEST_F(TokenFormatTest, GeneratedBodiesUseTheWholeAlphabet) {
  // A biased or truncated alphabet (e.g. a modulo bug that never yields 'z') would show here:
  // 200 tokens give 8,600 body characters, so each of the 62 appears ~139 times.
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    std::string token = GenerateToken(TokenKind::kApi);
    for (char c : token.substr(kTokenPrefixLength, kTokenBodyLength)) seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 62u);
}

std::string WithChar(std::string_view s, std::size_t pos, char c) {
  std::string out(s);
  out[pos] = c;
  return out;
}

// Changes one base62 character to a different base62 character.
std::string Mutate(std::string_view s, std::size_t pos) {
  return WithChar(s, pos, s[pos] == 'A' ? 'B' : 'A');
}

TEST_F(TokenFormatTest, MalformedTokensAreRefused) {
  const std::string good(kKnownToken);
  struct Case {
    std::string name;
    std::string input;
  };
  std::string with_nul = good;
  with_nul[20] = '\0';
  std::string utf8 = good.substr(0, 20) + "\xC3\xA9" + good.substr(22);  // "é" in the body
  const std::vector<Case> cases = {
      {"empty", ""},
      {"prefix only", "tka_"},
      {"wrong prefix tkx_", "tkx_" + good.substr(4)},
      {"upper-case prefix", "TKA_" + good.substr(4)},
      {"prefix without underscore", "tkaX" + good.substr(4)},
      {"body char changed (first)", Mutate(good, 4)},
      {"body char changed (middle)", Mutate(good, 25)},
      {"body char changed (last)", Mutate(good, 46)},
      {"checksum char changed (first)", Mutate(good, 47)},
      {"checksum char changed (last)", Mutate(good, 52)},
      {"length 52", good.substr(0, 52)},
      {"length 54", good + "A"},
      {"'-' in body", WithChar(good, 10, '-')},
      {"'_' in body", WithChar(good, 10, '_')},
      {"'+' in body", WithChar(good, 10, '+')},
      {"'/' in body", WithChar(good, 10, '/')},
      {"'=' in checksum", WithChar(good, 50, '=')},
      {"non-ASCII UTF-8 in body", utf8},
      {"embedded NUL", with_nul},
      {"10 KB string", std::string(10 * 1024, 'A')},
      {"10 KB string with a good prefix", "tka_" + std::string(10 * 1024, 'A')},
      {"leading space", " " + good.substr(0, 52)},
      {"trailing newline", good.substr(0, 52) + "\n"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseToken(c.input), std::nullopt) << c.name;
  }
}

TEST_F(TokenFormatTest, NonBase62BytesAreRefusedEvenWithAMatchingChecksum) {
  // The checksum alone would accept these: it is recomputed over the bad body.
  const std::string body(kKnownToken.substr(kTokenPrefixLength, kTokenBodyLength));
  for (std::string bad :
       {std::string("-"), std::string("_"), std::string("+"), std::string("/"), std::string("="),
        std::string(" "), std::string(1, '\0'), std::string("\xFF")}) {
    std::string token = "tka_" + body.substr(0, 42) + bad;
    token += Base62Crc32(token);
    ASSERT_EQ(token.size(), kTokenLength);
    EXPECT_EQ(ParseToken(token), std::nullopt)
        << "byte " << int(static_cast<unsigned char>(bad[0]));
  }
  // Likewise a checksum field that is not base62 but could not match anyway.
  std::string token = "tka_" + body + "-----" + "0";
  EXPECT_EQ(ParseToken(token), std::nullopt);
}

TEST_F(TokenFormatTest, ParseAcceptsOnlyTheMatchingPrefix) {
  // The checksum covers the prefix: swapping tka_ for tkm_ must break it.
  std::string swapped = "tkm_" + std::string(kKnownToken.substr(4));
  EXPECT_EQ(ParseToken(swapped), std::nullopt);
}

TEST_F(TokenFormatTest, HintIsPrefixEllipsisAndLastFour) {
  EXPECT_EQ(TokenHint(kKnownToken), "tka_\u2026PQKH");
  std::string token = GenerateToken(TokenKind::kMobile);
  EXPECT_EQ(TokenHint(token), "tkm_\u2026" + token.substr(kTokenLength - 4));
}

}  // namespace
}  // namespace tokend::core
