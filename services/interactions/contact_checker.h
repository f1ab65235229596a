// Asks profiles whether contacts belong to the calling user, over gRPC with a
// deadline, without blocking the caller's thread: one asynchronous GetContact
// per id, joined. A contact that is missing (or another user's) makes the
// check fail with INVALID_ARGUMENT naming the field; profiles down or slow
// gives UNAVAILABLE, never a wrong answer.
//
// Thread-safety: Check may be called concurrently.
#ifndef RAPPORT_SERVICES_INTERACTIONS_CONTACT_CHECKER_H_
#define RAPPORT_SERVICES_INTERACTIONS_CONTACT_CHECKER_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/tenant.h"
#include "services/interactions/interactions_store.h"
#include "services/profiles/contact_client.h"

namespace rapport::interactions {

class ContactChecker {
 public:
  ContactChecker(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                 std::chrono::milliseconds deadline);

  // done receives each contact's cadence (days). fields[i] names ids[i] in errors.
  void Check(const TenantContext& caller, const std::vector<std::string>& ids, const std::vector<std::string>& fields,
             std::function<void(absl::StatusOr<Cadences>)> done);

 private:
  profiles::ContactClient contacts_;
};

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_CONTACT_CHECKER_H_
