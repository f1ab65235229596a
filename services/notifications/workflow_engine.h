// Follow-up workflows as plain, testable code: validation of a workflow, the
// built-in workflows every user starts with, filters, templates, and every
// decision about a run: each step, and when a run stops or completes early
// because the world changed under it. No storage here: Advance moves a run
// forward as far as it can at `now` and returns the effects (notifications,
// webhook events) that the caller commits in the same transaction as the new
// run state. Pure functions; thread-safe.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_WORKFLOW_ENGINE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_WORKFLOW_ENGINE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/notifications/quotas.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

// INVALID_ARGUMENT listing every problem ("workflow.steps[1].duration: ...").
// The number of steps is a quota (CheckStepQuota); only an absurd count
// (over kMaxStepsEver) is invalid here.
absl::Status ValidateWorkflow(const pb::Workflow& workflow);
inline constexpr int kMaxStepsEver = 1000;

// RESOURCE_EXHAUSTED (quota stepsPerWorkflow) when workflow has more steps
// than quotas allow.
absl::Status CheckStepQuota(const pb::Workflow& workflow, const NotificationsQuotas& quotas);

// The built-in workflows, enabled, without ids or times: thank_you,
// follow_up, birthday, birthday_heads_up, overdue_digest, give_back.
std::vector<pb::Workflow> BuiltinWorkflows();

// Whether a contact passes the filter. No contact (unknown, or a run without
// one) passes only an empty filter.
bool MatchesFilter(const pb::Filter& filter, const profiles::v1::Contact* contact);

// Template variables: "contact.displayName", "contact.givenName",
// "contact.familyName", "contact.company", "contact.title",
// "contact.seeking", "contact.birthday", "ledger.balance",
// "overdue.count", "overdue.names", "note".
using TemplateVars = std::map<std::string, std::string>;
TemplateVars ContactVars(const profiles::v1::Contact& contact);
// Replaces each {{name}} (spaces allowed inside the braces) with its value;
// unknown names become "".
std::string Render(const std::string& text, const TemplateVars& vars);

// What a step asks the caller to do, tagged with the step index (the dedupe
// key of an effect is the run id and this index).
struct Effect {
  enum class Kind { kNotify, kWebhook };
  Kind kind;
  int step = 0;
  std::string title;
  std::string body;
  std::string event_type;
};

// What Advance may need to know about the world.
struct RunContext {
  absl::TimeZone zone = absl::UTCTimeZone();
  // For a SCHEDULE workflow, "overdue.count" and "overdue.names" too.
  TemplateVars vars;
  // The run names a contact the user no longer has (it was deleted).
  bool contact_deleted = false;
  // True when an interaction with the run's contact other than the one that
  // started the run was logged at or after since_us.
  std::function<absl::StatusOr<bool>(int64_t since_us)> interacted_since;
};

// Runs the steps of run from run.next_step at now. First, a run whose world
// changed ends without a step: STOPPED when the workflow was disabled or the
// run's contact deleted, COMPLETED when the overdue digest finds nobody
// overdue (a digest with nothing to say says nothing). Then WAIT sets state WAITING
// and wake_time (the caller schedules a timer then), STOP_IF may stop the
// run, NOTIFY and WEBHOOK add effects; after the last step the run is
// COMPLETED. A WAITING run is resumed only once now >= wake_time
// (FAILED_PRECONDITION before: nothing fires early). The first wait is
// measured from the run's start_time, later ones from the previous wake
// time, so a run started or resumed late after downtime keeps its schedule. Every executed step is appended to
// run.history.
absl::StatusOr<std::vector<Effect>> Advance(const pb::Workflow& workflow, pb::WorkflowRun& run,
                                            const RunContext& context, absl::Time now);

// The run's workflow was deleted: a run not yet over stops where it is, with
// no wake time (the caller cancels its timer).
void StopRunOfDeletedWorkflow(pb::WorkflowRun& run, absl::Time now);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_WORKFLOW_ENGINE_H_
