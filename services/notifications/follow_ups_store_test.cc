// Store and scheduler tests, on both drivers with an injected clock, of what
// issue 19 added to notifications: repeating reminders (each occurrence
// fires once, at 09:00 local across DST, durably across a crash, the series
// ending at COUNT), follow-ups from an interaction's followUpAt (fired,
// cleared by a later interaction, moved, cancelled), and the built-in
// follow-up's kinds (meetings and calls as well as first conversations).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/notifications_rows.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/scheduler.h"
#include "tests/testing/await.h"
#include "tests/testing/harness.h"
#include "tests/testing/test_database.h"

namespace rapport::notifications {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using ::rapport::testing::Await;

constexpr int64_t kNoQuota = int64_t{1} << 40;

absl::Time Local(const char* zone, int y, int m, int d, int hh, int mm) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(zone, &tz));
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), tz);
}

class IssueNineteenStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    now_ = ToMicros(Local("UTC", 2026, 3, 1, 12, 0));
    auto options = rapport::testing::TestDatabase(GetParam(), "notifications");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    auto s = NotificationsStore::Open(*options, [this] { return FromMicros(now_.load()); });
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  void SetNow(absl::Time t) { now_ = ToMicros(t); }
  absl::Time Now() const { return FromMicros(now_.load()); }

  std::unique_ptr<Scheduler> NewScheduler(const std::string& replica) {
    SchedulerOptions o;
    o.replica = replica;
    return std::make_unique<Scheduler>(store_.get(), o, [this] { return FromMicros(now_.load()); });
  }

  int Drain(Scheduler& s) {
    int total = 0;
    for (;;) {
      absl::StatusOr<int> n = s.FireDueOnce();
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) return total;
      total += *n;
    }
  }

  void Apply(events::v1::Event e) {
    if (e.id().empty()) e.set_id(NewId());
    if (!e.has_time()) *e.mutable_time() = ToTimestamp(now_.load());
    absl::Status s = store_->db().Write([&](db::Connection& c) { return store_->ApplyEvent(c, e); });
    ASSERT_TRUE(s.ok()) << s;
  }

  events::v1::Event NewEvent(const Owner& o, const std::string& type) {
    events::v1::Event e;
    e.set_type(type);
    e.set_org_id(o.org);
    e.set_user_id(o.user);
    return e;
  }

  void UserCreated(const Owner& o, const std::string& zone) {
    events::v1::Event e = NewEvent(o, "user.created");
    e.mutable_user()->mutable_user()->set_id(o.user);
    e.mutable_user()->mutable_user()->set_timezone(zone);
    Apply(e);
  }

  void Contact(const Owner& o, const std::string& id, const std::string& name) {
    events::v1::Event e = NewEvent(o, "contact.created");
    e.mutable_contact()->mutable_contact()->set_id(id);
    e.mutable_contact()->mutable_contact()->set_display_name(name);
    Apply(e);
  }

  // An interaction event; follow_up unset when zero.
  ipb::Interaction InteractionEvent(const Owner& o, const std::string& type, ipb::Interaction i,
                                    std::vector<std::string> changed = {}) {
    events::v1::Event e = NewEvent(o, type);
    *e.mutable_interaction() = i;
    for (const std::string& p : changed) e.mutable_changed()->add_paths(p);
    Apply(e);
    return i;
  }

  ipb::Interaction NewInteraction(const std::string& contact, ipb::InteractionKind kind, const std::string& summary,
                                  absl::Time follow_up = absl::InfinitePast()) {
    ipb::Interaction i;
    i.set_id(NewId());
    i.set_kind(kind);
    i.add_contact_ids(contact);
    i.set_summary(summary);
    *i.mutable_occurred_at() = ToTimestamp(now_.load());
    if (follow_up != absl::InfinitePast()) *i.mutable_follow_up_at() = ToTimestamp(ToMicros(follow_up));
    return i;
  }

  std::vector<pb::Notification> Inbox(const Owner& o) {
    auto rows = store_->ListNotifications(o, pb::ListNotificationsRequest::ALL, 0, 500);
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<pb::Notification> out;
    if (rows.ok()) {
      for (auto& [seq, n] : *rows) out.push_back(n);
    }
    return out;
  }

  std::vector<pb::Notification> OfKind(const Owner& o, const std::string& kind) {
    std::vector<pb::Notification> out;
    for (const auto& n : Inbox(o)) {
      if (n.kind() == kind) out.push_back(n);
    }
    return out;
  }

  pb::Workflow Builtin(const Owner& o, const std::string& key) {
    auto all = Await<std::vector<pb::Workflow>>(
        [&](Done<std::vector<pb::Workflow>> d) { store_->ListWorkflows(o, "", 100, d); });
    EXPECT_TRUE(all.ok());
    for (const auto& w : *all) {
      if (w.builtin() == key) return w;
    }
    ADD_FAILURE() << "no builtin " << key;
    return pb::Workflow();
  }

  std::atomic<int64_t> now_{0};
  std::unique_ptr<NotificationsStore> store_;
};

