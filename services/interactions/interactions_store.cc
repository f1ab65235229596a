#include "services/interactions/interactions_store.h"

#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/erasure.h"
#include "services/common/event_consumer.h"
#include "services/common/event_size.h"
#include "services/common/field_mask.h"
#include "services/common/outbox.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::interactions {
namespace {

using db::Connection;
using db::ListBlobs;
using db::ParseRow;
using db::ReadBlob;
using db::RowNotFound;
using db::WriteWithResult;

constexpr int32_t kDefaultCadenceDays = 90;

// Numbered migrations; append only. org_id leads every key and index (the
// outbox excepted, see outbox.h).
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE interactions (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  interaction_id TEXT NOT NULL,
  occurred_us INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  data BLOB NOT NULL,            -- rapport.interactions.v1.Interaction
  PRIMARY KEY (org_id, user_id, interaction_id)
) WITHOUT ROWID;
CREATE INDEX interactions_by_time ON interactions (org_id, user_id, occurred_us, interaction_id);
CREATE TABLE interaction_contacts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  interaction_id TEXT NOT NULL,
  occurred_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id, interaction_id)
) WITHOUT ROWID;
CREATE INDEX interaction_contacts_by_time ON interaction_contacts (org_id, user_id, contact_id, occurred_us);
CREATE TABLE ledger (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  given_milli INTEGER NOT NULL,
  received_milli INTEGER NOT NULL,
  balance_milli INTEGER NOT NULL,
  anchored REAL NOT NULL,
  count INTEGER NOT NULL,
  last_us INTEGER NOT NULL,
  cadence_days INTEGER NOT NULL,
  next_due_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX ledger_by_balance ON ledger (org_id, user_id, balance_milli, contact_id);
CREATE INDEX ledger_by_strength ON ledger (org_id, user_id, anchored, contact_id);
CREATE INDEX ledger_by_next_due ON ledger (org_id, user_id, next_due_us, contact_id);
CREATE INDEX ledger_by_last ON ledger (org_id, user_id, last_us, contact_id);
CREATE TABLE introductions (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  introduction_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  data BLOB NOT NULL,            -- rapport.interactions.v1.Introduction
  PRIMARY KEY (org_id, user_id, introduction_id)
) WITHOUT ROWID;
CREATE INDEX introductions_by_state ON introductions (org_id, user_id, state, introduction_id);
)sql",
      kIdempotencyMigration,
      events::kOutboxMigration,
      events::kProcessedEventsMigration,
      // Contacts deleted in profiles: never again part of an interaction or
      // the ledger, whatever order later events arrive in.
      R"sql(
CREATE TABLE deleted_contacts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  deleted_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
)sql",
      kIdempotencyByTimeMigration,
      events::kProcessedEventsByTimeMigration,
      kErasedSubjectsMigration,
      // Asks answered by the teammate asked find their introduction by id.
      "CREATE INDEX introductions_by_id ON introductions (org_id, introduction_id);",
      // Planned interactions (issue 19): the sweep's queue, claimed with a
      // lease; and whether each link counts toward the ledger.
      R"sql(
CREATE TABLE planned_interactions (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  interaction_id TEXT NOT NULL,
  due_us INTEGER NOT NULL,       -- occurred_at
  lease_owner TEXT NOT NULL,     -- the sweeper holding it ('' when none)
  lease_until_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, interaction_id)
) WITHOUT ROWID;
CREATE INDEX planned_interactions_by_due ON planned_interactions (due_us);
ALTER TABLE interaction_contacts ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;
)sql",
  };
  return kMigrations;
}

events::v1::Event NewEvent(const std::string& type, const Owner& owner) {
  return events::NewEvent(type, "interactions", owner.org, owner.user);
}

absl::StatusOr<pb::Interaction> ReadInteraction(Connection& conn, const Owner& owner, const std::string& id) {
  auto st = conn.Prepare("SELECT data FROM interactions WHERE org_id = ? AND user_id = ? AND interaction_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  return ReadBlob<pb::Interaction>(st, "interaction");
}

absl::StatusOr<pb::Introduction> ReadIntroduction(Connection& conn, const Owner& owner, const std::string& id) {
  auto st = conn.Prepare("SELECT data FROM introductions WHERE org_id = ? AND user_id = ? AND introduction_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  return ReadBlob<pb::Introduction>(st, "introduction");
}

constexpr char kLedgerColumns[] = "contact_id, given_milli, received_milli, anchored, count, last_us, cadence_days";

LedgerRow RowFrom(const db::Statement& st) {
  LedgerRow row;
  row.contact_id = st.ColumnText(0);
  row.given_milli = st.ColumnInt(1);
  row.received_milli = st.ColumnInt(2);
  row.anchored = st.ColumnDouble(3);
  row.count = st.ColumnInt(4);
  row.last_us = st.ColumnInt(5);
  row.cadence_days = static_cast<int32_t>(st.ColumnInt(6));
  return row;
}

// The stored row, or nullopt when the contact has none yet.
absl::StatusOr<std::optional<LedgerRow>> ReadLedger(Connection& conn, const Owner& owner, const std::string& contact) {
  auto st = conn.Prepare(
      absl::StrCat("SELECT ", kLedgerColumns, " FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?"));
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact);
  return db::ReadRow<LedgerRow>(st, RowFrom);
}

absl::Status WriteLedger(Connection& conn, const Owner& owner, const LedgerRow& row) {
  // The ledger has no unique index besides its key, so this upsert replaces
  // exactly the row INSERT OR REPLACE used to.
  auto st = conn.Prepare(
      "INSERT INTO ledger (org_id, user_id, contact_id, given_milli, received_milli, balance_milli, "
      "anchored, count, last_us, cadence_days, next_due_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET given_milli = excluded.given_milli, "
      "received_milli = excluded.received_milli, balance_milli = excluded.balance_milli, "
      "anchored = excluded.anchored, count = excluded.count, last_us = excluded.last_us, "
      "cadence_days = excluded.cadence_days, next_due_us = excluded.next_due_us");
  st.Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, row.contact_id)
      .Bind(4, row.given_milli)
      .Bind(5, row.received_milli)
      .Bind(6, row.balance_milli())
      .Bind(7, row.anchored)
      .Bind(8, row.count)
      .Bind(9, row.last_us)
      .Bind(10, static_cast<int64_t>(row.cadence_days))
      .Bind(11, row.next_due_us());
  RETURN_IF_ERROR(st.RunLater());
  events::v1::Event e = NewEvent("ledger.changed", owner);
  *e.mutable_ledger() = ToEntry(row, absl::Now());
  RETURN_IF_ERROR(events::CheckEventSize(e));
  return events::AppendEvent(conn, std::move(e));
}

