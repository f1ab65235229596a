// Workflow validation and stepping with an injected clock: waits (never
// early), stop conditions, local-time waits, templates and filters.
#include "services/notifications/workflow_engine.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"

namespace rapport::notifications {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone z;
  EXPECT_TRUE(absl::LoadTimeZone(name, &z)) << name;
  return z;
}

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

pb::Workflow FollowUp(absl::Duration wait) {
  pb::Workflow w;
  w.set_id("wf1");
  w.set_display_name("follow up");
  w.set_enabled(true);
  w.mutable_trigger()->set_kind(pb::INTERACTION_CREATED);
  pb::Step* s = w.add_steps();
  s->set_kind(pb::WAIT);
  s->mutable_duration()->set_seconds(absl::ToInt64Seconds(wait));
  w.add_steps()->set_kind(pb::STOP_IF);
  pb::Step* n = w.add_steps();
  n->set_kind(pb::NOTIFY);
  n->set_title("Follow up with {{contact.displayName}}");
  n->set_body("{{ contact.givenName }} at {{contact.company}}{{unknown}}");
  return w;
}

pb::WorkflowRun NewRun(absl::Time start) {
  pb::WorkflowRun run;
  run.set_id("run1");
  run.set_contact_id("c1");
  run.set_state(pb::RUNNING);
  *run.mutable_start_time() = ToTimestamp(ToMicros(start));
  return run;
}

