// The workflows job of NotificationsStore: workflows, their trigger timers,
// and their runs (started by events, triggers or by hand; stepped by the
// engine; their effects committed with their state).
#include "services/notifications/run_store.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/common/ids.h"
#include "services/common/quota.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/delivery_store.h"
#include "services/notifications/inbox_store.h"
#include "services/notifications/local_time.h"
#include "services/notifications/milestones.h"
#include "services/notifications/notifications_rows.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/workflow_engine.h"

namespace rapport::notifications {

namespace ppb = ::rapport::profiles::v1;
using db::Connection;
using db::Statement;

namespace {

constexpr TimerKind kTriggerKinds[] = {TimerKind::kDateTrigger, TimerKind::kScheduleTrigger,
                                       TimerKind::kOverdueTrigger};

// The digest's variables: contacts whose next due time has passed.
absl::Status AddOverdueVars(Connection& conn, const Owner& owner, int64_t now_us, TemplateVars& vars) {
  int count = 0;
  std::vector<std::string> names;
  RETURN_IF_ERROR(db::ForEachRow(
      conn.Prepare("SELECT c.data FROM ledger l JOIN contacts c ON c.org_id = l.org_id AND c.user_id = l.user_id "
                   "AND c.contact_id = l.contact_id AND c.deleted = 0 "
                   "WHERE l.org_id = ? AND l.user_id = ? AND l.next_due_us > 0 AND l.next_due_us <= ? "
                   "ORDER BY l.next_due_us")
          .Bind(1, owner.org)
          .Bind(2, owner.user)
          .Bind(3, now_us),
      [&](const Statement& row) -> absl::Status {
        ++count;
        if (names.size() < 10) {
          ppb::Contact c;
          RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(0), &c));
          names.push_back(c.display_name());
        }
        return absl::OkStatus();
      }));
  vars["overdue.count"] = absl::StrCat(count);
  vars["overdue.names"] = absl::StrJoin(names, ", ") + (count > 10 ? absl::StrCat(" and ", count - 10, " more") : "");
  return absl::OkStatus();
}

