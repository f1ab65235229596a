// The service registry: every process of a Rapport deployment in one table,
// with the binary that runs it, the environment variable holding its address,
// the default address, and the gRPC service its health check names. The
// gateway (its backends), the multi-process test stack and tools/up (through
// `rapport-healthcheck --list_services`) read it; the README's service table
// and each binary's --help are checked against it by tests
// (tests/service_registry_test.cc, tests/help_test.cc). Adding a service is
// one entry here (docs/adding-a-service.md).
//
// Thread-safety: constant data and pure functions.
#ifndef RAPPORT_SERVICES_COMMON_SERVICE_REGISTRY_H_
#define RAPPORT_SERVICES_COMMON_SERVICE_REGISTRY_H_

#include <span>
#include <string>
#include <string_view>

namespace rapport::registry {

struct ProcessInfo {
  const char* name;          // e.g. "profiles"
  const char* binary;        // in build/bin
  const char* addr_env;      // the variable with its listen address
  const char* default_addr;  // when the variable is unset
  // Full name of the gRPC service it serves, which is also the name its
  // health check answers for; "" for a process that is not a gRPC service.
  const char* health_service;

  constexpr bool is_grpc_service() const { return *health_service != '\0'; }
};

inline constexpr ProcessInfo kProfiles = {"profiles", "profiles", "PROFILES_SERVICE_ADDR", "127.0.0.1:50051",
                                          "rapport.profiles.v1.ProfilesService"};
inline constexpr ProcessInfo kInteractions = {"interactions", "interactions", "INTERACTIONS_SERVICE_ADDR",
                                              "127.0.0.1:50052", "rapport.interactions.v1.InteractionsService"};
inline constexpr ProcessInfo kRecommendations = {"recommendations", "recommendations", "RECOMMENDATIONS_SERVICE_ADDR",
                                                 "127.0.0.1:50053",
                                                 "rapport.recommendations.v1.RecommendationsService"};
inline constexpr ProcessInfo kNotifications = {"notifications", "notifications", "NOTIFICATIONS_SERVICE_ADDR",
                                               "127.0.0.1:50054", "rapport.notifications.v1.NotificationsService"};
inline constexpr ProcessInfo kGateway = {"gateway", "gateway", "RAPPORT_HTTP_ADDR", "127.0.0.1:8080", ""};

// Every process, in start order: each after the processes it calls at start
// (recommendations backfills from profiles and interactions; the gateway,
// in front of all, comes last).
std::span<const ProcessInfo> Processes();

// The gRPC services among them (all but the gateway), in the same order.
std::span<const ProcessInfo> GrpcServices();

// The entry named name, or nullptr.
const ProcessInfo* Find(std::string_view name);

// The process's address: its variable when set and not empty, else its default.
std::string Addr(const ProcessInfo& process);

}  // namespace rapport::registry

#endif  // RAPPORT_SERVICES_COMMON_SERVICE_REGISTRY_H_
