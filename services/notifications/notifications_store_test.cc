// Store and scheduler tests on a real SQLite file with an injected clock:
// timers fire once, at or after their due time, across crashes and replicas;
// workflows started by events wait, notify, and stop on reply, or when their
// workflow or contact goes; birthdays yearly; snooze; webhook bodies and
// attempts; tenant scoping.
#include "services/notifications/notifications_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/crypto.h"
#include "services/common/erasure.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/delivery_store.h"
#include "services/notifications/domain_events.h"
#include "services/notifications/milestones.h"
#include "services/notifications/notifications_erasure.h"
#include "services/notifications/scheduler.h"
#include "tests/testing/await.h"
#include "tests/testing/harness.h"
#include "tests/testing/http_receiver.h"
#include "tests/testing/test_database.h"

namespace rapport::notifications {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

// A quota no test meets, for tests about something else.
constexpr int64_t kNoQuota = int64_t{1} << 40;

absl::Time Utc(int y, int m, int d, int hh, int mm, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), absl::UTCTimeZone());
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

// Every test runs against both drivers of the database layer.
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    now_ = ToMicros(Utc(2026, 3, 27, 12, 0));
    auto options = rapport::testing::TestDatabase(GetParam(), "notifications");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    auto s = NotificationsStore::Open(*options, TestClock());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  db::Options options_;

  Clock TestClock() {
    return [this] { return FromMicros(now_.load()); };
  }
  void SetNow(absl::Time t) { now_ = ToMicros(t); }
  absl::Time Now() const { return FromMicros(now_.load()); }

  std::unique_ptr<Scheduler> NewScheduler(const std::string& replica) {
    SchedulerOptions o;
    o.replica = replica;
    o.batch = 128;
    return std::make_unique<Scheduler>(store_.get(), o, TestClock());
  }

  // Fires until nothing more is due; returns how many fired.
  int Drain(Scheduler& s) {
    int total = 0;
    while (true) {
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

  void UserCreated(const Owner& o, const std::string& zone) {
    events::v1::Event e;
    e.set_type("user.created");
    e.set_org_id(o.org);
    e.set_user_id(o.user);
    e.mutable_user()->mutable_user()->set_id(o.user);
    e.mutable_user()->mutable_user()->set_timezone(zone);
    Apply(e);
  }

  void ContactEvent(const Owner& o, const ppb::Contact& c, const std::string& type = "contact.created") {
    events::v1::Event e;
    e.set_type(type);
    e.set_org_id(o.org);
    e.set_user_id(o.user);
    *e.mutable_contact()->mutable_contact() = c;
    Apply(e);
  }

  std::string Interaction(const Owner& o, const std::string& contact, ipb::InteractionKind kind) {
    events::v1::Event e;
    e.set_type("interaction.created");
    e.set_org_id(o.org);
    e.set_user_id(o.user);
    ipb::Interaction* i = e.mutable_interaction();
    i->set_id(NewId());
    i->set_kind(kind);
    i->add_contact_ids(contact);
    *i->mutable_occurred_at() = ToTimestamp(now_.load());
    Apply(e);
    return i->id();
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

  pb::CreateWebhookResponse NewWebhook(const Owner& o, std::vector<std::string> event_types,
                                       const std::string& url = "http://127.0.0.1:9/hook") {
    pb::Webhook w;
    w.set_id(NewId());
    w.set_url(url);
    for (const std::string& t : event_types) w.add_event_types(t);
    auto created = Await<pb::CreateWebhookResponse>([&](Done<pb::CreateWebhookResponse> d) {
      store_->CreateWebhook(o, w, "whsec_test", IdempotencyScope{}, pb::CreateWebhookRequest(), kNoQuota,
                            TenantContext{}, d);
    });
    EXPECT_TRUE(created.ok()) << created.status();
    return created.value_or(pb::CreateWebhookResponse());
  }

  // The run as stored, whether or not its workflow still exists.
  pb::WorkflowRun StoredRun(const std::string& id) {
    pb::WorkflowRun run;
    absl::Status s = store_->db().Read([&](db::Connection& c) -> absl::Status {
      ASSIGN_OR_RETURN(
          run, db::ReadBlob<pb::WorkflowRun>(c.Prepare("SELECT data FROM runs WHERE run_id = ?").Bind(1, id), "run"));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return run;
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

TEST_P(StoreTest, ReminderFiresOnceAtItsDueTimeNeverEarly) {
  Owner alice{"org1", "alice"};
  pb::Reminder r;
  r.set_id(NewId());
  r.set_note("call back");
  *r.mutable_due_time() = ToTimestamp(ToMicros(Now() + absl::Seconds(10)));
  pb::CreateReminderRequest req;
  ASSERT_TRUE(Await<pb::Reminder>([&](Done<pb::Reminder> d) {
                store_->CreateReminder(alice, r, IdempotencyScope{}, req, false, kNoQuota, d);
              }).ok());
  auto sched = NewScheduler("r1");
  SetNow(Now() + absl::Seconds(9));
  EXPECT_EQ(Drain(*sched), 0);
  EXPECT_TRUE(Inbox(alice).empty());
  SetNow(Now() + absl::Seconds(1));
  EXPECT_EQ(Drain(*sched), 1);
  std::vector<pb::Notification> inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].kind(), "reminder");
  EXPECT_EQ(inbox[0].body(), "call back");
  EXPECT_EQ(inbox[0].state(), pb::UNREAD);
  SetNow(Now() + absl::Hours(1));
  EXPECT_EQ(Drain(*sched), 0);
  EXPECT_EQ(Inbox(alice).size(), 1u);
  auto reminders = store_->ListReminders(alice, "", 10);
  ASSERT_TRUE(reminders.ok());
  ASSERT_EQ(reminders->size(), 1u);
  EXPECT_EQ((*reminders)[0].state(), pb::FIRED);
  EXPECT_EQ((*reminders)[0].notification_id(), inbox[0].id());
  // Another user sees none of it.
  Owner mallory{"org2", "alice"};
  EXPECT_TRUE(Inbox(mallory).empty());
  EXPECT_TRUE(store_->ListReminders(mallory, "", 10)->empty());
  auto stolen = Await<pb::Notification>(
      [&](Done<pb::Notification> d) { store_->ChangeNotification(mallory, inbox[0].id(), InboxAction::kRead, 0, d); });
  EXPECT_EQ(stolen.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AwaitStatus([&](DoneStatus d) { store_->DeleteReminder(mallory, r.id(), d); }).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, ClaimedTimersOfACrashedIncarnationFireExactlyOnceAfterRestart) {
  Owner alice{"org1", "alice"};
  std::vector<int64_t> due(500, ToMicros(Now() + absl::Seconds(5)));
  ASSERT_TRUE(store_->InsertReminders(alice, due).ok());
  SetNow(Now() + absl::Seconds(6));
  // The first incarnation claims a batch and dies before firing it.
  auto dead = store_->Claim("r1/dead", Now(), absl::Seconds(30), 128, false);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 128u);
  // The restarted replica releases its old leases and fires everything at once.
  ASSERT_TRUE(store_->ReleaseLeases("r1").ok());
  auto sched = NewScheduler("r1");
  EXPECT_EQ(Drain(*sched), 500);
  // The dead incarnation's late fire changes nothing.
  for (const TimerRow& t : *dead) {
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { store_->FireTimer(t, "r1/dead", Now(), d); }).ok());
  }
  EXPECT_EQ(*store_->CountNotifications(alice), 500);
  std::set<std::string> reminder_ids;
  for (const auto& n : Inbox(alice)) reminder_ids.insert(n.reminder_id());
  EXPECT_EQ(reminder_ids.size(), 500u);
  EXPECT_EQ(*store_->PendingTimers(), 0);
}

// Replicas claiming at the same moment split the due timers between them:
// no timer is leased twice and none is left out (on PostgreSQL the claims
// skip each other's locked rows instead of failing or queueing).
TEST_P(StoreTest, ConcurrentClaimsOfFourReplicasNeverOverlap) {
  Owner alice{"org1", "alice"};
  ASSERT_TRUE(store_->InsertReminders(alice, std::vector<int64_t>(800, now_.load())).ok());
  std::vector<std::vector<TimerRow>> claimed(4);
  std::vector<std::thread> replicas;
  for (int r = 0; r < 4; ++r) {
    replicas.emplace_back([&, r] {
      for (;;) {
        auto batch = store_->Claim(absl::StrCat("replica", r, "/1"), Now(), absl::Seconds(30), 50, false);
        ASSERT_TRUE(batch.ok()) << batch.status();
        if (batch->empty()) return;
        claimed[r].insert(claimed[r].end(), batch->begin(), batch->end());
      }
    });
  }
  for (auto& t : replicas) t.join();
  std::set<std::string> ids;
  size_t total = 0;
  for (const auto& rows : claimed) {
    total += rows.size();
    for (const TimerRow& t : rows) ids.insert(t.id);
  }
  EXPECT_EQ(total, 800u);
  EXPECT_EQ(ids.size(), 800u);
}

TEST_P(StoreTest, AnotherReplicaWaitsForTheLeaseToExpire) {
  Owner alice{"org1", "alice"};
  ASSERT_TRUE(store_->InsertReminders(alice, std::vector<int64_t>(10, now_.load())).ok());
  auto a = store_->Claim("a/1", Now(), absl::Seconds(30), 100, false);
  ASSERT_EQ(a->size(), 10u);
  auto b = NewScheduler("b");
  EXPECT_EQ(Drain(*b), 0);  // leased by a
  SetNow(Now() + absl::Seconds(31));
  EXPECT_EQ(Drain(*b), 10);
  for (const TimerRow& t : *a) {
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { store_->FireTimer(t, "a/1", Now(), d); }).ok());
  }
  EXPECT_EQ(*store_->CountNotifications(alice), 10);
}