// Advances the run with what the engine needs from the projection, and
// commits what it decided: the run's new state, its effects (once per run
// and step), and its wake timer.
absl::Status StepRun(Connection& conn, const Owner& owner, const pb::Workflow& workflow, pb::WorkflowRun& run,
                     absl::Time now) {
  const int64_t now_us = ToMicros(now);
  RunContext ctx;
  ASSIGN_OR_RETURN(ctx.zone, UserZone(conn, owner));
  ASSIGN_OR_RETURN(std::optional<ppb::Contact> contact, ReadContact(conn, owner, run.contact_id()));
  if (contact.has_value()) ctx.vars = ContactVars(*contact);
  ctx.contact_deleted = !run.contact_id().empty() && !contact.has_value();
  if (!run.contact_id().empty()) {
    ASSIGN_OR_RETURN(std::optional<LedgerRow> ledger, ReadLedger(conn, owner, run.contact_id()));
    if (ledger.has_value()) ctx.vars["ledger.balance"] = absl::StrFormat("%.1f", ledger->balance);
  }
  if (workflow.trigger().kind() == pb::SCHEDULE) RETURN_IF_ERROR(AddOverdueVars(conn, owner, now_us, ctx.vars));
  const std::string trigger_interaction = run.trigger().rfind("interaction ", 0) == 0 ? run.trigger().substr(12) : "";
  ctx.interacted_since = [&conn, &owner, &run, trigger_interaction](int64_t since_us) -> absl::StatusOr<bool> {
    return db::Exists(conn.Prepare("SELECT 1 FROM contact_interactions WHERE org_id = ? AND user_id = ? AND "
                                   "contact_id = ? AND logged_us >= ? AND interaction_id != ? LIMIT 1")
                          .Bind(1, owner.org)
                          .Bind(2, owner.user)
                          .Bind(3, run.contact_id())
                          .Bind(4, since_us)
                          .Bind(5, trigger_interaction));
  };
  ASSIGN_OR_RETURN(std::vector<Effect> effects, Advance(workflow, run, ctx, now));
  for (const Effect& e : effects) {
    const std::string key = absl::StrCat("run:", run.id(), ":", e.step);
    if (e.kind == Effect::Kind::kNotify) {
      pb::Notification n;
      n.set_kind(workflow.trigger().kind() == pb::SCHEDULE ? "digest" : "workflow");
      n.set_title(e.title);
      n.set_body(e.body);
      n.set_contact_id(run.contact_id());
      n.set_workflow_id(workflow.id());
      n.set_run_id(run.id());
      if (workflow.builtin() == "birthday" && contact.has_value()) n.set_draft(BirthdayGreetingDraft(*contact));
      RETURN_IF_ERROR(AddNotification(conn, owner, std::move(n), key, now_us).status());
    } else {
      ASSIGN_OR_RETURN(bool first, MarkFired(conn, owner.org, key, now_us));
      if (!first) continue;
      RETURN_IF_ERROR(EnqueueWebhookEvent(conn, owner, e.event_type, key, now_us, [&](const WebhookEnvelope& env) {
        return WorkflowWebhookBody(env, workflow, run, contact.has_value() ? &*contact : nullptr);
      }));
    }
  }
  RETURN_IF_ERROR(UpdateRun(conn, owner, run));
  if (run.state() == pb::WAITING) {
    RETURN_IF_ERROR(InsertTimer(
        conn, NewTimer(owner, TimerKind::kRunStep, run.id(), run.contact_id(), TimestampToMicros(run.wake_time()),
                       absl::StrCat("run:", run.id(), ":wake:", run.next_step()))));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<pb::WorkflowRun>> StartRun(Connection& conn, const Owner& owner,
                                                        const pb::Workflow& workflow, const std::string& contact_id,
                                                        const std::string& trigger_key, const std::string& trigger,
                                                        absl::Time now, std::optional<absl::Time> started) {
  ASSIGN_OR_RETURN(bool dup, RunStarted(conn, owner.org, workflow.id(), trigger_key));
  if (dup) return std::nullopt;
  pb::WorkflowRun run;
  run.set_id(NewId());
  run.set_workflow_id(workflow.id());
  run.set_contact_id(contact_id);
  run.set_state(pb::RUNNING);
  run.set_trigger(trigger);
  *run.mutable_start_time() = ToTimestamp(ToMicros(started.has_value() ? std::min(*started, now) : now));
  *run.mutable_update_time() = ToTimestamp(ToMicros(now));
  RETURN_IF_ERROR(InsertRun(conn, owner, run, trigger_key));
  RETURN_IF_ERROR(StepRun(conn, owner, workflow, run, now));
  return run;
}

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
    absl::Time at =
        NextAnnual(now, contact.birthday().month(), contact.birthday().day(), t.offset_days(), minute, zone);
    if (at == absl::InfiniteFuture()) return absl::OkStatus();
    const int64_t at_us = ToMicros(at);
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

absl::Status ScheduleWorkflow(Connection& conn, const Owner& owner, const pb::Workflow& w, absl::Time now) {
  for (TimerKind k : kTriggerKinds) RETURN_IF_ERROR(CancelTimers(conn, owner.org, w.id(), k));
  if (!w.enabled()) return absl::OkStatus();
  const pb::TriggerKind kind = w.trigger().kind();
  if (kind == pb::SCHEDULE) {
    ASSIGN_OR_RETURN(absl::TimeZone zone, UserZone(conn, owner));
    ASSIGN_OR_RETURN(int minute, ParseLocalTime("localTime", w.trigger().local_time()));
    const int64_t at_us = ToMicros(NextDaily(now, minute, zone));
    return InsertTimer(conn, NewTimer(owner, TimerKind::kScheduleTrigger, w.id(), "", at_us,
                                      absl::StrCat("schedule:", w.id(), ":", at_us)));
  }
  if (kind != pb::DATE_FIELD && kind != pb::CONTACT_OVERDUE) return absl::OkStatus();
  using ContactDue = std::pair<ppb::Contact, std::optional<int64_t>>;
  ASSIGN_OR_RETURN(
      std::vector<ContactDue> contacts,
      db::ListRows<ContactDue>(
          conn.Prepare("SELECT c.data, l.next_due_us FROM contacts c LEFT JOIN ledger l ON l.org_id = c.org_id AND "
                       "l.user_id = c.user_id AND l.contact_id = c.contact_id "
                       "WHERE c.org_id = ? AND c.user_id = ? AND c.deleted = 0")
              .Bind(1, owner.org)
              .Bind(2, owner.user),
          [](const Statement& row) -> absl::StatusOr<ContactDue> {
            ContactDue out;
            RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(0), &out.first));
            if (!row.ColumnIsNull(1)) out.second = row.ColumnInt(1);
            return out;
          }));
  for (const auto& [c, due] : contacts) RETURN_IF_ERROR(ScheduleContactTrigger(conn, owner, w, c, due, now));
  return absl::OkStatus();
}

