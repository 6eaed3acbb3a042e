// The PostgreSQL store: the store contract suite plus what only a server can show (pool
// exhaustion, a server that is down, broken connections, concurrent migrations).
// Needs a server: run through CTest (fixture `postgres`, see tests/pg/CMakeLists.txt) or set
// TOKEND_TEST_PG_URL.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "store/postgres/pg_pool.h"
#include "store/postgres/pg_test_database.h"
#include "store/sqlite/sqlite_migrations.h"
#include "store/store_contract_test.h"

namespace tokend::store {
namespace {

namespace pgt = postgres::testing;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Drops this process's test databases once every test is done (stores are closed by then).
class DropDatabasesAtExit : public ::testing::Environment {
 public:
  void TearDown() override { pgt::DropCreatedDatabases(); }
};
const auto* const kDropDatabases = ::testing::AddGlobalTestEnvironment(new DropDatabasesAtExit);

struct PostgresFactory {
  static std::unique_ptr<Store> Make() {
    auto conninfo = pgt::FreshMigratedDatabase();
    if (!conninfo) return nullptr;  // no server configured: the suite skips
    if (conninfo->starts_with("error: ")) {
      ADD_FAILURE() << "test database: " << *conninfo;
      return nullptr;
    }
    auto store = OpenPostgresStore(*conninfo);
    if (!store) {
      ADD_FAILURE() << "open: " << DescribeResult(store);
      return nullptr;
    }
    return std::move(*store);
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContractTest, ::testing::Types<PostgresFactory>);

// A loopback port with nothing listening on it.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);  // never listened: connections are refused
  return ntohs(addr.sin_port);
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = pgt::TestServerUrl();
    if (!server_) GTEST_SKIP() << "no PostgreSQL server (TOKEND_TEST_PG_URL)";
  }

  // A fresh migrated database's conninfo.
  std::string FreshDatabase() {
    auto conninfo = pgt::FreshMigratedDatabase();
    EXPECT_TRUE(conninfo && !conninfo->starts_with("error: ")) << conninfo.value_or("");
    return conninfo.value_or("");
  }

  std::optional<std::string> server_;
};

TEST_F(PostgresStoreTest, ServerThatIsDownIsUnavailableAndNeverLeaksThePassword) {
  const std::string url =
      "postgresql://tokend:s3cret-pass@127.0.0.1:" + std::to_string(ClosedPort()) +
      "/tokend?connect_timeout=2";
  const auto start = steady_clock::now();
  auto store = OpenPostgresStore(url);
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds{3});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, core::ErrorCode::kUnavailable) << store.error().log_detail;
  EXPECT_EQ(store.error().log_detail.find("s3cret-pass"), std::string::npos);
  EXPECT_EQ(store.error().public_message.find("s3cret-pass"), std::string::npos);
  EXPECT_EQ(store.error().public_message.find("127.0.0.1"), std::string::npos)
      << "connection details belong in log_detail only";
}

TEST_F(PostgresStoreTest, BadTokendUrlParameterIsInvalidArgument) {
  auto store = OpenPostgresStore(*server_ + (server_->find('?') == std::string::npos ? "?" : "&") +
                                 "pool_size=0");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, core::ErrorCode::kInvalidArgument);
}

TEST_F(PostgresStoreTest, UrlParametersConfigureThePool) {
  const std::string separator = server_->find('?') == std::string::npos ? "?" : "&";
  auto store = OpenPostgresStore(*server_ + separator + "pool_size=2&acquire_timeout_ms=100");
  TOKEND_ASSERT_OK(store);
  TOKEND_ASSERT_OK((*store)->Ping());
}

TEST_F(PostgresStoreTest, ExhaustedPoolAnswersUnavailableAfterTheAcquireTimeout) {
  postgres::ConnectionSettings settings;
  settings.conninfo = FreshDatabase();
  postgres::ConnectionPool pool(settings, 1, milliseconds{300});
  auto held = pool.Acquire();
  TOKEND_ASSERT_OK(held);

  const auto start = steady_clock::now();
  auto second = pool.Acquire();
  const auto waited = steady_clock::now() - start;
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, core::ErrorCode::kUnavailable);
  EXPECT_GE(waited, milliseconds{250});
  EXPECT_LT(waited, milliseconds{2000});

  // A waiter gets the connection as soon as it is returned.
  auto waiter = std::async(std::launch::async, [&] { return pool.Acquire().has_value(); });
  std::this_thread::sleep_for(milliseconds{50});
  { auto released = std::move(*held); }
  EXPECT_TRUE(waiter.get());
}

