#include "services/profiles/import_store.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/audit.h"
#include "services/common/db_rows.h"
#include "services/common/ids.h"
#include "services/common/outbox.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_logic.h"

namespace rapport::profiles {

const char kImportsMigration[] = R"sql(
CREATE TABLE imports (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  import_id TEXT NOT NULL,
  next_row INTEGER NOT NULL,    -- checkpoint: rows before it are applied
  data BLOB NOT NULL,           -- rapport.profiles.v1.Import (state, counts, options)
  PRIMARY KEY (org_id, user_id, import_id)
) WITHOUT ROWID;
CREATE TABLE import_files (
  org_id TEXT NOT NULL,
  import_id TEXT NOT NULL,
  file BLOB NOT NULL,           -- the uploaded bytes, until the job is done
  PRIMARY KEY (org_id, import_id)
) WITHOUT ROWID;
CREATE TABLE import_queue (
  org_id TEXT NOT NULL,
  import_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  lease_owner TEXT NOT NULL,    -- the runner working on it ('' when none)
  lease_until_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, import_id)
) WITHOUT ROWID;
CREATE TABLE import_skips (
  org_id TEXT NOT NULL,
  import_id TEXT NOT NULL,
  row_no INTEGER NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (org_id, import_id, row_no)
) WITHOUT ROWID;
)sql";

namespace {

using db::Connection;

// An import and its checkpoint (the next row to apply).
using ImportAndNext = std::pair<pb::Import, int64_t>;

absl::StatusOr<ImportAndNext> ReadImport(Connection& conn, const Owner& owner, const std::string& id) {
  auto st = conn.Prepare("SELECT data, next_row FROM imports WHERE org_id = ? AND user_id = ? AND import_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  ASSIGN_OR_RETURN(std::optional<ImportAndNext> row,
                   db::ReadRow<ImportAndNext>(st, [](const db::Statement& r) -> absl::StatusOr<ImportAndNext> {
                     pb::Import import;
                     RETURN_IF_ERROR(db::ParseRow(r.ColumnBlob(0), &import));
                     return ImportAndNext(std::move(import), r.ColumnInt(1));
                   }));
  if (!row.has_value()) return db::RowNotFound("import");
  return *std::move(row);
}

// Stores the import and announces it (import.progress, in the same
// transaction): notifications keeps one inbox entry per import that follows
// these, so progress reaches the owner's live stream chunk by chunk.
absl::Status WriteImport(Connection& conn, const Owner& owner, const pb::Import& import, int64_t next_row) {
  events::v1::Event event = events::NewEvent(kImportProgressEvent, "profiles", owner.org, owner.user);
  *event.mutable_import() = import;
  event.mutable_import()->clear_skips();  // the reasons stay here (GetImport)
  RETURN_IF_ERROR(events::AppendEvent(conn, std::move(event)));
  return conn
      .Prepare(
          "INSERT INTO imports (org_id, user_id, import_id, next_row, data) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (org_id, user_id, import_id) DO UPDATE SET next_row = excluded.next_row, data = excluded.data")
      .Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, import.id())
      .Bind(4, next_row)
      .BindBlob(5, import.SerializeAsString())
      .Run();
}

absl::Status Dequeue(Connection& conn, const ImportJob& job) {
  RETURN_IF_ERROR(conn.Prepare("DELETE FROM import_files WHERE org_id = ? AND import_id = ?")
                      .Bind(1, job.owner.org)
                      .Bind(2, job.import_id)
                      .Run());
  return conn.Prepare("DELETE FROM import_queue WHERE org_id = ? AND import_id = ?")
      .Bind(1, job.owner.org)
      .Bind(2, job.import_id)
      .Run();
}

