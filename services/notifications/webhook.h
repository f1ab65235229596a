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
#include <string_view>
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

// The refusal of a non-public address, after "<field>: ". It names neither
// the address nor the port, so that creating webhooks (or reading their
// delivery log) cannot map an internal network: every refused address and
// port reads the same.
inline constexpr char kRefusedAddress[] =
    "is not a public address: private, loopback and other special-purpose addresses are refused "
    "(unless RAPPORT_WEBHOOK_ALLOW_PRIVATE=1)";

// Parses and admits url. INVALID_ARGUMENT "<field>: ..." for a malformed URL,
// another scheme, a host that does not resolve, or (unless allow_private) a
// host with any non-public address (kRefusedAddress).
absl::StatusOr<CheckedUrl> CheckWebhookUrl(const std::string& field, const std::string& url, bool allow_private);

// True for addresses a webhook may not reach by default: every block of the
// IANA special-purpose address registries for IPv4 and IPv6 (loopback,
// private-use, link-local, CGNAT, documentation, benchmarking, protocol
// assignments, 6to4, Teredo...), multicast, and IPv6 outside global unicast;
// IPv4-mapped and NAT64 (64:ff9b::/96) addresses are judged by the IPv4
// address they embed. INVALID_ARGUMENT for a non-numeric address.
absl::StatusOr<bool> IsPrivateAddress(const std::string& numeric);

// An event type is what the Rapport-Event-Type header carries, so it is
// checked where a user gives one (a workflow's WEBHOOK step, a webhook's
// filter): 1 to kMaxEventTypeChars of [a-z0-9._-], nothing that could end a
// header line.
inline constexpr size_t kMaxEventTypeChars = 64;
inline constexpr char kEventTypeRule[] = "must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'";
bool IsValidEventType(std::string_view type);

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
// A header value that is not a valid event type or id (a row stored before
// event types were checked) is refused without connecting: status 0, error
// set.
HttpResponse SendWebhook(const WebhookRequest& request, const CheckedUrl& checked, std::chrono::milliseconds timeout);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_WEBHOOK_H_
