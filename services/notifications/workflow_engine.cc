#include "services/notifications/workflow_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "services/common/quota.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/notifications/local_time.h"
#include "services/notifications/webhook.h"

namespace rapport::notifications {
namespace {

namespace ipb = ::rapport::interactions::v1;
namespace ppb = ::rapport::profiles::v1;

constexpr int64_t kMaxWaitSeconds = 400LL * 24 * 3600;

pb::Step Wait(int days, const std::string& local_time) {
  pb::Step s;
  s.set_kind(pb::WAIT);
  s.set_days(days);
  s.set_local_time(local_time);
  return s;
}

pb::Step Notify(const std::string& title, const std::string& body) {
  pb::Step s;
  s.set_kind(pb::NOTIFY);
  s.set_title(title);
  s.set_body(body);
  return s;
}

pb::Workflow Builtin(const std::string& key, const std::string& name, pb::TriggerKind kind) {
  pb::Workflow w;
  w.set_builtin(key);
  w.set_display_name(name);
  w.set_enabled(true);
  w.mutable_trigger()->set_kind(kind);
  return w;
}

void AddRecord(pb::WorkflowRun& run, int step, pb::StepKind kind, absl::Time now, const std::string& outcome) {
  pb::StepRecord* r = run.add_history();
  r->set_step(step);
  r->set_kind(kind);
  *r->mutable_time() = ToTimestamp(ToMicros(now));
  r->set_outcome(outcome);
}

bool IsOver(const pb::WorkflowRun& run) {
  return run.state() == pb::STOPPED || run.state() == pb::COMPLETED || run.state() == pb::FAILED;
}

void End(pb::WorkflowRun& run, pb::RunState state, const std::string& reason, absl::Time now) {
  run.set_state(state);
  run.set_reason(reason);
  *run.mutable_update_time() = ToTimestamp(ToMicros(now));
}

}  // namespace

absl::Status ValidateWorkflow(const pb::Workflow& w) {
  Violations v;
  v.Text("workflow.displayName", w.display_name(), 200, true);
  const pb::Trigger& t = w.trigger();
  if (t.kind() == pb::TRIGGER_KIND_UNSPECIFIED || !pb::TriggerKind_IsValid(t.kind())) {
    v.Add("workflow.trigger.kind",
          "is required: INTERACTION_CREATED, CONTACT_CREATED, CONTACT_OVERDUE, "
          "DATE_FIELD, SCHEDULE, MANUAL or BALANCE_TIPPED");
  }
  for (int i = 0; i < t.interaction_kinds_size(); ++i) {
    if (t.interaction_kinds(i) == ipb::INTERACTION_KIND_UNSPECIFIED ||
        !ipb::InteractionKind_IsValid(t.interaction_kinds(i))) {
      v.Add(absl::StrCat("workflow.trigger.interactionKinds[", i, "]"), "is not an interaction kind");
    }
  }
  for (int i = 0; i < t.first_only_kinds_size(); ++i) {
    const std::string f = absl::StrCat("workflow.trigger.firstOnlyKinds[", i, "]");
    const int k = t.first_only_kinds(i);
    if (k == ipb::INTERACTION_KIND_UNSPECIFIED || !ipb::InteractionKind_IsValid(k)) {
      v.Add(f, "is not an interaction kind");
    } else if (t.kind() != pb::INTERACTION_CREATED) {
      v.Add(f, "is only for an INTERACTION_CREATED trigger");
    } else if (t.interaction_kinds_size() > 0 && std::find(t.interaction_kinds().begin(), t.interaction_kinds().end(),
                                                           k) == t.interaction_kinds().end()) {
      v.Add(f, "must be one of trigger.interactionKinds");
    }
  }
  if (t.kind() == pb::DATE_FIELD && !t.date_field().empty() && t.date_field() != "birthday") {
    v.Add("workflow.trigger.dateField", "must be birthday");
  }
  if (t.offset_days() < -366 || t.offset_days() > 366) v.Add("workflow.trigger.offsetDays", "must be within -366..366");
  if (auto m = ParseLocalTime("workflow.trigger.localTime", t.local_time()); !m.ok()) {
    v.Add("workflow.trigger.localTime", "must be HH:MM, 00:00 to 23:59");
  }
  if (t.balance_threshold() < 0 || t.balance_threshold() > 1e6)
    v.Add("workflow.trigger.balanceThreshold", "must be 0..1000000");
  for (int i = 0; i < w.filter().tiers_size(); ++i) {
    if (w.filter().tiers(i) == ppb::TIER_UNSPECIFIED || !ppb::Tier_IsValid(w.filter().tiers(i))) {
      v.Add(absl::StrCat("workflow.filter.tiers[", i, "]"), "is not a tier");
    }
  }
  v.TextList("workflow.filter.tags", w.filter().tags(), 50, 100);
  if (w.steps_size() == 0) v.Add("workflow.steps", "needs at least one step");
  if (w.steps_size() > kMaxStepsEver) {
    v.Add("workflow.steps", absl::StrCat("has more than ", kMaxStepsEver, " steps"));
  }
  bool has_contact = t.kind() != pb::SCHEDULE;
  for (int i = 0; i < w.steps_size() && i < kMaxStepsEver; ++i) {
    const pb::Step& s = w.steps(i);
    std::string f = absl::StrCat("workflow.steps[", i, "]");
    switch (s.kind()) {
      case pb::WAIT: {
        bool has_duration = s.has_duration() && (s.duration().seconds() != 0 || s.duration().nanos() != 0);
        if (has_duration && (s.days() != 0 || !s.local_time().empty())) {
          v.Add(f, "a wait has either a duration or days and localTime, not both");
        } else if (has_duration) {
          if (s.duration().seconds() < 1 || s.duration().seconds() > kMaxWaitSeconds || s.duration().nanos() < 0) {
            v.Add(f + ".duration", "must be 1s to 400 days");
          }
        } else if (s.days() < 0 || s.days() > 400) {
          v.Add(f + ".days", "must be 0..400");
        } else if (s.days() == 0 && s.local_time().empty()) {
          v.Add(f, "a wait needs a duration, or days and/or localTime");
        }
        if (!ParseLocalTime("", s.local_time()).ok()) v.Add(f + ".localTime", "must be HH:MM, 00:00 to 23:59");
        break;
      }
      case pb::STOP_IF:
        if (!has_contact) v.Add(f, "stopIf needs a contact; a SCHEDULE workflow has none");
        break;
      case pb::NOTIFY:
        v.Text(f + ".title", s.title(), 200, true);
        v.Text(f + ".body", s.body(), 2000);
        break;
      case pb::WEBHOOK:
        // Sent as the Rapport-Event-Type header: empty (the default) or a
        // plain token, never anything that could end the header line.
        if (!s.event_type().empty() && !IsValidEventType(s.event_type())) v.Add(f + ".eventType", kEventTypeRule);
        break;
      default:
        v.Add(f + ".kind", "is required: WAIT, STOP_IF, NOTIFY or WEBHOOK");
    }
  }
  return v.ToStatus();
}

absl::Status CheckStepQuota(const pb::Workflow& workflow, const NotificationsQuotas& quotas) {
  if (workflow.steps_size() > quotas.steps_per_workflow) {
    return QuotaExceeded(kStepsPerWorkflow, quotas.steps_per_workflow, "steps per workflow");
  }
  return absl::OkStatus();
}

std::vector<pb::Workflow> BuiltinWorkflows() {
  std::vector<pb::Workflow> out;
  {
    pb::Workflow w = Builtin("thank_you", "Thank-you the day after a meeting", pb::INTERACTION_CREATED);
    w.mutable_trigger()->add_interaction_kinds(ipb::MEETING);
    *w.add_steps() = Wait(1, "09:00");
    *w.add_steps() =
        Notify("Say thank you to {{contact.displayName}}",
               "You met {{contact.displayName}} yesterday. A short thank-you keeps the conversation going.");
    out.push_back(std::move(w));
  }
  {
    // Any meeting or call, and a first conversation (a later one is part of
    // an ongoing exchange). The kinds are the user's to change (PATCH
    // trigger.interactionKinds / trigger.firstOnlyKinds).
    pb::Workflow w = Builtin("follow_up", "Follow up a week after a first conversation, a meeting or a call",
                             pb::INTERACTION_CREATED);
    for (ipb::InteractionKind k : {ipb::CONVERSATION, ipb::MEETING, ipb::CALL}) {
      w.mutable_trigger()->add_interaction_kinds(k);
    }
    w.mutable_trigger()->add_first_only_kinds(ipb::CONVERSATION);
    *w.add_steps() = Wait(7, "09:00");
    pb::Step stop;
    stop.set_kind(pb::STOP_IF);
    *w.add_steps() = stop;
    *w.add_steps() =
        Notify("Follow up with {{contact.displayName}}",
               "A week ago you talked with {{contact.displayName}} and nothing has happened since. Suggest a next "
               "step or a follow-up meeting.");
    out.push_back(std::move(w));
  }
  {
    pb::Workflow w = Builtin("birthday", "Birthday greeting on the day", pb::DATE_FIELD);
    w.mutable_trigger()->set_date_field("birthday");
    w.mutable_trigger()->set_local_time("09:00");
    *w.add_steps() = Notify("It is {{contact.displayName}}'s birthday", "Send {{contact.givenName}} a greeting today.");
    out.push_back(std::move(w));
  }
  {
    pb::Workflow w = Builtin("birthday_heads_up", "Birthday heads-up 7 days before", pb::DATE_FIELD);
    w.mutable_trigger()->set_date_field("birthday");
    w.mutable_trigger()->set_offset_days(-7);
    w.mutable_trigger()->set_local_time("09:00");
    *w.add_steps() = Notify("{{contact.displayName}}'s birthday is in 7 days ({{contact.birthday}})",
                            "Plan a greeting or a small gift.");
    out.push_back(std::move(w));
  }
  {
    pb::Workflow w = Builtin("overdue_digest", "Daily digest of overdue contacts", pb::SCHEDULE);
    w.mutable_trigger()->set_local_time("08:00");
    *w.add_steps() = Notify("{{overdue.count}} contacts are due for a catch-up", "{{overdue.names}}");
    out.push_back(std::move(w));
  }
  {
    pb::Workflow w = Builtin("give_back", "Give-back prompt when you owe a contact", pb::BALANCE_TIPPED);
    w.mutable_trigger()->set_balance_threshold(3);
    *w.add_steps() = Notify("Time to give back to {{contact.displayName}}",
                            "{{contact.displayName}} has given you more than you gave (balance {{ledger.balance}}). "
                            "They are looking for: {{contact.seeking}}.");
    out.push_back(std::move(w));
  }
  return out;
}

bool MatchesFilter(const pb::Filter& filter, const ppb::Contact* contact) {
  if (filter.tiers_size() == 0 && filter.tags_size() == 0) return true;
  if (contact == nullptr) return false;
  if (filter.tiers_size() > 0) {
    ppb::Tier tier = contact->tier() == ppb::TIER_UNSPECIFIED ? ppb::NETWORK : contact->tier();
    bool any = false;
    for (int t : filter.tiers()) any |= (t == tier);
    if (!any) return false;
  }
  if (filter.tags_size() > 0) {
    bool any = false;
    for (const std::string& want : filter.tags()) {
      for (const std::string& have : contact->tags()) any |= NormalizeKey(want) == NormalizeKey(have);
    }
    if (!any) return false;
  }
  return true;
}

TemplateVars ContactVars(const ppb::Contact& c) {
  TemplateVars vars;
  vars["contact.id"] = c.id();
  vars["contact.displayName"] = c.display_name();
  vars["contact.givenName"] = c.given_name().empty() ? c.display_name() : c.given_name();
  vars["contact.familyName"] = c.family_name();
  vars["contact.company"] = c.company();
  vars["contact.title"] = c.title();
  vars["contact.seeking"] = absl::StrJoin(c.seeking(), ", ");
  vars["contact.offering"] = absl::StrJoin(c.offering(), ", ");
  if (c.has_birthday() && c.birthday().month() != 0) {
    vars["contact.birthday"] = absl::StrFormat("%02d-%02d", c.birthday().month(), c.birthday().day());
  }
  return vars;
}

std::string Render(const std::string& text, const TemplateVars& vars) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(text, pos, open - pos);
    std::string name(absl::StripAsciiWhitespace(text.substr(open + 2, close - open - 2)));
    auto it = vars.find(name);
    if (it != vars.end()) out += it->second;
    pos = close + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

absl::StatusOr<std::vector<Effect>> Advance(const pb::Workflow& workflow, pb::WorkflowRun& run,
                                            const RunContext& context, absl::Time now) {
  std::vector<Effect> effects;
  if (IsOver(run)) return effects;
  // The world changed under the run: it ends before its next step.
  if (!workflow.enabled()) {
    End(run, pb::STOPPED, "the workflow was disabled", now);
    return effects;
  }
  if (context.contact_deleted) {
    End(run, pb::STOPPED, "the contact was deleted", now);
    return effects;
  }
  if (workflow.trigger().kind() == pb::SCHEDULE && workflow.builtin() == "overdue_digest") {
    auto count = context.vars.find("overdue.count");
    if (count != context.vars.end() && count->second == "0") {
      End(run, pb::COMPLETED, "no contact is overdue", now);
      return effects;
    }
  }
  // Waits count from when the previous wait was due, not from when a late
  // timer ran, so downtime does not shift the rest of the schedule.
  absl::Time base = now;
  if (run.next_step() == 0 && run.has_start_time()) {
    // The first wait counts from what started the run (e.g. the interaction
    // event), not from when this service got to it.
    base = std::min(now, FromMicros(TimestampToMicros(run.start_time())));
  }
  if (run.state() == pb::WAITING) {
    absl::Time wake = FromMicros(TimestampToMicros(run.wake_time()));
    if (now < wake) return absl::FailedPreconditionError("the run's wait is not over");
    base = wake;
    run.clear_wake_time();
  }
  run.set_state(pb::RUNNING);
  *run.mutable_update_time() = ToTimestamp(ToMicros(now));
  int64_t start_us = TimestampToMicros(run.start_time());
  while (run.next_step() < workflow.steps_size()) {
    int index = run.next_step();
    const pb::Step& step = workflow.steps(index);
    run.set_next_step(index + 1);
    switch (step.kind()) {
      case pb::WAIT: {
        absl::Time wake;
        if (step.has_duration() && step.duration().seconds() > 0) {
          wake = base + absl::Seconds(step.duration().seconds()) + absl::Nanoseconds(step.duration().nanos());
        } else {
          absl::StatusOr<int> minute = ParseLocalTime("localTime", step.local_time());
          if (!minute.ok()) return minute.status();
          wake = DaysLaterAt(base, step.days(), *minute, context.zone);
          // "Today at 09:00" already past: the step runs now rather than never.
        }
        AddRecord(run, index, pb::WAIT, now, absl::StrCat("waiting until ", absl::FormatTime(wake)));
        if (wake <= now) {
          base = wake;
          continue;
        }
        run.set_state(pb::WAITING);
        *run.mutable_wake_time() = ToTimestamp(ToMicros(wake));
        return effects;
      }
      case pb::STOP_IF: {
        if (run.contact_id().empty() || !context.interacted_since) {
          AddRecord(run, index, pb::STOP_IF, now, "no contact: continued");
          continue;
        }
        absl::StatusOr<bool> replied = context.interacted_since(start_us);
        if (!replied.ok()) return replied.status();
        if (*replied) {
          AddRecord(run, index, pb::STOP_IF, now, "stopped: an interaction was logged since the run began");
          run.set_state(pb::STOPPED);
          run.set_reason("an interaction with the contact was logged since the run began");
          return effects;
        }
        AddRecord(run, index, pb::STOP_IF, now, "no interaction since the run began: continued");
        continue;
      }
      case pb::NOTIFY: {
        Effect e{Effect::Kind::kNotify, index, Render(step.title(), context.vars), Render(step.body(), context.vars),
                 ""};
        effects.push_back(std::move(e));
        AddRecord(run, index, pb::NOTIFY, now, "notified");
        continue;
      }
      case pb::WEBHOOK: {
        Effect e{Effect::Kind::kWebhook, index, "", "",
                 step.event_type().empty() ? "workflow.step" : step.event_type()};
        effects.push_back(std::move(e));
        AddRecord(run, index, pb::WEBHOOK, now, "webhook event queued");
        continue;
      }
      default:
        run.set_state(pb::FAILED);
        run.set_reason(absl::StrCat("step ", index, " has no kind"));
        return effects;
    }
  }
  run.set_state(pb::COMPLETED);
  return effects;
}

void StopRunOfDeletedWorkflow(pb::WorkflowRun& run, absl::Time now) {
  if (IsOver(run)) return;
  End(run, pb::STOPPED, "the workflow was deleted", now);
  run.clear_wake_time();
}

}  // namespace rapport::notifications