TEST_F(PostgresStoreTest, SlowDatabaseYieldsUnavailableNotAHang) {
  const std::string conninfo = FreshDatabase();
  PostgresOptions options;
  options.pool_size = 1;
  options.acquire_timeout = milliseconds{300};
  options.statement_timeout = milliseconds{500};
  auto store = OpenPostgresStore(conninfo, options);
  TOKEND_ASSERT_OK(store);

  // Another session locks the table: reads of it wait until the statement timeout.
  pgt::AdminConnection locker(conninfo);
  ASSERT_TRUE(locker.ok()) << locker.error();
  ASSERT_EQ(locker.Exec("BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE"), "");

  auto blocked = std::async(std::launch::async, [&] {
    const auto start = steady_clock::now();
    auto result = (*store)->ListTenants();
    return std::make_pair(std::move(result), steady_clock::now() - start);
  });
  std::this_thread::sleep_for(milliseconds{100});
  // Meanwhile the only connection is busy: the pool refuses rather than queueing forever.
  auto ping = (*store)->Ping();
  ASSERT_FALSE(ping.has_value());
  EXPECT_EQ(ping.error().code, core::ErrorCode::kUnavailable);

  auto [result, took] = blocked.get();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, core::ErrorCode::kUnavailable) << result.error().log_detail;
  EXPECT_LT(took, std::chrono::seconds{3});
  ASSERT_EQ(locker.Exec("ROLLBACK"), "");
  // The connection survived the cancelled statement and serves again.
  TOKEND_ASSERT_OK((*store)->ListTenants());
}

TEST_F(PostgresStoreTest, BrokenConnectionsAreReplaced) {
  const std::string conninfo = FreshDatabase();
  PostgresOptions options;
  options.pool_size = 2;
  auto store = OpenPostgresStore(conninfo, options);
  TOKEND_ASSERT_OK(store);
  TOKEND_ASSERT_OK((*store)->Ping());

  // Kill every session of the store, as a server restart or a failover would.
  pgt::AdminConnection admin(conninfo);  // no application_name: not one of the store's
  ASSERT_TRUE(admin.ok()) << admin.error();
  std::string killed;
  ASSERT_EQ(admin.Exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE application_name = 'tokend' AND datname = current_database()",
                       &killed),
            "");
  ASSERT_NE(killed, "0");
  std::this_thread::sleep_for(milliseconds{100});
  TOKEND_ASSERT_OK((*store)->Ping());
  TOKEND_ASSERT_OK((*store)->ListTenants());
}

TEST_F(PostgresStoreTest, ConcurrentMigrateAppliesEachVersionOnce) {
  pgt::AdminConnection admin(*server_);
  ASSERT_TRUE(admin.ok()) << admin.error();
  const std::string conninfo = pgt::CreateEmptyDatabase(*server_, admin);
  ASSERT_FALSE(conninfo.starts_with("error: ")) << conninfo;

  constexpr int kStores = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kStores; ++i) {
    auto store = OpenPostgresStore(conninfo);
    TOKEND_ASSERT_OK(store);
    stores.push_back(std::move(*store));
  }
  std::vector<std::future<VoidResult>> results;
  for (auto& store : stores) {
    results.push_back(std::async(std::launch::async, [&store] { return store->Migrate(); }));
  }
  for (auto& result : results) TOKEND_ASSERT_OK(result.get());

  pgt::AdminConnection db(conninfo);
  std::string count, distinct;
  ASSERT_EQ(db.Exec("SELECT count(*) FROM schema_migrations", &count), "");
  ASSERT_EQ(db.Exec("SELECT count(DISTINCT version) FROM schema_migrations", &distinct), "");
  EXPECT_EQ(count, std::to_string(postgres::Migrations().size()));
  EXPECT_EQ(count, distinct);
  // The schema works.
  core::Tenant tenant;
  tenant.id = core::NewId();
  tenant.name = "after-migrate";
  TOKEND_ASSERT_OK(stores[0]->CreateTenant(tenant));
  TOKEND_ASSERT_OK(stores[1]->GetTenant(tenant.id));
}

