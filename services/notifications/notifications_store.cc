#include "services/notifications/notifications_store.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/event_consumer.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/local_time.h"
#include "services/notifications/workflow_engine.h"

namespace rapport::notifications {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using db::Connection;
using db::ParseRow;
using db::RowNotFound;
using db::WriteWithResult;
using db::ListBlobs;

// Numbered migrations; append only. org_id leads every key and every index
// but the timers' due-time index (see the header).
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE users (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  timezone TEXT NOT NULL DEFAULT '',
  seeded INTEGER NOT NULL DEFAULT 0,  -- built-in workflows created
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE TABLE contacts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  data BLOB NOT NULL,                 -- rapport.profiles.v1.Contact (without notes)
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE contact_interactions (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  interaction_id TEXT NOT NULL,
  occurred_us INTEGER NOT NULL,
  logged_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id, interaction_id)
) WITHOUT ROWID;
CREATE INDEX contact_interactions_by_logged ON contact_interactions (org_id, user_id, contact_id, logged_us);
CREATE TABLE ledger (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  balance REAL NOT NULL,
  next_due_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX ledger_by_due ON ledger (org_id, user_id, next_due_us);
CREATE TABLE notifications (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  notification_id TEXT NOT NULL,
  seq INTEGER NOT NULL,               -- stream position per user; bumped when a snooze ends
  state INTEGER NOT NULL,
  dedupe_key TEXT NOT NULL,
  data BLOB NOT NULL,                 -- rapport.notifications.v1.Notification
  PRIMARY KEY (org_id, user_id, notification_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX notifications_by_seq ON notifications (org_id, user_id, seq);
CREATE UNIQUE INDEX notifications_by_dedupe ON notifications (org_id, dedupe_key);
CREATE TABLE reminders (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  reminder_id TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, reminder_id)
) WITHOUT ROWID;
CREATE TABLE workflows (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, workflow_id)
) WITHOUT ROWID;
CREATE TABLE runs (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  trigger_key TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, run_id)
) WITHOUT ROWID;
CREATE INDEX runs_by_workflow ON runs (org_id, user_id, workflow_id, run_id);
CREATE UNIQUE INDEX runs_by_trigger ON runs (org_id, workflow_id, trigger_key);
CREATE TABLE webhooks (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  secret TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, webhook_id)
) WITHOUT ROWID;
CREATE TABLE deliveries (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  body TEXT NOT NULL,
  data BLOB NOT NULL,                 -- rapport.notifications.v1.Delivery
  PRIMARY KEY (org_id, user_id, delivery_id)
) WITHOUT ROWID;
CREATE INDEX deliveries_by_webhook ON deliveries (org_id, user_id, webhook_id, delivery_id);
CREATE TABLE timers (
  org_id TEXT NOT NULL,
  timer_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  ref TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  due_us INTEGER NOT NULL,
  dedupe_key TEXT NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_us INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, timer_id)
) WITHOUT ROWID;
CREATE INDEX timers_by_due ON timers (due_us);
CREATE UNIQUE INDEX timers_by_dedupe ON timers (org_id, dedupe_key);
CREATE INDEX timers_by_ref ON timers (org_id, ref);
CREATE TABLE fired_timers (
  org_id TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  fired_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, dedupe_key)
) WITHOUT ROWID;
)sql",
      kIdempotencyMigration,
      events::kProcessedEventsMigration,
      kIdempotencyByTimeMigration,
      events::kProcessedEventsByTimeMigration,
      // When a delivery ended (NULL while pending), for its retention.
      R"sql(
ALTER TABLE deliveries ADD COLUMN finished_us INTEGER;
CREATE INDEX deliveries_by_finish ON deliveries (finished_us);
)sql",
  };
  return kMigrations;
}

template <typename T>
absl::StatusOr<T> ReadBlob(Connection& conn, const std::string& sql, const Owner& owner, const std::string& id,
                           const char* what) {
  auto st = conn.Prepare(sql);
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return RowNotFound(what);
  T out;
  RETURN_IF_ERROR(ParseRow(st.ColumnBlob(0), &out));
  return out;
}

absl::StatusOr<pb::Workflow> ReadWorkflow(Connection& conn, const Owner& owner, const std::string& id) {
  return ReadBlob<pb::Workflow>(
      conn, "SELECT data FROM workflows WHERE org_id = ? AND user_id = ? AND workflow_id = ?", owner, id, "workflow");
}

absl::Status WriteWorkflow(Connection& conn, const Owner& owner, const pb::Workflow& w) {
  auto st = conn.Prepare("INSERT OR REPLACE INTO workflows (org_id, user_id, workflow_id, data) VALUES (?, ?, ?, ?)");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, w.id()).BindBlob(4, w.SerializeAsString());
  return st.Run();
}

absl::StatusOr<std::vector<pb::Workflow>> UserWorkflows(Connection& conn, const Owner& owner) {
  auto st = conn.Prepare("SELECT data FROM workflows WHERE org_id = ? AND user_id = ? ORDER BY workflow_id");
  st.Bind(1, owner.org).Bind(2, owner.user);
  std::vector<pb::Workflow> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    pb::Workflow w;
    RETURN_IF_ERROR(ParseRow(st.ColumnBlob(0), &w));
    out.push_back(std::move(w));
  }
  return out;
}

absl::StatusOr<std::optional<ppb::Contact>> ReadContact(Connection& conn, const Owner& owner, const std::string& id) {
  if (id.empty()) return std::nullopt;
  auto st = conn.Prepare(
      "SELECT data FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ? AND deleted = 0");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::nullopt;
  ppb::Contact c;
  RETURN_IF_ERROR(ParseRow(st.ColumnBlob(0), &c));
  return c;
}