absl::Status AddSkip(Connection& conn, const ImportJob& job, int64_t row, const std::string& reason) {
  return conn
      .Prepare(
          "INSERT INTO import_skips (org_id, import_id, row_no, reason) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (org_id, import_id, row_no) DO UPDATE SET reason = excluded.reason")
      .Bind(1, job.owner.org)
      .Bind(2, job.import_id)
      .Bind(3, row)
      .Bind(4, reason)
      .Run();
}

}  // namespace

void ImportStore::Create(const Owner& owner, const pb::Import& import, std::string file, DoneStatus done,
                         std::optional<TenantContext> actor) {
  // Shared, not copied: the function object may be copied, the file is up to 20 MiB.
  auto bytes = std::make_shared<const std::string>(std::move(file));
  db_->WriteAsync(
      [owner, import, bytes, actor](Connection& conn) -> absl::Status {
        RETURN_IF_ERROR(WriteImport(conn, owner, import, 0));
        if (actor) {
          RETURN_IF_ERROR(audit::Record(conn, *actor, "profiles",
                                        {.action = "import.created",
                                         .target_id = import.id(),
                                         .detail = absl::StrCat(import.format(), ", ", bytes->size(), " bytes"),
                                         .org_id = ""}));
        }
        RETURN_IF_ERROR(conn.Prepare("INSERT INTO import_files (org_id, import_id, file) VALUES (?, ?, ?)")
                            .Bind(1, owner.org)
                            .Bind(2, import.id())
                            .BindBlob(3, *bytes)
                            .Run());
        return conn
            .Prepare(
                "INSERT INTO import_queue (org_id, import_id, user_id, lease_owner, lease_until_us) VALUES (?, ?, ?, "
                "'', 0)")
            .Bind(1, owner.org)
            .Bind(2, import.id())
            .Bind(3, owner.user)
            .Run();
      },
      std::move(done));
}

absl::StatusOr<pb::Import> ImportStore::Get(const Owner& owner, const std::string& id, bool skips) {
  pb::Import import;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(auto row, ReadImport(conn, owner, id));
    import = std::move(row.first);
    if (!skips) return absl::OkStatus();
    return db::ForEachRow(conn.Prepare("SELECT row_no, reason FROM import_skips WHERE org_id = ? AND import_id = ? "
                                       "ORDER BY row_no LIMIT ?")
                              .Bind(1, owner.org)
                              .Bind(2, id)
                              .Bind(3, kMaxReportedSkips),
                          [&](const db::Statement& r) -> absl::Status {
                            pb::ImportSkip* s = import.add_skips();
                            s->set_row(r.ColumnInt(0));
                            s->set_reason(r.ColumnText(1));
                            return absl::OkStatus();
                          });
  }));
  return import;
}

absl::StatusOr<std::vector<pb::Import>> ImportStore::List(const Owner& owner, const std::string& after_id, int limit) {
  std::vector<pb::Import> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT data FROM imports WHERE org_id = ? AND user_id = ? AND import_id > ? ORDER BY import_id LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, after_id).Bind(4, limit);
    ASSIGN_OR_RETURN(out, db::ListBlobs<pb::Import>(st));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<ImportJob>> ImportStore::Claim(const std::string& runner, int64_t now_us,
                                                          int64_t lease_until_us, int limit) {
  std::vector<ImportJob> candidates;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    // The one cross-org statement: the queue holds unfinished jobs only.
    auto st = conn.Prepare(
        "SELECT org_id, user_id, import_id, lease_owner FROM import_queue WHERE lease_until_us <= ? "
        "ORDER BY import_id LIMIT ?");
    st.Bind(1, now_us).Bind(2, limit);
    ASSIGN_OR_RETURN(candidates, db::ListRows<ImportJob>(st, [](const db::Statement& r) {
                       ImportJob job;
                       job.owner.org = r.ColumnText(0);
                       job.owner.user = r.ColumnText(1);
                       job.import_id = r.ColumnText(2);
                       return job;
                     }));
    return absl::OkStatus();
  }));
  std::vector<ImportJob> claimed;
  for (ImportJob& job : candidates) {
    bool won = false;
    RETURN_IF_ERROR(db_->Write([&](Connection& conn) -> absl::Status {
      RETURN_IF_ERROR(conn.Prepare("UPDATE import_queue SET lease_owner = ?, lease_until_us = ? WHERE org_id = ? AND "
                                   "import_id = ? AND lease_until_us <= ?")
                          .Bind(1, runner)
                          .Bind(2, lease_until_us)
                          .Bind(3, job.owner.org)
                          .Bind(4, job.import_id)
                          .Bind(5, now_us)
                          .Run());
      won = conn.Changes() == 1;
      return absl::OkStatus();
    }));
    if (won) claimed.push_back(std::move(job));
  }
  return claimed;
}

