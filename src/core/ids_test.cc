#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>

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
