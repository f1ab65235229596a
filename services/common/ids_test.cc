#include "services/common/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace rapport {
namespace {

TEST(IdsTest, UniqueWellFormedAndTimeOrdered) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 2000; ++i) {
    std::string id = NewId();
    EXPECT_EQ(id.size(), 26u);
    EXPECT_TRUE(IsWellFormedId(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
    // Strictly increasing, also within one millisecond (2000 ids take a few):
    // ids sort in the order they were made.
    if (!previous.empty()) {
      EXPECT_GT(id, previous);
    }
    previous = id;
  }
}

// Each thread draws from its own random buffer: ids stay unique across threads.
TEST(IdsTest, UniqueAcrossThreads) {
  std::vector<std::vector<std::string>> ids(4);
  std::vector<std::thread> threads;
  for (auto& mine : ids) {
    threads.emplace_back([&mine] {
      for (int i = 0; i < 3000; ++i) mine.push_back(NewId());
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& mine : ids) all.insert(mine.begin(), mine.end());
  EXPECT_EQ(all.size(), 4u * 3000u);
}

TEST(IdsTest, WellFormedRejectsEmptyUppercaseSlashAndOverlong) {
  EXPECT_FALSE(IsWellFormedId(""));
  EXPECT_FALSE(IsWellFormedId("ABC"));
  EXPECT_FALSE(IsWellFormedId("a/b"));
  EXPECT_FALSE(IsWellFormedId(std::string(65, 'a')));
  EXPECT_TRUE(IsWellFormedId("me"));
}

TEST(IdsTest, RandomHexIsTwoDigitsPerByteAndFreshEachCall) {
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

}  // namespace
}  // namespace rapport
