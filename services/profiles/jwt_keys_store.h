// Storage of orgs' JWT signing keys (jwt_keys_logic.h) in the profiles
// database: the org_jwt_keys table, keyed (org_id, kid). Secrets are sealed
// at rest with the process's secrets key (SecretBox, crypto.h) under the
// context of their row, so a sealed secret copied to another org's row does
// not open there; they are opened only for ResolveJwtKey.
//
// JwtKeysStore shares ProfilesStore's database (the migration is one of
// ProfilesStore's, kJwtKeysMigration); CreateOrg writes an org's first key
// in the org's own transaction through InsertJwtKey. Reads return at once;
// writes complete through a callback on the database's writer thread.
//
// Thread-safety: all methods may be called concurrently.
#ifndef RAPPORT_SERVICES_PROFILES_JWT_KEYS_STORE_H_
#define RAPPORT_SERVICES_PROFILES_JWT_KEYS_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/profiles/jwt_keys_logic.h"

namespace rapport::profiles {

// Appended to ProfilesStore's migrations. retire_us and expire_us are NULL
// for the current key; a rotation sets both on the keys it replaces.
inline constexpr char kJwtKeysMigration[] = R"sql(
CREATE TABLE org_jwt_keys (
  org_id TEXT NOT NULL,
  kid TEXT NOT NULL,            -- "<org id>.<key id>"
  sealed_secret TEXT NOT NULL,  -- SecretBox, context JwtSecretContext(org, kid)
  create_us INTEGER NOT NULL,
  retire_us INTEGER,
  expire_us INTEGER,
  PRIMARY KEY (org_id, kid)
) WITHOUT ROWID;
)sql";

// Writes key (sealing its secret) in conn's transaction.
absl::Status InsertJwtKey(db::Connection& conn, const StoredJwtKey& key);

class JwtKeysStore {
 public:
  // db (ProfilesStore::db()) must outlive the store.
  explicit JwtKeysStore(db::Database* db) : db_(db) {}

  // In one transaction: deletes the org's keys already past their expiry,
  // retires its current key(s) (retire = now, expire = now + grace), and
  // inserts next as the current key. RESOURCE_EXHAUSTED (quota
  // jwtKeysPerOrg) when the org already holds kMaxJwtKeysPerOrg live keys;
  // NOT_FOUND when the org does not exist.
  void Rotate(const StoredJwtKey& next, absl::Duration grace, int64_t now_us, DoneStatus done);
  // The key with its secret opened; NOT_FOUND when the org has no such kid
  // (expired keys are still answered: the caller compares expire_time).
  absl::StatusOr<StoredJwtKey> Get(const std::string& org, const std::string& kid);
  // The org's keys without secrets, in kid (= creation) order after
  // after_kid, at most limit.
  absl::StatusOr<std::vector<pb::JwtKey>> List(const std::string& org, const std::string& after_kid, int limit);

 private:
  db::Database* db_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_JWT_KEYS_STORE_H_
