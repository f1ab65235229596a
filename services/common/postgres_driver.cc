#include "services/common/postgres_driver.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <random>
#include <regex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/connection_pool.h"
#include "services/common/log.h"
#include "services/common/status.h"

namespace rapport::db {
namespace {

constexpr Oid kByteaOid = 17;
constexpr Oid kTextOid = 25;
constexpr Oid kInt8Oid = 20;
constexpr Oid kFloat8Oid = 701;
// Serialization failures and deadlocks re-run the write this many times,
// after a random pause that doubles each time (capped), so that writers
// contending for one row spread out instead of colliding again.
constexpr int kWriteAttempts = 30;
constexpr int64_t kRetryPauseCapMicros = 20000;
// A group-committed batch the database aborts (a conflict with another
// replica's batch) is tried again in halves; after this many aborts in one
// batch, the writes of a part that aborts run alone.
constexpr int kBatchAborts = 8;

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool ValidSchema(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(absl::ascii_islower(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  return true;
}

// Maps a failed result (or connection) to a status: constraint violations as
// the SQLite driver maps them, serialization failures to ABORTED (retry the
// transaction), a lost server to UNAVAILABLE.
absl::Status StatusFrom(PGconn* conn, const PGresult* res, std::string_view what) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = res != nullptr ? PQresultErrorMessage(res) : "";
  if (message.empty() && conn != nullptr) message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string text = absl::StrCat(Av(what), ": ", message);
  if (conn == nullptr || PQstatus(conn) == CONNECTION_BAD) return absl::UnavailableError(text);
  if (state == nullptr) return absl::InternalError(text);
  std::string_view code(state);
  if (code == "23505") return absl::AlreadyExistsError(text);
  if (code.substr(0, 2) == "23") return absl::FailedPreconditionError(text);
  if (code == "40001" || code == "40P01") return absl::AbortedError(text);
  if (code.substr(0, 2) == "08" || code == "57P01" || code == "57P02" || code == "57P03") {
    return absl::UnavailableError(text);
  }
  if (code == "25006") return absl::FailedPreconditionError(text);  // read-only transaction
  return absl::InternalError(text);
}

struct Result {
  explicit Result(PGresult* r = nullptr) : res(r) {}
  Result(Result&& o) noexcept : res(std::exchange(o.res, nullptr)) {}
  Result& operator=(Result&& o) noexcept {
    if (this != &o) {
      if (res != nullptr) PQclear(res);
      res = std::exchange(o.res, nullptr);
    }
    return *this;
  }
  ~Result() {
    if (res != nullptr) PQclear(res);
  }
  PGresult* res;
};

bool Ok(const PGresult* res) {
  if (res == nullptr) return false;
  ExecStatusType s = PQresultStatus(res);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

class PgConnection;

// What the connection does with the outcome of a command it pipelined.
enum class Want {
  kIgnore,  // nothing (COMMIT of a read, ROLLBACK): a fire-and-forget end
  kCheck,   // a failure becomes the transaction's deferred error
  kKeep,    // the caller waits for this result
  kSync,    // a synchronization point (PQpipelineSync)
};

class PgStatement final : public StatementImpl {
 public:
  // The statement is prepared on the server at its first execution, when
  // the kinds of its first bindings are known (see Send).
  PgStatement(PgConnection* conn, std::string sql, std::string text, std::string name, std::vector<bool> used)
      : conn_(conn), sql_(std::move(sql)), text_(std::move(text)), name_(std::move(name)), used_(std::move(used)) {}

  absl::Status BindInt(int index, int64_t value) override { return Set(index, std::to_string(value), 0, kInt8Oid); }
  absl::Status BindDouble(int index, double value) override {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    return Set(index, buf, 0, kFloat8Oid);
  }
  absl::Status BindText(int index, std::string_view text) override { return Set(index, std::string(text), 0); }
  absl::Status BindBlob(int index, std::string_view bytes) override { return Set(index, std::string(bytes), 1); }
  absl::Status BindNull(int index) override {
    RETURN_IF_ERROR(Grow(index));
    null_[index - 1] = true;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> Step() override;
  absl::Status RunLater() override;
  int64_t ColumnInt(int col) const override {
    if (!HasCell(col)) return 0;
    const char* v = PQgetvalue(result_.res, row_, col);
    if (v[0] == 't' && v[1] == '\0') return 1;  // a boolean expression
    if (v[0] == 'f' && v[1] == '\0') return 0;
    return std::strtoll(v, nullptr, 10);
  }
  double ColumnDouble(int col) const override {
    return HasCell(col) ? std::strtod(PQgetvalue(result_.res, row_, col), nullptr) : 0.0;
  }
  std::string ColumnText(int col) const override {
    if (!HasCell(col)) return std::string();
    return std::string(PQgetvalue(result_.res, row_, col), static_cast<size_t>(PQgetlength(result_.res, row_, col)));
  }
  std::string ColumnBlob(int col) const override {
    if (!HasCell(col)) return std::string();
    if (PQftype(result_.res, col) != kByteaOid) return ColumnText(col);
    size_t n = 0;
    unsigned char* bytes =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.res, row_, col)), &n);
    if (bytes == nullptr) return std::string();
    std::string out(reinterpret_cast<const char*>(bytes), n);
    PQfreemem(bytes);
    return out;
  }
  bool ColumnIsNull(int col) const override { return !HasCell(col) || PQgetisnull(result_.res, row_, col); }
  void Release() override;

  const std::string& sql() const { return sql_; }
  // A pipelined PREPARE of this statement failed or was skipped: prepare it
  // again at its next execution.
  void Unprepared() { server_prepared_ = false; }
  void Reset() {
    values_.clear();
    kinds_.clear();
    formats_.clear();
    null_.clear();
    result_ = Result();
    executed_ = false;
    row_ = -1;
  }

 private:
  absl::Status Grow(int index) {
    if (index < 1 || index > 65535) return absl::InvalidArgumentError(absl::StrCat("bind index ", index));
    if (static_cast<size_t>(index) > values_.size()) {
      values_.resize(index);
      kinds_.resize(index, 0);
      formats_.resize(index, 0);
      null_.resize(index, true);
    }
    return absl::OkStatus();
  }
  absl::Status Set(int index, std::string value, int format, Oid kind = 0) {
    RETURN_IF_ERROR(Grow(index));
    kinds_[index - 1] = kind;
    values_[index - 1] = std::move(value);
    formats_[index - 1] = format;
    null_[index - 1] = false;
    return absl::OkStatus();
  }
  bool HasCell(int col) const {
    return result_.res != nullptr && row_ >= 0 && row_ < PQntuples(result_.res) && col >= 0 &&
           col < PQnfields(result_.res);
  }
  // Pipelines the statement's execution (and, the first time, its PREPARE).
  absl::Status Send(Want want);

  PgConnection* conn_;
  std::string sql_;
  std::string text_;  // in PostgreSQL's dialect
  std::string name_;
  std::vector<bool> used_;  // which $N the text names; unbound ones go as NULL
  bool server_prepared_ = false;
  std::vector<Oid> kinds_;  // per bound parameter: int8, float8, or 0 (inferred)
  std::vector<std::string> values_;
  std::vector<int> formats_;
  std::vector<bool> null_;
  Result result_;
  bool executed_ = false;
  int row_ = -1;
};

// One libpq connection of the pool, with its prepared statements. The
// connection stays in libpq's pipeline mode: commands are sent without
// waiting, and the driver waits (PQpipelineSync, then the results in order)
// only where an answer is needed: a statement's rows, a commit. So the
// statements a store runs with RunLater, the transaction's BEGIN, each
// batched write's SAVEPOINT and RELEASE, and a statement's first PREPARE
// travel with the next statement that needs an answer, in one round trip;
// the COMMIT of a read is not waited for at all (its outcome is read by the
// connection's next user). A failed pipelined command aborts the rest of its
// pipeline on the server; its error is kept (the transaction's deferred
// error) and answered by the transaction's next statement or its end.
class PgConnection final : public Connection {
 public:
  PgConnection(std::string url, std::string schema) : url_(std::move(url)), schema_(std::move(schema)) {}
  ~PgConnection() override {
    cache_.clear();
    live_.clear();
    if (conn_ != nullptr) PQfinish(conn_);
  }

