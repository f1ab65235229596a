// Webhooks that carry domain events, and org-level webhooks.
//
// Besides notification.created and workflow steps, a webhook receives the
// domain events of its owner's objects (kDomainEventTypes: contacts,
// interactions, introductions, the ledger, reminders coming due), filtered by
// its event_types, whose items may end in a wildcard ("contact.*") or be "*"
// (everything; an empty filter also takes everything). An org-level webhook
// (created by an org admin) is stored as the webhook of a pseudo-user,
// kOrgWebhookOwner, of its org, so that its deliveries keep every property of
// a user's (durable rows, leased timers, fair queues per (org, owner,
// webhook)); EnqueueWebhookEvent (delivery_store.h) hands it every event of
// every user of its org.
//
// Stateless; thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_DOMAIN_EVENTS_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_DOMAIN_EVENTS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/db.h"
#include "services/notifications/webhook.h"

namespace rapport::notifications {

// The user id under which an org's org-level webhooks (and their deliveries
// and delivery timers) are stored. Never a real user's id (ids are ULIDs).
inline constexpr char kOrgWebhookOwner[] = "~org";

// A webhook filter item: an event type (IsValidEventType), "*", or an event
// type prefix followed by ".*" ("contact.*").
inline constexpr char kEventTypePatternRule[] =
    "must be an event type of 1 to 64 characters of a-z, 0-9, '.', '_' and '-', optionally ending in '.*', or '*'";
bool IsValidEventTypePattern(std::string_view pattern);
// Whether the filter item takes type: "*" takes all, "a.*" takes "a.b" and
// "a.b.c" (not "a"), anything else only itself.
bool EventTypeMatches(std::string_view pattern, std::string_view type);

// Whether an event of the bus is one webhooks carry (contact.created,
// contact.updated, contact.deleted, interaction.*, introduction.*,
// ledger.changed).
bool IsWebhookDomainEvent(const events::v1::Event& event);

// The JSON body of a domain event (DomainWebhookEvent): the envelope and
// object as JSON.
absl::StatusOr<std::string> DomainWebhookBody(const WebhookEnvelope& envelope, const google::protobuf::Message& object);

// Queues deliveries of a bus event to the webhooks of its user and of its
// org that take its type, inside the consumer's transaction (so they are
// queued exactly once per event). Events webhooks do not carry, and events
// without a user, are ignored.
absl::Status EnqueueDomainEvent(db::Connection& conn, const events::v1::Event& event, int64_t now_us);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_DOMAIN_EVENTS_H_