absl::StatusOr<bool> IsDeletedContact(Connection& conn, const Owner& owner, const std::string& contact) {
  auto st = conn.Prepare("SELECT 1 FROM deleted_contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact);
  return db::Exists(st);
}

// Whether the contact was deleted, and its ledger row (none yet: nullopt),
// in one statement: a create waits for one answer per contact, not two.
struct LedgerLookup {
  bool deleted = false;
  std::optional<LedgerRow> row;
};

absl::StatusOr<LedgerLookup> ReadLedgerUnlessDeleted(Connection& conn, const Owner& owner, const std::string& contact) {
  auto st = conn.Prepare(absl::StrCat("SELECT 1, ", kLedgerColumns,
                                      " FROM ledger WHERE org_id = ?1 AND user_id = ?2 AND contact_id = ?3 ",
                                      "UNION ALL SELECT 2, contact_id, 0, 0, 0.0, 0, 0, 0 FROM deleted_contacts ",
                                      "WHERE org_id = ?1 AND user_id = ?2 AND contact_id = ?3"));
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact);
  LedgerLookup found;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return found;
    if (st.ColumnInt(0) == 2) {
      found.deleted = true;
      continue;
    }
    LedgerRow ledger;
    ledger.contact_id = st.ColumnText(1);
    ledger.given_milli = st.ColumnInt(2);
    ledger.received_milli = st.ColumnInt(3);
    ledger.anchored = st.ColumnDouble(4);
    ledger.count = st.ColumnInt(5);
    ledger.last_us = st.ColumnInt(6);
    ledger.cadence_days = static_cast<int32_t>(st.ColumnInt(7));
    found.row = std::move(ledger);
  }
}

absl::StatusOr<int64_t> LatestInteractionUs(Connection& conn, const Owner& owner, const std::string& contact) {
  auto st = conn.Prepare(
      "SELECT MAX(occurred_us) FROM interaction_contacts WHERE org_id = ? AND user_id = ? AND contact_id = ? "
      "AND counted = 1");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact);
  // MAX over no rows is one NULL row: 0, no interaction left.
  ASSIGN_OR_RETURN(std::optional<int64_t> latest, db::ReadRow<int64_t>(st, [](const db::Statement& row) {
                     return row.ColumnIsNull(0) ? int64_t{0} : row.ColumnInt(0);
                   }));
  return latest.value_or(0);
}

// Inserts the interaction and adds its contribution to each contact's ledger.
absl::Status InsertInteraction(Connection& conn, const Owner& owner, const pb::Interaction& interaction,
                               const Cadences& cadences) {
  int64_t occurred = TimestampToMicros(interaction.occurred_at());
  auto st = conn.Prepare(
      "INSERT INTO interactions (org_id, user_id, interaction_id, occurred_us, kind, data) VALUES (?, ?, ?, ?, ?, ?)");
  st.Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, interaction.id())
      .Bind(4, occurred)
      .Bind(5, static_cast<int>(interaction.kind()))
      .BindBlob(6, interaction.SerializeAsString());
  // Pipelined (RunLater): a failure fails the write at its next statement.
  RETURN_IF_ERROR(st.RunLater());
  for (const std::string& contact : interaction.contact_ids()) {
    ASSIGN_OR_RETURN(LedgerLookup found, ReadLedgerUnlessDeleted(conn, owner, contact));
    if (found.deleted) {
      return absl::InvalidArgumentError(
          absl::StrCat("interaction.contactIds: contact ", contact, " was deleted; remove it from the interaction"));
    }
    auto link = conn.Prepare(
        "INSERT INTO interaction_contacts (org_id, user_id, contact_id, interaction_id, occurred_us, counted) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    link.Bind(1, owner.org)
        .Bind(2, owner.user)
        .Bind(3, contact)
        .Bind(4, interaction.id())
        .Bind(5, occurred)
        .Bind(6, Counts(interaction) ? 1 : 0);
    RETURN_IF_ERROR(link.RunLater());
    const std::optional<LedgerRow>& existing = found.row;
    // A planned interaction changes no ledger row; it only makes sure the
    // contact has one, with its cadence, for the day it happens.
    if (!Counts(interaction) && existing.has_value()) continue;
    LedgerRow row;
    if (existing.has_value()) {
      row = *existing;
    } else {
      row.contact_id = contact;
      auto cadence = cadences.find(contact);
      row.cadence_days = cadence != cadences.end() ? cadence->second : kDefaultCadenceDays;
    }
    ApplyContribution(interaction, +1, &row);
    RETURN_IF_ERROR(WriteLedger(conn, owner, row));
  }
  if (interaction.state() == pb::PLANNED) {
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO planned_interactions (org_id, user_id, interaction_id, due_us, "
                                 "lease_owner, lease_until_us) VALUES (?, ?, ?, ?, '', 0)")
                        .Bind(1, owner.org)
                        .Bind(2, owner.user)
                        .Bind(3, interaction.id())
                        .Bind(4, occurred)
                        .RunLater());
  }
  return absl::OkStatus();
}

