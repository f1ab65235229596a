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

// One block of an IANA special-purpose address registry: the first
// prefix_bits of the address equal those of prefix.
struct Block {
  uint8_t prefix[16];
  int prefix_bits;
};

template <size_t N>
bool InAnyBlock(const uint8_t* a, const Block (&blocks)[N]) {
  for (const Block& b : blocks) {
    int full = b.prefix_bits / 8, rest = b.prefix_bits % 8;
    if (std::memcmp(a, b.prefix, full) != 0) continue;
    if (rest != 0) {
      uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
      if ((a[full] & mask) != (b.prefix[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

// Every block of the IANA IPv4 Special-Purpose Address Registry
// (iana-ipv4-special-registry, as of 2025), plus multicast (224/4, its own
// registry). The registry's few "globally reachable" entries (AS112, AMT,
// anycast PCP/TURN relays) are refused too: they are infrastructure, never a
// customer's webhook receiver.
bool V4Private(const uint8_t a[4]) {
  static const Block kBlocks[] = {
      {{0}, 8},              // "this network" (RFC 791), 0.0.0.0/32
      {{10}, 8},             // private-use (RFC 1918)
      {{100, 64}, 10},       // shared address space, CGNAT (RFC 6598)
      {{127}, 8},            // loopback
      {{169, 254}, 16},      // link local
      {{172, 16}, 12},       // private-use
      {{192, 0, 0}, 24},     // IETF protocol assignments (DS-Lite, NAT64 discovery, PCP, TURN...)
      {{192, 0, 2}, 24},     // documentation TEST-NET-1
      {{192, 31, 196}, 24},  // AS112-v4
      {{192, 52, 193}, 24},  // AMT
      {{192, 88, 99}, 24},   // deprecated 6to4 relay anycast
      {{192, 168}, 16},      // private-use
      {{192, 175, 48}, 24},  // direct delegation AS112
      {{198, 18}, 15},       // benchmarking
      {{198, 51, 100}, 24},  // documentation TEST-NET-2
      {{203, 0, 113}, 24},   // documentation TEST-NET-3
      {{224}, 4},            // multicast
      {{240}, 4},            // reserved, and 255.255.255.255 limited broadcast
  };
  return InAnyBlock(a, kBlocks);
}

// The IANA IPv6 Special-Purpose Address Registry (iana-ipv6-special-registry)
// and the address space registry around it: only global unicast (2000::/3)
// outside the registry's blocks is public. The two forms that embed an IPv4
// address reachable through a translator or the local stack (IPv4-mapped
// ::ffff:0:0/96, NAT64 64:ff9b::/96) are judged by that IPv4 address; every
// other embedding (IPv4-compatible, 6to4, Teredo, local NAT64) is refused
// whole, since the address it reaches depends on relays we do not control.
bool V6Private(const uint8_t a[16]) {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(a, kMapped, 12) == 0 || std::memcmp(a, kNat64, 12) == 0) return V4Private(a + 12);
  if ((a[0] & 0xe0) != 0x20) return true;  // outside 2000::/3: ::, ::1, 100::/64, fc00::/7, fe80::/10, ff00::/8...
  static const Block kBlocks[] = {
      {{0x20, 0x01, 0x00}, 23},              // IETF protocol assignments: Teredo, PCP, benchmarking, AMT, ORCHID...
      {{0x20, 0x01, 0x0d, 0xb8}, 32},        // documentation
      {{0x20, 0x02}, 16},                    // 6to4
      {{0x26, 0x20, 0x00, 0x4f, 0x80}, 48},  // direct delegation AS112
      {{0x3f, 0xff, 0x00}, 20},              // documentation (RFC 9637)
      {{0x5f, 0x00}, 16},                    // SRv6 SIDs (RFC 9602)
  };
  return InAnyBlock(a, kBlocks);
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
  return V6Private(v6);
}

bool IsValidEventType(std::string_view type) {
  if (type.empty() || type.size() > kMaxEventTypeChars) return false;
  for (char c : type) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
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
        // The same words whatever the address and port: a refusal that named
        // them, or differed by port, would let a tenant map the internal
        // network through the delivery log.
        return bad(kRefusedAddress);
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
  // Defence in depth: libcurl sends header lines as given, so a CR or LF in
  // a value would add headers of the sender's choosing.
  bool id_ok = !r.event_id.empty() && r.event_id.size() <= 200 &&
               std::all_of(r.event_id.begin(), r.event_id.end(), [](char c) { return c > ' ' && c < 0x7f; });
  if (!IsValidEventType(r.event_type) || !id_ok) {
    HttpResponse refused;
    refused.error = "refused: the event type or id is not a valid header value";
    return refused;
  }
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
