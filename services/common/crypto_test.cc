#include "services/common/crypto.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rapport {
namespace {

// FIPS 180-2 and RFC 4231 vectors: the fetched-once digest and the cached
// pad states must give exactly the standard answers.
TEST(CryptoTest, Sha256MatchesFips180Vectors) {
  EXPECT_EQ(HexEncode(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CryptoTest, HmacSha256MatchesRfc4231Vectors) {
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

TEST(CryptoTest, ConstantTimeEqualsComparesLengthAndEveryByte) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace rapport
