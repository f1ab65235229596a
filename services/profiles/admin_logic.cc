#include "services/profiles/admin_logic.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/field_mask.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_logic.h"

namespace rapport::profiles {

void CheckKeyLimits(const google::protobuf::Timestamp* expire_time, int32_t rate_limit_per_minute, int64_t now_us,
                    const std::string& prefix, Violations* v) {
  if (expire_time != nullptr) {
    if (!IsValidTimestamp(*expire_time)) {
      v->Add(prefix + "expireTime", "is not a valid time");
    } else if (now_us > 0 && TimestampToMicros(*expire_time) <= now_us) {
      v->Add(prefix + "expireTime", "must be in the future");
    }
  }
  if (rate_limit_per_minute < 0 || rate_limit_per_minute > kMaxKeyRateLimit) {
    v->Add(prefix + "rateLimitPerMinute", absl::StrCat("must be between 0 (the default) and ", kMaxKeyRateLimit));
  }
}

absl::Status ApplyUserUpdate(const pb::UpdateUserRequest& request, pb::User& user) {
  static const std::set<std::string> kReadOnly = {"id", "create_time", "update_time"};
  pb::User patched = user;
  RETURN_IF_ERROR(ApplyFieldMask(request.user(), request.update_mask(), kReadOnly, "user", &patched));
  Violations v;
  v.Text("user.displayName", patched.display_name(), kMaxNameChars, true);
  v.Email("user.email", patched.email());
  if (!IsValidTimeZone(patched.timezone())) v.Add("user.timezone", "is not an IANA time zone name (e.g. Europe/Paris)");
  if (patched.state() != pb::ACTIVE && patched.state() != pb::DEACTIVATED) {
    v.Add("user.state", "must be ACTIVE or DEACTIVATED");
  }
  RETURN_IF_ERROR(v.ToStatus());
  user = std::move(patched);
  return absl::OkStatus();
}

absl::Status ApplyApiKeyUpdate(const pb::UpdateApiKeyRequest& request, pb::ApiKey& key) {
  static const std::set<std::string> kReadOnly = {"id",          "scopes",        "create_time",
                                                  "revoke_time", "last_use_time", "user_id"};
  pb::ApiKey patched = key;
  RETURN_IF_ERROR(ApplyFieldMask(request.api_key(), request.update_mask(), kReadOnly, "apiKey", &patched));
  Violations v;
  v.Text("apiKey.displayName", patched.display_name(), kMaxNameChars, true);
  CheckKeyLimits(patched.has_expire_time() ? &patched.expire_time() : nullptr, patched.rate_limit_per_minute(), 0,
                 "apiKey.", &v);
  RETURN_IF_ERROR(v.ToStatus());
  key = std::move(patched);
  return absl::OkStatus();
}

absl::StatusOr<AuditFilter> AuditFilterOf(const pb::ListAuditEntriesRequest& request) {
  Violations v;
  AuditFilter f;
  if (!request.actor().empty() && request.actor() != "platform") v.Id("actor", request.actor(), false);
  f.actor = request.actor();
  v.Text("action", request.action(), kMaxAuditActionChars);
  f.action = request.action();
  if (request.has_since()) {
    if (!IsValidTimestamp(request.since())) {
      v.Add("since", "is not a valid time");
    } else {
      f.since_us = TimestampToMicros(request.since());
    }
  }
  RETURN_IF_ERROR(v.ToStatus());
  return f;
}

}  // namespace rapport::profiles
