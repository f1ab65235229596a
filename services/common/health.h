// A client for the standard gRPC health service (grpc.health.v1.Health),
// used by tools/up, tests and readiness checks. Debian's gRPC ships no
// generated client for it, so the request and response (one field each) are
// encoded by hand over the generic stub.
#ifndef RAPPORT_SERVICES_COMMON_HEALTH_H_
#define RAPPORT_SERVICES_COMMON_HEALTH_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <memory>
#include <string>

namespace rapport {

// True when one Check call naming service answers SERVING within timeout.
bool CheckServing(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                  std::chrono::milliseconds timeout);

// Polls CheckServing on addr until it is true or the deadline passes.
bool WaitForServing(const std::string& addr, const std::string& service, std::chrono::milliseconds deadline);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_HEALTH_H_
