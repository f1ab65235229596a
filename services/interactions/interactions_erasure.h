// What erasing a user or an org (user.deleted / org.deleted from profiles)
// removes from interactions' store: every table with the subject's rows
// (services/common/erasure.h does the deleting and keeps the tombstone that
// drops later events about the subject). The org's outbox rows go with the
// org: they describe data that no longer exists.
//
// Thread-safety: a constant list.
#ifndef RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_ERASURE_H_
#define RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_ERASURE_H_

#include <vector>

#include "services/common/erasure.h"

namespace rapport::interactions {

inline std::vector<ErasureTable> InteractionsErasureTables() {
  return {{"interactions", true},  {"interaction_contacts", true}, {"ledger", true},
          {"introductions", true}, {"deleted_contacts", true},     {"idempotency_keys", true},
          {"outbox", false},       {"planned_interactions", true}};
}

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_ERASURE_H_