  // Connects, or reconnects after the server went away; reads the outcomes
  // a previous user left unread.
  absl::Status Ensure() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) {
      if (!sent_.empty()) {
        if (sent_.back().want != Want::kSync) Sync().IgnoreError();
        Collect(nullptr).IgnoreError();
      }
      ResetTransaction();
      if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
    }
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    cache_.clear();
    live_.clear();
    sent_.clear();
    ResetTransaction();
    prepared_ = 0;
    const std::string options = absl::StrCat("-c search_path=", schema_, " -c synchronous_commit=on");
    const char* keys[] = {"dbname", "options", "connect_timeout", "application_name", nullptr};
    const char* values[] = {url_.c_str(), options.c_str(), "5", "rapport", nullptr};
    conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      std::string why = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      return absl::UnavailableError(absl::StrCat("postgres: cannot connect to ", RedactUrl(url_), ": ", why));
    }
    if (PQenterPipelineMode(conn_) != 1) {
      return absl::UnavailableError(absl::StrCat("postgres: cannot enter pipeline mode: ", PQerrorMessage(conn_)));
    }
    return absl::OkStatus();
  }

  Statement Prepare(std::string_view sql) override {
    for (size_t i = 0; i < cache_.size(); ++i) {
      if (cache_[i]->sql() == sql) {
        live_.push_back(std::move(cache_[i]));
        cache_[i] = std::move(cache_.back());
        cache_.pop_back();
        return Statement(live_.back().get());
      }
    }
    if (broken()) return Statement(absl::UnavailableError("postgres: connection lost"));
    std::string name = absl::StrCat("s", ++prepared_);
    std::string text = PostgresQuery(sql);
    std::vector<bool> used;
    static const std::regex kParam(R"(\$(\d+))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kParam); it != std::sregex_iterator(); ++it) {
      const size_t n = std::stoul((*it)[1].str());
      if (n > used.size()) used.resize(n, false);
      used[n - 1] = true;
    }
    live_.push_back(
        std::make_unique<PgStatement>(this, std::string(sql), std::move(text), std::move(name), std::move(used)));
    return Statement(live_.back().get());
  }

  // One statement goes through the pipeline and is waited for; a script
  // (several statements: migrations) leaves pipeline mode for PQexec.
  absl::Status Exec(std::string_view sql) override {
    if (broken()) return absl::UnavailableError("postgres: not connected");
    const std::string text(sql);
    if (text.find(';') == std::string::npos) {
      RETURN_IF_ERROR(SendCommand(text, Want::kKeep));
      RETURN_IF_ERROR(Sync());
      Result res;
      absl::Status status = Collect(&res);
      if (status.ok()) SetChanges(res.res);
      return status;
    }
    if (!sent_.empty()) {
      if (sent_.back().want != Want::kSync) RETURN_IF_ERROR(Sync());
      RETURN_IF_ERROR(Collect(nullptr));
    }
    if (PQexitPipelineMode(conn_) != 1) return StatusFrom(conn_, nullptr, "exit pipeline mode");
    Result res(PQexec(conn_, text.c_str()));
    absl::Status status =
        Ok(res.res) ? absl::OkStatus() : StatusFrom(conn_, res.res, absl::StrCat("exec [", text, "]"));
    if (status.ok()) SetChanges(res.res);
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK && PQenterPipelineMode(conn_) != 1) {
      return StatusFrom(conn_, nullptr, "enter pipeline mode");
    }
    return status;
  }

  int64_t Changes() const override { return changes_; }

  void SetChanges(const PGresult* res) {
    const char* n = res != nullptr ? PQcmdTuples(const_cast<PGresult*>(res)) : nullptr;
    changes_ = (n != nullptr && *n != '\0') ? std::strtoll(n, nullptr, 10) : 0;
  }
  PGconn* raw() { return conn_; }
  bool broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }
  void Return(PgStatement* stmt) {
    for (auto& owned : live_) {
      if (owned.get() == stmt) {
        cache_.push_back(std::move(owned));
        owned = std::move(live_.back());
        live_.pop_back();
        return;
      }
    }
  }

  // --- The pipeline ---

  // Pipelines a command without parameters (BEGIN, SAVEPOINT, COMMIT...).
  // `text` must outlive the command's outcome (a literal, or kept by the caller).
  absl::Status SendCommand(std::string_view text, Want want) {
    if (broken()) return absl::UnavailableError("postgres: connection lost");
    const std::string sql(text);
    if (PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
      return Lost("send");
    }
    return Sent(want, text, nullptr);
  }
  absl::Status SendPrepare(PgStatement* stmt, const std::string& name, const std::string& text,
                           const std::vector<Oid>& types, const std::string& what) {
    if (broken()) return absl::UnavailableError("postgres: connection lost");
    if (PQsendPrepare(conn_, name.c_str(), text.c_str(), static_cast<int>(types.size()), types.data()) != 1) {
      return Lost("prepare");
    }
    return Sent(Want::kCheck, what, stmt);
  }
  absl::Status SendPrepared(const std::string& name, int n, const char* const* values, const int* lengths,
                            const int* formats, Want want, const std::string& what) {
    if (broken()) return absl::UnavailableError("postgres: connection lost");
    if (PQsendQueryPrepared(conn_, name.c_str(), n, values, lengths, formats, /*resultFormat=*/0) != 1) {
      return Lost("execute");
    }
    return Sent(want, what, nullptr);
  }
  // A synchronization point: the server answers everything sent before it.
  absl::Status Sync() {
    if (broken()) return absl::UnavailableError("postgres: connection lost");
    if (PQpipelineSync(conn_) != 1) return Lost("sync");
    sent_.push_back(Pending{Want::kSync, {}, nullptr, 0});
    unsynced_ = 0;
    unsynced_checks_ = 0;
    return absl::OkStatus();
  }
  // Reads the outcome of everything sent, which must end with a Sync. A
  // kCheck failure becomes the deferred error (with its write's epoch).
  // Answers the kKeep command's outcome (its result into *keep), or the
  // deferred error when an earlier command's failure aborted it.
  absl::Status Collect(Result* keep) {
    absl::Status keep_status;
    while (!sent_.empty()) {
      Pending p = sent_.front();
      sent_.pop_front();
      if (p.want == Want::kSync) {
        PGresult* r = PQgetResult(conn_);
        if (r == nullptr) r = PQgetResult(conn_);
        if (r == nullptr || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
          if (r != nullptr) PQclear(r);
          return OutOfStep();
        }
        PQclear(r);
        continue;
      }
      PGresult* first = PQgetResult(conn_);
      if (first == nullptr) return OutOfStep();
      for (PGresult* more = PQgetResult(conn_); more != nullptr; more = PQgetResult(conn_)) PQclear(more);
      Result r(first);
      const ExecStatusType s = PQresultStatus(r.res);
      if (Ok(r.res)) {
        if (p.want == Want::kKeep && keep != nullptr) *keep = std::move(r);
        continue;
      }
      if (p.prepare_of != nullptr) p.prepare_of->Unprepared();
      absl::Status failure =
          s == PGRES_PIPELINE_ABORTED
              ? absl::AbortedError(absl::StrCat("postgres: skipped after an earlier failure [", Av(p.what), "]"))
              : StatusFrom(conn_, r.res, absl::StrCat("step [", Av(p.what), "]"));
      if (broken()) {
        sent_.clear();
        return failure;
      }
      if (p.want == Want::kCheck && s != PGRES_PIPELINE_ABORTED && deferred_.ok()) {
        deferred_ = failure;
        if (failed_epoch_ == 0) failed_epoch_ = p.epoch;
      }
      if (p.want == Want::kKeep && keep_status.ok()) keep_status = failure;
    }
    if (!keep_status.ok() && !deferred_.ok()) return TakeDeferred();
    return keep_status;
  }
  // The deferred error, once: whoever gets it answers it.
  absl::Status TakeDeferred() { return std::exchange(deferred_, absl::OkStatus()); }
  // A fire-and-forget end of a transaction (COMMIT of a read, ROLLBACK): in
  // a pipeline of its own, so that an earlier failure cannot skip it; its
  // outcome is read by the connection's next user.
  void EndWithoutWaiting(std::string_view command) {
    if (broken()) return;
    if (!sent_.empty() && sent_.back().want != Want::kSync && !Sync().ok()) return;
    if (SendCommand(command, Want::kIgnore).ok()) Sync().IgnoreError();
  }
  void ResetTransaction() {
    deferred_ = absl::OkStatus();
    failed_epoch_ = 0;
    epoch_ = 0;
    unsynced_checks_ = 0;
  }
  // Batched writes: the commands sent while write `epoch` runs carry it, so
  // a deferred failure names the write it belongs to.
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t failed_epoch() const { return failed_epoch_; }
  void ClearFailedEpoch() { failed_epoch_ = 0; }
  // Statements a store ran with RunLater whose outcome is not read yet.
  int64_t unsynced_checks() const { return unsynced_checks_; }
  void CountRunLater() { ++unsynced_checks_; }

 private:
  struct Pending {
    Want want;
    std::string_view what;    // for messages; outlives the command (see SendCommand)
    PgStatement* prepare_of;  // a PREPARE's statement
    int64_t epoch;
  };
  // The server's answers to a long pipeline are read every so often, so that
  // neither side's buffers fill (libpq blocks writing while the server
  // blocks writing its answers).
  static constexpr int kMaxUnsynced = 256;

  absl::Status Sent(Want want, std::string_view what, PgStatement* prepare_of) {
    sent_.push_back(Pending{want, what, prepare_of, epoch_});
    if (want != Want::kKeep && ++unsynced_ >= kMaxUnsynced) {
      RETURN_IF_ERROR(Sync());
      RETURN_IF_ERROR(Collect(nullptr));
    }
    return absl::OkStatus();
  }
  absl::Status Lost(std::string_view what) {
    absl::Status status = StatusFrom(conn_, nullptr, absl::StrCat("postgres: ", Av(what)));
    if (!broken()) {
      // Not a lost server, yet the pipeline cannot go on: start afresh.
      PQfinish(conn_);
      conn_ = nullptr;
      status = absl::UnavailableError(status.message());
    }
    sent_.clear();
    return status;
  }
  absl::Status OutOfStep() {
    absl::Status status = broken() ? absl::UnavailableError(absl::StrCat("postgres: connection lost: ",
                                                                         conn_ != nullptr ? PQerrorMessage(conn_) : ""))
                                   : absl::UnavailableError("postgres: pipeline out of step; reconnecting");
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    sent_.clear();
    return status;
  }

  std::string url_;
  std::string schema_;
  PGconn* conn_ = nullptr;
  int64_t prepared_ = 0;
  int64_t changes_ = 0;
  std::vector<std::unique_ptr<PgStatement>> cache_;
  std::vector<std::unique_ptr<PgStatement>> live_;
  std::deque<Pending> sent_;  // sent commands and syncs whose outcome is unread, in order
  int unsynced_ = 0;
  absl::Status deferred_;
  int64_t failed_epoch_ = 0;
  int64_t epoch_ = 0;
  int64_t unsynced_checks_ = 0;
};

