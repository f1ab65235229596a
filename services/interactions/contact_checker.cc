#include "services/interactions/contact_checker.h"

#include <mutex>
#include <utility>

namespace rapport::interactions {
namespace {

// Joins the answers of one Check.
struct Pending {
  std::mutex mu;
  int remaining = 0;
  Cadences cadences;
  absl::Status first_error;
  std::function<void(absl::StatusOr<Cadences>)> done;
};

}  // namespace

ContactChecker::ContactChecker(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                               std::chrono::milliseconds deadline)
    : contacts_(std::move(profiles), signer, deadline) {}

void ContactChecker::Check(const TenantContext& caller, const std::vector<std::string>& ids,
                           const std::vector<std::string>& fields, std::function<void(absl::StatusOr<Cadences>)> done) {
  if (ids.empty()) {
    done(Cadences());
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->remaining = static_cast<int>(ids.size());
  pending->done = std::move(done);
  for (size_t i = 0; i < ids.size(); ++i) {
    contacts_.Find(caller, ids[i], i < fields.size() ? fields[i] : ids[i],
                   [pending](absl::StatusOr<profiles::v1::Contact> contact) {
                     std::function<void(absl::StatusOr<Cadences>)> finish;
                     absl::StatusOr<Cadences> result;
                     {
                       std::lock_guard<std::mutex> lock(pending->mu);
                       if (!contact.ok() && pending->first_error.ok()) pending->first_error = contact.status();
                       if (contact.ok()) pending->cadences[contact->id()] = contact->effective_cadence_days();
                       if (--pending->remaining == 0) {
                         finish = std::move(pending->done);
                         if (pending->first_error.ok()) {
                           result = std::move(pending->cadences);
                         } else {
                           result = pending->first_error;
                         }
                       }
                     }
                     if (finish) finish(std::move(result));
                   });
  }
}

}  // namespace rapport::interactions
