#include "core/crypto.h"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

#include "core/base62.h"

namespace tokend::core {
namespace {

// crypto_kdf context: exactly crypto_kdf_CONTEXTBYTES (8) characters. Changing it or the
// subkey ids below changes every lookup hash and makes every sealed secret unreadable.
constexpr char kKdfContext[] = "tokend__";
static_assert(sizeof(kKdfContext) - 1 == crypto_kdf_CONTEXTBYTES);
constexpr std::uint64_t kLookupSubkeyId = 1;
constexpr std::uint64_t kSealSubkeyId = 2;

constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

static_assert(kServerKeyBytes == crypto_kdf_KEYBYTES);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);

// OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1.
constexpr unsigned long long kOwaspOpsLimit = 2;
constexpr std::size_t kOwaspMemLimit = 19 * 1024 * 1024;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

bool InitCrypto() {
  // sodium_init is itself thread-safe and idempotent; the static only spares repeated calls.
  static const bool ok = sodium_init() >= 0;
  return ok;
}

ServerKey::ServerKey(std::string_view key) {
  if (key.size() != kServerKeyBytes) {
    throw std::invalid_argument("server key must be 32 bytes");
  }
  std::memcpy(key_.data(), key.data(), key_.size());
  Derive();
}

ServerKey ServerKey::Generate() {
  std::string bytes = RandomBytes(kServerKeyBytes);
  ServerKey key(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return key;
}

ServerKey::~ServerKey() {
  sodium_memzero(key_.data(), key_.size());
  sodium_memzero(lookup_key_.data(), lookup_key_.size());
  sodium_memzero(seal_key_.data(), seal_key_.size());
}

ServerKey::ServerKey(const ServerKey& other)
    : key_(other.key_), lookup_key_(other.lookup_key_), seal_key_(other.seal_key_) {}

ServerKey& ServerKey::operator=(const ServerKey& other) {
  key_ = other.key_;
  lookup_key_ = other.lookup_key_;
  seal_key_ = other.seal_key_;
  return *this;
}

void ServerKey::Derive() {
  crypto_kdf_derive_from_key(lookup_key_.data(), lookup_key_.size(), kLookupSubkeyId, kKdfContext,
                             key_.data());
  crypto_kdf_derive_from_key(seal_key_.data(), seal_key_.size(), kSealSubkeyId, kKdfContext,
                             key_.data());
}

std::string ServerKey::LookupHash(std::string_view token) const {
  LookupHashBuffer hash;
  LookupHashInto(token, hash);
  return {hash.data(), hash.size()};
}

void ServerKey::LookupHashInto(std::string_view token, LookupHashBuffer& out) const {
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), Bytes(token),
                     token.size(), lookup_key_.data(), lookup_key_.size());
}

std::string ServerKey::Seal(std::string_view plaintext, std::string_view associated_data) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long cipher_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &cipher_len, Bytes(plaintext), plaintext.size(), Bytes(associated_data),
      associated_data.size(), nullptr, nonce, seal_key_.data());
  out.resize(kNonceBytes + cipher_len);
  return out;
}

std::optional<std::string> ServerKey::Open(std::string_view sealed,
                                           std::string_view associated_data) const {
  if (sealed.size() < kNonceBytes + kTagBytes) return std::nullopt;
  const unsigned char* nonce = Bytes(sealed);
  std::string_view cipher = sealed.substr(kNonceBytes);
  std::string out(cipher.size() - kTagBytes, '\0');
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()),
                                                 &plain_len, nullptr, Bytes(cipher), cipher.size(),
                                                 Bytes(associated_data), associated_data.size(),
                                                 nonce, seal_key_.data()) != 0) {
    return std::nullopt;
  }
  out.resize(plain_len);
  return out;
}

std::string_view ServerKey::raw() const {
  return {reinterpret_cast<const char*>(key_.data()), key_.size()};
}

PasswordHasher::PasswordHasher() : PasswordHasher(kOwaspOpsLimit, kOwaspMemLimit) {}

PasswordHasher PasswordHasher::Fast() {
  return PasswordHasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
}

PasswordHasher::PasswordHasher(unsigned long long opslimit, std::size_t memlimit)
    : opslimit_(opslimit), memlimit_(memlimit) {
  // The dummy costs what a real verification costs because it carries the same parameters.
  Result<std::string> dummy = Hash(RandomBase62(32));
  if (!dummy) throw std::runtime_error("cannot compute the dummy password hash");
  dummy_hash_ = std::move(*dummy);
}

Result<std::string> PasswordHasher::Hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit_, memlimit_,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return tl::unexpected(Internal("crypto_pwhash_str_alg failed (out of memory?)"));
  }
  return std::string(out);
}

bool PasswordHasher::Verify(std::string_view encoded_hash, std::string_view password) const {
  if (encoded_hash.empty() || encoded_hash.size() >= crypto_pwhash_STRBYTES) return false;
  // crypto_pwhash_str_verify wants a NUL-terminated string; an embedded NUL cannot match.
  std::string hash(encoded_hash);
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void PasswordHasher::VerifyDummy(std::string_view password) const {
  (void)Verify(dummy_hash_, password);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomBytes(std::size_t bytes) {
  std::string out(bytes, '\0');
  if (bytes > 0) randombytes_buf(out.data(), out.size());
  return out;
}

std::string RandomBase62(std::size_t length) {
  // Rejection sampling: 248 = 4 * 62 is the largest multiple of 62 not above 256, so accepting
  // only bytes below it makes `byte % 62` exactly uniform.
  constexpr unsigned kAcceptBelow = 248;
  std::string out;
  out.reserve(length);
  unsigned char buffer[64];
  while (out.size() < length) {
    randombytes_buf(buffer, sizeof(buffer));
    for (unsigned char byte : buffer) {
      if (byte >= kAcceptBelow) continue;
      out.push_back(kBase62Alphabet[byte % 62]);
      if (out.size() == length) break;
    }
  }
  sodium_memzero(buffer, sizeof(buffer));
  return out;
}

}  // namespace tokend::core