// Built-ins version 1 -> 2: the follow-up as version 1 made it (first
// conversations only) becomes today's (also every meeting and call). One the
// user changed is theirs and stays as it is.
absl::Status UpgradeBuiltins(Connection& conn, const Owner& owner, absl::Time now) {
  ASSIGN_OR_RETURN(std::vector<pb::Workflow> mine, UserWorkflows(conn, owner));
  for (pb::Workflow& w : mine) {
    const pb::Trigger& t = w.trigger();
    const bool as_made = w.builtin() == "follow_up" && t.interaction_kinds_size() == 1 &&
                         t.interaction_kinds(0) == interactions::v1::CONVERSATION && t.first_interaction_only() &&
                         t.first_only_kinds_size() == 0;
    if (!as_made) continue;
    for (const pb::Workflow& current : BuiltinWorkflows()) {
      if (current.builtin() != w.builtin()) continue;
      *w.mutable_trigger() = current.trigger();
      *w.mutable_steps() = current.steps();
      w.set_display_name(current.display_name());
      *w.mutable_update_time() = ToTimestamp(ToMicros(now));
      RETURN_IF_ERROR(WriteWorkflow(conn, owner, w));
    }
  }
  return absl::OkStatus();
}

absl::Status EnsureUser(Connection& conn, const Owner& owner, absl::Time now) {
  ASSIGN_OR_RETURN(int version, BuiltinsVersion(conn, owner));
  if (version >= kBuiltinsVersion) return absl::OkStatus();
  RETURN_IF_ERROR(conn.Prepare("INSERT INTO users (org_id, user_id, seeded) VALUES (?, ?, ?) "
                               "ON CONFLICT (org_id, user_id) DO UPDATE SET seeded = excluded.seeded")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, kBuiltinsVersion)
                      .Run());
  if (version > 0) return UpgradeBuiltins(conn, owner, now);
  const int64_t now_us = ToMicros(now);
  for (pb::Workflow w : BuiltinWorkflows()) {
    w.set_id(NewId());
    *w.mutable_create_time() = ToTimestamp(now_us);
    *w.mutable_update_time() = ToTimestamp(now_us);
    RETURN_IF_ERROR(WriteWorkflow(conn, owner, w));
    RETURN_IF_ERROR(ScheduleWorkflow(conn, owner, w, now));
  }
  return absl::OkStatus();
}

