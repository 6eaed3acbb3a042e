#include "core/crypto.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <set>
#include <string>

namespace tokend::core {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

// The master key of the known-answer tests: bytes 0x00, 0x01, ..., 0x1f.
std::string TestMasterKey() {
  std::string key;
  for (int i = 0; i < 32; ++i) key.push_back(static_cast<char>(i));
  return key;
}

// Known answers computed with Python's hashlib (an implementation independent of libsodium):
//   key = bytes(range(32))
//   kdf = lambda i: hashlib.blake2b(b"", digest_size=32, key=key,
//                                   salt=i.to_bytes(8, "little") + bytes(8),
//                                   person=b"tokend__" + bytes(8)).digest()
// which is libsodium 1.0.18's crypto_kdf_derive_from_key (crypto_kdf/blake2b/kdf_blake2b.c:
// salt = STORE64_LE(subkey_id) + zeros, personal = ctx + zeros, key = master key, no message).
constexpr std::string_view kLookupSubkeyHex =
    "1750a57b39c10a37cd587a84b8c005f0266369c5c55e7c9ea992850dac6a6ccc";  // kdf(1)
constexpr std::string_view kSealSubkeyHex =
    "f676ceebcf7b5dd14dbc26ba669ca6b3539fa7b08d981bc17012c87da158e736";  // kdf(2)
// hashlib.blake2b(b"tka_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg", digest_size=32,
//                 key=kdf(1)).hexdigest()
constexpr std::string_view kLookupHashHex =
    "5b84d29bda178e69039ffe4c0c4fff7c4e8924f35bc1a89daa991cf95ab49c2b";
// hashlib.blake2b(b"", digest_size=32, key=kdf(1)).hexdigest()
constexpr std::string_view kLookupHashOfEmptyHex =
    "3e7af5aa6dae7493492712ba1beaa267b63d959b3a328b7d6c29952eed1f8acc";

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

TEST_F(CryptoTest, InitIsIdempotent) {
  EXPECT_TRUE(InitCrypto());
  EXPECT_TRUE(InitCrypto());
}

TEST_F(CryptoTest, KdfMatchesIndependentBlake2b) {
  // Checks the claim above about libsodium's crypto_kdf, with the context ServerKey uses.
  std::string master = TestMasterKey();
  for (auto [id, expected] :
       {std::pair<std::uint64_t, std::string_view>{1, kLookupSubkeyHex}, {2, kSealSubkeyHex}}) {
    unsigned char subkey[32];
    ASSERT_EQ(crypto_kdf_derive_from_key(subkey, sizeof(subkey), id, "tokend__",
                                         reinterpret_cast<const unsigned char*>(master.data())),
              0);
    EXPECT_EQ(ToHex({reinterpret_cast<const char*>(subkey), sizeof(subkey)}), expected)
        << "subkey id " << id;
  }
}

TEST_F(CryptoTest, LookupHashMatchesKnownAnswer) {
  ServerKey key(TestMasterKey());
  EXPECT_EQ(ToHex(key.LookupHash("tka_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg")),
            kLookupHashHex);
  EXPECT_EQ(ToHex(key.LookupHash("")), kLookupHashOfEmptyHex);
  EXPECT_EQ(key.LookupHash("x").size(), kLookupHashBytes);
}

TEST_F(CryptoTest, LookupHashDependsOnKeyAndInput) {
  ServerKey a(TestMasterKey());
  ServerKey b = ServerKey::Generate();
  EXPECT_NE(a.LookupHash("token"), b.LookupHash("token"));
  EXPECT_NE(a.LookupHash("token"), a.LookupHash("token2"));
  EXPECT_EQ(a.LookupHash("token"), ServerKey(a).LookupHash("token"));
}

TEST_F(CryptoTest, OpenReadsABoxSealedIndependentlyWithTheSealSubkey) {
  // Sealed here directly with libsodium under the Python-derived seal subkey: proves that
  // ServerKey seals with kdf(2) and the nonce || ciphertext layout.
  std::string subkey = FromHex(kSealSubkeyHex);
  std::string nonce(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, '\x07');
  std::string plaintext = "tka_secret";
  std::string ad = "tenant-1/token-1";
  std::string cipher(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long cipher_len = 0;
  auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt(
                reinterpret_cast<unsigned char*>(cipher.data()), &cipher_len, u(plaintext),
                plaintext.size(), u(ad), ad.size(), nullptr, u(nonce), u(subkey)),
            0);
  ServerKey key(TestMasterKey());
  std::optional<std::string> opened = key.Open(nonce + cipher, ad);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, plaintext);
}