absl::Status PgStatement::Send(Want want) {
  const size_t params = std::max(used_.size(), values_.size());
  if (values_.size() < params) {
    values_.resize(params);
    kinds_.resize(params, 0);
    formats_.resize(params, 0);
    null_.resize(params, true);
  }
  if (!server_prepared_) {
    // Integers and doubles are declared int8 and float8, so that `? = 0`
    // does not make PostgreSQL infer a 32-bit integer; a parameter the text
    // skips (?1, ?2, ?5) is declared text; the rest are inferred.
    std::vector<Oid> types(params);
    for (size_t i = 0; i < params; ++i) types[i] = i < used_.size() && !used_[i] ? kTextOid : kinds_[i];
    RETURN_IF_ERROR(conn_->SendPrepare(this, name_, text_, types, sql_));
    server_prepared_ = true;
  }
  std::vector<const char*> values(values_.size());
  std::vector<int> lengths(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    values[i] = null_[i] ? nullptr : values_[i].data();
    lengths[i] = static_cast<int>(values_[i].size());
  }
  return conn_->SendPrepared(name_, static_cast<int>(values_.size()), values.data(), lengths.data(), formats_.data(),
                             want, sql_);
}

absl::StatusOr<bool> PgStatement::Step() {
  if (!executed_) {
    executed_ = true;
    if (conn_->broken()) return absl::UnavailableError("postgres: connection lost");
    RETURN_IF_ERROR(conn_->TakeDeferred());  // the transaction failed already
    RETURN_IF_ERROR(Send(Want::kKeep));
    RETURN_IF_ERROR(conn_->Sync());
    Result res;
    RETURN_IF_ERROR(conn_->Collect(&res));
    result_ = std::move(res);
    conn_->SetChanges(result_.res);
    row_ = -1;
  }
  if (result_.res == nullptr) return false;
  ++row_;
  return row_ < PQntuples(result_.res);
}

