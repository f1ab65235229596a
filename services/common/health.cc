#include "services/common/health.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <algorithm>
#include <future>
#include <thread>

#include "rapport/api/v1/health.pb.h"
#include "services/common/channel.h"

namespace rapport {

bool CheckServing(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                  std::chrono::milliseconds timeout) {
  grpc::TemplatedGenericStub<api::v1::HealthCheckRequest, api::v1::HealthCheckResponse> stub(channel);
  api::v1::HealthCheckRequest request;
  request.set_service(service);
  api::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(true);  // a server still starting is waited for, up to the deadline
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get().ok() && response.status() == api::v1::HealthCheckResponse::SERVING;
}

bool WaitForServing(const std::string& addr, const std::string& service, std::chrono::milliseconds deadline) {
  auto channel = CreateServiceChannel(addr);
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (CheckServing(channel, service,
                     std::clamp(remaining, std::chrono::milliseconds(1), std::chrono::milliseconds(1000)))) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace rapport
