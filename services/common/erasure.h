// Erasure of a user or a whole org in a service's own store, driven by the
// events profiles emits when an org admin erases a user (user.deleted,
// DELETE /v1/users/{id}) or the platform admin erases an org (org.deleted,
// DELETE /v1/orgs/{id}).
//
// Each store names the tables that hold an org's or a user's rows
// (ErasureTable); EraseSubject deletes them in the caller's transaction. An
// erased subject is recorded in `erased_subjects` (kErasedSubjectsMigration:
// org_id, user_id '' for the whole org) so that an event about it that
// arrives later (a retried or reclaimed stream entry) is dropped rather than
// bringing rows back: WithErasure wraps a consumer's durable handler with
// exactly that. Deleting is idempotent, so a redelivered erasure event does
// nothing new.
//
// Thread-safety: plain functions on the caller's connection.
#ifndef RAPPORT_SERVICES_COMMON_ERASURE_H_
#define RAPPORT_SERVICES_COMMON_ERASURE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/db.h"
#include "services/common/event_consumer.h"

namespace rapport {

extern const char kErasedSubjectsMigration[];

inline constexpr char kUserDeletedEvent[] = "user.deleted";
inline constexpr char kOrgDeletedEvent[] = "org.deleted";

// A table holding subjects' rows: org_id always, user_id when has_user.
// Tables without user_id are erased with the whole org only; the outbox
// (no user column) loses a user's rows by their parsed events.
struct ErasureTable {
  const char* table;
  bool has_user;
};

// Deletes org's rows (user empty) or user's rows in org from tables, and
// records the subject as erased.
absl::Status EraseSubject(db::Connection& conn, const std::vector<ErasureTable>& tables, const std::string& org,
                          const std::string& user, int64_t now_us);

// Whether the org, or user in it, was erased.
absl::StatusOr<bool> IsErased(db::Connection& conn, const std::string& org, const std::string& user);

// user.deleted (with a user) or org.deleted.
bool IsErasureEvent(const events::v1::Event& e);

// A durable handler that erases on user.deleted / org.deleted, drops events
// about an erased subject, and hands every other event to handler.
events::EventConsumer::TxHandler WithErasure(std::vector<ErasureTable> tables,
                                             events::EventConsumer::TxHandler handler);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_ERASURE_H_
