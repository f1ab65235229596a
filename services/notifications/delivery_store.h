// The deliveries job of NotificationsStore (delivery_store.cc), as the other
// jobs use it inside their own transactions: queueing a webhook event. The
// job's public methods (webhooks, deliveries, the scheduler's delivery
// halves) are declared on NotificationsStore in notifications_store.h.
//
// Stateless; thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_DELIVERY_STORE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_DELIVERY_STORE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/notifications/webhook.h"

namespace rapport::notifications {

// Prints an event's JSON body from its envelope (webhook.h).
using WebhookBodyFn = std::function<absl::StatusOr<std::string>(const WebhookEnvelope&)>;

// The most deliveries one event makes: a webhook quota raised above it does
// not multiply the HTTP work one workflow run or notification causes.
inline constexpr size_t kMaxWebhookFanOut = 20;

// Queues a delivery of the event to each of the user's webhooks, and of the
// org's org-level webhooks (domain_events.h), whose filter takes its type, each with a delivery timer due at now_us; to
// the first kMaxWebhookFanOut of them by creation when more match (the rest get nothing, and a warning is logged). body
// is called only when some webhook takes the event: JSON printing is costly at timer rates. The envelope's time is
// event_us (when the change happened), now_us when 0; its user is owner's, also in org-level webhooks' bodies.
absl::Status EnqueueWebhookEvent(db::Connection& conn, const Owner& owner, const std::string& type,
                                 const std::string& event_id, int64_t now_us, const WebhookBodyFn& body,
                                 int64_t event_us = 0);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_DELIVERY_STORE_H_
