// Rules of the interactions service that need no store: validation of
// interactions and introductions, and the introduction lifecycle
//   REQUESTED --both parties accept--> ACCEPTED --make--> MADE --complete--> COMPLETED
//   REQUESTED --a party declines--> DECLINED
// Pure functions; thread-safe.
#ifndef RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_LOGIC_H_
#define RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_LOGIC_H_

#include <cstdint>

#include "absl/status/status.h"
#include "rapport/interactions/v1/interactions.pb.h"

namespace rapport::interactions {

namespace pb = ::rapport::interactions::v1;

inline constexpr int kMaxContactsPerInteraction = 20;

// The interaction as it will be stored (defaults filled). occurred_at must be
// between 1900 and a year from now_us (planned meetings are fine; dates
// centuries out would overflow the decayed sums).
absl::Status ValidateInteraction(const pb::Interaction& interaction, int64_t now_us);
absl::Status ValidateNewIntroduction(const pb::CreateIntroductionRequest& request);

// State transitions. FAILED_PRECONDITION when the current state does not
// allow the step (e.g. making an introduction only one party accepted).
absl::Status Respond(pb::Introduction& intro, pb::Party party, bool accept, int64_t now_us);
absl::Status MarkMade(pb::Introduction& intro, int64_t now_us);
absl::Status Complete(pb::Introduction& intro, const std::string& outcome, const std::string& note, int64_t now_us);

// The interaction recorded in the ledger when an introduction is made:
// CONNECT is an INTRODUCTION given to both A and B; REQUEST is an
// INTRODUCTION received from A (the connector).
pb::Interaction MadeInteraction(const pb::Introduction& intro, const std::string& interaction_id, int64_t now_us);

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_LOGIC_H_
