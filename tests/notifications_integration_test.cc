// End-to-end tests of the notifications service with a real redis-server and
// the real profiles, interactions and notifications binaries: reminders,
// workflows that stop on reply, exactly-once firing across kill -9, webhooks
// against a receiver started by the test, the live stream, tenant isolation.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/api/v1/annotations.pb.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/notifications/v1/notifications.grpc.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/crypto.h"
#include "services/common/db.h"
#include "services/common/http_client.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "tests/testing/harness.h"
#include "tests/testing/http_receiver.h"
#include "tests/testing/sse_client.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
namespace npb = ::rapport::notifications::v1;
using ::rapport::testing::HttpReceiver;
using ::rapport::testing::ReceivedRequest;
using ::rapport::testing::Stack;
using ::rapport::testing::WaitFor;

const std::map<std::string, std::string>& NotificationsEnv() {
  static const std::map<std::string, std::string> kEnv = {
      {"RAPPORT_WEBHOOK_ALLOW_PRIVATE", "1"}, {"RAPPORT_WEBHOOK_MAX_ATTEMPTS", "3"},
      {"RAPPORT_WEBHOOK_BACKOFF_MS", "200"},  {"RAPPORT_WEBHOOK_BACKOFF_CAP_MS", "1000"},
      {"RAPPORT_WEBHOOK_TIMEOUT_MS", "2000"}, {"RAPPORT_LIVE_TICK_MS", "100"},
  };
  return kEnv;
}

class NotificationsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.redis().Start().ok());
    ASSERT_TRUE(stack_.Start("profiles").ok());
    ASSERT_TRUE(stack_.Start("interactions").ok());
    ASSERT_TRUE(stack_.Start("notifications", NotificationsEnv()).ok());
    profiles_ =
        ppb::ProfilesService::NewStub(grpc::CreateChannel(stack_.Addr("profiles"), grpc::InsecureChannelCredentials()));
    interactions_ = ipb::InteractionsService::NewStub(
        grpc::CreateChannel(stack_.Addr("interactions"), grpc::InsecureChannelCredentials()));
    notifications_ = npb::NotificationsService::NewStub(
        grpc::CreateChannel(stack_.Addr("notifications"), grpc::InsecureChannelCredentials()));
  }

  TenantContext NewUser(const std::string& org_name, const std::string& timezone = "Europe/Paris") {
    ppb::CreateOrgRequest req;
    req.set_display_name(org_name);
    ppb::CreateOrgResponse org;
    EXPECT_TRUE(profiles_->CreateOrg(Stack::Call(Stack::Platform()).get(), req, &org).ok());
    ppb::CreateUserRequest ureq;
    ureq.set_display_name("user");
    ureq.set_email(NewId() + "@" + org_name + ".test");
    ureq.set_timezone(timezone);
    ppb::User user;
    grpc::Status s = profiles_->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return Stack::User(org.org().id(), user.id());
  }

  // A contact, once the notifications service has seen its event.
  std::string NewContact(const TenantContext& who, const std::string& name) {
    ppb::CreateContactRequest req;
    req.mutable_contact()->set_display_name(name);
    ppb::Contact c;
    grpc::Status s = profiles_->CreateContact(Stack::Call(who).get(), req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    // RunWorkflow answers INVALID_ARGUMENT until the contact is projected.
    std::string probe = ManualWorkflow(who);
    EXPECT_TRUE(WaitFor(
        [&] {
          npb::RunWorkflowRequest run;
          run.set_workflow_id(probe);
          run.set_contact_id(c.id());
          npb::WorkflowRun out;
          return notifications_->RunWorkflow(Stack::Call(who).get(), run, &out).ok();
        },
        std::chrono::seconds(10)));
    return c.id();
  }

  std::string ManualWorkflow(const TenantContext& who) {
    auto it = manual_.find(who.org_id + who.user_id);
    if (it != manual_.end()) return it->second;
    npb::CreateWorkflowRequest req;
    npb::Workflow* w = req.mutable_workflow();
    w->set_display_name("probe");
    w->mutable_trigger()->set_kind(npb::MANUAL);
    npb::Step* s = w->add_steps();
    s->set_kind(npb::WAIT);
    s->mutable_duration()->set_seconds(3600);
    npb::Workflow out;
    grpc::Status st = notifications_->CreateWorkflow(Stack::Call(who).get(), req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    manual_[who.org_id + who.user_id] = out.id();
    return out.id();
  }

  grpc::Status Log(const TenantContext& who, const std::string& contact, ipb::InteractionKind kind) {
    ipb::CreateInteractionRequest req;
    req.mutable_interaction()->set_kind(kind);
    req.mutable_interaction()->set_direction(ipb::MUTUAL);
    req.mutable_interaction()->add_contact_ids(contact);
    ipb::Interaction out;
    return interactions_->CreateInteraction(Stack::Call(who).get(), req, &out);
  }

  std::vector<npb::Notification> Inbox(
      const TenantContext& who, npb::ListNotificationsRequest::StateFilter state = npb::ListNotificationsRequest::ALL) {
    std::vector<npb::Notification> out;
    npb::ListNotificationsRequest req;
    req.set_page_size(500);
    req.set_state(state);
    while (true) {
      npb::ListNotificationsResponse resp;
      grpc::Status s = notifications_->ListNotifications(Stack::Call(who).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) return out;
      for (const auto& n : resp.notifications()) out.push_back(n);
      if (resp.next_page_token().empty()) return out;
      req.set_page_token(resp.next_page_token());
    }
  }

  grpc::Status Remind(const TenantContext& who, const std::string& contact, absl::Time due, const std::string& note,
                      npb::Reminder* out) {
    npb::CreateReminderRequest req;
    req.mutable_reminder()->set_contact_id(contact);
    req.mutable_reminder()->set_note(note);
    *req.mutable_reminder()->mutable_due_time() = ToTimestamp(ToMicros(due));
    return notifications_->CreateReminder(Stack::Call(who).get(), req, out);
  }

  std::vector<npb::WorkflowRun> Runs(const TenantContext& who, const std::string& workflow) {
    npb::ListWorkflowRunsRequest req;
    req.set_workflow_id(workflow);
    npb::ListWorkflowRunsResponse resp;
    grpc::Status s = notifications_->ListWorkflowRuns(Stack::Call(who).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.runs().begin(), resp.runs().end()};
  }

  Stack stack_;
  std::unique_ptr<ppb::ProfilesService::Stub> profiles_;
  std::unique_ptr<ipb::InteractionsService::Stub> interactions_;
  std::unique_ptr<npb::NotificationsService::Stub> notifications_;
  std::map<std::string, std::string> manual_;
};

TEST_F(NotificationsIntegrationTest, ReminderDueInTwoSecondsLandsInTheInboxOnce) {
  TenantContext alice = NewUser("acme");
  // A contact created a moment ago: its event may not have reached
  // notifications yet, and profiles confirms it.
  ppb::CreateContactRequest creq;
  creq.mutable_contact()->set_display_name("Bob");
  ppb::Contact created;
  ASSERT_TRUE(profiles_->CreateContact(Stack::Call(alice).get(), creq, &created).ok());
  std::string bob = created.id();
  absl::Time due = absl::Now() + absl::Seconds(2);
  npb::Reminder reminder;
  grpc::Status s = Remind(alice, bob, due, "ask about the job", &reminder);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reminder.state(), npb::PENDING);
  ASSERT_TRUE(WaitFor([&] { return !Inbox(alice).empty(); }, std::chrono::seconds(10)));
  std::vector<npb::Notification> inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].kind(), "reminder");
  EXPECT_EQ(inbox[0].title(), "Reminder: Bob");
  EXPECT_EQ(inbox[0].body(), "ask about the job");
  EXPECT_EQ(inbox[0].contact_id(), bob);
  EXPECT_GE(TimestampToMicros(inbox[0].create_time()), ToMicros(due));  // not early
  npb::ListRemindersResponse reminders;
  ASSERT_TRUE(notifications_->ListReminders(Stack::Call(alice).get(), npb::ListRemindersRequest(), &reminders).ok());
  ASSERT_EQ(reminders.reminders_size(), 1);
  EXPECT_EQ(reminders.reminders(0).state(), npb::FIRED);
  EXPECT_EQ(reminders.reminders(0).notification_id(), inbox[0].id());

  // Read, then the UNREAD view is empty and READ has it.
  npb::ReadNotificationRequest read;
  read.set_id(inbox[0].id());
  npb::Notification n;
  ASSERT_TRUE(notifications_->ReadNotification(Stack::Call(alice).get(), read, &n).ok());
  EXPECT_EQ(n.state(), npb::READ);
  EXPECT_TRUE(Inbox(alice, npb::ListNotificationsRequest::UNREAD).empty());
  EXPECT_EQ(Inbox(alice, npb::ListNotificationsRequest::READ).size(), 1u);
  // Snoozed for two seconds: gone, then back, still exactly one.
  npb::SnoozeNotificationRequest snooze;
  snooze.set_id(n.id());
  *snooze.mutable_until() = ToTimestamp(ToMicros(absl::Now() + absl::Seconds(2)));
  ASSERT_TRUE(notifications_->SnoozeNotification(Stack::Call(alice).get(), snooze, &n).ok());
  EXPECT_EQ(n.state(), npb::SNOOZED);
  EXPECT_TRUE(Inbox(alice).empty());
  ASSERT_TRUE(WaitFor([&] { return Inbox(alice, npb::ListNotificationsRequest::UNREAD).size() == 1; },
                      std::chrono::seconds(10)));
  EXPECT_EQ(Inbox(alice).size(), 1u);
  npb::DismissNotificationRequest dismiss;
  dismiss.set_id(n.id());
  ASSERT_TRUE(notifications_->DismissNotification(Stack::Call(alice).get(), dismiss, &n).ok());
  EXPECT_TRUE(Inbox(alice).empty());
}