// Removes the interaction and its contribution; last interaction times move
// back to what remains.
absl::Status RemoveInteraction(Connection& conn, const Owner& owner, const pb::Interaction& interaction) {
  auto del = conn.Prepare("DELETE FROM interactions WHERE org_id = ? AND user_id = ? AND interaction_id = ?");
  del.Bind(1, owner.org).Bind(2, owner.user).Bind(3, interaction.id());
  RETURN_IF_ERROR(del.Run());
  RETURN_IF_ERROR(
      conn.Prepare("DELETE FROM planned_interactions WHERE org_id = ? AND user_id = ? AND interaction_id = ?")
          .Bind(1, owner.org)
          .Bind(2, owner.user)
          .Bind(3, interaction.id())
          .Run());
  for (const std::string& contact : interaction.contact_ids()) {
    auto unlink = conn.Prepare(
        "DELETE FROM interaction_contacts WHERE org_id = ? AND user_id = ? AND contact_id = ? AND interaction_id = ?");
    unlink.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact).Bind(4, interaction.id());
    RETURN_IF_ERROR(unlink.Run());
    if (!Counts(interaction)) continue;  // it added nothing
    ASSIGN_OR_RETURN(std::optional<LedgerRow> existing, ReadLedger(conn, owner, contact));
    if (!existing.has_value()) continue;  // the contact was deleted meanwhile
    LedgerRow row = *existing;
    ApplyContribution(interaction, -1, &row);
    ASSIGN_OR_RETURN(row.last_us, LatestInteractionUs(conn, owner, contact));
    RETURN_IF_ERROR(WriteLedger(conn, owner, row));
  }
  return absl::OkStatus();
}

// changed: on interaction.updated, the fields the update changed (Event.changed).
absl::Status EmitInteraction(Connection& conn, const char* type, const Owner& owner, const pb::Interaction& i,
                             const google::protobuf::FieldMask* changed = nullptr) {
  events::v1::Event e = NewEvent(type, owner);
  *e.mutable_interaction() = i;
  e.mutable_interaction()->clear_notes();  // notes stay in this service
  if (changed != nullptr) *e.mutable_changed() = *changed;
  RETURN_IF_ERROR(events::CheckEventSize(e));
  return events::AppendEvent(conn, std::move(e));
}

// Writes the introduction and emits introduction.<state>, or
// introduction.responded when a response left the state as it was (one
// party of two accepted).
absl::Status WriteIntroduction(Connection& conn, const Owner& owner, const pb::Introduction& intro,
                               bool state_changed) {
  // introductions has no unique index besides its key (as for the ledger).
  auto st = conn.Prepare(
      "INSERT INTO introductions (org_id, user_id, introduction_id, state, data) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (org_id, user_id, introduction_id) DO UPDATE SET state = excluded.state, data = excluded.data");
  st.Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, intro.id())
      .Bind(4, static_cast<int>(intro.state()))
      .BindBlob(5, intro.SerializeAsString());
  RETURN_IF_ERROR(st.Run());
  std::string state = state_changed ? pb::IntroductionState_Name(intro.state()) : "responded";
  for (char& c : state) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  events::v1::Event e = NewEvent(absl::StrCat("introduction.", state), owner);
  *e.mutable_introduction() = intro;
  RETURN_IF_ERROR(events::CheckEventSize(e));
  return events::AppendEvent(conn, std::move(e));
}

}  // namespace

absl::StatusOr<std::unique_ptr<InteractionsStore>> InteractionsStore::Open(const std::string& path) {
  db::Options options;
  options.path = path;
  return Open(std::move(options));
}

absl::StatusOr<std::unique_ptr<InteractionsStore>> InteractionsStore::Open(db::Options options) {
  options.migrations = Migrations();
  ASSIGN_OR_RETURN(auto db, db::Open(options));
  return std::unique_ptr<InteractionsStore>(new InteractionsStore(std::move(db)));
}

void InteractionsStore::CreateInteraction(const Owner& owner, const pb::Interaction& interaction,
                                          const Cadences& cadences, const IdempotencyScope& idempotency,
                                          const google::protobuf::Message& request, Done<pb::Interaction> done) {
  std::shared_ptr<google::protobuf::Message> req = CopyMessage(request);
  WriteWithResult<pb::Interaction>(
      *db_,
      [owner, interaction, cadences, idempotency, req](Connection& conn) -> absl::StatusOr<pb::Interaction> {
        return IdempotentCreate<pb::Interaction>(conn, idempotency, *req, [&]() -> absl::StatusOr<pb::Interaction> {
          RETURN_IF_ERROR(InsertInteraction(conn, owner, interaction, cadences));
          RETURN_IF_ERROR(EmitInteraction(conn, Counts(interaction) ? "interaction.created" : "interaction.planned",
                                          owner, interaction));
          return interaction;
        });
      },
      std::move(done));
}

absl::StatusOr<pb::Interaction> InteractionsStore::GetInteraction(const Owner& owner, const std::string& id) {
  pb::Interaction out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadInteraction(conn, owner, id));
    return absl::OkStatus();
  }));
  return out;
}