TEST(WorkflowEngine, WaitsThenNotifiesNeverEarly) {
  absl::Time t0 = Utc(2026, 5, 1, 10, 0);
  pb::Workflow w = FollowUp(absl::Hours(48));
  pb::WorkflowRun run = NewRun(t0);
  RunContext ctx;
  ctx.vars = {{"contact.displayName", "Ada Lovelace"}, {"contact.givenName", "Ada"}, {"contact.company", "AE"}};
  int asked = 0;
  ctx.interacted_since = [&](int64_t since) -> absl::StatusOr<bool> {
    ++asked;
    EXPECT_EQ(since, ToMicros(t0));
    return false;
  };
  auto effects = Advance(w, run, ctx, t0);
  ASSERT_TRUE(effects.ok());
  EXPECT_TRUE(effects->empty());
  EXPECT_EQ(run.state(), pb::WAITING);
  EXPECT_EQ(FromMicros(TimestampToMicros(run.wake_time())), t0 + absl::Hours(48));
  // One second early: refused, nothing happens.
  pb::WorkflowRun early = run;
  EXPECT_EQ(Advance(w, early, ctx, t0 + absl::Hours(48) - absl::Seconds(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Late by a day (downtime): runs now, once.
  effects = Advance(w, run, ctx, t0 + absl::Hours(72));
  ASSERT_TRUE(effects.ok());
  ASSERT_EQ(effects->size(), 1u);
  EXPECT_EQ((*effects)[0].step, 2);
  EXPECT_EQ((*effects)[0].title, "Follow up with Ada Lovelace");
  EXPECT_EQ((*effects)[0].body, "Ada at AE");
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(run.state(), pb::COMPLETED);
  EXPECT_EQ(run.history_size(), 3);
  // A completed run does nothing more.
  effects = Advance(w, run, ctx, t0 + absl::Hours(100));
  ASSERT_TRUE(effects.ok());
  EXPECT_TRUE(effects->empty());
}

TEST(WorkflowEngine, StopsWhenTheContactReplied) {
  absl::Time t0 = Utc(2026, 5, 1, 10, 0);
  pb::Workflow w = FollowUp(absl::Hours(1));
  pb::WorkflowRun run = NewRun(t0);
  RunContext ctx;
  ctx.interacted_since = [](int64_t) -> absl::StatusOr<bool> { return true; };
  ASSERT_TRUE(Advance(w, run, ctx, t0).ok());
  auto effects = Advance(w, run, ctx, t0 + absl::Hours(1));
  ASSERT_TRUE(effects.ok());
  EXPECT_TRUE(effects->empty());
  EXPECT_EQ(run.state(), pb::STOPPED);
  EXPECT_NE(run.reason().find("interaction"), std::string::npos);
}

TEST(WorkflowEngine, LocalTimeWaitsUseTheUsersZoneAndChainFromTheWakeTime) {
  absl::TimeZone paris = Zone("Europe/Paris");
  pb::Workflow w;
  w.set_display_name("thanks");
  w.set_enabled(true);
  w.mutable_trigger()->set_kind(pb::INTERACTION_CREATED);
  pb::Step* s = w.add_steps();
  s->set_kind(pb::WAIT);
  s->set_days(1);
  s->set_local_time("09:00");
  pb::Step* s2 = w.add_steps();
  s2->set_kind(pb::WAIT);
  s2->mutable_duration()->set_seconds(3600);
  w.add_steps()->set_kind(pb::WEBHOOK);
  ASSERT_TRUE(ValidateWorkflow(w).ok()) << ValidateWorkflow(w);
  absl::Time t0 = Utc(2026, 3, 28, 22, 30);  // 23:30 in Paris, the night of the change
  pb::WorkflowRun run = NewRun(t0);
  RunContext ctx;
  ctx.zone = paris;
  ASSERT_TRUE(Advance(w, run, ctx, t0).ok());
  EXPECT_EQ(FromMicros(TimestampToMicros(run.wake_time())), Utc(2026, 3, 29, 7, 0));  // 09:00 CEST
  // Resumed 10 minutes late: the hour counts from 09:00, not from 09:10.
  ASSERT_TRUE(Advance(w, run, ctx, Utc(2026, 3, 29, 7, 10)).ok());
  EXPECT_EQ(FromMicros(TimestampToMicros(run.wake_time())), Utc(2026, 3, 29, 8, 0));
  auto effects = Advance(w, run, ctx, Utc(2026, 3, 29, 8, 0));
  ASSERT_TRUE(effects.ok());
  ASSERT_EQ(effects->size(), 1u);
  EXPECT_EQ((*effects)[0].kind, Effect::Kind::kWebhook);
  EXPECT_EQ((*effects)[0].event_type, "workflow.step");
}

TEST(WorkflowEngine, ValidationNamesEveryField) {
  pb::Workflow w;
  w.mutable_trigger()->set_local_time("25:00");
  w.mutable_filter()->add_tiers(ppb::TIER_UNSPECIFIED);
  pb::Step* s = w.add_steps();
  s->set_kind(pb::WAIT);
  w.add_steps()->set_kind(pb::NOTIFY);
  w.add_steps();
  absl::Status st = ValidateWorkflow(w);
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  for (const char* field :
       {"workflow.displayName", "workflow.trigger.kind", "workflow.trigger.localTime", "workflow.filter.tiers[0]",
        "workflow.steps[0]", "workflow.steps[1].title", "workflow.steps[2].kind"}) {
    EXPECT_NE(st.message().find(absl::StrCat(field, ":")), std::string::npos) << field << " in " << st.message();
  }
  pb::Workflow sched;
  sched.set_display_name("digest");
  sched.mutable_trigger()->set_kind(pb::SCHEDULE);
  sched.add_steps()->set_kind(pb::STOP_IF);
  EXPECT_NE(ValidateWorkflow(sched).message().find("workflow.steps[0]:"), std::string::npos);
}

// The reproduced attack: a WEBHOOK step whose event type would end the
// Rapport-Event-Type header line and add one. Refused at create, naming the
// step's field; a plain type and the default (empty) pass.
TEST(WorkflowEngine, AWebhookEventTypeIsAPlainToken) {
  pb::Workflow w;
  w.set_display_name("hook");
  w.mutable_trigger()->set_kind(pb::MANUAL);
  w.add_steps()->set_kind(pb::WEBHOOK);
  w.add_steps()->set_kind(pb::WEBHOOK);
  w.mutable_steps(1)->set_event_type("deal.won");
  EXPECT_TRUE(ValidateWorkflow(w).ok()) << ValidateWorkflow(w);
  for (const std::string& bad :
       std::vector<std::string>{"x\r\nX-Injected: yes", "Deal.Won", "deal won", std::string(65, 'a')}) {
    w.mutable_steps(1)->set_event_type(bad);
    absl::Status st = ValidateWorkflow(w);
    ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("workflow.steps[1].eventType:"), std::string::npos) << st.message();
  }
}

TEST(WorkflowEngine, BuiltinsAreValid) {
  std::vector<pb::Workflow> builtins = BuiltinWorkflows();
  ASSERT_EQ(builtins.size(), 6u);
  std::set<std::string> keys;
  for (const pb::Workflow& w : builtins) {
    EXPECT_TRUE(ValidateWorkflow(w).ok()) << w.builtin() << ": " << ValidateWorkflow(w);
    EXPECT_TRUE(w.enabled());
    keys.insert(w.builtin());
  }
  EXPECT_EQ(keys, (std::set<std::string>{"thank_you", "follow_up", "birthday", "birthday_heads_up", "overdue_digest",
                                         "give_back"}));
}

// The built-in follow-up covers first conversations, meetings and calls;
// first-only kinds are validated against the trigger's kinds.
TEST(WorkflowEngine, FollowUpKindsAreConfigurableAndValidated) {
  pb::Workflow builtin;
  for (const pb::Workflow& w : BuiltinWorkflows()) {
    if (w.builtin() == "follow_up") builtin = w;
  }
  const pb::Trigger& t = builtin.trigger();
  EXPECT_EQ(std::vector<int>(t.interaction_kinds().begin(), t.interaction_kinds().end()),
            (std::vector<int>{ipb::CONVERSATION, ipb::MEETING, ipb::CALL}));
  EXPECT_EQ(std::vector<int>(t.first_only_kinds().begin(), t.first_only_kinds().end()),
            (std::vector<int>{ipb::CONVERSATION}));
  EXPECT_FALSE(t.first_interaction_only());

  pb::Workflow w = FollowUp(absl::Hours(1));
  w.mutable_trigger()->add_interaction_kinds(ipb::MEETING);
  w.mutable_trigger()->add_first_only_kinds(ipb::MEETING);
  EXPECT_TRUE(ValidateWorkflow(w).ok());
  w.mutable_trigger()->add_first_only_kinds(ipb::CALL);
  w.mutable_trigger()->add_first_only_kinds(static_cast<ipb::InteractionKind>(99));
  absl::Status s = ValidateWorkflow(w);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("workflow.trigger.firstOnlyKinds[1]: must be one of trigger.interactionKinds"),
            absl::string_view::npos)
      << s;
  EXPECT_NE(s.message().find("workflow.trigger.firstOnlyKinds[2]: is not an interaction kind"), absl::string_view::npos)
      << s;
  pb::Workflow manual = FollowUp(absl::Hours(1));
  manual.mutable_trigger()->set_kind(pb::MANUAL);
  manual.mutable_trigger()->add_first_only_kinds(ipb::CALL);
  EXPECT_NE(ValidateWorkflow(manual).message().find("is only for an INTERACTION_CREATED trigger"),
            absl::string_view::npos);
}

TEST(WorkflowEngine, FiltersByTierAndTag) {
  ppb::Contact c;
  c.set_tier(ppb::INNER);
  c.add_tags("Mentor");
  pb::Filter any;
  EXPECT_TRUE(MatchesFilter(any, &c));
  EXPECT_TRUE(MatchesFilter(any, nullptr));
  pb::Filter tier;
  tier.add_tiers(ppb::CLOSE);
  EXPECT_FALSE(MatchesFilter(tier, &c));
  tier.add_tiers(ppb::INNER);
  EXPECT_TRUE(MatchesFilter(tier, &c));
  EXPECT_FALSE(MatchesFilter(tier, nullptr));
  pb::Filter tag;
  tag.add_tags("mentor ");
  EXPECT_TRUE(MatchesFilter(tag, &c));
  tag.set_tags(0, "investor");
  EXPECT_FALSE(MatchesFilter(tag, &c));
  ppb::Contact untiered;  // no tier means NETWORK
  pb::Filter network;
  network.add_tiers(ppb::NETWORK);
  EXPECT_TRUE(MatchesFilter(network, &untiered));
}

TEST(WorkflowEngine, EndsARunWhoseWorldChangedBeforeAnyStep) {
  absl::Time t0 = Utc(2026, 5, 1, 10, 0);
  absl::Time later = t0 + absl::Hours(2);
  RunContext ctx;
  ctx.interacted_since = [](int64_t) -> absl::StatusOr<bool> { return false; };
  struct Case {
    std::string what;
    std::function<void(pb::Workflow&, RunContext&)> change;
    pb::RunState state;
    std::string reason;
  };
  const Case cases[] = {
      {"disabled", [](pb::Workflow& w, RunContext&) { w.set_enabled(false); }, pb::STOPPED,
       "the workflow was disabled"},
      {"contact deleted", [](pb::Workflow&, RunContext& c) { c.contact_deleted = true; }, pb::STOPPED,
       "the contact was deleted"},
  };
  for (const Case& c : cases) {
    pb::Workflow w = FollowUp(absl::Hours(1));
    pb::WorkflowRun run = NewRun(t0);
    RunContext changed = ctx;
    ASSERT_TRUE(Advance(w, run, changed, t0).ok());
    ASSERT_EQ(run.state(), pb::WAITING);
    c.change(w, changed);
    auto effects = Advance(w, run, changed, later);
    ASSERT_TRUE(effects.ok()) << c.what;
    EXPECT_TRUE(effects->empty()) << c.what;
    EXPECT_EQ(run.state(), c.state) << c.what;
    EXPECT_EQ(run.reason(), c.reason) << c.what;
    EXPECT_EQ(run.history_size(), 1) << c.what;  // the wait only: no step ran
    EXPECT_EQ(FromMicros(TimestampToMicros(run.update_time())), later) << c.what;
  }
}

TEST(WorkflowEngine, TheOverdueDigestSaysNothingWhenNobodyIsOverdue) {
  absl::Time t0 = Utc(2026, 5, 1, 8, 0);
  pb::Workflow digest;
  for (const pb::Workflow& w : BuiltinWorkflows()) {
    if (w.builtin() == "overdue_digest") digest = w;
  }
  ASSERT_EQ(digest.builtin(), "overdue_digest");
  RunContext ctx;
  ctx.vars = {{"overdue.count", "0"}, {"overdue.names", ""}};
  pb::WorkflowRun run;
  run.set_state(pb::RUNNING);
  auto effects = Advance(digest, run, ctx, t0);
  ASSERT_TRUE(effects.ok());
  EXPECT_TRUE(effects->empty());
  EXPECT_EQ(run.state(), pb::COMPLETED);
  EXPECT_EQ(run.reason(), "no contact is overdue");
  EXPECT_EQ(run.history_size(), 0);
  // Somebody overdue: the digest names them.
  ctx.vars = {{"overdue.count", "2"}, {"overdue.names", "Ada, Bob"}};
  run = pb::WorkflowRun();
  run.set_state(pb::RUNNING);
  effects = Advance(digest, run, ctx, t0);
  ASSERT_TRUE(effects.ok());
  ASSERT_EQ(effects->size(), 1u);
  EXPECT_EQ((*effects)[0].title, "2 contacts are due for a catch-up");
  EXPECT_EQ((*effects)[0].body, "Ada, Bob");
  EXPECT_EQ(run.state(), pb::COMPLETED);
  EXPECT_TRUE(run.reason().empty());
  // A schedule of the user's own is not the digest: it runs with nobody overdue.
  digest.clear_builtin();
  ctx.vars = {{"overdue.count", "0"}};
  run = pb::WorkflowRun();
  run.set_state(pb::RUNNING);
  effects = Advance(digest, run, ctx, t0);
  ASSERT_TRUE(effects.ok());
  EXPECT_EQ(effects->size(), 1u);
}

TEST(WorkflowEngine, ARunOfADeletedWorkflowStopsWithoutAWakeTime) {
  absl::Time t0 = Utc(2026, 5, 1, 10, 0);
  pb::Workflow w = FollowUp(absl::Hours(1));
  pb::WorkflowRun run = NewRun(t0);
  RunContext ctx;
  ASSERT_TRUE(Advance(w, run, ctx, t0).ok());
  ASSERT_TRUE(run.has_wake_time());
  StopRunOfDeletedWorkflow(run, t0 + absl::Minutes(5));
  EXPECT_EQ(run.state(), pb::STOPPED);
  EXPECT_EQ(run.reason(), "the workflow was deleted");
  EXPECT_FALSE(run.has_wake_time());
  EXPECT_EQ(FromMicros(TimestampToMicros(run.update_time())), t0 + absl::Minutes(5));
  // A run that was over stays as it ended.
  pb::WorkflowRun done = NewRun(t0);
  done.set_state(pb::COMPLETED);
  StopRunOfDeletedWorkflow(done, t0);
  EXPECT_EQ(done.state(), pb::COMPLETED);
  EXPECT_TRUE(done.reason().empty());
}

}  // namespace
}  // namespace rapport::notifications
