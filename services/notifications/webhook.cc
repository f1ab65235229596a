#include "services/notifications/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/notifications/v1/webhook_events.pb.h"
#include "services/common/crypto.h"

namespace rapport::notifications {
namespace {

bool V4Private(const uint8_t a[4]) {
  if (a[0] == 0 || a[0] == 10 || a[0] == 127) return true;
  if (a[0] == 169 && a[1] == 254) return true;
  if (a[0] == 172 && (a[1] & 0xf0) == 16) return true;
  if (a[0] == 192 && a[1] == 168) return true;
  if (a[0] == 100 && (a[1] & 0xc0) == 64) return true;     // CGNAT 100.64/10
  if (a[0] == 192 && a[1] == 0 && a[2] == 0) return true;  // IETF protocol assignments
  if (a[0] == 198 && (a[1] & 0xfe) == 18) return true;     // benchmarking 198.18/15
  if (a[0] >= 224) return true;                            // multicast, reserved, broadcast
  return false;
}

namespace pb = ::rapport::notifications::v1;

// Fills the envelope fields, which both event messages number alike, and
// prints the message with the standard proto3 JSON mapping.
template <typename Event>
absl::StatusOr<std::string> PrintEvent(const WebhookEnvelope& envelope, Event& event) {
  event.set_id(envelope.id);
  event.set_type(envelope.type);
  event.set_time(absl::FormatTime(absl::RFC3339_full, envelope.time, absl::UTCTimeZone()));
  event.set_org_id(envelope.org_id);
  event.set_user_id(envelope.user_id);
  std::string out;
  auto printed = google::protobuf::util::MessageToJsonString(event, &out);
  if (!printed.ok()) {
    return absl::InternalError(absl::StrCat("webhook body not printed: ", std::string(printed.message())));
  }
  return out;
}

std::string UrlPart(CURLU* u, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, 0) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

}  // namespace

absl::StatusOr<bool> IsPrivateAddress(const std::string& numeric) {
  uint8_t v4[4];
  if (inet_pton(AF_INET, numeric.c_str(), v4) == 1) return V4Private(v4);
  uint8_t v6[16];
  if (inet_pton(AF_INET6, numeric.c_str(), v6) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(numeric, " is not an IP address"));
  }
  static const uint8_t kZero[16] = {};
  if (std::memcmp(v6, kZero, 15) == 0 && (v6[15] == 0 || v6[15] == 1)) return true;  // :: and ::1
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMapped, 12) == 0) return V4Private(v6 + 12);
  if ((v6[0] & 0xfe) == 0xfc) return true;                                            // fc00::/7 unique local
  if (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80) return true;                           // fe80::/10 link local
  if (v6[0] == 0xff) return true;                                                     // multicast
  if (v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x0d && v6[3] == 0xb8) return true;  // documentation
  if (v6[0] == 0 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b) return V4Private(v6 + 12);  // NAT64
  return false;
}

