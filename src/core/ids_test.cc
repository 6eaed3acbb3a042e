#include "core/ids.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "core/crypto.h"

namespace tokend::core {
namespace {

TEST(IdsTest, NewIdsLookLikeIdsAndAreDistinct) {
  ASSERT_TRUE(InitCrypto());
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewId();
    EXPECT_EQ(id.size(), 20u) << id;
    EXPECT_TRUE(LooksLikeId(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

// Ids sort by creation (B-tree inserts at the right edge), across a millisecond at least.
TEST(IdsTest, LaterIdsSortAfterEarlierOnes) {
  ASSERT_TRUE(InitCrypto());
  std::string previous = NewId();
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
    std::string next = NewId();
    EXPECT_LT(previous, next);
    previous = next;
  }
}

// The random part: ids made in a burst (mostly within one millisecond) differ in their last
// 12 characters, not only in the time prefix.
TEST(IdsTest, IdsMadeTogetherDifferInTheirRandomPart) {
  ASSERT_TRUE(InitCrypto());
  std::set<std::string> tails;
  for (int i = 0; i < 1000; ++i) tails.insert(NewId().substr(8));
  EXPECT_EQ(tails.size(), 1000u);
}

TEST(IdsTest, JunkIsNotAnId) {
  for (std::string junk :
       {std::string(""), std::string(19, 'a'), std::string(21, 'a'),
        std::string("aaaaaaaaaaaaaaaaaaa-"), std::string("aaaaaaaaaaaaaaaaaa/."),
        std::string("aaaaaaaaaaaaaaaaaa\xC3\xA9"), std::string("aaaaaaaaaaaaaaaaaaa\0", 20),
        std::string("../../etc/passwd")}) {
    EXPECT_FALSE(LooksLikeId(junk)) << junk;
  }
  EXPECT_TRUE(LooksLikeId("abcdefghijABCDEFGHIJ"));
  EXPECT_TRUE(LooksLikeId("01234567890123456789"));
}

}  // namespace
}  // namespace tokend::core
