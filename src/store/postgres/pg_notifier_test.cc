// Cross-instance invalidation: what one store commits reaches another instance's notifier,
// what it rolls back does not, and a lost listening connection is replaced.
#include "store/postgres/pg_notifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "core/ids.h"
#include "store/postgres/pg_test_database.h"
#include "store/postgres/postgres_store.h"

namespace tokend::store::postgres {
namespace {

using std::chrono::milliseconds;
using Kind = Invalidation::Kind;
constexpr core::Time kT0 = core::Time{core::seconds{1'700'000'000}};

TEST(PostgresInvalidationPayloadTest, RoundTripsEveryKindAndRejectsUnknownOnes) {
  for (Kind kind :
       {Kind::kToken, Kind::kUser, Kind::kUserType, Kind::kTenant, Kind::kDepartment, Kind::kAll}) {
    const Invalidation in{kind, core::NewId(), core::NewId()};
    EXPECT_EQ(DecodeInvalidation(EncodeInvalidation(in)), in) << EncodeInvalidation(in);
  }
  const Invalidation tenant_only{Kind::kTenant, "T1", ""};
  EXPECT_EQ(DecodeInvalidation(EncodeInvalidation(tenant_only)), tenant_only);
  EXPECT_EQ(DecodeInvalidation("rocket T1 X"), std::nullopt);
  EXPECT_EQ(DecodeInvalidation("token"), std::nullopt);
  EXPECT_EQ(DecodeInvalidation(""), std::nullopt);
}

// Collects what a notifier reports, for waiting on from the test thread.
class Inbox {
 public:
  void Push(const Invalidation& invalidation) {
    std::lock_guard lock(mutex_);
    received_.push_back(invalidation);
    arrived_.notify_all();
  }
  // True when `want` arrives within `timeout`.
  bool WaitFor(const Invalidation& want, milliseconds timeout = milliseconds{5000}) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] {
      return std::find(received_.begin(), received_.end(), want) != received_.end();
    });
  }
  // True when at least `n` announcements of `kind` arrived within `timeout`.
  bool WaitForCount(Kind kind, int n, milliseconds timeout = milliseconds{5000}) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] {
      return std::count_if(received_.begin(), received_.end(),
                           [&](const Invalidation& i) { return i.kind == kind; }) >= n;
    });
  }
  int Count(Kind kind) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count_if(received_.begin(), received_.end(),
                                          [&](const Invalidation& i) { return i.kind == kind; }));
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Invalidation> received_;
};

class PostgresNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conninfo = testing::FreshMigratedDatabase();
    if (!conninfo) GTEST_SKIP() << "no PostgreSQL server (TOKEND_TEST_PG_URL)";
    ASSERT_FALSE(conninfo->starts_with("error: ")) << *conninfo;
    conninfo_ = *conninfo;
    auto store = OpenPostgresStore(conninfo_);
    ASSERT_TRUE(store) << store.error().log_detail;
    store_ = std::move(*store);
    PgNotifier::Options options;
    options.reconnect_delay = milliseconds{100};
    auto notifier = PgNotifier::Start(
        conninfo_, [this](const Invalidation& i) { inbox_.Push(i); }, options);
    ASSERT_TRUE(notifier) << notifier.error().log_detail;
    notifier_ = std::move(*notifier);
    MakeWorld();
  }

  core::AuditEvent Audit(std::string action, std::string target_id = "") {
    core::AuditEvent event;
    event.tenant_id = tenant_.id;
    event.time = kT0;
    event.action = std::move(action);
    event.target_id = std::move(target_id);
    return event;
  }

  void MakeWorld() {
    tenant_ = {core::NewId(), "acme", {}, kT0};
    ASSERT_TRUE(store_->CreateTenant(tenant_));
    department_ = {core::NewId(), tenant_.id, "root", std::nullopt, kT0};
    ASSERT_TRUE(store_->CreateDepartment(department_, Audit("department.create")));
    user_type_ = {core::NewId(), tenant_.id, "admin", core::PermissionSet::All(), kT0};
    ASSERT_TRUE(store_->CreateUserType(user_type_, Audit("user_type.create")));
    user_.id = core::NewId();
    user_.tenant_id = tenant_.id;
    user_.username = "admin";
    user_.memberships = {{department_.id, user_type_.id}};
    user_.created_at = kT0;
    ASSERT_TRUE(store_->CreateUser(user_, Audit("user.create")));
  }

  core::Token NewToken() {
    core::Token token;
    token.id = core::NewId();
    token.tenant_id = tenant_.id;
    token.name = "t";
    token.lookup_hash = core::NewId() + "-lookup-hash-000000";
    token.user_id = user_.id;
    token.department_id = department_.id;
    token.user_type_id = user_type_.id;
    token.created_at = kT0;
    token.expires_at = kT0 + core::days{1};
    EXPECT_TRUE(store_->CreateToken(token, Audit("token.create", token.id)));
    return token;
  }

  std::string conninfo_;
  std::unique_ptr<Store> store_;
  Inbox inbox_;  // outlives notifier_ (declared before it)
  std::unique_ptr<PgNotifier> notifier_;
  core::Tenant tenant_;
  core::Department department_;
  core::UserType user_type_;
  core::User user_;
};

