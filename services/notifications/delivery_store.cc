// The deliveries job of NotificationsStore: webhooks, the deliveries queued
// for them, and the scheduler's two halves of an attempt (LoadDelivery before
// the HTTP call, RecordDeliveryAttempt after it).
#include "services/notifications/delivery_store.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/audit.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/quota.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/domain_events.h"
#include "services/notifications/notifications_rows.h"
#include "services/notifications/notifications_store.h"

namespace rapport::notifications {

using db::Connection;
using db::Statement;

namespace {

// What a webhook's signing secret is sealed with at rest (crypto.h): its row,
// so that a sealed secret copied to another webhook does not open there.
std::string WebhookSecretContext(const Owner& owner, const std::string& webhook_id) {
  return absl::StrCat("webhooks.secret", absl::string_view("\0", 1), owner.org, absl::string_view("\0", 1), owner.user,
                      absl::string_view("\0", 1), webhook_id);
}

}  // namespace

absl::Status EnqueueWebhookEvent(Connection& conn, const Owner& owner, const std::string& type,
                                 const std::string& event_id, int64_t now_us, const WebhookBodyFn& body,
                                 int64_t event_us) {
  // (webhook owner, webhook id): the user's own webhooks and the org's
  // org-level ones (domain_events.h).
  std::vector<std::pair<std::string, std::string>> targets;
  int64_t skipped = 0;
  // Ids are ULIDs, so id order is creation order: the oldest webhooks win.
  RETURN_IF_ERROR(db::ForEachRow(conn.Prepare("SELECT user_id, data FROM webhooks WHERE org_id = ? AND user_id IN "
                                              "(?, ?) ORDER BY webhook_id")
                                     .Bind(1, owner.org)
                                     .Bind(2, owner.user)
                                     .Bind(3, kOrgWebhookOwner),
                                 [&](const Statement& row) -> absl::Status {
                                   pb::Webhook w;
                                   RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(1), &w));
                                   bool wanted = w.event_types_size() == 0;
                                   for (const std::string& t : w.event_types()) wanted |= EventTypeMatches(t, type);
                                   if (!wanted) return absl::OkStatus();
                                   if (targets.size() < kMaxWebhookFanOut) {
                                     targets.emplace_back(row.ColumnText(0), w.id());
                                   } else {
                                     ++skipped;
                                   }
                                   return absl::OkStatus();
                                 }));
  if (skipped > 0) {
    log::Warn("webhook fan-out capped: the newest matching webhooks get no delivery",
              {{"org", owner.org}, {"type", type}, {"skipped", absl::StrCat(skipped)}});
  }
  if (targets.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string json, body(WebhookEnvelope{event_id, type, FromMicros(event_us > 0 ? event_us : now_us),
                                                          owner.org, owner.user}));
  for (const auto& [webhook_owner, webhook_id] : targets) {
    const Owner target{owner.org, webhook_owner};
    pb::Delivery d;
    d.set_id(NewId());
    d.set_webhook_id(webhook_id);
    d.set_event_id(event_id);
    d.set_event_type(type);
    d.set_state(pb::DELIVERY_PENDING);
    *d.mutable_next_attempt_time() = ToTimestamp(now_us);
    *d.mutable_create_time() = ToTimestamp(now_us);
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO deliveries (org_id, user_id, delivery_id, webhook_id, body, data) VALUES "
                                 "(?, ?, ?, ?, ?, ?)")
                        .Bind(1, target.org)
                        .Bind(2, target.user)
                        .Bind(3, d.id())
                        .Bind(4, webhook_id)
                        .Bind(5, json)
                        .BindBlob(6, d.SerializeAsString())
                        .Run());
    RETURN_IF_ERROR(InsertTimer(
        conn, NewTimer(target, TimerKind::kDelivery, d.id(), "", now_us, absl::StrCat("delivery:", d.id()))));
  }
  return absl::OkStatus();
}