void InteractionsStore::UpdateInteraction(const Owner& owner, const std::string& id, Mutation<pb::Interaction> mutate,
                                          const Cadences& cadences, Done<pb::Interaction> done) {
  WriteWithResult<pb::Interaction>(
      *db_,
      [owner, id, mutate = std::move(mutate), cadences](Connection& conn) -> absl::StatusOr<pb::Interaction> {
        ASSIGN_OR_RETURN(pb::Interaction old, ReadInteraction(conn, owner, id));
        pb::Interaction updated = old;
        RETURN_IF_ERROR(mutate(updated));
        // Take the old contribution out and put the new one in: kind,
        // direction, time and contacts may all have changed.
        RETURN_IF_ERROR(RemoveInteraction(conn, owner, old));
        RETURN_IF_ERROR(InsertInteraction(conn, owner, updated, cadences));
        // Notes stay in this service, and so does the fact that they changed.
        const google::protobuf::FieldMask changed = ChangedFields(old, updated, {"notes"});
        // Consumers see only what happened: moved to the future it is planned
        // (again), out of the future it happens now.
        const char* type = !Counts(updated) ? "interaction.planned"
                           : !Counts(old)   ? "interaction.created"
                                            : "interaction.updated";
        RETURN_IF_ERROR(EmitInteraction(conn, type, owner, updated, &changed));
        return updated;
      },
      std::move(done));
}

void InteractionsStore::DeleteInteraction(const Owner& owner, const std::string& id, DoneStatus done) {
  db_->WriteAsync(
      [owner, id](Connection& conn) -> absl::Status {
        ASSIGN_OR_RETURN(pb::Interaction old, ReadInteraction(conn, owner, id));
        RETURN_IF_ERROR(RemoveInteraction(conn, owner, old));
        return EmitInteraction(conn, "interaction.deleted", owner, old);
      },
      std::move(done));
}

void InteractionsStore::CancelInteraction(const Owner& owner, const std::string& id, int64_t now_us,
                                          Done<pb::Interaction> done) {
  WriteWithResult<pb::Interaction>(
      *db_,
      [owner, id, now_us](Connection& conn) -> absl::StatusOr<pb::Interaction> {
        ASSIGN_OR_RETURN(pb::Interaction i, ReadInteraction(conn, owner, id));
        auto refuse = [&]() {
          return absl::FailedPreconditionError(
              absl::StrCat("interaction ", id, " is ",
                           i.state() == pb::CANCELLED ? "already cancelled" : "not planned (it happened)",
                           ": only a planned interaction can be cancelled; delete it instead"));
        };
        if (i.state() != pb::PLANNED) return refuse();
        RETURN_IF_ERROR(
            conn.Prepare("DELETE FROM planned_interactions WHERE org_id = ? AND user_id = ? AND interaction_id = ?")
                .Bind(1, owner.org)
                .Bind(2, owner.user)
                .Bind(3, id)
                .Run());
        if (conn.Changes() != 1) return refuse();  // the sweep made it happen first
        i.set_state(pb::CANCELLED);
        *i.mutable_update_time() = ToTimestamp(now_us);
        RETURN_IF_ERROR(
            conn.Prepare("UPDATE interactions SET data = ? WHERE org_id = ? AND user_id = ? AND interaction_id = ?")
                .BindBlob(1, i.SerializeAsString())
                .Bind(2, owner.org)
                .Bind(3, owner.user)
                .Bind(4, id)
                .Run());
        RETURN_IF_ERROR(EmitInteraction(conn, "interaction.cancelled", owner, i));
        return i;
      },
      std::move(done));
}

absl::StatusOr<std::vector<PlannedRef>> InteractionsStore::ClaimDuePlanned(const std::string& runner, int64_t now_us,
                                                                           int64_t lease_until_us, int limit) {
  // As the notifications scheduler claims timers: on PostgreSQL, replicas
  // claiming at once skip each other's locked rows, at READ COMMITTED.
  // Exactly-once does not rest on the claim: HappenPlanned deletes the row
  // it applies, and only one transaction can.
  const bool postgres = db_->dialect() == db::Dialect::kPostgres;
  const std::string claim = absl::StrCat(
      "UPDATE planned_interactions SET lease_owner = ?, lease_until_us = ? WHERE (org_id, user_id, interaction_id) IN ("
      "SELECT org_id, user_id, interaction_id FROM planned_interactions WHERE due_us <= ? AND lease_until_us <= ? "
      "ORDER BY due_us LIMIT ?",
      postgres ? " FOR UPDATE SKIP LOCKED" : "", ") RETURNING org_id, user_id, interaction_id");
  std::vector<PlannedRef> out;
  RETURN_IF_ERROR(db_->Write([&](Connection& conn) -> absl::Status {
    if (postgres) RETURN_IF_ERROR(conn.Exec("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"));
    ASSIGN_OR_RETURN(
        out,
        db::ListRows<PlannedRef>(
            conn.Prepare(claim).Bind(1, runner).Bind(2, lease_until_us).Bind(3, now_us).Bind(4, now_us).Bind(5, limit),
            [](const db::Statement& row) {
              return PlannedRef{Owner{row.ColumnText(0), row.ColumnText(1)}, row.ColumnText(2)};
            }));
    return absl::OkStatus();
  }));
  return out;
}

