// Storage of the interactions service: interactions and the contacts they
// name, the reciprocity ledger per (user, contact), introductions, idempotency
// keys, the event outbox and the processed-events table of its consumer.
//
// InteractionsStore holds the SQL, written once in the portable dialect of
// the database layer (services/common/db.h): a second engine is a second db
// driver, not a second store. Every call is scoped by org and owning user:
// other tenants' rows answer NOT_FOUND.
//
// The ledger is maintained incrementally in the same transaction as each
// interaction change (create, update, delete), and RecomputeLedgerRow
// rebuilds a row from the interactions themselves; the two always agree.
// Every change appends its events (interaction.*, introduction.*,
// ledger.changed) to the outbox in that same transaction.
//
// Planned interactions (state PLANNED, occurred_at in the future; the state
// is set by interactions_logic.h's SetStateFromTime) are stored, listed and
// linked to their contacts like any other, but their links do not count
// (interaction_contacts.counted = 0) and they add nothing to the ledger; they
// are announced as interaction.planned, not interaction.created. Each waits
// in planned_interactions until the sweep claims it (a lease, FOR UPDATE SKIP
// LOCKED on PostgreSQL) and HappenPlanned applies it: in one transaction the
// queue row is deleted (only the first of two concurrent attempts deletes
// it, so it is applied once, whatever crashes or replicas), the links count,
// the ledger takes it in and interaction.created is emitted, which consumers
// treat as it happening now. A cancelled one (interaction.cancelled) stays
// in the timeline and never counts.
//
// Writes complete through callbacks once durable; reads return at once.
// Thread-safety: all methods may be called concurrently.
#ifndef RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_STORE_H_
#define RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_STORE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rapport/events/v1/events.pb.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/idempotency.h"
#include "services/common/outbox.h"
#include "services/interactions/ledger.h"

namespace rapport::interactions {

// Cadence (days) of each contact an interaction names, as profiles knows it;
// used when a contact's ledger row is first created.
using Cadences = std::map<std::string, int32_t>;

struct InteractionFilter {
  std::string contact_id;
  pb::InteractionKind kind = pb::INTERACTION_KIND_UNSPECIFIED;
  int64_t after_us = 0;   // occurred_at >= after (0: unbounded)
  int64_t before_us = 0;  // occurred_at < before (0: unbounded)
};

// Position after which a page starts, in the list's order.
struct Cursor {
  double value = 0;  // sort value of the previous page's last row (exact for integers below 2^53)
  std::string id;    // its id, breaking ties
};

// A planned interaction the sweep claimed (ClaimDuePlanned).
struct PlannedRef {
  Owner owner;
  std::string interaction_id;
};

enum class LedgerOrder { kBalance, kStrength, kNextDue, kLastInteraction };

class InteractionsStore {
 public:
  // Opens (creating and migrating) the service's database at path.
  static absl::StatusOr<std::unique_ptr<InteractionsStore>> Open(const std::string& path);
  // Opens (creating and migrating) the database the options name, on either
  // driver (db::Open); the store supplies the migrations.
  static absl::StatusOr<std::unique_ptr<InteractionsStore>> Open(db::Options options);

  // Creates the interaction, updates the ledger of each contact it names, and
  // records the response under the idempotency key (a replay returns the
  // first result and changes nothing).
  void CreateInteraction(const Owner& owner, const pb::Interaction& interaction, const Cadences& cadences,
                         const IdempotencyScope& idempotency, const google::protobuf::Message& request,
                         Done<pb::Interaction> done);
  absl::StatusOr<pb::Interaction> GetInteraction(const Owner& owner, const std::string& id);
  void UpdateInteraction(const Owner& owner, const std::string& id, Mutation<pb::Interaction> mutate,
                         const Cadences& cadences, Done<pb::Interaction> done);
  void DeleteInteraction(const Owner& owner, const std::string& id, DoneStatus done);
  // A PLANNED interaction becomes CANCELLED (interaction.cancelled);
  // FAILED_PRECONDITION for any other state.
  void CancelInteraction(const Owner& owner, const std::string& id, int64_t now_us, Done<pb::Interaction> done);
  // Claims up to limit planned interactions due at now_us whose lease lapsed
  // (or was never taken), for runner until lease_until_us. Across orgs.
  absl::StatusOr<std::vector<PlannedRef>> ClaimDuePlanned(const std::string& runner, int64_t now_us,
                                                          int64_t lease_until_us, int limit);
  // Makes a claimed interaction happen (see above). OK and nothing done when
  // it already happened, was cancelled, deleted or moved later than now_us.
  void HappenPlanned(const PlannedRef& ref, int64_t now_us, DoneStatus done);
  // The interactions that count toward the contact's ledger row (for its
  // explanation).
  absl::StatusOr<std::vector<pb::Interaction>> CountedInteractions(const Owner& owner, const std::string& contact_id);
  // Newest first (occurred_at, then id, descending).
  absl::StatusOr<std::vector<pb::Interaction>> ListInteractions(const Owner& owner, const InteractionFilter& filter,
                                                                const std::optional<Cursor>& after, int limit);

