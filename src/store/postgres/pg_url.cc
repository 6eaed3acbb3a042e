#include "store/postgres/pg_url.h"

#include <charconv>
#include <cstdint>
#include <string_view>

namespace tokend::store::postgres {
namespace {

std::optional<std::int64_t> ParseInt64(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Splits tokend's own parameters off the URL's query string; libpq rejects unknown ones.
core::Result<std::string> ExtractOptions(const std::string& url, PostgresOptions& options) {
  const std::size_t question = url.find('?');
  if (question == std::string::npos) return url;
  std::string kept;
  std::string_view query = std::string_view(url).substr(question + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto number = [&]() -> core::Result<std::int64_t> {
      auto n = ParseInt64(value);
      if (!n || *n < 1) {
        return tl::unexpected(core::InvalidArgument(
            "The database URL parameter " + std::string(key) + " must be a positive integer."));
      }
      return *n;
    };
    if (key == "pool_size") {
      auto n = number();
      if (!n) return tl::unexpected(n.error());
      options.pool_size = static_cast<std::size_t>(*n);
    } else if (key == "acquire_timeout_ms") {
      auto n = number();
      if (!n) return tl::unexpected(n.error());
      options.acquire_timeout = std::chrono::milliseconds{*n};
    } else if (key == "statement_timeout_ms") {
      auto n = number();
      if (!n) return tl::unexpected(n.error());
      options.statement_timeout = std::chrono::milliseconds{*n};
    } else {
      if (!kept.empty()) kept += '&';
      kept += pair;
    }
  }
  return url.substr(0, question) + (kept.empty() ? "" : "?" + kept);
}

}  // namespace

core::Result<ConnectionSettings> SettingsFromUrl(const std::string& url, PostgresOptions& options) {
  auto conninfo = ExtractOptions(url, options);
  if (!conninfo) return tl::unexpected(std::move(conninfo.error()));
  ConnectionSettings settings;
  settings.conninfo = std::move(*conninfo);
  settings.connect_timeout = options.connect_timeout;
  settings.statement_timeout = options.statement_timeout;
  return settings;
}

}  // namespace tokend::store::postgres