void InteractionsStore::HappenPlanned(const PlannedRef& ref, int64_t now_us, DoneStatus done) {
  db_->WriteAsync(
      [ref, now_us](Connection& conn) -> absl::Status {
        const Owner& owner = ref.owner;
        RETURN_IF_ERROR(conn.Prepare("DELETE FROM planned_interactions WHERE org_id = ? AND user_id = ? AND "
                                     "interaction_id = ? AND due_us <= ?")
                            .Bind(1, owner.org)
                            .Bind(2, owner.user)
                            .Bind(3, ref.interaction_id)
                            .Bind(4, now_us)
                            .Run());
        // Another runner applied it, or it was cancelled, deleted or moved.
        if (conn.Changes() != 1) return absl::OkStatus();
        ASSIGN_OR_RETURN(pb::Interaction i, ReadInteraction(conn, owner, ref.interaction_id));
        if (i.state() != pb::PLANNED) return absl::OkStatus();
        i.set_state(pb::HAPPENED);
        RETURN_IF_ERROR(
            conn.Prepare("UPDATE interactions SET data = ? WHERE org_id = ? AND user_id = ? AND interaction_id = ?")
                .BindBlob(1, i.SerializeAsString())
                .Bind(2, owner.org)
                .Bind(3, owner.user)
                .Bind(4, i.id())
                .Run());
        for (const std::string& contact : i.contact_ids()) {
          RETURN_IF_ERROR(conn.Prepare("UPDATE interaction_contacts SET counted = 1 WHERE org_id = ? AND user_id = ? "
                                       "AND contact_id = ? AND interaction_id = ?")
                              .Bind(1, owner.org)
                              .Bind(2, owner.user)
                              .Bind(3, contact)
                              .Bind(4, i.id())
                              .Run());
          // No link: the contact was deleted (or merged away) meanwhile.
          if (conn.Changes() != 1) continue;
          ASSIGN_OR_RETURN(std::optional<LedgerRow> existing, ReadLedger(conn, owner, contact));
          LedgerRow row;
          if (existing.has_value()) {
            row = *existing;
          } else {
            row.contact_id = contact;
            row.cadence_days = kDefaultCadenceDays;
          }
          ApplyContribution(i, +1, &row);
          RETURN_IF_ERROR(WriteLedger(conn, owner, row));
        }
        return EmitInteraction(conn, "interaction.created", owner, i);
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Interaction>> InteractionsStore::CountedInteractions(const Owner& owner,
                                                                                    const std::string& contact_id) {
  std::vector<pb::Interaction> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT i.data FROM interaction_contacts c JOIN interactions i ON i.org_id = c.org_id "
        "AND i.user_id = c.user_id AND i.interaction_id = c.interaction_id "
        "WHERE c.org_id = ? AND c.user_id = ? AND c.contact_id = ? AND c.counted = 1");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact_id);
    ASSIGN_OR_RETURN(out, ListBlobs<pb::Interaction>(st));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<pb::Interaction>> InteractionsStore::ListInteractions(const Owner& owner,
                                                                                 const InteractionFilter& filter,
                                                                                 const std::optional<Cursor>& after,
                                                                                 int limit) {
  static constexpr char kSql[] =
      "SELECT i.data FROM interactions i WHERE i.org_id = ?1 AND i.user_id = ?2 "
      "AND (?3 = '' OR EXISTS (SELECT 1 FROM interaction_contacts c WHERE c.org_id = ?1 AND c.user_id = ?2 "
      "     AND c.contact_id = ?3 AND c.interaction_id = i.interaction_id)) "
      "AND (?4 = 0 OR i.kind = ?4) "
      "AND (?5 = 0 OR i.occurred_us >= ?5) AND (?6 = 0 OR i.occurred_us < ?6) "
      "AND (?7 = 0 OR i.occurred_us < ?8 OR (i.occurred_us = ?8 AND i.interaction_id < ?9)) "
      "ORDER BY i.occurred_us DESC, i.interaction_id DESC LIMIT ?10";
  std::vector<pb::Interaction> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(kSql);
    st.Bind(1, owner.org)
        .Bind(2, owner.user)
        .Bind(3, filter.contact_id)
        .Bind(4, static_cast<int>(filter.kind))
        .Bind(5, filter.after_us)
        .Bind(6, filter.before_us)
        .Bind(7, after.has_value() ? 1 : 0)
        .Bind(8, after.has_value() ? static_cast<int64_t>(after->value) : int64_t{0})
        .Bind(9, after.has_value() ? after->id : std::string())
        .Bind(10, limit);
    ASSIGN_OR_RETURN(out, ListBlobs<pb::Interaction>(st));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<LedgerRow> InteractionsStore::GetLedgerRow(const Owner& owner, const std::string& contact_id) {
  std::optional<LedgerRow> row;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(row, ReadLedger(conn, owner, contact_id));
    return absl::OkStatus();
  }));
  if (!row.has_value()) return RowNotFound("ledger entry");
  return *row;
}

absl::StatusOr<std::vector<LedgerRow>> InteractionsStore::ListLedger(const Owner& owner, LedgerOrder order,
                                                                     const std::optional<Cursor>& after, int limit) {
  const char* column = "balance_milli";
  bool descending = false;
  switch (order) {
    case LedgerOrder::kBalance:
      column = "balance_milli";
      break;
    case LedgerOrder::kStrength:
      column = "anchored";
      descending = true;
      break;
    case LedgerOrder::kNextDue:
      column = "next_due_us";
      break;
    case LedgerOrder::kLastInteraction:
      column = "last_us";
      descending = true;
      break;
  }
  const char* cmp = descending ? "<" : ">";
  const char* dir = descending ? "DESC" : "ASC";
  std::string sql = absl::StrCat("SELECT ", kLedgerColumns, " FROM ledger WHERE org_id = ?1 AND user_id = ?2 ");
  if (after.has_value()) {
    absl::StrAppend(&sql, "AND (", column, " ", cmp, " ?3 OR (", column, " = ?3 AND contact_id ", cmp, " ?4)) ");
  }
  absl::StrAppend(&sql, "ORDER BY ", column, " ", dir, ", contact_id ", dir, " LIMIT ?5");
  std::vector<LedgerRow> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(sql);
    st.Bind(1, owner.org).Bind(2, owner.user);
    if (after.has_value()) {
      if (order == LedgerOrder::kStrength) {
        st.Bind(3, after->value);
      } else {
        st.Bind(3, static_cast<int64_t>(after->value));
      }
      st.Bind(4, after->id);
    }
    st.Bind(5, limit);
    ASSIGN_OR_RETURN(out, db::ListRows<LedgerRow>(st, RowFrom));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<LedgerRow> InteractionsStore::RecomputeLedgerRow(const Owner& owner, const std::string& contact_id) {
  LedgerRow row;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<LedgerRow> stored, ReadLedger(conn, owner, contact_id));
    if (!stored.has_value()) return RowNotFound("ledger entry");
    row.contact_id = contact_id;
    row.cadence_days = stored->cadence_days;
    auto st = conn.Prepare(
        "SELECT i.data FROM interaction_contacts c JOIN interactions i ON i.org_id = c.org_id "
        "AND i.user_id = c.user_id AND i.interaction_id = c.interaction_id "
        "WHERE c.org_id = ? AND c.user_id = ? AND c.contact_id = ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact_id);
    return db::ForEachRow(st, [&](const db::Statement& linked) -> absl::Status {
      pb::Interaction i;
      RETURN_IF_ERROR(ParseRow(linked.ColumnBlob(0), &i));
      ApplyContribution(i, +1, &row);
      return absl::OkStatus();
    });
  }));
  return row;
}

