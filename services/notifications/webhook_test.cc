// Webhook deliveries: the signature header, which answers are retried and
// how long to wait, and the refusal of private addresses and other schemes.
#include "services/notifications/webhook.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "services/common/crypto.h"

namespace rapport::notifications {
namespace {

TEST(Webhook, SignatureIsHmacOfTimestampDotBody) {
  std::string header = SignatureHeader("whsec_test", 1767225600, "{\"a\":1}");
  EXPECT_EQ(header, "t=1767225600,v1=" + HexEncode(HmacSha256("whsec_test", "1767225600.{\"a\":1}")));
  EXPECT_NE(header, SignatureHeader("whsec_other", 1767225600, "{\"a\":1}"));
  EXPECT_NE(header, SignatureHeader("whsec_test", 1767225601, "{\"a\":1}"));
}

TEST(Webhook, RetriesOnlyWhatMaySucceedLater) {
  for (long s : {0L, 408L, 429L, 500L, 502L, 503L}) EXPECT_TRUE(IsRetriable(s)) << s;
  for (long s : {200L, 400L, 401L, 403L, 404L, 410L, 422L}) EXPECT_FALSE(IsRetriable(s)) << s;
  RetryPolicy p{8, std::chrono::milliseconds(1000), std::chrono::milliseconds(5000)};
  for (int i = 0; i < 50; ++i) {
    auto b1 = Backoff(p, 1), b3 = Backoff(p, 3), b10 = Backoff(p, 10);
    EXPECT_GE(b1.count(), 500);
    EXPECT_LE(b1.count(), 1000);
    EXPECT_GE(b3.count(), 2000);
    EXPECT_LE(b3.count(), 4000);
    EXPECT_GE(b10.count(), 2500);
    EXPECT_LE(b10.count(), 5000);  // capped
  }
}

TEST(Webhook, RefusesPrivateAddressesAndOtherSchemes) {
  for (const char* a :
       {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"}) {
    EXPECT_TRUE(*IsPrivateAddress(a)) << a;
  }
  for (const char* a : {"8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(*IsPrivateAddress(a)) << a;
  }
  EXPECT_FALSE(IsPrivateAddress("localhost").ok());
  auto refused = CheckWebhookUrl("url", "http://127.0.0.1:9/hook", false);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message().substr(0, 4), "url:");
  EXPECT_FALSE(CheckWebhookUrl("url", "http://localhost/hook", false).ok());
  EXPECT_FALSE(CheckWebhookUrl("url", "http://[::1]/hook", false).ok());
  auto allowed = CheckWebhookUrl("url", "http://127.0.0.1:9/hook", true);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->port, 9);
  EXPECT_EQ(allowed->addresses, std::vector<std::string>{"127.0.0.1"});
  for (const char* bad :
       {"ftp://example.com/x", "file:///etc/passwd", "gopher://x", "not a url", "", "http://user:pw@127.0.0.1/"}) {
    EXPECT_FALSE(CheckWebhookUrl("url", bad, true).ok()) << bad;
  }
}

}  // namespace
}  // namespace rapport::notifications