std::vector<absl::Time> Times(const pb::Reminder& r) {
  std::vector<absl::Time> out;
  for (const auto& t : r.next_occurrences()) out.push_back(FromMicros(TimestampToMicros(t)));
  return out;
}

TEST_P(IssueNineteenStoreTest, RepeatingReminderFiresEachOccurrenceOnceAtNineLocalAcrossDst) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "America/New_York");
  const char* ny = "America/New_York";
  pb::Reminder r;
  r.set_id(NewId());
  r.set_note("weekly review");
  r.set_state(pb::PENDING);
  r.set_recurrence("FREQ=WEEKLY;COUNT=3");
  *r.mutable_due_time() = ToTimestamp(ToMicros(Local(ny, 2026, 3, 2, 9, 0)));  // EST
  *r.mutable_start_time() = r.due_time();
  ASSERT_TRUE(Await<pb::Reminder>([&](Done<pb::Reminder> d) {
                store_->CreateReminder(alice, r, IdempotencyScope{}, pb::CreateReminderRequest(), false, kNoQuota, d);
              }).ok());
  auto shown = store_->GetReminder(alice, r.id());
  ASSERT_TRUE(shown.ok()) << shown.status();
  // COUNT=3: three occurrences, the second and third in EDT, all at 09:00 local.
  EXPECT_EQ(Times(*shown), (std::vector<absl::Time>{Local(ny, 2026, 3, 2, 9, 0), Local(ny, 2026, 3, 9, 9, 0),
                                                    Local(ny, 2026, 3, 16, 9, 0)}));
  EXPECT_EQ(Local(ny, 2026, 3, 9, 9, 0), Local("UTC", 2026, 3, 9, 13, 0));
  auto sched = NewScheduler("r1");
  // (Drain fires the built-in daily digest's timers too; they say nothing.)
  SetNow(Local(ny, 2026, 3, 2, 9, 0));
  Drain(*sched);
  ASSERT_EQ(OfKind(alice, "reminder").size(), 1u);
  shown = store_->GetReminder(alice, r.id());
  EXPECT_EQ(shown->state(), pb::PENDING);
  EXPECT_EQ(shown->fired_count(), 1);
  EXPECT_EQ(FromMicros(TimestampToMicros(shown->due_time())), Local(ny, 2026, 3, 9, 9, 0));
  // Not a second early.
  SetNow(Local(ny, 2026, 3, 9, 9, 0) - absl::Seconds(1));
  Drain(*sched);
  ASSERT_EQ(OfKind(alice, "reminder").size(), 1u);
  // A replica claims the second occurrence and dies (kill -9) before firing it;
  // its restart fires it once, and the dead incarnation's late fire does nothing.
  SetNow(Local(ny, 2026, 3, 9, 9, 0));
  auto dead = store_->Claim("r1/dead", Now(), absl::Seconds(30), 10, false);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].kind, TimerKind::kReminder);
  auto other = NewScheduler("r2");
  Drain(*other);  // leased by r1's dead incarnation: nothing
  ASSERT_EQ(OfKind(alice, "reminder").size(), 1u);
  ASSERT_TRUE(store_->ReleaseLeases("r1").ok());
  Drain(*sched);
  for (const TimerRow& t : *dead) {
    EXPECT_TRUE(rapport::testing::AwaitStatus([&](DoneStatus d) { store_->FireTimer(t, "r1/dead", Now(), d); }).ok());
  }
  EXPECT_EQ(OfKind(alice, "reminder").size(), 2u);
  SetNow(Local(ny, 2026, 3, 16, 9, 0));
  Drain(*sched);
  Drain(*other);
  EXPECT_EQ(OfKind(alice, "reminder").size(), 3u);
  // COUNT ended the series.
  SetNow(Local(ny, 2026, 6, 1, 9, 0));
  Drain(*sched);
  std::vector<pb::Notification> fired = OfKind(alice, "reminder");
  ASSERT_EQ(fired.size(), 3u);
  shown = store_->GetReminder(alice, r.id());
  EXPECT_EQ(shown->state(), pb::FIRED);
  EXPECT_EQ(shown->fired_count(), 3);
  EXPECT_EQ(shown->next_occurrences_size(), 0);
  EXPECT_EQ(shown->notification_id(), fired[0].id());  // newest first: the last occurrence's
  // Another org's user with the same name cannot read it.
  EXPECT_EQ(store_->GetReminder(Owner{"org2", "alice"}, r.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetReminder(Owner{"org1", "bob"}, r.id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(IssueNineteenStoreTest, FiveNextOccurrencesOfAnEndlessSeriesAndMonthlyOnThe31st) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "Europe/Berlin");
  const char* berlin = "Europe/Berlin";
  pb::Reminder r;
  r.set_id(NewId());
  r.set_state(pb::PENDING);
  r.set_recurrence("FREQ=MONTHLY");
  *r.mutable_due_time() = ToTimestamp(ToMicros(Local(berlin, 2026, 3, 31, 8, 0)));
  *r.mutable_start_time() = r.due_time();
  ASSERT_TRUE(Await<pb::Reminder>([&](Done<pb::Reminder> d) {
                store_->CreateReminder(alice, r, IdempotencyScope{}, pb::CreateReminderRequest(), false, kNoQuota, d);
              }).ok());
  auto shown = store_->GetReminder(alice, r.id());
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(Times(*shown), (std::vector<absl::Time>{Local(berlin, 2026, 3, 31, 8, 0), Local(berlin, 2026, 5, 31, 8, 0),
                                                    Local(berlin, 2026, 7, 31, 8, 0), Local(berlin, 2026, 8, 31, 8, 0),
                                                    Local(berlin, 2026, 10, 31, 8, 0)}));
  // Down for the whole of April and May: one notification for what was
  // missed, and the series goes on from now (July), not from May.
  auto sched = NewScheduler("r1");
  SetNow(Local(berlin, 2026, 6, 15, 12, 0));
  Drain(*sched);
  EXPECT_EQ(OfKind(alice, "reminder").size(), 1u);
  shown = store_->GetReminder(alice, r.id());
  EXPECT_EQ(FromMicros(TimestampToMicros(shown->due_time())), Local(berlin, 2026, 7, 31, 8, 0));
  EXPECT_EQ(shown->state(), pb::PENDING);
}

TEST_P(IssueNineteenStoreTest, FollowUpFiresAtItsTimeWithTheContactAndSummary) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  Contact(alice, "bob", "Bob Martin");
  ipb::Interaction i = InteractionEvent(alice, "interaction.created",
                                        NewInteraction("bob", ipb::EMAIL, "Sent the deck", Now() + absl::Hours(48)));
  auto sched = NewScheduler("r1");
  SetNow(Now() + absl::Hours(48) - absl::Seconds(1));
  Drain(*sched);
  EXPECT_TRUE(OfKind(alice, "follow_up").empty());
  SetNow(Now() + absl::Seconds(1));
  Drain(*sched);
  std::vector<pb::Notification> got = OfKind(alice, "follow_up");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].contact_id(), "bob");
  EXPECT_EQ(got[0].interaction_id(), i.id());
  EXPECT_EQ(got[0].title(), "Follow up with Bob Martin");
  EXPECT_EQ(got[0].body(), "Email on 2026-03-01: Sent the deck");
  // Another org's user sees nothing.
  EXPECT_TRUE(Inbox(Owner{"org2", "alice"}).empty());
  SetNow(Now() + absl::Hours(24 * 30));
  Drain(*sched);
  EXPECT_EQ(OfKind(alice, "follow_up").size(), 1u);
}

