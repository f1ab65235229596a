// The audit log's writing side: any service records an administrative or
// security-relevant action (org, user and key changes, webhook changes,
// imports, exports, erasures) with one call, inside the write transaction of
// the change itself:
//
//   RETURN_IF_ERROR(audit::Record(conn, tenant, "notifications",
//                                 {.action = "webhook.created", .target_id = webhook.id()}));
//
// The entry (who: key and user from the signed tenant metadata; what; when;
// the client's address the gateway signed in) becomes an "audit.recorded"
// event in the service's own transactional outbox (outbox.h), so it exists
// exactly when the change committed and survives anything the change
// survives. The relay publishes it to the event stream like any event;
// profiles consumes it (services/profiles/audit_store.h) into the org's
// audit_log table keyed by (org, entry id), so a redelivery is a no-op: an
// entry is never lost and never doubled. Reads (GET /v1/audit) are one
// indexed query on profiles; entries are kept 365 days.
//
// Every consumer other than profiles' audit consumer ignores these events:
// they carry no user_id (the actor is in the entry).
//
// Thread-safety: Record runs on the caller's transaction; the rest is pure.
#ifndef RAPPORT_SERVICES_COMMON_AUDIT_H_
#define RAPPORT_SERVICES_COMMON_AUDIT_H_

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/tenant.h"

namespace rapport::audit {

// The event type of an audit entry on the stream.
inline constexpr char kRecordedType[] = "audit.recorded";
// The org id of the platform's own audit log: platform actions whose org's
// log would not outlive them (org.erased). Org ids are generated ULIDs, so
// no org can be called this. The platform key reads it with GET /v1/audit.
inline constexpr char kPlatformOrg[] = "platform";
// How long profiles keeps an entry.
inline constexpr std::chrono::hours kRetention{24 * 365};

// What was done. action is "<object>.<verb>" in lowerCamelCase objects, e.g.
// "user.deactivated", "apiKey.revoked", "webhook.created", "import.started",
// "export.created", "user.erased"; detail is short and never holds a secret.
struct Action {
  std::string action;
  std::string target_id;
  std::string detail;
  // The org the entry belongs to; empty: the tenant's org. Set it for a
  // platform call that acts on an org (the platform key names no org).
  std::string org_id;
};

// Readable actor of a tenant: "key:<id>", "user:<id>", "key:<id> as
// user:<id>", "platform", or "" (a service acting on its own).
std::string ActorOf(const TenantContext& tenant);

// The entry Record writes (id and time left empty), for tests and tools.
profiles::v1::AuditEntry MakeEntry(const TenantContext& tenant, std::string_view service, const Action& action);

// Appends the entry to the outbox on conn, which must be inside the write
// transaction of the change. INVALID_ARGUMENT when action.action is empty or
// the entry names no org; otherwise what AppendEvent answers.
absl::Status Record(db::Connection& conn, const TenantContext& tenant, std::string_view service, const Action& action);

}  // namespace rapport::audit

#endif  // RAPPORT_SERVICES_COMMON_AUDIT_H_
