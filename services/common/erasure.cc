#include "services/common/erasure.h"

#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport {

const char kErasedSubjectsMigration[] = R"sql(
CREATE TABLE erased_subjects (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,        -- '' when the whole org was erased
  erased_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
)sql";

namespace {

// The outbox has no user column: a user's events are found by parsing the
// org's rows (few: sent rows are pruned after the relay's retention).
absl::Status EraseOutboxRowsOfUser(db::Connection& conn, const std::string& org, const std::string& user) {
  std::vector<int64_t> seqs;
  auto scan = conn.Prepare("SELECT seq, data FROM outbox WHERE org_id = ?");
  scan.Bind(1, org);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, scan.Step());
    if (!row) break;
    events::v1::Event e;
    if (e.ParseFromString(scan.ColumnBlob(1)) && e.user_id() == user) seqs.push_back(scan.ColumnInt(0));
  }
  for (int64_t seq : seqs) {
    RETURN_IF_ERROR(conn.Prepare("DELETE FROM outbox WHERE org_id = ? AND seq = ?").Bind(1, org).Bind(2, seq).Run());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EraseSubject(db::Connection& conn, const std::vector<ErasureTable>& tables, const std::string& org,
                          const std::string& user, int64_t now_us) {
  if (org.empty()) return absl::InvalidArgumentError("erasure names no org");
  for (const ErasureTable& t : tables) {
    if (!user.empty() && !t.has_user) {
      if (std::string_view(t.table) == "outbox") RETURN_IF_ERROR(EraseOutboxRowsOfUser(conn, org, user));
      continue;
    }
    // Table names come from the stores' constant lists, never from input.
    const std::string sql = user.empty() ? absl::StrCat("DELETE FROM ", t.table, " WHERE org_id = ?")
                                         : absl::StrCat("DELETE FROM ", t.table, " WHERE org_id = ? AND user_id = ?");
    auto st = conn.Prepare(sql);
    st.Bind(1, org);
    if (!user.empty()) st.Bind(2, user);
    RETURN_IF_ERROR(st.Run());
  }
  return conn
      .Prepare("INSERT INTO erased_subjects (org_id, user_id, erased_us) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
      .Bind(1, org)
      .Bind(2, user)
      .Bind(3, now_us)
      .Run();
}

absl::StatusOr<bool> IsErased(db::Connection& conn, const std::string& org, const std::string& user) {
  auto st = conn.Prepare("SELECT 1 FROM erased_subjects WHERE org_id = ? AND (user_id = '' OR user_id = ?) LIMIT 1");
  st.Bind(1, org).Bind(2, user);
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row;
}

bool IsErasureEvent(const events::v1::Event& e) {
  return (e.type() == kUserDeletedEvent && !e.user_id().empty()) || e.type() == kOrgDeletedEvent;
}

events::EventConsumer::TxHandler WithErasure(std::vector<ErasureTable> tables,
                                             events::EventConsumer::TxHandler handler) {
  return [tables = std::move(tables), handler = std::move(handler)](db::Connection& conn,
                                                                    const events::v1::Event& e) -> absl::Status {
    if (e.org_id().empty()) return handler(conn, e);
    if (IsErasureEvent(e)) {
      const std::string user = e.type() == kOrgDeletedEvent ? "" : e.user_id();
      log::Info("erasing", {{"org", e.org_id()}, {"user", user}, {"event", e.id()}});
      return EraseSubject(conn, tables, e.org_id(), user, NowMicros());
    }
    ASSIGN_OR_RETURN(bool erased, IsErased(conn, e.org_id(), e.user_id()));
    if (erased) return absl::OkStatus();  // about a subject already erased: nothing may come back
    return handler(conn, e);
  };
}

}  // namespace rapport