TEST_F(NotificationsIntegrationTest, FollowUpWorkflowStopsWhenAnInteractionIsLogged) {
  TenantContext alice = NewUser("acme");
  std::string bob = NewContact(alice, "Bob");
  std::string carol = NewContact(alice, "Carol");
  npb::CreateWorkflowRequest req;
  npb::Workflow* w = req.mutable_workflow();
  w->set_display_name("Follow up after a call");
  w->mutable_trigger()->set_kind(npb::INTERACTION_CREATED);
  w->mutable_trigger()->add_interaction_kinds(ipb::CALL);
  npb::Step* wait = w->add_steps();
  wait->set_kind(npb::WAIT);
  wait->mutable_duration()->set_seconds(2);
  w->add_steps()->set_kind(npb::STOP_IF);
  npb::Step* notify = w->add_steps();
  notify->set_kind(npb::NOTIFY);
  notify->set_title("Follow up with {{contact.displayName}}");
  npb::Workflow workflow;
  grpc::Status s = notifications_->CreateWorkflow(Stack::Call(alice).get(), req, &workflow);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(workflow.enabled());  // the default

  ASSERT_TRUE(Log(alice, bob, ipb::CALL).ok());
  ASSERT_TRUE(Log(alice, carol, ipb::CALL).ok());
  ASSERT_TRUE(WaitFor([&] { return Runs(alice, workflow.id()).size() == 2; }, std::chrono::seconds(10)));
  ASSERT_TRUE(Log(alice, bob, ipb::MESSAGE).ok());  // bob replied
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& r : Runs(alice, workflow.id())) {
          if (r.state() == npb::WAITING || r.state() == npb::RUNNING) return false;
        }
        return true;
      },
      std::chrono::seconds(15)));
  std::map<std::string, npb::WorkflowRun> by_contact;
  for (const auto& r : Runs(alice, workflow.id())) by_contact[r.contact_id()] = r;
  EXPECT_EQ(by_contact[bob].state(), npb::STOPPED);
  EXPECT_FALSE(by_contact[bob].reason().empty());
  EXPECT_EQ(by_contact[carol].state(), npb::COMPLETED);
  EXPECT_EQ(by_contact[carol].history_size(), 3);
  std::vector<npb::Notification> inbox = Inbox(alice);
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].title(), "Follow up with Carol");
  EXPECT_EQ(inbox[0].workflow_id(), workflow.id());
}

