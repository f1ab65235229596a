// Webhook delivery pieces, apart from storage: URL admission (http(s) only;
// private, loopback, link-local and other non-public addresses refused unless
// allowed, checking every address the host resolves to), the JSON bodies
// (printed from the messages of webhook_events.proto), the
// Rapport-Signature header, the retry policy (exponential backoff with full
// jitter; 5xx, 408, 429 and transport failures are retried, other 4xx are
// not), and one HTTP attempt over libcurl pinned to the checked addresses.
// Thread-safe.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_WEBHOOK_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_WEBHOOK_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/http_client.h"

namespace rapport::notifications {

struct CheckedUrl {
  std::string host;
  int port = 0;
  std::vector<std::string> addresses;  // numeric, as resolved
};

// Parses and admits url. INVALID_ARGUMENT "<field>: ..." for a malformed URL,
// another scheme, a host that does not resolve, or (unless allow_private) a
// host with any non-public address.
absl::StatusOr<CheckedUrl> CheckWebhookUrl(const std::string& field, const std::string& url, bool allow_private);

// True for addresses a webhook may not reach by default: loopback,
// RFC 1918, link-local, CGNAT, unspecified, multicast, unique-local IPv6,
// IPv4-mapped forms of these. INVALID_ARGUMENT for a non-numeric address.
absl::StatusOr<bool> IsPrivateAddress(const std::string& numeric);

// What every webhook body carries besides its data.
struct WebhookEnvelope {
  std::string id;    // the event's id (Rapport-Event-Id)
  std::string type;  // its type (Rapport-Event-Type)
  absl::Time time;   // printed in RFC 3339 with a numeric offset, in UTC
  std::string org_id;
  std::string user_id;
};
// The body of a "notification.created" event (NotificationWebhookEvent).
absl::StatusOr<std::string> NotificationWebhookBody(const WebhookEnvelope& envelope,
                                                    const rapport::notifications::v1::Notification& notification);
// The body of a workflow's WEBHOOK step (WorkflowWebhookEvent); contact may be null.
absl::StatusOr<std::string> WorkflowWebhookBody(const WebhookEnvelope& envelope,
                                                const rapport::notifications::v1::Workflow& workflow,
                                                const rapport::notifications::v1::WorkflowRun& run,
                                                const profiles::v1::Contact* contact);

// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
std::string SignatureHeader(const std::string& secret, int64_t unix_seconds, const std::string& body);

struct RetryPolicy {
  int max_attempts = 8;
  std::chrono::milliseconds base{10000};
  std::chrono::milliseconds cap{3600000};
};
// Whether an answer (0 = no answer) is worth another attempt.
bool IsRetriable(long status);
// The wait before attempt number `attempt` + 1 (attempt >= 1): a uniform
// random duration in [d/2, d] with d = min(cap, base * 2^(attempt-1)).
std::chrono::milliseconds Backoff(const RetryPolicy& policy, int attempt);

struct WebhookRequest {
  std::string url;
  std::string secret;
  std::string event_id;
  std::string event_type;
  std::string body;  // JSON
  int64_t unix_seconds = 0;
};
// One POST, with the Rapport-* headers, connecting only to checked.addresses.
HttpResponse SendWebhook(const WebhookRequest& request, const CheckedUrl& checked, std::chrono::milliseconds timeout);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_WEBHOOK_H_
