// The secrets of DESIGN.md §2 on top of libsodium.
//
// One 32-byte server key; subkeys for lookup hashing and sealing are derived from it with
// crypto_kdf so that neither use can be turned against the other.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace tokend::core {

// Must be called once before any other function here (idempotent, thread-safe).
// Returns false when libsodium cannot initialise (no entropy source).
bool InitCrypto();

inline constexpr std::size_t kServerKeyBytes = 32;
inline constexpr std::size_t kLookupHashBytes = 32;
// A lookup hash on the stack: verification hashes every presented token, and a std::string
// of 32 bytes is a heap allocation.
using LookupHashBuffer = std::array<char, kLookupHashBytes>;

class ServerKey {
 public:
  // REQUIRES: key.size() == kServerKeyBytes.
  explicit ServerKey(std::string_view key);
  static ServerKey Generate();
  ~ServerKey();
  ServerKey(const ServerKey&);
  ServerKey& operator=(const ServerKey&);

  // Keyed BLAKE2b-256 of the token string: the only form in which tokens are looked up.
  std::string LookupHash(std::string_view token) const;
  // The same into `out`, allocating nothing.
  void LookupHashInto(std::string_view token, LookupHashBuffer& out) const;

  // XChaCha20-Poly1305 with a random nonce; `associated_data` (tenant and token id) is bound.
  // Returns nonce || ciphertext.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;
  // nullopt when the box was tampered with or the associated data differs.
  std::optional<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

  // The raw key bytes, for writing the key file only.
  std::string_view raw() const;

 private:
  std::array<unsigned char, kServerKeyBytes> key_{};
  std::array<unsigned char, 32> lookup_key_{};
  std::array<unsigned char, 32> seal_key_{};
  void Derive();
};

// Argon2id password hashing. Cost parameters follow OWASP's recommendation (t=2, m=19 MiB);
// tests may use PasswordHasher::Fast(). Hashes embed their parameters, so verification works
// across settings.
class PasswordHasher {
 public:
  PasswordHasher();              // OWASP parameters
  static PasswordHasher Fast();  // libsodium's minimum: for tests only
  // kInternal when hashing fails (out of memory).
  Result<std::string> Hash(std::string_view password) const;
  bool Verify(std::string_view encoded_hash, std::string_view password) const;
  // Verifies against a fixed dummy hash so an unknown user costs the same as a wrong password.
  void VerifyDummy(std::string_view password) const;

 private:
  PasswordHasher(unsigned long long opslimit, std::size_t memlimit);
  unsigned long long opslimit_;
  std::size_t memlimit_;
  std::string dummy_hash_;
};

// Constant-time equality for secrets of any length (length itself may leak).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `bytes` random bytes from the CSPRNG.
std::string RandomBytes(std::size_t bytes);
// A random string of `length` base62 characters.
std::string RandomBase62(std::size_t length);

}  // namespace tokend::core
