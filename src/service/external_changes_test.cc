#include "service/external_changes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/ids.h"
#include "service/service_test_fixture.h"
#include "store/sqlite/sqlite_store.h"

namespace tokend::service {
namespace {

// Two stores on one SQLite file: `server_` stands for a running tokend, `other_` for the CLI
// or a second instance.
class ExternalChangeWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("tokend-watch-" + core::NewId());
    std::filesystem::create_directories(dir_);
    const std::string path = (dir_ / "tokend.db").string();
    auto server = store::OpenSqliteStore(path);
    ASSERT_TRUE(server) << Describe(server.error());
    ASSERT_TRUE((*server)->Migrate());
    server_ = std::move(*server);
    auto other = store::OpenSqliteStore(path);
    ASSERT_TRUE(other) << Describe(other.error());
    other_ = std::move(*other);
  }
  void TearDown() override {
    server_.reset();
    other_.reset();
    std::filesystem::remove_all(dir_);
  }

  static core::Tenant NewTenant() {
    core::Tenant tenant;
    tenant.id = core::NewId();
    tenant.name = "t" + tenant.id;
    return tenant;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> server_;
  std::unique_ptr<store::Store> other_;
  int changes_ = 0;
};

TEST_F(ExternalChangeWatcherTest, ReportsAnotherProcesssCommitOnceAndNotItsOwn) {
  ExternalChangeWatcher watcher(*server_, [this] { ++changes_; }, {.background = false});
  EXPECT_FALSE(watcher.Poll());

  ASSERT_TRUE(server_->CreateTenant(NewTenant()));
  EXPECT_FALSE(watcher.Poll()) << "the server's own writes invalidate as they happen";

  ASSERT_TRUE(other_->CreateTenant(NewTenant()));
  EXPECT_TRUE(watcher.Poll());
  EXPECT_FALSE(watcher.Poll());
  EXPECT_EQ(changes_, 1);
}

TEST_F(ExternalChangeWatcherTest, AnUnreadableVersionCountsAsAChangeUntilItReadsAgain) {
  FaultyStore faulty(*server_);
  ExternalChangeWatcher watcher(faulty, [this] { ++changes_; }, {.background = false});
  faulty.fail_external_change_version = true;
  EXPECT_TRUE(watcher.Poll());
  EXPECT_TRUE(watcher.Poll());
  faulty.fail_external_change_version = false;
  EXPECT_TRUE(watcher.Poll()) << "nothing proves that the failed polls missed no commit";
  EXPECT_FALSE(watcher.Poll());
  EXPECT_EQ(changes_, 3);
}

TEST_F(ExternalChangeWatcherTest, TheBackgroundThreadReportsWithinAFewIntervals) {
  std::atomic<int> changes{0};
  ExternalChangeWatcher watcher(*server_, [&] { ++changes; },
                                {.interval = std::chrono::milliseconds{10}});
  ASSERT_TRUE(other_->CreateTenant(NewTenant()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (changes.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  EXPECT_EQ(changes.load(), 1);
}

}  // namespace
}  // namespace tokend::service