absl::StatusOr<Cadences> InteractionsStore::KnownContacts(const Owner& owner, const std::vector<std::string>& ids) {
  Cadences known;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    for (const std::string& id : ids) {
      auto st = conn.Prepare("SELECT cadence_days FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?");
      st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
      ASSIGN_OR_RETURN(std::optional<int32_t> cadence, db::ReadRow<int32_t>(st, [](const db::Statement& row) {
                         return static_cast<int32_t>(row.ColumnInt(0));
                       }));
      if (cadence.has_value()) known[id] = *cadence;
    }
    return absl::OkStatus();
  }));
  return known;
}

void InteractionsStore::CreateIntroduction(const Owner& owner, const pb::Introduction& introduction,
                                           const IdempotencyScope& idempotency,
                                           const google::protobuf::Message& request, Done<pb::Introduction> done) {
  std::shared_ptr<google::protobuf::Message> req = CopyMessage(request);
  WriteWithResult<pb::Introduction>(
      *db_,
      [owner, introduction, idempotency, req](Connection& conn) -> absl::StatusOr<pb::Introduction> {
        return IdempotentCreate<pb::Introduction>(conn, idempotency, *req, [&]() -> absl::StatusOr<pb::Introduction> {
          RETURN_IF_ERROR(WriteIntroduction(conn, owner, introduction, /*state_changed=*/true));
          return introduction;
        });
      },
      std::move(done));
}

absl::StatusOr<pb::Introduction> InteractionsStore::GetIntroduction(const Owner& owner, const std::string& id) {
  pb::Introduction out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadIntroduction(conn, owner, id));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Owner> InteractionsStore::IntroductionOwner(const std::string& org, const std::string& id) {
  std::optional<std::string> user;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(user,
                     db::ReadRow<std::string>(
                         conn.Prepare("SELECT user_id FROM introductions WHERE org_id = ? AND introduction_id = ?")
                             .Bind(1, org)
                             .Bind(2, id),
                         [](const db::Statement& row) { return row.ColumnText(0); }));
    return absl::OkStatus();
  }));
  if (!user.has_value()) return absl::NotFoundError("introduction not found");
  return Owner{org, *user};
}

void InteractionsStore::TransitionIntroduction(const Owner& owner, const std::string& id,
                                               Mutation<pb::Introduction> mutate,
                                               std::optional<pb::Interaction> made_interaction,
                                               const Cadences& cadences, Done<pb::Introduction> done) {
  WriteWithResult<pb::Introduction>(
      *db_,
      [owner, id, mutate = std::move(mutate), made_interaction,
       cadences](Connection& conn) -> absl::StatusOr<pb::Introduction> {
        ASSIGN_OR_RETURN(pb::Introduction intro, ReadIntroduction(conn, owner, id));
        pb::IntroductionState before = intro.state();
        RETURN_IF_ERROR(mutate(intro));
        if (intro.state() == pb::MADE && made_interaction.has_value()) {
          pb::Interaction given = *made_interaction;
          given.set_introduction_id(intro.id());
          RETURN_IF_ERROR(InsertInteraction(conn, owner, given, cadences));
          RETURN_IF_ERROR(EmitInteraction(conn, "interaction.created", owner, given));
          intro.set_interaction_id(given.id());
        }
        RETURN_IF_ERROR(WriteIntroduction(conn, owner, intro, intro.state() != before));
        return intro;
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Introduction>> InteractionsStore::ListIntroductions(const Owner& owner,
                                                                                   pb::IntroductionState state,
                                                                                   const std::string& after_id,
                                                                                   int limit) {
  std::vector<pb::Introduction> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT data FROM introductions WHERE org_id = ?1 AND user_id = ?2 AND (?3 = 0 OR state = ?3) "
        "AND introduction_id > ?4 ORDER BY introduction_id LIMIT ?5");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, static_cast<int>(state)).Bind(4, after_id).Bind(5, limit);
    ASSIGN_OR_RETURN(out, ListBlobs<pb::Introduction>(st));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status InteractionsStore::ApplyContactEvent(Connection& conn, const events::v1::Event& event) {
  if (event.type() == "contact.merged") return ApplyContactMerged(conn, event);
  if (!event.has_contact()) return absl::OkStatus();
  Owner owner{event.org_id(), event.user_id()};
  const auto& contact = event.contact().contact();
  if (event.type() == "contact.deleted") {
    // Interactions with this contact alone go with it (interaction.deleted
    // for each, so every consumer forgets them too); one with other contacts
    // stays for them.
    auto alone = conn.Prepare(
        "SELECT l.interaction_id FROM interaction_contacts l WHERE l.org_id = ?1 AND l.user_id = ?2 "
        "AND l.contact_id = ?3 AND NOT EXISTS (SELECT 1 FROM interaction_contacts o WHERE o.org_id = ?1 "
        "AND o.user_id = ?2 AND o.interaction_id = l.interaction_id AND o.contact_id <> ?3)");
    alone.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact.id());
    std::vector<std::string> orphans;
    while (true) {
      ASSIGN_OR_RETURN(bool row, alone.Step());
      if (!row) break;
      orphans.push_back(alone.ColumnText(0));
    }
    // The ledger row goes, with the links it was computed from, so that the
    // ledger and its recount agree.
    for (const char* sql : {"DELETE FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?",
                            "DELETE FROM interaction_contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?"}) {
      auto st = conn.Prepare(sql);
      st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact.id());
      RETURN_IF_ERROR(st.Run());
    }
    // The first deletion's time stays.
    auto tomb = conn.Prepare(
        "INSERT INTO deleted_contacts (org_id, user_id, contact_id, deleted_us) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING");
    tomb.Bind(1, owner.org).Bind(2, owner.user).Bind(3, contact.id()).Bind(4, TimestampToMicros(event.time()));
    RETURN_IF_ERROR(tomb.Run());
    for (const std::string& id : orphans) {
      absl::StatusOr<pb::Interaction> old = ReadInteraction(conn, owner, id);
      if (absl::IsNotFound(old.status())) continue;
      if (!old.ok()) return old.status();
      RETURN_IF_ERROR(RemoveInteraction(conn, owner, *old));
      RETURN_IF_ERROR(EmitInteraction(conn, "interaction.deleted", owner, *old));
    }
    return absl::OkStatus();
  }
  if (event.type() != "contact.created" && event.type() != "contact.updated") return absl::OkStatus();
  // Only the cadence concerns the ledger: an update that names its changed
  // fields without it costs no read.
  if (event.type() == "contact.updated" &&
      !MayHaveChanged(event.changed(), {"cadence_days", "effective_cadence_days", "tier"})) {
    return absl::OkStatus();
  }
  // A late created/updated event must not bring a deleted contact back.
  ASSIGN_OR_RETURN(bool deleted, IsDeletedContact(conn, owner, contact.id()));
  if (deleted) return absl::OkStatus();
  int32_t cadence = contact.effective_cadence_days() > 0 ? contact.effective_cadence_days() : kDefaultCadenceDays;
  ASSIGN_OR_RETURN(std::optional<LedgerRow> existing, ReadLedger(conn, owner, contact.id()));
  LedgerRow row;
  if (existing.has_value()) {
    if (existing->cadence_days == cadence) return absl::OkStatus();
    row = *existing;
  } else {
    row.contact_id = contact.id();
  }
  row.cadence_days = cadence;
  return WriteLedger(conn, owner, row);
}

