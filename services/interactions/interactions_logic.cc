#include "services/interactions/interactions_logic.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"

namespace rapport::interactions {

absl::Status ValidateInteraction(const pb::Interaction& i, int64_t now_us) {
  constexpr int64_t kYear1900Us = int64_t{-2208988800} * 1000000;
  const int64_t latest_us = now_us + int64_t{366} * 86400 * 1000000;
  Violations v;
  if (i.kind() == pb::INTERACTION_KIND_UNSPECIFIED || !pb::InteractionKind_IsValid(i.kind())) {
    v.Add("interaction.kind", "is required: CONVERSATION, MEETING, CALL, EMAIL, ... (see API.md)");
  }
  if (i.direction() == pb::DIRECTION_UNSPECIFIED || !pb::Direction_IsValid(i.direction())) {
    v.Add("interaction.direction", "is required: GAVE, RECEIVED or MUTUAL");
  }
  if (i.contact_ids_size() == 0) v.Add("interaction.contactIds", "name at least one contact");
  if (i.contact_ids_size() > kMaxContactsPerInteraction) {
    v.Add("interaction.contactIds", absl::StrCat("has more than ", kMaxContactsPerInteraction, " contacts"));
  }
  std::set<std::string> seen;
  for (int k = 0; k < i.contact_ids_size() && k < kMaxContactsPerInteraction; ++k) {
    std::string field = absl::StrCat("interaction.contactIds[", k, "]");
    v.Id(field, i.contact_ids(k), true);
    if (!seen.insert(i.contact_ids(k)).second) v.Add(field, "is repeated");
  }
  if (!IsValidTimestamp(i.occurred_at()) || TimestampToMicros(i.occurred_at()) < kYear1900Us ||
      TimestampToMicros(i.occurred_at()) > latest_us) {
    v.Add("interaction.occurredAt", "must be a time between 1900 and a year from now");
  }
  if (i.has_follow_up_at() &&
      (!IsValidTimestamp(i.follow_up_at()) || TimestampToMicros(i.follow_up_at()) < kYear1900Us ||
       TimestampToMicros(i.follow_up_at()) > latest_us + int64_t{9} * 366 * 86400 * 1000000)) {
    v.Add("interaction.followUpAt", "must be a time between 1900 and ten years from now");
  }
  v.Text("interaction.summary", i.summary(), 500);
  v.Text("interaction.notes", i.notes(), 10000);
  return v.ToStatus();
}

absl::Status SetStateFromTime(pb::Interaction& interaction, int64_t now_us) {
  if (interaction.state() == pb::CANCELLED) {
    return absl::FailedPreconditionError(
        absl::StrCat("interaction ", interaction.id(), " was cancelled; it cannot be changed, only deleted"));
  }
  interaction.set_state(TimestampToMicros(interaction.occurred_at()) > now_us ? pb::PLANNED : pb::HAPPENED);
  return absl::OkStatus();
}

absl::Status ValidateNewIntroduction(const pb::CreateIntroductionRequest& r) {
  Violations v;
  if (r.mode() != pb::CONNECT && r.mode() != pb::REQUEST) v.Add("mode", "is required: CONNECT or REQUEST");
  v.Id("contactAId", r.contact_a_id(), true);
  v.Id("contactBId", r.contact_b_id(), true);
  if (!r.contact_a_id().empty() && r.contact_a_id() == r.contact_b_id()) {
    v.Add("contactBId", "must differ from contactAId");
  }
  v.Text("reason", r.reason(), 2000);
  return v.ToStatus();
}

absl::Status Respond(pb::Introduction& intro, pb::Party party, bool accept, int64_t now_us) {
  if (party != pb::A && party != pb::B) return absl::InvalidArgumentError("party: must be A or B");
  if (intro.state() != pb::REQUESTED) {
    return absl::FailedPreconditionError(absl::StrCat("introduction is ", pb::IntroductionState_Name(intro.state()),
                                                      "; only REQUESTED ones take responses"));
  }
  if (!accept) {
    intro.set_state(pb::DECLINED);
  } else {
    if (party == pb::A) intro.set_a_accepted(true);
    if (party == pb::B) intro.set_b_accepted(true);
    if (intro.a_accepted() && intro.b_accepted()) intro.set_state(pb::ACCEPTED);
  }
  *intro.mutable_update_time() = ToTimestamp(now_us);
  return absl::OkStatus();
}

absl::Status MarkMade(pb::Introduction& intro, int64_t now_us) {
  if (intro.state() != pb::ACCEPTED) {
    return absl::FailedPreconditionError(absl::StrCat("introduction is ", pb::IntroductionState_Name(intro.state()),
                                                      "; both parties must accept before it is made"));
  }
  intro.set_state(pb::MADE);
  *intro.mutable_update_time() = ToTimestamp(now_us);
  return absl::OkStatus();
}

absl::Status Complete(pb::Introduction& intro, const std::string& outcome, const std::string& note, int64_t now_us) {
  Violations v;
  v.Text("outcome", outcome, 200, true);
  v.Text("note", note, 2000);
  if (!v.empty()) return v.ToStatus();
  if (intro.state() != pb::MADE) {
    return absl::FailedPreconditionError(
        absl::StrCat("introduction is ", pb::IntroductionState_Name(intro.state()), "; only MADE ones complete"));
  }
  intro.set_state(pb::COMPLETED);
  intro.set_outcome(outcome);
  intro.set_outcome_note(note);
  *intro.mutable_update_time() = ToTimestamp(now_us);
  return absl::OkStatus();
}

pb::Interaction MadeInteraction(const pb::Introduction& intro, const std::string& interaction_id, int64_t now_us) {
  pb::Interaction i;
  i.set_id(interaction_id);
  i.set_kind(pb::INTRODUCTION);
  i.set_introduction_id(intro.id());
  *i.mutable_occurred_at() = ToTimestamp(now_us);
  *i.mutable_create_time() = ToTimestamp(now_us);
  *i.mutable_update_time() = ToTimestamp(now_us);
  if (intro.mode() == pb::CONNECT) {
    i.set_direction(pb::GAVE);
    i.add_contact_ids(intro.contact_a_id());
    i.add_contact_ids(intro.contact_b_id());
    i.set_summary("Introduced them to each other");
  } else {
    i.set_direction(pb::RECEIVED);
    i.add_contact_ids(intro.contact_a_id());
    i.set_summary("They made an introduction for me");
  }
  return i;
}

// --- contacts a request names ---

std::vector<std::string> ContactsNamedByPatch(const pb::UpdateInteractionRequest& request) {
  const auto& paths = request.update_mask().paths();
  bool changes = paths.empty() ? request.interaction().contact_ids_size() > 0
                               : std::find(paths.begin(), paths.end(), "contact_ids") != paths.end();
  if (!changes) return {};
  return {request.interaction().contact_ids().begin(), request.interaction().contact_ids().end()};
}

std::vector<std::string> ContactFields(const pb::Interaction& interaction) {
  std::vector<std::string> fields;
  for (int k = 0; k < interaction.contact_ids_size(); ++k) {
    fields.push_back(absl::StrCat("interaction.contactIds[", k, "]"));
  }
  return fields;
}

std::vector<std::string> ContactsToAsk(const std::vector<std::string>& ids, const Cadences& known) {
  std::vector<std::string> ask;
  std::set<std::string> asked;
  for (const std::string& id : ids) {
    if (!known.contains(id) && asked.insert(id).second) ask.push_back(id);
  }
  return ask;
}

absl::StatusOr<Cadences> ResolveContacts(const std::vector<std::string>& ids, const std::vector<std::string>& fields,
                                         const Cadences& known,
                                         const std::vector<profiles::v1::Contact>& from_profiles) {
  Cadences found;
  for (const profiles::v1::Contact& c : from_profiles) found[c.id()] = c.effective_cadence_days();
  Cadences out;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto local = known.find(ids[i]);
    if (local != known.end()) {
      out[ids[i]] = local->second;
      continue;
    }
    auto remote = found.find(ids[i]);
    if (remote == found.end()) {
      return absl::InvalidArgumentError(absl::StrCat(i < fields.size() ? fields[i] : ids[i], ": no such contact"));
    }
    out[ids[i]] = remote->second;
  }
  return out;
}

void ContactChecker::Check(const TenantContext& caller, const std::vector<std::string>& ids,
                           const std::vector<std::string>& fields, std::function<void(absl::StatusOr<Cadences>)> done) {
  // A local read error only costs the shortcut: profiles answers for all.
  absl::StatusOr<Cadences> local = store_->KnownContacts(Owner{caller.org_id, caller.user_id}, ids);
  Cadences known = local.ok() ? *std::move(local) : Cadences();
  std::vector<std::string> ask = ContactsToAsk(ids, known);
  if (ask.empty()) return done(ResolveContacts(ids, fields, known, {}));
  profiles_->FindMany(caller, ask,
                      [ids, fields, known = std::move(known),
                       done = std::move(done)](absl::StatusOr<std::vector<profiles::v1::Contact>> found) {
                        if (!found.ok()) return done(found.status());
                        done(ResolveContacts(ids, fields, known, *found));
                      });
}

}  // namespace rapport::interactions