TEST_F(PostgresNotifierTest, RevocationReachesTheListenerOnceAndOnlyWhenItRevokes) {
  auto token = NewToken();
  std::vector<core::AuditEvent> revoke{Audit("token.delete", token.id)};
  auto revoked = store_->RevokeTokens(tenant_.id, revoke, kT0);
  ASSERT_TRUE(revoked && revoked->size() == 1u);
  EXPECT_TRUE(inbox_.WaitFor({Kind::kToken, tenant_.id, token.id}));

  // Revoking again changes nothing and announces nothing.
  ASSERT_TRUE(store_->RevokeTokens(tenant_.id, revoke, kT0));
  // A later announcement arriving proves the earlier (absent) one had time to arrive.
  ASSERT_TRUE(store_->UpdateTenantSettings(tenant_.id, core::TenantSettings{}));
  ASSERT_TRUE(inbox_.WaitFor({Kind::kTenant, tenant_.id, ""}));
  EXPECT_EQ(inbox_.Count(Kind::kToken), 1);
}

TEST_F(PostgresNotifierTest, PermissionAndMembershipChangesAreAnnounced) {
  auto user_type = user_type_;
  user_type.permissions = core::PermissionSet::Of({core::Permission::kTokensRead});
  ASSERT_TRUE(store_->UpdateUserType(user_type, Audit("user_type.update")));
  EXPECT_TRUE(inbox_.WaitFor({Kind::kUserType, tenant_.id, user_type_.id}));

  auto user = user_;
  user.active = false;
  ASSERT_TRUE(store_->UpdateUser(user, Audit("user.update")));
  EXPECT_TRUE(inbox_.WaitFor({Kind::kUser, tenant_.id, user_.id}));
}

TEST_F(PostgresNotifierTest, RolledBackChangesAnnounceNothing) {
  auto user = user_;
  user.memberships.push_back({core::NewId(), user_type_.id});  // unknown department
  auto updated = store_->UpdateUser(user, Audit("user.update"));
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, core::ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(store_->UpdateTenantSettings(tenant_.id, core::TenantSettings{}));
  ASSERT_TRUE(inbox_.WaitFor({Kind::kTenant, tenant_.id, ""}));
  EXPECT_EQ(inbox_.Count(Kind::kUser), 0);
}

TEST_F(PostgresNotifierTest, LostConnectionIsReplacedAndReportedAsInvalidateAll) {
  ASSERT_TRUE(notifier_->connected());
  testing::AdminConnection admin(conninfo_);
  ASSERT_TRUE(admin.ok()) << admin.error();
  std::string killed;
  ASSERT_EQ(admin.Exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE application_name = 'tokend-listener' AND datname = "
                       "current_database()",
                       &killed),
            "");
  ASSERT_EQ(killed, "1");
  // Everything is dropped twice: the moment the connection is lost (announcements from now on
  // are lost too, and the database may be gone) and again once it is back.
  EXPECT_TRUE(inbox_.WaitForCount(Kind::kAll, 1));
  EXPECT_TRUE(inbox_.WaitForCount(Kind::kAll, 2));
  EXPECT_GE(notifier_->reconnects(), 1);
  EXPECT_TRUE(notifier_->connected());

  // And it listens again.
  auto token = NewToken();
  std::vector<core::AuditEvent> revoke{Audit("token.delete", token.id)};
  ASSERT_TRUE(store_->RevokeTokens(tenant_.id, revoke, kT0));
  EXPECT_TRUE(inbox_.WaitFor({Kind::kToken, tenant_.id, token.id}));
}

TEST(PostgresNotifierStartTest, ServerThatIsDownIsUnavailable) {
  auto notifier = PgNotifier::Start("postgresql://postgres@127.0.0.1:1/tokend?connect_timeout=2",
                                    [](const Invalidation&) {});
  ASSERT_FALSE(notifier);
  EXPECT_EQ(notifier.error().code, core::ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace tokend::store::postgres