void NotificationsStore::CreateWebhook(const Owner& owner, const pb::Webhook& webhook, const std::string& secret,
                                       const IdempotencyScope& idem, const google::protobuf::Message& request,
                                       int64_t max_webhooks, const TenantContext& actor,
                                       Done<pb::CreateWebhookResponse> done) {
  auto req = CopyMessage(request);
  db::WriteWithResult<pb::CreateWebhookResponse>(
      *db_,
      [=](Connection& conn) -> absl::StatusOr<pb::CreateWebhookResponse> {
        return IdempotentCreate<pb::CreateWebhookResponse>(
            conn, idem, *req, [&]() -> absl::StatusOr<pb::CreateWebhookResponse> {
              ASSIGN_OR_RETURN(int64_t used, CountOwned(conn, "webhooks", owner));
              RETURN_IF_ERROR(CheckQuota(kWebhooksPerUser, used, max_webhooks, "webhooks per user"));
              RETURN_IF_ERROR(
                  conn.Prepare(
                          "INSERT INTO webhooks (org_id, user_id, webhook_id, secret, data) VALUES (?, ?, ?, ?, ?)")
                      .Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, webhook.id())
                      .Bind(4, SealForStorage(secret, WebhookSecretContext(owner, webhook.id())))
                      .BindBlob(5, webhook.SerializeAsString())
                      .Run());
              RETURN_IF_ERROR(audit::Record(
                  conn, actor, "notifications",
                  {.action = "webhook.created",
                   .target_id = webhook.id(),
                   // Not the URL: some carry a token in their path.
                   .detail = webhook.event_types().empty()
                                 ? "every event type"
                                 : absl::StrCat("event types: ", absl::StrJoin(webhook.event_types(), ", ")),
                   .org_id = owner.org}));
              pb::CreateWebhookResponse out;
              *out.mutable_webhook() = webhook;
              out.set_secret(secret);
              return out;
            });
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Webhook>> NotificationsStore::ListWebhooks(const Owner& owner,
                                                                          const std::string& after_id, int limit) {
  std::vector<pb::Webhook> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(
        out, db::ListBlobs<pb::Webhook>(conn.Prepare("SELECT data FROM webhooks WHERE org_id = ? AND user_id = ? AND "
                                                     "webhook_id > ? ORDER BY webhook_id LIMIT ?")
                                            .Bind(1, owner.org)
                                            .Bind(2, owner.user)
                                            .Bind(3, after_id)
                                            .Bind(4, limit)));
    return absl::OkStatus();
  }));
  return out;
}

