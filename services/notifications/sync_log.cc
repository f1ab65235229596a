#include "services/notifications/sync_log.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::notifications {

using db::Connection;
using db::Statement;

// One row per (user, object): its latest state or tombstone. tombstone_us is
// NULL for live objects, so the retention pruner (which skips NULL times)
// deletes tombstones only.
const char kSyncLogMigration[] = R"sql(
CREATE TABLE sync_heads (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  seq INTEGER NOT NULL,               -- the user's last assigned sequence number
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE TABLE sync_objects (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  object_type TEXT NOT NULL,          -- contact, group, membership, ...
  object_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  version TEXT NOT NULL,              -- ULID of the change (event id); older changes are ignored
  change_us INTEGER NOT NULL,
  tombstone_us INTEGER,               -- when deleted; NULL while the object lives
  data BLOB NOT NULL,                 -- rapport.notifications.v1.SyncChange
  PRIMARY KEY (org_id, user_id, object_type, object_id)
) WITHOUT ROWID;
CREATE INDEX sync_objects_by_seq ON sync_objects (org_id, user_id, seq);
CREATE INDEX sync_objects_by_tombstone ON sync_objects (tombstone_us);
)sql";

namespace {

// Writes change as the object's latest state at a new seq, unless the row
// already holds a later version. version: the event's id, or empty for a
// change of notifications' own, which takes a fresh ULID once the user's head
// row is locked, so that among local changes the later commit wins.
absl::Status Record(Connection& conn, const Owner& owner, pb::SyncChange change, const std::string& event_id) {
  if (owner.org.empty() || owner.user.empty() || change.id().empty()) return absl::OkStatus();
  if (!event_id.empty()) {
    // A redelivered or late event: nothing to do, and no seq spent.
    ASSIGN_OR_RETURN(std::optional<std::string> stored,
                     db::ReadRow<std::string>(conn.Prepare("SELECT version FROM sync_objects WHERE org_id = ? AND "
                                                           "user_id = ? AND object_type = ? AND object_id = ?")
                                                  .Bind(1, owner.org)
                                                  .Bind(2, owner.user)
                                                  .Bind(3, change.type())
                                                  .Bind(4, change.id()),
                                              [](const Statement& row) { return row.ColumnText(0); }));
    if (stored.has_value() && *stored >= event_id) return absl::OkStatus();
  }
  // The head row stays locked until commit: seq order is commit order.
  ASSIGN_OR_RETURN(std::optional<int64_t> seq,
                   db::ReadRow<int64_t>(conn.Prepare("INSERT INTO sync_heads (org_id, user_id, seq) VALUES (?, ?, 1) "
                                                     "ON CONFLICT (org_id, user_id) DO UPDATE SET seq = "
                                                     "sync_heads.seq + 1 RETURNING seq")
                                            .Bind(1, owner.org)
                                            .Bind(2, owner.user),
                                        [](const Statement& row) { return row.ColumnInt(0); }));
  if (!seq.has_value()) return absl::InternalError("sync_heads: no sequence number");
  const std::string version = event_id.empty() ? NewId() : event_id;
  const int64_t now_us = NowMicros();
  *change.mutable_change_time() = ToTimestamp(now_us);
  // The WHERE keeps a newer version that another replica's consumer wrote
  // meanwhile (its seq then stays unused: a gap, which readers skip).
  Statement st = conn.Prepare(
      "INSERT INTO sync_objects (org_id, user_id, object_type, object_id, seq, version, change_us, tombstone_us, "
      "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, object_type, object_id) DO UPDATE SET "
      "seq = excluded.seq, version = excluded.version, change_us = excluded.change_us, "
      "tombstone_us = excluded.tombstone_us, data = excluded.data WHERE sync_objects.version < excluded.version");
  st.Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, change.type())
      .Bind(4, change.id())
      .Bind(5, *seq)
      .Bind(6, version)
      .Bind(7, now_us);
  if (change.deleted()) {
    st.Bind(8, now_us);
  } else {
    st.BindNull(8);
  }
  st.BindBlob(9, change.SerializeAsString());
  return st.RunLater();  // nobody reads its outcome before the commit
}

