#include "services/common/channel.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/common/log.h"

namespace rapport {

namespace {

// The IP literal of one "host:port" entry ("10.0.0.5:50051", "[::1]:50051"),
// resolving a host name once; the address family is set in v6.
absl::StatusOr<std::string> ResolveEntry(absl::string_view entry, bool* v6) {
  const size_t colon = entry.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == entry.size()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", entry, "\" has no port"));
  }
  std::string host(entry.substr(0, colon));
  const std::string port(entry.substr(colon + 1));
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", entry, "\" has a bad port"));
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
  }
  char text[INET6_ADDRSTRLEN] = {};
  *v6 = found->ai_family == AF_INET6;
  const void* raw = *v6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr);
  inet_ntop(found->ai_family, raw, text, sizeof(text));
  freeaddrinfo(found);
  return *v6 ? absl::StrCat("[", text, "]:", port) : absl::StrCat(text, ":", port);
}

}  // namespace

absl::StatusOr<std::string> ChannelTarget(const std::string& addr) {
  // A gRPC target with a scheme (dns:///, unix:, ipv4:, ...) or one address
  // is used as it is.
  if (addr.find(',') == std::string::npos || absl::StrContains(addr, ":/") || absl::StartsWith(addr, "unix:") ||
      absl::StartsWith(addr, "ipv4:") || absl::StartsWith(addr, "ipv6:")) {
    return addr;
  }
  std::vector<std::string> resolved;
  int v6_count = 0;
  for (absl::string_view entry : absl::StrSplit(addr, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    bool v6 = false;
    absl::StatusOr<std::string> one = ResolveEntry(entry, &v6);
    if (!one.ok()) return absl::InvalidArgumentError(absl::StrCat("address list ", addr, ": ", one.status().message()));
    resolved.push_back(*std::move(one));
    v6_count += v6 ? 1 : 0;
  }
  if (v6_count != 0 && v6_count != static_cast<int>(resolved.size())) {
    return absl::InvalidArgumentError(absl::StrCat("address list ", addr, " mixes IPv4 and IPv6 addresses"));
  }
  return absl::StrCat(v6_count == 0 ? "ipv4:" : "ipv6:", absl::StrJoin(resolved, ","));
}

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& addr) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // Despite its name, this is gRPC's minimum connect timeout: the time one
  // attempt gets for TCP connect plus the HTTP/2 handshake (the peer's
  // SETTINGS frame). At 100 ms a busy host failed attempts ("connection
  // attempt timed out before receiving SETTINGS frame"), and every call
  // waiting on them got UNAVAILABLE (a 503 from the gateway). A refused
  // connection still fails at once, so the 100 ms backoff above is what
  // brings a restarted peer back.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetLoadBalancingPolicyName("round_robin");
  absl::StatusOr<std::string> target = ChannelTarget(addr);
  if (!target.ok()) {
    // Calls on the channel fail with UNAVAILABLE naming addr; say why once.
    log::Error("bad service address", {{"addr", addr}, {"error", target.status().ToString()}});
    target = addr;
  }
  return grpc::CreateCustomChannel(*target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace rapport
