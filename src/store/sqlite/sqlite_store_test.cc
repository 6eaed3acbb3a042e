#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/store_contract_test.h"

namespace tokend::store {
namespace {

// Every file database of this process lives under one directory, removed when the tests end.
class TempRoot : public ::testing::Environment {
 public:
  static const std::filesystem::path& Path() {
    static const std::filesystem::path path =
        std::filesystem::path(::testing::TempDir()) / ("tokend-sqlite-" + core::NewId());
    return path;
  }
  void TearDown() override { std::filesystem::remove_all(Path()); }
};
[[maybe_unused]] ::testing::Environment* const kTempRoot =
    ::testing::AddGlobalTestEnvironment(new TempRoot);

std::filesystem::path FreshDir() {
  auto dir = TempRoot::Path() / core::NewId();
  std::filesystem::create_directories(dir);
  return dir;
}

struct SqliteMemoryFactory {
  static std::unique_ptr<Store> Make() {
    auto store = OpenSqliteStore(":memory:");
    if (!store || !(*store)->Migrate()) return nullptr;
    return std::move(*store);
  }
};

// The file store runs the suite too: it reads on a separate pool of connections.
struct SqliteFileFactory {
  static std::unique_ptr<Store> Make() {
    auto store = OpenSqliteStore((FreshDir() / "tokend.db").string());
    if (!store || !(*store)->Migrate()) return nullptr;
    return std::move(*store);
  }
};

using SqliteFactories = ::testing::Types<SqliteMemoryFactory, SqliteFileFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContractTest, SqliteFactories);

class SqliteFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir();
    path_ = (dir_ / "tokend.db").string();
  }

  static core::Tenant SomeTenant() {
    core::Tenant tenant;
    tenant.id = core::NewId();
    tenant.name = "acme";
    tenant.created_at = core::FromUnixSeconds(1'700'000'000);
    return tenant;
  }

  // Every row of `sql`, run on a read-only connection of its own, each column as text.
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string>& row = rows.emplace_back();
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* text = sqlite3_column_text(stmt, c);
        row.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
      }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
  }

  std::string Pragma(const std::string& pragma) {
    auto rows = Query("PRAGMA " + pragma);
    return rows.empty() || rows[0].empty() ? std::string() : rows[0][0];
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteFileTest, ReopenedFileKeepsItsData) {
  auto tenant = SomeTenant();
  {
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store) << DescribeResult(store);
    ASSERT_TRUE((*store)->Migrate());
    ASSERT_TRUE((*store)->CreateTenant(tenant));
  }
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store) << DescribeResult(store);
  ASSERT_TRUE((*store)->Migrate());  // already migrated: a no-op
  auto got = (*store)->GetTenantByName("acme");
  ASSERT_TRUE(got) << DescribeResult(got);
  EXPECT_EQ(got->id, tenant.id);
}

TEST_F(SqliteFileTest, ExternalChangeVersionMovesOnlyForOtherConnectionsCommits) {
  auto server = OpenSqliteStore(path_);
  ASSERT_TRUE(server) << DescribeResult(server);
  ASSERT_TRUE((*server)->Migrate());
  auto before = (*server)->ExternalChangeVersion();
  ASSERT_TRUE(before) << DescribeResult(before);

  // The store's own writes, e.g. activity flushes, must not look like someone else's.
  ASSERT_TRUE((*server)->CreateTenant(SomeTenant()));
  auto after_own = (*server)->ExternalChangeVersion();
  ASSERT_TRUE(after_own);
  EXPECT_EQ(*after_own, *before);

  // A second store on the file stands for the CLI or another tokend.
  auto other = OpenSqliteStore(path_);
  ASSERT_TRUE(other) << DescribeResult(other);
  core::Tenant second = SomeTenant();
  second.name = "globex";
  ASSERT_TRUE((*other)->CreateTenant(second));
  auto after_other = (*server)->ExternalChangeVersion();
  ASSERT_TRUE(after_other);
  EXPECT_NE(*after_other, *after_own);
  auto unchanged = (*server)->ExternalChangeVersion();
  ASSERT_TRUE(unchanged);
  EXPECT_EQ(*unchanged, *after_other);
}

