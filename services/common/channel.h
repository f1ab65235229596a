// Channels from one service (or tool) to another: insecure on the internal
// network, with a short reconnect backoff (100 ms growing to 1 s instead of
// gRPC's 1 s to 120 s), so that a restarted dependency is reached again
// within about a second instead of minutes, while one connection attempt
// may take up to 5 s on a busy host. No retries (a failed call is
// the caller's to retry; the gateway answers 503) and no BDP pings (the peer
// is on the same network).
#ifndef RAPPORT_SERVICES_COMMON_CHANNEL_H_
#define RAPPORT_SERVICES_COMMON_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

namespace rapport {

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& addr);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_CHANNEL_H_
