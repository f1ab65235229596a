// The other services' client for profiles' contacts: asks about the caller's
// contacts on the caller's behalf (same org and user, read access), over gRPC
// with a deadline, without blocking. Interactions confirms the contacts an
// interaction names with it (ContactDirectory); notifications uses Find for a
// contact its projection has not seen yet (its contact.created event is still
// on the way), and Usage for the org's use of profiles' quotas (its
// GET /v1/org/usage). Profiles down or slow is UNAVAILABLE, never a wrong
// answer.
//
// Thread-safety: every method may be called concurrently.
#ifndef RAPPORT_SERVICES_PROFILES_CONTACT_CLIENT_H_
#define RAPPORT_SERVICES_PROFILES_CONTACT_CLIENT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/tenant.h"

namespace rapport::profiles {

// What another service's logic needs of profiles' contacts; an interface so
// that logic tests can answer in place of profiles.
class ContactDirectory {
 public:
  virtual ~ContactDirectory() = default;
  // The caller's contacts among ids (at most 100, none repeated), in the
  // order of ids, in one call (BatchGetContacts); an id that names no contact
  // of the caller (missing, another user's or org's) is simply absent.
  // UNAVAILABLE when profiles cannot answer in time; INVALID_ARGUMENT for
  // more than 100 ids, a repeated or a malformed one.
  virtual void FindMany(const TenantContext& caller, const std::vector<std::string>& ids,
                        std::function<void(absl::StatusOr<std::vector<v1::Contact>>)> done) = 0;
};

class ContactClient : public ContactDirectory {
 public:
  ContactClient(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                std::chrono::milliseconds deadline);

  // One contact: a missing one (or another user's) is INVALID_ARGUMENT
  // "<field>: no such contact".
  void Find(const TenantContext& caller, const std::string& contact_id, const std::string& field,
            std::function<void(absl::StatusOr<v1::Contact>)> done);

  void FindMany(const TenantContext& caller, const std::vector<std::string>& ids,
                std::function<void(absl::StatusOr<std::vector<v1::Contact>>)> done) override;

  // The use of profiles' quotas in the caller's org (ProfilesService.GetUsage,
  // an internal RPC: signed as a platform call for the caller's org).
  void Usage(const TenantContext& caller, std::function<void(absl::StatusOr<std::vector<v1::QuotaUsage>>)> done);

 private:
  std::unique_ptr<v1::ProfilesService::Stub> stub_;
  const TenantSigner* signer_;
  std::chrono::milliseconds deadline_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_CONTACT_CLIENT_H_