absl::StatusOr<absl::TimeZone> UserZone(Connection& conn, const Owner& owner) {
  auto st = conn.Prepare("SELECT timezone FROM users WHERE org_id = ? AND user_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user);
  ASSIGN_OR_RETURN(bool row, st.Step());
  return ZoneOrUtc(row ? st.ColumnText(0) : "");
}

// Inserts a timer unless one with its dedupe key is pending or has fired.
absl::Status InsertTimer(Connection& conn, const TimerRow& t) {
  auto fired = conn.Prepare("SELECT 1 FROM fired_timers WHERE org_id = ? AND dedupe_key = ?");
  fired.Bind(1, t.org).Bind(2, t.dedupe_key);
  ASSIGN_OR_RETURN(bool done, fired.Step());
  if (done) return absl::OkStatus();
  auto st = conn.Prepare(
      "INSERT OR IGNORE INTO timers (org_id, timer_id, user_id, kind, ref, contact_id, due_us, dedupe_key) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  st.Bind(1, t.org).Bind(2, t.id.empty() ? NewId() : t.id).Bind(3, t.user).Bind(4, static_cast<int>(t.kind))
      .Bind(5, t.ref).Bind(6, t.contact).Bind(7, t.due_us).Bind(8, t.dedupe_key);
  return st.Run();
}

TimerRow NewTimer(const Owner& owner, TimerKind kind, const std::string& ref, const std::string& contact,
                  int64_t due_us, const std::string& dedupe_key) {
  return TimerRow{owner.org, NewId(), owner.user, kind, ref, contact, due_us, dedupe_key};
}

absl::Status CancelTimers(Connection& conn, const std::string& org, const std::string& ref, TimerKind kind,
                          const std::string& contact = "") {
  auto st = conn.Prepare(
      "DELETE FROM timers WHERE org_id = ? AND ref = ? AND kind = ? AND (? = '' OR contact_id = ?)");
  st.Bind(1, org).Bind(2, ref).Bind(3, static_cast<int>(kind)).Bind(4, contact).Bind(5, contact);
  return st.Run();
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

// Queues a delivery of the event to each of the user's webhooks whose filter takes its type.
absl::Status EnqueueWebhookEvent(Connection& conn, const Owner& owner, const std::string& type,
                                 const std::string& event_id, const std::function<std::string()>& data_json,
                                 int64_t now_us) {
  auto hooks = conn.Prepare("SELECT webhook_id, data FROM webhooks WHERE org_id = ? AND user_id = ?");
  hooks.Bind(1, owner.org).Bind(2, owner.user);
  std::vector<std::string> targets;
  while (true) {
    ASSIGN_OR_RETURN(bool row, hooks.Step());
    if (!row) break;
    pb::Webhook w;
    RETURN_IF_ERROR(ParseRow(hooks.ColumnBlob(1), &w));
    bool wanted = w.event_types_size() == 0;
    for (const std::string& t : w.event_types()) wanted |= (t == type);
    if (wanted) targets.push_back(w.id());
  }
  if (targets.empty()) return absl::OkStatus();
  std::string body;
  body += "{\"id\":";
  log::AppendJsonString(&body, event_id);
  body += ",\"type\":";
  log::AppendJsonString(&body, type);
  body += ",\"time\":";
  log::AppendJsonString(&body, absl::FormatTime(absl::RFC3339_full, FromMicros(now_us), absl::UTCTimeZone()));
  body += ",\"orgId\":";
  log::AppendJsonString(&body, owner.org);
  body += ",\"userId\":";
  log::AppendJsonString(&body, owner.user);
  body += ",\"data\":";
  // Built only when someone listens: JSON printing is costly at timer rates.
  std::string data = data_json();
  body += data.empty() ? "{}" : data;
  body += "}";
  for (const std::string& webhook_id : targets) {
    pb::Delivery d;
    d.set_id(NewId());
    d.set_webhook_id(webhook_id);
    d.set_event_id(event_id);
    d.set_event_type(type);
    d.set_state(pb::DELIVERY_PENDING);
    *d.mutable_next_attempt_time() = ToTimestamp(now_us);
    *d.mutable_create_time() = ToTimestamp(now_us);
    auto st = conn.Prepare(
        "INSERT INTO deliveries (org_id, user_id, delivery_id, webhook_id, body, data) VALUES (?, ?, ?, ?, ?, ?)");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, d.id()).Bind(4, webhook_id).Bind(5, body)
        .BindBlob(6, d.SerializeAsString());
    RETURN_IF_ERROR(st.Run());
    RETURN_IF_ERROR(InsertTimer(conn, NewTimer(owner, TimerKind::kDelivery, d.id(), "", now_us,
                                               absl::StrCat("delivery:", d.id()))));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NextSeq(Connection& conn, const Owner& owner) {
  auto st = conn.Prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM notifications WHERE org_id = ? AND user_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user);
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 1;
}

// Puts a notification in the inbox once per dedupe key; false when the key
// was used before (its effect already happened).
absl::StatusOr<bool> AddNotification(Connection& conn, const Owner& owner, pb::Notification n,
                                     const std::string& dedupe_key, int64_t now_us) {
  auto seen = conn.Prepare("SELECT 1 FROM notifications WHERE org_id = ? AND dedupe_key = ?");
  seen.Bind(1, owner.org).Bind(2, dedupe_key);
  ASSIGN_OR_RETURN(bool dup, seen.Step());
  if (dup) return false;
  n.set_id(NewId());
  n.set_state(pb::UNREAD);
  *n.mutable_create_time() = ToTimestamp(now_us);
  *n.mutable_update_time() = ToTimestamp(now_us);
  ASSIGN_OR_RETURN(int64_t seq, NextSeq(conn, owner));
  auto st = conn.Prepare(
      "INSERT INTO notifications (org_id, user_id, notification_id, seq, state, dedupe_key, data) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, n.id()).Bind(4, seq).Bind(5, static_cast<int>(n.state()))
      .Bind(6, dedupe_key).BindBlob(7, n.SerializeAsString());
  RETURN_IF_ERROR(st.Run());
  RETURN_IF_ERROR(EnqueueWebhookEvent(conn, owner, "notification.created", n.id(), [&n] { return ToJson(n); }, now_us));
  return true;
}

absl::Status SaveRun(Connection& conn, const Owner& owner, const pb::WorkflowRun& run, const std::string& trigger_key,
                     bool insert) {
  auto st = conn.Prepare(insert ? "INSERT INTO runs (org_id, user_id, run_id, workflow_id, contact_id, state, "
                                  "trigger_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                                : "UPDATE runs SET workflow_id = ?4, contact_id = ?5, state = ?6, data = ?8 "
                                  "WHERE org_id = ?1 AND user_id = ?2 AND run_id = ?3 AND ?7 = ?7");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, run.id()).Bind(4, run.workflow_id()).Bind(5, run.contact_id())
      .Bind(6, static_cast<int>(run.state())).Bind(7, trigger_key).BindBlob(8, run.SerializeAsString());
  return st.Run();
}

// The digest's variables: contacts whose next due time has passed.
absl::Status AddOverdueVars(Connection& conn, const Owner& owner, int64_t now_us, TemplateVars& vars) {
  auto st = conn.Prepare(
      "SELECT l.contact_id, c.data FROM ledger l JOIN contacts c ON c.org_id = l.org_id AND c.user_id = l.user_id "
      "AND c.contact_id = l.contact_id AND c.deleted = 0 "
      "WHERE l.org_id = ? AND l.user_id = ? AND l.next_due_us > 0 AND l.next_due_us <= ? ORDER BY l.next_due_us");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, now_us);
  int count = 0;
  std::vector<std::string> names;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ++count;
    if (names.size() < 10) {
      ppb::Contact c;
      RETURN_IF_ERROR(ParseRow(st.ColumnBlob(1), &c));
      names.push_back(c.display_name());
    }
  }
  vars["overdue.count"] = absl::StrCat(count);
  vars["overdue.names"] = absl::StrJoin(names, ", ") + (count > 10 ? absl::StrCat(" and ", count - 10, " more") : "");
  return absl::OkStatus();
}

// Runs the run's next steps and commits their effects, once per (run, step).
absl::Status StepRun(Connection& conn, const Owner& owner, const pb::Workflow& workflow, pb::WorkflowRun& run,
                     absl::Time now) {
  int64_t now_us = ToMicros(now);
  RunContext ctx;
  ASSIGN_OR_RETURN(ctx.zone, UserZone(conn, owner));
  ASSIGN_OR_RETURN(std::optional<ppb::Contact> contact, ReadContact(conn, owner, run.contact_id()));
  if (contact.has_value()) ctx.vars = ContactVars(*contact);
  if (!run.contact_id().empty()) {
    auto bal = conn.Prepare("SELECT balance FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?");
    bal.Bind(1, owner.org).Bind(2, owner.user).Bind(3, run.contact_id());
    ASSIGN_OR_RETURN(bool row, bal.Step());
    if (row) ctx.vars["ledger.balance"] = absl::StrFormat("%.1f", bal.ColumnDouble(0));
  }
  if (workflow.trigger().kind() == pb::SCHEDULE) RETURN_IF_ERROR(AddOverdueVars(conn, owner, now_us, ctx.vars));
  std::string trigger_interaction = run.trigger().rfind("interaction ", 0) == 0 ? run.trigger().substr(12) : "";
  ctx.interacted_since = [&conn, &owner, &run, trigger_interaction](int64_t since_us) -> absl::StatusOr<bool> {
    auto st = conn.Prepare(
        "SELECT 1 FROM contact_interactions WHERE org_id = ? AND user_id = ? AND contact_id = ? AND logged_us >= ? "
        "AND interaction_id != ? LIMIT 1");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, run.contact_id()).Bind(4, since_us).Bind(5, trigger_interaction);
    return st.Step();
  };
  if (!workflow.enabled()) {
    run.set_state(pb::STOPPED);
    run.set_reason("the workflow was disabled");
    *run.mutable_update_time() = ToTimestamp(now_us);
    return SaveRun(conn, owner, run, "", false);
  }
  if (!run.contact_id().empty() && !contact.has_value()) {
    run.set_state(pb::STOPPED);
    run.set_reason("the contact was deleted");
    *run.mutable_update_time() = ToTimestamp(now_us);
    return SaveRun(conn, owner, run, "", false);
  }
  // A digest with nothing overdue says nothing.
  if (workflow.trigger().kind() == pb::SCHEDULE && ctx.vars["overdue.count"] == "0" &&
      workflow.builtin() == "overdue_digest") {
    run.set_state(pb::COMPLETED);
    run.set_reason("no contact is overdue");
    *run.mutable_update_time() = ToTimestamp(now_us);
    return SaveRun(conn, owner, run, "", false);
  }
  ASSIGN_OR_RETURN(std::vector<Effect> effects, Advance(workflow, run, ctx, now));
  for (const Effect& e : effects) {
    std::string key = absl::StrCat("run:", run.id(), ":", e.step);
    if (e.kind == Effect::Kind::kNotify) {
      pb::Notification n;
      n.set_kind(workflow.trigger().kind() == pb::SCHEDULE ? "digest" : "workflow");
      n.set_title(e.title);
      n.set_body(e.body);
      n.set_contact_id(run.contact_id());
      n.set_workflow_id(workflow.id());
      n.set_run_id(run.id());
      RETURN_IF_ERROR(AddNotification(conn, owner, std::move(n), key, now_us).status());
    } else {
      auto seen = conn.Prepare("SELECT 1 FROM fired_timers WHERE org_id = ? AND dedupe_key = ?");
      seen.Bind(1, owner.org).Bind(2, key);
      ASSIGN_OR_RETURN(bool dup, seen.Step());
      if (dup) continue;
      auto mark = conn.Prepare("INSERT INTO fired_timers (org_id, dedupe_key, fired_us) VALUES (?, ?, ?)");
      mark.Bind(1, owner.org).Bind(2, key).Bind(3, now_us);
      RETURN_IF_ERROR(mark.Run());
      auto data = [&] {
        return "{\"workflow\":" + ToJson(workflow) + ",\"run\":" + ToJson(run) +
               (contact.has_value() ? ",\"contact\":" + ToJson(*contact) : std::string()) + "}";
      };
      RETURN_IF_ERROR(EnqueueWebhookEvent(conn, owner, e.event_type, key, data, now_us));
    }
  }
  RETURN_IF_ERROR(SaveRun(conn, owner, run, "", false));
  if (run.state() == pb::WAITING) {
    RETURN_IF_ERROR(InsertTimer(conn, NewTimer(owner, TimerKind::kRunStep, run.id(), run.contact_id(),
                                               TimestampToMicros(run.wake_time()),
                                               absl::StrCat("run:", run.id(), ":wake:", run.next_step()))));
  }
  return absl::OkStatus();
}