absl::Status PgStatement::RunLater() {
  if (executed_) return absl::OkStatus();
  executed_ = true;
  if (conn_->broken()) return absl::UnavailableError("postgres: connection lost");
  RETURN_IF_ERROR(conn_->TakeDeferred());
  RETURN_IF_ERROR(Send(Want::kCheck));
  conn_->CountRunLater();
  return absl::OkStatus();
}

void PgStatement::Release() {
  Reset();
  conn_->Return(this);
}

class PgDatabase final : public Database {
 public:
  explicit PgDatabase(Options options) : options_(std::move(options)) {}
  ~PgDatabase() override {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      closing_ = true;
    }
    queue_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  absl::Status Init() {
    for (int i = 0; i < options_.pool_size; ++i) {
      pool_.push_back(std::make_unique<PgConnection>(options_.url, options_.schema));
      idle_.Add(pool_.back().get());
    }
    // The first connection proves the URL at start: an unreachable database
    // fails the start with a clear message.
    RETURN_IF_ERROR(pool_[0]->Ensure());
    if (options_.read_only) return absl::OkStatus();  // inspection: no migrations, no writers
    RETURN_IF_ERROR(Migrate(*pool_[0]));
    for (int i = 0; i < options_.write_workers; ++i) workers_.emplace_back([this] { RunWorker(); });
    return absl::OkStatus();
  }

