#include "gateway/backends.h"

#include <cstdlib>

#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "rapport/recommendations/v1/recommendations.pb.h"

namespace rapport::gateway {

const std::vector<Backend>& Backends() {
  static const std::vector<Backend> kBackends = {
      {"rapport.profiles.v1.ProfilesService", "PROFILES_SERVICE_ADDR", "127.0.0.1:50051",
       &profiles::v1::CreateOrgRequest::descriptor},
      {"rapport.interactions.v1.InteractionsService", "INTERACTIONS_SERVICE_ADDR", "127.0.0.1:50052",
       &interactions::v1::CreateInteractionRequest::descriptor},
      {"rapport.notifications.v1.NotificationsService", "NOTIFICATIONS_SERVICE_ADDR", "127.0.0.1:50054",
       &notifications::v1::CreateReminderRequest::descriptor},
      {"rapport.recommendations.v1.RecommendationsService", "RECOMMENDATIONS_SERVICE_ADDR", "127.0.0.1:50053",
       &recommendations::v1::FindPathsRequest::descriptor},
  };
  return kBackends;
}

std::vector<std::string> BackendServiceNames() {
  std::vector<std::string> names;
  for (const Backend& b : Backends()) {
    b.anchor();  // registers the proto file in the generated pool
    names.push_back(b.service);
  }
  return names;
}

std::string BackendAddr(const Backend& backend) {
  const char* value = std::getenv(backend.addr_env);
  return (value != nullptr && *value != '\0') ? value : backend.default_addr;
}

}  // namespace rapport::gateway
