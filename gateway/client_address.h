// The client's address for per-address limits (the key-guessing throttle)
// when the gateway runs behind proxies or load balancers, each of which
// appends the address it got the request from to X-Forwarded-For.
//
// Only configured proxies are believed: when the TCP peer is one of them,
// X-Forwarded-For is read from the right, skipping trusted proxies, and the
// first address that is not one is the client (an address a client wrote
// into the header itself stays to the left of it and is never reached). A
// peer that is not trusted is the client, whatever the header says; so is
// the last trusted hop when the next entry is not an address.
//
// Thread-safety: immutable after Parse; safe for concurrent use.
#ifndef RAPPORT_GATEWAY_CLIENT_ADDRESS_H_
#define RAPPORT_GATEWAY_CLIENT_ADDRESS_H_

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rapport::gateway {

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // spec: comma-separated addresses and CIDR networks, e.g.
  // "10.0.0.0/8, 192.168.1.7, fd00::/8"; empty: none (the peer is the client).
  static absl::StatusOr<TrustedProxies> Parse(absl::string_view spec);

  bool empty() const { return v4_.empty() && v6_.empty(); }
  bool Trusts(const boost::asio::ip::address& address) const;
  // peer: the TCP peer's address; forwarded_for: the X-Forwarded-For
  // values, comma-separated (several headers joined in order).
  std::string ClientOf(const std::string& peer, absl::string_view forwarded_for) const;

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_CLIENT_ADDRESS_H_
