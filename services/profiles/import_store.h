// Storage of contact imports (POST /v1/imports): the job row with its state,
// counts and checkpoint (imports), the uploaded file until the job is done
// (import_files), the queue of unfinished jobs that runners claim with a
// lease (import_queue), and the per-row report of skipped rows
// (import_skips). The tables live in the profiles database
// (kImportsMigration, appended to the profiles store's migrations) because
// a chunk of imported contacts and the checkpoint that says it is done
// commit in one transaction: after a crash the job resumes at the
// checkpoint and never applies a row twice.
//
// Every statement names org_id; jobs are personal and scoped by owner as
// contacts are (another org's or user's import answers NOT_FOUND). Only the
// runner's scan of the queue crosses orgs (a maintenance statement,
// tests/citus_readiness_test.cc); the queue holds unfinished jobs only, so
// the scan stays small however many imports were ever made.
//
// Thread-safety: all methods may be called concurrently.
#ifndef RAPPORT_SERVICES_PROFILES_IMPORT_STORE_H_
#define RAPPORT_SERVICES_PROFILES_IMPORT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/tenant.h"
#include "services/profiles/import_rows.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {

extern const char kImportsMigration[];

// Skipped rows GetImport reports with their reasons (the counts cover all).
inline constexpr int kMaxReportedSkips = 1000;

// The event every change of an import emits (payload: the import without
// its skips); notifications turns it into the owner's progress entry.
inline constexpr char kImportProgressEvent[] = "import.progress";

// An unfinished job, as the runner claims it.
struct ImportJob {
  Owner owner;
  std::string import_id;
};

// A row's outcome inside a chunk commit.
struct ChunkResult {
  pb::Import import;  // after the chunk
  // Dedupe keys of contacts created by the chunk, and contacts it changed
  // (for the runner's index and the entity cache).
  std::vector<std::pair<std::string, std::string>> new_keys;  // key -> contact id
  std::vector<std::string> changed_contacts;
};

class ImportStore {
 public:
  // db must be the profiles database (its migrations include kImportsMigration).
  explicit ImportStore(db::Database* db) : db_(db) {}

  // Records a new job with its file and options, queued for a runner; done
  // once durable.
  // actor, when given, is recorded in the org's audit log (import.created)
  // in the same transaction.
  void Create(const Owner& owner, const pb::Import& import, std::string file, DoneStatus done,
              std::optional<TenantContext> actor = std::nullopt);
  // NOT_FOUND when the owner has no such import. With skips, also the first
  // kMaxReportedSkips skipped rows.
  absl::StatusOr<pb::Import> Get(const Owner& owner, const std::string& id, bool skips);
  // In id (= creation) order after after_id, at most limit.
  absl::StatusOr<std::vector<pb::Import>> List(const Owner& owner, const std::string& after_id, int limit);

  // Claims up to limit queued jobs whose lease expired (or never held one)
  // for `runner` until lease_until_us.
  absl::StatusOr<std::vector<ImportJob>> Claim(const std::string& runner, int64_t now_us, int64_t lease_until_us,
                                               int limit);
  // Extends the lease of a job this runner holds; FAILED_PRECONDITION when
  // another runner took it over.
  absl::Status Renew(const ImportJob& job, const std::string& runner, int64_t lease_until_us);
  // The job's uploaded file (NOT_FOUND once the job is done).
  absl::StatusOr<std::string> File(const ImportJob& job);
  // The owner's contacts' dedupe keys (import_rows.h DedupeKeys) -> contact id.
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> DedupeIndex(const Owner& owner);

  // Applies rows[from, to) of the parsed file as one transaction, together
  // with the checkpoint: ABORTED when the job's checkpoint is not `from`
  // (another runner applied it). index maps dedupe keys to contact ids as
  // of the last commit; max_contacts is the contactsPerUser quota. When `to`
  // is the last row the job succeeds and its file and queue entry go.
  absl::StatusOr<ChunkResult> CommitChunk(const ImportJob& job, const std::vector<ImportRow>& rows, int64_t from,
                                          int64_t to, const absl::flat_hash_map<std::string, std::string>& index,
                                          int64_t max_contacts, int64_t now_us);
  // Ends a job that cannot run (its file no longer parses): FAILED with error.
  absl::Status Fail(const ImportJob& job, const std::string& error, int64_t now_us);

 private:
  db::Database* db_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_IMPORT_STORE_H_
