#include "gateway/client_address.h"

#include <gtest/gtest.h>

namespace rapport::gateway {
namespace {

TrustedProxies Trusted(const std::string& spec) {
  absl::StatusOr<TrustedProxies> p = TrustedProxies::Parse(spec);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : TrustedProxies();
}

TEST(TrustedProxiesTest, WithoutProxiesThePeerIsTheClient) {
  TrustedProxies none = Trusted("");
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.ClientOf("10.0.0.1", "203.0.113.5"), "10.0.0.1");
}

TEST(TrustedProxiesTest, TheRightmostUntrustedHopIsTheClient) {
  TrustedProxies p = Trusted("127.0.0.1, 10.0.0.0/8");
  EXPECT_EQ(p.ClientOf("127.0.0.1", "203.0.113.5"), "203.0.113.5");
  // Through two proxies of ours.
  EXPECT_EQ(p.ClientOf("127.0.0.1", "198.51.100.1, 203.0.113.5, 10.1.2.3"), "203.0.113.5");
  // A client's own X-Forwarded-For stays to the left of what our proxy appended.
  EXPECT_EQ(p.ClientOf("10.9.9.9", "1.1.1.1, 203.0.113.5"), "203.0.113.5");
  // Spaces and empty items are tolerated.
  EXPECT_EQ(p.ClientOf("127.0.0.1", " 203.0.113.5 ,, "), "203.0.113.5");
  // Every hop trusted: the leftmost; no header: the peer.
  EXPECT_EQ(p.ClientOf("127.0.0.1", "10.0.0.5"), "10.0.0.5");
  EXPECT_EQ(p.ClientOf("127.0.0.1", ""), "127.0.0.1");
}

TEST(TrustedProxiesTest, AnUntrustedPeerOrAGarbledHopIsBelievedNoFurther) {
  TrustedProxies p = Trusted("127.0.0.1, 10.0.0.0/8");
  EXPECT_EQ(p.ClientOf("192.0.2.9", "203.0.113.5"), "192.0.2.9");
  EXPECT_EQ(p.ClientOf("127.0.0.1", "203.0.113.5, unknown"), "127.0.0.1");
  EXPECT_EQ(p.ClientOf("127.0.0.1", "203.0.113.5, unknown, 10.0.0.7"), "10.0.0.7");
  EXPECT_EQ(p.ClientOf("not an address", "203.0.113.5"), "not an address");
}

TEST(TrustedProxiesTest, Ipv6AndV4MappedPeers) {
  TrustedProxies p = Trusted("::1, fd00::/8, 127.0.0.1");
  EXPECT_EQ(p.ClientOf("::1", "2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(p.ClientOf("fd12::3", "2001:db8::1, fd00::9"), "2001:db8::1");
  // A dual-stack socket's view of an IPv4 proxy.
  EXPECT_EQ(p.ClientOf("::ffff:127.0.0.1", "203.0.113.5"), "203.0.113.5");
  EXPECT_EQ(p.ClientOf("127.0.0.1", "::ffff:203.0.113.5"), "203.0.113.5");
}

TEST(TrustedProxiesTest, BadSpecsAreRefusedWithTheEntry) {
  for (const char* spec : {"10.0.0.0/33", "nope", "10.0.0.1, 300.1.1.1", "fd00::/129"}) {
    absl::StatusOr<TrustedProxies> p = TrustedProxies::Parse(spec);
    ASSERT_FALSE(p.ok()) << spec;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("is not an IP address or CIDR network"), std::string::npos);
  }
}

}  // namespace
}  // namespace rapport::gateway