TEST_P(StoreTest, ThankYouFiresAtNineLocalTheDayAfterAMeeting) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "Europe/Paris");
  ppb::Contact bob;
  bob.set_id("bob");
  bob.set_display_name("Bob Martin");
  ContactEvent(alice, bob);
  SetNow(Utc(2026, 3, 28, 22, 30));  // Saturday 23:30 in Paris; the clocks change that night
  Interaction(alice, "bob", ipb::MEETING);
  pb::Workflow thanks = Builtin(alice, "thank_you");
  auto runs = store_->ListRuns(alice, thanks.id(), "", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].state(), pb::WAITING);
  EXPECT_EQ(FromMicros(TimestampToMicros((*runs)[0].wake_time())), Utc(2026, 3, 29, 7, 0));  // 09:00 CEST
  auto sched = NewScheduler("r1");
  // (The daily digest's timer fires too, but nobody is overdue: it says nothing.)
  SetNow(Utc(2026, 3, 29, 6, 59, 59));
  Drain(*sched);
  EXPECT_TRUE(Inbox(alice).empty());
  SetNow(Utc(2026, 3, 29, 7, 0));
  EXPECT_GE(Drain(*sched), 1);
  std::vector<pb::Notification> inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].title(), "Say thank you to Bob Martin");
  EXPECT_EQ(inbox[0].run_id(), (*runs)[0].id());
  runs = store_->ListRuns(alice, thanks.id(), "", 10);
  EXPECT_EQ((*runs)[0].state(), pb::COMPLETED);
  EXPECT_EQ((*runs)[0].history_size(), 2);
  // Another user of the org cannot see the workflow.
  EXPECT_EQ(store_->ListRuns(Owner{"org1", "bob"}, thanks.id(), "", 10).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, FollowUpStopsWhenTheContactReplied) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  for (const char* id : {"carol", "dave"}) {
    ppb::Contact c;
    c.set_id(id);
    c.set_display_name(id);
    ContactEvent(alice, c);
  }
  Interaction(alice, "carol", ipb::CONVERSATION);
  Interaction(alice, "dave", ipb::CONVERSATION);
  pb::Workflow follow = Builtin(alice, "follow_up");
  ASSERT_EQ(store_->ListRuns(alice, follow.id(), "", 10)->size(), 2u);
  // A second conversation with carol is not a first one: no third run.
  SetNow(Now() + absl::Hours(24));
  Interaction(alice, "carol", ipb::CONVERSATION);
  ASSERT_EQ(store_->ListRuns(alice, follow.id(), "", 10)->size(), 2u);
  auto sched = NewScheduler("r1");
  SetNow(Now() + absl::Hours(24 * 7));
  Drain(*sched);
  std::vector<pb::Notification> inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].contact_id(), "dave");
  auto runs = store_->ListRuns(alice, follow.id(), "", 10);
  std::map<std::string, pb::WorkflowRun> by_contact;
  for (const auto& r : *runs) by_contact[r.contact_id()] = r;
  EXPECT_EQ(by_contact["carol"].state(), pb::STOPPED);
  EXPECT_NE(by_contact["carol"].reason().find("interaction"), std::string::npos);
  EXPECT_EQ(by_contact["dave"].state(), pb::COMPLETED);
}

TEST_P(StoreTest, ARunBeginsWhenItsEventHappenedNotWhenItWasProcessed) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  ppb::Contact gus;
  gus.set_id("gus");
  gus.set_display_name("Gus");
  ContactEvent(alice, gus);
  // Both events reach the service two hours late: the first conversation,
  // then Gus's reply an hour after it.
  absl::Time met = Now() - absl::Hours(2);
  for (absl::Time t : {met, met + absl::Hours(1)}) {
    events::v1::Event e;
    e.set_type("interaction.created");
    e.set_org_id(alice.org);
    e.set_user_id(alice.user);
    *e.mutable_time() = ToTimestamp(ToMicros(t));
    e.mutable_interaction()->set_id(NewId());
    e.mutable_interaction()->set_kind(ipb::CONVERSATION);
    e.mutable_interaction()->add_contact_ids("gus");
    *e.mutable_interaction()->mutable_occurred_at() = ToTimestamp(ToMicros(t));
    Apply(e);
  }
  pb::Workflow follow = Builtin(alice, "follow_up");
  auto runs = store_->ListRuns(alice, follow.id(), "", 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(TimestampToMicros((*runs)[0].start_time()), ToMicros(met));
  // Seven days after the conversation's day, 09:00.
  absl::CivilDay day = absl::ToCivilDay(met, absl::UTCTimeZone()) + 7;
  absl::Time wake =
      absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), 9, 0, 0), absl::UTCTimeZone());
  EXPECT_EQ(FromMicros(TimestampToMicros((*runs)[0].wake_time())), wake);
  auto sched = NewScheduler("r1");
  SetNow(wake);
  Drain(*sched);
  runs = store_->ListRuns(alice, follow.id(), "", 10);
  EXPECT_EQ((*runs)[0].state(), pb::STOPPED);  // the reply counts, though logged before the run was processed
  EXPECT_TRUE(Inbox(alice).empty());
}

TEST_P(StoreTest, BirthdaysFireYearlyOnTheDayAndAWeekBefore) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "America/New_York");
  SetNow(Utc(2027, 2, 1, 0, 0));
  ppb::Contact eve;
  eve.set_id("eve");
  eve.set_display_name("Eve");
  eve.mutable_birthday()->set_month(2);
  eve.mutable_birthday()->set_day(29);
  ContactEvent(alice, eve);
  auto sched = NewScheduler("r1");
  // 2027 is a common year: the heads-up is on Feb 21, the greeting on Feb 28, 09:00 in New York (14:00 UTC).
  // (The daily digest fires every morning too, silently: nobody is overdue.)
  SetNow(Utc(2027, 2, 21, 13, 59));
  Drain(*sched);
  EXPECT_TRUE(Inbox(alice).empty());
  SetNow(Utc(2027, 2, 21, 14, 0));
  Drain(*sched);
  EXPECT_EQ(Inbox(alice).size(), 1u);
  SetNow(Utc(2027, 2, 28, 13, 59));
  Drain(*sched);
  EXPECT_EQ(Inbox(alice).size(), 1u);
  SetNow(Utc(2027, 2, 28, 14, 0));
  Drain(*sched);
  std::vector<pb::Notification> inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0].title(), "It is Eve's birthday");  // newest first
  EXPECT_EQ(inbox[1].title(), "Eve's birthday is in 7 days (02-29)");
  // 2028 is a leap year: Feb 29 itself; nothing in between.
  SetNow(Utc(2028, 2, 29, 13, 0));
  Drain(*sched);
  EXPECT_EQ(Inbox(alice).size(), 3u);  // the heads-up of Feb 22
  SetNow(Utc(2028, 2, 29, 14, 0));
  Drain(*sched);
  EXPECT_EQ(Inbox(alice).size(), 4u);
  EXPECT_EQ(Inbox(alice)[0].title(), "It is Eve's birthday");
  // Deleting the contact cancels its timers.
  ContactEvent(alice, eve, "contact.deleted");
  SetNow(Utc(2030, 3, 1, 0, 0));
  Drain(*sched);
  EXPECT_EQ(Inbox(alice).size(), 4u);
}

