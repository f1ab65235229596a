#include "gateway/client_share.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace rapport::gateway {
namespace {

TEST(ShareOfTest, APercentOfTheCapAtLeastOne) {
  EXPECT_EQ(ShareOf(10000, 10), 1000);
  EXPECT_EQ(ShareOf(3, 10), 1);
  EXPECT_EQ(ShareOf(0, 10), 0);       // no cap
  EXPECT_EQ(ShareOf(10000, 0), 0);    // no share
  EXPECT_EQ(ShareOf(10000, 100), 0);  // the whole cap: no share
}

TEST(ShareCounterTest, OneKeyPastItsShareIsRefusedWhileOthersGetIn) {
  ShareCounter shares;
  std::vector<std::unique_ptr<ShareCounter::Slot>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(shares.TryTake("203.0.113.5", 3));
    ASSERT_NE(held.back(), nullptr) << i;
  }
  EXPECT_EQ(shares.TryTake("203.0.113.5", 3), nullptr);
  EXPECT_EQ(shares.Held("203.0.113.5"), 3);
  // Another client still gets in.
  auto other = shares.TryTake("198.51.100.7", 3);
  EXPECT_NE(other, nullptr);
  // One given back: room for one more.
  held.pop_back();
  EXPECT_EQ(shares.Held("203.0.113.5"), 2);
  EXPECT_NE(shares.TryTake("203.0.113.5", 3), nullptr);
  // No limit: counted all the same.
  auto unlimited = shares.TryTake("203.0.113.5", 0);
  EXPECT_NE(unlimited, nullptr);
  EXPECT_EQ(shares.Held("203.0.113.5"), 3);
  held.clear();
  unlimited.reset();
  EXPECT_EQ(shares.Held("203.0.113.5"), 0);
}

}  // namespace
}  // namespace rapport::gateway
