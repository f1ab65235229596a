#include "services/common/service_registry.h"

#include <cstdlib>

namespace rapport::registry {
namespace {

// The gRPC services first, then the gateway: GrpcServices() is a prefix.
constexpr ProcessInfo kProcesses[] = {kProfiles, kInteractions, kRecommendations, kNotifications, kGateway};
constexpr size_t kGrpcServices = 4;

static_assert([] {
  for (size_t i = 0; i < std::size(kProcesses); ++i) {
    if (kProcesses[i].is_grpc_service() != (i < kGrpcServices)) return false;
  }
  return true;
}());

}  // namespace

std::span<const ProcessInfo> Processes() { return kProcesses; }

std::span<const ProcessInfo> GrpcServices() { return std::span<const ProcessInfo>(kProcesses, kGrpcServices); }

const ProcessInfo* Find(std::string_view name) {
  for (const ProcessInfo& process : kProcesses) {
    if (name == process.name) return &process;
  }
  return nullptr;
}

std::string Addr(const ProcessInfo& process) {
  const char* value = std::getenv(process.addr_env);
  return (value != nullptr && *value != '\0') ? value : process.default_addr;
}

}  // namespace rapport::registry
