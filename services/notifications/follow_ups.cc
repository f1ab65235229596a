#include "services/notifications/follow_ups.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "services/common/field_mask.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/inbox_store.h"
#include "services/notifications/local_time.h"
#include "services/notifications/notifications_rows.h"

namespace rapport::notifications {

namespace ipb = ::rapport::interactions::v1;
using db::Connection;
using db::Statement;

const char kFollowUpsMigration[] = R"sql(
CREATE TABLE follow_ups (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  interaction_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  due_us INTEGER NOT NULL,            -- the interaction's followUpAt
  occurred_us INTEGER NOT NULL,       -- the interaction's time: a later one with the contact clears it
  kind INTEGER NOT NULL,              -- rapport.interactions.v1.InteractionKind
  summary TEXT NOT NULL,
  PRIMARY KEY (org_id, user_id, interaction_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX follow_ups_by_contact ON follow_ups (org_id, user_id, contact_id, occurred_us);
)sql";

namespace {

constexpr int64_t kMicrosPerDay = int64_t{24} * 3600 * 1000000;

struct FollowUpRow {
  std::string interaction_id;
  std::string contact_id;
  int64_t due_us = 0;
  int64_t occurred_us = 0;
  int kind = 0;
  std::string summary;
};

FollowUpRow ToRow(const Statement& row) {
  return FollowUpRow{
      row.ColumnText(0), row.ColumnText(1), row.ColumnInt(2), row.ColumnInt(3), static_cast<int>(row.ColumnInt(4)),
      row.ColumnText(5)};
}

absl::StatusOr<std::vector<FollowUpRow>> OfInteraction(Connection& conn, const Owner& owner,
                                                       const std::string& interaction_id) {
  return db::ListRows<FollowUpRow>(
      conn.Prepare("SELECT interaction_id, contact_id, due_us, occurred_us, kind, summary FROM follow_ups "
                   "WHERE org_id = ? AND user_id = ? AND interaction_id = ?")
          .Bind(1, owner.org)
          .Bind(2, owner.user)
          .Bind(3, interaction_id),
      ToRow);
}

std::string DedupeKey(const FollowUpRow& f) {
  return absl::StrCat("follow_up:", f.interaction_id, ":", f.contact_id, ":", f.due_us);
}

// Deletes the follow-up and cancels its timer.
absl::Status Cancel(Connection& conn, const Owner& owner, const std::string& interaction_id,
                    const std::string& contact_id) {
  RETURN_IF_ERROR(
      conn.Prepare("DELETE FROM follow_ups WHERE org_id = ? AND user_id = ? AND interaction_id = ? AND contact_id = ?")
          .Bind(1, owner.org)
          .Bind(2, owner.user)
          .Bind(3, interaction_id)
          .Bind(4, contact_id)
          .Run());
  return CancelTimers(conn, owner.org, interaction_id, TimerKind::kFollowUp, contact_id);
}

absl::Status Schedule(Connection& conn, const Owner& owner, const FollowUpRow& f) {
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO follow_ups (org_id, user_id, interaction_id, contact_id, due_us, "
                               "occurred_us, kind, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                               "ON CONFLICT (org_id, user_id, interaction_id, contact_id) DO UPDATE SET "
                               "due_us = excluded.due_us, occurred_us = excluded.occurred_us, kind = excluded.kind, "
                               "summary = excluded.summary")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, f.interaction_id)
                      .Bind(4, f.contact_id)
                      .Bind(5, f.due_us)
                      .Bind(6, f.occurred_us)
                      .Bind(7, f.kind)
                      .Bind(8, f.summary)
                      .Run());
  return InsertTimer(conn,
                     NewTimer(owner, TimerKind::kFollowUp, f.interaction_id, f.contact_id, f.due_us, DedupeKey(f)));
}

// The pending follow-ups of interactions with contact_id that happened at
// or before occurred_us, but for except_id's: an interaction since clears them.
absl::Status ClearEarlier(Connection& conn, const Owner& owner, const std::string& contact_id, int64_t occurred_us,
                          const std::string& except_id) {
  ASSIGN_OR_RETURN(
      std::vector<FollowUpRow> earlier,
      db::ListRows<FollowUpRow>(
          conn.Prepare("SELECT interaction_id, contact_id, due_us, occurred_us, kind, summary FROM follow_ups "
                       "WHERE org_id = ? AND user_id = ? AND contact_id = ? AND "
                       "occurred_us <= ? AND interaction_id <> ?")
              .Bind(1, owner.org)
              .Bind(2, owner.user)
              .Bind(3, contact_id)
              .Bind(4, occurred_us)
              .Bind(5, except_id),
          ToRow));
  for (const FollowUpRow& f : earlier) RETURN_IF_ERROR(Cancel(conn, owner, f.interaction_id, f.contact_id));
  return absl::OkStatus();
}

std::string KindName(int kind) {
  std::string name = ipb::InteractionKind_IsValid(kind) ? ipb::InteractionKind_Name(kind) : "INTERACTION";
  for (char& c : name) c = c == '_' ? ' ' : absl::ascii_tolower(c);
  if (!name.empty()) name[0] = absl::ascii_toupper(name[0]);
  return name;
}

}  // namespace

