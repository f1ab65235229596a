#include "services/common/audit.h"

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/outbox.h"
#include "services/common/time_util.h"

namespace rapport::audit {
namespace {

// Bounds what one entry may carry, so that a long detail never makes the
// change's transaction fail on the event's size.
constexpr size_t kMaxDetailChars = 500;

}  // namespace

std::string ActorOf(const TenantContext& tenant) {
  if (!tenant.key_id.empty() && !tenant.user_id.empty()) {
    return absl::StrCat("key:", tenant.key_id, " as user:", tenant.user_id);
  }
  if (!tenant.key_id.empty()) return absl::StrCat("key:", tenant.key_id);
  if (!tenant.user_id.empty()) return absl::StrCat("user:", tenant.user_id);
  if (tenant.Has(api::v1::PLATFORM)) return "platform";
  return "";
}

profiles::v1::AuditEntry MakeEntry(const TenantContext& tenant, std::string_view service, const Action& action) {
  profiles::v1::AuditEntry e;
  e.set_actor_key_id(tenant.key_id);
  e.set_actor_user_id(tenant.user_id);
  e.set_actor(ActorOf(tenant));
  e.set_action(action.action);
  e.set_target_id(action.target_id);
  e.set_client_address(tenant.client_address);
  e.set_service(std::string(service));
  e.set_request_id(tenant.request_id);
  e.set_detail(action.detail.substr(0, kMaxDetailChars));
  return e;
}

absl::Status Record(db::Connection& conn, const TenantContext& tenant, std::string_view service, const Action& action) {
  if (action.action.empty()) return absl::InvalidArgumentError("audit: an entry needs an action");
  const std::string& org = action.org_id.empty() ? tenant.org_id : action.org_id;
  if (org.empty()) return absl::InvalidArgumentError("audit: an entry needs an org");
  // The event's id is the entry's: the audit table's key, hence the dedupe.
  events::v1::Event event = events::NewEvent(kRecordedType, std::string(service), org, "");
  event.set_id(NewId());
  *event.mutable_time() = ToTimestamp(NowMicros());
  profiles::v1::AuditEntry* entry = event.mutable_audit();
  *entry = MakeEntry(tenant, service, action);
  entry->set_id(event.id());
  *entry->mutable_time() = event.time();
  return events::AppendEvent(conn, std::move(event));
}

}  // namespace rapport::audit