TEST_F(NotificationsIntegrationTest, BuiltinsExistAndCanBeTurnedOff) {
  TenantContext alice = NewUser("acme");
  npb::ListWorkflowsResponse list;
  ASSERT_TRUE(notifications_->ListWorkflows(Stack::Call(alice).get(), npb::ListWorkflowsRequest(), &list).ok());
  std::map<std::string, npb::Workflow> builtins;
  for (const auto& w : list.workflows()) {
    if (!w.builtin().empty()) builtins[w.builtin()] = w;
  }
  ASSERT_EQ(builtins.size(), 6u);
  EXPECT_TRUE(builtins["birthday"].enabled());
  npb::UpdateWorkflowRequest off;
  off.set_workflow_id(builtins["thank_you"].id());
  off.mutable_workflow()->set_enabled(false);
  off.mutable_update_mask()->add_paths("enabled");
  npb::Workflow updated;
  ASSERT_TRUE(notifications_->UpdateWorkflow(Stack::Call(alice).get(), off, &updated).ok());
  EXPECT_FALSE(updated.enabled());
  EXPECT_EQ(updated.builtin(), "thank_you");
  // Nor can a client change what the server owns.
  off.mutable_update_mask()->add_paths("builtin");
  grpc::Status s = notifications_->UpdateWorkflow(Stack::Call(alice).get(), off, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string bob = NewContact(alice, "Bob");
  ASSERT_TRUE(Log(alice, bob, ipb::MEETING).ok());
  ASSERT_TRUE(Log(alice, bob, ipb::CONVERSATION).ok());
  // The follow-up (on) saw the conversation; the thank-you (off) did not see the meeting.
  // (The conversation is not bob's first interaction, so follow_up starts nothing either.)
  npb::ListWorkflowRunsRequest runs;
  runs.set_workflow_id(builtins["thank_you"].id());
  npb::ListWorkflowRunsResponse out;
  ASSERT_TRUE(WaitFor([&] { return !Runs(alice, ManualWorkflow(alice)).empty(); }, std::chrono::seconds(5)));
  ASSERT_TRUE(notifications_->ListWorkflowRuns(Stack::Call(alice).get(), runs, &out).ok());
  EXPECT_EQ(out.runs_size(), 0);
}

TEST_F(NotificationsIntegrationTest, LocalTimesUseTheTimezoneFromTheUsersProfile) {
  // Chatham Islands: UTC+12:45 or +13:45, so no wall time there is the same
  // minute in UTC or in the machine's zone.
  TenantContext alice = NewUser("acme", "Pacific/Chatham");
  absl::TimeZone chatham;
  ASSERT_TRUE(absl::LoadTimeZone("Pacific/Chatham", &chatham));
  std::string bob = NewContact(alice, "Bob");  // also waits until alice's user event was seen
  // The next whole minute in Chatham at least 5 s away.
  absl::CivilMinute minute = absl::ToCivilMinute(absl::Now() + absl::Seconds(65), chatham);
  absl::Time at = absl::FromCivil(minute, chatham);
  npb::CreateWorkflowRequest req;
  npb::Workflow* w = req.mutable_workflow();
  w->set_display_name("at a local time");
  w->mutable_trigger()->set_kind(npb::MANUAL);
  npb::Step* wait = w->add_steps();
  wait->set_kind(npb::WAIT);
  wait->set_local_time(absl::FormatCivilTime(minute).substr(11, 5));  // "HH:MM"
  npb::Step* notify = w->add_steps();
  notify->set_kind(npb::NOTIFY);
  notify->set_title("It is time");
  npb::Workflow workflow;
  ASSERT_TRUE(notifications_->CreateWorkflow(Stack::Call(alice).get(), req, &workflow).ok());
  npb::RunWorkflowRequest run;
  run.set_workflow_id(workflow.id());
  run.set_contact_id(bob);
  npb::WorkflowRun started;
  grpc::Status s = notifications_->RunWorkflow(Stack::Call(alice).get(), run, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Today (in Chatham) at that wall time, unless it already passed there.
  absl::Time want = at > absl::Now() ? at : at + absl::Hours(24);
  EXPECT_EQ(started.state(), npb::WAITING);
  EXPECT_EQ(TimestampToMicros(started.wake_time()), ToMicros(want)) << absl::FormatTime(want, chatham);
  if (want - absl::Now() < absl::Seconds(90)) {
    ASSERT_TRUE(WaitFor([&] { return !Inbox(alice).empty(); }, std::chrono::seconds(100)));
    EXPECT_GE(TimestampToMicros(Inbox(alice)[0].create_time()), ToMicros(want));
  }
}

TEST_F(NotificationsIntegrationTest, KilledWith500TimersDueFiresEachExactlyOnceAfterRestart) {
  TenantContext alice = NewUser("acme");
  absl::Time due = absl::Now() + absl::Seconds(3);
  std::set<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    npb::Reminder r;
    grpc::Status s = Remind(alice, "", due, absl::StrCat("note ", i), &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.insert(r.id());
  }
  stack_.Kill9("notifications");
  // Down while every timer comes due.
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > due + absl::Seconds(1); }, std::chrono::seconds(10)));
  ASSERT_TRUE(stack_.Start("notifications", NotificationsEnv()).ok());
  ASSERT_TRUE(WaitFor([&] { return Inbox(alice).size() >= 500; }, std::chrono::seconds(30)));
  std::vector<npb::Notification> inbox = Inbox(alice);
  EXPECT_EQ(inbox.size(), 500u);
  std::set<std::string> fired;
  for (const auto& n : inbox) {
    fired.insert(n.reminder_id());
    EXPECT_GE(TimestampToMicros(n.create_time()), ToMicros(due));
  }
  EXPECT_EQ(fired, ids);
  // A second crash and restart after firing changes nothing.
  stack_.Kill9("notifications");
  ASSERT_TRUE(stack_.Start("notifications", NotificationsEnv()).ok());
  npb::ListRemindersRequest lr;
  lr.set_page_size(500);
  npb::ListRemindersResponse reminders;
  ASSERT_TRUE(notifications_->ListReminders(Stack::Call(alice).get(), lr, &reminders).ok());
  for (const auto& r : reminders.reminders()) EXPECT_EQ(r.state(), npb::FIRED);
  EXPECT_EQ(Inbox(alice).size(), 500u);
}

TEST_F(NotificationsIntegrationTest, KilledWhileFiringFiresEachRemainingTimerExactlyOnce) {
  TenantContext alice = NewUser("acme");
  std::map<std::string, std::string> env = NotificationsEnv();
  env["RAPPORT_TIMER_BATCH"] = "25";  // many small transactions, so the kill lands between them
  ASSERT_TRUE(stack_.Start("notifications", env).ok());
  absl::Time due = absl::Now() + absl::Seconds(2);
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    npb::Reminder r;
    grpc::Status s = Remind(alice, "", due, absl::StrCat("note ", i), &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.insert(r.id());
  }
  // Killed as soon as the first notifications are visible.
  npb::ListNotificationsRequest one;
  one.set_page_size(1);
  ASSERT_TRUE(WaitFor(
      [&] {
        npb::ListNotificationsResponse resp;
        return notifications_->ListNotifications(Stack::Call(alice).get(), one, &resp).ok() &&
               resp.notifications_size() > 0;
      },
      std::chrono::seconds(20)));
  stack_.Kill9("notifications");
  ASSERT_TRUE(stack_.Start("notifications", env).ok());
  ASSERT_TRUE(WaitFor([&] { return Inbox(alice).size() >= 1000; }, std::chrono::seconds(60)));
  std::vector<npb::Notification> inbox = Inbox(alice);
  EXPECT_EQ(inbox.size(), 1000u);
  std::set<std::string> fired;
  for (const auto& n : inbox) fired.insert(n.reminder_id());
  EXPECT_EQ(fired, ids);
}

// Checks a webhook request the way a receiver would, with the secret.
void ExpectSigned(const ReceivedRequest& r, const std::string& secret) {
  std::string header = r.headers.count("rapport-signature") ? r.headers.at("rapport-signature") : "";
  std::vector<std::string> parts = absl::StrSplit(header, ',');
  ASSERT_EQ(parts.size(), 2u) << header;
  ASSERT_EQ(parts[0].substr(0, 2), "t=");
  ASSERT_EQ(parts[1].substr(0, 3), "v1=");
  std::string t = parts[0].substr(2);
  EXPECT_TRUE(ConstantTimeEquals(parts[1].substr(3), HexEncode(HmacSha256(secret, t + "." + r.body)))) << header;
  int64_t sent = 0;
  ASSERT_TRUE(absl::SimpleAtoi(t, &sent));
  EXPECT_LE(std::abs(absl::ToUnixSeconds(absl::Now()) - sent), 60);
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("rapport-event-type"), "notification.created");
  EXPECT_FALSE(r.headers.at("rapport-event-id").empty());
}