absl::Status WakeRun(Connection& conn, const TimerRow& timer, absl::Time now) {
  const Owner owner{timer.org, timer.user};
  absl::StatusOr<pb::WorkflowRun> run = ReadRun(conn, owner, timer.ref);
  if (absl::IsNotFound(run.status())) return absl::OkStatus();
  if (!run.ok()) return run.status();
  if (run->state() != pb::WAITING) return absl::OkStatus();
  absl::StatusOr<pb::Workflow> w = ReadWorkflow(conn, owner, run->workflow_id());
  if (absl::IsNotFound(w.status())) {
    StopRunOfDeletedWorkflow(*run, now);
    return UpdateRun(conn, owner, *run);
  }
  if (!w.ok()) return w.status();
  return StepRun(conn, owner, *w, *run, now);
}

absl::Status FireTrigger(Connection& conn, const TimerRow& t, absl::Time now) {
  const Owner owner{t.org, t.user};
  const int64_t now_us = ToMicros(now);
  absl::StatusOr<pb::Workflow> w = ReadWorkflow(conn, owner, t.ref);
  if (absl::IsNotFound(w.status())) return absl::OkStatus();
  if (!w.ok()) return w.status();
  if (!w->enabled()) return absl::OkStatus();
  const std::string key = absl::StrCat("timer:", t.dedupe_key);
  if (t.kind == TimerKind::kScheduleTrigger) {
    RETURN_IF_ERROR(StartRun(conn, owner, *w, "", key, "schedule", now).status());
    // The next day's timer (ScheduleWorkflow computes it from now).
    return ScheduleWorkflow(conn, owner, *w, FromMicros(std::max(t.due_us, now_us)));
  }
  ASSIGN_OR_RETURN(std::optional<ppb::Contact> c, ReadContact(conn, owner, t.contact));
  if (!c.has_value()) return absl::OkStatus();
  if (t.kind == TimerKind::kOverdueTrigger) {
    ASSIGN_OR_RETURN(std::optional<LedgerRow> ledger, ReadLedger(conn, owner, t.contact));
    // Still overdue? An interaction since moved the due date (and its timer).
    if (!ledger.has_value() || ledger->next_due_us > now_us) return absl::OkStatus();
    return StartRun(conn, owner, *w, t.contact, key, "contact overdue", now).status();
  }
  if (MatchesFilter(w->filter(), &*c)) {
    const std::string field = w->trigger().date_field().empty() ? "birthday" : w->trigger().date_field();
    RETURN_IF_ERROR(StartRun(conn, owner, *w, t.contact, key,
                             absl::StrCat(field, " ", LocalDate(FromMicros(t.due_us), absl::UTCTimeZone())), now)
                        .status());
  }
  // Next year's occurrence, strictly after this one.
  return ScheduleContactTrigger(conn, owner, *w, *c, std::nullopt, FromMicros(std::max(t.due_us, now_us)));
}

// --- Workflows ---

void NotificationsStore::CreateWorkflow(const Owner& owner, const pb::Workflow& workflow, const IdempotencyScope& idem,
                                        const google::protobuf::Message& request, int64_t max_workflows,
                                        Done<pb::Workflow> done) {
  auto req = CopyMessage(request);
  Clock clock = clock_;
  db::WriteWithResult<pb::Workflow>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::Workflow> {
        absl::Time now = clock();
        RETURN_IF_ERROR(EnsureUser(conn, owner, now));
        return IdempotentCreate<pb::Workflow>(conn, idem, *req, [&]() -> absl::StatusOr<pb::Workflow> {
          ASSIGN_OR_RETURN(int64_t used, CountOwned(conn, "workflows", owner));
          RETURN_IF_ERROR(CheckQuota(kWorkflowsPerUser, used, max_workflows, "workflows per user"));
          RETURN_IF_ERROR(WriteWorkflow(conn, owner, workflow));
          RETURN_IF_ERROR(ScheduleWorkflow(conn, owner, workflow, now));
          return workflow;
        });
      },
      std::move(done));
}

