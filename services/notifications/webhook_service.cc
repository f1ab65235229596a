// The webhook RPCs of NotificationsServiceImpl: a user's webhooks
// (/v1/webhooks, READ/WRITE) and the org's org-level webhooks
// (/v1/org/webhooks, ADMIN), one implementation over the owner each names
// (domain_events.h: an org's webhooks are kept as kOrgWebhookOwner's).
#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/notifications/domain_events.h"
#include "services/notifications/notifications_service.h"
#include "services/notifications/webhook.h"

namespace rapport::notifications {
namespace {

Owner WebhookOwner(const TenantContext& t, bool org) { return org ? Owner{t.org_id, kOrgWebhookOwner} : OwnerOf(t); }

}  // namespace

grpc::ServerUnaryReactor* NotificationsServiceImpl::CreateWebhookOf(Ctx* ctx, const char* method, bool org,
                                                                    const pb::CreateWebhookRequest* req,
                                                                    pb::CreateWebhookResponse* resp) {
  return rpc_.Handle(ctx, method, resp, [=, this](const TenantContext& t, Reply<pb::CreateWebhookResponse> reply) {
    Violations v;
    if (req->event_types_size() > 20) v.Add("eventTypes", "has more than 20 items");
    for (int i = 0; i < req->event_types_size() && i < 20; ++i) {
      if (!IsValidEventTypePattern(req->event_types(i))) {
        v.Add(absl::StrCat("eventTypes[", i, "]"), kEventTypePatternRule);
      }
    }
    v.Text("description", req->description(), 500);
    absl::StatusOr<CheckedUrl> url = CheckWebhookUrl("url", req->url(), options_.allow_private_webhooks);
    if (!url.ok()) {
      std::string message(url.status().message());
      v.Add("url", message.substr(message.find(": ") == std::string::npos ? 0 : message.find(": ") + 2));
    }
    if (!v.empty()) return reply(v.ToStatus());
    pb::Webhook w;
    w.set_id(NewId());
    w.set_url(req->url());
    *w.mutable_event_types() = req->event_types();
    w.set_description(req->description());
    *w.mutable_create_time() = ToTimestamp(NowMicros());
    w.set_scope(org ? pb::Webhook::ORG : pb::Webhook::USER);
    // An org's webhooks count against the webhook quota as one more owner's.
    store_->CreateWebhook(WebhookOwner(t, org), w, absl::StrCat("whsec_", RandomHex(24)), IdempotencyOf(t, method),
                          *req, options_.quotas.webhooks_per_user, t, reply);
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::ListWebhooksOf(Ctx* ctx, const char* method, bool org,
                                                                   const pb::ListWebhooksRequest* req,
                                                                   pb::ListWebhooksResponse* resp) {
  return rpc_.Handle(ctx, method, resp, [=, this](const TenantContext& t, Reply<pb::ListWebhooksResponse> reply) {
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    auto items = store_->ListWebhooks(WebhookOwner(t, org), page->after, page->size + 1);
    if (!items.ok()) return reply(items.status());
    pb::ListWebhooksResponse out;
    out.set_next_page_token(TrimToPage(*items, page->size, [](const pb::Webhook& w) { return w.id(); }));
    for (auto& w : *items) *out.add_webhooks() = std::move(w);
    reply(std::move(out));
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::DeleteWebhookOf(Ctx* ctx, const char* method, bool org,
                                                                    const pb::DeleteWebhookRequest* req,
                                                                    pb::DeleteWebhookResponse* resp) {
  return rpc_.Handle(ctx, method, resp, [=, this](const TenantContext& t, Reply<pb::DeleteWebhookResponse> reply) {
    absl::Status id = RequireId("webhookId", req->webhook_id());
    if (!id.ok()) return reply(id);
    store_->DeleteWebhook(WebhookOwner(t, org), req->webhook_id(), t, Acknowledge(reply));
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::ListDeliveriesOf(Ctx* ctx, const char* method, bool org,
                                                                     const pb::ListDeliveriesRequest* req,
                                                                     pb::ListDeliveriesResponse* resp) {
  return rpc_.Handle(ctx, method, resp, [=, this](const TenantContext& t, Reply<pb::ListDeliveriesResponse> reply) {
    absl::Status id = RequireId("webhookId", req->webhook_id());
    if (!id.ok()) return reply(id);
    absl::StatusOr<Page> page = ParsePage(req->page_size(), req->page_token());
    if (!page.ok()) return reply(page.status());
    auto items = store_->ListDeliveries(WebhookOwner(t, org), req->webhook_id(), page->after, page->size + 1);
    if (!items.ok()) return reply(items.status());
    pb::ListDeliveriesResponse out;
    out.set_next_page_token(TrimToPage(*items, page->size, [](const pb::Delivery& d) { return d.id(); }));
    for (auto& d : *items) *out.add_deliveries() = std::move(d);
    reply(std::move(out));
  });
}

grpc::ServerUnaryReactor* NotificationsServiceImpl::CreateWebhook(Ctx* ctx, const pb::CreateWebhookRequest* req,
                                                                  pb::CreateWebhookResponse* resp) {
  return CreateWebhookOf(ctx, "CreateWebhook", false, req, resp);
}
grpc::ServerUnaryReactor* NotificationsServiceImpl::ListWebhooks(Ctx* ctx, const pb::ListWebhooksRequest* req,
                                                                 pb::ListWebhooksResponse* resp) {
  return ListWebhooksOf(ctx, "ListWebhooks", false, req, resp);
}
grpc::ServerUnaryReactor* NotificationsServiceImpl::DeleteWebhook(Ctx* ctx, const pb::DeleteWebhookRequest* req,
                                                                  pb::DeleteWebhookResponse* resp) {
  return DeleteWebhookOf(ctx, "DeleteWebhook", false, req, resp);
}
grpc::ServerUnaryReactor* NotificationsServiceImpl::ListDeliveries(Ctx* ctx, const pb::ListDeliveriesRequest* req,
                                                                   pb::ListDeliveriesResponse* resp) {
  return ListDeliveriesOf(ctx, "ListDeliveries", false, req, resp);
}
grpc::ServerUnaryReactor* NotificationsServiceImpl::CreateOrgWebhook(Ctx* ctx, const pb::CreateWebhookRequest* req,
                                                                     pb::CreateWebhookResponse* resp) {
  return CreateWebhookOf(ctx, "CreateOrgWebhook", true, req, resp);
}
grpc::ServerUnaryReactor* NotificationsServiceImpl::ListOrgWebhooks(Ctx* ctx, const pb::ListWebhooksRequest* req,
                                                                    pb::ListWebhooksResponse* resp) {
  return ListWebhooksOf(ctx, "ListOrgWebhooks", true, req, resp);
}
grpc::ServerUnaryReactor* NotificationsServiceImpl::DeleteOrgWebhook(Ctx* ctx, const pb::DeleteWebhookRequest* req,
                                                                     pb::DeleteWebhookResponse* resp) {
  return DeleteWebhookOf(ctx, "DeleteOrgWebhook", true, req, resp);
}
grpc::ServerUnaryReactor* NotificationsServiceImpl::ListOrgWebhookDeliveries(Ctx* ctx,
                                                                             const pb::ListDeliveriesRequest* req,
                                                                             pb::ListDeliveriesResponse* resp) {
  return ListDeliveriesOf(ctx, "ListOrgWebhookDeliveries", true, req, resp);
}

}  // namespace rapport::notifications
