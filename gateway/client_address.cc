#include "gateway/client_address.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rapport::gateway {
namespace ip = boost::asio::ip;

namespace {

// An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
ip::address Unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

bool ParseAddress(absl::string_view text, ip::address* out) {
  boost::system::error_code ec;
  ip::address a = ip::make_address(std::string(absl::StripAsciiWhitespace(text)), ec);
  if (ec) return false;
  *out = Unmapped(a);
  return true;
}

}  // namespace

absl::StatusOr<TrustedProxies> TrustedProxies::Parse(absl::string_view spec) {
  TrustedProxies proxies;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    const std::string entry(absl::StripAsciiWhitespace(item));
    boost::system::error_code ec;
    if (entry.find('/') != std::string::npos) {
      ip::network_v4 v4 = ip::make_network_v4(entry, ec);
      if (!ec) {
        proxies.v4_.push_back(v4.canonical());
        continue;
      }
      ip::network_v6 v6 = ip::make_network_v6(entry, ec);
      if (!ec) {
        proxies.v6_.push_back(v6.canonical());
        continue;
      }
    } else if (ip::address a; ParseAddress(entry, &a)) {
      if (a.is_v4()) {
        proxies.v4_.push_back(ip::network_v4(a.to_v4(), 32));
      } else {
        proxies.v6_.push_back(ip::network_v6(a.to_v6(), 128));
      }
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("trusted proxies: \"", entry, "\" is not an IP address or CIDR network"));
  }
  return proxies;
}

bool TrustedProxies::Trusts(const ip::address& address) const {
  const ip::address a = Unmapped(address);
  if (a.is_v4()) {
    for (const ip::network_v4& n : v4_) {
      if (ip::network_v4(a.to_v4(), n.prefix_length()).canonical() == n) return true;
    }
    return false;
  }
  for (const ip::network_v6& n : v6_) {
    if (ip::network_v6(a.to_v6(), n.prefix_length()).canonical() == n) return true;
  }
  return false;
}

std::string TrustedProxies::ClientOf(const std::string& peer, absl::string_view forwarded_for) const {
  ip::address hop;
  if (empty() || !ParseAddress(peer, &hop) || !Trusts(hop)) return peer;
  std::vector<absl::string_view> hops = absl::StrSplit(forwarded_for, ',', absl::SkipWhitespace());
  std::string client = hop.to_string();
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!ParseAddress(*it, &hop)) break;  // not an address: believe no further
    client = hop.to_string();
    if (!Trusts(hop)) break;
  }
  return client;
}

}  // namespace rapport::gateway
