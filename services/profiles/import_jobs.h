// The runner of contact imports: a background thread in each profiles
// process that claims queued jobs (ImportStore::Claim, a lease per job so
// that replicas sharing PostgreSQL never run one job twice at once), parses
// the stored file again (import_rows.h: the same bytes give the same rows),
// and applies it from the job's checkpoint a chunk at a time, each chunk's
// contacts and the new checkpoint in one transaction (CommitChunk). After
// kill -9 the job waits for its lease to lapse, then resumes at the
// checkpoint: no row is applied twice, none is lost.
//
// Deduplication uses an index of the owner's dedupe keys (emails, LinkedIn
// profile URL) read once per job and kept up to date with what each chunk
// created; a contact the index names but that was deleted since is looked
// past, and the contact it names is re-read inside the chunk's transaction,
// so a merge never works on a stale copy.
//
// Jobs run one at a time per process, in creation order.
//
// Thread-safety: Wake may be called from any thread; Start and Stop from one.
#ifndef RAPPORT_SERVICES_PROFILES_IMPORT_JOBS_H_
#define RAPPORT_SERVICES_PROFILES_IMPORT_JOBS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "services/common/redis_client.h"
#include "services/profiles/import_store.h"

namespace rapport::profiles {

// The job a CreateImport request makes: INVALID_ARGUMENT naming "file",
// "format", "map", "tag" or "fileName" for what cannot be imported (the
// whole file is parsed here, so an unreadable file is a 400 at once, not a
// failed job); otherwise the Import in state IMPORT_QUEUED with its row
// count and the format it was recognized as.
absl::StatusOr<pb::Import> PrepareImport(const pb::CreateImportRequest& request, const std::string& id, int64_t now_us);

struct ImportRunnerOptions {
  int chunk_rows = 250;                    // rows per transaction
  std::chrono::milliseconds poll{1000};    // how often the queue is scanned when not woken
  std::chrono::milliseconds lease{15000};  // RAPPORT_IMPORT_LEASE_MS: how long a crashed runner blocks a job
  int64_t max_contacts = 50000;            // the contactsPerUser quota
};

class ImportRunner {
 public:
  // store and cache must outlive the runner; cache may be disabled.
  ImportRunner(ImportStore* store, redis::EntityCache* cache, ImportRunnerOptions options);
  ~ImportRunner();

  void Start();
  // Finishes the chunk under way, releases the lease, and joins.
  void Stop();
  // A job was queued: scan now rather than at the next poll.
  void Wake();

  // Runs one claimed job to its end (or until Stop); for tests.
  absl::Status RunJob(const ImportJob& job);
  const std::string& id() const { return id_; }

 private:
  void Loop();

  ImportStore* store_;
  redis::EntityCache* cache_;
  ImportRunnerOptions options_;
  const std::string id_;  // this runner's lease name
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_IMPORT_JOBS_H_