  // NOT_FOUND when the contact has no ledger row (no interaction yet).
  absl::StatusOr<LedgerRow> GetLedgerRow(const Owner& owner, const std::string& contact_id);
  // Balance and next due ascending (whom you owe, who is most due: contacts
  // never met come first there); strength and last interaction descending.
  absl::StatusOr<std::vector<LedgerRow>> ListLedger(const Owner& owner, LedgerOrder order,
                                                    const std::optional<Cursor>& after, int limit);
  // The row rebuilt from the interactions alone (for audits and tests).
  absl::StatusOr<LedgerRow> RecomputeLedgerRow(const Owner& owner, const std::string& contact_id);
  // Cadences of those of ids that have a ledger row: contacts this service
  // already knows (from an earlier check with profiles or a contact event).
  absl::StatusOr<Cadences> KnownContacts(const Owner& owner, const std::vector<std::string>& ids);

  void CreateIntroduction(const Owner& owner, const pb::Introduction& introduction, const IdempotencyScope& idempotency,
                          const google::protobuf::Message& request, Done<pb::Introduction> done);
  absl::StatusOr<pb::Introduction> GetIntroduction(const Owner& owner, const std::string& id);
  // Who holds introduction id in org (a teammate answering an ask made
  // through them finds it by id); NOT_FOUND when none does.
  absl::StatusOr<Owner> IntroductionOwner(const std::string& org, const std::string& id);
  // Applies mutate (a state transition) and emits introduction.<new state>
  // (introduction.responded when the state stayed as it was).
  // When the new state is MADE, also records made_interaction as an
  // interaction (a give for the connector, a receive for the requester) and
  // links it.
  void TransitionIntroduction(const Owner& owner, const std::string& id, Mutation<pb::Introduction> mutate,
                              std::optional<pb::Interaction> made_interaction, const Cadences& cadences,
                              Done<pb::Introduction> done);
  absl::StatusOr<std::vector<pb::Introduction>> ListIntroductions(const Owner& owner, pb::IntroductionState state,
                                                                  const std::string& after_id, int limit);

  // Internal export across every org (rapport.backfill.v1), keyset-ordered by
  // (org, user, id): interactions as interaction.created without notes,
  // introductions as introduction.<state>, ledger rows as ledger.changed
  // (strength as of now, the event's time). after holds the previous page's
  // last key ({} on the first page).
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportInteractions(const std::vector<std::string>& after,
                                                                        int limit);
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportIntroductions(const std::vector<std::string>& after,
                                                                         int limit);
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportLedger(const std::vector<std::string>& after, int limit);

  // Keeps the ledger in step with profiles: contact.created/updated set the
  // row's cadence; contact.deleted removes the row and its links and records
  // the contact as deleted, so that no interaction can name it again. Runs in
  // the event consumer's transaction.
  static absl::Status ApplyContactEvent(db::Connection& conn, const events::v1::Event& event);
  // contact.merged (ApplyContactEvent passes it here): every interaction and
  // introduction naming a merged contact names the survivor instead
  // (interaction.updated for each interaction moved), the merged contacts'
  // ledger rows and links go and they are recorded as deleted, and the
  // survivor's row is recomputed from its interactions (ledger.changed).
  // Applying it twice changes nothing more. Runs in the consumer's transaction.
  static absl::Status ApplyContactMerged(db::Connection& conn, const events::v1::Event& event);

  // The database, for the outbox relay, the event consumer and retention.
  db::Database& db() { return *db_; }

 private:
  explicit InteractionsStore(std::unique_ptr<db::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<db::Database> db_;
};

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_INTERACTIONS_STORE_H_
