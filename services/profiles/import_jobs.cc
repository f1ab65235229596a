#include "services/profiles/import_jobs.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/profiles/import_rows.h"

namespace rapport::profiles {

absl::StatusOr<pb::Import> PrepareImport(const pb::CreateImportRequest& request, const std::string& id,
                                         int64_t now_us) {
  Violations v;
  const std::string& data = request.file().data();
  if (data.size() > kMaxImportBytes) v.Add("file", absl::StrCat("is larger than ", kMaxImportBytes, " bytes"));
  absl::StatusOr<ImportFormat> format = ParseImportFormat(request.format());
  if (!format.ok()) v.Add("format", std::string(format.status().message().substr(strlen("format: "))));
  absl::StatusOr<ColumnMap> map = ParseColumnMap(request.map());
  if (!map.ok()) v.Add("map", std::string(map.status().message().substr(strlen("map: "))));
  v.Text("tag", request.tag(), 50);
  v.Text("fileName", request.file_name(), 255);
  if (!v.empty()) return v.ToStatus();
  ImportOptions options;
  options.format = *format;
  options.map = *map;
  if (!request.tag().empty()) options.tags.push_back(request.tag());
  absl::StatusOr<ParsedImport> parsed = ParseImportFile(data, options);
  if (!parsed.ok()) return parsed.status();
  pb::Import import;
  import.set_id(id);
  import.set_format(std::string(ImportFormatName(parsed->format)));
  import.set_column_map(request.map());
  if (!request.tag().empty()) import.add_tags(request.tag());
  import.set_file_name(request.file_name());
  import.set_file_bytes(static_cast<int64_t>(data.size()));
  import.set_state(pb::IMPORT_QUEUED);
  import.set_rows_total(static_cast<int64_t>(parsed->rows.size()));
  *import.mutable_create_time() = ToTimestamp(now_us);
  *import.mutable_update_time() = ToTimestamp(now_us);
  return import;
}

ImportRunner::ImportRunner(ImportStore* store, redis::EntityCache* cache, ImportRunnerOptions options)
    : store_(store), cache_(cache), options_(options), id_(NewId()) {}

ImportRunner::~ImportRunner() { Stop(); }

void ImportRunner::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ImportRunner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ImportRunner::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ImportRunner::Loop() {
  const int64_t lease_us = std::chrono::duration_cast<std::chrono::microseconds>(options_.lease).count();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      woken_ = false;
    }
    int64_t now = NowMicros();
    absl::StatusOr<std::vector<ImportJob>> jobs = store_->Claim(id_, now, now + lease_us, 4);
    if (!jobs.ok()) log::Error("import: cannot scan the queue", {{"error", jobs.status().ToString()}});
    bool any = jobs.ok() && !jobs->empty();
    if (jobs.ok()) {
      for (const ImportJob& job : *jobs) {
        absl::Status s = RunJob(job);
        if (!s.ok()) {
          log::Error("import: job stopped; it resumes when its lease lapses",
                     {{"org", job.owner.org}, {"import", job.import_id}, {"error", s.ToString()}});
        }
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) break;
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    if (!any) cv_.wait_for(lock, options_.poll, [this] { return stopping_ || woken_; });
  }
}

absl::Status ImportRunner::RunJob(const ImportJob& job) {
  const int64_t lease_us = std::chrono::duration_cast<std::chrono::microseconds>(options_.lease).count();
  absl::StatusOr<pb::Import> import = store_->Get(job.owner, job.import_id, /*skips=*/false);
  if (!import.ok()) return import.status();
  if (import->state() == pb::IMPORT_SUCCEEDED || import->state() == pb::IMPORT_FAILED) return absl::OkStatus();
  std::vector<ImportRow> rows;
  {
    absl::StatusOr<std::string> file = store_->File(job);
    if (absl::IsNotFound(file.status())) return absl::OkStatus();  // finished by another runner
    if (!file.ok()) return file.status();
    ImportOptions options;
    absl::StatusOr<ImportFormat> format = ParseImportFormat(import->format());
    absl::StatusOr<ColumnMap> map = ParseColumnMap(import->column_map());
    absl::StatusOr<ParsedImport> parsed = absl::InternalError("");
    if (format.ok() && map.ok()) {
      options.format = *format;
      options.map = *std::move(map);
      options.tags.assign(import->tags().begin(), import->tags().end());
      parsed = ParseImportFile(*file, options);
    } else {
      parsed = format.ok() ? map.status() : format.status();
    }
    // The file parsed when it was accepted; failing now means this binary
    // reads it differently, which the owner should see rather than a job
    // that never ends.
    if (!parsed.ok()) return store_->Fail(job, std::string(parsed.status().message()), NowMicros());
    if (static_cast<int64_t>(parsed->rows.size()) != import->rows_total()) {
      return store_->Fail(job, "the file reads differently than when it was accepted", NowMicros());
    }
    rows = std::move(parsed->rows);
  }
  absl::StatusOr<absl::flat_hash_map<std::string, std::string>> index = store_->DedupeIndex(job.owner);
  if (!index.ok()) return index.status();
  int64_t from = import->rows_read();
  const int64_t total = static_cast<int64_t>(rows.size());
  if (from >= total) {
    // An empty file (only a header) finishes in one commit too.
    absl::StatusOr<ChunkResult> done =
        store_->CommitChunk(job, rows, from, from, *index, options_.max_contacts, NowMicros());
    return done.status();
  }
  while (from < total) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        // Let another runner (or this process after its restart) resume at once.
        return store_->Renew(job, id_, 0);
      }
    }
    const int64_t to = std::min(total, from + options_.chunk_rows);
    absl::StatusOr<ChunkResult> chunk =
        store_->CommitChunk(job, rows, from, to, *index, options_.max_contacts, NowMicros());
    if (!chunk.ok()) return chunk.status();
    for (auto& [key, id] : chunk->new_keys) (*index)[key] = id;
    if (cache_ != nullptr && cache_->enabled()) {
      for (const std::string& id : chunk->changed_contacts) {
        cache_->Invalidate(cache_->Key(job.owner.org, "contact", absl::StrCat(job.owner.user, ":", id)));
      }
    }
    from = to;
    if (from < total) {
      absl::Status renewed = store_->Renew(job, id_, NowMicros() + lease_us);
      if (!renewed.ok()) return renewed;
    }
  }
  return absl::OkStatus();
}

}  // namespace rapport::profiles