TEST_P(IssueNineteenStoreTest, ALaterInteractionWithTheContactClearsTheFollowUp) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  Contact(alice, "bob", "Bob");
  Contact(alice, "carol", "Carol");
  ipb::Interaction both = NewInteraction("bob", ipb::EMAIL, "intro", Now() + absl::Hours(24));
  both.add_contact_ids("carol");
  InteractionEvent(alice, "interaction.created", both);
  SetNow(Now() + absl::Hours(1));
  InteractionEvent(alice, "interaction.created", NewInteraction("bob", ipb::MESSAGE, "replied"));
  auto sched = NewScheduler("r1");
  SetNow(Now() + absl::Hours(48));
  Drain(*sched);
  std::vector<pb::Notification> got = OfKind(alice, "follow_up");
  ASSERT_EQ(got.size(), 1u);  // carol's only: bob was heard from since
  EXPECT_EQ(got[0].contact_id(), "carol");
}

TEST_P(IssueNineteenStoreTest, MovingOrClearingFollowUpAtMovesOrCancelsIt) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  Contact(alice, "bob", "Bob");
  const absl::Time start = Now();
  ipb::Interaction i =
      InteractionEvent(alice, "interaction.created", NewInteraction("bob", ipb::CALL, "call", start + absl::Hours(2)));
  // Moved to 5 hours: nothing at 2, one at 5.
  *i.mutable_follow_up_at() = ToTimestamp(ToMicros(start + absl::Hours(5)));
  InteractionEvent(alice, "interaction.updated", i, {"follow_up_at", "update_time"});
  // An update of something else leaves it be.
  i.set_direction(ipb::GAVE);
  InteractionEvent(alice, "interaction.updated", i, {"direction", "update_time"});
  auto sched = NewScheduler("r1");
  SetNow(start + absl::Hours(3));
  Drain(*sched);
  EXPECT_TRUE(OfKind(alice, "follow_up").empty());
  SetNow(start + absl::Hours(5));
  Drain(*sched);
  EXPECT_EQ(OfKind(alice, "follow_up").size(), 1u);
  // Another interaction's follow-up cleared, and a third one deleted: neither fires.
  ipb::Interaction j =
      InteractionEvent(alice, "interaction.created", NewInteraction("bob", ipb::CALL, "j", start + absl::Hours(8)));
  j.clear_follow_up_at();
  InteractionEvent(alice, "interaction.updated", j, {"follow_up_at"});
  SetNow(start + absl::Hours(6));
  ipb::Interaction k =
      InteractionEvent(alice, "interaction.created", NewInteraction("bob", ipb::CALL, "k", start + absl::Hours(9)));
  InteractionEvent(alice, "interaction.deleted", k);
  SetNow(start + absl::Hours(24));
  Drain(*sched);
  EXPECT_EQ(OfKind(alice, "follow_up").size(), 1u);
}

