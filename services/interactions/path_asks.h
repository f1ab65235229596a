// Warm-path asks (POST /v1/paths:ask, issue 19): a path from
// recommendations becomes an introduction REQUEST in one call, and a
// teammate who is asked answers it with their own credential.
//
// - The connector (`via`) is either a contact of the asker (an outside
//   connector: the asker records the answer with :respond, as for any
//   REQUEST) or a teammate, an active user of the asker's org (the
//   introduction carries via_user_id; only that teammate accepts or declines
//   with :accept / :decline, and the asker's :respond is refused).
// - The target is a contact of the asker, or, through a teammate, one of the
//   teammate's ORG-visible contacts; or free text when no record names them.
// - PathAskDirectory asks profiles which of these hold (users by GetUser as
//   an internal ADMIN call for the caller's org; the teammate's contacts by
//   BatchGetContacts signed as the teammate, read only).
//
// Thread-safety: the functions hold no state; PathAskDirectory's methods may
// be called concurrently.
#ifndef RAPPORT_SERVICES_INTERACTIONS_PATH_ASKS_H_
#define RAPPORT_SERVICES_INTERACTIONS_PATH_ASKS_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/tenant.h"

namespace rapport::interactions {

namespace pb = ::rapport::interactions::v1;

// INVALID_ARGUMENT naming the field: via required, targetContactId or target
// (not both), ask at most 2000 characters, target at most 200.
absl::Status ValidateAskPath(const pb::AskPathRequest& request);

// Who the connector and the target are, as profiles knows them.
struct ResolvedAsk {
  bool teammate = false;    // via is a user of the org (else a contact of the asker)
  std::string via_name;     // the connector's display name
  std::string target_name;  // the target's display name (or the free text)
};

class PathAskDirectory {
 public:
  // signer must outlive the directory.
  PathAskDirectory(std::shared_ptr<grpc::Channel> profiles, const TenantSigner* signer,
                   std::chrono::milliseconds deadline);

  // NOT_FOUND "via: ..." when via is neither a contact of the caller nor an
  // active user of the caller's org other than the caller; NOT_FOUND
  // "targetContactId: ..." when the target is not a contact of the caller
  // (nor, through a teammate, one of the teammate's ORG contacts);
  // UNAVAILABLE when profiles cannot answer in time.
  void Resolve(const TenantContext& caller, const pb::AskPathRequest& request,
               std::function<void(absl::StatusOr<ResolvedAsk>)> done);

 private:
  void Contacts(const TenantContext& as, const std::vector<std::string>& ids,
                std::function<void(absl::StatusOr<std::vector<profiles::v1::Contact>>)> done);
  void User(const TenantContext& caller, const std::string& user_id,
            std::function<void(absl::StatusOr<std::optional<profiles::v1::User>>)> done);

  std::unique_ptr<profiles::v1::ProfilesService::Stub> stub_;
  const TenantSigner* signer_;
  std::chrono::milliseconds deadline_;
};

// The introduction an ask records (REQUESTED, mode REQUEST): contact_a_id is
// the outside connector, or via_user_id the teammate; reason is the ask (a
// default line naming the target when the request has none).
pb::Introduction NewAskIntroduction(const pb::AskPathRequest& request, const ResolvedAsk& resolved,
                                    const std::string& asker_user_id, const std::string& id, int64_t now_us);

// The teammate's answer: NOT_FOUND unless caller is the introduction's
// via_user_id (the asker, or anyone else, cannot answer for them);
// FAILED_PRECONDITION unless REQUESTED. Accepting makes it ACCEPTED (the
// teammate agrees to introduce; the target's own consent is theirs to get).
absl::Status AnswerAsk(pb::Introduction& intro, const std::string& caller_user_id, bool accept, int64_t now_us);

// Whether the asker may record answers (:respond, :make): not on an ask a
// teammate answers. PERMISSION_DENIED naming who answers.
absl::Status AskerMayAnswer(const pb::Introduction& intro);

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_PATH_ASKS_H_
