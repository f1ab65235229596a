// ProfilesStore's erasure of a user or a whole org (DELETE /v1/users/{id},
// DELETE /v1/orgs/{id}): every row the subject owns in profiles goes, and a
// user.deleted / org.deleted event goes to the outbox in the same
// transaction, so that every consuming service erases its own rows
// (services/common/erasure.h) however long it was down.
#include "absl/strings/str_cat.h"
#include "services/common/audit.h"
#include "services/common/db_rows.h"
#include "services/common/erasure.h"
#include "services/common/outbox.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {
namespace {

// Every profiles table with org_id (and user_id where it has one). The
// outbox goes with the org: the org's events, sent or not, are about data
// that no longer exists (org.deleted itself is appended after).
const std::vector<ErasureTable>& ProfilesErasureTables() {
  static const std::vector<ErasureTable> kTables = {
      {"contacts", true},        {"contact_tags", true},
      {"groups", true},          {"memberships", true},
      {"contact_counts", true},  {"idempotency_keys", true},
      {"users", true},           {"api_keys", false},
      {"account_exports", true}, {"account_export_chunks", true},
      {"contact_keys", true},    {"contact_keys_ready", true},
      {"merged_contacts", true}, {"imports", true},
      {"import_queue", true},    {"import_files", false},
      {"import_skips", false},   {"org_jwt_keys", false},
      {"audit_log", false},      {"outbox", false},
      {"orgs", false},
  };
  return kTables;
}

}  // namespace

void ProfilesStore::DeleteUser(const std::string& org, const std::string& user_id, const TenantContext& actor,
                               DoneStatus done) {
  db_->WriteAsync(
      [org, user_id, actor](db::Connection& conn) -> absl::Status {
        auto exists = conn.Prepare("SELECT 1 FROM users WHERE org_id = ? AND user_id = ?");
        exists.Bind(1, org).Bind(2, user_id);
        ASSIGN_OR_RETURN(bool found, exists.Step());
        if (!found) return db::RowNotFound("user");
        // An import's file and skipped rows name no user: they go by the
        // user's imports, before those are erased.
        for (const char* table : {"import_files", "import_skips"}) {
          RETURN_IF_ERROR(conn.Prepare(absl::StrCat("DELETE FROM ", table,
                                                    " WHERE org_id = ? AND import_id IN (SELECT import_id FROM "
                                                    "imports WHERE org_id = ? AND user_id = ?)"))
                              .Bind(1, org)
                              .Bind(2, org)
                              .Bind(3, user_id)
                              .Run());
        }
        // The org's audit log keeps that the admin erased the user (by id).
        RETURN_IF_ERROR(audit::Record(conn, actor, "profiles",
                                      {.action = "user.erased", .target_id = user_id, .detail = "", .org_id = org}));
        RETURN_IF_ERROR(EraseSubject(conn, ProfilesErasureTables(), org, user_id, NowMicros()));
        events::v1::Event e = events::NewEvent(kUserDeletedEvent, "profiles", org, user_id);
        e.mutable_user()->mutable_user()->set_id(user_id);
        return events::AppendEvent(conn, std::move(e));
      },
      std::move(done));
}

void ProfilesStore::DeleteOrg(const std::string& org, const TenantContext& actor, DoneStatus done) {
  db_->WriteAsync(
      [org, actor](db::Connection& conn) -> absl::Status {
        auto exists = conn.Prepare("SELECT 1 FROM orgs WHERE org_id = ?");
        exists.Bind(1, org);
        ASSIGN_OR_RETURN(bool found, exists.Step());
        if (!found) return db::RowNotFound("org");
        RETURN_IF_ERROR(EraseSubject(conn, ProfilesErasureTables(), org, "", NowMicros()));
        // The org's own log goes with it: the platform's log keeps (by id
        // only) that it was erased, and by whom.
        RETURN_IF_ERROR(
            audit::Record(conn, actor, "profiles",
                          {.action = "org.erased", .target_id = org, .detail = "", .org_id = audit::kPlatformOrg}));
        events::v1::Event e = events::NewEvent(kOrgDeletedEvent, "profiles", org, "");
        e.mutable_org()->mutable_org()->set_id(org);
        return events::AppendEvent(conn, std::move(e));
      },
      std::move(done));
}

}  // namespace rapport::profiles