// Interactions emits interaction.created and ledger.changed on its own
// stream, so they can reach notifications after profiles' contact.deleted.
// Before the fix, a meeting arriving late started the built-in follow-up run
// and stored a link, a follow-up timer and a ledger row for the erased
// person.
TEST_P(StoreTest, EventsArrivingAfterAContactsDeletionLeaveNothingOfIt) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  ppb::Contact dan;
  dan.set_id("dan");
  dan.set_display_name("Dan");
  ContactEvent(alice, dan);
  ContactEvent(alice, dan, "contact.deleted");

  events::v1::Event e;
  e.set_type("interaction.created");
  e.set_org_id(alice.org);
  e.set_user_id(alice.user);
  ipb::Interaction* i = e.mutable_interaction();
  i->set_id(NewId());
  i->set_kind(ipb::MEETING);
  i->add_contact_ids("dan");
  *i->mutable_occurred_at() = ToTimestamp(now_.load());
  *i->mutable_follow_up_at() = ToTimestamp(ToMicros(Now() + absl::Hours(48)));
  Apply(e);
  events::v1::Event ledger;
  ledger.set_type("ledger.changed");
  ledger.set_org_id(alice.org);
  ledger.set_user_id(alice.user);
  ledger.mutable_ledger()->set_contact_id("dan");
  ledger.mutable_ledger()->set_balance(-5);
  *ledger.mutable_ledger()->mutable_next_due_time() = ToTimestamp(ToMicros(Now() + absl::Hours(1)));
  Apply(ledger);

  absl::Status read = store_->db().Read([&](db::Connection& c) -> absl::Status {
    for (const char* table : {"runs", "timers", "contact_interactions", "ledger"}) {
      ASSIGN_OR_RETURN(std::optional<int64_t> n,
                       db::ReadRow<int64_t>(c.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table,
                                                                   " WHERE org_id = ? AND contact_id = ?"))
                                                .Bind(1, alice.org)
                                                .Bind(2, "dan"),
                                            [](const db::Statement& row) { return row.ColumnInt(0); }));
      EXPECT_EQ(n.value_or(-1), 0) << table;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(read.ok()) << read;
  SetNow(Now() + absl::Hours(72));
  auto sched = NewScheduler("r1");
  Drain(*sched);
  EXPECT_TRUE(Inbox(alice).empty());
}

TEST_P(StoreTest, GiveBackPromptWhenTheBalanceTipsAndADigestOfOverdueContacts) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "Asia/Tokyo");
  ppb::Contact fay;
  fay.set_id("fay");
  fay.set_display_name("Fay");
  fay.add_seeking("a referral");
  ContactEvent(alice, fay);
  auto ledger = [&](double balance, absl::Time next_due) {
    events::v1::Event e;
    e.set_type("ledger.changed");
    e.set_org_id(alice.org);
    e.set_user_id(alice.user);
    e.mutable_ledger()->set_contact_id("fay");
    e.mutable_ledger()->set_balance(balance);
    *e.mutable_ledger()->mutable_next_due_time() = ToTimestamp(ToMicros(next_due));
    Apply(e);
  };
  ledger(-2, Now() + absl::Hours(24 * 30));
  EXPECT_TRUE(Inbox(alice).empty());  // not past the threshold (3) yet
  ledger(-4, Now() + absl::Hours(24 * 30));
  std::vector<pb::Notification> inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].title(), "Time to give back to Fay");
  EXPECT_NE(inbox[0].body().find("balance -4.0"), std::string::npos) << inbox[0].body();
  EXPECT_NE(inbox[0].body().find("a referral"), std::string::npos) << inbox[0].body();
  ledger(-5, Now() + absl::Hours(24 * 30));  // still below: no new prompt
  EXPECT_EQ(Inbox(alice).size(), 1u);

  // Overdue since yesterday: the next digest, 08:00 in Tokyo (23:00 UTC), lists Fay.
  ledger(-5, Now() - absl::Hours(24));
  auto sched = NewScheduler("r1");
  SetNow(Utc(2026, 3, 27, 22, 59));
  Drain(*sched);
  EXPECT_EQ(Inbox(alice).size(), 1u);
  SetNow(Utc(2026, 3, 27, 23, 0));
  Drain(*sched);
  inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0].kind(), "digest");
  EXPECT_EQ(inbox[0].title(), "1 contacts are due for a catch-up");
  EXPECT_EQ(inbox[0].body(), "Fay");
  // And again the next morning, once.
  SetNow(Utc(2026, 3, 28, 23, 0));
  Drain(*sched);
  EXPECT_EQ(Inbox(alice).size(), 3u);
}

TEST_P(StoreTest, DisabledBuiltinsStartNothing) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  pb::Workflow thanks = Builtin(alice, "thank_you");
  ASSERT_TRUE(Await<pb::Workflow>([&](Done<pb::Workflow> d) {
                store_->UpdateWorkflow(
                    alice, thanks.id(),
                    [](pb::Workflow& w) {
                      w.set_enabled(false);
                      return absl::OkStatus();
                    },
                    d);
              }).ok());
  ppb::Contact bob;
  bob.set_id("bob");
  ContactEvent(alice, bob);
  Interaction(alice, "bob", ipb::MEETING);
  EXPECT_TRUE(store_->ListRuns(alice, thanks.id(), "", 10)->empty());
}

TEST_P(StoreTest, SnoozedNotificationsComeBackAtTheirTime) {
  Owner alice{"org1", "alice"};
  ASSERT_TRUE(store_->InsertReminders(alice, {now_.load()}).ok());
  auto sched = NewScheduler("r1");
  ASSERT_EQ(Drain(*sched), 1);
  pb::Notification n = Inbox(alice).at(0);
  int64_t seq = *store_->LatestSeq(alice);
  auto snoozed = Await<pb::Notification>([&](Done<pb::Notification> d) {
    store_->ChangeNotification(alice, n.id(), InboxAction::kSnooze, ToMicros(Now() + absl::Minutes(10)), d);
  });
  ASSERT_TRUE(snoozed.ok());
  EXPECT_EQ(snoozed->state(), pb::SNOOZED);
  EXPECT_TRUE(Inbox(alice).empty());
  EXPECT_TRUE(store_->StreamSince(alice, seq, 10)->empty());
  SetNow(Now() + absl::Minutes(9));
  EXPECT_EQ(Drain(*sched), 0);
  SetNow(Now() + absl::Minutes(1));
  EXPECT_EQ(Drain(*sched), 1);
  ASSERT_EQ(Inbox(alice).size(), 1u);
  EXPECT_EQ(Inbox(alice)[0].state(), pb::UNREAD);
  auto live = store_->StreamSince(alice, seq, 10);
  ASSERT_EQ(live->size(), 1u);  // reappears on the stream with a new position
  EXPECT_GT((*live)[0].first, seq);
  auto dismissed = Await<pb::Notification>(
      [&](Done<pb::Notification> d) { store_->ChangeNotification(alice, n.id(), InboxAction::kDismiss, 0, d); });
  EXPECT_EQ(dismissed->state(), pb::DISMISSED);
  EXPECT_TRUE(Inbox(alice).empty());
}