  // One round trip for a read of one statement: the BEGIN travels with the
  // statement, and the COMMIT of a read-only transaction is not waited for.
  absl::Status Read(const Fn& fn) override {
    Lease lease(idle_);
    RETURN_IF_ERROR(lease->Ensure());
    RETURN_IF_ERROR(lease->SendCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", Want::kCheck));
    absl::Status status = CallFn(fn, *lease);
    if (status.ok()) status = Settle(*lease);
    lease->EndWithoutWaiting(status.ok() ? "COMMIT" : "ROLLBACK");
    return status;
  }

  void WriteAsync(Fn fn, Done done) override {
    if (options_.read_only) return CallDone(done, absl::FailedPreconditionError("database opened read-only"));
    bool accepted = false;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (!closing_) {
        queue_.push_back(Item{std::move(fn), std::move(done)});
        accepted = true;
      }
    }
    if (accepted) {
      queue_cv_.notify_one();
      return;
    }
    CallDone(done, absl::UnavailableError("database is closing"));
  }

  // The first attempt runs beside every other write; a retry runs alone among
  // this process's writes (the gate), so a write that keeps losing to its
  // neighbours on a hot row cannot starve. Across replicas the random pause
  // spreads contenders.
  absl::Status Write(Fn fn) override {
    if (options_.read_only) return absl::FailedPreconditionError("database opened read-only");
    absl::Status status;
    for (int attempt = 1; attempt <= kWriteAttempts; ++attempt) {
      if (attempt == 1) {
        absl::ReaderMutexLock shared(&gate_);
        status = WriteOnce(fn);
      } else {
        absl::MutexLock alone(&gate_);
        status = WriteOnce(fn);
      }
      if (status.code() != absl::StatusCode::kAborted || !retryable_) break;
      const int64_t cap = std::min<int64_t>(kRetryPauseCapMicros, int64_t{100} << std::min(attempt, 16));
      thread_local std::mt19937_64 rng(std::random_device{}());
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng)));
    }
    return status;
  }

  Dialect dialect() const override { return Dialect::kPostgres; }
  int64_t batches_committed() const override { return commits_.load(std::memory_order_relaxed); }
  int64_t transactions_committed() const override { return transactions_.load(std::memory_order_relaxed); }

 private:
  struct Item {
    Fn fn;
    Done done;
  };

  using Lease = ConnectionPool<PgConnection>::Lease;

  // The database's own abort, worth a retry: a serialization failure or a
  // deadlock surfaces from any statement (or the commit) as ABORTED with
  // SQLSTATE 40001/40P01 in its message; an ABORTED commit is one too.
  static bool DatabaseAborted(const absl::Status& status, bool from_commit) {
    return status.code() == absl::StatusCode::kAborted &&
           (from_commit || absl::StrContains(status.message(), "could not serialize") ||
            absl::StrContains(status.message(), "deadlock"));
  }

  // One attempt; sets retryable_ when the failure was the database's
  // (serialization, deadlock) rather than fn's own ABORTED.
  absl::Status WriteOnce(const Fn& fn) {
    Lease lease(idle_);
    RETURN_IF_ERROR(lease->Ensure());
    RETURN_IF_ERROR(lease->SendCommand("BEGIN ISOLATION LEVEL SERIALIZABLE", Want::kCheck));
    absl::Status status = CallFn(fn, *lease);
    bool from_commit = false;
    if (status.ok()) {
      status = Commit(*lease);
      from_commit = true;
    }
    if (!status.ok()) lease->EndWithoutWaiting("ROLLBACK");
    if (status.ok()) {
      commits_.fetch_add(1, std::memory_order_relaxed);
      transactions_.fetch_add(1, std::memory_order_relaxed);
    }
    retryable_ = DatabaseAborted(status, from_commit);
    return status;
  }

  // Takes what is queued, up to max_batch writes at a time: one runs through
  // Write; several commit together (CommitBatch).
  void RunWorker() {
    std::vector<Item> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(queue_mu_);
        queue_cv_.wait(lock, [this] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) return;
        const size_t n = std::min(queue_.size(), static_cast<size_t>(std::max(1, options_.max_batch)));
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (batch.size() == 1) {
        CallDone(batch[0].done, Write(std::move(batch[0].fn)));
      } else {
        CommitBatch(batch);
      }
      batch.clear();
    }
  }

  // Group commit, as the SQLite writer does: the batch's writes run in one
  // SERIALIZABLE transaction, each in its own savepoint, and are
  // acknowledged after its one commit (one WAL flush for all). A write whose
  // function fails is undone alone and its batch mates go on. Should the
  // transaction fail as a whole, nothing of it is kept, and:
  // - a write whose pipelined (RunLater) statement failed for its own
  //   reason (a constraint) leaves the batch and runs alone, the rest again;
  // - a serialization failure or deadlock (another replica's batch touched
  //   the same rows) runs the batch again in two halves after a random
  //   pause: smaller transactions conflict less, and each half still shares
  //   a commit, where running each write alone would cost a commit (a WAL
  //   flush) per write;
  // - after kBatchAborts, or on a lost connection, the writes of a part that
  //   fails run alone through Write, with its retries.
  void CommitBatch(std::vector<Item>& batch) {
    std::vector<absl::Status> results(batch.size());
    std::vector<std::vector<size_t>> todo(1);
    for (size_t i = 0; i < batch.size(); ++i) todo[0].push_back(i);
    std::vector<bool> alone(batch.size(), true);
    int aborts = 0;
    while (!todo.empty()) {
      std::vector<size_t> members = std::move(todo.back());
      todo.pop_back();
      const BatchOutcome outcome = TryBatch(batch, members, results);
      if (outcome.committed) {
        for (size_t m : members) alone[m] = false;
        continue;
      }
      if (outcome.culprit >= 0) {  // not the batch's fault: the rest go on
        members.erase(members.begin() + outcome.culprit);
        if (!members.empty()) todo.push_back(std::move(members));
        continue;
      }
      // Lost connection, or aborted too often: these run alone.
      if (!outcome.retry || ++aborts > kBatchAborts || members.size() < 2) continue;
      const int64_t cap = std::min<int64_t>(kRetryPauseCapMicros, int64_t{1000} << std::min(aborts, 16));
      thread_local std::mt19937_64 rng(std::random_device{}());
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng)));
      // Two halves conflict with the other replica's batches far less often
      // than the whole batch did, and each still shares its commit.
      std::vector<size_t> second(members.begin() + static_cast<std::ptrdiff_t>(members.size() / 2), members.end());
      members.resize(members.size() / 2);
      todo.push_back(std::move(second));
      todo.push_back(std::move(members));
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (alone[i]) results[i] = Write(std::move(batch[i].fn));
      CallDone(batch[i].done, std::move(results[i]));
    }
  }

  struct BatchOutcome {
    bool committed = false;
    int culprit = -1;    // the member whose own pipelined statement failed
    bool retry = false;  // the database aborted the batch: worth another try
  };

  // One try of the batch's `members` in one transaction; their results go
  // into `results` (meaningful when committed).
  BatchOutcome TryBatch(std::vector<Item>& batch, const std::vector<size_t>& members,
                        std::vector<absl::Status>& results) {
    absl::ReaderMutexLock shared(&gate_);
    Lease lease(idle_);
    BatchOutcome outcome;
    if (!lease->Ensure().ok() || !lease->SendCommand("BEGIN ISOLATION LEVEL SERIALIZABLE", Want::kCheck).ok()) {
      return outcome;
    }
    // Why the transaction failed: a member's own statement, or the database.
    auto abandon = [&](const absl::Status& why) {
      const int64_t failed = lease->failed_epoch();
      if (!lease->broken()) {
        if (DatabaseAborted(why, false)) {
          outcome.retry = true;
        } else if (failed > 0 && failed <= static_cast<int64_t>(members.size())) {
          outcome.culprit = static_cast<int>(failed - 1);
        }
      }
      lease->EndWithoutWaiting("ROLLBACK");
      return outcome;
    };
    int64_t kept = 0;
    for (size_t j = 0; j < members.size(); ++j) {
      // The SAVEPOINT and RELEASE are pipelined; a deferred failure of an
      // earlier write (its RunLater statements are answered later) fails
      // the transaction.
      const int64_t epoch = static_cast<int64_t>(j) + 1;
      lease->set_epoch(epoch);
      if (!lease->SendCommand("SAVEPOINT rapport_write", Want::kCheck).ok()) return abandon(absl::OkStatus());
      absl::Status status = CallFn(batch[members[j]].fn, *lease);
      if (lease->broken()) return abandon(absl::OkStatus());
      if (lease->failed_epoch() != 0 && lease->failed_epoch() < epoch) {
        absl::Status why = lease->TakeDeferred();
        return abandon(why.ok() ? status : why);
      }
      if (status.ok() && lease->failed_epoch() == epoch) {
        // A statement of this write failed in the pipeline, unanswered.
        status = lease->TakeDeferred();
        if (status.ok()) status = absl::InternalError("postgres: a statement of this write failed");
      }
      if (status.ok()) {
        if (!lease->SendCommand("RELEASE rapport_write", Want::kCheck).ok()) return abandon(absl::OkStatus());
        ++kept;
      } else {
        if (DatabaseAborted(status, false)) return abandon(status);
        // fn's own failure: undo it alone, and wait to know that worked.
        if (!lease->SendCommand("ROLLBACK TO rapport_write", Want::kCheck).ok() ||
            !lease->SendCommand("RELEASE rapport_write", Want::kCheck).ok()) {
          return abandon(absl::OkStatus());
        }
        if (absl::Status undone = Settle(*lease, true); !undone.ok()) return abandon(undone);
        lease->ClearFailedEpoch();
      }
      results[members[j]] = std::move(status);
    }
    lease->set_epoch(0);
    if (absl::Status committed = Commit(*lease); !committed.ok()) {
      // A commit's serialization failure is the database's; a deferred
      // failure names its write (failed_epoch).
      return abandon(committed.code() == absl::StatusCode::kAborted && lease->failed_epoch() == 0
                         ? absl::AbortedError("could not serialize (commit)")
                         : committed);
    }
    commits_.fetch_add(1, std::memory_order_relaxed);
    transactions_.fetch_add(kept, std::memory_order_relaxed);
    outcome.committed = true;
    return outcome;
  }

  // Waits for the outcome of what was pipelined (RunLater statements; with
  // `always`, any command) and answers the first failure.
  static absl::Status Settle(PgConnection& conn, bool always = false) {
    if (always || conn.unsynced_checks() > 0) {
      RETURN_IF_ERROR(conn.Sync());
      RETURN_IF_ERROR(conn.Collect(nullptr));
    }
    return conn.TakeDeferred();
  }

  // Sends COMMIT with whatever is still pipelined and waits for it: the
  // write is durable (synchronous_commit) when this answers OK. A COMMIT of
  // a transaction the server had aborted answers ROLLBACK, not an error:
  // that is a failure too, never an acknowledged write.
  static absl::Status Commit(PgConnection& conn) {
    RETURN_IF_ERROR(conn.SendCommand("COMMIT", Want::kKeep));
    RETURN_IF_ERROR(conn.Sync());
    Result res;
    RETURN_IF_ERROR(conn.Collect(&res));
    RETURN_IF_ERROR(conn.TakeDeferred());
    const char* tag = res.res != nullptr ? PQcmdStatus(res.res) : nullptr;
    if (tag == nullptr || std::string_view(tag) != "COMMIT") {
      return absl::InternalError(absl::StrCat("postgres: the transaction was rolled back at COMMIT (",
                                              tag != nullptr ? tag : "no answer", ")"));
    }
    return absl::OkStatus();
  }

  // Everything under the lock, CREATE SCHEMA included: two replicas running
  // CREATE SCHEMA IF NOT EXISTS at once can both try to create it.
  absl::Status Migrate(PgConnection& conn) {
    const std::string lock_key = absl::StrCat("'rapport.migrations.", options_.schema, "'");
    RETURN_IF_ERROR(conn.Exec(absl::StrCat("SELECT pg_advisory_lock(hashtext(", lock_key, "))")));
    absl::Status status = conn.Exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", options_.schema));
    if (status.ok()) status = MigrateLocked(conn);
    if (!conn.broken()) {
      conn.Exec(absl::StrCat("SELECT pg_advisory_unlock(hashtext(", lock_key, "))")).IgnoreError();
    }
    return status;
  }

  absl::Status MigrateLocked(PgConnection& conn) {
    RETURN_IF_ERROR(
        conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT)"));
    for (;;) {
      RETURN_IF_ERROR(conn.Exec("BEGIN"));
      absl::Status status = [&]() -> absl::Status {
        auto max = conn.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        ASSIGN_OR_RETURN(bool row, max.Step());
        if (!row) return absl::InternalError("no row from MAX(version)");
        const int64_t applied = max.ColumnInt(0);
        const int64_t known = static_cast<int64_t>(options_.migrations.size());
        if (applied > known) {
          return absl::FailedPreconditionError(absl::StrCat("database schema ", options_.schema, " is at version ",
                                                            applied, " but only ", known, " migrations are known"));
        }
        if (applied == known) return absl::CancelledError("done");
        const int64_t version = applied + 1;
        absl::Status applied_ok = conn.Exec(PostgresDdl(options_.migrations[version - 1]));
        if (!applied_ok.ok()) {
          return absl::Status(applied_ok.code(), absl::StrCat("migration ", version, ": ", applied_ok.message()));
        }
        return conn.Prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
            .Bind(1, version)
            .Bind(2, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()))
            .Run();
      }();
      if (status.code() == absl::StatusCode::kCancelled) {
        return conn.Exec("COMMIT");
      }
      if (status.ok()) status = conn.Exec("COMMIT");
      if (!status.ok()) {
        if (!conn.broken()) conn.Exec("ROLLBACK").IgnoreError();
        return status;
      }
    }
  }

  Options options_;
  std::vector<std::unique_ptr<PgConnection>> pool_;
  ConnectionPool<PgConnection> idle_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Item> queue_;
  bool closing_ = false;
  std::vector<std::thread> workers_;

  std::atomic<int64_t> commits_{0};       // transactions committed
  std::atomic<int64_t> transactions_{0};  // writes they held
  absl::Mutex gate_;
  static thread_local bool retryable_;
};

