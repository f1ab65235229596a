// Webhook deliveries: the signature header, which answers are retried and
// how long to wait, and the refusal of private addresses and other schemes.
#include "services/notifications/webhook.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "services/common/crypto.h"
#include "tests/testing/http_receiver.h"

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

// Every block of the IANA special-purpose registries (IPv4 and IPv6) is
// refused, and only those: the table pairs each with an address inside it.
TEST(Webhook, RefusesEveryIanaSpecialPurposeBlock) {
  for (const char* a :
       {"0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.254", "127.8.8.8", "169.254.169.254", "172.16.0.1",
        "192.0.0.8", "192.0.0.170", "192.0.2.10", "192.31.196.1", "192.52.193.1", "192.88.99.1", "192.168.0.1",
        "192.175.48.1", "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.251", "240.0.0.1",
        "255.255.255.255",
        // IPv6: unspecified, loopback, IPv4-compatible, discard, dummy prefix, IETF assignments (Teredo,
        // benchmarking, ORCHID), documentation (old and new), 6to4, AS112, SRv6, ULA, site and link local,
        // multicast, local-use NAT64, and the mapped and NAT64 forms of private IPv4 addresses.
        "::", "::1", "::10.0.0.1", "100::1", "100:0:0:1::1", "2001::1", "2001:2::1", "2001:20::1", "2001:db8::1",
        "3fff::1", "2002:808:808::1", "2620:4f:8000::1", "5f00::1", "fc00::1", "fd12:3456::1", "fec0::1", "fe80::1",
        "ff02::1", "64:ff9b:1::1", "::ffff:192.168.1.1", "::ffff:198.51.100.1", "64:ff9b::a00:1", "64:ff9b::c000:201",
        "4000::1"}) {
    absl::StatusOr<bool> priv = IsPrivateAddress(a);
    ASSERT_TRUE(priv.ok()) << a;
    EXPECT_TRUE(*priv) << a;
  }
  for (const char* a :
       {"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.15.255.255", "192.0.1.1", "192.169.0.1",
        "198.20.0.1", "203.0.114.1", "223.255.255.255", "2606:4700::1111", "2a00:1450:4001::200e", "2001:200::1",
        "2001:4860::8888", "64:ff9b::808:808", "::ffff:8.8.4.4"}) {
    absl::StatusOr<bool> priv = IsPrivateAddress(a);
    ASSERT_TRUE(priv.ok()) << a;
    EXPECT_FALSE(*priv) << a;
  }
}

// A refused address reads the same whatever the address or the port, so the
// answer (and the delivery log, which records it) is no port-scan or
// address-mapping oracle.
TEST(Webhook, RefusalReadsTheSameWhateverTheAddressAndPort) {
  std::string first;
  for (const char* url : {"http://127.0.0.1:1/x", "http://127.0.0.1:6379/x", "http://10.0.0.1:22/x",
                          "https://192.168.1.1/x", "http://[::1]:8080/x", "http://169.254.169.254/latest"}) {
    absl::StatusOr<CheckedUrl> refused = CheckWebhookUrl("url", url, false);
    ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << url;
    std::string message(refused.status().message());
    EXPECT_EQ(message, std::string("url: ") + kRefusedAddress) << url;
    if (first.empty()) first = message;
    EXPECT_EQ(message, first) << url;
  }
  EXPECT_EQ(first.find("127"), std::string::npos);
}

TEST(Webhook, EventTypesArePlainTokens) {
  for (const char* ok : {"workflow.step", "notification.created", "deal-won_2", "a"}) {
    EXPECT_TRUE(IsValidEventType(ok)) << ok;
  }
  for (const char* bad :
       {"", "x\r\nX-Injected: yes", "x\n", "Deal.Won", "deal won", "deal:won", "contact.*", "caf\xc3\xa9", "x\ty"}) {
    EXPECT_FALSE(IsValidEventType(bad)) << bad;
  }
  EXPECT_TRUE(IsValidEventType(std::string(64, 'x')));
  EXPECT_FALSE(IsValidEventType(std::string(65, 'x')));
}

// The reproduced attack: an event type carrying CR LF and a header of the
// sender's choosing. The sender refuses it without connecting; a clean one
// to the same receiver arrives with its headers.
TEST(Webhook, SendRefusesAHeaderValueThatWouldInjectAHeader) {
  testing::HttpReceiver receiver;
  ASSERT_TRUE(receiver.Start().ok());
  absl::StatusOr<CheckedUrl> checked = CheckWebhookUrl("url", receiver.Url("/in"), true);
  ASSERT_TRUE(checked.ok()) << checked.status();
  WebhookRequest request{receiver.Url("/in"), "whsec_x", "run:01:0", "x\r\nX-Injected: yes", "{}", 1767225600};
  HttpResponse refused = SendWebhook(request, *checked, std::chrono::milliseconds(5000));
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("refused"), std::string::npos) << refused.error;
  request.event_type = "workflow.step";
  request.event_id = "run:01\r\nX-Injected: yes:0";
  EXPECT_EQ(SendWebhook(request, *checked, std::chrono::milliseconds(5000)).status, 0);
  EXPECT_TRUE(receiver.requests().empty());
  request.event_id = "run:01:0";
  HttpResponse sent = SendWebhook(request, *checked, std::chrono::milliseconds(5000));
  EXPECT_EQ(sent.status, 200) << sent.error;
  std::vector<testing::ReceivedRequest> got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers.count("x-injected"), 0u);
  EXPECT_EQ(got[0].headers["rapport-event-type"], "workflow.step");
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