TEST_P(StoreTest, RunsStopWhenTheirWorkflowIsDisabledOrDeletedOrTheirContactDeleted) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  for (const char* id : {"bob", "carol", "dave"}) {
    ppb::Contact c;
    c.set_id(id);
    c.set_display_name(id);
    ContactEvent(alice, c);
  }
  // Three waiting runs: a thank-you for bob and carol, a follow-up for dave.
  Interaction(alice, "bob", ipb::MEETING);
  Interaction(alice, "carol", ipb::MEETING);
  Interaction(alice, "dave", ipb::CONVERSATION);
  pb::Workflow thanks = Builtin(alice, "thank_you");
  pb::Workflow follow = Builtin(alice, "follow_up");
  auto thanks_runs = store_->ListRuns(alice, thanks.id(), "", 10);
  auto follow_runs = store_->ListRuns(alice, follow.id(), "", 10);
  ASSERT_EQ(thanks_runs->size(), 2u);
  ASSERT_EQ(follow_runs->size(), 3u);  // meetings start a follow-up too
  std::map<std::string, pb::WorkflowRun> by_contact;
  for (const auto& r : *thanks_runs) by_contact[r.contact_id()] = r;
  for (const auto& r : *follow_runs) {
    if (r.contact_id() == "dave") by_contact["dave"] = r;
  }
  for (const auto& [contact, run] : by_contact) EXPECT_EQ(run.state(), pb::WAITING) << contact;

  // Deleted: its waiting run stops at once, without a wake time, and its timer goes.
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteWorkflow(alice, follow.id(), d); }).ok());
  pb::WorkflowRun dave = StoredRun(by_contact["dave"].id());
  EXPECT_EQ(dave.state(), pb::STOPPED);
  EXPECT_EQ(dave.reason(), "the workflow was deleted");
  EXPECT_FALSE(dave.has_wake_time());
  EXPECT_EQ(TimestampToMicros(dave.update_time()), now_.load());
  // Carol deleted, then the thank-you disabled: each run stops when it wakes, saying why.
  ppb::Contact carol;
  carol.set_id("carol");
  ContactEvent(alice, carol, "contact.deleted");
  auto sched = NewScheduler("r1");
  SetNow(Now() + absl::Hours(48));
  Drain(*sched);
  EXPECT_TRUE(Inbox(alice).size() == 1 && Inbox(alice)[0].contact_id() == "bob");  // bob's thank-you only
  pb::WorkflowRun stopped = StoredRun(by_contact["carol"].id());
  EXPECT_EQ(stopped.state(), pb::STOPPED);
  EXPECT_EQ(stopped.reason(), "the contact was deleted");
  EXPECT_EQ(StoredRun(by_contact["bob"].id()).state(), pb::COMPLETED);

  Interaction(alice, "bob", ipb::MEETING);
  auto again = store_->ListRuns(alice, thanks.id(), "", 10);
  ASSERT_EQ(again->size(), 3u);
  const pb::WorkflowRun& waiting = (*again)[0];  // newest first
  ASSERT_EQ(waiting.state(), pb::WAITING);
  ASSERT_TRUE(Await<pb::Workflow>([&](Done<pb::Workflow> d) {
                store_->UpdateWorkflow(
                    alice, thanks.id(),
                    [](pb::Workflow& w) {
                      w.set_enabled(false);
                      return absl::OkStatus();
                    },
                    d);
              }).ok());
  SetNow(Now() + absl::Hours(48));
  Drain(*sched);
  stopped = StoredRun(waiting.id());
  EXPECT_EQ(stopped.state(), pb::STOPPED);
  EXPECT_EQ(stopped.reason(), "the workflow was disabled");
  EXPECT_EQ(Inbox(alice).size(), 1u);
}

TEST_P(StoreTest, NotificationWebhookBodyIsTheEnvelopeAroundTheNotification) {
  Owner alice{"org1", "alice"};
  pb::CreateWebhookResponse hook = NewWebhook(alice, {"notification.created"});
  NewWebhook(alice, {"workflow.step"});  // takes other events: no delivery
  ASSERT_TRUE(store_->InsertReminders(alice, {now_.load()}).ok());
  auto sched = NewScheduler("r1");
  ASSERT_EQ(Drain(*sched), 1);
  pb::Notification n = Inbox(alice).at(0);
  auto claimed = store_->Claim("r1/x", Now(), absl::Seconds(30), 10, true);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 1u);
  auto delivery = store_->LoadDelivery((*claimed)[0]);
  ASSERT_TRUE(delivery.ok()) << delivery.status();
  EXPECT_EQ(delivery->url, "http://127.0.0.1:9/hook");
  EXPECT_EQ(delivery->secret, "whsec_test");
  EXPECT_EQ(delivery->event_id, n.id());
  EXPECT_EQ(delivery->event_type, "notification.created");
  EXPECT_EQ(delivery->attempts, 0);
  // The wire format receivers parse and sign over: keys in this order, the
  // time in RFC 3339 with a numeric offset.
  EXPECT_EQ(delivery->body,
            absl::StrCat(R"({"id":")", n.id(), R"(","type":"notification.created","time":"2026-03-27T12:00:00+00:00",)",
                         R"("orgId":"org1","userId":"alice","data":)", Json(n), "}"));

  // A 2xx ends it: DELIVERED, its timer gone, when it ended recorded.
  AttemptResult ok{ToMicros(Now()), 200, "", 12, false, 0};
  ASSERT_TRUE(store_->RecordDeliveryAttempt((*claimed)[0], "r1/x", ok, false).ok());
  auto deliveries = store_->ListDeliveries(alice, hook.webhook().id(), "", 10);
  ASSERT_TRUE(deliveries.ok());
  ASSERT_EQ(deliveries->size(), 1u);
  EXPECT_EQ((*deliveries)[0].state(), pb::DELIVERED);
  EXPECT_EQ((*deliveries)[0].attempt_count(), 1);
  EXPECT_EQ((*deliveries)[0].attempts(0).duration_ms(), 12);
  EXPECT_EQ(*store_->PendingTimers(), 0);
  // Another replica's late record changes nothing.
  AttemptResult late{ToMicros(Now()), 500, "", 1, true, ToMicros(Now())};
  ASSERT_TRUE(store_->RecordDeliveryAttempt((*claimed)[0], "r2/y", late, false).ok());
  EXPECT_EQ(store_->ListDeliveries(alice, hook.webhook().id(), "", 10)->at(0).attempt_count(), 1);
  // Other users cannot list them.
  EXPECT_EQ(store_->ListDeliveries(Owner{"org1", "bob"}, hook.webhook().id(), "", 10).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, ContactMergedMovesRemindersRunsAndTheProjectionToTheSurvivor) {
  Owner alice{"org1", "alice"};
  SetNow(absl::FromUnixSeconds(1780000000));
  UserCreated(alice, "UTC");
  ppb::Contact survivor, gone;
  survivor.set_id("dee");
  survivor.set_display_name("Dee");
  gone.set_id("dee2");
  gone.set_display_name("Dee R.");
  ContactEvent(alice, survivor);
  ContactEvent(alice, gone);
  Interaction(alice, "dee2", ipb::CALL);
  pb::Reminder r;
  r.set_id(NewId());
  r.set_contact_id("dee2");
  r.set_state(pb::PENDING);
  *r.mutable_due_time() = ToTimestamp(ToMicros(Now() + absl::Hours(1)));
  ASSERT_TRUE(Await<pb::Reminder>([&](Done<pb::Reminder> d) {
                store_->CreateReminder(alice, r, IdempotencyScope{}, pb::CreateReminderRequest(), false, kNoQuota, d);
              }).ok());
  pb::Workflow w;
  w.set_id(NewId());
  w.set_display_name("nudge");
  w.set_enabled(true);
  w.mutable_trigger()->set_kind(pb::MANUAL);
  w.add_steps()->set_kind(pb::NOTIFY);
  w.mutable_steps(0)->set_title("Nudge {{contact.displayName}}");
  ASSERT_TRUE(Await<pb::Workflow>([&](Done<pb::Workflow> d) {
                store_->CreateWorkflow(alice, w, IdempotencyScope{}, pb::CreateWorkflowRequest(), kNoQuota, d);
              }).ok());
  auto run = Await<pb::WorkflowRun>([&](Done<pb::WorkflowRun> d) { store_->RunWorkflow(alice, w.id(), "dee2", d); });
  ASSERT_TRUE(run.ok()) << run.status();

  events::v1::Event e;
  e.set_id(NewId());
  e.set_type("contact.merged");
  e.set_org_id(alice.org);
  e.set_user_id(alice.user);
  survivor.set_company("Initech");
  *e.mutable_contact_merged()->mutable_survivor() = survivor;
  e.mutable_contact_merged()->add_merged_ids("dee2");
  Apply(e);
  Apply(e);  // applying it again changes nothing more
  auto reminders = store_->ListReminders(alice, "", 10);
  ASSERT_TRUE(reminders.ok());
  ASSERT_EQ(reminders->size(), 1u);
  EXPECT_EQ((*reminders)[0].contact_id(), "dee");
  EXPECT_EQ(StoredRun(run->id()).contact_id(), "dee");
  auto runs = store_->ListRuns(alice, w.id(), "", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].contact_id(), "dee");
  // The merged contact is gone from the projection: a run for it finds no
  // contact; one for the survivor sees its merged fields.
  auto again = Await<pb::WorkflowRun>([&](Done<pb::WorkflowRun> d) { store_->RunWorkflow(alice, w.id(), "dee", d); });
  ASSERT_TRUE(again.ok()) << again.status();
  bool nudged = false;
  for (const auto& n : Inbox(alice)) nudged |= n.title() == "Nudge Dee";
  EXPECT_TRUE(nudged);
  // The reminder fires for the survivor.
  SetNow(Now() + absl::Hours(2));
  auto scheduler = NewScheduler("r1");
  EXPECT_GE(Drain(*scheduler), 1);
  bool reminded = false;
  for (const auto& n : Inbox(alice)) reminded |= n.kind() == "reminder" && n.contact_id() == "dee";
  EXPECT_TRUE(reminded);
}