absl::Status ImportStore::Renew(const ImportJob& job, const std::string& runner, int64_t lease_until_us) {
  return db_->Write([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(conn.Prepare("UPDATE import_queue SET lease_until_us = ? WHERE org_id = ? AND import_id = ? AND "
                                 "lease_owner = ?")
                        .Bind(1, lease_until_us)
                        .Bind(2, job.owner.org)
                        .Bind(3, job.import_id)
                        .Bind(4, runner)
                        .Run());
    if (conn.Changes() != 1) return absl::FailedPreconditionError("import: another runner holds it");
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> ImportStore::File(const ImportJob& job) {
  std::optional<std::string> file;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT file FROM import_files WHERE org_id = ? AND import_id = ?");
    st.Bind(1, job.owner.org).Bind(2, job.import_id);
    ASSIGN_OR_RETURN(file, db::ReadRow<std::string>(st, [](const db::Statement& r) { return r.ColumnBlob(0); }));
    return absl::OkStatus();
  }));
  if (!file.has_value()) return db::RowNotFound("import file");
  return *std::move(file);
}

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ImportStore::DedupeIndex(const Owner& owner) {
  absl::flat_hash_map<std::string, std::string> index;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    return db::ForEachRow(conn.Prepare("SELECT data FROM contacts WHERE org_id = ? AND user_id = ?")
                              .Bind(1, owner.org)
                              .Bind(2, owner.user),
                          [&](const db::Statement& r) -> absl::Status {
                            pb::Contact c;
                            RETURN_IF_ERROR(db::ParseRow(r.ColumnBlob(0), &c));
                            for (std::string& key : DedupeKeys(c)) index.emplace(std::move(key), c.id());
                            return absl::OkStatus();
                          });
  }));
  return index;
}

