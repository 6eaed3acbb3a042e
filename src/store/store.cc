#include "store/store.h"

#include <string_view>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace tokend::store {

Result<std::vector<TokenRow>> Store::GetTokens(const std::string& tenant_id,
                                               std::span<const std::string> ids) {
  std::vector<TokenRow> rows;
  for (const std::string& id : ids) {
    auto row = GetToken(tenant_id, id);
    if (row) {
      rows.push_back(std::move(*row));
    } else if (row.error().code != core::ErrorCode::kNotFound) {
      return tl::unexpected(std::move(row.error()));
    }
  }
  return rows;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  const std::string_view view(url);
  if (view == "sqlite::memory:") return OpenSqliteStore(":memory:");
  // "sqlite:///abs/path.db" keeps the third slash as the root of an absolute path;
  // "sqlite://rel.db" names a path relative to the working directory.
  if (view.starts_with("sqlite://")) {
    std::string path(view.substr(9));
    if (path.empty()) return tl::unexpected(core::InvalidArgument("The database URL has no path."));
    return OpenSqliteStore(path);
  }
  if (view.starts_with("postgresql://") || view.starts_with("postgres://")) {
    return OpenPostgresStore(url);
  }
  // Never echo the URL: a PostgreSQL URL may carry a password.
  return tl::unexpected(core::InvalidArgument(
      "Unknown database URL scheme: use sqlite:///path/file.db or postgresql://..."));
}

}  // namespace tokend::store