TEST_F(NotificationsIntegrationTest, WebhooksAreSignedRetriedAfter500NotAfter400AndDeadLettered) {
  TenantContext alice = NewUser("acme");
  HttpReceiver flaky, rejecting, broken;
  ASSERT_TRUE(flaky.Start().ok());
  ASSERT_TRUE(rejecting.Start().ok());
  ASSERT_TRUE(broken.Start().ok());
  flaky.set_responder([](int i, const ReceivedRequest&) { return i == 0 ? 500 : 200; });
  rejecting.set_responder([](int, const ReceivedRequest&) { return 400; });
  broken.set_responder([](int, const ReceivedRequest&) { return 503; });
  std::map<std::string, npb::CreateWebhookResponse> hooks;
  for (auto [name, receiver] :
       {std::pair<const char*, HttpReceiver*>{"flaky", &flaky}, {"rejecting", &rejecting}, {"broken", &broken}}) {
    npb::CreateWebhookRequest req;
    req.set_url(receiver->Url("/hooks/" + std::string(name)));
    req.add_event_types("notification.created");
    npb::CreateWebhookResponse resp;
    grpc::Status s = notifications_->CreateWebhook(Stack::Call(alice).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.secret().substr(0, 6), "whsec_");
    hooks[name] = resp;
  }
  npb::Reminder r;
  ASSERT_TRUE(Remind(alice, "", absl::Now(), "ping", &r).ok());

  auto deliveries = [&](const std::string& name) {
    npb::ListDeliveriesRequest req;
    req.set_webhook_id(hooks[name].webhook().id());
    npb::ListDeliveriesResponse resp;
    EXPECT_TRUE(notifications_->ListDeliveries(Stack::Call(alice).get(), req, &resp).ok());
    return std::vector<npb::Delivery>(resp.deliveries().begin(), resp.deliveries().end());
  };
  auto final_state = [&](const std::string& name) {
    auto d = deliveries(name);
    return d.size() == 1 && d[0].state() != npb::DELIVERY_PENDING;
  };
  ASSERT_TRUE(WaitFor([&] { return final_state("flaky") && final_state("rejecting") && final_state("broken"); },
                      std::chrono::seconds(20)));

  npb::Delivery d = deliveries("flaky")[0];
  EXPECT_EQ(d.state(), npb::DELIVERED);
  EXPECT_EQ(d.attempt_count(), 2);
  ASSERT_EQ(d.attempts_size(), 2);
  EXPECT_EQ(d.attempts(0).status_code(), 500);
  EXPECT_EQ(d.attempts(1).status_code(), 200);
  auto got = flaky.requests();
  ASSERT_EQ(got.size(), 2u);
  for (const auto& req : got) {
    ExpectSigned(req, hooks["flaky"].secret());
    EXPECT_EQ(req.path, "/hooks/flaky");
  }
  EXPECT_EQ(got[0].headers.at("rapport-event-id"), got[1].headers.at("rapport-event-id"));  // the same event
  EXPECT_NE(got[0].body.find("\"ping\""), std::string::npos) << got[0].body;

  d = deliveries("rejecting")[0];
  EXPECT_EQ(d.state(), npb::DELIVERY_FAILED);
  EXPECT_EQ(d.attempt_count(), 1);
  EXPECT_EQ(d.last_status_code(), 400);
  EXPECT_EQ(rejecting.requests().size(), 1u);

  d = deliveries("broken")[0];
  EXPECT_EQ(d.state(), npb::DEAD_LETTER);
  EXPECT_EQ(d.attempt_count(), 3);
  EXPECT_EQ(broken.requests().size(), 3u);
  for (const auto& req : broken.requests()) ExpectSigned(req, hooks["broken"].secret());
  // All three ended, and their rows say when (the retention of deliveries
  // counts from it), read from the service's database.
  rapport::db::Options inspect;
  inspect.path = stack_.data_dir() + "/notifications.db";
  inspect.read_only = true;
  inspect.read_connections = 1;
  auto db = rapport::db::Open(inspect);
  ASSERT_TRUE(db.ok()) << db.status();
  int64_t finished = -1;
  ASSERT_TRUE((*db)
                  ->Read([&](rapport::db::Connection& conn) -> absl::Status {
                    auto st = conn.Prepare("SELECT COUNT(*) FROM deliveries WHERE finished_us > 0");
                    ASSIGN_OR_RETURN(bool row, st.Step());
                    if (row) finished = st.ColumnInt(0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(finished, 3);

  // Deleted: the next notification is not delivered there.
  npb::DeleteWebhookRequest del;
  del.set_webhook_id(hooks["flaky"].webhook().id());
  npb::DeleteWebhookResponse deleted;
  ASSERT_TRUE(notifications_->DeleteWebhook(Stack::Call(alice).get(), del, &deleted).ok());
  npb::ListWebhooksResponse left;
  ASSERT_TRUE(notifications_->ListWebhooks(Stack::Call(alice).get(), npb::ListWebhooksRequest(), &left).ok());
  EXPECT_EQ(left.webhooks_size(), 2);
}

TEST_F(NotificationsIntegrationTest, WebhookUrlsAreChecked) {
  TenantContext alice = NewUser("acme");
  for (const char* bad : {"ftp://127.0.0.1/x", "not a url", "", "http://no-such-host.invalid/x"}) {
    npb::CreateWebhookRequest req;
    req.set_url(bad);
    npb::CreateWebhookResponse resp;
    grpc::Status s = notifications_->CreateWebhook(Stack::Call(alice).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(s.error_message().substr(0, 4), "url:") << s.error_message();
  }
  // Without RAPPORT_WEBHOOK_ALLOW_PRIVATE, loopback is refused.
  ASSERT_TRUE(stack_.Start("notifications").ok());
  npb::CreateWebhookRequest req;
  req.set_url("http://127.0.0.1:9/hook");
  npb::CreateWebhookResponse resp;
  grpc::Status s = notifications_->CreateWebhook(Stack::Call(alice).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("private"), std::string::npos) << s.error_message();
}

TEST_F(NotificationsIntegrationTest, SubscribeReplaysAfterTheLastIdThenStreamsLive) {
  TenantContext alice = NewUser("acme");
  npb::Reminder r;
  ASSERT_TRUE(Remind(alice, "", absl::Now(), "first", &r).ok());
  ASSERT_TRUE(WaitFor([&] { return Inbox(alice).size() == 1; }, std::chrono::seconds(10)));
  npb::SubscribeRequest from_start;
  from_start.set_last_event_id("0");
  auto ctx = Stack::Call(alice);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto reader = notifications_->Subscribe(ctx.get(), from_start);
  npb::NotificationEvent e1;
  ASSERT_TRUE(reader->Read(&e1));
  EXPECT_EQ(e1.notification().body(), "first");
  ASSERT_TRUE(Remind(alice, "", absl::Now(), "second", &r).ok());
  npb::NotificationEvent e2;
  ASSERT_TRUE(reader->Read(&e2));
  EXPECT_EQ(e2.notification().body(), "second");
  ctx->TryCancel();
  // A reconnect after e1 gets e2 again, and nothing before it.
  npb::SubscribeRequest resume;
  resume.set_last_event_id(e1.id());
  auto ctx2 = Stack::Call(alice);
  auto reader2 = notifications_->Subscribe(ctx2.get(), resume);
  npb::NotificationEvent again;
  ASSERT_TRUE(reader2->Read(&again));
  EXPECT_EQ(again.id(), e2.id());
  EXPECT_EQ(again.notification().body(), "second");
  ctx2->TryCancel();
  // Another org's user sees nothing of alice's; a bad position is refused.
  TenantContext mallory = NewUser("evil");
  auto ctx3 = Stack::Call(mallory);
  ctx3->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
  auto reader3 = notifications_->Subscribe(ctx3.get(), from_start);
  npb::NotificationEvent none;
  EXPECT_FALSE(reader3->Read(&none));
  EXPECT_EQ(reader3->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  npb::SubscribeRequest bad;
  bad.set_last_event_id("abc");
  auto ctx4 = Stack::Call(alice);
  auto reader4 = notifications_->Subscribe(ctx4.get(), bad);
  EXPECT_FALSE(reader4->Read(&none));
  EXPECT_EQ(reader4->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto ctx5 = Stack::Call(alice, "wrong-key");
  auto reader5 = notifications_->Subscribe(ctx5.get(), from_start);
  EXPECT_FALSE(reader5->Read(&none));
  EXPECT_EQ(reader5->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(NotificationsIntegrationTest, AnotherTenantsIdsAreNotFoundOnEveryRpc) {
  TenantContext alice = NewUser("acme");
  TenantContext mallory = NewUser("evil");
  std::string bob = NewContact(alice, "Bob");
  npb::Reminder reminder;
  ASSERT_TRUE(Remind(alice, bob, absl::Now(), "x", &reminder).ok());
  ASSERT_TRUE(WaitFor([&] { return Inbox(alice).size() == 1; }, std::chrono::seconds(10)));
  std::string notification = Inbox(alice)[0].id();
  std::string workflow = ManualWorkflow(alice);
  HttpReceiver receiver;
  ASSERT_TRUE(receiver.Start().ok());
  npb::CreateWebhookRequest wreq;
  wreq.set_url(receiver.Url("/h"));
  npb::CreateWebhookResponse webhook;
  ASSERT_TRUE(notifications_->CreateWebhook(Stack::Call(alice).get(), wreq, &webhook).ok());

  auto m = [&] { return Stack::Call(mallory); };
  auto expect_not_found = [](const grpc::Status& s, const char* what) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << what << ": " << s.error_message();
  };
  npb::Notification n;
  npb::ReadNotificationRequest read;
  read.set_id(notification);
  expect_not_found(notifications_->ReadNotification(m().get(), read, &n), "read");
  npb::DismissNotificationRequest dismiss;
  dismiss.set_id(notification);
  expect_not_found(notifications_->DismissNotification(m().get(), dismiss, &n), "dismiss");
  npb::SnoozeNotificationRequest snooze;
  snooze.set_id(notification);
  *snooze.mutable_until() = ToTimestamp(ToMicros(absl::Now() + absl::Hours(1)));
  expect_not_found(notifications_->SnoozeNotification(m().get(), snooze, &n), "snooze");
  npb::DeleteReminderRequest delr;
  delr.set_reminder_id(reminder.id());
  npb::DeleteReminderResponse delr_out;
  expect_not_found(notifications_->DeleteReminder(m().get(), delr, &delr_out), "delete reminder");
  npb::GetWorkflowRequest getw;
  getw.set_workflow_id(workflow);
  npb::Workflow w;
  expect_not_found(notifications_->GetWorkflow(m().get(), getw, &w), "get workflow");
  npb::UpdateWorkflowRequest upw;
  upw.set_workflow_id(workflow);
  upw.mutable_workflow()->set_display_name("mine now");
  expect_not_found(notifications_->UpdateWorkflow(m().get(), upw, &w), "update workflow");
  npb::RunWorkflowRequest run;
  run.set_workflow_id(workflow);
  npb::WorkflowRun run_out;
  expect_not_found(notifications_->RunWorkflow(m().get(), run, &run_out), "run workflow");
  npb::ListWorkflowRunsRequest runs;
  runs.set_workflow_id(workflow);
  npb::ListWorkflowRunsResponse runs_out;
  expect_not_found(notifications_->ListWorkflowRuns(m().get(), runs, &runs_out), "list runs");
  npb::DeleteWorkflowRequest delw;
  delw.set_workflow_id(workflow);
  npb::DeleteWorkflowResponse delw_out;
  expect_not_found(notifications_->DeleteWorkflow(m().get(), delw, &delw_out), "delete workflow");
  npb::ListDeliveriesRequest deliveries;
  deliveries.set_webhook_id(webhook.webhook().id());
  npb::ListDeliveriesResponse deliveries_out;
  expect_not_found(notifications_->ListDeliveries(m().get(), deliveries, &deliveries_out), "deliveries");
  npb::DeleteWebhookRequest delh;
  delh.set_webhook_id(webhook.webhook().id());
  npb::DeleteWebhookResponse delh_out;
  expect_not_found(notifications_->DeleteWebhook(m().get(), delh, &delh_out), "delete webhook");
  // Mallory's lists hold none of alice's things, and her contact check fails on alice's contact.
  EXPECT_TRUE(Inbox(mallory).empty());
  npb::ListRemindersResponse rl;
  ASSERT_TRUE(notifications_->ListReminders(m().get(), npb::ListRemindersRequest(), &rl).ok());
  EXPECT_EQ(rl.reminders_size(), 0);
  npb::ListWebhooksResponse hl;
  ASSERT_TRUE(notifications_->ListWebhooks(m().get(), npb::ListWebhooksRequest(), &hl).ok());
  EXPECT_EQ(hl.webhooks_size(), 0);
  npb::ListWorkflowsResponse wl;
  ASSERT_TRUE(notifications_->ListWorkflows(m().get(), npb::ListWorkflowsRequest(), &wl).ok());
  for (const auto& x : wl.workflows()) EXPECT_NE(x.id(), workflow);
  npb::Reminder stolen;
  grpc::Status s = Remind(mallory, bob, absl::Now() + absl::Hours(1), "x", &stolen);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "reminder.contactId: no such contact");
  // And alice still has everything.
  EXPECT_TRUE(notifications_->GetWorkflow(Stack::Call(alice).get(), getw, &w).ok());
  // No credentials: UNAUTHENTICATED.
  grpc::ClientContext bare;
  npb::ListNotificationsResponse ln;
  EXPECT_EQ(notifications_->ListNotifications(&bare, npb::ListNotificationsRequest(), &ln).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(NotificationsIntegrationTest, BadInputsAreInvalidArgumentNamingTheField) {
  TenantContext alice = NewUser("acme");
  struct Case {
    std::string what;
    std::function<grpc::Status()> call;
    std::string field;
  };
  npb::Reminder r;
  npb::Workflow w;
  npb::Notification n;
  std::vector<Case> cases = {
      {"reminder without due time", [&] { return Remind(alice, "", absl::InfinitePast(), "x", &r); },
       "reminder.dueTime"},
      {"reminder far past", [&] { return Remind(alice, "", absl::Now() - absl::Hours(48), "x", &r); },
       "reminder.dueTime"},
      {"reminder bad contact id", [&] { return Remind(alice, "BAD ID!", absl::Now(), "x", &r); }, "reminder.contactId"},
      {"workflow without trigger",
       [&] {
         npb::CreateWorkflowRequest req;
         req.mutable_workflow()->set_display_name("x");
         req.mutable_workflow()->add_steps()->set_kind(npb::NOTIFY);
         return notifications_->CreateWorkflow(Stack::Call(alice).get(), req, &w);
       },
       "workflow.trigger.kind"},
      {"snooze in the past",
       [&] {
         npb::SnoozeNotificationRequest req;
         req.set_id("abc");
         *req.mutable_until() = ToTimestamp(ToMicros(absl::Now() - absl::Hours(1)));
         return notifications_->SnoozeNotification(Stack::Call(alice).get(), req, &n);
       },
       "until"},
      {"negative page size",
       [&] {
         npb::ListNotificationsRequest req;
         req.set_page_size(-1);
         npb::ListNotificationsResponse resp;
         return notifications_->ListNotifications(Stack::Call(alice).get(), req, &resp);
       },
       "pageSize"},
      {"bad page token",
       [&] {
         npb::ListNotificationsRequest req;
         req.set_page_token("garbage");
         npb::ListNotificationsResponse resp;
         return notifications_->ListNotifications(Stack::Call(alice).get(), req, &resp);
       },
       "pageToken"},
  };
  for (const Case& c : cases) {
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(c.field + ":"), std::string::npos) << c.what << ": " << s.error_message();
  }
}

using testing::SseClient;

TEST_F(NotificationsIntegrationTest, ServerSentEventsThroughTheGatewayResumeWithLastEventId) {
  ASSERT_TRUE(stack_.StartGateway({{"RAPPORT_SSE_HEARTBEAT_MS", "300"}}).ok());
  TenantContext alice = NewUser("acme");
  std::string token = gateway::SignJwtHs256(
      absl::StrCat(R"({"sub":")", alice.user_id, R"(","org":")", alice.org_id,
                   R"(","iss":"rapport","aud":"rapport","exp":)", absl::ToUnixSeconds(absl::Now()) + 300, "}"),
      testing::kTestJwtSecret);
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(stack_.Addr("gateway").substr(stack_.Addr("gateway").rfind(':') + 1), &port));
  const std::vector<std::string> auth = {"Authorization: Bearer " + token};

  SseClient live;
  ASSERT_TRUE(live.Connect(port, "/v1/notifications:stream", auth));
  ASSERT_TRUE(live.ReadHead(std::chrono::seconds(5)));
  EXPECT_NE(live.head().find("HTTP/1.1 200"), std::string::npos) << live.head();
  EXPECT_NE(live.head().find("text/event-stream"), std::string::npos) << live.head();
  EXPECT_NE(live.head().find("X-Request-Id"), std::string::npos) << live.head();
  // Heartbeats while idle, then a notification within a second of its creation.
  SseClient::Event e;
  EXPECT_FALSE(live.Next(&e, std::chrono::milliseconds(700)));
  EXPECT_GE(live.comments(), 1);
  npb::Reminder r;
  ASSERT_TRUE(Remind(alice, "", absl::Now(), "first", &r).ok());
  auto created = std::chrono::steady_clock::now();
  ASSERT_TRUE(live.Next(&e, std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - created, std::chrono::seconds(1));
  EXPECT_EQ(e.event, "notification");
  EXPECT_FALSE(e.id.empty());
  EXPECT_NE(e.data.find("\"body\":\"first\""), std::string::npos) << e.data;
  EXPECT_NE(e.data.find("\"reminderId\""), std::string::npos) << e.data;  // proto3 JSON names
  const std::string first_id = e.id;

  // Disconnected; two notifications while away; the reconnect gets both, in order.
  live.Close();
  ASSERT_TRUE(Remind(alice, "", absl::Now(), "second", &r).ok());
  ASSERT_TRUE(Remind(alice, "", absl::Now() + absl::Milliseconds(200), "third", &r).ok());
  ASSERT_TRUE(WaitFor([&] { return Inbox(alice).size() == 3; }, std::chrono::seconds(10)));
  SseClient resumed;
  ASSERT_TRUE(resumed.Connect(port, "/v1/notifications:stream", {auth[0], "Last-Event-ID: " + first_id}));
  ASSERT_TRUE(resumed.ReadHead(std::chrono::seconds(5)));
  ASSERT_TRUE(resumed.Next(&e, std::chrono::seconds(5)));
  EXPECT_NE(e.data.find("\"second\""), std::string::npos) << e.data;
  ASSERT_TRUE(resumed.Next(&e, std::chrono::seconds(5)));
  EXPECT_NE(e.data.find("\"third\""), std::string::npos) << e.data;
  EXPECT_GT(std::stoll(e.id), std::stoll(first_id));

  // The OpenAPI document says what the route answers.
  HttpResponse doc = HttpCall("GET", stack_.GatewayUrl() + "/openapi.json");
  ASSERT_EQ(doc.status, 200);
  EXPECT_NE(doc.body.find(R"("content":{"text/event-stream")"), std::string::npos);

  // Refusals are ordinary problems, not streams.
  SseClient bad;
  ASSERT_TRUE(bad.Connect(port, "/v1/notifications:stream", {auth[0], "Last-Event-ID: nonsense"}));
  ASSERT_TRUE(bad.ReadHead(std::chrono::seconds(5)));
  EXPECT_NE(bad.head().find("HTTP/1.1 400"), std::string::npos) << bad.head();
  SseClient anonymous;
  ASSERT_TRUE(anonymous.Connect(port, "/v1/notifications:stream", {}));
  ASSERT_TRUE(anonymous.ReadHead(std::chrono::seconds(5)));
  EXPECT_NE(anonymous.head().find("HTTP/1.1 401"), std::string::npos) << anonymous.head();

  // Stopping the gateway ends open streams promptly instead of hanging on them.
  auto stop = std::chrono::steady_clock::now();
  stack_.Stop("gateway");
  EXPECT_FALSE(resumed.Next(&e, std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - stop, std::chrono::seconds(4));
}

TEST_F(NotificationsIntegrationTest, EveryNotificationsRouteWorksThroughTheGateway) {
  ASSERT_TRUE(
      stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "100000"}, {"RAPPORT_RATE_LIMIT_BURST", "10000"}}).ok());
  TenantContext alice = NewUser("acme");
  std::string bob = NewContact(alice, "Bob");
  std::string token = gateway::SignJwtHs256(
      absl::StrCat(R"({"sub":")", alice.user_id, R"(","org":")", alice.org_id,
                   R"(","iss":"rapport","aud":"rapport","exp":)", absl::ToUnixSeconds(absl::Now()) + 300, "}"),
      testing::kTestJwtSecret);
  const std::vector<std::string> headers = {"Authorization: Bearer " + token, "Content-Type: application/json"};
  auto call = [&](const std::string& method, const std::string& path, const std::string& body = "") {
    HttpResponse r = HttpCall(method, stack_.GatewayUrl() + path, headers, body);
    EXPECT_EQ(r.status, 200) << method << " " << path << ": " << r.body;
    return r;
  };
  auto field = [](const HttpResponse& r, const std::string& name) {
    std::string key = "\"" + name + "\":\"";
    size_t at = r.body.find(key);
    if (at == std::string::npos) return std::string();
    at += key.size();
    return r.body.substr(at, r.body.find('"', at) - at);
  };

  std::string due = absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Seconds(1), absl::UTCTimeZone());
  HttpResponse reminder =
      call("POST", "/v1/reminders",
           absl::StrCat(R"({"contactId":")", bob, R"(","dueTime":")", due, R"(","note":"coffee"})"));
  std::string reminder_id = field(reminder, "id");
  ASSERT_FALSE(reminder_id.empty()) << reminder.body;
  EXPECT_NE(call("GET", "/v1/reminders").body.find(reminder_id), std::string::npos);
  EXPECT_EQ(field(call("GET", "/v1/reminders/" + reminder_id), "id"), reminder_id);
  ASSERT_TRUE(
      WaitFor([&] { return call("GET", "/v1/notifications?state=UNREAD").body.find("coffee") != std::string::npos; },
              std::chrono::seconds(10)));
  std::string notification = field(call("GET", "/v1/notifications?state=UNREAD&pageSize=1"), "id");
  EXPECT_EQ(field(call("POST", "/v1/notifications/" + notification + ":read", "{}"), "state"), "READ");
  std::string later = absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Hours(1), absl::UTCTimeZone());
  EXPECT_EQ(
      field(call("POST", "/v1/notifications/" + notification + ":snooze", R"({"until":")" + later + R"("})"), "state"),
      "SNOOZED");
  EXPECT_EQ(field(call("POST", "/v1/notifications/" + notification + ":dismiss", "{}"), "state"), "DISMISSED");
  EXPECT_EQ(call("GET", "/v1/notifications?state=ALL").body, "{}");
  call("DELETE", "/v1/reminders/" + reminder_id);
  // The sync feed: the reminder's tombstone, the notification as dismissed.
  HttpResponse sync = call("GET", "/v1/sync?pageSize=1000");
  EXPECT_NE(sync.body.find(R"("type":"reminder","id":")" + reminder_id + R"(","deleted":true)"), std::string::npos)
      << sync.body;
  EXPECT_NE(sync.body.find(R"("state":"DISMISSED")"), std::string::npos) << sync.body;

  HttpResponse created = call("POST", "/v1/workflows", R"({"displayName":"Nudge","trigger":{"kind":"MANUAL"},
      "filter":{"tiers":["INNER","NETWORK"]},
      "steps":[{"kind":"NOTIFY","title":"Nudge {{contact.displayName}}"}]})");
  std::string workflow = field(created, "id");
  ASSERT_FALSE(workflow.empty()) << created.body;
  EXPECT_NE(created.body.find(R"("enabled":true)"), std::string::npos) << created.body;
  EXPECT_NE(call("GET", "/v1/workflows").body.find(workflow), std::string::npos);
  EXPECT_EQ(field(call("GET", "/v1/workflows/" + workflow), "displayName"), "Nudge");
  HttpResponse patched = call("PATCH", "/v1/workflows/" + workflow, R"({"displayName":"Nudge more"})");
  EXPECT_EQ(field(patched, "displayName"), "Nudge more");
  EXPECT_NE(patched.body.find(R"("enabled":true)"), std::string::npos) << patched.body;  // untouched by the patch
  HttpResponse run = call("POST", "/v1/workflows/" + workflow + ":run", R"({"contactId":")" + bob + R"("})");
  EXPECT_EQ(field(run, "state"), "COMPLETED") << run.body;
  EXPECT_NE(call("GET", "/v1/workflows/" + workflow + "/runs").body.find(field(run, "id")), std::string::npos);
  EXPECT_NE(call("GET", "/v1/notifications").body.find("Nudge Bob"), std::string::npos);
  call("DELETE", "/v1/workflows/" + workflow);
  EXPECT_EQ(HttpCall("GET", stack_.GatewayUrl() + "/v1/workflows/" + workflow, headers).status, 404);

  HttpReceiver receiver;
  ASSERT_TRUE(receiver.Start().ok());
  HttpResponse hook =
      call("POST", "/v1/webhooks", R"({"url":")" + receiver.Url("/in") + R"(","eventTypes":["notification.created"]})");
  std::string webhook = field(hook, "id");
  EXPECT_EQ(field(hook, "secret").substr(0, 6), "whsec_");
  EXPECT_EQ(call("GET", "/v1/webhooks").body.find("whsec_"), std::string::npos);  // the secret is shown once
  EXPECT_NE(call("GET", "/v1/webhooks").body.find(webhook), std::string::npos);
  EXPECT_EQ(call("GET", "/v1/webhooks/" + webhook + "/deliveries").body, "{}");
  call("DELETE", "/v1/webhooks/" + webhook);

  // The org's use of every quota, for an org admin's key.
  HttpResponse org = HttpCall("POST", stack_.GatewayUrl() + "/v1/orgs",
                              {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), "Content-Type: application/json"},
                              R"({"displayName":"usage"})");
  ASSERT_EQ(org.status, 200) << org.body;
  HttpResponse usage = HttpCall("GET", stack_.GatewayUrl() + "/v1/org/usage", {"X-Api-Key: " + field(org, "secret")});
  EXPECT_EQ(usage.status, 200) << usage.body;
  for (const char* quota :
       {"contactsPerUser", "apiKeysPerOrg", "workflowsPerUser", "stepsPerWorkflow", "webhooksPerUser",
        "remindersPerContact", "remindersWithoutContact", "liveStreamsPerUser"}) {
    EXPECT_NE(usage.body.find(absl::StrCat(R"("quota":")", quota, R"(")")), std::string::npos) << usage.body;
  }

  // Bad input is a 400 naming the field; another user's id a 404.
  HttpResponse bad = HttpCall("POST", stack_.GatewayUrl() + "/v1/reminders", headers, R"({"note":"x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("field":"reminder.dueTime")"), std::string::npos) << bad.body;
  EXPECT_EQ(HttpCall("POST", stack_.GatewayUrl() + "/v1/notifications/" + NewId() + ":read", headers, "{}").status,
            404);
}