absl::StatusOr<ChunkResult> ImportStore::CommitChunk(const ImportJob& job, const std::vector<ImportRow>& rows,
                                                     int64_t from, int64_t to,
                                                     const absl::flat_hash_map<std::string, std::string>& index,
                                                     int64_t max_contacts, int64_t now_us) {
  ChunkResult result;
  absl::Status status = db_->Write([&](Connection& conn) -> absl::Status {
    result = ChunkResult();
    // The checkpoint moves first: it locks the job's row (PostgreSQL), and a
    // runner that lost its lease to another finds 0 rows and stops here.
    RETURN_IF_ERROR(conn.Prepare("UPDATE imports SET next_row = ? WHERE org_id = ? AND user_id = ? AND import_id = ? "
                                 "AND next_row = ?")
                        .Bind(1, to)
                        .Bind(2, job.owner.org)
                        .Bind(3, job.owner.user)
                        .Bind(4, job.import_id)
                        .Bind(5, from)
                        .Run());
    if (conn.Changes() != 1) return absl::AbortedError("import: the checkpoint moved (another runner applied it)");
    ASSIGN_OR_RETURN(auto current, ReadImport(conn, job.owner, job.import_id));
    pb::Import& import = current.first;
    // Keys created earlier in this chunk: a file that names one person twice
    // merges the second row into the first.
    absl::flat_hash_map<std::string, std::string> local;
    auto lookup = [&](const std::string& key) -> const std::string* {
      if (auto it = local.find(key); it != local.end()) return &it->second;
      if (auto it = index.find(key); it != index.end()) return &it->second;
      return nullptr;
    };
    for (int64_t i = from; i < to; ++i) {
      const ImportRow& row = rows[static_cast<size_t>(i)];
      import.set_rows_read(import.rows_read() + 1);
      if (!row.skip.empty()) {
        RETURN_IF_ERROR(AddSkip(conn, job, row.row, row.skip));
        import.set_skipped(import.skipped() + 1);
        continue;
      }
      std::vector<std::string> keys = DedupeKeys(row.contact);
      std::optional<pb::Contact> existing;
      for (const std::string& key : keys) {
        const std::string* id = lookup(key);
        if (id == nullptr) continue;
        absl::StatusOr<pb::Contact> found = ReadContactRow(conn, job.owner, *id);
        if (found.ok()) {
          existing = *std::move(found);
          break;
        }
        if (!absl::IsNotFound(found.status())) return found.status();  // deleted since: look further
      }
      if (existing.has_value()) {
        pb::Contact merged = *existing;
        if (MergeImported(row.contact, &merged)) {
          NormalizeContact(&merged);
          absl::Status valid = ValidateContact(merged);
          if (!valid.ok()) {
            RETURN_IF_ERROR(AddSkip(conn, job, row.row,
                                    absl::StrCat("row ", row.row, ": merging into contact ", merged.id(),
                                                 " would make it invalid: ", valid.message())));
            import.set_skipped(import.skipped() + 1);
            continue;
          }
          *merged.mutable_update_time() = ToTimestamp(now_us);
          RETURN_IF_ERROR(UpdateContactRow(conn, job.owner, *existing, merged));
          result.changed_contacts.push_back(merged.id());
        }
        for (const std::string& key : DedupeKeys(merged)) local.emplace(key, merged.id());
        import.set_merged(import.merged() + 1);
        continue;
      }
      pb::Contact contact = row.contact;
      contact.set_id(NewId());
      *contact.mutable_create_time() = ToTimestamp(now_us);
      *contact.mutable_update_time() = ToTimestamp(now_us);
      absl::Status created = CreateContactRow(conn, job.owner, contact, max_contacts);
      if (absl::IsResourceExhausted(created)) {
        RETURN_IF_ERROR(AddSkip(conn, job, row.row, absl::StrCat("row ", row.row, ": ", created.message())));
        import.set_skipped(import.skipped() + 1);
        continue;
      }
      RETURN_IF_ERROR(created);
      for (const std::string& key : keys) {
        local.emplace(key, contact.id());
      }
      import.set_created(import.created() + 1);
    }
    for (const auto& [key, id] : local) result.new_keys.emplace_back(key, id);
    import.set_state(import.rows_read() >= import.rows_total() ? pb::IMPORT_SUCCEEDED : pb::IMPORT_RUNNING);
    *import.mutable_update_time() = ToTimestamp(now_us);
    if (import.state() == pb::IMPORT_SUCCEEDED) {
      *import.mutable_finish_time() = ToTimestamp(now_us);
      RETURN_IF_ERROR(Dequeue(conn, job));
    }
    RETURN_IF_ERROR(WriteImport(conn, job.owner, import, to));
    result.import = import;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::Status ImportStore::Fail(const ImportJob& job, const std::string& error, int64_t now_us) {
  return db_->Write([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(auto current, ReadImport(conn, job.owner, job.import_id));
    pb::Import& import = current.first;
    import.set_state(pb::IMPORT_FAILED);
    import.set_error(error);
    *import.mutable_update_time() = ToTimestamp(now_us);
    *import.mutable_finish_time() = ToTimestamp(now_us);
    RETURN_IF_ERROR(Dequeue(conn, job));
    return WriteImport(conn, job.owner, import, current.second);
  });
}

}  // namespace rapport::profiles