TEST_P(StoreTest, WorkflowWebhookStepBodyCarriesTheWorkflowTheRunAndTheContact) {
  Owner alice{"org1", "alice"};
  ppb::Contact bob;
  bob.set_id("bob");
  bob.set_display_name("Bob \"the builder\" Martin");
  ContactEvent(alice, bob);
  pb::Workflow w;
  w.set_id(NewId());
  w.set_display_name("tell the CRM");
  w.set_enabled(true);
  w.mutable_trigger()->set_kind(pb::MANUAL);
  w.add_steps()->set_kind(pb::WEBHOOK);
  w.mutable_steps(0)->set_event_type("deal.won");
  ASSERT_TRUE(Await<pb::Workflow>([&](Done<pb::Workflow> d) {
                store_->CreateWorkflow(alice, w, IdempotencyScope{}, pb::CreateWorkflowRequest(), kNoQuota, d);
              }).ok());
  NewWebhook(alice, {});  // every event type
  auto run = Await<pb::WorkflowRun>([&](Done<pb::WorkflowRun> d) { store_->RunWorkflow(alice, w.id(), "bob", d); });
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->state(), pb::COMPLETED);
  auto claimed = store_->Claim("r1/x", Now(), absl::Seconds(30), 10, true);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  auto delivery = store_->LoadDelivery((*claimed)[0]);
  ASSERT_TRUE(delivery.ok()) << delivery.status();
  const std::string event_id = absl::StrCat("run:", run->id(), ":0");
  EXPECT_EQ(delivery->event_id, event_id);
  EXPECT_EQ(delivery->event_type, "deal.won");
  EXPECT_EQ(delivery->body,
            absl::StrCat(R"({"id":")", event_id, R"(","type":"deal.won","time":"2026-03-27T12:00:00+00:00",)",
                         R"("orgId":"org1","userId":"alice","data":{"workflow":)", Json(w), R"(,"run":)", Json(*run),
                         R"(,"contact":)", Json(bob), "}}"));
  // Run again without a contact: no "contact" at all.
  auto alone = Await<pb::WorkflowRun>([&](Done<pb::WorkflowRun> d) { store_->RunWorkflow(alice, w.id(), "", d); });
  ASSERT_TRUE(alone.ok());
  claimed = store_->Claim("r1/x", Now(), absl::Seconds(30), 10, true);
  ASSERT_EQ(claimed->size(), 1u);
  delivery = store_->LoadDelivery((*claimed)[0]);
  ASSERT_TRUE(delivery.ok());
  EXPECT_EQ(delivery->body.find("\"contact\""), std::string::npos) << delivery->body;
  EXPECT_NE(delivery->body.find(absl::StrCat(R"("run":)", Json(*alone), "}}")), std::string::npos) << delivery->body;
}

// Each quota refuses the create that would go over it with
// RESOURCE_EXHAUSTED naming it, counts per its subject (user, contact), and
// frees a place when one goes (a deleted workflow or webhook, a fired or
// deleted reminder); Usage reports the busiest subject of the org.
// A slow receiver: answers 200 after `delay` unless released earlier (so the
// test's teardown does not wait for every held request).
class SlowReceiver {
 public:
  explicit SlowReceiver(std::chrono::milliseconds delay) : delay_(delay) {
    receiver_.set_responder([this](int, const rapport::testing::ReceivedRequest&) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, delay_, [this] { return released_; });
      return 200;
    });
  }
  ~SlowReceiver() { Release(); }
  absl::Status Start() { return receiver_.Start(); }
  std::string Url() const { return receiver_.Url("/hook"); }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  const std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  rapport::testing::HttpReceiver receiver_;
};

// Org A's 20 webhooks on endpoints that answer after 5 s hold neither org B's
// delivery nor B's reminders: B's webhook gets its deliveries within 2 s.
// Before the fair scheduler, the delivery loop claimed 8 due deliveries in
// due order (A's first) and waited for all of them: B's first delivery came
// after 5 s or more, and this test failed.
TEST_P(StoreTest, SlowEndpointsOfOneOrgDelayNeitherAnotherOrgsDeliveriesNorReminders) {
  Owner a{"orgA", "alice"}, b{"orgB", "bob"};
  std::vector<std::unique_ptr<SlowReceiver>> slow;
  for (int i = 0; i < 5; ++i) {
    slow.push_back(std::make_unique<SlowReceiver>(std::chrono::seconds(5)));
    ASSERT_TRUE(slow.back()->Start().ok());
  }
  rapport::testing::HttpReceiver fast;
  ASSERT_TRUE(fast.Start().ok());
  for (int i = 0; i < 20; ++i) NewWebhook(a, {"notification.created"}, slow[i % 5]->Url());
  NewWebhook(b, {"notification.created"}, fast.Url("/hook"));
  // Two notifications for A (40 slow deliveries), then one for B: A's are
  // due first.
  ASSERT_TRUE(store_->InsertReminders(a, {now_.load(), now_.load()}).ok());
  auto firing = NewScheduler("fire");
  ASSERT_EQ(Drain(*firing), 2);
  ASSERT_TRUE(store_->InsertReminders(b, {now_.load()}).ok());
  ASSERT_EQ(Drain(*firing), 1);

  SchedulerOptions o;
  o.replica = "r1";
  o.allow_private = true;
  o.idle = std::chrono::milliseconds(10);
  auto sched = std::make_unique<Scheduler>(store_.get(), o, TestClock());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(sched->Start().ok());
  ASSERT_TRUE(rapport::testing::WaitFor([&] { return fast.requests().size() == 1; }, std::chrono::seconds(2)))
      << "org B's delivery waited behind org A's slow endpoints";
  // A holds at most its share of the attempts.
  EXPECT_LE(sched->deliveries_in_flight(), o.org_concurrency + 1);
  // A reminder of B's fires (the timer loop) and its delivery goes out too,
  // while A's endpoints are still busy.
  ASSERT_TRUE(store_->InsertReminders(b, {now_.load()}).ok());
  ASSERT_TRUE(rapport::testing::WaitFor([&] { return Inbox(b).size() == 2; }, std::chrono::seconds(2)));
  ASSERT_TRUE(rapport::testing::WaitFor([&] { return fast.requests().size() == 2; }, std::chrono::seconds(2)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  for (auto& r : slow) r->Release();
  sched->Stop();
}

// One event reaches at most kMaxWebhookFanOut webhooks: the oldest 20.
TEST_P(StoreTest, AnEventFansOutToTheFirstTwentyWebhooksByCreation) {
  Owner alice{"org1", "alice"};
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back(NewWebhook(alice, {"notification.created"}).webhook().id());
  ASSERT_TRUE(store_->InsertReminders(alice, {now_.load()}).ok());
  auto sched = NewScheduler("r1");
  ASSERT_EQ(Drain(*sched), 1);
  auto claimed = store_->Claim("r1/x", Now(), absl::Seconds(30), 100, true);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->size(), kMaxWebhookFanOut);
  // Creation order is id order to the millisecond (ULIDs made within one
  // millisecond order at random): the lowest 20 ids get a delivery.
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto deliveries = store_->ListDeliveries(alice, ids[i], "", 10);
    ASSERT_TRUE(deliveries.ok()) << deliveries.status();
    EXPECT_EQ(deliveries->size(), i < kMaxWebhookFanOut ? 1u : 0u) << "webhook " << i;
  }
}