// Starts a run of workflow unless trigger_key already started one. The run
// began at `started` (the triggering event's time; stop_if and the first
// wait count from it), is stepped at now.
absl::StatusOr<std::optional<pb::WorkflowRun>> StartRun(Connection& conn, const Owner& owner,
                                                        const pb::Workflow& workflow, const std::string& contact_id,
                                                        const std::string& trigger_key, const std::string& trigger,
                                                        absl::Time now, std::optional<absl::Time> started = std::nullopt) {
  auto seen = conn.Prepare("SELECT 1 FROM runs WHERE org_id = ? AND workflow_id = ? AND trigger_key = ?");
  seen.Bind(1, owner.org).Bind(2, workflow.id()).Bind(3, trigger_key);
  ASSIGN_OR_RETURN(bool dup, seen.Step());
  if (dup) return std::nullopt;
  pb::WorkflowRun run;
  run.set_id(NewId());
  run.set_workflow_id(workflow.id());
  run.set_contact_id(contact_id);
  run.set_state(pb::RUNNING);
  run.set_trigger(trigger);
  *run.mutable_start_time() = ToTimestamp(ToMicros(started.has_value() ? std::min(*started, now) : now));
  *run.mutable_update_time() = ToTimestamp(ToMicros(now));
  RETURN_IF_ERROR(SaveRun(conn, owner, run, trigger_key, true));
  RETURN_IF_ERROR(StepRun(conn, owner, workflow, run, now));
  return run;
}

// Trigger timers of one workflow for one contact (date and overdue triggers).
absl::Status ScheduleContactTrigger(Connection& conn, const Owner& owner, const pb::Workflow& w,
                                    const ppb::Contact& contact, std::optional<int64_t> next_due_us, absl::Time now) {
  const pb::Trigger& t = w.trigger();
  if (t.kind() == pb::DATE_FIELD) {
    RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kDateTrigger, contact.id()));
    if (!w.enabled() || !MatchesFilter(w.filter(), &contact)) return absl::OkStatus();
    if (!contact.has_birthday() || contact.birthday().month() < 1 || contact.birthday().day() < 1) {
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(absl::TimeZone zone, UserZone(conn, owner));
    ASSIGN_OR_RETURN(int minute, ParseLocalTime("localTime", t.local_time()));
    absl::Time at = NextAnnual(now, contact.birthday().month(), contact.birthday().day(), t.offset_days(), minute, zone);
    if (at == absl::InfiniteFuture()) return absl::OkStatus();
    int64_t at_us = ToMicros(at);
    return InsertTimer(conn, NewTimer(owner, TimerKind::kDateTrigger, w.id(), contact.id(), at_us,
                                      absl::StrCat("date:", w.id(), ":", contact.id(), ":", at_us)));
  }
  if (t.kind() == pb::CONTACT_OVERDUE && next_due_us.has_value()) {
    RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kOverdueTrigger, contact.id()));
    if (!w.enabled() || !MatchesFilter(w.filter(), &contact) || *next_due_us <= ToMicros(now)) return absl::OkStatus();
    return InsertTimer(conn, NewTimer(owner, TimerKind::kOverdueTrigger, w.id(), contact.id(), *next_due_us,
                                      absl::StrCat("overdue:", w.id(), ":", contact.id(), ":", *next_due_us)));
  }
  return absl::OkStatus();
}

// (Re)schedules every trigger timer of a workflow after it changed.
absl::Status ScheduleWorkflow(Connection& conn, const Owner& owner, const pb::Workflow& w, absl::Time now) {
  for (TimerKind k : {TimerKind::kDateTrigger, TimerKind::kScheduleTrigger, TimerKind::kOverdueTrigger}) {
    RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), k));
  }
  if (!w.enabled()) return absl::OkStatus();
  const pb::TriggerKind kind = w.trigger().kind();
  if (kind == pb::SCHEDULE) {
    ASSIGN_OR_RETURN(absl::TimeZone zone, UserZone(conn, owner));
    ASSIGN_OR_RETURN(int minute, ParseLocalTime("localTime", w.trigger().local_time()));
    int64_t at_us = ToMicros(NextDaily(now, minute, zone));
    return InsertTimer(conn, NewTimer(owner, TimerKind::kScheduleTrigger, w.id(), "", at_us,
                                      absl::StrCat("schedule:", w.id(), ":", at_us)));
  }
  if (kind != pb::DATE_FIELD && kind != pb::CONTACT_OVERDUE) return absl::OkStatus();
  auto st = conn.Prepare(
      "SELECT c.data, l.next_due_us FROM contacts c LEFT JOIN ledger l ON l.org_id = c.org_id AND "
      "l.user_id = c.user_id AND l.contact_id = c.contact_id WHERE c.org_id = ? AND c.user_id = ? AND c.deleted = 0");
  st.Bind(1, owner.org).Bind(2, owner.user);
  std::vector<std::pair<ppb::Contact, std::optional<int64_t>>> contacts;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ppb::Contact c;
    RETURN_IF_ERROR(ParseRow(st.ColumnBlob(0), &c));
    std::optional<int64_t> due;
    if (!st.ColumnIsNull(1)) due = st.ColumnInt(1);
    contacts.emplace_back(std::move(c), due);
  }
  for (const auto& [c, due] : contacts) RETURN_IF_ERROR(ScheduleContactTrigger(conn, owner, w, c, due, now));
  return absl::OkStatus();
}

