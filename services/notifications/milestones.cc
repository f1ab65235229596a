#include "services/notifications/milestones.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "services/common/field_mask.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/inbox_store.h"
#include "services/notifications/notifications_rows.h"

namespace rapport::notifications {
namespace {

namespace ipb = ::rapport::interactions::v1;
using db::Connection;
using db::Statement;

std::string FirstName(const profiles::v1::Contact& c) {
  if (!c.given_name().empty()) return c.given_name();
  const std::string& name = c.display_name();
  return name.substr(0, name.find(' '));
}

// "Senior Engineer at Initech", "Senior Engineer", "Initech".
std::string Role(const profiles::v1::Contact& c) {
  if (!c.title().empty() && !c.company().empty()) return absl::StrCat(c.title(), " at ", c.company());
  return c.title().empty() ? c.company() : c.title();
}

// contact.updated with a new company or title: the prompt, once per change.
absl::Status PromptCongratulation(Connection& conn, const Owner& owner, const events::v1::Event& e, int64_t now_us) {
  const profiles::v1::Contact& c = e.contact().contact();
  if (c.id().empty() || !MayHaveChanged(e.changed(), {"company", "title"})) return absl::OkStatus();
  // The projection's copy is the contact before this event: none means a new
  // (or deleted) contact, which is no milestone.
  ASSIGN_OR_RETURN(std::optional<profiles::v1::Contact> before, ReadContact(conn, owner, c.id()));
  if (!before.has_value()) return absl::OkStatus();
  // A role that was known and is now another one. Filling in a missing
  // company or title is data entry, not news (and is what a merge does to
  // the survivor); clearing one leaves nothing to congratulate.
  auto moved = [](const std::string& was, const std::string& is) { return !was.empty() && !is.empty() && was != is; };
  if (!moved(before->company(), c.company()) && !moved(before->title(), c.title())) return absl::OkStatus();
  pb::Notification n;
  n.set_kind(kMilestoneKind);
  n.set_contact_id(c.id());
  n.set_title(absl::StrCat("Congratulate ", c.display_name(), " on their new role"));
  n.set_body(absl::StrCat(c.display_name(), " is now ", Role(c),
                          ". A short note of congratulations keeps you in touch; log a CONGRATULATION when sent."));
  n.set_draft(CongratulationDraft(c));
  return AddNotification(conn, owner, std::move(n), absl::StrCat("milestone:", c.id(), ":", e.id()), now_us).status();
}

// The open notifications whose dedupe key starts with prefix: DONE.
absl::Status MarkDoneByPrefix(Connection& conn, const Owner& owner, const std::string& prefix, int64_t now_us) {
  // A range on the (org_id, dedupe_key) index: keys in [prefix, prefix with
  // its last character, ':', raised to ';').
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  std::vector<pb::Notification> open;
  RETURN_IF_ERROR(db::ForEachRow(conn.Prepare("SELECT data FROM notifications WHERE org_id = ? AND dedupe_key >= ? "
                                              "AND dedupe_key < ? AND user_id = ?")
                                     .Bind(1, owner.org)
                                     .Bind(2, prefix)
                                     .Bind(3, end)
                                     .Bind(4, owner.user),
                                 [&](const Statement& row) -> absl::Status {
                                   pb::Notification n;
                                   RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(0), &n));
                                   if (n.state() == pb::UNREAD || n.state() == pb::READ || n.state() == pb::SNOOZED) {
                                     open.push_back(std::move(n));
                                   }
                                   return absl::OkStatus();
                                 }));
  for (pb::Notification& n : open) {
    RETURN_IF_ERROR(CancelTimers(conn, owner.org, n.id(), TimerKind::kSnoozeEnd));
    n.set_state(pb::DONE);
    n.clear_snooze_until();
    *n.mutable_update_time() = ToTimestamp(now_us);
    RETURN_IF_ERROR(conn.Prepare("UPDATE notifications SET state = ?, data = ? WHERE org_id = ? AND user_id = ? AND "
                                 "notification_id = ?")
                        .Bind(1, static_cast<int>(n.state()))
                        .BindBlob(2, n.SerializeAsString())
                        .Bind(3, owner.org)
                        .Bind(4, owner.user)
                        .Bind(5, n.id())
                        .Run());
  }
  return absl::OkStatus();
}

// A greeting or congratulation logged: the contact's birthday notifications
// (those of the birthday built-ins' runs) and milestone prompts are done.
absl::Status MarkActedOn(Connection& conn, const Owner& owner, const events::v1::Event& e, int64_t now_us) {
  const ipb::Interaction& i = e.interaction();
  if (i.kind() != ipb::BIRTHDAY_GREETING && i.kind() != ipb::CONGRATULATION) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  for (const std::string& contact_id : i.contact_ids()) {
    std::vector<std::string> prefixes = {absl::StrCat("milestone:", contact_id, ":")};
    for (const pb::Workflow& w : workflows) {
      if (w.builtin() != "birthday" && w.builtin() != "birthday_heads_up") continue;
      RETURN_IF_ERROR(db::ForEachRow(conn.Prepare("SELECT run_id FROM runs WHERE org_id = ? AND user_id = ? AND "
                                                  "workflow_id = ? AND contact_id = ?")
                                         .Bind(1, owner.org)
                                         .Bind(2, owner.user)
                                         .Bind(3, w.id())
                                         .Bind(4, contact_id),
                                     [&](const Statement& row) -> absl::Status {
                                       prefixes.push_back(absl::StrCat("run:", row.ColumnText(0), ":"));
                                       return absl::OkStatus();
                                     }));
    }
    for (const std::string& prefix : prefixes) RETURN_IF_ERROR(MarkDoneByPrefix(conn, owner, prefix, now_us));
  }
  return absl::OkStatus();
}

}  // namespace

std::string BirthdayGreetingDraft(const profiles::v1::Contact& c) {
  std::string out = absl::StrCat("Happy birthday, ", FirstName(c), "!");
  if (!c.how_we_met().empty()) {
    absl::StrAppend(&out, " I was just thinking back to how we met (", c.how_we_met(), ").");
  }
  absl::StrAppend(&out, " Wishing you a wonderful year ahead.");
  return out;
}

std::string CongratulationDraft(const profiles::v1::Contact& c) {
  const std::string what =
      c.title().empty() ? absl::StrCat("the move to ", c.company()) : absl::StrCat("the new role as ", Role(c));
  return absl::StrCat("Congratulations on ", what, ", ", FirstName(c),
                      "! Wishing you every success; let me know if I can help with anything.");
}

absl::Status ApplyMilestones(Connection& conn, const Owner& owner, const events::v1::Event& e, int64_t now_us) {
  if (e.type() == "contact.updated" && e.has_contact()) return PromptCongratulation(conn, owner, e, now_us);
  if (e.type() == "interaction.created" && e.has_interaction()) return MarkActedOn(conn, owner, e, now_us);
  return absl::OkStatus();
}

}  // namespace rapport::notifications
