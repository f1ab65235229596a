#include "services/notifications/notifications_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "services/common/field_mask.h"
#include "services/common/ids.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/notifications/recurrence.h"
#include "services/notifications/webhook.h"
#include "services/notifications/workflow_engine.h"

namespace rapport::notifications {
namespace {

constexpr int64_t kMicrosPerDay = 24LL * 3600 * 1000000;

const std::set<std::string>& WorkflowReadOnly() {
  static const std::set<std::string> kFields = {"id", "builtin", "create_time", "update_time"};
  return kFields;
}

absl::StatusOr<int64_t> SeqToken(const std::string& token) {
  ASSIGN_OR_RETURN(std::string key, DecodePageToken(token));
  if (key.empty()) return 0;
  int64_t seq = 0;
  if (!absl::SimpleAtoi(key, &seq) || seq <= 0) {
    return absl::InvalidArgumentError("pageToken: is not a token from a previous page");
  }
  return seq;
}

}  // namespace

NotificationsServiceImpl::NotificationsServiceImpl(NotificationsStore* store, LiveHub* hub, const TenantSigner* signer,
                                                   profiles::ContactClient* contacts, ServiceOptions options)
    : store_(store),
      hub_(hub),
      signer_(signer),
      contacts_(contacts),
      descriptor_(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          pb::NotificationsService::service_full_name())),
      options_(options),
      rpc_(signer, descriptor_) {}