// Creates the user's row and built-in workflows the first time the user is seen.
absl::Status EnsureUser(Connection& conn, const Owner& owner, absl::Time now) {
  auto st = conn.Prepare("SELECT seeded FROM users WHERE org_id = ? AND user_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (row && st.ColumnInt(0) != 0) return absl::OkStatus();
  auto up = conn.Prepare(
      "INSERT INTO users (org_id, user_id, seeded) VALUES (?, ?, 1) "
      "ON CONFLICT (org_id, user_id) DO UPDATE SET seeded = 1");
  up.Bind(1, owner.org).Bind(2, owner.user);
  RETURN_IF_ERROR(up.Run());
  int64_t now_us = ToMicros(now);
  for (pb::Workflow w : BuiltinWorkflows()) {
    w.set_id(NewId());
    *w.mutable_create_time() = ToTimestamp(now_us);
    *w.mutable_update_time() = ToTimestamp(now_us);
    RETURN_IF_ERROR(WriteWorkflow(conn, owner, w));
    RETURN_IF_ERROR(ScheduleWorkflow(conn, owner, w, now));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<int64_t, pb::Notification>> ReadNotification(Connection& conn, const Owner& owner,
                                                                      const std::string& id) {
  auto st = conn.Prepare(
      "SELECT seq, data FROM notifications WHERE org_id = ? AND user_id = ? AND notification_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return RowNotFound("notification");
  pb::Notification n;
  RETURN_IF_ERROR(ParseRow(st.ColumnBlob(1), &n));
  return std::make_pair(st.ColumnInt(0), std::move(n));
}

absl::Status WriteNotification(Connection& conn, const Owner& owner, const pb::Notification& n, int64_t seq) {
  auto st = conn.Prepare(
      "UPDATE notifications SET seq = ?, state = ?, data = ? WHERE org_id = ? AND user_id = ? AND notification_id = ?");
  st.Bind(1, seq).Bind(2, static_cast<int>(n.state())).BindBlob(3, n.SerializeAsString()).Bind(4, owner.org)
      .Bind(5, owner.user).Bind(6, n.id());
  return st.Run();
}

absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> SeqRows(db::Statement& st) {
  std::vector<std::pair<int64_t, pb::Notification>> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    pb::Notification n;
    RETURN_IF_ERROR(ParseRow(st.ColumnBlob(1), &n));
    out.emplace_back(st.ColumnInt(0), std::move(n));
  }
  return out;
}

// --- Events ---

// When the event happened (its producer's clock), never after now.
absl::Time EventTime(const events::v1::Event& e, absl::Time now) {
  if (!e.has_time()) return now;
  return std::min(now, FromMicros(TimestampToMicros(e.time())));
}

absl::Status ApplyUser(Connection& conn, const Owner& owner, const events::v1::Event& e, absl::Time now) {
  std::string zone = e.user().has_profile() && !e.user().profile().timezone().empty() ? e.user().profile().timezone()
                                                                                      : e.user().user().timezone();
  auto st = conn.Prepare(
      "INSERT INTO users (org_id, user_id, timezone) VALUES (?, ?, ?) "
      "ON CONFLICT (org_id, user_id) DO UPDATE SET timezone = excluded.timezone");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, zone);
  RETURN_IF_ERROR(st.Run());
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
    auto st = conn.Prepare(
        "INSERT INTO contacts (org_id, user_id, contact_id, deleted, data) VALUES (?, ?, ?, 1, ?) "
        "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET deleted = 1");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, c.id()).BindBlob(4, c.SerializeAsString());
    RETURN_IF_ERROR(st.Run());
    for (const pb::Workflow& w : workflows) {
      RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kDateTrigger, c.id()));
      RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), TimerKind::kOverdueTrigger, c.id()));
    }
    return absl::OkStatus();
  }
  // An update that arrives after the delete must not resurrect the contact.
  auto st = conn.Prepare(
      "INSERT INTO contacts (org_id, user_id, contact_id, deleted, data) VALUES (?, ?, ?, 0, ?) "
      "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET data = excluded.data WHERE deleted = 0");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, c.id()).BindBlob(4, c.SerializeAsString());
  RETURN_IF_ERROR(st.Run());
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
  if (e.type() != "interaction.created" && e.type() != "interaction.updated") {
    if (e.type() == "interaction.deleted") {
      auto del = conn.Prepare("DELETE FROM contact_interactions WHERE org_id = ? AND user_id = ? AND interaction_id = ?");
      del.Bind(1, owner.org).Bind(2, owner.user).Bind(3, i.id());
      return del.Run();
    }
    return absl::OkStatus();
  }
  int64_t logged_us = e.has_time() ? TimestampToMicros(e.time()) : ToMicros(now);
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  for (const std::string& contact_id : i.contact_ids()) {
    auto count = conn.Prepare(
        "SELECT COUNT(*) FROM contact_interactions WHERE org_id = ? AND user_id = ? AND contact_id = ? "
        "AND interaction_id != ?");
    count.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact_id).Bind(4, i.id());
    ASSIGN_OR_RETURN(bool row, count.Step());
    int64_t earlier = row ? count.ColumnInt(0) : 0;
    auto st = conn.Prepare(
        "INSERT OR IGNORE INTO contact_interactions (org_id, user_id, contact_id, interaction_id, occurred_us, "
        "logged_us) VALUES (?, ?, ?, ?, ?, ?)");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact_id).Bind(4, i.id())
        .Bind(5, TimestampToMicros(i.occurred_at())).Bind(6, logged_us);
    RETURN_IF_ERROR(st.Run());
    if (e.type() != "interaction.created") continue;
    ASSIGN_OR_RETURN(std::optional<ppb::Contact> contact, ReadContact(conn, owner, contact_id));
    for (const pb::Workflow& w : workflows) {
      const pb::Trigger& t = w.trigger();
      if (!w.enabled() || t.kind() != pb::INTERACTION_CREATED) continue;
      if (t.interaction_kinds_size() > 0 &&
          std::find(t.interaction_kinds().begin(), t.interaction_kinds().end(), i.kind()) == t.interaction_kinds().end()) {
        continue;
      }
      if (t.first_interaction_only() && earlier > 0) continue;
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
  auto old = conn.Prepare("SELECT balance FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?");
  old.Bind(1, owner.org).Bind(2, owner.user).Bind(3, l.contact_id());
  ASSIGN_OR_RETURN(bool had, old.Step());
  double before = had ? old.ColumnDouble(0) : 0.0;
  int64_t next_due = l.has_next_due_time() ? TimestampToMicros(l.next_due_time()) : 0;
  auto st = conn.Prepare(
      "INSERT OR REPLACE INTO ledger (org_id, user_id, contact_id, balance, next_due_us) VALUES (?, ?, ?, ?, ?)");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, l.contact_id()).Bind(4, l.balance()).Bind(5, next_due);
  RETURN_IF_ERROR(st.Run());
  ASSIGN_OR_RETURN(std::optional<ppb::Contact> contact, ReadContact(conn, owner, l.contact_id()));
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> workflows, UserWorkflows(conn, owner));
  for (const pb::Workflow& w : workflows) {
    if (w.trigger().kind() == pb::CONTACT_OVERDUE && contact.has_value()) {
      RETURN_IF_ERROR(ScheduleContactTrigger(conn, owner, w, *contact, next_due, now));
    }
    if (w.enabled() && w.trigger().kind() == pb::BALANCE_TIPPED &&
        MatchesFilter(w.filter(), contact.has_value() ? &*contact : nullptr)) {
      double threshold = w.trigger().balance_threshold() > 0 ? w.trigger().balance_threshold() : 3.0;
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

}  // namespace

RetentionRule SqliteNotificationsStore::DeliveryRetention(std::chrono::hours keep) {
  return RetentionRule{"deliveries", "org_id, user_id, delivery_id", "finished_us", keep};
}

absl::StatusOr<std::unique_ptr<SqliteNotificationsStore>> SqliteNotificationsStore::Open(const std::string& path,
                                                                                         Clock clock) {
  db::Options options;
  options.path = path;
  options.migrations = Migrations();
  ASSIGN_OR_RETURN(auto db, db::Open(options));
  return std::unique_ptr<SqliteNotificationsStore>(new SqliteNotificationsStore(std::move(db), std::move(clock)));
}

absl::Status SqliteNotificationsStore::ApplyEvent(Connection& conn, const events::v1::Event& e) {
  if (e.org_id().empty() || e.user_id().empty()) return absl::OkStatus();
  Owner owner{e.org_id(), e.user_id()};
  absl::Time now = clock_();
  if (e.has_user()) return ApplyUser(conn, owner, e, now);
  RETURN_IF_ERROR(EnsureUser(conn, owner, now));
  if (e.has_contact()) return ApplyContact(conn, owner, e, now);
  if (e.has_interaction()) return ApplyInteraction(conn, owner, e, now);
  if (e.has_ledger()) return ApplyLedger(conn, owner, e, now);
  return absl::OkStatus();
}

// --- Inbox ---

absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> SqliteNotificationsStore::ListNotifications(
    const Owner& owner, pb::ListNotificationsRequest::StateFilter state, int64_t before_seq, int limit) {
  std::vector<std::pair<int64_t, pb::Notification>> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    int lo = pb::UNREAD, hi = pb::READ;
    if (state == pb::ListNotificationsRequest::UNREAD) hi = pb::UNREAD;
    if (state == pb::ListNotificationsRequest::READ) lo = pb::READ;
    auto st = conn.Prepare(
        "SELECT seq, data FROM notifications WHERE org_id = ? AND user_id = ? AND seq < ? AND state BETWEEN ? AND ? "
        "ORDER BY seq DESC LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, before_seq > 0 ? before_seq : INT64_MAX).Bind(4, lo).Bind(5, hi)
        .Bind(6, limit);
    ASSIGN_OR_RETURN(out, SeqRows(st));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, pb::Notification>>> SqliteNotificationsStore::StreamSince(
    const Owner& owner, int64_t after_seq, int limit) {
  std::vector<std::pair<int64_t, pb::Notification>> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT seq, data FROM notifications WHERE org_id = ? AND user_id = ? AND seq > ? AND state IN (?, ?) "
        "ORDER BY seq LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, after_seq).Bind(4, static_cast<int>(pb::UNREAD))
        .Bind(5, static_cast<int>(pb::READ)).Bind(6, limit);
    ASSIGN_OR_RETURN(out, SeqRows(st));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> SqliteNotificationsStore::LatestSeq(const Owner& owner) {
  int64_t seq = 0;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(seq, NextSeq(conn, owner));
    return absl::OkStatus();
  }));
  return seq - 1;
}

void SqliteNotificationsStore::ChangeNotification(const Owner& owner, const std::string& id, InboxAction action,
                                                  int64_t until_us, Done<pb::Notification> done) {
  Clock clock = clock_;
  WriteWithResult<pb::Notification>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::Notification> {
        ASSIGN_OR_RETURN(auto row, ReadNotification(conn, owner, id));
        pb::Notification& n = row.second;
        int64_t now_us = ToMicros(clock());
        RETURN_IF_ERROR(CancelTimers(conn, owner.org, id, TimerKind::kSnoozeEnd));
        n.clear_snooze_until();
        switch (action) {
          case InboxAction::kRead:
            n.set_state(pb::READ);
            break;
          case InboxAction::kDismiss:
            n.set_state(pb::DISMISSED);
            break;
          case InboxAction::kSnooze:
            n.set_state(pb::SNOOZED);
            *n.mutable_snooze_until() = ToTimestamp(until_us);
            RETURN_IF_ERROR(InsertTimer(conn, NewTimer(owner, TimerKind::kSnoozeEnd, id, "", until_us,
                                                       absl::StrCat("snooze:", id, ":", until_us))));
            break;
        }
        *n.mutable_update_time() = ToTimestamp(now_us);
        RETURN_IF_ERROR(WriteNotification(conn, owner, n, row.first));
        return n;
      },
      std::move(done));
}

