// In-process tests of the notifications gRPC adapter: the real service on an
// in-process channel, over the real store on a temporary file, called with
// signed tenant metadata. Authorization, validation and tenant scoping as a
// client sees them, without processes or Redis (the timers' scheduler and
// the event consumer are not running: what these calls do is the adapter's
// and the store's alone).
#include "services/notifications/notifications_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/time/clock.h"
#include "rapport/notifications/v1/notifications.grpc.pb.h"
#include "services/common/ids.h"
#include "services/common/tenant.h"
#include "services/common/time_util.h"
#include "services/notifications/live_hub.h"
#include "services/notifications/notifications_store.h"
#include "tests/testing/harness.h"
#include "tests/testing/stack.h"

namespace rapport::notifications {
namespace {

using ::rapport::testing::Stack;

class NotificationsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = NotificationsStore::Open(rapport::testing::TempDir("notif_service") + "/n.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    StartServer(LiveHubOptions{std::chrono::milliseconds(50)});
  }

  // (Re)starts the service on a hub with these options.
  void StartServer(LiveHubOptions hub_options) {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    service_.reset();
    hub_ = std::make_unique<LiveHub>(store_.get(), hub_options);
    service_ = std::make_unique<NotificationsServiceImpl>(store_.get(), hub_.get(), &signer_, nullptr);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pb::NotificationsService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  static std::unique_ptr<grpc::ClientContext> Call(const TenantContext& t) { return Stack::Call(t); }

  grpc::Status Remind(const TenantContext& t, const std::string& note, absl::Time due, pb::Reminder* out,
                      const std::string& contact_id = "") {
    pb::CreateReminderRequest req;
    req.mutable_reminder()->set_note(note);
    req.mutable_reminder()->set_contact_id(contact_id);
    if (due != absl::InfinitePast()) *req.mutable_reminder()->mutable_due_time() = ToTimestamp(ToMicros(due));
    return stub_->CreateReminder(Call(t).get(), req, out);
  }

  // A MANUAL workflow whose one step notifies.
  pb::Workflow NudgeWorkflow(const TenantContext& t) {
    pb::CreateWorkflowRequest req;
    pb::Workflow* w = req.mutable_workflow();
    w->set_display_name("nudge");
    w->mutable_trigger()->set_kind(pb::MANUAL);
    pb::Step* notify = w->add_steps();
    notify->set_kind(pb::NOTIFY);
    notify->set_title("Nudge");
    notify->set_body("time to write");
    pb::Workflow out;
    grpc::Status s = stub_->CreateWorkflow(Call(t).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  TenantSigner signer_{rapport::testing::kTestInternalKey};
  std::unique_ptr<NotificationsStore> store_;
  std::unique_ptr<LiveHub> hub_;
  std::unique_ptr<NotificationsServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::NotificationsService::Stub> stub_;
  TenantContext alice_ = Stack::User("org-a", "alice");
  TenantContext mallory_ = Stack::User("org-m", "mallory");
};

TEST_F(NotificationsServiceTest, CreatedRemindersAreListedPageByPage) {
  pb::Reminder first, second;
  ASSERT_TRUE(Remind(alice_, "call back", absl::Now() + absl::Hours(1), &first).ok());
  ASSERT_TRUE(Remind(alice_, "send the deck", absl::Now() + absl::Hours(2), &second).ok());
  EXPECT_FALSE(first.id().empty());
  EXPECT_EQ(first.state(), pb::PENDING);
  EXPECT_EQ(first.note(), "call back");
  EXPECT_TRUE(first.has_create_time());

  pb::ListRemindersRequest req;
  req.set_page_size(1);
  pb::ListRemindersResponse page;
  ASSERT_TRUE(stub_->ListReminders(Call(alice_).get(), req, &page).ok());
  ASSERT_EQ(page.reminders_size(), 1);
  ASSERT_FALSE(page.next_page_token().empty());
  req.set_page_token(page.next_page_token());
  pb::ListRemindersResponse rest;
  ASSERT_TRUE(stub_->ListReminders(Call(alice_).get(), req, &rest).ok());
  ASSERT_EQ(rest.reminders_size(), 1);
  EXPECT_TRUE(rest.next_page_token().empty());
  std::set<std::string> ids = {page.reminders(0).id(), rest.reminders(0).id()};
  EXPECT_EQ(ids, (std::set<std::string>{first.id(), second.id()}));

  // The same Idempotency-Key creates once.
  TenantContext keyed = alice_;
  keyed.idempotency_key = "retry-1";
  const absl::Time due = absl::Now() + absl::Hours(3);
  pb::Reminder a, b, c;
  ASSERT_TRUE(Remind(keyed, "once", due, &a).ok());
  ASSERT_TRUE(Remind(keyed, "once", due, &b).ok());
  EXPECT_EQ(a.id(), b.id());
  // The key again with another request: refused, nothing created.
  EXPECT_EQ(Remind(keyed, "twice", due, &c).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  pb::ListRemindersResponse all;
  ASSERT_TRUE(stub_->ListReminders(Call(alice_).get(), pb::ListRemindersRequest(), &all).ok());
  EXPECT_EQ(all.reminders_size(), 3);

  pb::DeleteReminderRequest del;
  del.set_reminder_id(first.id());
  pb::DeleteReminderResponse deleted;
  ASSERT_TRUE(stub_->DeleteReminder(Call(alice_).get(), del, &deleted).ok());
  EXPECT_EQ(stub_->DeleteReminder(Call(alice_).get(), del, &deleted).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(NotificationsServiceTest, AWorkflowRunByHandNotifiesAndTheInboxListsIt) {
  pb::Workflow w = NudgeWorkflow(alice_);
  ASSERT_FALSE(w.id().empty());
  EXPECT_TRUE(w.enabled());  // unset means enabled

  pb::ListWorkflowsResponse workflows;
  ASSERT_TRUE(stub_->ListWorkflows(Call(alice_).get(), pb::ListWorkflowsRequest(), &workflows).ok());
  EXPECT_EQ(workflows.workflows_size(), 7);  // the six built-ins and this one
  pb::GetWorkflowRequest get;
  get.set_workflow_id(w.id());
  pb::Workflow got;
  ASSERT_TRUE(stub_->GetWorkflow(Call(alice_).get(), get, &got).ok());
  EXPECT_EQ(got.display_name(), "nudge");

  pb::RunWorkflowRequest run_req;
  run_req.set_workflow_id(w.id());
  pb::WorkflowRun run;
  grpc::Status s = stub_->RunWorkflow(Call(alice_).get(), run_req, &run);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(run.state(), pb::COMPLETED);
  EXPECT_EQ(run.trigger(), "manual");

  pb::ListNotificationsResponse inbox;
  ASSERT_TRUE(stub_->ListNotifications(Call(alice_).get(), pb::ListNotificationsRequest(), &inbox).ok());
  ASSERT_EQ(inbox.notifications_size(), 1);
  const pb::Notification n = inbox.notifications(0);
  EXPECT_EQ(n.title(), "Nudge");
  EXPECT_EQ(n.body(), "time to write");
  EXPECT_EQ(n.run_id(), run.id());
  EXPECT_EQ(n.state(), pb::UNREAD);

  // Read: out of the UNREAD view, still in ALL.
  pb::ReadNotificationRequest read;
  read.set_id(n.id());
  pb::Notification after;
  ASSERT_TRUE(stub_->ReadNotification(Call(alice_).get(), read, &after).ok());
  EXPECT_EQ(after.state(), pb::READ);
  pb::ListNotificationsRequest unread;
  unread.set_state(pb::ListNotificationsRequest::UNREAD);
  ASSERT_TRUE(stub_->ListNotifications(Call(alice_).get(), unread, &inbox).ok());
  EXPECT_EQ(inbox.notifications_size(), 0);

  // The live stream replays it from the start.
  pb::SubscribeRequest from_start;
  from_start.set_last_event_id("0");
  auto ctx = Call(alice_);
  auto reader = stub_->Subscribe(ctx.get(), from_start);
  pb::NotificationEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.notification().id(), n.id());
  ctx->TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  pb::ListWorkflowRunsRequest runs_req;
  runs_req.set_workflow_id(w.id());
  pb::ListWorkflowRunsResponse runs;
  ASSERT_TRUE(stub_->ListWorkflowRuns(Call(alice_).get(), runs_req, &runs).ok());
  ASSERT_EQ(runs.runs_size(), 1);
  EXPECT_EQ(runs.runs(0).id(), run.id());
}

// At most max_per_user live streams per user (RESOURCE_EXHAUSTED naming the
// quota; another user is not refused), and each ends OK after its lifetime,
// which frees its place. Before the limits, the third stream opened and no
// stream ever ended: this test failed.
TEST_F(NotificationsServiceTest, LiveStreamsArePerUserLimitedAndEndAfterTheirLifetime) {
  LiveHubOptions o;
  o.tick = std::chrono::milliseconds(50);
  o.max_per_user = 2;
  o.max_lifetime = std::chrono::milliseconds(1500);
  StartServer(o);
  pb::SubscribeRequest req;
  req.set_last_event_id("0");
  struct Open {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<pb::NotificationEvent>> reader;
  };
  auto open = [&](const TenantContext& t) {
    Open s{Call(t), nullptr};
    s.reader = stub_->Subscribe(s.ctx.get(), req);
    s.reader->WaitForInitialMetadata();
    return s;
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<Open> streams;
  streams.push_back(open(alice_));
  streams.push_back(open(alice_));
  ASSERT_TRUE(rapport::testing::WaitFor([&] { return hub_->streams() == 2; }, std::chrono::seconds(5)));
  Open third = open(alice_);
  pb::NotificationEvent event;
  EXPECT_FALSE(third.reader->Read(&event));
  grpc::Status refused = third.reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("quota liveStreamsPerUser"), std::string::npos) << refused.error_message();
  Open mallorys = open(mallory_);  // another user's own quota
  ASSERT_TRUE(rapport::testing::WaitFor([&] { return hub_->streams() == 3; }, std::chrono::seconds(5)));

  // Each ends by itself, OK, once its lifetime is over.
  for (Open& s : streams) {
    while (s.reader->Read(&event)) {
    }
    EXPECT_TRUE(s.reader->Finish().ok());
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  ASSERT_TRUE(rapport::testing::WaitFor([&] { return hub_->streams() <= 1; }, std::chrono::seconds(5)));
  Open again = open(alice_);
  ASSERT_TRUE(rapport::testing::WaitFor([&] { return hub_->streams() >= 1; }, std::chrono::seconds(5)));
  again.ctx->TryCancel();
  while (again.reader->Read(&event)) {
  }
  again.reader->Finish();
  mallorys.ctx->TryCancel();
  while (mallorys.reader->Read(&event)) {
  }
  mallorys.reader->Finish();
}

TEST_F(NotificationsServiceTest, CallsWithoutValidMetadataAreUnauthenticated) {
  grpc::ClientContext bare;
  pb::ListNotificationsResponse inbox;
  EXPECT_EQ(stub_->ListNotifications(&bare, pb::ListNotificationsRequest(), &inbox).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto forged = Stack::Call(alice_, "not-the-internal-key");
  pb::ListRemindersResponse reminders;
  EXPECT_EQ(stub_->ListReminders(forged.get(), pb::ListRemindersRequest(), &reminders).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Signed, but without an acting user: a user's inbox is nobody's.
  pb::Reminder r;
  EXPECT_EQ(Remind(Stack::Admin("org-a"), "x", absl::Now() + absl::Hours(1), &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(NotificationsServiceTest, AnotherTenantsIdsAreNotFound) {
  pb::Reminder reminder;
  ASSERT_TRUE(Remind(alice_, "mine", absl::Now() + absl::Hours(1), &reminder).ok());
  pb::Workflow w = NudgeWorkflow(alice_);
  pb::RunWorkflowRequest run_req;
  run_req.set_workflow_id(w.id());
  pb::WorkflowRun run;
  ASSERT_TRUE(stub_->RunWorkflow(Call(alice_).get(), run_req, &run).ok());
  pb::ListNotificationsResponse inbox;
  ASSERT_TRUE(stub_->ListNotifications(Call(alice_).get(), pb::ListNotificationsRequest(), &inbox).ok());
  ASSERT_EQ(inbox.notifications_size(), 1);

  auto not_found = [](const grpc::Status& s, const char* what) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << what << ": " << s.error_message();
  };
  pb::GetWorkflowRequest get;
  get.set_workflow_id(w.id());
  pb::Workflow got;
  not_found(stub_->GetWorkflow(Call(mallory_).get(), get, &got), "get workflow");
  pb::RunWorkflowRequest steal_run;
  steal_run.set_workflow_id(w.id());
  not_found(stub_->RunWorkflow(Call(mallory_).get(), steal_run, &run), "run workflow");
  pb::DeleteReminderRequest del;
  del.set_reminder_id(reminder.id());
  pb::DeleteReminderResponse deleted;
  not_found(stub_->DeleteReminder(Call(mallory_).get(), del, &deleted), "delete reminder");
  pb::ReadNotificationRequest read;
  read.set_id(inbox.notifications(0).id());
  pb::Notification n;
  not_found(stub_->ReadNotification(Call(mallory_).get(), read, &n), "read notification");
  // Another user of the same org is another tenant of the inbox too.
  not_found(stub_->GetWorkflow(Call(Stack::User("org-a", "bob")).get(), get, &got), "same org, other user");
  // Mallory's lists hold nothing of alice's.
  pb::ListRemindersResponse reminders;
  ASSERT_TRUE(stub_->ListReminders(Call(mallory_).get(), pb::ListRemindersRequest(), &reminders).ok());
  EXPECT_EQ(reminders.reminders_size(), 0);
  ASSERT_TRUE(stub_->ListNotifications(Call(mallory_).get(), pb::ListNotificationsRequest(), &inbox).ok());
  EXPECT_EQ(inbox.notifications_size(), 0);
  // And alice's things are intact.
  ASSERT_TRUE(stub_->GetWorkflow(Call(alice_).get(), get, &got).ok());
}

TEST_F(NotificationsServiceTest, BadInputIsInvalidArgumentNamingTheField) {
  struct Case {
    const char* what;
    std::function<grpc::Status()> call;
    std::string field;
  };
  pb::Reminder r;
  pb::Workflow w;
  pb::ListNotificationsResponse inbox;
  pb::Notification n;
  const Case cases[] = {
      {"reminder without due time", [&] { return Remind(alice_, "x", absl::InfinitePast(), &r); }, "reminder.dueTime"},
      {"reminder with an unknown contact",
       [&] { return Remind(alice_, "x", absl::Now() + absl::Hours(1), &r, "no-such-contact"); }, "reminder.contactId"},
      {"workflow without trigger",
       [&] {
         pb::CreateWorkflowRequest req;
         req.mutable_workflow()->set_display_name("x");
         req.mutable_workflow()->add_steps()->set_kind(pb::NOTIFY);
         return stub_->CreateWorkflow(Call(alice_).get(), req, &w);
       },
       "workflow.trigger.kind"},
      {"workflow with an id",
       [&] {
         pb::CreateWorkflowRequest req;
         req.mutable_workflow()->set_id("mine");
         return stub_->CreateWorkflow(Call(alice_).get(), req, &w);
       },
       "workflow.id"},
      {"a page token from nowhere",
       [&] {
         pb::ListNotificationsRequest req;
         req.set_page_token("garbage");
         return stub_->ListNotifications(Call(alice_).get(), req, &inbox);
       },
       "pageToken"},
      {"snooze without until",
       [&] {
         pb::SnoozeNotificationRequest req;
         req.set_id(NewId());
         return stub_->SnoozeNotification(Call(alice_).get(), req, &n);
       },
       "until"},
  };
  for (const Case& c : cases) {
    grpc::Status s = c.call();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << s.error_message();
    EXPECT_EQ(s.error_message().substr(0, c.field.size() + 1), c.field + ":") << c.what << ": " << s.error_message();
  }
}

// A webhook's event types and a WEBHOOK step's event type become a header:
// anything but a plain token is refused at create, naming the field.
TEST_F(NotificationsServiceTest, EventTypesThatCouldInjectAHeaderAreInvalid) {
  pb::CreateWebhookRequest hook;
  hook.set_url("https://example.com/hook");
  hook.add_event_types("notification.created");
  hook.add_event_types("x\r\nX-Injected: yes");
  pb::CreateWebhookResponse created;
  grpc::Status s = stub_->CreateWebhook(Call(alice_).get(), hook, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("eventTypes[1]:"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find("eventTypes[0]"), std::string::npos) << s.error_message();

  pb::CreateWorkflowRequest req;
  req.mutable_workflow()->set_display_name("hook");
  req.mutable_workflow()->mutable_trigger()->set_kind(pb::MANUAL);
  pb::Step* step = req.mutable_workflow()->add_steps();
  step->set_kind(pb::WEBHOOK);
  step->set_event_type("x\r\nX-Injected: yes");
  pb::Workflow w;
  s = stub_->CreateWorkflow(Call(alice_).get(), req, &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("workflow.steps[0].eventType:"), std::string::npos) << s.error_message();
  // Nor can an update bring one in.
  pb::Workflow nudge = NudgeWorkflow(alice_);
  pb::UpdateWorkflowRequest update;
  update.set_workflow_id(nudge.id());
  *update.mutable_workflow()->add_steps() = *step;
  update.mutable_update_mask()->add_paths("steps");
  s = stub_->UpdateWorkflow(Call(alice_).get(), update, &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("workflow.steps[0].eventType:"), std::string::npos) << s.error_message();
}

// More steps than the quota is RESOURCE_EXHAUSTED at create and update;
// GET /v1/org/usage is for org admins and, without a profiles client, lists
// notifications' own quotas.
TEST_F(NotificationsServiceTest, StepQuotaAndOrgUsage) {
  pb::CreateWorkflowRequest req;
  req.mutable_workflow()->set_display_name("long");
  req.mutable_workflow()->mutable_trigger()->set_kind(pb::MANUAL);
  for (int i = 0; i < 21; ++i) req.mutable_workflow()->add_steps()->set_kind(pb::STOP_IF);
  pb::Workflow w;
  grpc::Status s = stub_->CreateWorkflow(Call(alice_).get(), req, &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message().substr(0, 23), "quota stepsPerWorkflow:") << s.error_message();
  pb::Workflow nudge = NudgeWorkflow(alice_);
  pb::UpdateWorkflowRequest update;
  update.set_workflow_id(nudge.id());
  *update.mutable_workflow()->mutable_steps() = req.workflow().steps();
  update.mutable_update_mask()->add_paths("steps");
  EXPECT_EQ(stub_->UpdateWorkflow(Call(alice_).get(), update, &w).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  pb::OrgUsage usage;
  EXPECT_EQ(stub_->GetOrgUsage(Call(alice_).get(), pb::GetOrgUsageRequest(), &usage).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  s = stub_->GetOrgUsage(Call(Stack::Admin("org-a")).get(), pb::GetOrgUsageRequest(), &usage);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(usage.quotas_size(), 6);
  EXPECT_EQ(usage.quotas(0).quota(), "workflowsPerUser");
  EXPECT_EQ(usage.quotas(0).used(), 7);  // the built-ins and the nudge
  EXPECT_EQ(usage.quotas(0).subject_id(), "alice");
  EXPECT_EQ(usage.quotas(1).quota(), "stepsPerWorkflow");
  EXPECT_EQ(usage.quotas(1).limit(), 20);
  EXPECT_EQ(usage.quotas(5).quota(), "liveStreamsPerUser");  // no stream open
  EXPECT_EQ(usage.quotas(5).used(), 0);
  EXPECT_EQ(usage.quotas(5).limit(), 5);
  s = stub_->GetOrgUsage(Call(Stack::Admin("org-m")).get(), pb::GetOrgUsageRequest(), &usage);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(usage.quotas(0).used(), 0);  // another org's use is its own
}

}  // namespace
}  // namespace rapport::notifications
