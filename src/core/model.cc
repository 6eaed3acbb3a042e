#include "core/model.h"

namespace tokend::core {

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kApi:
      return "api";
    case TokenKind::kMobile:
      return "mobile";
  }
  return "api";
}

std::optional<TokenKind> ParseTokenKind(std::string_view name) {
  if (name == "api") return TokenKind::kApi;
  if (name == "mobile") return TokenKind::kMobile;
  return std::nullopt;
}

std::string_view TokenStateName(TokenState state) {
  switch (state) {
    case TokenState::kActive:
      return "active";
    case TokenState::kExpired:
      return "expired";
    case TokenState::kRevoked:
      return "revoked";
  }
  return "active";
}

}  // namespace tokend::core