// --- Reminders ---

void SqliteNotificationsStore::CreateReminder(const Owner& owner, const pb::Reminder& reminder,
                                              const IdempotencyScope& idem, const google::protobuf::Message& request,
                                              bool contact_verified, Done<pb::Reminder> done) {
  auto req = CopyMessage(request);
  WriteWithResult<pb::Reminder>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::Reminder> {
        return IdempotentCreate<pb::Reminder>(conn, idem, *req, [&]() -> absl::StatusOr<pb::Reminder> {
          if (!reminder.contact_id().empty() && !contact_verified) {
            ASSIGN_OR_RETURN(std::optional<ppb::Contact> c, ReadContact(conn, owner, reminder.contact_id()));
            if (!c.has_value()) return absl::InvalidArgumentError(kNoSuchReminderContact);
          }
          auto st = conn.Prepare("INSERT INTO reminders (org_id, user_id, reminder_id, data) VALUES (?, ?, ?, ?)");
          st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, reminder.id()).BindBlob(4, reminder.SerializeAsString());
          RETURN_IF_ERROR(st.Run());
          RETURN_IF_ERROR(InsertTimer(conn, NewTimer(owner, TimerKind::kReminder, reminder.id(), reminder.contact_id(),
                                                     TimestampToMicros(reminder.due_time()),
                                                     absl::StrCat("reminder:", reminder.id()))));
          return reminder;
        });
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Reminder>> SqliteNotificationsStore::ListReminders(const Owner& owner,
                                                                                 const std::string& after_id,
                                                                                 int limit) {
  std::vector<pb::Reminder> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT data FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id > ? ORDER BY reminder_id LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, after_id).Bind(4, limit);
    ASSIGN_OR_RETURN(out, ListBlobs<pb::Reminder>(st));
    return absl::OkStatus();
  }));
  return out;
}

void SqliteNotificationsStore::DeleteReminder(const Owner& owner, const std::string& id, DoneStatus done) {
  db_->WriteAsync(
      [=](Connection& conn) -> absl::Status {
        auto st = conn.Prepare("DELETE FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id = ?");
        st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
        RETURN_IF_ERROR(st.Run());
        if (conn.Changes() == 0) return RowNotFound("reminder");
        return CancelTimers(conn, owner.org, id, TimerKind::kReminder);
      },
      std::move(done));
}

// --- Workflows ---

void SqliteNotificationsStore::CreateWorkflow(const Owner& owner, const pb::Workflow& workflow,
                                              const IdempotencyScope& idem, const google::protobuf::Message& request,
                                              Done<pb::Workflow> done) {
  auto req = CopyMessage(request);
  Clock clock = clock_;
  WriteWithResult<pb::Workflow>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::Workflow> {
        absl::Time now = clock();
        RETURN_IF_ERROR(EnsureUser(conn, owner, now));
        return IdempotentCreate<pb::Workflow>(conn, idem, *req, [&]() -> absl::StatusOr<pb::Workflow> {
          RETURN_IF_ERROR(WriteWorkflow(conn, owner, workflow));
          RETURN_IF_ERROR(ScheduleWorkflow(conn, owner, workflow, now));
          return workflow;
        });
      },
      std::move(done));
}

absl::StatusOr<pb::Workflow> SqliteNotificationsStore::GetWorkflow(const Owner& owner, const std::string& id) {
  pb::Workflow out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadWorkflow(conn, owner, id));
    return absl::OkStatus();
  }));
  return out;
}

void SqliteNotificationsStore::UpdateWorkflow(const Owner& owner, const std::string& id, Mutation<pb::Workflow> mutate,
                                              Done<pb::Workflow> done) {
  Clock clock = clock_;
  WriteWithResult<pb::Workflow>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::Workflow> {
        ASSIGN_OR_RETURN(pb::Workflow w, ReadWorkflow(conn, owner, id));
        RETURN_IF_ERROR(mutate(w));
        RETURN_IF_ERROR(WriteWorkflow(conn, owner, w));
        RETURN_IF_ERROR(ScheduleWorkflow(conn, owner, w, clock()));
        return w;
      },
      std::move(done));
}

