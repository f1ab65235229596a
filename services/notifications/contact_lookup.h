// Asks profiles for one of the caller's contacts, over gRPC with a deadline,
// without blocking: for the rare request that names a contact the local
// projection has not seen yet (its contact.created event is still on the
// way). A missing contact (or another user's) is INVALID_ARGUMENT naming the
// field; profiles down or slow is UNAVAILABLE, never a wrong answer.
//
// Thread-safety: Find may be called concurrently.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_CONTACT_LOOKUP_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_CONTACT_LOOKUP_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/tenant.h"

namespace rapport::notifications {

class ContactLookup {
 public:
  ContactLookup(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                std::chrono::milliseconds deadline);

  void Find(const TenantContext& caller, const std::string& contact_id, const std::string& field,
            std::function<void(absl::StatusOr<profiles::v1::Contact>)> done);

 private:
  std::unique_ptr<profiles::v1::ProfilesService::Stub> stub_;
  const TenantSigner* signer_;
  std::chrono::milliseconds deadline_;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_CONTACT_LOOKUP_H_
