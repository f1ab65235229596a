// The projection job of NotificationsStore: what the workflows need from
// other services' events (users' timezones, contacts, interactions per
// contact, ledger balances and due dates), kept inside the event consumer's
// transaction, and the runs and trigger timers those events start or move.
#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/domain_events.h"
#include "services/notifications/follow_ups.h"
#include "services/notifications/inbox_store.h"
#include "services/notifications/introduction_asks.h"
#include "services/notifications/milestones.h"
#include "services/notifications/notifications_erasure.h"
#include "services/notifications/notifications_rows.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/run_store.h"
#include "services/notifications/sync_log.h"
#include "services/notifications/workflow_engine.h"

namespace rapport::notifications {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using db::Connection;
using db::Statement;

namespace {

// When the event happened (its producer's clock), never after now.
absl::Time EventTime(const events::v1::Event& e, absl::Time now) {
  if (!e.has_time()) return now;
  return std::min(now, FromMicros(TimestampToMicros(e.time())));
}

absl::Status ApplyUser(Connection& conn, const Owner& owner, const events::v1::Event& e, absl::Time now) {
  const std::string zone = e.user().has_profile() && !e.user().profile().timezone().empty()
                               ? e.user().profile().timezone()
                               : e.user().user().timezone();
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO users (org_id, user_id, timezone) VALUES (?, ?, ?) "
                               "ON CONFLICT (org_id, user_id) DO UPDATE SET timezone = excluded.timezone")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, zone)
                      .Run());
  RETURN_IF_ERROR(EnsureUser(conn, owner, now));
  // Local times moved with the zone: reschedule the triggers that use them.
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  for (const pb::Workflow& w : workflows) {
    if (w.trigger().kind() == pb::SCHEDULE || w.trigger().kind() == pb::DATE_FIELD) {
      RETURN_IF_ERROR(ScheduleWorkflow(conn, owner, w, now));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyContact(Connection& conn, const Owner& owner, const events::v1::Event& e, absl::Time now) {
  const ppb::Contact& c = e.contact().contact();
  if (c.id().empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  if (e.type() == "contact.deleted") {
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO contacts (org_id, user_id, contact_id, deleted, data) "
                                 "VALUES (?, ?, ?, 1, ?) "
                                 "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET deleted = 1")
                        .Bind(1, owner.org)
                        .Bind(2, owner.user)
                        .Bind(3, c.id())
                        .BindBlob(4, c.SerializeAsString())
                        .Run());
    for (const pb::Workflow& w : workflows) {
      RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kDateTrigger, c.id()));
      RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kOverdueTrigger, c.id()));
    }
    // Nothing about the person stays (notifications_erasure.h).
    return EraseDeletedContact(conn, owner, c.id());
  }
  // An update that arrives after the delete must not resurrect the contact.
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO contacts (org_id, user_id, contact_id, deleted, data) "
                               "VALUES (?, ?, ?, 0, ?) "
                               "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET data = excluded.data "
                               "WHERE contacts.deleted = 0")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, c.id())
                      .BindBlob(4, c.SerializeAsString())
                      .Run());
  for (const pb::Workflow& w : workflows) {
    if (w.trigger().kind() == pb::DATE_FIELD) {
      RETURN_IF_ERROR(ScheduleContactTrigger(conn, owner, w, c, std::nullopt, now));
    }
    if (e.type() == "contact.created" && w.enabled() && w.trigger().kind() == pb::CONTACT_CREATED &&
        MatchesFilter(w.filter(), &c)) {
      RETURN_IF_ERROR(StartRun(conn, owner, w, c.id(), absl::StrCat("event:", e.id()),
                               absl::StrCat("contact ", c.id(), " created"), now, EventTime(e, now))
                          .status());
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyInteraction(Connection& conn, const Owner& owner, const events::v1::Event& e, absl::Time now) {
  const ipb::Interaction& i = e.interaction();
  // A planned (future) or cancelled interaction has not happened: it is no
  // interaction with the contact yet (interaction.created comes when it does).
  if (e.type() == "interaction.deleted" || e.type() == "interaction.planned" || e.type() == "interaction.cancelled") {
    return conn.Prepare("DELETE FROM contact_interactions WHERE org_id = ? AND user_id = ? AND interaction_id = ?")
        .Bind(1, owner.org)
        .Bind(2, owner.user)
        .Bind(3, i.id())
        .Run();
  }
  if (e.type() != "interaction.created" && e.type() != "interaction.updated") return absl::OkStatus();
  const int64_t logged_us = e.has_time() ? TimestampToMicros(e.time()) : ToMicros(now);
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  for (const std::string& contact_id : i.contact_ids()) {
    // Interactions hears contact.deleted after this interaction was made:
    // nothing of the person comes back (no link, no follow-up run).
    ASSIGN_OR_RETURN(bool deleted, ContactDeleted(conn, owner, contact_id));
    if (deleted) continue;
    ASSIGN_OR_RETURN(std::optional<int64_t> earlier,
                     db::ReadRow<int64_t>(conn.Prepare("SELECT COUNT(*) FROM contact_interactions WHERE org_id = ? "
                                                       "AND user_id = ? AND contact_id = ? AND interaction_id != ?")
                                              .Bind(1, owner.org)
                                              .Bind(2, owner.user)
                                              .Bind(3, contact_id)
                                              .Bind(4, i.id()),
                                          [](const Statement& row) { return row.ColumnInt(0); }));
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO contact_interactions (org_id, user_id, contact_id, interaction_id, "
                                 "occurred_us, logged_us) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
                        .Bind(1, owner.org)
                        .Bind(2, owner.user)
                        .Bind(3, contact_id)
                        .Bind(4, i.id())
                        .Bind(5, TimestampToMicros(i.occurred_at()))
                        .Bind(6, logged_us)
                        .Run());
    if (e.type() != "interaction.created") continue;
    ASSIGN_OR_RETURN(std::optional<ppb::Contact> contact, ReadContact(conn, owner, contact_id));
    for (const pb::Workflow& w : workflows) {
      const pb::Trigger& t = w.trigger();
      if (!w.enabled() || t.kind() != pb::INTERACTION_CREATED) continue;
      if (t.interaction_kinds_size() > 0 && std::find(t.interaction_kinds().begin(), t.interaction_kinds().end(),
                                                      i.kind()) == t.interaction_kinds().end()) {
        continue;
      }
      const bool first_only =
          t.first_interaction_only() ||
          std::find(t.first_only_kinds().begin(), t.first_only_kinds().end(), i.kind()) != t.first_only_kinds().end();
      if (first_only && earlier.value_or(0) > 0) continue;
      if (!MatchesFilter(w.filter(), contact.has_value() ? &*contact : nullptr)) continue;
      RETURN_IF_ERROR(StartRun(conn, owner, w, contact_id, absl::StrCat("interaction:", i.id(), ":", contact_id),
                               absl::StrCat("interaction ", i.id()), now, EventTime(e, now))
                          .status());
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyLedger(Connection& conn, const Owner& owner, const events::v1::Event& e, absl::Time now) {
  const ipb::LedgerEntry& l = e.ledger();
  if (l.contact_id().empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(bool deleted, ContactDeleted(conn, owner, l.contact_id()));
  if (deleted) return absl::OkStatus();  // a late change of an erased ledger
  ASSIGN_OR_RETURN(std::optional<LedgerRow> old, ReadLedger(conn, owner, l.contact_id()));
  const double before = old.has_value() ? old->balance : 0.0;
  const int64_t next_due = l.has_next_due_time() ? TimestampToMicros(l.next_due_time()) : 0;
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO ledger (org_id, user_id, contact_id, balance, next_due_us) "
                               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET "
                               "balance = excluded.balance, next_due_us = excluded.next_due_us")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, l.contact_id())
                      .Bind(4, l.balance())
                      .Bind(5, next_due)
                      .Run());
  ASSIGN_OR_RETURN(std::optional<ppb::Contact> contact, ReadContact(conn, owner, l.contact_id()));
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  for (const pb::Workflow& w : workflows) {
    if (w.trigger().kind() == pb::CONTACT_OVERDUE && contact.has_value()) {
      RETURN_IF_ERROR(ScheduleContactTrigger(conn, owner, w, *contact, next_due, now));
    }
    if (w.enabled() && w.trigger().kind() == pb::BALANCE_TIPPED &&
        MatchesFilter(w.filter(), contact.has_value() ? &*contact : nullptr)) {
      const double threshold = w.trigger().balance_threshold() > 0 ? w.trigger().balance_threshold() : 3.0;
      // Tipping: from above the threshold to at or below it (you owe them).
      if (before > -threshold && l.balance() <= -threshold) {
        RETURN_IF_ERROR(StartRun(conn, owner, w, l.contact_id(), absl::StrCat("event:", e.id()),
                                 absl::StrFormat("balance %.1f", l.balance()), now, EventTime(e, now))
                            .status());
      }
    }
  }
  return absl::OkStatus();
}

// contact.merged: the survivor takes over what notifications keeps of the
// merged contacts. The projection forgets them (deleted, as on
// contact.deleted, with their date and overdue triggers cancelled) and moves
// their interactions to the survivor; reminders (rows, timers, counts) and
// workflow runs (rows and their step timers) name the survivor. Idempotent:
// a second application finds nothing left to move.
absl::Status ApplyContactMerged(Connection& conn, const Owner& owner, const events::v1::Event& e, absl::Time now) {
  const ppb::Contact& survivor = e.contact_merged().survivor();
  if (survivor.id().empty()) return absl::OkStatus();
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO contacts (org_id, user_id, contact_id, deleted, data) "
                               "VALUES (?, ?, ?, 0, ?) "
                               "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET data = excluded.data "
                               "WHERE contacts.deleted = 0")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, survivor.id())
                      .BindBlob(4, survivor.SerializeAsString())
                      .Run());
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  // Reminders carry their contact in the row's blob only: a user's reminders
  // are read once for all the merged ids.
  ASSIGN_OR_RETURN(
      std::vector<pb::Reminder> reminders,
      db::ListBlobs<pb::Reminder>(conn.Prepare("SELECT data FROM reminders WHERE org_id = ? AND user_id = ?")
                                      .Bind(1, owner.org)
                                      .Bind(2, owner.user)));
  for (const std::string& gone : e.contact_merged().merged_ids()) {
    if (gone == survivor.id() || gone.empty()) continue;
    ppb::Contact tombstone;
    tombstone.set_id(gone);
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO contacts (org_id, user_id, contact_id, deleted, data) "
                                 "VALUES (?, ?, ?, 1, ?) "
                                 "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET deleted = 1")
                        .Bind(1, owner.org)
                        .Bind(2, owner.user)
                        .Bind(3, gone)
                        .BindBlob(4, tombstone.SerializeAsString())
                        .Run());
    for (const pb::Workflow& w : workflows) {
      RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kDateTrigger, gone));
      RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kOverdueTrigger, gone));
    }
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO contact_interactions (org_id, user_id, contact_id, interaction_id, "
                                 "occurred_us, logged_us) SELECT org_id, user_id, ?, interaction_id, occurred_us, "
                                 "logged_us FROM contact_interactions WHERE org_id = ? AND user_id = ? AND "
                                 "contact_id = ? ON CONFLICT DO NOTHING")
                        .Bind(1, survivor.id())
                        .Bind(2, owner.org)
                        .Bind(3, owner.user)
                        .Bind(4, gone)
                        .Run());
    for (const char* sql : {"DELETE FROM contact_interactions WHERE org_id = ? AND user_id = ? AND contact_id = ?",
                            "DELETE FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?"}) {
      RETURN_IF_ERROR(conn.Prepare(sql).Bind(1, owner.org).Bind(2, owner.user).Bind(3, gone).Run());
    }
    for (pb::Reminder& r : reminders) {
      if (r.contact_id() != gone) continue;
      r.set_contact_id(survivor.id());
      RETURN_IF_ERROR(SyncReminder(conn, owner, r, /*deleted=*/false));
      RETURN_IF_ERROR(conn.Prepare("UPDATE reminders SET data = ? WHERE org_id = ? AND user_id = ? AND reminder_id = ?")
                          .BindBlob(1, r.SerializeAsString())
                          .Bind(2, owner.org)
                          .Bind(3, owner.user)
                          .Bind(4, r.id())
                          .Run());
    }
    // Pending reminders counted against the merged contact count against the survivor.
    ASSIGN_OR_RETURN(std::optional<int64_t> pending,
                     db::ReadRow<int64_t>(conn.Prepare("SELECT pending FROM reminder_counts WHERE org_id = ? AND "
                                                       "user_id = ? AND contact_id = ?")
                                              .Bind(1, owner.org)
                                              .Bind(2, owner.user)
                                              .Bind(3, gone),
                                          [](const Statement& row) { return row.ColumnInt(0); }));
    if (pending.has_value()) {
      RETURN_IF_ERROR(conn.Prepare("INSERT INTO reminder_counts (org_id, user_id, contact_id, pending) VALUES (?, ?, "
                                   "?, ?) ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET pending = "
                                   "reminder_counts.pending + excluded.pending")
                          .Bind(1, owner.org)
                          .Bind(2, owner.user)
                          .Bind(3, survivor.id())
                          .Bind(4, *pending)
                          .Run());
      RETURN_IF_ERROR(conn.Prepare("DELETE FROM reminder_counts WHERE org_id = ? AND user_id = ? AND contact_id = ?")
                          .Bind(1, owner.org)
                          .Bind(2, owner.user)
                          .Bind(3, gone)
                          .Run());
    }
    RETURN_IF_ERROR(MoveFollowUps(conn, owner, gone, survivor.id()));
    // Runs: the row's column and blob.
    ASSIGN_OR_RETURN(std::vector<pb::WorkflowRun> runs,
                     db::ListBlobs<pb::WorkflowRun>(conn.Prepare("SELECT data FROM runs WHERE org_id = ? AND "
                                                                 "user_id = ? AND contact_id = ?")
                                                        .Bind(1, owner.org)
                                                        .Bind(2, owner.user)
                                                        .Bind(3, gone)));
    for (pb::WorkflowRun& run : runs) {
      run.set_contact_id(survivor.id());
      RETURN_IF_ERROR(UpdateRun(conn, owner, run));
    }
    // The timers left (reminders, run steps) fire for the survivor.
    RETURN_IF_ERROR(conn.Prepare("UPDATE timers SET contact_id = ? WHERE org_id = ? AND user_id = ? AND contact_id = ?")
                        .Bind(1, survivor.id())
                        .Bind(2, owner.org)
                        .Bind(3, owner.user)
                        .Bind(4, gone)
                        .Run());
  }
  // The survivor's date triggers follow its (possibly new) birthday.
  for (const pb::Workflow& w : workflows) {
    if (w.trigger().kind() == pb::DATE_FIELD) {
      RETURN_IF_ERROR(ScheduleContactTrigger(conn, owner, w, survivor, std::nullopt, now));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status NotificationsStore::ApplyEvent(Connection& conn, const events::v1::Event& e) {
  if (e.org_id().empty() || e.user_id().empty()) return absl::OkStatus();
  const Owner owner{e.org_id(), e.user_id()};
  const absl::Time now = clock_();
  // Webhooks carrying domain events (domain_events.h), queued with the event's dedupe.
  RETURN_IF_ERROR(EnqueueDomainEvent(conn, e, ToMicros(now)));
  // Milestone prompts and greetings marked done (milestones.h), before the
  // projection takes the event's contact.
  RETURN_IF_ERROR(ApplyMilestones(conn, owner, e, ToMicros(now)));
  if (e.has_user()) return ApplyUser(conn, owner, e, now);
  RETURN_IF_ERROR(EnsureUser(conn, owner, now));
  if (e.has_contact()) return ApplyContact(conn, owner, e, now);
  if (e.has_contact_merged()) return ApplyContactMerged(conn, owner, e, now);
  if (e.has_interaction()) {
    RETURN_IF_ERROR(ApplyFollowUps(conn, owner, e, now));
    return ApplyInteraction(conn, owner, e, now);
  }
  if (e.has_ledger()) return ApplyLedger(conn, owner, e, now);
  if (e.has_import()) return ApplyImportProgress(conn, owner, e.import());
  if (e.has_introduction()) return ApplyIntroductionAsk(conn, e, now);
  return absl::OkStatus();
}

}  // namespace rapport::notifications