absl::Status ApplyFollowUps(Connection& conn, const Owner& owner, const events::v1::Event& e, absl::Time now) {
  const ipb::Interaction& i = e.interaction();
  if (i.id().empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<FollowUpRow> existing, OfInteraction(conn, owner, i.id()));
  if (e.type() == "interaction.deleted") {
    for (const FollowUpRow& f : existing) RETURN_IF_ERROR(Cancel(conn, owner, f.interaction_id, f.contact_id));
    return absl::OkStatus();
  }
  const bool created = e.type() == "interaction.created";
  if (!created && (e.type() != "interaction.updated" ||
                   !MayHaveChanged(e.changed(), {"follow_up_at", "contact_ids", "summary", "kind", "occurred_at"})))
    return absl::OkStatus();
  const int64_t occurred_us = TimestampToMicros(i.occurred_at());
  if (created) {
    for (const std::string& contact : i.contact_ids()) {
      RETURN_IF_ERROR(ClearEarlier(conn, owner, contact, occurred_us, i.id()));
    }
  }
  const int64_t set_us = e.has_time() ? TimestampToMicros(e.time()) : ToMicros(now);
  const bool wanted = i.has_follow_up_at() && TimestampToMicros(i.follow_up_at()) >= set_us - kMicrosPerDay;
  std::vector<FollowUpRow> want;
  if (wanted) {
    for (const std::string& contact : i.contact_ids()) {
      ASSIGN_OR_RETURN(bool deleted, ContactDeleted(conn, owner, contact));
      if (deleted) continue;  // erased before this event arrived
      want.push_back(FollowUpRow{i.id(), contact, TimestampToMicros(i.follow_up_at()), occurred_us,
                                 static_cast<int>(i.kind()), i.summary()});
    }
  }
  // Cancelled: contacts no longer on it, or a moved time (its timer's
  // dedupe key names the old time).
  for (const FollowUpRow& old : existing) {
    auto same = std::find_if(want.begin(), want.end(), [&](const FollowUpRow& f) {
      return f.contact_id == old.contact_id && f.due_us == old.due_us;
    });
    if (same == want.end()) RETURN_IF_ERROR(Cancel(conn, owner, old.interaction_id, old.contact_id));
  }
  for (const FollowUpRow& f : want) {
    auto had = std::find_if(existing.begin(), existing.end(), [&](const FollowUpRow& old) {
      return f.contact_id == old.contact_id && f.due_us == old.due_us;
    });
    // An update that kept the time keeps a follow-up that already fired or
    // was cleared gone: only a new time schedules anew.
    if (!created && had == existing.end() && e.changed().paths_size() > 0 &&
        std::find(e.changed().paths().begin(), e.changed().paths().end(), "follow_up_at") ==
            e.changed().paths().end() &&
        std::find(e.changed().paths().begin(), e.changed().paths().end(), "contact_ids") == e.changed().paths().end()) {
      continue;
    }
    RETURN_IF_ERROR(Schedule(conn, owner, f));
  }
  return absl::OkStatus();
}