TEST_P(StoreTest, QuotasRefuseOverTheLimitAndUsageShowsTheBusiest) {
  Owner alice{"org1", "alice"}, bob{"org1", "bob"};
  auto workflow = [&](const Owner& o, int64_t quota) {
    pb::Workflow w;
    w.set_id(NewId());
    w.set_display_name("mine");
    w.set_enabled(true);
    w.mutable_trigger()->set_kind(pb::MANUAL);
    w.add_steps()->set_kind(pb::NOTIFY);
    w.mutable_steps(0)->set_title("hi");
    w.add_steps()->set_kind(pb::NOTIFY);
    w.mutable_steps(1)->set_title("again");
    *w.add_steps() = w.steps(1);
    *w.add_steps() = w.steps(1);  // 4 steps: more than any built-in
    return Await<pb::Workflow>([&](Done<pb::Workflow> d) {
      store_->CreateWorkflow(o, w, IdempotencyScope{}, pb::CreateWorkflowRequest(), quota, d);
    });
  };
  // The six built-ins count: a quota of 7 leaves room for one more.
  auto mine = workflow(alice, 7);
  ASSERT_TRUE(mine.ok()) << mine.status();
  auto over = workflow(alice, 7);
  ASSERT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message().substr(0, 23), "quota workflowsPerUser:") << over.status();
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteWorkflow(alice, mine->id(), d); }).ok());
  ASSERT_TRUE(workflow(alice, 7).ok());

  auto webhook = [&](const Owner& o, int64_t quota) {
    pb::Webhook w;
    w.set_id(NewId());
    w.set_url("http://127.0.0.1:9/hook");
    return Await<pb::CreateWebhookResponse>([&](Done<pb::CreateWebhookResponse> d) {
      store_->CreateWebhook(o, w, "whsec_test", IdempotencyScope{}, pb::CreateWebhookRequest(), quota, TenantContext{},
                            d);
    });
  };
  ASSERT_TRUE(webhook(alice, 2).ok());
  ASSERT_TRUE(webhook(alice, 2).ok());
  auto hook_over = webhook(alice, 2);
  ASSERT_EQ(hook_over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(hook_over.status().message().find("quota webhooksPerUser"), std::string::npos);
  ASSERT_TRUE(webhook(bob, 2).ok());  // per user

  ppb::Contact carol;
  carol.set_id("carol");
  carol.set_display_name("Carol");
  ContactEvent(alice, carol);
  auto reminder = [&](const std::string& contact, absl::Duration in, int64_t quota = 2) {
    pb::Reminder r;
    r.set_id(NewId());
    r.set_contact_id(contact);
    r.set_state(pb::PENDING);
    *r.mutable_due_time() = ToTimestamp(ToMicros(Now() + in));
    return Await<pb::Reminder>([&](Done<pb::Reminder> d) {
      store_->CreateReminder(alice, r, IdempotencyScope{}, pb::CreateReminderRequest(), false, quota, d);
    });
  };
  auto soon = reminder("carol", absl::Seconds(10));
  ASSERT_TRUE(soon.ok()) << soon.status();
  auto later = reminder("carol", absl::Hours(10));
  ASSERT_TRUE(later.ok());
  auto third = reminder("carol", absl::Hours(20));
  ASSERT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("quota remindersPerContact"), std::string::npos);
  // About no contact: their own count and quota.
  EXPECT_TRUE(reminder("", absl::Hours(1), 1).ok());
  auto contactless = reminder("", absl::Hours(2), 1);
  ASSERT_EQ(contactless.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(contactless.status().message().find("quota remindersWithoutContact"), std::string::npos);

  NotificationsQuotas quotas;
  quotas.reminders_per_contact = 2;
  auto usage = store_->Usage("org1", quotas);
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->size(), 5u);
  EXPECT_EQ((*usage)[0].quota(), "workflowsPerUser");
  EXPECT_EQ((*usage)[0].used(), 7);
  EXPECT_EQ((*usage)[0].subject_id(), "alice");
  EXPECT_EQ((*usage)[0].limit(), 100);
  EXPECT_EQ((*usage)[1].quota(), "stepsPerWorkflow");
  EXPECT_EQ((*usage)[1].per(), "workflow");
  EXPECT_EQ((*usage)[1].used(), 4);
  EXPECT_EQ((*usage)[2].quota(), "webhooksPerUser");
  EXPECT_EQ((*usage)[2].used(), 2);
  EXPECT_EQ((*usage)[2].subject_id(), "alice");
  EXPECT_EQ((*usage)[3].quota(), "remindersPerContact");
  EXPECT_EQ((*usage)[3].per(), "contact");
  EXPECT_EQ((*usage)[3].used(), 2);
  EXPECT_EQ((*usage)[3].subject_id(), "carol");
  EXPECT_EQ((*usage)[3].limit(), 2);
  EXPECT_EQ((*usage)[4].quota(), "remindersWithoutContact");
  EXPECT_EQ((*usage)[4].per(), "user");
  EXPECT_EQ((*usage)[4].used(), 1);
  EXPECT_EQ((*usage)[4].subject_id(), "alice");
  // Another org has used nothing.
  auto other = store_->Usage("org2", quotas);
  ASSERT_TRUE(other.ok());
  for (const auto& q : *other) EXPECT_EQ(q.used(), 0) << q.quota();

  // A fired reminder and a deleted one each free a place.
  auto sched = NewScheduler("r1");
  SetNow(Now() + absl::Seconds(11));
  EXPECT_EQ(Drain(*sched), 1);
  EXPECT_TRUE(reminder("carol", absl::Hours(30)).ok());
  EXPECT_EQ(reminder("carol", absl::Hours(31)).status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteReminder(alice, later->id(), d); }).ok());
  // Deleting the fired one changes nothing: it was no longer pending.
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteReminder(alice, soon->id(), d); }).ok());
  EXPECT_TRUE(reminder("carol", absl::Hours(32)).ok());
  EXPECT_EQ(reminder("carol", absl::Hours(33)).status().code(), absl::StatusCode::kResourceExhausted);
}