// The built-in follow-up starts on every meeting and call, and on a first
// conversation (a second conversation starts nothing).
TEST_P(IssueNineteenStoreTest, BuiltinFollowUpCoversMeetingsAndCalls) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  for (const char* id : {"bob", "carol", "dave"}) Contact(alice, id, id);
  pb::Workflow follow = Builtin(alice, "follow_up");
  InteractionEvent(alice, "interaction.created", NewInteraction("bob", ipb::CONVERSATION, "first"));
  InteractionEvent(alice, "interaction.created", NewInteraction("bob", ipb::CONVERSATION, "second"));
  InteractionEvent(alice, "interaction.created", NewInteraction("carol", ipb::MEETING, "coffee"));
  InteractionEvent(alice, "interaction.created", NewInteraction("carol", ipb::MEETING, "lunch"));
  InteractionEvent(alice, "interaction.created", NewInteraction("dave", ipb::CALL, "call"));
  InteractionEvent(alice, "interaction.created", NewInteraction("dave", ipb::EMAIL, "mail"));
  auto runs = store_->ListRuns(alice, follow.id(), "", 20);
  ASSERT_TRUE(runs.ok());
  std::map<std::string, int> by_contact;
  for (const auto& r : *runs) ++by_contact[r.contact_id()];
  EXPECT_EQ(by_contact, (std::map<std::string, int>{{"bob", 1}, {"carol", 2}, {"dave", 1}}));
}