void SqliteNotificationsStore::DeleteWorkflow(const Owner& owner, const std::string& id, DoneStatus done) {
  Clock clock = clock_;
  db_->WriteAsync(
      [=](Connection& conn) -> absl::Status {
        auto st = conn.Prepare("DELETE FROM workflows WHERE org_id = ? AND user_id = ? AND workflow_id = ?");
        st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
        RETURN_IF_ERROR(st.Run());
        if (conn.Changes() == 0) return RowNotFound("workflow");
        for (TimerKind k : {TimerKind::kDateTrigger, TimerKind::kScheduleTrigger, TimerKind::kOverdueTrigger}) {
          RETURN_IF_ERROR(CancelTimers(conn, owner.org, id, k));
        }
        auto runs = conn.Prepare(
            "SELECT data FROM runs WHERE org_id = ? AND user_id = ? AND workflow_id = ? AND state IN (?, ?)");
        runs.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id).Bind(4, static_cast<int>(pb::RUNNING))
            .Bind(5, static_cast<int>(pb::WAITING));
        ASSIGN_OR_RETURN(std::vector<pb::WorkflowRun> waiting, ListBlobs<pb::WorkflowRun>(runs));
        for (pb::WorkflowRun& run : waiting) {
          RETURN_IF_ERROR(CancelTimers(conn, owner.org, run.id(), TimerKind::kRunStep));
          run.set_state(pb::STOPPED);
          run.set_reason("the workflow was deleted");
          run.clear_wake_time();
          *run.mutable_update_time() = ToTimestamp(ToMicros(clock()));
          RETURN_IF_ERROR(SaveRun(conn, owner, run, "", false));
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void SqliteNotificationsStore::ListWorkflows(const Owner& owner, const std::string& after_id, int limit,
                                             Done<std::vector<pb::Workflow>> done) {
  auto list = [owner, after_id, limit](Connection& conn) -> absl::StatusOr<std::vector<pb::Workflow>> {
    auto st = conn.Prepare(
        "SELECT data FROM workflows WHERE org_id = ? AND user_id = ? AND workflow_id > ? ORDER BY workflow_id LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, after_id).Bind(4, limit);
    return ListBlobs<pb::Workflow>(st);
  };
  // A read when the user's built-ins exist (the usual case), so a list never
  // waits behind a batch of timers on the writer.
  bool seeded = false;
  std::vector<pb::Workflow> items;
  absl::Status read = db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT seeded FROM users WHERE org_id = ? AND user_id = ?");
    st.Bind(1, owner.org).Bind(2, owner.user);
    ASSIGN_OR_RETURN(bool row, st.Step());
    seeded = row && st.ColumnInt(0) != 0;
    if (seeded) {
      ASSIGN_OR_RETURN(items, list(conn));
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return done(read);
  if (seeded) return done(std::move(items));
  // First sight of the user: create the built-ins, then list.
  Clock clock = clock_;
  WriteWithResult<std::vector<pb::Workflow>>(
      *db_,
      [clock, owner, list](Connection& conn) -> absl::StatusOr<std::vector<pb::Workflow>> {
        RETURN_IF_ERROR(EnsureUser(conn, owner, clock()));
        return list(conn);
      },
      std::move(done));
}

void SqliteNotificationsStore::RunWorkflow(const Owner& owner, const std::string& workflow_id,
                                           const std::string& contact_id, Done<pb::WorkflowRun> done) {
  Clock clock = clock_;
  WriteWithResult<pb::WorkflowRun>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::WorkflowRun> {
        ASSIGN_OR_RETURN(pb::Workflow w, ReadWorkflow(conn, owner, workflow_id));
        if (!w.enabled()) return absl::FailedPreconditionError("the workflow is disabled; enable it first");
        if (!contact_id.empty()) {
          ASSIGN_OR_RETURN(std::optional<ppb::Contact> c, ReadContact(conn, owner, contact_id));
          if (!c.has_value()) return absl::InvalidArgumentError("contactId: no such contact");
        }
        std::string key = absl::StrCat("manual:", NewId());
        ASSIGN_OR_RETURN(std::optional<pb::WorkflowRun> run,
                         StartRun(conn, owner, w, contact_id, key, "manual", clock()));
        if (!run.has_value()) return absl::InternalError("run not started");
        return *run;
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::WorkflowRun>> SqliteNotificationsStore::ListRuns(const Owner& owner,
                                                                               const std::string& workflow_id,
                                                                               const std::string& before_id,
                                                                               int limit) {
  std::vector<pb::WorkflowRun> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(ReadWorkflow(conn, owner, workflow_id).status());
    auto st = conn.Prepare(
        "SELECT data FROM runs WHERE org_id = ? AND user_id = ? AND workflow_id = ? AND (? = '' OR run_id < ?) "
        "ORDER BY run_id DESC LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, workflow_id).Bind(4, before_id).Bind(5, before_id).Bind(6, limit);
    ASSIGN_OR_RETURN(out, ListBlobs<pb::WorkflowRun>(st));
    return absl::OkStatus();
  }));
  return out;
}

// --- Webhooks ---

void SqliteNotificationsStore::CreateWebhook(const Owner& owner, const pb::Webhook& webhook, const std::string& secret,
                                             const IdempotencyScope& idem, const google::protobuf::Message& request,
                                             Done<pb::CreateWebhookResponse> done) {
  auto req = CopyMessage(request);
  WriteWithResult<pb::CreateWebhookResponse>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::CreateWebhookResponse> {
        return IdempotentCreate<pb::CreateWebhookResponse>(
            conn, idem, *req, [&]() -> absl::StatusOr<pb::CreateWebhookResponse> {
              auto st = conn.Prepare(
                  "INSERT INTO webhooks (org_id, user_id, webhook_id, secret, data) VALUES (?, ?, ?, ?, ?)");
              st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, webhook.id()).Bind(4, secret)
                  .BindBlob(5, webhook.SerializeAsString());
              RETURN_IF_ERROR(st.Run());
              pb::CreateWebhookResponse out;
              *out.mutable_webhook() = webhook;
              out.set_secret(secret);
              return out;
            });
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Webhook>> SqliteNotificationsStore::ListWebhooks(const Owner& owner,
                                                                               const std::string& after_id,
                                                                               int limit) {
  std::vector<pb::Webhook> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT data FROM webhooks WHERE org_id = ? AND user_id = ? AND webhook_id > ? ORDER BY webhook_id LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, after_id).Bind(4, limit);
    ASSIGN_OR_RETURN(out, ListBlobs<pb::Webhook>(st));
    return absl::OkStatus();
  }));
  return out;
}

void SqliteNotificationsStore::DeleteWebhook(const Owner& owner, const std::string& id, DoneStatus done) {
  db_->WriteAsync(
      [=](Connection& conn) -> absl::Status {
        auto st = conn.Prepare("DELETE FROM webhooks WHERE org_id = ? AND user_id = ? AND webhook_id = ?");
        st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
        RETURN_IF_ERROR(st.Run());
        if (conn.Changes() == 0) return RowNotFound("webhook");
        auto timers = conn.Prepare(
            "DELETE FROM timers WHERE org_id = ? AND kind = ? AND ref IN (SELECT delivery_id FROM deliveries "
            "WHERE org_id = ? AND user_id = ? AND webhook_id = ?)");
        timers.Bind(1, owner.org).Bind(2, static_cast<int>(TimerKind::kDelivery)).Bind(3, owner.org)
            .Bind(4, owner.user).Bind(5, id);
        return timers.Run();
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Delivery>> SqliteNotificationsStore::ListDeliveries(const Owner& owner,
                                                                                  const std::string& webhook_id,
                                                                                  const std::string& before_id,
                                                                                  int limit) {
  std::vector<pb::Delivery> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto hook = conn.Prepare("SELECT 1 FROM webhooks WHERE org_id = ? AND user_id = ? AND webhook_id = ?");
    hook.Bind(1, owner.org).Bind(2, owner.user).Bind(3, webhook_id);
    ASSIGN_OR_RETURN(bool exists, hook.Step());
    if (!exists) return RowNotFound("webhook");
    auto st = conn.Prepare(
        "SELECT data FROM deliveries WHERE org_id = ? AND user_id = ? AND webhook_id = ? AND (? = '' OR delivery_id < ?) "
        "ORDER BY delivery_id DESC LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, webhook_id).Bind(4, before_id).Bind(5, before_id).Bind(6, limit);
    ASSIGN_OR_RETURN(out, ListBlobs<pb::Delivery>(st));
    return absl::OkStatus();
  }));
  return out;
}

// --- Scheduler side ---

absl::Status SqliteNotificationsStore::ReleaseLeases(const std::string& replica) {
  return db_->Write([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("UPDATE timers SET lease_owner = '', lease_until_us = 0 WHERE substr(lease_owner, 1, ?) = ?");
    std::string prefix = replica + "/";
    st.Bind(1, static_cast<int64_t>(prefix.size())).Bind(2, prefix);
    return st.Run();
  });
}

absl::StatusOr<std::vector<TimerRow>> SqliteNotificationsStore::Claim(const std::string& owner, absl::Time now,
                                                                      absl::Duration lease, int limit,
                                                                      bool deliveries) {
  std::vector<TimerRow> out;
  int64_t now_us = ToMicros(now);
  RETURN_IF_ERROR(db_->Write([&](Connection& conn) -> absl::Status {
    out.clear();
    auto st = conn.Prepare(
        "UPDATE timers SET lease_owner = ?1, lease_until_us = ?2 WHERE (org_id, timer_id) IN ("
        "SELECT org_id, timer_id FROM timers WHERE due_us <= ?3 AND lease_until_us <= ?3 AND (kind = ?4) = ?5 "
        "ORDER BY due_us LIMIT ?6) "
        "RETURNING org_id, timer_id, user_id, kind, ref, contact_id, due_us, dedupe_key");
    st.Bind(1, owner).Bind(2, now_us + absl::ToInt64Microseconds(lease)).Bind(3, now_us)
        .Bind(4, static_cast<int>(TimerKind::kDelivery)).Bind(5, deliveries ? 1 : 0).Bind(6, limit);
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(TimerRow{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2),
                             static_cast<TimerKind>(st.ColumnInt(3)), st.ColumnText(4), st.ColumnText(5),
                             st.ColumnInt(6), st.ColumnText(7)});
    }
    return absl::OkStatus();
  }));
  return out;
}

namespace {

// Effects of one timer, inside its transaction.
absl::Status RunTimer(Connection& conn, const TimerRow& t, absl::Time now) {
  Owner owner{t.org, t.user};
  int64_t now_us = ToMicros(now);
  switch (t.kind) {
    case TimerKind::kReminder: {
      auto r = ReadBlob<pb::Reminder>(
          conn, "SELECT data FROM reminders WHERE org_id = ? AND user_id = ? AND reminder_id = ?", owner, t.ref,
          "reminder");
      if (absl::IsNotFound(r.status())) return absl::OkStatus();  // deleted meanwhile
      if (!r.ok()) return r.status();
      pb::Notification n;
      n.set_kind("reminder");
      n.set_reminder_id(r->id());
      n.set_contact_id(r->contact_id());
      ASSIGN_OR_RETURN(std::optional<ppb::Contact> c, ReadContact(conn, owner, r->contact_id()));
      n.set_title(c.has_value() ? absl::StrCat("Reminder: ", c->display_name()) : "Reminder");
      n.set_body(r->note());
      ASSIGN_OR_RETURN(bool added, AddNotification(conn, owner, n, t.dedupe_key, now_us));
      (void)added;
      auto id = conn.Prepare("SELECT notification_id FROM notifications WHERE org_id = ? AND dedupe_key = ?");
      id.Bind(1, owner.org).Bind(2, t.dedupe_key);
      ASSIGN_OR_RETURN(bool row, id.Step());
      r->set_state(pb::FIRED);
      if (row) r->set_notification_id(id.ColumnText(0));
      auto st = conn.Prepare("UPDATE reminders SET data = ? WHERE org_id = ? AND user_id = ? AND reminder_id = ?");
      st.BindBlob(1, r->SerializeAsString()).Bind(2, owner.org).Bind(3, owner.user).Bind(4, r->id());
      return st.Run();
    }
    case TimerKind::kRunStep: {
      auto run = ReadBlob<pb::WorkflowRun>(
          conn, "SELECT data FROM runs WHERE org_id = ? AND user_id = ? AND run_id = ?", owner, t.ref, "run");
      if (absl::IsNotFound(run.status())) return absl::OkStatus();
      if (!run.ok()) return run.status();
      if (run->state() != pb::WAITING) return absl::OkStatus();
      absl::StatusOr<pb::Workflow> w = ReadWorkflow(conn, owner, run->workflow_id());
      if (absl::IsNotFound(w.status())) {
        run->set_state(pb::STOPPED);
        run->set_reason("the workflow was deleted");
        return SaveRun(conn, owner, *run, "", false);
      }
      if (!w.ok()) return w.status();
      return StepRun(conn, owner, *w, *run, now);
    }
    case TimerKind::kSnoozeEnd: {
      auto row = ReadNotification(conn, owner, t.ref);
      if (absl::IsNotFound(row.status())) return absl::OkStatus();
      if (!row.ok()) return row.status();
      if (row->second.state() != pb::SNOOZED) return absl::OkStatus();
      row->second.set_state(pb::UNREAD);
      row->second.clear_snooze_until();
      *row->second.mutable_update_time() = ToTimestamp(now_us);
      // A new stream position: live subscribers see it reappear.
      ASSIGN_OR_RETURN(int64_t seq, NextSeq(conn, owner));
      return WriteNotification(conn, owner, row->second, seq);
    }
    case TimerKind::kDateTrigger:
    case TimerKind::kScheduleTrigger:
    case TimerKind::kOverdueTrigger: {
      absl::StatusOr<pb::Workflow> w = ReadWorkflow(conn, owner, t.ref);
      if (absl::IsNotFound(w.status())) return absl::OkStatus();
      if (!w.ok()) return w.status();
      if (!w->enabled()) return absl::OkStatus();
      std::string key = absl::StrCat("timer:", t.dedupe_key);
      if (t.kind == TimerKind::kScheduleTrigger) {
        RETURN_IF_ERROR(StartRun(conn, owner, *w, "", key, "schedule", now).status());
        // The next day's timer (ScheduleWorkflow computes it from now).
        return ScheduleWorkflow(conn, owner, *w, FromMicros(std::max(t.due_us, now_us)));
      }
      ASSIGN_OR_RETURN(std::optional<ppb::Contact> c, ReadContact(conn, owner, t.contact));
      if (!c.has_value()) return absl::OkStatus();
      if (t.kind == TimerKind::kOverdueTrigger) {
        auto due = conn.Prepare("SELECT next_due_us FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?");
        due.Bind(1, owner.org).Bind(2, owner.user).Bind(3, t.contact);
        ASSIGN_OR_RETURN(bool row, due.Step());
        // Still overdue? An interaction since moved the due date (and its timer).
        if (!row || due.ColumnInt(0) > now_us) return absl::OkStatus();
        return StartRun(conn, owner, *w, t.contact, key, "contact overdue", now).status();
      }
      if (MatchesFilter(w->filter(), &*c)) {
        RETURN_IF_ERROR(StartRun(conn, owner, *w, t.contact, key,
                                 absl::StrCat(w->trigger().date_field().empty() ? "birthday" : w->trigger().date_field(),
                                              " ", LocalDate(FromMicros(t.due_us), absl::UTCTimeZone())),
                                 now)
                            .status());
      }
      // Next year's occurrence, strictly after this one.
      return ScheduleContactTrigger(conn, owner, *w, *c, std::nullopt, FromMicros(std::max(t.due_us, now_us)));
    }
    case TimerKind::kDelivery:
      return absl::InternalError("delivery timers are not fired here");
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Effects, dedupe record and removal of one claimed timer, on conn's transaction.
absl::Status FireOne(Connection& conn, const TimerRow& timer, const std::string& owner, absl::Time now) {
  auto mine = conn.Prepare("SELECT lease_owner FROM timers WHERE org_id = ? AND timer_id = ?");
  mine.Bind(1, timer.org).Bind(2, timer.id);
  ASSIGN_OR_RETURN(bool row, mine.Step());
  if (!row || mine.ColumnText(0) != owner) return absl::OkStatus();  // cancelled, or another replica's now
  auto del = conn.Prepare("DELETE FROM timers WHERE org_id = ? AND timer_id = ?");
  del.Bind(1, timer.org).Bind(2, timer.id);
  RETURN_IF_ERROR(del.Run());
  auto mark = conn.Prepare("INSERT OR IGNORE INTO fired_timers (org_id, dedupe_key, fired_us) VALUES (?, ?, ?)");
  mark.Bind(1, timer.org).Bind(2, timer.dedupe_key).Bind(3, ToMicros(now));
  RETURN_IF_ERROR(mark.Run());
  if (conn.Changes() == 0) return absl::OkStatus();  // fired before: no second effect
  return RunTimer(conn, timer, now);
}

}  // namespace

void SqliteNotificationsStore::FireTimer(const TimerRow& timer, const std::string& owner, absl::Time now,
                                         DoneStatus done) {
  db_->WriteAsync([timer, owner, now](Connection& conn) { return FireOne(conn, timer, owner, now); },
                  std::move(done));
}

void SqliteNotificationsStore::FireTimers(std::vector<TimerRow> timers, const std::string& owner, absl::Time now,
                                          std::function<void(std::vector<absl::Status>)> done) {
  auto results = std::make_shared<std::vector<absl::Status>>(timers.size());
  db_->WriteAsync(
      [timers = std::move(timers), owner, now, results](Connection& conn) -> absl::Status {
        for (size_t i = 0; i < timers.size(); ++i) {
          RETURN_IF_ERROR(conn.Exec("SAVEPOINT timer"));
          absl::Status s = FireOne(conn, timers[i], owner, now);
          if (!s.ok()) RETURN_IF_ERROR(conn.Exec("ROLLBACK TO timer"));
          RETURN_IF_ERROR(conn.Exec("RELEASE timer"));
          (*results)[i] = s;
        }
        return absl::OkStatus();
      },
      [results, done = std::move(done)](absl::Status committed) {
        if (!committed.ok()) {
          for (absl::Status& s : *results) s = committed;
        }
        done(std::move(*results));
      });
}

absl::StatusOr<PendingDelivery> SqliteNotificationsStore::LoadDelivery(const TimerRow& timer) {
  PendingDelivery out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT d.body, d.data, w.secret, w.data FROM deliveries d JOIN webhooks w ON w.org_id = d.org_id AND "
        "w.user_id = d.user_id AND w.webhook_id = d.webhook_id "
        "WHERE d.org_id = ? AND d.user_id = ? AND d.delivery_id = ?");
    st.Bind(1, timer.org).Bind(2, timer.user).Bind(3, timer.ref);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return RowNotFound("delivery");
    pb::Delivery d;
    pb::Webhook w;
    RETURN_IF_ERROR(ParseRow(st.ColumnBlob(1), &d));
    RETURN_IF_ERROR(ParseRow(st.ColumnBlob(3), &w));
    out.body = st.ColumnText(0);
    out.secret = st.ColumnText(2);
    out.url = w.url();
    out.event_id = d.event_id();
    out.event_type = d.event_type();
    out.attempts = d.attempt_count();
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqliteNotificationsStore::RecordDeliveryAttempt(const TimerRow& timer, const std::string& owner,
                                                             const AttemptResult& result, bool retries_exhausted) {
  return db_->Write([&](Connection& conn) -> absl::Status {
    auto mine = conn.Prepare("SELECT lease_owner FROM timers WHERE org_id = ? AND timer_id = ?");
    mine.Bind(1, timer.org).Bind(2, timer.id);
    ASSIGN_OR_RETURN(bool leased, mine.Step());
    if (!leased || mine.ColumnText(0) != owner) return absl::OkStatus();
    Owner o{timer.org, timer.user};
    auto d = ReadBlob<pb::Delivery>(
        conn, "SELECT data FROM deliveries WHERE org_id = ? AND user_id = ? AND delivery_id = ?", o, timer.ref,
        "delivery");
    if (!d.ok()) return d.status();
    pb::DeliveryAttempt* a = d->add_attempts();
    *a->mutable_time() = ToTimestamp(result.time_us);
    a->set_status_code(static_cast<int32_t>(result.status));
    a->set_error(result.error);
    a->set_duration_ms(result.duration_ms);
    d->set_attempt_count(d->attempt_count() + 1);
    d->set_last_status_code(static_cast<int32_t>(result.status));
    bool ok = result.status >= 200 && result.status < 300;
    if (!ok && result.retry && !retries_exhausted) {
      d->set_state(pb::DELIVERY_PENDING);
      *d->mutable_next_attempt_time() = ToTimestamp(result.next_us);
      auto st = conn.Prepare(
          "UPDATE timers SET due_us = ?, lease_owner = '', lease_until_us = 0 WHERE org_id = ? AND timer_id = ?");
      st.Bind(1, result.next_us).Bind(2, timer.org).Bind(3, timer.id);
      RETURN_IF_ERROR(st.Run());
    } else {
      d->set_state(ok ? pb::DELIVERED : (result.retry ? pb::DEAD_LETTER : pb::DELIVERY_FAILED));
      d->clear_next_attempt_time();
      auto del = conn.Prepare("DELETE FROM timers WHERE org_id = ? AND timer_id = ?");
      del.Bind(1, timer.org).Bind(2, timer.id);
      RETURN_IF_ERROR(del.Run());
      auto mark = conn.Prepare("INSERT OR IGNORE INTO fired_timers (org_id, dedupe_key, fired_us) VALUES (?, ?, ?)");
      mark.Bind(1, timer.org).Bind(2, timer.dedupe_key).Bind(3, result.time_us);
      RETURN_IF_ERROR(mark.Run());
      if (d->state() == pb::DEAD_LETTER) {
        log::Warn("webhook delivery dead-lettered", {{"org", timer.org}, {"delivery", d->id()},
                                                     {"webhook", d->webhook_id()}});
      }
    }
    auto st = conn.Prepare(
        "UPDATE deliveries SET data = ?, finished_us = ? WHERE org_id = ? AND user_id = ? AND delivery_id = ?");
    st.BindBlob(1, d->SerializeAsString());
    if (d->state() == pb::DELIVERY_PENDING) {
      st.BindNull(2);
    } else {
      st.Bind(2, result.time_us);
    }
    st.Bind(3, timer.org).Bind(4, timer.user).Bind(5, timer.ref);
    return st.Run();
  });
}

absl::Status SqliteNotificationsStore::InsertReminders(const Owner& owner, const std::vector<int64_t>& due_us) {
  return db_->Write([&](Connection& conn) -> absl::Status {
    for (int64_t due : due_us) {
      pb::Reminder r;
      r.set_id(NewId());
      *r.mutable_due_time() = ToTimestamp(due);
      r.set_state(pb::PENDING);
      auto st = conn.Prepare("INSERT INTO reminders (org_id, user_id, reminder_id, data) VALUES (?, ?, ?, ?)");
      st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, r.id()).BindBlob(4, r.SerializeAsString());
      RETURN_IF_ERROR(st.Run());
      RETURN_IF_ERROR(InsertTimer(conn, NewTimer(owner, TimerKind::kReminder, r.id(), "", due,
                                                 absl::StrCat("reminder:", r.id()))));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> SqliteNotificationsStore::PendingTimers() {
  int64_t n = 0;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT COUNT(*) FROM timers");
    ASSIGN_OR_RETURN(bool row, st.Step());
    n = row ? st.ColumnInt(0) : 0;
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<int64_t> SqliteNotificationsStore::CountNotifications(const Owner& owner) {
  int64_t n = 0;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT COUNT(*) FROM notifications WHERE org_id = ? AND user_id = ?");
    st.Bind(1, owner.org).Bind(2, owner.user);
    ASSIGN_OR_RETURN(bool row, st.Step());
    n = row ? st.ColumnInt(0) : 0;
    return absl::OkStatus();
  }));
  return n;
}

}  // namespace rapport::notifications