grpc::ServerUnaryReactor* NotificationsServiceImpl::ListNotifications(Ctx* ctx, const pb::ListNotificationsRequest* req,
                                                                      pb::ListNotificationsResponse* resp) {
  return rpc_.Handle(ctx, "ListNotifications", resp,
                     [=, this](const TenantContext& t, Reply<pb::ListNotificationsResponse> reply) {
                       absl::StatusOr<int> size = PageSize(req->page_size());
                       if (!size.ok()) return reply(size.status());
                       absl::StatusOr<int64_t> before = SeqToken(req->page_token());
                       if (!before.ok()) return reply(before.status());
                       if (!pb::ListNotificationsRequest::StateFilter_IsValid(req->state())) {
                         return reply(absl::InvalidArgumentError("state: must be UNREAD, READ or ALL"));
                       }
                       auto rows = store_->ListNotifications(OwnerOf(t), req->state(), *before, *size + 1);
                       if (!rows.ok()) return reply(rows.status());
                       pb::ListNotificationsResponse out;
                       std::string next = TrimToPage(*rows, *size, [](const auto& r) { return absl::StrCat(r.first); });
                       out.set_next_page_token(next);
                       for (auto& [seq, n] : *rows) *out.add_notifications() = std::move(n);
                       reply(std::move(out));
                     });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::Change(Ctx* ctx, const char* method, const std::string& id,
                                                           InboxAction action, const google::protobuf::Timestamp* until,
                                                           pb::Notification* resp) {
  google::protobuf::Timestamp until_copy = until != nullptr ? *until : google::protobuf::Timestamp();
  bool has_until = until != nullptr;
  return rpc_.Handle(ctx, method, resp, [=, this](const TenantContext& t, Reply<pb::Notification> reply) {
    Violations v;
    v.Id("id", id, true);
    int64_t until_us = 0;
    if (action == InboxAction::kSnooze) {
      int64_t now = NowMicros();
      if (!has_until || !IsValidTimestamp(until_copy)) {
        v.Add("until", "is required: when the notification comes back");
      } else {
        until_us = TimestampToMicros(until_copy);
        if (until_us <= now) v.Add("until", "must be in the future");
        if (until_us > now + 366 * kMicrosPerDay) v.Add("until", "must be within a year");
      }
    }
    if (!v.empty()) return reply(v.ToStatus());
    store_->ChangeNotification(OwnerOf(t), id, action, until_us, reply);
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::ReadNotification(Ctx* ctx, const pb::ReadNotificationRequest* req,
                                                                     pb::Notification* resp) {
  return Change(ctx, "ReadNotification", req->id(), InboxAction::kRead, nullptr, resp);
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::DismissNotification(Ctx* ctx,
                                                                        const pb::DismissNotificationRequest* req,
                                                                        pb::Notification* resp) {
  return Change(ctx, "DismissNotification", req->id(), InboxAction::kDismiss, nullptr, resp);
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::SnoozeNotification(Ctx* ctx,
                                                                       const pb::SnoozeNotificationRequest* req,
                                                                       pb::Notification* resp) {
  return Change(ctx, "SnoozeNotification", req->id(), InboxAction::kSnooze, req->has_until() ? &req->until() : nullptr,
                resp);
}

grpc::ServerWriteReactor<pb::NotificationEvent>* NotificationsServiceImpl::Subscribe(Ctx* ctx,
                                                                                     const pb::SubscribeRequest* req) {
  absl::StatusOr<TenantContext> t = Authorize(*signer_, *ctx, descriptor_, "Subscribe");
  if (!t.ok()) return LiveHub::Refuse(ToGrpcStatus(t.status()));
  Owner owner = OwnerOf(*t);
  int64_t after = 0;
  if (req->last_event_id().empty()) {
    // No position: only what comes from now on.
    absl::StatusOr<int64_t> latest = store_->LatestSeq(owner);
    if (!latest.ok()) return LiveHub::Refuse(ToGrpcStatus(latest.status()));
    after = *latest;
  } else if (!absl::SimpleAtoi(req->last_event_id(), &after) || after < 0) {
    return LiveHub::Refuse(ToGrpcStatus(absl::InvalidArgumentError("lastEventId: is not an id from this stream")));
  }
  return hub_->Open(owner, after);
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::CreateReminder(Ctx* ctx, const pb::CreateReminderRequest* req,
                                                                   pb::Reminder* resp) {
  return rpc_.Handle(ctx, "CreateReminder", resp, [=, this](const TenantContext& t, Reply<pb::Reminder> reply) {
    pb::Reminder r = req->reminder();
    Violations v;
    int64_t now = NowMicros();
    if (!r.id().empty()) v.Add("reminder.id", "is assigned by the server");
    if (r.state() != pb::REMINDER_STATE_UNSPECIFIED) v.Add("reminder.state", "is set by the server");
    if (!r.notification_id().empty()) v.Add("reminder.notificationId", "is set by the server");
    if (r.has_create_time()) v.Add("reminder.createTime", "is assigned by the server");
    if (r.has_start_time()) v.Add("reminder.startTime", "is set by the server");
    if (r.next_occurrences_size() > 0) v.Add("reminder.nextOccurrences", "is set by the server");
    if (r.fired_count() != 0) v.Add("reminder.firedCount", "is set by the server");
    if (!r.recurrence().empty()) {
      if (absl::StatusOr<Recurrence> rule = ParseRecurrence("reminder.recurrence", r.recurrence()); !rule.ok()) {
        // "reminder.recurrence: BYDAY: ..." -> one violation of that field.
        v.Add("reminder.recurrence", std::string(absl::StripPrefix(rule.status().message(), "reminder.recurrence: ")));
      }
    }
    v.Id("reminder.contactId", r.contact_id(), false);
    v.Text("reminder.note", r.note(), 2000);
    if (!r.has_due_time() || !IsValidTimestamp(r.due_time())) {
      v.Add("reminder.dueTime", "is required");
    } else {
      int64_t due = TimestampToMicros(r.due_time());
      if (due < now - kMicrosPerDay) v.Add("reminder.dueTime", "is more than a day in the past");
      if (due > now + 10 * 366 * kMicrosPerDay) v.Add("reminder.dueTime", "is more than 10 years ahead");
    }
    if (!v.empty()) return reply(v.ToStatus());
    r.set_id(NewId());
    r.set_state(pb::PENDING);
    *r.mutable_create_time() = ToTimestamp(now);
    if (!r.recurrence().empty()) *r.mutable_start_time() = r.due_time();
    Owner owner = OwnerOf(t);
    IdempotencyScope idem = IdempotencyOf(t, "CreateReminder");
    auto request = std::make_shared<pb::CreateReminderRequest>(*req);
    // A contact the projection has not seen yet (its event is on the way) is
    // confirmed with profiles, the source of truth, before giving up.
    const int64_t max_pending =
        r.contact_id().empty() ? options_.quotas.reminders_without_contact : options_.quotas.reminders_per_contact;
    store_->CreateReminder(
        owner, r, idem, *request, false, max_pending,
        [this, t, owner, r, idem, request, max_pending, reply](absl::StatusOr<pb::Reminder> created) {
          if (created.ok() || contacts_ == nullptr || !absl::IsInvalidArgument(created.status()) ||
              created.status().message() != kNoSuchReminderContact) {
            return reply(created);
          }
          contacts_->Find(t, r.contact_id(), "reminder.contactId",
                          [this, owner, r, idem, request, max_pending, reply](auto contact) {
                            if (!contact.ok()) return reply(contact.status());
                            store_->CreateReminder(owner, r, idem, *request, true, max_pending, reply);
                          });
        });
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::ListReminders(Ctx* ctx, const pb::ListRemindersRequest* req,
                                                                  pb::ListRemindersResponse* resp) {
  return rpc_.Handle(
      ctx, "ListReminders", resp, [=, this](const TenantContext& t, Reply<pb::ListRemindersResponse> reply) {
        absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
        if (!page.ok()) return reply(page.status());
        auto items = store_->ListReminders(OwnerOf(t), page->after, page->size + 1);
        if (!items.ok()) return reply(items.status());
        pb::ListRemindersResponse out;
        out.set_next_page_token(TrimToPage(*items, page->size, [](const pb::Reminder& r) { return r.id(); }));
        for (auto& r : *items) *out.add_reminders() = std::move(r);
        reply(std::move(out));
      });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::GetReminder(Ctx* ctx, const pb::GetReminderRequest* req,
                                                                pb::Reminder* resp) {
  return rpc_.Handle(ctx, "GetReminder", resp, [=, this](const TenantContext& t, Reply<pb::Reminder> reply) {
    absl::Status id = RequireId("reminderId", req->reminder_id());
    if (!id.ok()) return reply(id);
    reply(store_->GetReminder(OwnerOf(t), req->reminder_id()));
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::DeleteReminder(Ctx* ctx, const pb::DeleteReminderRequest* req,
                                                                   pb::DeleteReminderResponse* resp) {
  return rpc_.Handle(ctx, "DeleteReminder", resp,
                     [=, this](const TenantContext& t, Reply<pb::DeleteReminderResponse> reply) {
                       absl::Status id = RequireId("reminderId", req->reminder_id());
                       if (!id.ok()) return reply(id);
                       store_->DeleteReminder(OwnerOf(t), req->reminder_id(), Acknowledge(reply));
                     });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::CreateWorkflow(Ctx* ctx, const pb::CreateWorkflowRequest* req,
                                                                   pb::Workflow* resp) {
  return rpc_.Handle(ctx, "CreateWorkflow", resp, [=, this](const TenantContext& t, Reply<pb::Workflow> reply) {
    pb::Workflow w = req->workflow();
    Violations v;
    if (!w.id().empty()) v.Add("workflow.id", "is assigned by the server");
    if (!w.builtin().empty()) v.Add("workflow.builtin", "is set by the server");
    if (!v.empty()) return reply(v.ToStatus());
    absl::Status valid = ValidateWorkflow(w);
    if (!valid.ok()) return reply(valid);
    absl::Status steps = CheckStepQuota(w, options_.quotas);
    if (!steps.ok()) return reply(steps);
    if (!w.has_enabled()) w.set_enabled(true);
    int64_t now = NowMicros();
    w.set_id(NewId());
    *w.mutable_create_time() = ToTimestamp(now);
    *w.mutable_update_time() = ToTimestamp(now);
    store_->CreateWorkflow(OwnerOf(t), w, IdempotencyOf(t, "CreateWorkflow"), *req, options_.quotas.workflows_per_user,
                           reply);
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::ListWorkflows(Ctx* ctx, const pb::ListWorkflowsRequest* req,
                                                                  pb::ListWorkflowsResponse* resp) {
  return rpc_.Handle(
      ctx, "ListWorkflows", resp, [=, this](const TenantContext& t, Reply<pb::ListWorkflowsResponse> reply) {
        absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
        if (!page.ok()) return reply(page.status());
        int size = page->size;
        store_->ListWorkflows(
            OwnerOf(t), page->after, size + 1, [reply, size](absl::StatusOr<std::vector<pb::Workflow>> items) {
              if (!items.ok()) return reply(items.status());
              pb::ListWorkflowsResponse out;
              out.set_next_page_token(TrimToPage(*items, size, [](const pb::Workflow& w) { return w.id(); }));
              for (auto& w : *items) *out.add_workflows() = std::move(w);
              reply(std::move(out));
            });
      });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::GetWorkflow(Ctx* ctx, const pb::GetWorkflowRequest* req,
                                                                pb::Workflow* resp) {
  return rpc_.Handle(ctx, "GetWorkflow", resp, [=, this](const TenantContext& t, Reply<pb::Workflow> reply) {
    absl::Status id = RequireId("workflowId", req->workflow_id());
    if (!id.ok()) return reply(id);
    reply(store_->GetWorkflow(OwnerOf(t), req->workflow_id()));
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::UpdateWorkflow(Ctx* ctx, const pb::UpdateWorkflowRequest* req,
                                                                   pb::Workflow* resp) {
  return rpc_.Handle(ctx, "UpdateWorkflow", resp, [=, this](const TenantContext& t, Reply<pb::Workflow> reply) {
    absl::Status id = RequireId("workflowId", req->workflow_id());
    if (!id.ok()) return reply(id);
    pb::UpdateWorkflowRequest request = *req;
    int64_t now = NowMicros();
    NotificationsQuotas quotas = options_.quotas;
    store_->UpdateWorkflow(
        OwnerOf(t), request.workflow_id(),
        [request, now, quotas](pb::Workflow& w) -> absl::Status {
          RETURN_IF_ERROR(
              ApplyFieldMask(request.workflow(), request.update_mask(), WorkflowReadOnly(), "workflow", &w));
          RETURN_IF_ERROR(ValidateWorkflow(w));
          RETURN_IF_ERROR(CheckStepQuota(w, quotas));
          *w.mutable_update_time() = ToTimestamp(now);
          return absl::OkStatus();
        },
        reply);
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::DeleteWorkflow(Ctx* ctx, const pb::DeleteWorkflowRequest* req,
                                                                   pb::DeleteWorkflowResponse* resp) {
  return rpc_.Handle(ctx, "DeleteWorkflow", resp,
                     [=, this](const TenantContext& t, Reply<pb::DeleteWorkflowResponse> reply) {
                       absl::Status id = RequireId("workflowId", req->workflow_id());
                       if (!id.ok()) return reply(id);
                       store_->DeleteWorkflow(OwnerOf(t), req->workflow_id(), Acknowledge(reply));
                     });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::RunWorkflow(Ctx* ctx, const pb::RunWorkflowRequest* req,
                                                                pb::WorkflowRun* resp) {
  return rpc_.Handle(ctx, "RunWorkflow", resp, [=, this](const TenantContext& t, Reply<pb::WorkflowRun> reply) {
    Violations v;
    v.Id("workflowId", req->workflow_id(), true);
    v.Id("contactId", req->contact_id(), false);
    if (!v.empty()) return reply(v.ToStatus());
    store_->RunWorkflow(OwnerOf(t), req->workflow_id(), req->contact_id(), reply);
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::ListWorkflowRuns(Ctx* ctx, const pb::ListWorkflowRunsRequest* req,
                                                                     pb::ListWorkflowRunsResponse* resp) {
  return rpc_.Handle(
      ctx, "ListWorkflowRuns", resp, [=, this](const TenantContext& t, Reply<pb::ListWorkflowRunsResponse> reply) {
        absl::Status id = RequireId("workflowId", req->workflow_id());
        if (!id.ok()) return reply(id);
        absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
        if (!page.ok()) return reply(page.status());
        auto items = store_->ListRuns(OwnerOf(t), req->workflow_id(), page->after, page->size + 1);
        if (!items.ok()) return reply(items.status());
        pb::ListWorkflowRunsResponse out;
        out.set_next_page_token(TrimToPage(*items, page->size, [](const pb::WorkflowRun& r) { return r.id(); }));
        for (auto& r : *items) *out.add_runs() = std::move(r);
        reply(std::move(out));
      });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::GetOrgUsage(Ctx* ctx, const pb::GetOrgUsageRequest*,
                                                                pb::OrgUsage* resp) {
  return rpc_.Handle(ctx, "GetOrgUsage", resp, [=, this](const TenantContext& t, Reply<pb::OrgUsage> reply) {
    absl::StatusOr<std::vector<profiles::v1::QuotaUsage>> own = store_->Usage(t.org_id, options_.quotas);
    if (!own.ok()) return reply(own.status());
    // Streams are counted by the replica that serves them (live_hub.h).
    if (hub_ != nullptr) own->push_back(hub_->Usage(t.org_id));
    pb::OrgUsage out;
    if (contacts_ == nullptr) {
      for (auto& q : *own) *out.add_quotas() = std::move(q);
      return reply(std::move(out));
    }
    // Profiles' quotas first (contacts, API keys), then ours.
    contacts_->Usage(t, [own = *std::move(own), reply](absl::StatusOr<std::vector<profiles::v1::QuotaUsage>> theirs) {
      if (!theirs.ok()) return reply(theirs.status());
      pb::OrgUsage out;
      for (auto& q : *theirs) *out.add_quotas() = std::move(q);
      for (const auto& q : own) *out.add_quotas() = q;
      reply(std::move(out));
    });
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::Sync(Ctx* ctx, const pb::SyncRequest* req, pb::SyncResponse* resp) {
  return rpc_.Handle(ctx, "Sync", resp, [=, this](const TenantContext& t, Reply<pb::SyncResponse> reply) {
    if (options_.sync == nullptr) return reply(absl::UnimplementedError("sync is not configured"));
    reply(options_.sync->Read(OwnerOf(t), req->cursor(), req->page_size()));
  });
}

}  // namespace rapport::notifications
