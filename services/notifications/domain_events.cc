#include "services/notifications/domain_events.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/notifications/v1/webhook_events.pb.h"
#include "services/common/db_rows.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/delivery_store.h"

namespace rapport::notifications {
namespace {

namespace pb = ::rapport::notifications::v1;

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsValidEventTypePattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (EndsWith(pattern, ".*")) {
    std::string_view prefix = pattern.substr(0, pattern.size() - 2);
    return IsValidEventType(prefix) && !EndsWith(prefix, ".");
  }
  return IsValidEventType(pattern);
}

bool EventTypeMatches(std::string_view pattern, std::string_view type) {
  if (pattern == "*") return true;
  if (EndsWith(pattern, ".*")) {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the '.'
    return type.size() > prefix.size() && StartsWith(type, prefix);
  }
  return pattern == type;
}

bool IsWebhookDomainEvent(const events::v1::Event& e) {
  const std::string& t = e.type();
  if (e.has_contact()) return t == "contact.created" || t == "contact.updated" || t == "contact.deleted";
  if (e.has_interaction()) {
    return t == "interaction.created" || t == "interaction.updated" || t == "interaction.deleted";
  }
  if (e.has_introduction()) return StartsWith(t, "introduction.");
  if (e.has_ledger()) return t == "ledger.changed";
  return false;
}

absl::StatusOr<std::string> DomainWebhookBody(const WebhookEnvelope& envelope,
                                              const google::protobuf::Message& object) {
  // The object prints as the REST API prints it (proto3 JSON), then becomes
  // the envelope's "data" value.
  std::string object_json;
  auto printed = google::protobuf::util::MessageToJsonString(object, &object_json);
  if (!printed.ok())
    return absl::InternalError(absl::StrCat("webhook data not printed: ", std::string(printed.message())));
  pb::DomainWebhookEvent event;
  auto parsed = google::protobuf::util::JsonStringToMessage(object_json, event.mutable_data());
  if (!parsed.ok())
    return absl::InternalError(absl::StrCat("webhook data not parsed: ", std::string(parsed.message())));
  event.set_id(envelope.id);
  event.set_type(envelope.type);
  event.set_time(absl::FormatTime(absl::RFC3339_full, envelope.time, absl::UTCTimeZone()));
  event.set_org_id(envelope.org_id);
  event.set_user_id(envelope.user_id);
  std::string out;
  printed = google::protobuf::util::MessageToJsonString(event, &out);
  if (!printed.ok())
    return absl::InternalError(absl::StrCat("webhook body not printed: ", std::string(printed.message())));
  return out;
}

absl::Status EnqueueDomainEvent(db::Connection& conn, const events::v1::Event& e, int64_t now_us) {
  if (e.org_id().empty() || e.user_id().empty() || e.id().empty() || !IsWebhookDomainEvent(e)) {
    return absl::OkStatus();
  }
  // A type that could not be a header value (a producer's bug) is not sent.
  if (!IsValidEventType(e.type())) return absl::OkStatus();
  const google::protobuf::Message* object = nullptr;
  if (e.has_contact()) object = &e.contact().contact();
  if (e.has_interaction()) object = &e.interaction();
  if (e.has_introduction()) object = &e.introduction();
  if (e.has_ledger()) object = &e.ledger();
  const int64_t event_us = e.has_time() ? TimestampToMicros(e.time()) : now_us;
  return EnqueueWebhookEvent(
      conn, Owner{e.org_id(), e.user_id()}, e.type(), e.id(), now_us,
      [object](const WebhookEnvelope& env) { return DomainWebhookBody(env, *object); }, event_us);
}

}  // namespace rapport::notifications
