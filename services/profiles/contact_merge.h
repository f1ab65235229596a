// The rules of POST /v1/contacts/{id}:merge, apart from storage: which
// requests are valid, and how the survivor's fields combine with those of the
// contacts merged into it. ProfilesStore::MergeContacts applies them inside
// its transaction. Pure functions, safe from any thread.
#ifndef RAPPORT_SERVICES_PROFILES_CONTACT_MERGE_H_
#define RAPPORT_SERVICES_PROFILES_CONTACT_MERGE_H_

#include <vector>

#include "absl/status/status.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::profiles {

// Contacts one merge may fold into its survivor.
inline constexpr int kMaxMergeOthers = 50;

// contactId well-formed; otherIds 1..kMaxMergeOthers well-formed ids, none
// repeated, none the survivor: INVALID_ARGUMENT naming each bad field.
absl::Status ValidateMergeContacts(const ::rapport::profiles::v1::MergeContactsRequest& request);

// The survivor after folding others into it, in their order: its non-empty
// fields stay, empty ones are filled from the first other that has them;
// emails, phones and links are united (compared by their normalized keys,
// contact_keys.h), tags, seeking and offering too (case-insensitively);
// notes are concatenated, the survivor's first; the earliest create time
// wins. A met-through reference to a merged contact or to the survivor itself
// is dropped. update_time is left to the caller.
::rapport::profiles::v1::Contact CombineContacts(const ::rapport::profiles::v1::Contact& survivor,
                                                 const std::vector<::rapport::profiles::v1::Contact>& others);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_CONTACT_MERGE_H_
