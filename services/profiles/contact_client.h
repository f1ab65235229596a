// The other services' client for profiles' contacts: asks for one of the
// caller's contacts on the caller's behalf (same org and user, read access),
// over gRPC with a deadline, without blocking. Interactions checks the
// contacts an interaction names with it; notifications uses it for a contact
// its projection has not seen yet (its contact.created event is still on the
// way). A missing contact (or another user's) is INVALID_ARGUMENT naming the
// field; profiles down or slow is UNAVAILABLE, never a wrong answer.
//
// Thread-safety: Find may be called concurrently.
#ifndef RAPPORT_SERVICES_PROFILES_CONTACT_CLIENT_H_
#define RAPPORT_SERVICES_PROFILES_CONTACT_CLIENT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/tenant.h"

namespace rapport::profiles {

class ContactClient {
 public:
  ContactClient(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                std::chrono::milliseconds deadline);

  void Find(const TenantContext& caller, const std::string& contact_id, const std::string& field,
            std::function<void(absl::StatusOr<v1::Contact>)> done);

 private:
  std::unique_ptr<v1::ProfilesService::Stub> stub_;
  const TenantSigner* signer_;
  std::chrono::milliseconds deadline_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_CONTACT_CLIENT_H_