// A user whose built-ins predate meetings and calls (version 1) gets them
// at their next event; a follow-up the user changed stays theirs.
TEST_P(IssueNineteenStoreTest, OlderBuiltinFollowUpIsUpgradedUnlessTheUserChangedIt) {
  Owner alice{"org1", "alice"}, bob{"org1", "bob"};
  for (const Owner& o : {alice, bob}) {
    UserCreated(o, "UTC");
    Contact(o, "carol", "Carol");
  }
  // Both as version 1 left them; Bob had made his his own (calls only).
  for (const Owner& o : {alice, bob}) {
    pb::Workflow old = Builtin(o, "follow_up");
    old.mutable_trigger()->clear_interaction_kinds();
    old.mutable_trigger()->clear_first_only_kinds();
    old.mutable_trigger()->add_interaction_kinds(o.user == "bob" ? ipb::CALL : ipb::CONVERSATION);
    old.mutable_trigger()->set_first_interaction_only(true);
    ASSERT_TRUE(store_->db()
                    .Write([&](db::Connection& c) -> absl::Status {
                      RETURN_IF_ERROR(WriteWorkflow(c, o, old));
                      return c.Prepare("UPDATE users SET seeded = 1 WHERE org_id = ? AND user_id = ?")
                          .Bind(1, o.org)
                          .Bind(2, o.user)
                          .Run();
                    })
                    .ok());
  }
  for (const Owner& o : {alice, bob}) {
    InteractionEvent(o, "interaction.created", NewInteraction("carol", ipb::MEETING, "coffee"));
  }
  pb::Workflow upgraded = Builtin(alice, "follow_up");
  EXPECT_EQ(upgraded.trigger().interaction_kinds_size(), 3) << upgraded.DebugString();
  EXPECT_FALSE(upgraded.trigger().first_interaction_only());
  auto runs = store_->ListRuns(alice, upgraded.id(), "", 20);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u) << "the meeting started the upgraded follow-up";
  pb::Workflow kept = Builtin(bob, "follow_up");
  ASSERT_EQ(kept.trigger().interaction_kinds_size(), 1);
  EXPECT_EQ(kept.trigger().interaction_kinds(0), ipb::CALL);
  runs = store_->ListRuns(bob, kept.id(), "", 20);
  ASSERT_TRUE(runs.ok());
  EXPECT_TRUE(runs->empty());
}

INSTANTIATE_TEST_SUITE_P(Drivers, IssueNineteenStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::notifications
