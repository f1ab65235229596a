// The whole-account export for data-protection requests: POST /v1/me:export
// makes a job (AccountExport) that collects everything the acting user owns
// in every service as one JSON-lines file; GET /v1/exports/{id} shows it and
// GET /v1/exports/{id}:download streams the file.
//
// The file: one JSON object a line, {"type": "<kind>", "data": <proto3 JSON>}
// ("groupMember" and "workflowRun" lines also carry "groupId" / "workflowId").
// The first line is {"type":"export","data":{"id","orgId","userId","createTime"}};
// then, in order: profile, contact (with notes), group, groupMember (from
// profiles); interaction, introduction, ledgerEntry (from interactions);
// notification (unread and read), reminder, workflow, workflowRun, webhook
// (without its secret, which the API never shows again) (from
// notifications). Content type application/x-ndjson.
//
// Durable: the job and the file live in profiles' database
// (account_exports, account_export_chunks of up to kExportChunkBytes each).
// AccountExporter, a thread in the profiles process, claims a PENDING job
// (or a RUNNING one whose lease ran out: its process died) with a lease,
// writes the file a chunk at a time (starting over, never appending to a
// half-written file), and marks it SUCCEEDED with its size, or, after
// kExportAttempts failures (a service down), FAILED with the reason. A
// finished job and its file are kept kExportRetention (7 days, expireTime),
// then pruned (ExportRetention, with the other retention rules).
//
// Thread-safety: AccountExportStore is safe from any thread (the Database
// is); AccountExporter runs jobs on its own thread; Kick is safe from any.
#ifndef RAPPORT_SERVICES_PROFILES_ACCOUNT_EXPORT_H_
#define RAPPORT_SERVICES_PROFILES_ACCOUNT_EXPORT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "rapport/api/v1/annotations.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/retention.h"
#include "services/common/tenant.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {

inline constexpr size_t kExportChunkBytes = 256 * 1024;
inline constexpr int kExportAttempts = 5;
inline constexpr std::chrono::hours kExportRetention{24 * 7};
inline constexpr char kAccountExportContentType[] = "application/x-ndjson";

// The migration of the two tables; appended to profiles' migrations.
extern const char kAccountExportMigration[];

// Pruning of finished jobs (by finish time) and their chunks (a day later,
// by creation time: a job's chunks are written before it finishes).
std::vector<RetentionRule> ExportRetention();

class AccountExportStore {
 public:
  explicit AccountExportStore(db::Database* db) : db_(db) {}

  // actor, when given, is recorded in the org's audit log (export.created)
  // in the same transaction.
  void Create(const Owner& owner, const pb::AccountExport& job, std::function<void(absl::Status)> done,
              std::optional<TenantContext> actor = std::nullopt);
  // NOT_FOUND for another user's or org's id, like a missing one.
  absl::StatusOr<pb::AccountExport> Get(const Owner& owner, const std::string& id);

  struct Claimed {
    Owner owner;
    pb::AccountExport job;
  };
  // Leases the oldest PENDING job, or a RUNNING one whose lease ended (any
  // org: a maintenance scan), marking it RUNNING; nullopt when none.
  absl::StatusOr<std::optional<Claimed>> ClaimNext(int64_t now_us, int64_t lease_until_us);
  // Deletes the job's chunks (a restarted job writes its file afresh).
  absl::Status ClearChunks(const Owner& owner, const std::string& id);
  absl::Status AppendChunk(const Owner& owner, const std::string& id, int64_t seq, const std::string& data);
  // Writes the job's state (finished when finish_time is set); a PENDING job
  // is claimable again from next_attempt_us.
  absl::Status Save(const Owner& owner, const pb::AccountExport& job, int64_t next_attempt_us = 0);
  // Chunk seq of the job's file; nullopt past the last.
  absl::StatusOr<std::optional<std::string>> ReadChunk(const Owner& owner, const std::string& id, int64_t seq);

 private:
  db::Database* db_;
};

// Receives the records a source collects: kind (e.g. "contact"), the
// message, and extra string attributes of the line (e.g. {"groupId", id}).
using RecordSink = std::function<absl::Status(std::string_view kind, const google::protobuf::Message& data,
                                              const std::vector<std::pair<std::string, std::string>>& extra)>;

// One service's share of a user's data.
class AccountSource {
 public:
  virtual ~AccountSource() = default;
  // Emits every record owner holds; UNAVAILABLE when the service is down.
  virtual absl::Status Collect(const Owner& owner, const RecordSink& emit) = 0;
};

// The acting user's records in profiles' own store.
std::unique_ptr<AccountSource> ProfilesAccountSource(ProfilesStore* store);
// The user's records in interactions and notifications, asked over gRPC
// as the user (READ), with deadline per call. signer must outlive them.
std::unique_ptr<AccountSource> InteractionsAccountSource(std::shared_ptr<grpc::Channel> channel,
                                                         const TenantSigner* signer,
                                                         std::chrono::milliseconds deadline);
std::unique_ptr<AccountSource> NotificationsAccountSource(std::shared_ptr<grpc::Channel> channel,
                                                          const TenantSigner* signer,
                                                          std::chrono::milliseconds deadline);

class AccountExporter {
 public:
  // A failed attempt is retried after retry_backoff times the attempts made.
  AccountExporter(AccountExportStore* store, std::vector<std::unique_ptr<AccountSource>> sources,
                  std::chrono::milliseconds poll = std::chrono::seconds(2),
                  std::chrono::milliseconds retry_backoff = std::chrono::seconds(2));
  ~AccountExporter();  // stops
  void Start();
  void Stop();
  // A job was created: look now rather than at the next poll.
  void Kick();
  // Claims and runs one job; false when there was none.
  absl::StatusOr<bool> RunOnce();

 private:
  absl::Status Write(const Owner& owner, pb::AccountExport& job);

  AccountExportStore* store_;
  std::vector<std::unique_ptr<AccountSource>> sources_;
  const std::chrono::milliseconds poll_;
  const std::chrono::milliseconds retry_backoff_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool kicked_ = false;
  std::thread thread_;
};

// GET /v1/exports/{id}:download: the job's chunks as a stream of HttpBody,
// one chunk read per write. FAILED_PRECONDITION until the job SUCCEEDED.
grpc::ServerWriteReactor<api::v1::HttpBody>* StartAccountExportDownload(AccountExportStore* store, const Owner& owner,
                                                                        const std::string& id);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_ACCOUNT_EXPORT_H_
