// Channels from one service (or tool) to another: insecure on the internal
// network, with a short reconnect backoff (100 ms growing to 1 s instead of
// gRPC's 1 s to 120 s), so that a restarted dependency is reached again
// within about a second instead of minutes, while one connection attempt
// may take up to 5 s on a busy host. No retries (a failed call is
// the caller's to retry; the gateway answers 503) and no BDP pings (the peer
// is on the same network).
//
// Replicas: an address may list several, "10.0.0.5:50051,10.0.0.6:50051"
// (host names are resolved once, at channel creation), or be any gRPC target
// such as "dns:///profiles.rapport.svc:50051" (a headless service: every
// address the name resolves to, re-resolved as it changes). Calls balance
// round-robin over the replicas that are up and route around one that is
// down.
#ifndef RAPPORT_SERVICES_COMMON_CHANNEL_H_
#define RAPPORT_SERVICES_COMMON_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace rapport {

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& addr);

// The gRPC target for addr: a list becomes "ipv4:a,b" (or "ipv6:"), anything
// else is kept. INVALID_ARGUMENT for a list entry without a port, a name that
// does not resolve, or a list mixing IPv4 and IPv6.
absl::StatusOr<std::string> ChannelTarget(const std::string& addr);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_CHANNEL_H_
