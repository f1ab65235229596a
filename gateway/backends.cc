#include "gateway/backends.h"

#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "rapport/recommendations/v1/recommendations.pb.h"

namespace rapport::gateway {

const std::vector<Backend>& Backends() {
  static const std::vector<Backend> kBackends = {
      {&registry::kProfiles, &profiles::v1::CreateOrgRequest::descriptor},
      {&registry::kInteractions, &interactions::v1::CreateInteractionRequest::descriptor},
      {&registry::kNotifications, &notifications::v1::CreateReminderRequest::descriptor},
      {&registry::kRecommendations, &recommendations::v1::FindPathsRequest::descriptor},
  };
  return kBackends;
}

std::vector<std::string> BackendServiceNames() {
  std::vector<std::string> names;
  for (const Backend& b : Backends()) {
    b.anchor();  // registers the proto file in the generated pool
    names.push_back(b.service());
  }
  return names;
}

std::string BackendAddr(const Backend& backend) { return registry::Addr(*backend.process); }

}  // namespace rapport::gateway
