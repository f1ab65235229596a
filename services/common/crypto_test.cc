#include "services/common/crypto.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
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

// AES-256-GCM of secrets at rest (SecretBox).
constexpr char kHexKey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

std::unique_ptr<SecretBox> Box(const std::string& text = kHexKey) {
  absl::StatusOr<std::unique_ptr<SecretBox>> box = SecretBox::FromText(text);
  EXPECT_TRUE(box.ok()) << box.status();
  return box.ok() ? *std::move(box) : nullptr;
}

TEST(SecretBoxTest, RoundTripsAndHidesThePlaintext) {
  auto box = Box();
  const std::string secret = "whsec_0123456789abcdef";
  const std::string sealed = box->Seal(secret, "row-1");
  EXPECT_TRUE(SecretBox::IsSealed(sealed)) << sealed;
  EXPECT_FALSE(absl::StrContains(sealed, secret));
  EXPECT_FALSE(absl::StrContains(sealed, "0123456789abcdef"));
  absl::StatusOr<std::string> opened = box->Open(sealed, "row-1");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, secret);
  // A fresh nonce each time: the same secret never seals to the same text.
  EXPECT_NE(box->Seal(secret, "row-1"), sealed);
  // Empty and binary plaintexts (serialized protos) round-trip too.
  const std::string binary("\0\x01\xff\x80 tail", 9);
  EXPECT_EQ(*box->Open(box->Seal(binary, ""), ""), binary);
  EXPECT_EQ(*box->Open(box->Seal("", "c"), "c"), "");
}

TEST(SecretBoxTest, EveryAlteredByteFailsToOpen) {
  auto box = Box();
  const std::string sealed = box->Seal("the secret", "ctx");
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(sealed.substr(SecretBox::kPrefix.size()), &raw));
  for (size_t i = 0; i < raw.size(); ++i) {  // nonce, ciphertext and tag alike
    std::string bad = raw;
    bad[i] ^= 0x01;
    absl::StatusOr<std::string> opened = box->Open(std::string(SecretBox::kPrefix) + absl::Base64Escape(bad), "ctx");
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
  // Truncated, or not sealed at all.
  EXPECT_EQ(box->Open(sealed.substr(0, sealed.size() - 4), "ctx").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box->Open(std::string(SecretBox::kPrefix) + "AAAA", "ctx").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box->Open("the secret", "ctx").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box->Open(std::string(SecretBox::kPrefix) + "not base64!", "ctx").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, AnotherKeyOrContextFailsToOpen) {
  auto box = Box();
  const std::string sealed = box->Seal("the secret", "webhook-a");
  auto other = Box(std::string(64, 'f'));
  EXPECT_EQ(other->Open(sealed, "webhook-a").status().code(), absl::StatusCode::kDataLoss);
  // The same key under another row's context: a value copied between rows.
  EXPECT_EQ(box->Open(sealed, "webhook-b").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, KeyIsHexOrBase64OfExactly32Bytes) {
  const std::string raw = absl::HexStringToBytes(kHexKey);
  auto from_hex = Box(kHexKey);
  auto from_upper_hex = Box(absl::AsciiStrToUpper(kHexKey));
  auto from_base64 = Box(absl::Base64Escape(raw));
  std::string unpadded = absl::Base64Escape(raw);
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
  auto from_unpadded = Box(unpadded);
  const std::string sealed = from_hex->Seal("x", "c");
  EXPECT_EQ(*from_upper_hex->Open(sealed, "c"), "x");
  EXPECT_EQ(*from_base64->Open(sealed, "c"), "x");
  EXPECT_EQ(*from_unpadded->Open(sealed, "c"), "x");
  for (const std::string& bad :
       {std::string(), std::string(62, 'a'), std::string(66, 'a'), absl::Base64Escape(std::string(31, 'k')),
        absl::Base64Escape(std::string(33, 'k')), std::string("zz") + std::string(62, 'a'), std::string("not a key")}) {
    EXPECT_EQ(SecretBox::FromText(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(SecretBoxTest, StorageReadsOldPlaintextRowsAndNeedsTheKeyForSealedOnes) {
  // Before any key: written as is, read as is.
  SetProcessSecretBox(nullptr);
  EXPECT_EQ(SealForStorage("plain", "c"), "plain");
  EXPECT_EQ(*OpenFromStorage("plain", "c"), "plain");
  const std::string sealed = Box()->Seal("s", "c");
  EXPECT_EQ(OpenFromStorage(sealed, "c").status().code(), absl::StatusCode::kFailedPrecondition);
  SetProcessSecretBox(Box());
  const std::string stored = SealForStorage("s", "c");
  EXPECT_TRUE(SecretBox::IsSealed(stored));
  EXPECT_EQ(*OpenFromStorage(stored, "c"), "s");
  EXPECT_EQ(*OpenFromStorage(sealed, "c"), "s");
  EXPECT_EQ(*OpenFromStorage("whsec_written_before_sealing", "c"), "whsec_written_before_sealing");
  EXPECT_EQ(OpenFromStorage(stored, "other").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace rapport
