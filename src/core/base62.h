// The base62 alphabet shared by tokens and ids: digits, then upper case, then lower case, so
// that the value of a digit is its position (checksums are encoded big-endian in it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// Internal to core.

namespace tokend::core {

inline constexpr std::string_view kBase62Alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The digit's value (its position in kBase62Alphabet), or -1 for a non-base62 byte.
constexpr int Base62Value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c >= 'a' && c <= 'z') return c - 'a' + 36;
  return -1;
}

// Appends `value` as exactly `digits` base62 digits, big-endian and zero-padded, so that the
// byte order of such strings is the order of their values. REQUIRES: value < 62^digits.
inline void AppendBase62(std::uint64_t value, std::size_t digits, std::string& out) {
  out.append(digits, '0');
  for (std::size_t i = out.size(); digits-- > 0; value /= 62)
    out[--i] = kBase62Alphabet[value % 62];
}

constexpr bool IsBase62(std::string_view s) {
  for (char c : s) {
    if (!IsBase62(c)) return false;
  }
  return true;
}

}  // namespace tokend::core
