// Rules of the interactions service, kept out of the gRPC adapter so that
// they are tested on their own:
// - validation of interactions and introductions, and the introduction
//   lifecycle
//     REQUESTED --both parties accept--> ACCEPTED --make--> MADE --complete--> COMPLETED
//     REQUESTED --a party declines--> DECLINED
//   (pure functions);
// - which contacts a request names, and ContactChecker: "ask the local
//   ledger, then profiles" before an interaction or introduction may name a
//   contact.
// Thread-safe: the functions hold no state, and ContactChecker only calls its
// store and directory, which are.
#ifndef RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_LOGIC_H_
#define RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_LOGIC_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/tenant.h"
#include "services/interactions/interactions_store.h"
#include "services/profiles/contact_client.h"

namespace rapport::interactions {

namespace pb = ::rapport::interactions::v1;

inline constexpr int kMaxContactsPerInteraction = 20;

// The interaction as it will be stored (defaults filled). occurred_at must be
// between 1900 and a year from now_us (planned meetings are fine; dates
// centuries out would overflow the decayed sums).
absl::Status ValidateInteraction(const pb::Interaction& interaction, int64_t now_us);
absl::Status ValidateNewIntroduction(const pb::CreateIntroductionRequest& request);

// The state an interaction takes from its time, on create and on every
// update: PLANNED when occurred_at is after now_us (it counts toward nothing
// until the sweep makes it happen), else HAPPENED. FAILED_PRECONDITION for a
// CANCELLED one: it stays as it is (it can be deleted).
absl::Status SetStateFromTime(pb::Interaction& interaction, int64_t now_us);

// State transitions. FAILED_PRECONDITION when the current state does not
// allow the step (e.g. making an introduction only one party accepted).
absl::Status Respond(pb::Introduction& intro, pb::Party party, bool accept, int64_t now_us);
absl::Status MarkMade(pb::Introduction& intro, int64_t now_us);
absl::Status Complete(pb::Introduction& intro, const std::string& outcome, const std::string& note, int64_t now_us);

// The interaction recorded in the ledger when an introduction is made:
// CONNECT is an INTRODUCTION given to both A and B; REQUEST is an
// INTRODUCTION received from A (the connector).
pb::Interaction MadeInteraction(const pb::Introduction& intro, const std::string& interaction_id, int64_t now_us);

// --- contacts a request names ---

// The contact ids an UpdateInteraction request sets, which must be checked;
// empty when the patch leaves the contacts alone (a mask without
// contact_ids, or no mask and no contact ids).
std::vector<std::string> ContactsNamedByPatch(const pb::UpdateInteractionRequest& request);

// The field names of an interaction's contact ids in errors:
// "interaction.contactIds[<i>]".
std::vector<std::string> ContactFields(const pb::Interaction& interaction);

// Of ids, those the local ledger does not know (not in known), in order and
// each once: the ones profiles must be asked about.
std::vector<std::string> ContactsToAsk(const std::vector<std::string>& ids, const Cadences& known);

// The outcome of a check: the cadence of every id, from known (the local
// ledger) or else from the contacts profiles found; INVALID_ARGUMENT
// "<field>: no such contact" for the first id in neither. fields[i] names
// ids[i] (ids[i] itself names it when fields is shorter).
absl::StatusOr<Cadences> ResolveContacts(const std::vector<std::string>& ids, const std::vector<std::string>& fields,
                                         const Cadences& known,
                                         const std::vector<profiles::v1::Contact>& from_profiles);

// Confirms that contact ids are the caller's before an interaction or an
// introduction names them: "ask the local ledger, then profiles". A contact
// with a ledger row was confirmed by profiles before (or announced by its
// contact.created event), and contact.deleted removes the row, so a local hit
// needs no round trip; the others are asked of profiles, the source of truth,
// in one call (BatchGetContacts; a request names at most
// kMaxContactsPerInteraction, well under its limit of 100). A contact that is not the caller's is INVALID_ARGUMENT
// naming its field; profiles down or slow is UNAVAILABLE, never a wrong answer.
class ContactChecker {
 public:
  // store and profiles must outlive the checker.
  ContactChecker(InteractionsStore* store, profiles::ContactDirectory* profiles) : store_(store), profiles_(profiles) {}

  // done receives each id's cadence (days), on this thread when the ledger
  // knew them all, else on the thread of profiles' answer.
  void Check(const TenantContext& caller, const std::vector<std::string>& ids, const std::vector<std::string>& fields,
             std::function<void(absl::StatusOr<Cadences>)> done);

 private:
  InteractionsStore* store_;
  profiles::ContactDirectory* profiles_;
};

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_LOGIC_H_
