// ProfilesStore's erasure of a user or a whole org (DELETE /v1/users/{id},
// DELETE /v1/orgs/{id}): every row the subject owns in profiles goes, and a
// user.deleted / org.deleted event goes to the outbox in the same
// transaction, so that every consuming service erases its own rows
// (services/common/erasure.h) however long it was down.
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
      {"contacts", true},        {"contact_tags", true},          {"groups", true},  {"memberships", true},
      {"contact_counts", true},  {"idempotency_keys", true},      {"users", true},   {"api_keys", false},
      {"account_exports", true}, {"account_export_chunks", true}, {"outbox", false}, {"orgs", false},
  };
  return kTables;
}

}  // namespace

void ProfilesStore::DeleteUser(const std::string& org, const std::string& user_id, DoneStatus done) {
  db_->WriteAsync(
      [org, user_id](db::Connection& conn) -> absl::Status {
        auto exists = conn.Prepare("SELECT 1 FROM users WHERE org_id = ? AND user_id = ?");
        exists.Bind(1, org).Bind(2, user_id);
        ASSIGN_OR_RETURN(bool found, exists.Step());
        if (!found) return db::RowNotFound("user");
        RETURN_IF_ERROR(EraseSubject(conn, ProfilesErasureTables(), org, user_id, NowMicros()));
        events::v1::Event e = events::NewEvent(kUserDeletedEvent, "profiles", org, user_id);
        e.mutable_user()->mutable_user()->set_id(user_id);
        return events::AppendEvent(conn, std::move(e));
      },
      std::move(done));
}

void ProfilesStore::DeleteOrg(const std::string& org, DoneStatus done) {
  db_->WriteAsync(
      [org](db::Connection& conn) -> absl::Status {
        auto exists = conn.Prepare("SELECT 1 FROM orgs WHERE org_id = ?");
        exists.Bind(1, org);
        ASSIGN_OR_RETURN(bool found, exists.Step());
        if (!found) return db::RowNotFound("org");
        RETURN_IF_ERROR(EraseSubject(conn, ProfilesErasureTables(), org, "", NowMicros()));
        events::v1::Event e = events::NewEvent(kOrgDeletedEvent, "profiles", org, "");
        e.mutable_org()->mutable_org()->set_id(org);
        return events::AppendEvent(conn, std::move(e));
      },
      std::move(done));
}

}  // namespace rapport::profiles