absl::Status FireFollowUp(Connection& conn, const TimerRow& timer, int64_t now_us) {
  const Owner owner{timer.org, timer.user};
  ASSIGN_OR_RETURN(
      std::optional<FollowUpRow> f,
      db::ReadRow<FollowUpRow>(
          conn.Prepare("SELECT interaction_id, contact_id, due_us, occurred_us, kind, summary FROM follow_ups "
                       "WHERE org_id = ? AND user_id = ? AND interaction_id = ? AND contact_id = ?")
              .Bind(1, owner.org)
              .Bind(2, owner.user)
              .Bind(3, timer.ref)
              .Bind(4, timer.contact),
          ToRow));
  if (!f.has_value() || f->due_us != timer.due_us) return absl::OkStatus();  // cancelled or moved
  RETURN_IF_ERROR(Cancel(conn, owner, f->interaction_id, f->contact_id));
  // An interaction with the contact since (its event may have come first).
  ASSIGN_OR_RETURN(bool since, db::Exists(conn.Prepare("SELECT 1 FROM contact_interactions WHERE org_id = ? AND "
                                                       "user_id = ? AND contact_id = ? AND interaction_id <> ? AND "
                                                       "occurred_us >= ?")
                                              .Bind(1, owner.org)
                                              .Bind(2, owner.user)
                                              .Bind(3, f->contact_id)
                                              .Bind(4, f->interaction_id)
                                              .Bind(5, f->occurred_us)));
  if (since) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<profiles::v1::Contact> c, ReadContact(conn, owner, f->contact_id));
  if (!c.has_value()) return absl::OkStatus();  // the contact was deleted
  ASSIGN_OR_RETURN(absl::TimeZone zone, UserZone(conn, owner));
  pb::Notification n;
  n.set_kind("follow_up");
  n.set_contact_id(f->contact_id);
  n.set_interaction_id(f->interaction_id);
  n.set_title(absl::StrCat("Follow up with ", c->display_name()));
  n.set_body(absl::StrCat(KindName(f->kind), " on ", LocalDate(FromMicros(f->occurred_us), zone),
                          f->summary.empty() ? "" : ": ", f->summary));
  return AddNotification(conn, owner, n, timer.dedupe_key, now_us).status();
}

absl::Status MoveFollowUps(Connection& conn, const Owner& owner, const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO follow_ups (org_id, user_id, interaction_id, contact_id, due_us, "
                               "occurred_us, kind, summary) SELECT org_id, user_id, interaction_id, ?, due_us, "
                               "occurred_us, kind, summary FROM follow_ups WHERE org_id = ? AND user_id = ? AND "
                               "contact_id = ? ON CONFLICT DO NOTHING")
                      .Bind(1, to)
                      .Bind(2, owner.org)
                      .Bind(3, owner.user)
                      .Bind(4, from)
                      .Run());
  return conn.Prepare("DELETE FROM follow_ups WHERE org_id = ? AND user_id = ? AND contact_id = ?")
      .Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, from)
      .Run();
}

absl::Status EraseFollowUps(Connection& conn, const Owner& owner, const std::string& contact_id) {
  RETURN_IF_ERROR(conn.Prepare("DELETE FROM follow_ups WHERE org_id = ? AND user_id = ? AND contact_id = ?")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, contact_id)
                      .Run());
  return conn.Prepare("DELETE FROM timers WHERE org_id = ? AND user_id = ? AND contact_id = ? AND kind = ?")
      .Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, contact_id)
      .Bind(4, static_cast<int>(TimerKind::kFollowUp))
      .Run();
}

}  // namespace rapport::notifications
