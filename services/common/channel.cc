#include "services/common/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace rapport {

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
  return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
}

}  // namespace rapport