pb::SyncChange Tombstone(const char* type, const std::string& id) {
  pb::SyncChange c;
  c.set_type(type);
  c.set_id(id);
  c.set_deleted(true);
  return c;
}

// Whether e is of type (e.g. "contact.deleted").
bool Is(const events::v1::Event& e, const char* type) { return e.type() == type; }

}  // namespace

absl::Status ApplySyncEvent(Connection& conn, const events::v1::Event& e) {
  const Owner owner{e.org_id(), e.user_id()};
  if (owner.org.empty() || owner.user.empty()) return absl::OkStatus();
  // Events without an id (none are published so) count as local changes.
  const std::string& version = e.id();
  if (e.has_contact()) {
    const auto& contact = e.contact().contact();
    if (Is(e, "contact.deleted")) return Record(conn, owner, Tombstone("contact", contact.id()), version);
    pb::SyncChange c;
    c.set_type("contact");
    c.set_id(contact.id());
    *c.mutable_contact() = contact;
    return Record(conn, owner, std::move(c), version);
  }
  if (e.has_contact_merged()) {
    // The survivor is an update, the merged-away contacts tombstones.
    const auto& merged = e.contact_merged();
    pb::SyncChange c;
    c.set_type("contact");
    c.set_id(merged.survivor().id());
    *c.mutable_contact() = merged.survivor();
    RETURN_IF_ERROR(Record(conn, owner, std::move(c), version));
    for (const std::string& gone : merged.merged_ids()) {
      if (gone == merged.survivor().id()) continue;
      RETURN_IF_ERROR(Record(conn, owner, Tombstone("contact", gone), version));
    }
    return absl::OkStatus();
  }
  if (e.has_group()) {
    const auto& group = e.group().group();
    if (Is(e, "group.deleted")) return Record(conn, owner, Tombstone("group", group.id()), version);
    pb::SyncChange c;
    c.set_type("group");
    c.set_id(group.id());
    *c.mutable_group() = group;
    return Record(conn, owner, std::move(c), version);
  }
  if (e.has_group_member()) {
    const auto& m = e.group_member();
    const std::string id = absl::StrCat(m.group_id(), "/", m.member_id());
    if (Is(e, "group.member_removed")) return Record(conn, owner, Tombstone("membership", id), version);
    if (!Is(e, "group.member_added")) return absl::OkStatus();
    pb::SyncChange c;
    c.set_type("membership");
    c.set_id(id);
    c.mutable_membership()->set_group_id(m.group_id());
    profiles::v1::GroupMember* member = c.mutable_membership()->mutable_member();
    if (m.has_member()) *member = m.member();
    member->set_member_id(m.member_id());
    member->set_role(m.role());
    return Record(conn, owner, std::move(c), version);
  }
  if (e.has_interaction()) {
    const auto& i = e.interaction();
    if (Is(e, "interaction.deleted")) return Record(conn, owner, Tombstone("interaction", i.id()), version);
    pb::SyncChange c;
    c.set_type("interaction");
    c.set_id(i.id());
    *c.mutable_interaction() = i;
    return Record(conn, owner, std::move(c), version);
  }
  if (e.has_introduction()) {
    const auto& intro = e.introduction();
    if (absl::EndsWith(e.type(), ".deleted")) {
      return Record(conn, owner, Tombstone("introduction", intro.id()), version);
    }
    pb::SyncChange c;
    c.set_type("introduction");
    c.set_id(intro.id());
    *c.mutable_introduction() = intro;
    return Record(conn, owner, std::move(c), version);
  }
  return absl::OkStatus();
}

absl::Status SyncReminder(Connection& conn, const Owner& owner, const pb::Reminder& reminder, bool deleted) {
  if (deleted) return Record(conn, owner, Tombstone("reminder", reminder.id()), "");
  pb::SyncChange c;
  c.set_type("reminder");
  c.set_id(reminder.id());
  *c.mutable_reminder() = reminder;
  return Record(conn, owner, std::move(c), "");
}

absl::Status SyncNotification(Connection& conn, const Owner& owner, const pb::Notification& notification) {
  pb::SyncChange c;
  c.set_type("notification");
  c.set_id(notification.id());
  *c.mutable_notification() = notification;
  return Record(conn, owner, std::move(c), "");
}

