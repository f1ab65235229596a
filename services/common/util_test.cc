// Tests of the small shared utilities: ids, hashes and MACs, time conversions, JSON log escaping.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/polling_loop.h"
#include "services/common/time_util.h"

namespace rapport {
namespace {

// FIPS 180-2 and RFC 4231 vectors: the fetched-once digest and the cached
// pad states must give exactly the standard answers.
TEST(CryptoTest, Sha256KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CryptoTest, HmacSha256Rfc4231) {
  // Case 1: 20-byte key.
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Case 2: short key.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Case 6: a 131-byte key, longer than the block, is hashed first.
  EXPECT_EQ(HexEncode(HmacSha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // A 64-byte key (exactly one block) is used as is.
  HmacKey block_key(std::string(64, 'k'));
  EXPECT_EQ(block_key.Mac("m"), HmacSha256(std::string(64, 'k'), "m"));
}

TEST(CryptoTest, HmacKeyIsReusableAcrossThreads) {
  HmacKey key("Jefe");
  const std::string want = HexEncode(HmacSha256("Jefe", "what do ya want for nothing?"));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (HexEncode(key.Mac("what do ya want for nothing?")) != want) ++wrong;
        if (HexEncode(key.Mac(absl::StrCat("other ", i))) == want) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(IdsTest, UniqueWellFormedAndTimeOrdered) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 2000; ++i) {
    std::string id = NewId();
    EXPECT_EQ(id.size(), 26u);
    EXPECT_TRUE(IsWellFormedId(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
    // Same-millisecond ids are random in their low bits; the time prefix never goes back.
    if (!previous.empty()) {
      EXPECT_GE(id.substr(0, 10), previous.substr(0, 10));
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

TEST(IdsTest, WellFormedRejectsOddInput) {
  EXPECT_FALSE(IsWellFormedId(""));
  EXPECT_FALSE(IsWellFormedId("ABC"));
  EXPECT_FALSE(IsWellFormedId("a/b"));
  EXPECT_FALSE(IsWellFormedId(std::string(65, 'a')));
  EXPECT_TRUE(IsWellFormedId("me"));
}

TEST(IdsTest, RandomHexLength) {
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

TEST(TimeUtilTest, TimestampRoundTripIncludingNegative) {
  for (int64_t micros : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1700000000123456},
                         int64_t{-1500000}}) {
    auto ts = ToTimestamp(micros);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_EQ(TimestampToMicros(ts), micros);
  }
}

TEST(TimeUtilTest, ValidRange) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(253402300800LL);
  EXPECT_FALSE(IsValidTimestamp(ts));
  ts.set_seconds(0);
  ts.set_nanos(-1);
  EXPECT_FALSE(IsValidTimestamp(ts));
  ts.set_nanos(5);
  EXPECT_TRUE(IsValidTimestamp(ts));
}

TEST(LogTest, JsonEscaping) {
  std::string out;
  log::AppendJsonString(&out, "a\"b\\c\nd\x01");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\"");
}

// Waits for cond with a deadline, polling; never a fixed sleep as a sync.
bool Eventually(const std::function<bool()>& cond) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(PollingLoopTest, RunsAgainAtOnceWhileMoreAndWakesFromALongIdle) {
  std::atomic<int> steps{0};
  std::atomic<int> more_left{5};
  PollingLoop::Options options;
  options.what = "test loop";
  options.idle = std::chrono::hours(1);  // only Wake or more work can bring the next step
  options.retry = std::chrono::hours(1);
  PollingLoop loop(options, [&]() -> absl::StatusOr<bool> {
    ++steps;
    return more_left.fetch_sub(1) > 0;
  });
  loop.Start();
  loop.Start();  // idempotent
  EXPECT_TRUE(Eventually([&] { return steps.load() == 6; }));  // 5 with more, then idle
  loop.Wake();
  EXPECT_TRUE(Eventually([&] { return steps.load() == 7; }));
  loop.Stop();   // returns although the idle wait is an hour
  loop.Stop();   // idempotent
  int after = steps.load();
  loop.Wake();
  EXPECT_EQ(steps.load(), after);
}

TEST(PollingLoopTest, RetriesAfterAFailure) {
  std::atomic<int> steps{0};
  PollingLoop::Options options;
  options.what = "test loop";
  options.idle = std::chrono::hours(1);
  options.retry = std::chrono::milliseconds(1);
  PollingLoop loop(options, [&]() -> absl::StatusOr<bool> {
    int n = ++steps;
    if (n < 3) return absl::UnavailableError("down");
    return false;
  });
  loop.Start();
  EXPECT_TRUE(Eventually([&] { return steps.load() == 3; }));  // two failures retried, then idle
}

}  // namespace
}  // namespace rapport
