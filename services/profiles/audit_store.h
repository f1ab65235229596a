// The reading side of the audit log (the writing side, for every service, is
// services/common/audit.h): profiles keeps each org's audit log in its own
// database, the `audit_log` table keyed by (org, entry id), filled by
// AuditConsumer from the audit.recorded events every service's outbox
// publishes, and read by GET /v1/audit (ProfilesStore::ListAuditEntries,
// newest first). Entries are kept audit::kRetention (365 days) by the
// service's RetentionPruner (AuditRetention).
//
// Why one log fed by events rather than a table per service merged on read:
// an entry is written in the change's own transaction wherever the change
// happens (durable, never doubled: the event id is the key), while paging,
// filters and retention stay one indexed query in one place, and profiles
// needs no client of every other service. The price is the event bus's
// latency (milliseconds; while Redis is down, entries wait in the outboxes).
//
// Thread-safety: AuditConsumer's Start/Stop from the owner; the functions
// are pure.
#ifndef RAPPORT_SERVICES_PROFILES_AUDIT_STORE_H_
#define RAPPORT_SERVICES_PROFILES_AUDIT_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/event_consumer.h"
#include "services/common/redis_client.h"
#include "services/common/retention.h"

namespace rapport::profiles {

class ProfilesStore;

// The migration that creates audit_log (in ProfilesStore's list).
extern const char kAuditLogMigration[];

// Deletes entries older than audit::kRetention.
RetentionRule AuditRetention();

// The keyset key of an entry for page tokens: its time and id.
std::string AuditPageKey(const profiles::v1::AuditEntry& entry);

// Consumes the event stream with its own consumer group ("profiles-audit")
// and stores the audit entries (ProfilesStore::StoreAuditEvent). Dedupe is
// the table's key, so the consumer keeps no processed-events rows for the
// many events it skips.
std::unique_ptr<events::EventConsumer> MakeAuditConsumer(redis::Client* redis, ProfilesStore* store,
                                                         const std::string& internal_key,
                                                         const std::string& consumer_name);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_AUDIT_STORE_H_
