#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/ids.h"

namespace tokend::store {
namespace {

TEST(OpenStoreTest, MemoryUrlOpensAWorkingStore) {
  auto store = OpenStore("sqlite::memory:");
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Migrate());
  EXPECT_TRUE((*store)->Ping());
}

TEST(OpenStoreTest, AbsoluteAndRelativeSqliteUrlsNameTheirFiles) {
  auto dir = std::filesystem::path(::testing::TempDir()) / ("tokend-open-" + core::NewId());
  std::filesystem::create_directories(dir);
  auto absolute = dir / "abs.db";
  {
    auto store = OpenStore("sqlite://" + absolute.string());  // "sqlite:///tmp/..."
    ASSERT_TRUE(store);
  }
  EXPECT_TRUE(std::filesystem::exists(absolute));

  auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  {
    auto store = OpenStore("sqlite://rel.db");
    ASSERT_TRUE(store);
  }
  std::filesystem::current_path(previous);
  EXPECT_TRUE(std::filesystem::exists(dir / "rel.db"));
  std::filesystem::remove_all(dir);
}

TEST(OpenStoreTest, UnknownSchemeIsInvalidArgumentWithoutEchoingTheUrl) {
  for (const char* url :
       {"mysql://user:secret@host/db", "sqlite:", "", "/plain/path.db", "sqlite://"}) {
    auto store = OpenStore(url);
    ASSERT_FALSE(store) << url;
    EXPECT_EQ(store.error().code, core::ErrorCode::kInvalidArgument) << url;
    EXPECT_EQ(store.error().public_message.find("secret"), std::string::npos);
  }
}

}  // namespace
}  // namespace tokend::store