thread_local bool PgDatabase::retryable_ = false;

// Copies a quoted run ('...' or "...") starting at sql[i], doubled quotes
// included; returns the index after it.
size_t CopyQuoted(std::string_view sql, size_t i, std::string* out) {
  const char quote = sql[i];
  out->push_back(sql[i++]);
  while (i < sql.size()) {
    out->push_back(sql[i]);
    if (sql[i] == quote) {
      if (i + 1 < sql.size() && sql[i + 1] == quote) {
        out->push_back(sql[++i]);
      } else {
        return i + 1;
      }
    }
    ++i;
  }
  return i;
}

}  // namespace

std::string PostgresQuery(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  for (size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      i = CopyQuoted(sql, i, &out);
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') out.push_back(sql[i++]);
    } else if (c == '?') {
      size_t j = i + 1;
      while (j < sql.size() && absl::ascii_isdigit(sql[j])) ++j;
      if (j > i + 1) {
        const int n = std::atoi(std::string(sql.substr(i + 1, j - i - 1)).c_str());
        if (n > next) next = n;
        absl::StrAppend(&out, "$", Av(sql.substr(i + 1, j - i - 1)));
      } else {
        absl::StrAppend(&out, "$", ++next);
      }
      i = j;
    } else if ((c == 'i' || c == 'I') && absl::EqualsIgnoreCase(Av(sql.substr(i, 6)), "instr(") &&
               (i == 0 || !(absl::ascii_isalnum(sql[i - 1]) || sql[i - 1] == '_'))) {
      out += "strpos(";
      i += 6;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

std::string PostgresDdl(std::string_view sql) {
  std::string s(sql);
  s = std::regex_replace(s, std::regex(R"(\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b)"),
                         "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  s = std::regex_replace(s, std::regex(R"(\)\s*WITHOUT\s+ROWID)"), ")");
  s = std::regex_replace(s, std::regex(R"(\bINTEGER\b)"), "BIGINT");
  s = std::regex_replace(s, std::regex(R"(\bREAL\b)"), "DOUBLE PRECISION");
  s = std::regex_replace(s, std::regex(R"(\bBLOB\b)"), "BYTEA");
  return s;
}

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) return std::string(url);
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return absl::StrCat(Av(url.substr(0, colon + 1)), "***", Av(url.substr(at)));
}

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const Options& options) {
  if (!absl::StartsWith(Av(options.url), "postgresql://") && !absl::StartsWith(Av(options.url), "postgres://")) {
    return absl::InvalidArgumentError("postgres: the URL must start with postgresql://");
  }
  if (!ValidSchema(options.schema)) {
    return absl::InvalidArgumentError(
        absl::StrCat("postgres: schema must be lowercase letters, digits and _: '", options.schema, "'"));
  }
  if (options.pool_size < 1 || options.write_workers < 1) {
    return absl::InvalidArgumentError("postgres: pool_size and write_workers must be positive");
  }
  auto db = std::make_unique<PgDatabase>(options);
  RETURN_IF_ERROR(db->Init());
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace rapport::db
