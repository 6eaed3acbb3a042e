// Opaque pagination cursors: base64url (no padding) of a versioned, '|'-separated record.
// Decoding is strict: any cursor this server did not produce for the same list, kind and sort
// is refused (kInvalidArgument naming "cursor") instead of being guessed at.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace tokend::http {

std::string Base64UrlEncode(std::string_view data);
// nullopt for anything but canonical unpadded base64url.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// The token list's position: which list (kind + sort) it belongs to, the last row's sort key
// and id.
struct TokenCursor {
  std::string kind;  // "api" / "mobile"
  std::string sort;  // as in the query, e.g. "-created_at"
  std::string id;
  std::string key;  // may hold any character
};
std::string EncodeTokenCursor(const TokenCursor& cursor);
core::Result<TokenCursor> DecodeTokenCursor(std::string_view text, std::string_view kind,
                                            std::string_view sort);

// Users (keyset by username) and the audit trail (keyset by event id).
std::string EncodeUserCursor(std::string_view after_username);
core::Result<std::string> DecodeUserCursor(std::string_view text);
std::string EncodeAuditCursor(std::string_view before_id);
core::Result<std::string> DecodeAuditCursor(std::string_view text);

}  // namespace tokend::http