// --- Issue 19: repeating reminders and followUpAt, through the gateway ---

// Authorization headers of a JWT for the user.
std::vector<std::string> BearerOf(const TenantContext& who) {
  std::string token = gateway::SignJwtHs256(
      absl::StrCat(R"({"sub":")", who.user_id, R"(","org":")", who.org_id,
                   R"(","iss":"rapport","aud":"rapport","exp":)", absl::ToUnixSeconds(absl::Now()) + 600, "}"),
      testing::kTestJwtSecret);
  return {"Authorization: Bearer " + token, "Content-Type: application/json"};
}

template <typename T>
T FromJson(const HttpResponse& r) {
  T out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &out, options).ok()) << r.body;
  return out;
}

std::string Rfc3339(absl::Time t) { return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone()); }

TEST_F(NotificationsIntegrationTest, RepeatingReminderShowsItsNextOccurrencesAndFiresEachOnce) {
  ASSERT_TRUE(
      stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "100000"}, {"RAPPORT_RATE_LIMIT_BURST", "10000"}}).ok());
  TenantContext alice = NewUser("acme", "America/New_York");
  const std::vector<std::string> as_alice = BearerOf(alice);
  const std::string url = stack_.GatewayUrl();
  // Daily at this second, three times: the first fires in a second.
  const absl::Time first = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 1);
  HttpResponse created = HttpCall(
      "POST", url + "/v1/reminders", as_alice,
      absl::StrCat(R"({"note":"standup","recurrence":"FREQ=DAILY;COUNT=3","dueTime":")", Rfc3339(first), R"("})"));
  ASSERT_EQ(created.status, 200) << created.body;
  const npb::Reminder r = FromJson<npb::Reminder>(created);
  EXPECT_EQ(r.recurrence(), "FREQ=DAILY;COUNT=3");
  HttpResponse got = HttpCall("GET", url + "/v1/reminders/" + r.id(), as_alice);
  ASSERT_EQ(got.status, 200) << got.body;
  npb::Reminder shown = FromJson<npb::Reminder>(got);
  ASSERT_EQ(shown.next_occurrences_size(), 3) << got.body;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(FromMicros(TimestampToMicros(shown.next_occurrences(i))), first + absl::Hours(24 * i)) << got.body;
  }
  // The first occurrence fires once; the reminder moves to the next day.
  ASSERT_TRUE(WaitFor(
      [&] {
        shown = FromJson<npb::Reminder>(HttpCall("GET", url + "/v1/reminders/" + r.id(), as_alice));
        return shown.fired_count() == 1;
      },
      std::chrono::seconds(15)));
  EXPECT_EQ(shown.state(), npb::PENDING);
  EXPECT_EQ(FromMicros(TimestampToMicros(shown.due_time())), first + absl::Hours(24));
  EXPECT_EQ(shown.next_occurrences_size(), 2);
  int standups = 0;
  for (const auto& n : Inbox(alice)) standups += n.body() == "standup" && n.reminder_id() == r.id();
  EXPECT_EQ(standups, 1);

  // An invalid rule is a 400 naming the part.
  HttpResponse bad =
      HttpCall("POST", url + "/v1/reminders", as_alice,
               absl::StrCat(R"({"recurrence":"FREQ=WEEKLY;BYDAY=XX","dueTime":")", Rfc3339(first), R"("})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("field":"reminder.recurrence")"), std::string::npos) << bad.body;
  EXPECT_NE(bad.body.find(R"(BYDAY: \"XX\" is not a weekday)"), std::string::npos) << bad.body;

  // Another org's user: 404; a key without READ: 403; no credential: 401.
  TenantContext mallory = NewUser("globex");
  EXPECT_EQ(HttpCall("GET", url + "/v1/reminders/" + r.id(), BearerOf(mallory)).status, 404);
  EXPECT_EQ(HttpCall("GET", url + "/v1/reminders/" + NewId(), as_alice).status, 404);
  ppb::CreateApiKeyRequest kreq;
  kreq.set_display_name("writer");
  kreq.add_scopes(api::v1::WRITE);
  kreq.set_user_id(alice.user_id);
  ppb::ApiKeySecret writer;
  grpc::Status ks = profiles_->CreateApiKey(Stack::Call(Stack::Admin(alice.org_id)).get(), kreq, &writer);
  ASSERT_TRUE(ks.ok()) << ks.error_message();
  EXPECT_EQ(HttpCall("GET", url + "/v1/reminders/" + r.id(), {"X-Api-Key: " + writer.secret()}).status, 403);
  EXPECT_EQ(HttpCall("GET", url + "/v1/reminders/" + r.id(), {}).status, 401);
}