// --- internal export ---

absl::StatusOr<std::vector<events::ExportedEvent>> InteractionsStore::ExportInteractions(
    const std::vector<std::string>& after, int limit) {
  return events::ExportRows(
      *db_, "interactions",
      "SELECT org_id, user_id, interaction_id, data FROM interactions "
      "WHERE (org_id, user_id, interaction_id) > (?, ?, ?) ORDER BY org_id, user_id, interaction_id LIMIT ?",
      after, 3, limit, [](const db::Statement& st, events::v1::Event* e) -> absl::Status {
        RETURN_IF_ERROR(ParseRow(st.ColumnBlob(3), e->mutable_interaction()));
        e->mutable_interaction()->clear_notes();  // notes stay in this service
        const pb::InteractionState state = e->interaction().state();
        e->set_type(state == pb::PLANNED     ? "interaction.planned"
                    : state == pb::CANCELLED ? "interaction.cancelled"
                                             : "interaction.created");
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<events::ExportedEvent>> InteractionsStore::ExportIntroductions(
    const std::vector<std::string>& after, int limit) {
  return events::ExportRows(
      *db_, "interactions",
      "SELECT org_id, user_id, introduction_id, data FROM introductions "
      "WHERE (org_id, user_id, introduction_id) > (?, ?, ?) ORDER BY org_id, user_id, introduction_id LIMIT ?",
      after, 3, limit, [](const db::Statement& st, events::v1::Event* e) -> absl::Status {
        RETURN_IF_ERROR(ParseRow(st.ColumnBlob(3), e->mutable_introduction()));
        std::string state = pb::IntroductionState_Name(e->introduction().state());
        for (char& c : state) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        e->set_type(absl::StrCat("introduction.", state));
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<events::ExportedEvent>> InteractionsStore::ExportLedger(
    const std::vector<std::string>& after, int limit) {
  absl::Time now = absl::Now();
  return events::ExportRows(
      *db_, "interactions",
      "SELECT org_id, user_id, contact_id, given_milli, received_milli, anchored, count, last_us, cadence_days "
      "FROM ledger WHERE (org_id, user_id, contact_id) > (?, ?, ?) ORDER BY org_id, user_id, contact_id LIMIT ?",
      after, 3, limit, [now](const db::Statement& st, events::v1::Event* e) -> absl::Status {
        LedgerRow row;
        row.contact_id = st.ColumnText(2);
        row.given_milli = st.ColumnInt(3);
        row.received_milli = st.ColumnInt(4);
        row.anchored = st.ColumnDouble(5);
        row.count = st.ColumnInt(6);
        row.last_us = st.ColumnInt(7);
        row.cadence_days = static_cast<int32_t>(st.ColumnInt(8));
        *e->mutable_ledger() = ToEntry(row, now);
        e->set_type("ledger.changed");
        *e->mutable_time() = ToTimestamp(ToMicros(now));
        return absl::OkStatus();
      });
}

// --- contact merges ---

absl::Status InteractionsStore::ApplyContactMerged(Connection& conn, const events::v1::Event& event) {
  if (!event.has_contact_merged()) return absl::OkStatus();
  const Owner owner{event.org_id(), event.user_id()};
  const ::rapport::profiles::v1::Contact& survivor_contact = event.contact_merged().survivor();
  const std::string& survivor = survivor_contact.id();
  if (survivor.empty()) return absl::OkStatus();
  std::set<std::string> merged;
  for (const std::string& id : event.contact_merged().merged_ids()) {
    if (id != survivor) merged.insert(id);
  }
  for (const std::string& gone : merged) {
    // Interactions naming the merged contact name the survivor (once).
    auto list = conn.Prepare(
        "SELECT interaction_id FROM interaction_contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?");
    list.Bind(1, owner.org).Bind(2, owner.user).Bind(3, gone);
    ASSIGN_OR_RETURN(std::vector<std::string> interaction_ids,
                     db::ListRows<std::string>(list, [](const db::Statement& row) { return row.ColumnText(0); }));
    for (const std::string& interaction_id : interaction_ids) {
      ASSIGN_OR_RETURN(pb::Interaction interaction, ReadInteraction(conn, owner, interaction_id));
      const pb::Interaction before = interaction;
      google::protobuf::RepeatedPtrField<std::string> ids;
      std::set<std::string> seen;
      for (const std::string& id : before.contact_ids()) {
        const std::string& now = merged.contains(id) ? survivor : id;
        if (seen.insert(now).second) *ids.Add() = now;
      }
      *interaction.mutable_contact_ids() = std::move(ids);
      RETURN_IF_ERROR(conn.Prepare("UPDATE interactions SET data = ? WHERE org_id = ? AND user_id = ? AND "
                                   "interaction_id = ?")
                          .BindBlob(1, interaction.SerializeAsString())
                          .Bind(2, owner.org)
                          .Bind(3, owner.user)
                          .Bind(4, interaction_id)
                          .Run());
      RETURN_IF_ERROR(conn.Prepare("INSERT INTO interaction_contacts (org_id, user_id, contact_id, interaction_id, "
                                   "occurred_us, counted) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
                          .Bind(1, owner.org)
                          .Bind(2, owner.user)
                          .Bind(3, survivor)
                          .Bind(4, interaction_id)
                          .Bind(5, TimestampToMicros(interaction.occurred_at()))
                          .Bind(6, Counts(interaction) ? 1 : 0)
                          .Run());
      const google::protobuf::FieldMask changed = ChangedFields(before, interaction, {"notes"});
      RETURN_IF_ERROR(EmitInteraction(conn, "interaction.updated", owner, interaction, &changed));
    }
    for (const char* sql : {"DELETE FROM ledger WHERE org_id = ? AND user_id = ? AND contact_id = ?",
                            "DELETE FROM interaction_contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?"}) {
      RETURN_IF_ERROR(conn.Prepare(sql).Bind(1, owner.org).Bind(2, owner.user).Bind(3, gone).Run());
    }
    // Never again part of an interaction: a late request naming the merged
    // id is refused like one naming a deleted contact.
    RETURN_IF_ERROR(conn.Prepare("INSERT INTO deleted_contacts (org_id, user_id, contact_id, deleted_us) VALUES "
                                 "(?, ?, ?, ?) ON CONFLICT DO NOTHING")
                        .Bind(1, owner.org)
                        .Bind(2, owner.user)
                        .Bind(3, gone)
                        .Bind(4, TimestampToMicros(event.time()))
                        .Run());
  }
  // Introductions: a user has few, so they are read whole rather than indexed
  // by contact. The row moves without an introduction.<state> event: its
  // state did not change, and a repeated event would notify again; it moves
  // with introduction.updated, so that read models and sync clients
  // (GET /v1/sync) see the new contact.
  {
    auto st = conn.Prepare("SELECT data FROM introductions WHERE org_id = ? AND user_id = ?");
    st.Bind(1, owner.org).Bind(2, owner.user);
    ASSIGN_OR_RETURN(std::vector<pb::Introduction> intros, ListBlobs<pb::Introduction>(st));
    for (pb::Introduction& intro : intros) {
      bool moved = false;
      for (std::string* id : {intro.mutable_contact_a_id(), intro.mutable_contact_b_id()}) {
        if (merged.contains(*id)) {
          *id = survivor;
          moved = true;
        }
      }
      if (!moved) continue;
      RETURN_IF_ERROR(conn.Prepare("UPDATE introductions SET data = ? WHERE org_id = ? AND user_id = ? AND "
                                   "introduction_id = ?")
                          .BindBlob(1, intro.SerializeAsString())
                          .Bind(2, owner.org)
                          .Bind(3, owner.user)
                          .Bind(4, intro.id())
                          .Run());
      events::v1::Event e = NewEvent("introduction.updated", owner);
      *e.mutable_introduction() = intro;
      RETURN_IF_ERROR(events::CheckEventSize(e));
      RETURN_IF_ERROR(events::AppendEvent(conn, std::move(e)));
    }
  }
  // The survivor's row, recomputed from the interactions it now has.
  ASSIGN_OR_RETURN(std::optional<LedgerRow> existing, ReadLedger(conn, owner, survivor));
  LedgerRow row;
  row.contact_id = survivor;
  row.cadence_days = existing.has_value()                            ? existing->cadence_days
                     : survivor_contact.effective_cadence_days() > 0 ? survivor_contact.effective_cadence_days()
                                                                     : kDefaultCadenceDays;
  auto st = conn.Prepare(
      "SELECT i.data FROM interaction_contacts c JOIN interactions i ON i.org_id = c.org_id "
      "AND i.user_id = c.user_id AND i.interaction_id = c.interaction_id "
      "WHERE c.org_id = ? AND c.user_id = ? AND c.contact_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, survivor);
  RETURN_IF_ERROR(db::ForEachRow(st, [&](const db::Statement& linked) -> absl::Status {
    pb::Interaction i;
    RETURN_IF_ERROR(ParseRow(linked.ColumnBlob(0), &i));
    ApplyContribution(i, +1, &row);
    return absl::OkStatus();
  }));
  return WriteLedger(conn, owner, row);
}

}  // namespace rapport::interactions