absl::StatusOr<CheckedUrl> CheckWebhookUrl(const std::string& field, const std::string& url, bool allow_private) {
  auto bad = [&](const std::string& why) { return absl::InvalidArgumentError(absl::StrCat(field, ": ", why)); };
  if (url.empty()) return bad("is required");
  if (url.size() > 2000) return bad("is longer than 2000 characters");
  CURLU* u = curl_url();
  if (u == nullptr) return absl::InternalError("curl_url failed");
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
  std::string scheme = rc == CURLUE_OK ? absl::AsciiStrToLower(UrlPart(u, CURLUPART_SCHEME)) : "";
  std::string host = rc == CURLUE_OK ? UrlPart(u, CURLUPART_HOST) : "";
  std::string port = rc == CURLUE_OK ? UrlPart(u, CURLUPART_PORT) : "";
  std::string user = rc == CURLUE_OK ? UrlPart(u, CURLUPART_USER) : "";
  curl_url_cleanup(u);
  if (rc != CURLUE_OK) return bad("is not a valid URL");
  if (scheme != "http" && scheme != "https") return bad("must be an http or https URL");
  if (host.empty()) return bad("has no host");
  if (!user.empty()) return bad("must not carry credentials");
  CheckedUrl out;
  // curl_url keeps IPv6 literals in brackets.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  out.host = host;
  out.port = scheme == "https" ? 443 : 80;
  if (!port.empty() && !absl::SimpleAtoi(port, &out.port)) return bad("has a bad port");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return bad(absl::StrCat("host ", host, " does not resolve"));
  }
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* src = a->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (inet_ntop(a->ai_family, src, buf, sizeof buf) == nullptr) continue;
    std::string numeric(buf);
    if (std::find(out.addresses.begin(), out.addresses.end(), numeric) == out.addresses.end()) {
      out.addresses.push_back(numeric);
    }
  }
  freeaddrinfo(res);
  if (out.addresses.empty()) return bad(absl::StrCat("host ", host, " does not resolve"));
  if (!allow_private) {
    for (const std::string& a : out.addresses) {
      absl::StatusOr<bool> priv = IsPrivateAddress(a);
      if (!priv.ok() || *priv) {
        return bad(absl::StrCat("resolves to ", a,
                                ", a private or loopback address (refused unless "
                                "RAPPORT_WEBHOOK_ALLOW_PRIVATE=1)"));
      }
    }
  }
  return out;
}

absl::StatusOr<std::string> NotificationWebhookBody(const WebhookEnvelope& envelope,
                                                    const pb::Notification& notification) {
  pb::NotificationWebhookEvent event;
  *event.mutable_data() = notification;
  return PrintEvent(envelope, event);
}

absl::StatusOr<std::string> WorkflowWebhookBody(const WebhookEnvelope& envelope, const pb::Workflow& workflow,
                                                const pb::WorkflowRun& run, const profiles::v1::Contact* contact) {
  pb::WorkflowWebhookEvent event;
  *event.mutable_data()->mutable_workflow() = workflow;
  *event.mutable_data()->mutable_run() = run;
  if (contact != nullptr) *event.mutable_data()->mutable_contact() = *contact;
  return PrintEvent(envelope, event);
}

std::string SignatureHeader(const std::string& secret, int64_t unix_seconds, const std::string& body) {
  std::string t = absl::StrCat(unix_seconds);
  return absl::StrCat("t=", t, ",v1=", HexEncode(HmacSha256(secret, absl::StrCat(t, ".", body))));
}

bool IsRetriable(long status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

std::chrono::milliseconds Backoff(const RetryPolicy& policy, int attempt) {
  int64_t d = policy.base.count();
  for (int i = 1; i < attempt && d < policy.cap.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, policy.cap.count());
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> jitter(d / 2, std::max<int64_t>(d / 2, d));
  return std::chrono::milliseconds(jitter(rng));
}

HttpResponse SendWebhook(const WebhookRequest& r, const CheckedUrl& checked, std::chrono::milliseconds timeout) {
  HttpOptions options;
  options.timeout_ms = timeout.count();
  options.connect_timeout_ms = std::min<int64_t>(timeout.count(), 5000);
  options.user_agent = "Rapport-Webhooks/1";
  options.http_only = true;
  options.max_body_bytes = 4096;  // the answer's body is not used
  std::string addrs;
  for (const std::string& a : checked.addresses) {
    if (!addrs.empty()) addrs += ",";
    addrs += a.find(':') != std::string::npos ? absl::StrCat("[", a, "]") : a;
  }
  options.resolve.push_back(absl::StrCat(checked.host, ":", checked.port, ":", addrs));
  std::vector<std::string> headers = {
      "Content-Type: application/json",
      absl::StrCat("Rapport-Event-Id: ", r.event_id),
      absl::StrCat("Rapport-Event-Type: ", r.event_type),
      absl::StrCat("Rapport-Signature: ", SignatureHeader(r.secret, r.unix_seconds, r.body)),
  };
  return HttpCall("POST", r.url, headers, r.body, options);
}

}  // namespace rapport::notifications
