#include "cli/runtime.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "service/key_file.h"

namespace tokend::cli {

namespace {

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

}  // namespace

core::Result<std::unique_ptr<Runtime>> OpenRuntime(const StoreConfig& config) {
  if (!core::InitCrypto()) return tl::unexpected(core::Internal("libsodium failed to initialise"));
  auto runtime = std::make_unique<Runtime>();
  runtime->config = config;
  runtime->config.data_dir = AbsolutePath(config.data_dir);
  const std::string& data_dir = runtime->config.data_dir;

  std::error_code ec;
  if (!std::filesystem::exists(data_dir, ec)) {
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
      return tl::unexpected(core::FailedPrecondition("cannot create data directory " + data_dir +
                                                     ": " + ec.message()));
    }
    ::chmod(data_dir.c_str(), 0700);
  }

  if (runtime->config.db.empty()) runtime->config.db = "sqlite://" + data_dir + "/tokend.db";
  if (runtime->config.key_file.empty()) runtime->config.key_file = data_dir + "/server.key";

  auto store = store::OpenStore(runtime->config.db);
  if (!store) return tl::unexpected(store.error());
  runtime->store = std::move(*store);
  if (auto migrated = runtime->store->Migrate(); !migrated) {
    return tl::unexpected(migrated.error());
  }

  auto key = service::LoadOrCreateServerKey(runtime->config.key_file);
  if (!key) return tl::unexpected(key.error());
  runtime->key.emplace(std::move(*key));
  return runtime;
}

core::Result<TenantRef> ResolveTenant(store::Store& store, const std::string& name) {
  auto tenant = store.GetTenantByName(name);
  if (!tenant) {
    if (tenant.error().code == core::ErrorCode::kNotFound) {
      return tl::unexpected(core::NotFound("no tenant named '" + name + "'"));
    }
    return tl::unexpected(tenant.error());
  }
  auto departments = store.ListDepartments(tenant->id);
  if (!departments) return tl::unexpected(departments.error());
  for (const auto& department : *departments) {
    if (!department.parent_id) return TenantRef{*tenant, department.id};
  }
  return tl::unexpected(core::Internal("tenant " + tenant->id + " has no root department"));
}

}  // namespace tokend::cli