void NotificationsStore::DeleteWebhook(const Owner& owner, const std::string& id, const TenantContext& actor,
                                       DoneStatus done) {
  db_->WriteAsync(
      [=](Connection& conn) -> absl::Status {
        RETURN_IF_ERROR(conn.Prepare("DELETE FROM webhooks WHERE org_id = ? AND user_id = ? AND webhook_id = ?")
                            .Bind(1, owner.org)
                            .Bind(2, owner.user)
                            .Bind(3, id)
                            .Run());
        if (conn.Changes() == 0) return db::RowNotFound("webhook");
        RETURN_IF_ERROR(
            audit::Record(conn, actor, "notifications",
                          {.action = "webhook.deleted", .target_id = id, .detail = "", .org_id = owner.org}));
        return conn
            .Prepare(
                "DELETE FROM timers WHERE org_id = ? AND kind = ? AND ref IN (SELECT delivery_id FROM deliveries "
                "WHERE org_id = ? AND user_id = ? AND webhook_id = ?)")
            .Bind(1, owner.org)
            .Bind(2, static_cast<int>(TimerKind::kDelivery))
            .Bind(3, owner.org)
            .Bind(4, owner.user)
            .Bind(5, id)
            .Run();
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Delivery>> NotificationsStore::ListDeliveries(const Owner& owner,
                                                                             const std::string& webhook_id,
                                                                             const std::string& before_id, int limit) {
  std::vector<pb::Delivery> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(
        bool exists,
        db::Exists(conn.Prepare("SELECT 1 FROM webhooks WHERE org_id = ? AND user_id = ? AND webhook_id = ?")
                       .Bind(1, owner.org)
                       .Bind(2, owner.user)
                       .Bind(3, webhook_id)));
    if (!exists) return db::RowNotFound("webhook");
    ASSIGN_OR_RETURN(out, db::ListBlobs<pb::Delivery>(
                              conn.Prepare("SELECT data FROM deliveries WHERE org_id = ? AND user_id = ? AND "
                                           "webhook_id = ? AND (? = '' OR delivery_id < ?) "
                                           "ORDER BY delivery_id DESC LIMIT ?")
                                  .Bind(1, owner.org)
                                  .Bind(2, owner.user)
                                  .Bind(3, webhook_id)
                                  .Bind(4, before_id)
                                  .Bind(5, before_id)
                                  .Bind(6, limit)));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<DeliveryQueue>> NotificationsStore::DueDeliveryQueues(absl::Time now, int limit) {
  const int64_t now_us = ToMicros(now);
  std::vector<DeliveryQueue> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(
        out,
        db::ListRows<DeliveryQueue>(
            conn.Prepare("SELECT t.org_id, t.user_id, d.webhook_id, w.data, MIN(t.due_us) FROM timers t "
                         "JOIN deliveries d ON d.org_id = t.org_id AND d.user_id = t.user_id AND "
                         "d.delivery_id = t.ref "
                         "JOIN webhooks w ON w.org_id = d.org_id AND w.user_id = d.user_id AND "
                         "w.webhook_id = d.webhook_id "
                         "WHERE t.kind = ? AND t.due_us <= ? AND t.lease_until_us <= ? "
                         "GROUP BY t.org_id, t.user_id, d.webhook_id, w.data ORDER BY MIN(t.due_us) LIMIT ?")
                .Bind(1, static_cast<int>(TimerKind::kDelivery))
                .Bind(2, now_us)
                .Bind(3, now_us)
                .Bind(4, limit),
            [](const Statement& row) {
              pb::Webhook w;
              // An unparsable row gives an empty URL: one shared endpoint, still bounded.
              (void)db::ParseRow(row.ColumnBlob(3), &w);
              return DeliveryQueue{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2), w.url(), row.ColumnInt(4)};
            }));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<std::vector<TimerRow>>> NotificationsStore::ClaimDeliveries(
    const std::string& owner, absl::Time now, absl::Duration lease, const std::vector<QueueClaim>& claims) {
  const bool postgres = db_->dialect() == db::Dialect::kPostgres;
  const std::string claim = absl::StrCat(
      "UPDATE timers SET lease_owner = ?, lease_until_us = ? WHERE (org_id, timer_id) IN ("
      "SELECT t.org_id, t.timer_id FROM timers t JOIN deliveries d ON d.org_id = t.org_id AND d.user_id = t.user_id "
      "AND d.delivery_id = t.ref WHERE t.org_id = ? AND t.user_id = ? AND d.webhook_id = ? AND t.kind = ? AND "
      "t.due_us <= ? AND t.lease_until_us <= ? ORDER BY t.due_us LIMIT ?",
      postgres ? " FOR UPDATE OF t SKIP LOCKED" : "",
      ") RETURNING org_id, timer_id, user_id, kind, ref, contact_id, due_us, dedupe_key");
  const int64_t now_us = ToMicros(now);
  std::vector<std::vector<TimerRow>> out;
  RETURN_IF_ERROR(db_->Write([&](Connection& conn) -> absl::Status {
    out.assign(claims.size(), {});  // a retried transaction starts over
    if (postgres) RETURN_IF_ERROR(conn.Exec("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"));
    for (size_t i = 0; i < claims.size(); ++i) {
      const QueueClaim& c = claims[i];
      RETURN_IF_ERROR(db::ForEachRow(conn.Prepare(claim)
                                         .Bind(1, owner)
                                         .Bind(2, now_us + absl::ToInt64Microseconds(lease))
                                         .Bind(3, c.queue.org)
                                         .Bind(4, c.queue.user)
                                         .Bind(5, c.queue.webhook_id)
                                         .Bind(6, static_cast<int>(TimerKind::kDelivery))
                                         .Bind(7, now_us)
                                         .Bind(8, now_us)
                                         .Bind(9, c.limit),
                                     [&](const Statement& row) -> absl::Status {
                                       out[i].push_back(
                                           TimerRow{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2),
                                                    static_cast<TimerKind>(row.ColumnInt(3)), row.ColumnText(4),
                                                    row.ColumnText(5), row.ColumnInt(6), row.ColumnText(7)});
                                       return absl::OkStatus();
                                     }));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<PendingDelivery> NotificationsStore::LoadDelivery(const TimerRow& timer) {
  std::optional<PendingDelivery> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(
        out, db::ReadRow<PendingDelivery>(
                 conn.Prepare("SELECT d.body, d.data, w.secret, w.data FROM deliveries d JOIN webhooks w ON "
                              "w.org_id = d.org_id AND w.user_id = d.user_id AND w.webhook_id = d.webhook_id "
                              "WHERE d.org_id = ? AND d.user_id = ? AND d.delivery_id = ?")
                     .Bind(1, timer.org)
                     .Bind(2, timer.user)
                     .Bind(3, timer.ref),
                 [&](const Statement& row) -> absl::StatusOr<PendingDelivery> {
                   pb::Delivery d;
                   pb::Webhook w;
                   RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(1), &d));
                   RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(3), &w));
                   ASSIGN_OR_RETURN(
                       std::string secret,
                       OpenFromStorage(row.ColumnText(2), WebhookSecretContext(Owner{timer.org, timer.user}, w.id())));
                   return PendingDelivery{w.url(),        std::move(secret), d.event_id(),
                                          d.event_type(), row.ColumnText(0), d.attempt_count()};
                 }));
    return absl::OkStatus();
  }));
  if (!out.has_value()) return db::RowNotFound("delivery");
  return *std::move(out);
}

absl::Status NotificationsStore::RecordDeliveryAttempt(const TimerRow& timer, const std::string& owner,
                                                       const AttemptResult& result, bool retries_exhausted) {
  return db_->Write([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(bool mine, LeasedBy(conn, timer, owner));
    if (!mine) return absl::OkStatus();
    ASSIGN_OR_RETURN(pb::Delivery d,
                     ReadOwned<pb::Delivery>(
                         conn, "SELECT data FROM deliveries WHERE org_id = ? AND user_id = ? AND delivery_id = ?",
                         Owner{timer.org, timer.user}, timer.ref, "delivery"));
    pb::DeliveryAttempt* a = d.add_attempts();
    *a->mutable_time() = ToTimestamp(result.time_us);
    a->set_status_code(static_cast<int32_t>(result.status));
    a->set_error(result.error);
    a->set_duration_ms(result.duration_ms);
    d.set_attempt_count(d.attempt_count() + 1);
    d.set_last_status_code(static_cast<int32_t>(result.status));
    const bool ok = result.status >= 200 && result.status < 300;
    if (!ok && result.retry && !retries_exhausted) {
      d.set_state(pb::DELIVERY_PENDING);
      *d.mutable_next_attempt_time() = ToTimestamp(result.next_us);
      RETURN_IF_ERROR(
          conn.Prepare("UPDATE timers SET due_us = ?, lease_owner = '', lease_until_us = 0 WHERE org_id = ? AND "
                       "timer_id = ?")
              .Bind(1, result.next_us)
              .Bind(2, timer.org)
              .Bind(3, timer.id)
              .Run());
    } else {
      d.set_state(ok ? pb::DELIVERED : (result.retry ? pb::DEAD_LETTER : pb::DELIVERY_FAILED));
      d.clear_next_attempt_time();
      RETURN_IF_ERROR(FinishTimer(conn, timer, result.time_us).status());
      if (d.state() == pb::DEAD_LETTER) {
        log::Warn("webhook delivery dead-lettered",
                  {{"org", timer.org}, {"delivery", d.id()}, {"webhook", d.webhook_id()}});
      }
    }
    Statement st = conn.Prepare(
        "UPDATE deliveries SET data = ?, finished_us = ? WHERE org_id = ? AND user_id = ? AND delivery_id = ?");
    st.BindBlob(1, d.SerializeAsString());
    if (d.state() == pb::DELIVERY_PENDING) {
      st.BindNull(2);
    } else {
      st.Bind(2, result.time_us);
    }
    return st.Bind(3, timer.org).Bind(4, timer.user).Bind(5, timer.ref).Run();
  });
}

}  // namespace rapport::notifications
