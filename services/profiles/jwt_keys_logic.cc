#include "services/profiles/jwt_keys_logic.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"

namespace rapport::profiles {

std::string MakeKid(const std::string& org_id, const std::string& key_id) { return absl::StrCat(org_id, ".", key_id); }

bool ParseKid(const std::string& kid, std::string* org_id) {
  std::vector<std::string> parts = absl::StrSplit(kid, '.');
  if (parts.size() != 2 || !IsWellFormedId(parts[0]) || !IsWellFormedId(parts[1])) return false;
  *org_id = parts[0];
  return true;
}

StoredJwtKey NewJwtKey(const std::string& org_id, const std::string& key_id, int64_t now_us) {
  StoredJwtKey out;
  out.org_id = org_id;
  out.key.set_kid(MakeKid(org_id, key_id));
  *out.key.mutable_create_time() = ToTimestamp(now_us);
  out.secret = RandomHex(32);
  return out;
}

absl::StatusOr<pb::ResolveJwtKeyResponse> ResolveKid(
    const std::string& kid, int64_t now_us,
    absl::FunctionRef<absl::StatusOr<StoredJwtKey>(const std::string& org_id, const std::string& kid)> lookup) {
  const absl::Status unknown = absl::NotFoundError("jwt key not found");
  std::string org_id;
  if (!ParseKid(kid, &org_id)) return unknown;
  absl::StatusOr<StoredJwtKey> stored = lookup(org_id, kid);
  if (absl::IsNotFound(stored.status())) return unknown;
  if (!stored.ok()) return stored.status();
  if (stored->key.has_expire_time() && TimestampToMicros(stored->key.expire_time()) <= now_us) return unknown;
  pb::ResolveJwtKeyResponse out;
  out.set_org_id(stored->org_id);
  out.set_kid(stored->key.kid());
  out.set_secret(std::move(stored->secret));
  if (stored->key.has_expire_time()) *out.mutable_expire_time() = stored->key.expire_time();
  return out;
}

}  // namespace rapport::profiles