// Secrets at rest: a webhook's signing secret and the recorded idempotent
// reply that carries it are sealed (AES-256-GCM, crypto.h) in their rows and,
// on SQLite, nowhere in the database files in clear; both still read back,
// and a row written before sealing (plaintext) still signs deliveries.
TEST_P(StoreTest, WebhookSecretAndIdempotentReplyAreSealedAtRest) {
  auto box = SecretBox::FromText("8f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff");
  ASSERT_TRUE(box.ok()) << box.status();
  SetProcessSecretBox(*std::move(box));
  Owner alice{"org1", "alice"};
  const std::string secret = absl::StrCat("whsec_", NewId(), NewId());
  pb::Webhook w;
  w.set_id(NewId());
  w.set_url("http://127.0.0.1:9/hook");
  w.add_event_types("notification.created");
  pb::CreateWebhookRequest request;
  request.set_url(w.url());
  const IdempotencyScope idem{alice.org, alice.user, "retry-1", "CreateWebhook"};
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second replays the recorded reply
    auto created = Await<pb::CreateWebhookResponse>([&](Done<pb::CreateWebhookResponse> d) {
      store_->CreateWebhook(alice, w, secret, idem, request, kNoQuota, TenantContext{}, d);
    });
    ASSERT_TRUE(created.ok()) << created.status();
    EXPECT_EQ(created->secret(), secret) << "attempt " << attempt;
  }

  std::string stored_secret, stored_reply;
  ASSERT_TRUE(store_->db()
                  .Read([&](db::Connection& c) -> absl::Status {
                    auto st = c.Prepare("SELECT secret FROM webhooks WHERE webhook_id = ?");
                    st.Bind(1, w.id());
                    ASSIGN_OR_RETURN(bool row, st.Step());
                    if (!row) return absl::NotFoundError("webhook row");
                    stored_secret = st.ColumnText(0);
                    auto reply = c.Prepare("SELECT response FROM idempotency_keys WHERE key = ?");
                    reply.Bind(1, idem.key);
                    ASSIGN_OR_RETURN(row, reply.Step());
                    if (!row) return absl::NotFoundError("idempotency row");
                    stored_reply = reply.ColumnBlob(0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_TRUE(SecretBox::IsSealed(stored_secret)) << stored_secret;
  EXPECT_FALSE(absl::StrContains(stored_secret, secret));
  EXPECT_TRUE(SecretBox::IsSealed(stored_reply));
  EXPECT_FALSE(absl::StrContains(stored_reply, secret));
  if (!options_.path.empty()) {  // SQLite: the bytes of the file and its write-ahead log
    for (const std::string& file : {options_.path, options_.path + "-wal"}) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_FALSE(absl::StrContains(bytes, secret)) << file;
      EXPECT_FALSE(absl::StrContains(bytes, secret.substr(6))) << file;
    }
  }

  // Deliveries are signed with the secret itself.
  ASSERT_TRUE(store_->InsertReminders(alice, {now_.load()}).ok());
  auto sched = NewScheduler("r1");
  ASSERT_EQ(Drain(*sched), 1);
  auto claimed = store_->Claim("r1/x", Now(), absl::Seconds(30), 10, true);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 1u);
  auto delivery = store_->LoadDelivery((*claimed)[0]);
  ASSERT_TRUE(delivery.ok()) << delivery.status();
  EXPECT_EQ(delivery->secret, secret);

  // A row written before sealing reads as it is.
  ASSERT_TRUE(store_->db()
                  .Write([&](db::Connection& c) {
                    return c.Prepare("UPDATE webhooks SET secret = ? WHERE webhook_id = ?")
                        .Bind(1, "whsec_written_in_clear")
                        .Bind(2, w.id())
                        .Run();
                  })
                  .ok());
  delivery = store_->LoadDelivery((*claimed)[0]);
  ASSERT_TRUE(delivery.ok()) << delivery.status();
  EXPECT_EQ(delivery->secret, "whsec_written_in_clear");

  // A sealed secret copied from another webhook's row does not open here.
  ASSERT_TRUE(store_->db()
                  .Write([&](db::Connection& c) {
                    return c.Prepare("UPDATE webhooks SET secret = ? WHERE webhook_id = ?")
                        .Bind(1, ProcessSecretBox()->Seal(secret, "another webhook"))
                        .Bind(2, w.id())
                        .Run();
                  })
                  .ok());
  EXPECT_EQ(store_->LoadDelivery((*claimed)[0]).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace

// Webhook changes are audited in their own transaction: an audit.recorded
// event in notifications' outbox, with the actor and the client's address.
TEST_P(StoreTest, WebhookChangesAreAuditedThroughTheOutbox) {
  Owner alice{"org1", "alice"};
  TenantContext actor;
  actor.org_id = "org1";
  actor.user_id = "alice";
  actor.client_address = "198.51.100.4";
  pb::Webhook w;
  w.set_id(NewId());
  w.set_url("http://127.0.0.1:9/secret-token-path");
  ASSERT_TRUE(Await<pb::CreateWebhookResponse>([&](Done<pb::CreateWebhookResponse> d) {
                store_->CreateWebhook(alice, w, "whsec_x", IdempotencyScope{}, pb::CreateWebhookRequest(), kNoQuota,
                                      actor, d);
              }).ok());
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteWebhook(alice, w.id(), actor, d); }).ok());
  // A webhook of another user is not found, and records nothing.
  EXPECT_EQ(AwaitStatus([&](DoneStatus d) {
              store_->DeleteWebhook(Owner{"org1", "bob"}, w.id(), actor, d);
            }).code(),
            absl::StatusCode::kNotFound);
  std::vector<events::v1::Event> outbox;
  ASSERT_TRUE(store_->db()
                  .Read([&](db::Connection& conn) -> absl::Status {
                    auto st = conn.Prepare("SELECT data FROM outbox ORDER BY seq");
                    ASSIGN_OR_RETURN(outbox, db::ListBlobs<events::v1::Event>(st));
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(outbox.size(), 2u);
  EXPECT_EQ(outbox[0].type(), "audit.recorded");
  EXPECT_EQ(outbox[0].user_id(), "");  // no per-user consumer reacts to it
  EXPECT_EQ(outbox[0].audit().action(), "webhook.created");
  EXPECT_EQ(outbox[1].audit().action(), "webhook.deleted");
  for (const auto& e : outbox) {
    EXPECT_EQ(e.org_id(), "org1");
    EXPECT_EQ(e.audit().id(), e.id());
    EXPECT_EQ(e.audit().actor(), "user:alice");
    EXPECT_EQ(e.audit().client_address(), "198.51.100.4");
    EXPECT_EQ(e.audit().target_id(), w.id());
    EXPECT_EQ(e.audit().service(), "notifications");
    EXPECT_EQ(e.audit().detail().find("secret-token"), std::string::npos);
  }
  // Applied back to notifications itself, an audit event changes nothing.
  EXPECT_TRUE(store_->db().Write([&](db::Connection& c) { return store_->ApplyEvent(c, outbox[0]); }).ok());
}

// Domain events (domain_events.h): a wildcard filter takes the family, an
// org-level webhook every user's events of its org and nothing of another
// org's, and the body carries the event's id, user and object. Failed
// before: only notification.created and workflow steps reached webhooks.
TEST_P(StoreTest, DomainEventsReachWildcardWebhooksAndTheOrgsWebhooks) {
  Owner alice{"org1", "alice"}, bob{"org1", "bob"}, carol{"org2", "carol"};
  for (const Owner& o : {alice, bob, carol}) UserCreated(o, "UTC");
  pb::CreateWebhookResponse contacts = NewWebhook(alice, {"contact.*"});
  pb::CreateWebhookResponse bobs = NewWebhook(bob, {"*"});
  pb::CreateWebhookResponse org1 = NewWebhook(Owner{"org1", kOrgWebhookOwner}, {"contact.created", "ledger.changed"});
  pb::CreateWebhookResponse org2 = NewWebhook(Owner{"org2", kOrgWebhookOwner}, {});
  ppb::Contact eve;
  eve.set_id("eve");
  eve.set_display_name("Eve");
  ContactEvent(alice, eve);
  ContactEvent(alice, eve, "contact.updated");
  Interaction(alice, "eve", ipb::CALL);
  ContactEvent(bob, eve);
  ContactEvent(carol, eve);
  auto types = [&](const Owner& o, const pb::CreateWebhookResponse& w) {
    auto d = store_->ListDeliveries(o, w.webhook().id(), "", 100);
    EXPECT_TRUE(d.ok()) << d.status();
    std::multiset<std::string> out;
    for (const auto& x : d.value_or(std::vector<pb::Delivery>())) out.insert(x.event_type());
    return out;
  };
  EXPECT_EQ(types(alice, contacts), (std::multiset<std::string>{"contact.created", "contact.updated"}));
  EXPECT_EQ(types(bob, bobs), (std::multiset<std::string>{"contact.created"}));  // bob's own only
  EXPECT_EQ(types(Owner{"org1", kOrgWebhookOwner}, org1),
            (std::multiset<std::string>{"contact.created", "contact.created"}));
  EXPECT_EQ(types(Owner{"org2", kOrgWebhookOwner}, org2), (std::multiset<std::string>{"contact.created"}));
  // Another owner's webhook id answers NOT_FOUND.
  EXPECT_TRUE(absl::IsNotFound(store_->ListDeliveries(alice, org1.webhook().id(), "", 100).status()));
  // The body: the envelope with the acting user, and the contact as JSON.
  auto due =
      store_->ClaimDeliveries("r1", Now(), absl::Seconds(30),
                              {QueueClaim{DeliveryQueue{"org1", kOrgWebhookOwner, org1.webhook().id(), "", 0}, 10}});
  ASSERT_TRUE(due.ok()) << due.status();
  ASSERT_EQ(due->size(), 1u);
  ASSERT_EQ((*due)[0].size(), 2u);
  std::set<std::string> users;
  for (const TimerRow& t : (*due)[0]) {
    auto d = store_->LoadDelivery(t);
    ASSERT_TRUE(d.ok()) << d.status();
    google::protobuf::Struct body;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(d->body, &body).ok()) << d->body;
    EXPECT_EQ(body.fields().at("type").string_value(), "contact.created");
    EXPECT_EQ(body.fields().at("id").string_value(), d->event_id);
    EXPECT_EQ(body.fields().at("data").struct_value().fields().at("displayName").string_value(), "Eve");
    users.insert(body.fields().at("userId").string_value());
  }
  EXPECT_EQ(users, (std::set<std::string>{"alice", "bob"}));
}

// An org-level webhook is the org's: erasing a user (even the admin who
// made it) leaves it, erasing the org takes it with its deliveries.
TEST_P(StoreTest, OrgWebhooksGoWithTheOrgNotWithAUser) {
  Owner alice{"org1", "alice"}, org{"org1", kOrgWebhookOwner};
  UserCreated(alice, "UTC");
  pb::CreateWebhookResponse mine = NewWebhook(alice, {});
  pb::CreateWebhookResponse ours = NewWebhook(org, {});
  ppb::Contact eve;
  eve.set_id("eve");
  eve.set_display_name("Eve");
  ContactEvent(alice, eve);
  auto count = [&](const Owner& o) {
    auto w = store_->ListWebhooks(o, "", 100);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? w->size() : 0u;
  };
  auto erase = [&](const std::string& user) {
    ASSERT_TRUE(store_->db()
                    .Write([&](db::Connection& c) {
                      return EraseSubject(c, NotificationsErasureTables(), "org1", user, ToMicros(Now()));
                    })
                    .ok());
  };
  erase("alice");
  EXPECT_EQ(count(alice), 0u);
  EXPECT_EQ(count(org), 1u);
  auto delivered = store_->ListDeliveries(org, ours.webhook().id(), "", 100);
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  EXPECT_EQ(delivered->size(), 1u);  // alice's contact.created, before her erasure
  erase("");
  EXPECT_EQ(count(org), 0u);
  EXPECT_TRUE(absl::IsNotFound(store_->ListDeliveries(org, ours.webhook().id(), "", 100).status()));
  (void)mine;
}

TEST(EventTypePatternTest, WildcardsAreATrailingDotStarOrAStar) {
  for (const char* ok : {"*", "contact.*", "contact.created", "a.b.*", "ledger.changed"}) {
    EXPECT_TRUE(IsValidEventTypePattern(ok)) << ok;
  }
  for (const char* bad : {"", "con*", "*.created", ".*", "contact..*", "contact.*.x", "Contact.*", "a\nb"}) {
    EXPECT_FALSE(IsValidEventTypePattern(bad)) << bad;
  }
  EXPECT_TRUE(EventTypeMatches("contact.*", "contact.created"));
  EXPECT_TRUE(EventTypeMatches("*", "ledger.changed"));
  EXPECT_FALSE(EventTypeMatches("contact.*", "contact"));
  EXPECT_FALSE(EventTypeMatches("contact.*", "contacts.created"));
  EXPECT_FALSE(EventTypeMatches("contact.created", "contact.updated"));
}

// Failed before: the birthday notification had no draft, and logging a
// greeting left it in the inbox.
TEST_P(StoreTest, BirthdayNotificationCarriesADraftAndALoggedGreetingMarksItDone) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  ppb::Contact eve;
  eve.set_id("eve");
  eve.set_display_name("Eve Adams");
  eve.set_given_name("Eve");
  eve.set_how_we_met("the PyCon hallway track");
  eve.mutable_birthday()->set_month(3);
  eve.mutable_birthday()->set_day(30);
  ContactEvent(alice, eve);
  auto sched = NewScheduler("r1");
  SetNow(Utc(2026, 3, 30, 9, 0));
  Drain(*sched);
  auto birthday = [&]() -> std::optional<pb::Notification> {
    for (const auto& n : Inbox(alice)) {
      if (n.title() == "It is Eve Adams's birthday") return n;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(birthday().has_value());
  EXPECT_EQ(birthday()->draft(),
            "Happy birthday, Eve! I was just thinking back to how we met (the PyCon hallway track). Wishing you a "
            "wonderful year ahead.");
  // Any other interaction leaves it open; a greeting closes it.
  Interaction(alice, "eve", ipb::CALL);
  ASSERT_TRUE(birthday().has_value());
  Interaction(alice, "eve", ipb::BIRTHDAY_GREETING);
  EXPECT_FALSE(birthday().has_value());
  // Without how we met, the draft is the name alone.
  ppb::Contact sam;
  sam.set_id("sam");
  sam.set_display_name("Sam Lee");
  EXPECT_EQ(BirthdayGreetingDraft(sam), "Happy birthday, Sam! Wishing you a wonderful year ahead.");
}

// Failed before: nothing noticed a contact's new company or title.
TEST_P(StoreTest, ANewCompanyOrTitlePromptsACongratulationOncePerChange) {
  Owner alice{"org1", "alice"};
  UserCreated(alice, "UTC");
  auto milestones = [&] {
    std::vector<pb::Notification> out;
    for (const auto& n : Inbox(alice)) {
      if (n.kind() == kMilestoneKind) out.push_back(n);
    }
    return out;
  };
  ppb::Contact dan;
  dan.set_id("dan");
  dan.set_display_name("Dan Ito");
  dan.set_company("Initech");
  dan.set_title("Engineer");
  ContactEvent(alice, dan);  // a new contact: no milestone
  EXPECT_TRUE(milestones().empty());
  dan.add_tags("friend");
  ContactEvent(alice, dan, "contact.updated");  // nothing of the role changed
  EXPECT_TRUE(milestones().empty());
  dan.set_title("Senior Engineer");
  events::v1::Event promoted;
  promoted.set_id(NewId());
  promoted.set_type("contact.updated");
  promoted.set_org_id(alice.org);
  promoted.set_user_id(alice.user);
  promoted.mutable_changed()->add_paths("title");
  *promoted.mutable_contact()->mutable_contact() = dan;
  Apply(promoted);
  ASSERT_EQ(milestones().size(), 1u);
  EXPECT_EQ(milestones()[0].contact_id(), "dan");
  EXPECT_EQ(milestones()[0].title(), "Congratulate Dan Ito on their new role");
  EXPECT_NE(milestones()[0].draft().find("Senior Engineer at Initech, Dan!"), std::string::npos)
      << milestones()[0].draft();
  // The same change again (an import that finds it already applied) prompts nothing more.
  ContactEvent(alice, dan, "contact.updated");
  EXPECT_EQ(milestones().size(), 1u);
  dan.set_company("Globex");
  ContactEvent(alice, dan, "contact.updated");
  EXPECT_EQ(milestones().size(), 2u);
  // A company filled in for the first time (by hand or by a merge) is no news.
  ppb::Contact fay;
  fay.set_id("fay");
  fay.set_display_name("Fay");
  ContactEvent(alice, fay);
  fay.set_company("Hooli");
  ContactEvent(alice, fay, "contact.updated");
  EXPECT_EQ(milestones().size(), 2u);
  // A contact never seen before is new, not promoted.
  ppb::Contact newcomer = dan;
  newcomer.set_id("newcomer");
  ContactEvent(alice, newcomer, "contact.updated");
  EXPECT_EQ(milestones().size(), 2u);
  // Logging the congratulation closes both prompts.
  Interaction(alice, "dan", ipb::CONGRATULATION);
  EXPECT_TRUE(milestones().empty());
}

INSTANTIATE_TEST_SUITE_P(Drivers, StoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace rapport::notifications