absl::StatusOr<pb::Workflow> NotificationsStore::GetWorkflow(const Owner& owner, const std::string& id) {
  pb::Workflow out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadWorkflow(conn, owner, id));
    return absl::OkStatus();
  }));
  return out;
}

void NotificationsStore::UpdateWorkflow(const Owner& owner, const std::string& id, Mutation<pb::Workflow> mutate,
                                        Done<pb::Workflow> done) {
  Clock clock = clock_;
  db::WriteWithResult<pb::Workflow>(
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

void NotificationsStore::DeleteWorkflow(const Owner& owner, const std::string& id, DoneStatus done) {
  Clock clock = clock_;
  db_->WriteAsync(
      [=](Connection& conn) -> absl::Status {
        RETURN_IF_ERROR(conn.Prepare("DELETE FROM workflows WHERE org_id = ? AND user_id = ? AND workflow_id = ?")
                            .Bind(1, owner.org)
                            .Bind(2, owner.user)
                            .Bind(3, id)
                            .Run());
        if (conn.Changes() == 0) return db::RowNotFound("workflow");
        for (TimerKind k : kTriggerKinds) RETURN_IF_ERROR(CancelTimers(conn, owner.org, id, k));
        ASSIGN_OR_RETURN(
            std::vector<pb::WorkflowRun> open,
            db::ListBlobs<pb::WorkflowRun>(conn.Prepare("SELECT data FROM runs WHERE org_id = ? AND user_id = ? AND "
                                                        "workflow_id = ? AND state IN (?, ?)")
                                               .Bind(1, owner.org)
                                               .Bind(2, owner.user)
                                               .Bind(3, id)
                                               .Bind(4, static_cast<int>(pb::RUNNING))
                                               .Bind(5, static_cast<int>(pb::WAITING))));
        for (pb::WorkflowRun& run : open) {
          RETURN_IF_ERROR(CancelTimers(conn, owner.org, run.id(), TimerKind::kRunStep));
          StopRunOfDeletedWorkflow(run, clock());
          RETURN_IF_ERROR(UpdateRun(conn, owner, run));
        }
        return absl::OkStatus();
      },
      std::move(done));
}

void NotificationsStore::ListWorkflows(const Owner& owner, const std::string& after_id, int limit,
                                       Done<std::vector<pb::Workflow>> done) {
  auto list = [owner, after_id, limit](Connection& conn) -> absl::StatusOr<std::vector<pb::Workflow>> {
    return db::ListBlobs<pb::Workflow>(conn.Prepare("SELECT data FROM workflows WHERE org_id = ? AND user_id = ? AND "
                                                    "workflow_id > ? ORDER BY workflow_id LIMIT ?")
                                           .Bind(1, owner.org)
                                           .Bind(2, owner.user)
                                           .Bind(3, after_id)
                                           .Bind(4, limit));
  };
  // A read when the user's built-ins exist (the usual case), so a list never
  // waits behind a batch of timers on the writer.
  bool seeded = false;
  std::vector<pb::Workflow> items;
  absl::Status read = db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(seeded, UserSeeded(conn, owner));
    if (seeded) {
      ASSIGN_OR_RETURN(items, list(conn));
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return done(read);
  if (seeded) return done(std::move(items));
  // First sight of the user: create the built-ins, then list.
  Clock clock = clock_;
  db::WriteWithResult<std::vector<pb::Workflow>>(
      *db_,
      [clock, owner, list](Connection& conn) -> absl::StatusOr<std::vector<pb::Workflow>> {
        RETURN_IF_ERROR(EnsureUser(conn, owner, clock()));
        return list(conn);
      },
      std::move(done));
}

// --- Quotas ---

absl::StatusOr<std::vector<ppb::QuotaUsage>> NotificationsStore::Usage(const std::string& org,
                                                                       const NotificationsQuotas& quotas) {
  struct Row {
    const char* quota;
    const char* per;
    int64_t limit;
    // (subject, use) of the org's busiest subject, highest first.
    const char* sql;
  };
  const Row rows[] = {
      {kWorkflowsPerUser, "user", quotas.workflows_per_user,
       "SELECT user_id, COUNT(*) AS n FROM workflows WHERE org_id = ? GROUP BY user_id ORDER BY n DESC, user_id "
       "LIMIT 1"},
      {kStepsPerWorkflow, "workflow", quotas.steps_per_workflow,
       "SELECT workflow_id, steps FROM workflows WHERE org_id = ? ORDER BY steps DESC, workflow_id LIMIT 1"},
      {kWebhooksPerUser, "user", quotas.webhooks_per_user,
       "SELECT user_id, COUNT(*) AS n FROM webhooks WHERE org_id = ? GROUP BY user_id ORDER BY n DESC, user_id "
       "LIMIT 1"},
      {kRemindersPerContact, "contact", quotas.reminders_per_contact,
       "SELECT contact_id, pending FROM reminder_counts WHERE org_id = ? AND contact_id <> '' "
       "ORDER BY pending DESC, contact_id LIMIT 1"},
      {kRemindersWithoutContact, "user", quotas.reminders_without_contact,
       "SELECT user_id, pending FROM reminder_counts WHERE org_id = ? AND contact_id = '' "
       "ORDER BY pending DESC, user_id LIMIT 1"},
  };
  std::vector<ppb::QuotaUsage> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    for (const Row& r : rows) {
      ppb::QuotaUsage q;
      q.set_quota(r.quota);
      q.set_per(r.per);
      q.set_limit(r.limit);
      RETURN_IF_ERROR(db::ForEachRow(conn.Prepare(r.sql).Bind(1, org), [&](const Statement& row) -> absl::Status {
        q.set_subject_id(row.ColumnText(0));
        q.set_used(row.ColumnInt(1));
        return absl::OkStatus();
      }));
      out.push_back(std::move(q));
    }
    return absl::OkStatus();
  }));
  return out;
}