// Written before the change (it failed: followUpAt scheduled nothing).
TEST_F(NotificationsIntegrationTest, FollowUpAtNotifiesUnlessTheContactWasSeenSinceAndMovesWithTheInteraction) {
  ASSERT_TRUE(
      stack_.StartGateway({{"RAPPORT_RATE_LIMIT_PER_MINUTE", "100000"}, {"RAPPORT_RATE_LIMIT_BURST", "10000"}}).ok());
  TenantContext alice = NewUser("acme", "Europe/Paris");
  const std::vector<std::string> as_alice = BearerOf(alice);
  const std::string url = stack_.GatewayUrl();
  const std::string bob = NewContact(alice, "Bob");
  const std::string carol = NewContact(alice, "Carol");
  const std::string dave = NewContact(alice, "Dave");
  auto log = [&](const std::string& contact, const std::string& kind, const std::string& summary,
                 std::optional<absl::Time> follow_up) {
    std::string body = absl::StrCat(R"({"kind":")", kind, R"(","direction":"MUTUAL","contactIds":[")", contact,
                                    R"("],"summary":")", summary, R"(")");
    if (follow_up.has_value()) absl::StrAppend(&body, R"(,"followUpAt":")", Rfc3339(*follow_up), R"(")");
    HttpResponse r = HttpCall("POST", url + "/v1/interactions", as_alice, body + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return FromJson<ipb::Interaction>(r);
  };
  auto follow_ups = [&](const std::string& contact) {
    std::vector<npb::Notification> out;
    for (const auto& n : Inbox(alice)) {
      if (n.kind() == "follow_up" && n.contact_id() == contact) out.push_back(n);
    }
    return out;
  };
  const absl::Time t0 = absl::Now();
  ipb::Interaction with_bob = log(bob, "EMAIL", "Sent the deck", t0 + absl::Seconds(4));
  log(carol, "CALL", "Talked pricing", t0 + absl::Seconds(4));
  ipb::Interaction with_dave = log(dave, "MEETING", "Coffee", t0 + absl::Seconds(4));
  // Carol wrote back: her follow-up is cleared.
  log(carol, "MESSAGE", "Carol replied", std::nullopt);
  // Dave's moves to 9 s.
  HttpResponse moved = HttpCall("PATCH", url + "/v1/interactions/" + with_dave.id(), as_alice,
                                absl::StrCat(R"({"followUpAt":")", Rfc3339(t0 + absl::Seconds(9)), R"("})"));
  ASSERT_EQ(moved.status, 200) << moved.body;

  ASSERT_TRUE(WaitFor([&] { return !follow_ups(bob).empty(); }, std::chrono::seconds(20)));
  EXPECT_GE(absl::Now(), t0 + absl::Seconds(4));
  std::vector<npb::Notification> got = follow_ups(bob);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].title(), "Follow up with Bob");
  EXPECT_NE(got[0].body().find("Sent the deck"), std::string::npos) << got[0].body();
  EXPECT_EQ(got[0].interaction_id(), with_bob.id());
  // Dave's did not fire at its old time (bob's, due then, did).
  EXPECT_TRUE(follow_ups(dave).empty());
  ASSERT_TRUE(WaitFor([&] { return !follow_ups(dave).empty(); }, std::chrono::seconds(20)));
  EXPECT_GE(absl::Now(), t0 + absl::Seconds(9));
  EXPECT_EQ(follow_ups(dave).size(), 1u);
  EXPECT_NE(follow_ups(dave)[0].body().find("Coffee"), std::string::npos);
  EXPECT_TRUE(follow_ups(carol).empty());
  EXPECT_EQ(follow_ups(bob).size(), 1u);
}

}  // namespace
}  // namespace rapport