// SQLite serialises writers; PostgreSQL does not. Tokens have no foreign keys, so the store
// locks by hand: a token created while its department is being deleted either makes the
// delete fail or fails itself, never both succeed.
TEST_F(PostgresStoreTest, ConcurrentCreateTokenAndDeleteDepartmentNeverBothSucceed) {
  const std::string conninfo = FreshDatabase();
  auto opened = OpenPostgresStore(conninfo);
  TOKEND_ASSERT_OK(opened);
  Store& store = **opened;
  const core::Time t0{core::seconds{1'700'000'000}};
  core::AuditEvent audit;
  core::Tenant tenant{core::NewId(), "acme", {}, t0};
  audit.tenant_id = tenant.id;
  TOKEND_ASSERT_OK(store.CreateTenant(tenant));
  core::Department root{core::NewId(), tenant.id, "root", std::nullopt, t0};
  TOKEND_ASSERT_OK(store.CreateDepartment(root, audit));
  core::UserType type{core::NewId(), tenant.id, "admin", core::PermissionSet::All(), t0};
  TOKEND_ASSERT_OK(store.CreateUserType(type, audit));
  core::User user;
  user.id = core::NewId();
  user.tenant_id = tenant.id;
  user.username = "admin";
  user.created_at = t0;
  TOKEND_ASSERT_OK(store.CreateUser(user, audit));

  for (int round = 0; round < 25; ++round) {
    core::Department leaf{core::NewId(), tenant.id, "leaf", root.id, t0};
    TOKEND_ASSERT_OK(store.CreateDepartment(leaf, audit));
    core::Token token;
    token.id = core::NewId();
    token.tenant_id = tenant.id;
    token.lookup_hash = core::NewId() + "-race-hash-0000000";
    token.user_id = user.id;
    token.department_id = leaf.id;
    token.user_type_id = type.id;
    token.created_at = t0;
    token.expires_at = t0 + core::days{1};
    auto created = std::async(std::launch::async, [&] { return store.CreateToken(token, audit); });
    auto deleted = std::async(std::launch::async,
                              [&] { return store.DeleteDepartment(tenant.id, leaf.id, audit); });
    const bool token_ok = created.get().has_value();
    const bool delete_ok = deleted.get().has_value();
    EXPECT_NE(token_ok, delete_ok) << "round " << round;
  }
}

TEST(PostgresMigrationsTest, MirrorEverySqliteVersion) {
  // The PostgreSQL history keeps step with SQLite's, version for version.
  const auto pg = postgres::Migrations();
  const auto lite = sqlite::Migrations();
  ASSERT_EQ(pg.size(), lite.size());
  for (std::size_t i = 0; i < pg.size(); ++i) {
    EXPECT_EQ(pg[i].version, lite[i].version);
    EXPECT_EQ(pg[i].name, lite[i].name);
  }
}

TEST_F(PostgresStoreTest, MigrateRefusesADatabaseFromANewerVersion) {
  const std::string conninfo = FreshDatabase();
  pgt::AdminConnection db(conninfo);
  ASSERT_TRUE(db.ok()) << db.error();
  ASSERT_EQ(db.Exec("INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES (1000, 'from the future', 0)"),
            "");
  auto store = OpenPostgresStore(conninfo);
  TOKEND_ASSERT_OK(store);
  auto migrated = (*store)->Migrate();
  ASSERT_FALSE(migrated.has_value());
  EXPECT_EQ(migrated.error().code, core::ErrorCode::kFailedPrecondition);
}

TEST_F(PostgresStoreTest, ManyThreadsShareOneStore) {
  const std::string conninfo = FreshDatabase();
  PostgresOptions options;
  options.pool_size = 3;
  auto opened = OpenPostgresStore(conninfo, options);
  TOKEND_ASSERT_OK(opened);
  Store& store = **opened;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::vector<std::future<int>> done;
  for (int t = 0; t < kThreads; ++t) {
    done.push_back(std::async(std::launch::async, [&store, t] {
      int ok = 0;
      for (int i = 0; i < kPerThread; ++i) {
        core::Tenant tenant;
        tenant.id = core::NewId();
        tenant.name = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (store.CreateTenant(tenant) && store.GetTenant(tenant.id)) ++ok;
      }
      return ok;
    }));
  }
  for (auto& d : done) EXPECT_EQ(d.get(), kPerThread);
  auto tenants = store.ListTenants();
  TOKEND_ASSERT_OK(tenants);
  EXPECT_EQ(tenants->size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace tokend::store