TEST_F(CryptoTest, SealOpenRoundTrip) {
  ServerKey key = ServerKey::Generate();
  for (std::string plaintext : {std::string(""), std::string("tka_abc"), std::string(5000, 'x')}) {
    std::string sealed = key.Seal(plaintext, "ad");
    EXPECT_EQ(sealed.size(), 24 + plaintext.size() + 16);
    std::optional<std::string> opened = key.Open(sealed, "ad");
    ASSERT_TRUE(opened.has_value()) << "plaintext size " << plaintext.size();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST_F(CryptoTest, SealUsesAFreshNonceEachTime) {
  ServerKey key = ServerKey::Generate();
  EXPECT_NE(key.Seal("same", "ad"), key.Seal("same", "ad"));
}

TEST_F(CryptoTest, TamperedBoxesAreRefused) {
  ServerKey key = ServerKey::Generate();
  const std::string sealed = key.Seal("tka_secret_value", "tenant/token");
  struct Case {
    const char* name;
    std::size_t byte;
  };
  // Layout: 24-byte nonce, 16-byte ciphertext, 16-byte tag.
  for (Case c : {Case{"nonce first byte", 0}, Case{"nonce last byte", 23}, Case{"ciphertext", 24},
                 Case{"ciphertext last byte", 39}, Case{"tag first byte", 40},
                 Case{"tag last byte", sealed.size() - 1}}) {
    for (int bit = 0; bit < 8; bit += 7) {
      std::string tampered = sealed;
      tampered[c.byte] = static_cast<char>(tampered[c.byte] ^ (1 << bit));
      EXPECT_EQ(key.Open(tampered, "tenant/token"), std::nullopt) << c.name << " bit " << bit;
    }
  }
  EXPECT_EQ(key.Open(sealed.substr(0, sealed.size() - 1), "tenant/token"), std::nullopt);
  EXPECT_EQ(key.Open(sealed.substr(0, 39), "tenant/token"), std::nullopt);
  EXPECT_EQ(key.Open("", "tenant/token"), std::nullopt);
}

TEST_F(CryptoTest, WrongAssociatedDataOrKeyIsRefused) {
  ServerKey key = ServerKey::Generate();
  std::string sealed = key.Seal("secret", "tenant-a/token-1");
  EXPECT_EQ(key.Open(sealed, "tenant-b/token-1"), std::nullopt);
  EXPECT_EQ(key.Open(sealed, "tenant-a/token-2"), std::nullopt);
  EXPECT_EQ(key.Open(sealed, ""), std::nullopt);
  EXPECT_EQ(ServerKey::Generate().Open(sealed, "tenant-a/token-1"), std::nullopt);
  EXPECT_TRUE(key.Open(sealed, "tenant-a/token-1").has_value());
}

TEST_F(CryptoTest, RawKeyRoundTrips) {
  ServerKey key = ServerKey::Generate();
  ServerKey copy(key.raw());
  EXPECT_EQ(copy.raw(), key.raw());
  EXPECT_EQ(copy.LookupHash("t"), key.LookupHash("t"));
  ServerKey assigned(TestMasterKey());
  assigned = key;
  EXPECT_EQ(assigned.LookupHash("t"), key.LookupHash("t"));
}

TEST_F(CryptoTest, PasswordHashRoundTrip) {
  PasswordHasher hasher = PasswordHasher::Fast();
  Result<std::string> hash = hasher.Hash("correct horse battery staple");
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(hash->starts_with("$argon2id$")) << *hash;
  EXPECT_TRUE(hasher.Verify(*hash, "correct horse battery staple"));
  EXPECT_FALSE(hasher.Verify(*hash, "correct horse battery stapler"));
  EXPECT_FALSE(hasher.Verify(*hash, ""));
  EXPECT_FALSE(hasher.Verify("", "correct horse battery staple"));
  EXPECT_FALSE(hasher.Verify("$argon2id$garbage", "correct horse battery staple"));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(*hash, *hasher.Hash("correct horse battery staple"));
  hasher.VerifyDummy("anything");  // must not crash
}

TEST_F(CryptoTest, PasswordHashEmbedsOwaspParameters) {
  PasswordHasher hasher;
  Result<std::string> hash = hasher.Hash("password1");
  ASSERT_TRUE(hash.has_value());
  // m is in KiB: 19 MiB = 19456 KiB; t = 2; p = 1.
  EXPECT_NE(hash->find("$m=19456,t=2,p=1$"), std::string::npos) << *hash;
  // Verification reads the parameters from the hash, whatever the hasher's settings.
  EXPECT_TRUE(PasswordHasher::Fast().Verify(*hash, "password1"));
}

TEST_F(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST_F(CryptoTest, RandomBytesAndBase62) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(33).size(), 33u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
  std::string s = RandomBase62(1000);
  ASSERT_EQ(s.size(), 1000u);
  for (char c : s) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << "byte " << int(c);
  }
  EXPECT_EQ(RandomBase62(0), "");
}

TEST_F(CryptoTest, RandomBase62IsRoughlyUniform) {
  // 62,000 draws: each symbol expected 1,000 times, sd ~31. A modulo bias without rejection
  // (256 % 62 = 8 symbols favoured by 5/4) would push those symbols to ~1,230.
  std::string s = RandomBase62(62000);
  std::array<int, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  for (unsigned char c : s) {
    ASSERT_GT(counts[c], 800) << "symbol " << c;
    ASSERT_LT(counts[c], 1200) << "symbol " << c;
  }
}

}  // namespace
}  // namespace tokend::core