TEST_F(SqliteFileTest, CheckpointsRunInTheBackgroundAndDoNotLookLikeOtherProcessesWrites) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store) << DescribeResult(store);
  ASSERT_TRUE((*store)->Migrate());
  auto before = (*store)->ExternalChangeVersion();
  ASSERT_TRUE(before);
  for (int i = 0; i < 50; ++i) {
    core::Tenant tenant = SomeTenant();
    tenant.name = "t" + std::to_string(i);
    ASSERT_TRUE((*store)->CreateTenant(tenant));
  }
  const auto wal = std::filesystem::path(path_ + "-wal");
  ASSERT_GT(std::filesystem::file_size(wal), 0u);
  // The checkpoint thread copies the WAL into the database file within a few intervals.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uintmax_t db_size = std::filesystem::file_size(path_);
  while (std::chrono::steady_clock::now() < deadline) {
    db_size = std::filesystem::file_size(path_);
    if (db_size > 4096 * 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(db_size, 4096u * 8) << "the database file grew: the WAL was checkpointed";
  auto after = (*store)->ExternalChangeVersion();
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, *before);
  // Everything is still there.
  auto tenants = (*store)->ListTenants();
  ASSERT_TRUE(tenants);
  EXPECT_EQ(tenants->size(), 50u);
}

TEST_F(SqliteFileTest, FileIsInWalModeWithForeignKeysOn) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store) << DescribeResult(store);
  ASSERT_TRUE((*store)->Migrate());
  EXPECT_EQ(Pragma("journal_mode"), "wal");
  EXPECT_EQ(Pragma("user_version"), "0");
  // Foreign keys are per connection: observe them through the store.
  core::Department orphan{core::NewId(), core::NewId(), "orphan", std::nullopt,
                          core::FromUnixSeconds(0)};
  auto result = (*store)->CreateDepartment(orphan, core::AuditEvent{});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ErrorCode::kFailedPrecondition);
}

TEST_F(SqliteFileTest, ReadOnlyFileReadsButRefusesWritesAsUnavailable) {
  auto tenant = SomeTenant();
  {
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->Migrate());
    ASSERT_TRUE((*store)->CreateTenant(tenant));
  }
  // Tests may run as root, which file permissions do not stop: open the file read-only.
  auto store = OpenSqliteStore("file:" + path_ + "?mode=ro");
  ASSERT_TRUE(store) << DescribeResult(store);
  ASSERT_TRUE((*store)->Migrate()) << "nothing pending: no write needed";
  auto got = (*store)->GetTenant(tenant.id);
  ASSERT_TRUE(got) << DescribeResult(got);
  EXPECT_EQ(got->name, "acme");
  auto other = SomeTenant();
  other.name = "other";
  auto written = (*store)->CreateTenant(other);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(written.error().log_detail.find("readonly"), std::string::npos)
      << written.error().log_detail;
  EXPECT_EQ(written.error().public_message.find("readonly"), std::string::npos);
  auto audit = (*store)->AppendAudit(core::AuditEvent{});
  ASSERT_FALSE(audit);
  EXPECT_EQ(audit.error().code, core::ErrorCode::kUnavailable);
}