// --- reading ---

namespace {

// A cursor: the last seq its holder has, and the time (µs) from which its
// holder has seen every change (the retention is measured from it).
struct Cursor {
  int64_t seq = 0;
  int64_t complete_us = 0;
};

std::string EncodeCursor(const Cursor& c) {
  return absl::WebSafeBase64Escape(absl::StrCat("s1:", c.seq, ":", c.complete_us));
}

absl::StatusOr<Cursor> DecodeCursor(const std::string& text) {
  const absl::Status bad = absl::InvalidArgumentError("cursor: is not a cursor of GET /v1/sync (pass nextCursor back)");
  std::string raw;
  if (text.size() > 200 || !absl::WebSafeBase64Unescape(text, &raw)) return bad;
  std::vector<std::string> parts = absl::StrSplit(raw, ':');
  Cursor c;
  if (parts.size() != 3 || parts[0] != "s1" || !absl::SimpleAtoi(parts[1], &c.seq) ||
      !absl::SimpleAtoi(parts[2], &c.complete_us) || c.seq < 0 || c.complete_us < 0) {
    return bad;
  }
  return c;
}

}  // namespace

SyncLog::SyncLog(db::Database* db, std::chrono::seconds retention, Clock clock)
    : db_(db), retention_(absl::FromChrono(retention)), clock_(std::move(clock)) {}

RetentionRule SyncLog::TombstoneRetention(std::chrono::seconds retention) {
  return RetentionRule{"sync_objects", "org_id, user_id, object_type, object_id", "tombstone_us",
                       std::chrono::duration_cast<std::chrono::microseconds>(retention)};
}

absl::StatusOr<pb::SyncResponse> SyncLog::Read(const Owner& owner, const std::string& cursor, int page_size) {
  if (page_size < 0 || page_size > kSyncMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("pageSize: must be between 1 and ", kSyncMaxPageSize));
  }
  const int size = page_size == 0 ? kSyncDefaultPageSize : page_size;
  const absl::Time now = clock_();
  // A change recorded just before this read may commit just after it (and
  // replicas' clocks differ): the time a reader is complete from is taken
  // this much earlier, so that its cursor expires before any tombstone it
  // has not seen is pruned.
  const absl::Duration margin = std::min(absl::Seconds(5), retention_ / 4);
  const int64_t read_us = ToMicros(now - margin);
  Cursor from{0, read_us};
  if (!cursor.empty()) {
    ASSIGN_OR_RETURN(from, DecodeCursor(cursor));
    if (FromMicros(from.complete_us) < now - retention_) {
      return absl::FailedPreconditionError(
          absl::StrCat(kResyncRequired, ": the cursor is older than the retained history (",
                       absl::FormatDuration(retention_), "); sync again from an empty cursor"));
    }
  }
  using Row = std::pair<int64_t, pb::SyncChange>;
  std::vector<Row> rows;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(rows, db::ListRows<Row>(conn.Prepare("SELECT seq, data FROM sync_objects WHERE org_id = ? AND "
                                                          "user_id = ? AND seq > ? ORDER BY seq LIMIT ?")
                                                 .Bind(1, owner.org)
                                                 .Bind(2, owner.user)
                                                 .Bind(3, from.seq)
                                                 .Bind(4, size + 1),
                                             [](const Statement& row) -> absl::StatusOr<Row> {
                                               Row out{row.ColumnInt(0), pb::SyncChange()};
                                               RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(1), &out.second));
                                               return out;
                                             }));
    return absl::OkStatus();
  }));
  pb::SyncResponse out;
  const bool more = static_cast<int>(rows.size()) > size;
  if (more) rows.resize(size);
  Cursor next{rows.empty() ? from.seq : rows.back().first,
              // Complete only once a page reaches the end; until then the
              // walk stays as old as where it started.
              more ? from.complete_us : read_us};
  for (Row& row : rows) *out.add_changes() = std::move(row.second);
  out.set_next_cursor(EncodeCursor(next));
  out.set_has_more(more);
  return out;
}

}  // namespace rapport::notifications
