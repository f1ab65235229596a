// The workflows job of NotificationsStore (run_store.cc), as the other jobs
// use it inside their own transactions: starting and stepping runs, the
// trigger timers of workflows, and the user's built-in workflows. The job's
// public methods (workflows, runs) are declared on NotificationsStore in
// notifications_store.h. What happens to a run is decided by
// workflow_engine.h; these functions read what it needs and persist what it
// decided, with its effects, in the caller's transaction.
//
// Stateless; thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_RUN_STORE_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_RUN_STORE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/notifications/timer_store.h"

namespace rapport::notifications {

namespace pb = ::rapport::notifications::v1;

// Starts a run of workflow unless trigger_key already started one (nullopt
// then), and steps it at now. The run began at `started` (the triggering
// event's time; stop_if and the first wait count from it).
absl::StatusOr<std::optional<pb::WorkflowRun>> StartRun(db::Connection& conn, const Owner& owner,
                                                        const pb::Workflow& workflow, const std::string& contact_id,
                                                        const std::string& trigger_key, const std::string& trigger,
                                                        absl::Time now,
                                                        std::optional<absl::Time> started = std::nullopt);

// (Re)schedules every trigger timer of a workflow after it changed (or the
// user's timezone did).
absl::Status ScheduleWorkflow(db::Connection& conn, const Owner& owner, const pb::Workflow& workflow, absl::Time now);

// The trigger timers of one workflow for one contact: its date trigger, and
// its overdue trigger when the ledger's next due time is given.
absl::Status ScheduleContactTrigger(db::Connection& conn, const Owner& owner, const pb::Workflow& workflow,
                                    const profiles::v1::Contact& contact, std::optional<int64_t> next_due_us,
                                    absl::Time now);

// Creates the user's row and built-in workflows the first time the user is seen.
absl::Status EnsureUser(db::Connection& conn, const Owner& owner, absl::Time now);

// A run's wake timer: its next steps. Nothing when the run is no longer waiting.
absl::Status WakeRun(db::Connection& conn, const TimerRow& timer, absl::Time now);

// A workflow's trigger timer (date, schedule or overdue): the run it starts,
// and the trigger's next timer.
absl::Status FireTrigger(db::Connection& conn, const TimerRow& timer, absl::Time now);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_RUN_STORE_H_
