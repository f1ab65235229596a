// The quotas of the notifications service: their names (as a 429's detail
// and GET /v1/org/usage give them) and limits, set from flags (main.cc) and
// enforced by the store (counts, inside each create's transaction) and the
// workflow rules (steps). Plain values; thread-safe.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_QUOTAS_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_QUOTAS_H_

#include <cstdint>

namespace rapport::notifications {

// Defaults far above any real use (services/common/quota.h).
inline constexpr char kWorkflowsPerUser[] = "workflowsPerUser";
inline constexpr char kStepsPerWorkflow[] = "stepsPerWorkflow";
inline constexpr char kWebhooksPerUser[] = "webhooksPerUser";
inline constexpr char kRemindersPerContact[] = "remindersPerContact";
inline constexpr char kRemindersWithoutContact[] = "remindersWithoutContact";
struct NotificationsQuotas {
  int64_t workflows_per_user = 100;  // the six built-ins count
  int64_t steps_per_workflow = 20;
  int64_t webhooks_per_user = 20;
  int64_t reminders_per_contact = 100;       // pending ones about one contact
  int64_t reminders_without_contact = 1000;  // pending ones about no contact, per user
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_QUOTAS_H_
