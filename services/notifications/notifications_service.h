// The gRPC adapter of the notifications service (callback API): authorizes
// from signed metadata, validates, maps proto <-> store. No SQL here.
// Handlers never wait on the disk: they answer from the store's completion
// callbacks. Subscribe is a server stream served by the LiveHub.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_SERVICE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_SERVICE_H_

#include "rapport/notifications/v1/notifications.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/notifications/live_hub.h"
#include "services/notifications/notifications_store.h"
#include "services/notifications/sync_log.h"
#include "services/profiles/contact_client.h"

namespace rapport::notifications {

struct ServiceOptions {
  bool allow_private_webhooks = false;  // RAPPORT_WEBHOOK_ALLOW_PRIVATE
  NotificationsQuotas quotas;           // RAPPORT_QUOTA_*
  SyncLog* sync = nullptr;              // GET /v1/sync (must outlive the service; null: UNIMPLEMENTED)
};

class NotificationsServiceImpl final : public pb::NotificationsService::CallbackService {
 public:
  // store, hub, signer and contacts must outlive the service. contacts (may
  // be null) confirms contacts the projection does not know yet.
  NotificationsServiceImpl(NotificationsStore* store, LiveHub* hub, const TenantSigner* signer,
                           profiles::ContactClient* contacts, ServiceOptions options = {});

  using Ctx = grpc::CallbackServerContext;
  using R = grpc::ServerUnaryReactor;

  R* ListNotifications(Ctx* ctx, const pb::ListNotificationsRequest* req, pb::ListNotificationsResponse* resp) override;
  R* ReadNotification(Ctx* ctx, const pb::ReadNotificationRequest* req, pb::Notification* resp) override;
  R* DismissNotification(Ctx* ctx, const pb::DismissNotificationRequest* req, pb::Notification* resp) override;
  R* SnoozeNotification(Ctx* ctx, const pb::SnoozeNotificationRequest* req, pb::Notification* resp) override;
  grpc::ServerWriteReactor<pb::NotificationEvent>* Subscribe(Ctx* ctx, const pb::SubscribeRequest* req) override;
  R* CreateReminder(Ctx* ctx, const pb::CreateReminderRequest* req, pb::Reminder* resp) override;
  R* ListReminders(Ctx* ctx, const pb::ListRemindersRequest* req, pb::ListRemindersResponse* resp) override;
  R* GetReminder(Ctx* ctx, const pb::GetReminderRequest* req, pb::Reminder* resp) override;
  R* DeleteReminder(Ctx* ctx, const pb::DeleteReminderRequest* req, pb::DeleteReminderResponse* resp) override;
  R* CreateWorkflow(Ctx* ctx, const pb::CreateWorkflowRequest* req, pb::Workflow* resp) override;
  R* ListWorkflows(Ctx* ctx, const pb::ListWorkflowsRequest* req, pb::ListWorkflowsResponse* resp) override;
  R* GetWorkflow(Ctx* ctx, const pb::GetWorkflowRequest* req, pb::Workflow* resp) override;
  R* UpdateWorkflow(Ctx* ctx, const pb::UpdateWorkflowRequest* req, pb::Workflow* resp) override;
  R* DeleteWorkflow(Ctx* ctx, const pb::DeleteWorkflowRequest* req, pb::DeleteWorkflowResponse* resp) override;
  R* RunWorkflow(Ctx* ctx, const pb::RunWorkflowRequest* req, pb::WorkflowRun* resp) override;
  R* ListWorkflowRuns(Ctx* ctx, const pb::ListWorkflowRunsRequest* req, pb::ListWorkflowRunsResponse* resp) override;
  R* CreateWebhook(Ctx* ctx, const pb::CreateWebhookRequest* req, pb::CreateWebhookResponse* resp) override;
  R* ListWebhooks(Ctx* ctx, const pb::ListWebhooksRequest* req, pb::ListWebhooksResponse* resp) override;
  R* DeleteWebhook(Ctx* ctx, const pb::DeleteWebhookRequest* req, pb::DeleteWebhookResponse* resp) override;
  R* ListDeliveries(Ctx* ctx, const pb::ListDeliveriesRequest* req, pb::ListDeliveriesResponse* resp) override;
  // Notifications' quotas and profiles' (asked through contacts_; without
  // it, notifications' alone).
  R* GetOrgUsage(Ctx* ctx, const pb::GetOrgUsageRequest* req, pb::OrgUsage* resp) override;
  // Org-level webhooks (webhook_service.cc, domain_events.h): org admins'.
  R* CreateOrgWebhook(Ctx* ctx, const pb::CreateWebhookRequest* req, pb::CreateWebhookResponse* resp) override;
  R* ListOrgWebhooks(Ctx* ctx, const pb::ListWebhooksRequest* req, pb::ListWebhooksResponse* resp) override;
  R* DeleteOrgWebhook(Ctx* ctx, const pb::DeleteWebhookRequest* req, pb::DeleteWebhookResponse* resp) override;
  R* ListOrgWebhookDeliveries(Ctx* ctx, const pb::ListDeliveriesRequest* req,
                              pb::ListDeliveriesResponse* resp) override;
  R* Sync(Ctx* ctx, const pb::SyncRequest* req, pb::SyncResponse* resp) override;

 private:
  R* Change(Ctx* ctx, const char* method, const std::string& id, InboxAction action,
            const google::protobuf::Timestamp* until, pb::Notification* resp);
  // A user's webhooks (org false) or the org's (true), webhook_service.cc.
  R* CreateWebhookOf(Ctx* ctx, const char* method, bool org, const pb::CreateWebhookRequest* req,
                     pb::CreateWebhookResponse* resp);
  R* ListWebhooksOf(Ctx* ctx, const char* method, bool org, const pb::ListWebhooksRequest* req,
                    pb::ListWebhooksResponse* resp);
  R* DeleteWebhookOf(Ctx* ctx, const char* method, bool org, const pb::DeleteWebhookRequest* req,
                     pb::DeleteWebhookResponse* resp);
  R* ListDeliveriesOf(Ctx* ctx, const char* method, bool org, const pb::ListDeliveriesRequest* req,
                      pb::ListDeliveriesResponse* resp);

  NotificationsStore* store_;
  LiveHub* hub_;
  const TenantSigner* signer_;
  profiles::ContactClient* contacts_;
  const google::protobuf::ServiceDescriptor* descriptor_;
  ServiceOptions options_;
  RpcHandler rpc_;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_NOTIFICATIONS_SERVICE_H_