// Readers on the pool and the writer at once: every reader sees only whole tokens, every
// write lands exactly once, and a refused write in a shared commit affects no other.
TEST_F(SqliteFileTest, ConcurrentReadersAndWritersSeeConsistentData) {
  auto opened = OpenSqliteStore(path_);
  ASSERT_TRUE(opened);
  Store& store = **opened;
  ASSERT_TRUE(store.Migrate());
  auto tenant = SomeTenant();
  ASSERT_TRUE(store.CreateTenant(tenant));
  core::Department root{core::NewId(), tenant.id, "root", std::nullopt, tenant.created_at};
  ASSERT_TRUE(store.CreateDepartment(root, core::AuditEvent{}));
  core::UserType type{core::NewId(), tenant.id, "admin", core::PermissionSet::All(),
                      tenant.created_at};
  ASSERT_TRUE(store.CreateUserType(type, core::AuditEvent{}));
  core::User user;
  user.id = core::NewId();
  user.tenant_id = tenant.id;
  user.username = "admin";
  user.memberships = {{root.id, type.id}};
  ASSERT_TRUE(store.CreateUser(user, core::AuditEvent{}));

  constexpr int kWriters = 3;
  constexpr int kTokensPerWriter = 40;
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kTokensPerWriter; ++i) {
        core::Token token;
        token.id = core::NewId();
        token.tenant_id = tenant.id;
        token.name = "w" + std::to_string(w) + "-" + std::to_string(i);
        token.lookup_hash = core::NewId() + "-0123456789ab";
        token.user_id = user.id;
        token.department_id = root.id;
        token.user_type_id = type.id;
        token.created_at = tenant.created_at + core::seconds{i};
        token.expires_at = token.created_at + core::days{1};
        core::AuditEvent audit;
        audit.tenant_id = tenant.id;
        audit.action = "token.create";
        if (!store.CreateToken(token, audit)) read_errors.fetch_add(1);
        // A failing write sharing the commit with the others must not take them down.
        core::User twin = user;
        twin.id = core::NewId();
        auto refused = store.CreateUser(twin, audit);
        if (refused || refused.error().code != core::ErrorCode::kAlreadyExists) {
          read_errors.fetch_add(1);
        }
        auto found = store.FindCredential(token.lookup_hash);
        if (!found || found->token.id != token.id) read_errors.fetch_add(1);
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&] {
      while (!done.load()) {
        TokenQuery query;
        query.limit = 200;
        auto page = store.ListTokens(tenant.id, query);
        if (!page) {
          read_errors.fetch_add(1);
          continue;
        }
        for (const auto& row : page->rows) {
          if (row.user.username != "admin" || row.department.name != "root") {
            read_errors.fetch_add(1);
          }
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done.store(true);
  for (std::size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(read_errors.load(), 0);

  TokenQuery query;
  query.limit = 200;
  auto page = store.ListTokens(tenant.id, query);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->rows.size(), static_cast<std::size_t>(kWriters * kTokensPerWriter));
  AuditQuery audit_query;
  audit_query.action = "token.create";
  audit_query.limit = 200;
  auto events = store.ListAudit(tenant.id, audit_query);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->events.size(), static_cast<std::size_t>(kWriters * kTokensPerWriter));
}

TEST_F(SqliteFileTest, UnopenableFileIsUnavailable) {
  auto store = OpenSqliteStore((dir_ / "missing-dir" / "tokend.db").string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, core::ErrorCode::kUnavailable);
}

TEST_F(SqliteFileTest, MigrateRecordsEveryVersionOnce) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Migrate());
  ASSERT_TRUE((*store)->Migrate());
  EXPECT_EQ(Pragma("table_info(schema_migrations)").empty(), false);
  auto rows =
      Query("SELECT count(*), count(DISTINCT version), min(version) FROM schema_migrations");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_GE(std::stoi(rows[0][0]), 1);
  EXPECT_EQ(rows[0][0], rows[0][1]);
  EXPECT_EQ(rows[0][2], "1");
}

// Migration 2: a revocation (UPDATE of revoked_at) must not have to touch any token index, as
// it did while they were partial on `revoked_at IS NULL` (half the time of a 10,000-token
// delete). No index may name revoked_at, in its columns or in a WHERE clause.
TEST_F(SqliteFileTest, NoTokenIndexDependsOnRevocation) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Migrate());
  auto indexes = Query(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens' AND "
      "sql IS NOT NULL");
  EXPECT_EQ(indexes.size(), 7u);
  for (const auto& index : indexes) {
    EXPECT_EQ(index[1].find("revoked_at"), std::string::npos) << index[0] << ": " << index[1];
  }
}

}  // namespace
}  // namespace tokend::store
