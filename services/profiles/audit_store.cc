#include "services/profiles/audit_store.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/audit.h"
#include "services/common/db_rows.h"
#include "services/common/pagination.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {
namespace {

// A LIKE pattern (escape '!') for an action filter: "apiKey.*" is a prefix,
// anything else is matched exactly.
std::string ActionPattern(const std::string& action) {
  std::string base = action;
  const bool prefix = base.size() >= 2 && base.compare(base.size() - 2, 2, ".*") == 0;
  if (prefix) base.resize(base.size() - 1);  // keep the dot
  std::string out;
  for (char c : base) {
    if (c == '%' || c == '_' || c == '!') out.push_back('!');
    out.push_back(c);
  }
  if (prefix) out.push_back('%');
  return out;
}

}  // namespace

const char kAuditLogMigration[] = R"sql(
CREATE TABLE audit_log (
  org_id TEXT NOT NULL,
  entry_id TEXT NOT NULL,       -- the audit.recorded event's id (ULID)
  time_us INTEGER NOT NULL,
  actor TEXT NOT NULL,          -- "key:<id>", "user:<id>", "key:<id> as user:<id>", "platform"
  actor_key_id TEXT NOT NULL,
  actor_user_id TEXT NOT NULL,
  action TEXT NOT NULL,
  data BLOB NOT NULL,           -- rapport.profiles.v1.AuditEntry
  PRIMARY KEY (org_id, entry_id)
) WITHOUT ROWID;
CREATE INDEX audit_log_by_org_time ON audit_log (org_id, time_us, entry_id);
CREATE INDEX audit_log_by_time ON audit_log (time_us);
)sql";

RetentionRule AuditRetention() {
  return RetentionRule{"audit_log", "org_id, entry_id", "time_us",
                       std::chrono::duration_cast<std::chrono::microseconds>(audit::kRetention)};
}

std::string AuditPageKey(const pb::AuditEntry& entry) {
  return JoinKeyParts({absl::StrCat(TimestampToMicros(entry.time())), entry.id()});
}

absl::Status ProfilesStore::StoreAuditEvent(const events::v1::Event& event) {
  if (event.type() != audit::kRecordedType || !event.has_audit()) return absl::OkStatus();
  const pb::AuditEntry& entry = event.audit();
  if (event.org_id().empty() || entry.id().empty()) {
    return absl::InvalidArgumentError("audit event: names no org or entry id");
  }
  return db_->Write([&](db::Connection& conn) -> absl::Status {
    return conn
        .Prepare(
            "INSERT INTO audit_log (org_id, entry_id, time_us, actor, actor_key_id, actor_user_id, action, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, entry_id) DO NOTHING")
        .Bind(1, event.org_id())
        .Bind(2, entry.id())
        .Bind(3, TimestampToMicros(entry.time()))
        .Bind(4, entry.actor())
        .Bind(5, entry.actor_key_id())
        .Bind(6, entry.actor_user_id())
        .Bind(7, entry.action())
        .BindBlob(8, entry.SerializeAsString())
        .Run();
  });
}

absl::StatusOr<std::vector<pb::AuditEntry>> ProfilesStore::ListAuditEntries(const std::string& org,
                                                                            const AuditFilter& filter,
                                                                            const std::string& after, int limit) {
  // The keyset position: strictly older than (time, id) of the last entry
  // shown; the first page starts above every entry.
  int64_t after_us = 0;
  std::string after_id;
  if (!after.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitKeyParts(after, 2));
    after_id = parts[1];
    if (!absl::SimpleAtoi(parts[0], &after_us) || after_id.empty()) {
      return absl::InvalidArgumentError("pageToken: not a token of this list");
    }
  }
  std::vector<pb::AuditEntry> out;
  RETURN_IF_ERROR(db_->Read([&](db::Connection& conn) -> absl::Status {
    // One statement shape for every combination of filters (statements are
    // cached by their text): an empty filter disables its clause.
    auto st = conn.Prepare(
        "SELECT data FROM audit_log WHERE org_id = ?1 "
        "AND (?2 = '' OR actor_key_id = ?2 OR actor_user_id = ?2 OR actor = ?2) "
        "AND (?3 = '' OR action LIKE ?3 ESCAPE '!') "
        "AND time_us >= ?4 "
        "AND (?5 = '' OR time_us < ?6 OR (time_us = ?6 AND entry_id < ?5)) "
        "ORDER BY time_us DESC, entry_id DESC LIMIT ?7");
    st.Bind(1, org)
        .Bind(2, filter.actor)
        .Bind(3, filter.action.empty() ? std::string() : ActionPattern(filter.action))
        .Bind(4, filter.since_us)
        .Bind(5, after_id)
        .Bind(6, after_us)
        .Bind(7, limit);
    ASSIGN_OR_RETURN(out, db::ListBlobs<pb::AuditEntry>(st));
    return absl::OkStatus();
  }));
  return out;
}

std::unique_ptr<events::EventConsumer> MakeAuditConsumer(redis::Client* redis, ProfilesStore* store,
                                                         const std::string& internal_key,
                                                         const std::string& consumer_name) {
  events::ConsumerOptions options;
  options.internal_key = internal_key;
  options.group = "profiles-audit";
  options.consumer = consumer_name;
  options.start_id = "0";
  return std::make_unique<events::EventConsumer>(
      redis, std::move(options), [store](const events::v1::Event& e) { return store->StoreAuditEvent(e); });
}

}  // namespace rapport::profiles
