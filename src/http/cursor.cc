#include "http/cursor.h"

#include "core/ids.h"

namespace tokend::http {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Sort keys are names and timestamps (at most a few hundred bytes); a cursor far longer was
// not made here.
constexpr std::size_t kMaxCursorLength = 2048;

int DecodeChar(char c) {
  auto pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

core::Error BadCursor() {
  return core::InvalidArgument("The cursor is not valid for this list.",
                               {{"cursor", "not a cursor of this list"}});
}

// Splits `text` on '|' into exactly `count` parts; the last part keeps any further '|'.
std::optional<std::vector<std::string>> Split(std::string_view text, std::size_t count) {
  std::vector<std::string> parts;
  while (parts.size() + 1 < count) {
    auto bar = text.find('|');
    if (bar == std::string_view::npos) return std::nullopt;
    parts.emplace_back(text.substr(0, bar));
    text.remove_prefix(bar + 1);
  }
  parts.emplace_back(text);
  return parts;
}

bool IsAuditId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  std::size_t rest = data.size() - i;
  if (rest == 1) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = DecodeChar(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // Canonical form only: the unused low bits of the last character must be zero.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string EncodeTokenCursor(const TokenCursor& cursor) {
  return Base64UrlEncode("t1|" + cursor.kind + "|" + cursor.sort + "|" + cursor.id + "|" +
                         cursor.key);
}

core::Result<TokenCursor> DecodeTokenCursor(std::string_view text, std::string_view kind,
                                            std::string_view sort) {
  if (text.empty() || text.size() > kMaxCursorLength) return tl::unexpected(BadCursor());
  auto decoded = Base64UrlDecode(text);
  if (!decoded) return tl::unexpected(BadCursor());
  auto parts = Split(*decoded, 5);
  if (!parts || (*parts)[0] != "t1" || (*parts)[1] != kind || (*parts)[2] != sort ||
      !core::LooksLikeId((*parts)[3])) {
    return tl::unexpected(BadCursor());
  }
  return TokenCursor{(*parts)[1], (*parts)[2], (*parts)[3], (*parts)[4]};
}

std::string EncodeUserCursor(std::string_view after_username) {
  return Base64UrlEncode("u1|" + std::string(after_username));
}

core::Result<std::string> DecodeUserCursor(std::string_view text) {
  if (text.empty() || text.size() > kMaxCursorLength) return tl::unexpected(BadCursor());
  auto decoded = Base64UrlDecode(text);
  if (!decoded) return tl::unexpected(BadCursor());
  auto parts = Split(*decoded, 2);
  if (!parts || (*parts)[0] != "u1" || (*parts)[1].empty()) return tl::unexpected(BadCursor());
  return (*parts)[1];
}

std::string EncodeAuditCursor(std::string_view before_id) {
  return Base64UrlEncode("a1|" + std::string(before_id));
}

core::Result<std::string> DecodeAuditCursor(std::string_view text) {
  if (text.empty() || text.size() > kMaxCursorLength) return tl::unexpected(BadCursor());
  auto decoded = Base64UrlDecode(text);
  if (!decoded) return tl::unexpected(BadCursor());
  auto parts = Split(*decoded, 2);
  if (!parts || (*parts)[0] != "a1" || !IsAuditId((*parts)[1])) {
    return tl::unexpected(BadCursor());
  }
  return (*parts)[1];
}

}  // namespace tokend::http
