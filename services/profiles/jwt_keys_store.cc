#include "services/profiles/jwt_keys_store.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "services/common/crypto.h"
#include "services/common/quota.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::profiles {
namespace {

using db::Connection;

// What a key's secret is sealed with: its row (crypto.h).
std::string JwtSecretContext(const std::string& org, const std::string& kid) {
  return absl::StrCat("org_jwt_keys.secret", absl::string_view("\0", 1), org, absl::string_view("\0", 1), kid);
}

// A key from the columns (kid, create_us, retire_us, expire_us).
pb::JwtKey ReadKey(const db::Statement& row) {
  pb::JwtKey key;
  key.set_kid(row.ColumnText(0));
  *key.mutable_create_time() = ToTimestamp(row.ColumnInt(1));
  if (!row.ColumnIsNull(2)) *key.mutable_retire_time() = ToTimestamp(row.ColumnInt(2));
  if (!row.ColumnIsNull(3)) *key.mutable_expire_time() = ToTimestamp(row.ColumnInt(3));
  return key;
}

}  // namespace

absl::Status InsertJwtKey(Connection& conn, const StoredJwtKey& key) {
  return conn
      .Prepare(
          "INSERT INTO org_jwt_keys (org_id, kid, sealed_secret, create_us, retire_us, expire_us) "
          "VALUES (?, ?, ?, ?, NULL, NULL)")
      .Bind(1, key.org_id)
      .Bind(2, key.key.kid())
      .Bind(3, SealForStorage(key.secret, JwtSecretContext(key.org_id, key.key.kid())))
      .Bind(4, TimestampToMicros(key.key.create_time()))
      .Run();
}

void JwtKeysStore::Rotate(const StoredJwtKey& next, absl::Duration grace, int64_t now_us, DoneStatus done) {
  const int64_t expire_us = now_us + absl::ToInt64Microseconds(grace);
  db_->WriteAsync(
      [next, now_us, expire_us](Connection& conn) -> absl::Status {
        const std::string& org = next.org_id;
        ASSIGN_OR_RETURN(bool org_exists, db::Exists(conn.Prepare("SELECT 1 FROM orgs WHERE org_id = ?").Bind(1, org)));
        if (!org_exists) return db::RowNotFound("org");
        RETURN_IF_ERROR(conn.Prepare("DELETE FROM org_jwt_keys WHERE org_id = ? AND expire_us <= ?")
                            .Bind(1, org)
                            .Bind(2, now_us)
                            .Run());
        ASSIGN_OR_RETURN(
            std::optional<int64_t> live,
            db::ReadRow<int64_t>(conn.Prepare("SELECT COUNT(*) FROM org_jwt_keys WHERE org_id = ?").Bind(1, org),
                                 [](const db::Statement& row) { return row.ColumnInt(0); }));
        RETURN_IF_ERROR(CheckQuota(kJwtKeysPerOrg, live.value_or(0), kMaxJwtKeysPerOrg,
                                   "JWT signing keys per org (the current one and those in their grace period)"));
        // A key already retired keeps its own (earlier) expiry: rotating
        // again never lengthens an old key's life.
        RETURN_IF_ERROR(conn.Prepare("UPDATE org_jwt_keys SET retire_us = ?, expire_us = ? WHERE org_id = ? AND "
                                     "expire_us IS NULL")
                            .Bind(1, now_us)
                            .Bind(2, expire_us)
                            .Bind(3, org)
                            .Run());
        return InsertJwtKey(conn, next);
      },
      std::move(done));
}

absl::StatusOr<StoredJwtKey> JwtKeysStore::Get(const std::string& org, const std::string& kid) {
  std::optional<StoredJwtKey> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT kid, create_us, retire_us, expire_us, sealed_secret FROM org_jwt_keys WHERE org_id = ? AND kid = ?");
    st.Bind(1, org).Bind(2, kid);
    ASSIGN_OR_RETURN(out, db::ReadRow<StoredJwtKey>(st, [&](const db::Statement& row) -> absl::StatusOr<StoredJwtKey> {
                       StoredJwtKey stored;
                       stored.org_id = org;
                       stored.key = ReadKey(row);
                       ASSIGN_OR_RETURN(stored.secret, OpenFromStorage(row.ColumnText(4), JwtSecretContext(org, kid)));
                       return stored;
                     }));
    return absl::OkStatus();
  }));
  if (!out.has_value()) return db::RowNotFound("jwt key");
  return *std::move(out);
}

absl::StatusOr<std::vector<pb::JwtKey>> JwtKeysStore::List(const std::string& org, const std::string& after_kid,
                                                           int limit) {
  std::vector<pb::JwtKey> keys;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT kid, create_us, retire_us, expire_us FROM org_jwt_keys WHERE org_id = ? AND kid > ? "
        "ORDER BY kid LIMIT ?");
    st.Bind(1, org).Bind(2, after_kid).Bind(3, limit);
    ASSIGN_OR_RETURN(keys, db::ListRows<pb::JwtKey>(st, ReadKey));
    return absl::OkStatus();
  }));
  return keys;
}

}  // namespace rapport::profiles