// --- Runs ---

void NotificationsStore::RunWorkflow(const Owner& owner, const std::string& workflow_id, const std::string& contact_id,
                                     Done<pb::WorkflowRun> done) {
  Clock clock = clock_;
  db::WriteWithResult<pb::WorkflowRun>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::WorkflowRun> {
        ASSIGN_OR_RETURN(pb::Workflow w, ReadWorkflow(conn, owner, workflow_id));
        if (!w.enabled()) return absl::FailedPreconditionError("the workflow is disabled; enable it first");
        if (!contact_id.empty()) {
          ASSIGN_OR_RETURN(std::optional<ppb::Contact> c, ReadContact(conn, owner, contact_id));
          if (!c.has_value()) return absl::InvalidArgumentError("contactId: no such contact");
        }
        ASSIGN_OR_RETURN(std::optional<pb::WorkflowRun> run,
                         StartRun(conn, owner, w, contact_id, absl::StrCat("manual:", NewId()), "manual", clock()));
        if (!run.has_value()) return absl::InternalError("run not started");
        return *std::move(run);
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::WorkflowRun>> NotificationsStore::ListRuns(const Owner& owner,
                                                                          const std::string& workflow_id,
                                                                          const std::string& before_id, int limit) {
  std::vector<pb::WorkflowRun> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(ReadWorkflow(conn, owner, workflow_id).status());
    ASSIGN_OR_RETURN(out, db::ListBlobs<pb::WorkflowRun>(
                              conn.Prepare("SELECT data FROM runs WHERE org_id = ? AND user_id = ? AND workflow_id = ? "
                                           "AND (? = '' OR run_id < ?) ORDER BY run_id DESC LIMIT ?")
                                  .Bind(1, owner.org)
                                  .Bind(2, owner.user)
                                  .Bind(3, workflow_id)
                                  .Bind(4, before_id)
                                  .Bind(5, before_id)
                                  .Bind(6, limit)));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace rapport::notifications
