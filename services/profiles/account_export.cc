#include "services/profiles/account_export.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "rapport/interactions/v1/interactions.grpc.pb.h"
#include "rapport/notifications/v1/notifications.grpc.pb.h"
#include "services/common/audit.h"
#include "services/common/db_rows.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::profiles {
namespace {

namespace ipb = ::rapport::interactions::v1;
namespace npb = ::rapport::notifications::v1;

constexpr int kPage = 500;  // items per list call and per store read
constexpr std::chrono::minutes kLease{10};

bool IsUnavailable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// A JSON string literal for an id or a name (RFC 8259 escaping).
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Calls on the user's behalf, read access only.
class RemoteCaller {
 public:
  RemoteCaller(const TenantSigner* signer, std::chrono::milliseconds deadline) : signer_(signer), deadline_(deadline) {}

  // Runs call with a signed context for service's method; maps an outage to UNAVAILABLE.
  template <typename Call>
  absl::Status Run(const Owner& owner, std::string_view service, std::string_view method, Call call) const {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
    TenantContext tenant;
    tenant.org_id = owner.org;
    tenant.user_id = owner.user;
    tenant.Add(api::v1::READ);
    signer_->Sign(tenant, FullMethod(service, method), &ctx);
    grpc::Status s = call(&ctx);
    if (s.ok()) return absl::OkStatus();
    if (IsUnavailable(s))
      return absl::UnavailableError(absl::StrCat(std::string(service), " is unavailable: ", s.error_message()));
    return FromGrpcStatus(s);
  }

 private:
  const TenantSigner* signer_;
  const std::chrono::milliseconds deadline_;
};

// Pages through a list RPC: list(ctx, token, response) until no next token.
template <typename Resp, typename List, typename Each>
absl::Status Pages(const RemoteCaller& caller, const Owner& owner, std::string_view service, std::string_view method,
                   List list, Each each) {
  std::string token;
  do {
    Resp resp;
    RETURN_IF_ERROR(
        caller.Run(owner, service, method, [&](grpc::ClientContext* ctx) { return list(ctx, token, &resp); }));
    RETURN_IF_ERROR(each(resp));
    token = resp.next_page_token();
  } while (!token.empty());
  return absl::OkStatus();
}

class ProfilesSource : public AccountSource {
 public:
  explicit ProfilesSource(ProfilesStore* store) : store_(store) {}

  absl::Status Collect(const Owner& owner, const RecordSink& emit) override {
    ASSIGN_OR_RETURN(pb::Profile profile, store_->GetProfile(owner));
    RETURN_IF_ERROR(emit("profile", profile, {}));
    std::string after;
    for (;;) {
      ASSIGN_OR_RETURN(std::vector<pb::Contact> contacts, store_->ListContacts(owner, ContactFilter{}, after, kPage));
      for (const pb::Contact& c : contacts) RETURN_IF_ERROR(emit("contact", c, {}));
      if (static_cast<int>(contacts.size()) < kPage) break;
      after = contacts.back().id();
    }
    after.clear();
    for (;;) {
      ASSIGN_OR_RETURN(std::vector<pb::Group> groups, store_->ListGroups(owner, after, kPage));
      for (const pb::Group& g : groups) {
        RETURN_IF_ERROR(emit("group", g, {}));
        std::string after_member;
        for (;;) {
          ASSIGN_OR_RETURN(std::vector<pb::GroupMember> members,
                           store_->ListMembers(owner, g.id(), after_member, kPage));
          for (const pb::GroupMember& m : members) RETURN_IF_ERROR(emit("groupMember", m, {{"groupId", g.id()}}));
          if (static_cast<int>(members.size()) < kPage) break;
          after_member = members.back().member_id();
        }
      }
      if (static_cast<int>(groups.size()) < kPage) break;
      after = groups.back().id();
    }
    return absl::OkStatus();
  }

 private:
  ProfilesStore* store_;
};

class InteractionsSource : public AccountSource {
 public:
  InteractionsSource(std::shared_ptr<grpc::Channel> channel, const TenantSigner* signer,
                     std::chrono::milliseconds deadline)
      : stub_(ipb::InteractionsService::NewStub(std::move(channel))), caller_(signer, deadline) {}

  absl::Status Collect(const Owner& owner, const RecordSink& emit) override {
    const std::string service = ipb::InteractionsService::service_full_name();
    RETURN_IF_ERROR(Pages<ipb::ListInteractionsResponse>(
        caller_, owner, service, "ListInteractions",
        [&](grpc::ClientContext* ctx, const std::string& token, ipb::ListInteractionsResponse* resp) {
          ipb::ListInteractionsRequest req;
          req.set_page_size(kPage);
          req.set_page_token(token);
          return stub_->ListInteractions(ctx, req, resp);
        },
        [&](const ipb::ListInteractionsResponse& resp) -> absl::Status {
          for (const auto& i : resp.interactions()) RETURN_IF_ERROR(emit("interaction", i, {}));
          return absl::OkStatus();
        }));
    RETURN_IF_ERROR(Pages<ipb::ListIntroductionsResponse>(
        caller_, owner, service, "ListIntroductions",
        [&](grpc::ClientContext* ctx, const std::string& token, ipb::ListIntroductionsResponse* resp) {
          ipb::ListIntroductionsRequest req;
          req.set_page_size(kPage);
          req.set_page_token(token);
          return stub_->ListIntroductions(ctx, req, resp);
        },
        [&](const ipb::ListIntroductionsResponse& resp) -> absl::Status {
          for (const auto& i : resp.introductions()) RETURN_IF_ERROR(emit("introduction", i, {}));
          return absl::OkStatus();
        }));
    return Pages<ipb::ListLedgerResponse>(
        caller_, owner, service, "ListLedger",
        [&](grpc::ClientContext* ctx, const std::string& token, ipb::ListLedgerResponse* resp) {
          ipb::ListLedgerRequest req;
          req.set_page_size(kPage);
          req.set_page_token(token);
          return stub_->ListLedger(ctx, req, resp);
        },
        [&](const ipb::ListLedgerResponse& resp) -> absl::Status {
          for (const auto& e : resp.entries()) RETURN_IF_ERROR(emit("ledgerEntry", e, {}));
          return absl::OkStatus();
        });
  }

 private:
  std::unique_ptr<ipb::InteractionsService::Stub> stub_;
  RemoteCaller caller_;
};

class NotificationsSource : public AccountSource {
 public:
  NotificationsSource(std::shared_ptr<grpc::Channel> channel, const TenantSigner* signer,
                      std::chrono::milliseconds deadline)
      : stub_(npb::NotificationsService::NewStub(std::move(channel))), caller_(signer, deadline) {}

  absl::Status Collect(const Owner& owner, const RecordSink& emit) override {
    const std::string service = npb::NotificationsService::service_full_name();
    RETURN_IF_ERROR(Pages<npb::ListNotificationsResponse>(
        caller_, owner, service, "ListNotifications",
        [&](grpc::ClientContext* ctx, const std::string& token, npb::ListNotificationsResponse* resp) {
          npb::ListNotificationsRequest req;
          req.set_page_size(kPage);
          req.set_page_token(token);
          req.set_state(npb::ListNotificationsRequest::ALL);
          return stub_->ListNotifications(ctx, req, resp);
        },
        [&](const npb::ListNotificationsResponse& resp) -> absl::Status {
          for (const auto& n : resp.notifications()) RETURN_IF_ERROR(emit("notification", n, {}));
          return absl::OkStatus();
        }));
    RETURN_IF_ERROR(Pages<npb::ListRemindersResponse>(
        caller_, owner, service, "ListReminders",
        [&](grpc::ClientContext* ctx, const std::string& token, npb::ListRemindersResponse* resp) {
          npb::ListRemindersRequest req;
          req.set_page_size(kPage);
          req.set_page_token(token);
          return stub_->ListReminders(ctx, req, resp);
        },
        [&](const npb::ListRemindersResponse& resp) -> absl::Status {
          for (const auto& r : resp.reminders()) RETURN_IF_ERROR(emit("reminder", r, {}));
          return absl::OkStatus();
        }));
    std::vector<std::string> workflows;
    RETURN_IF_ERROR(Pages<npb::ListWorkflowsResponse>(
        caller_, owner, service, "ListWorkflows",
        [&](grpc::ClientContext* ctx, const std::string& token, npb::ListWorkflowsResponse* resp) {
          npb::ListWorkflowsRequest req;
          req.set_page_size(kPage);
          req.set_page_token(token);
          return stub_->ListWorkflows(ctx, req, resp);
        },
        [&](const npb::ListWorkflowsResponse& resp) -> absl::Status {
          for (const auto& w : resp.workflows()) {
            RETURN_IF_ERROR(emit("workflow", w, {}));
            workflows.push_back(w.id());
          }
          return absl::OkStatus();
        }));
    for (const std::string& workflow : workflows) {
      RETURN_IF_ERROR(Pages<npb::ListWorkflowRunsResponse>(
          caller_, owner, service, "ListWorkflowRuns",
          [&](grpc::ClientContext* ctx, const std::string& token, npb::ListWorkflowRunsResponse* resp) {
            npb::ListWorkflowRunsRequest req;
            req.set_workflow_id(workflow);
            req.set_page_size(kPage);
            req.set_page_token(token);
            return stub_->ListWorkflowRuns(ctx, req, resp);
          },
          [&](const npb::ListWorkflowRunsResponse& resp) -> absl::Status {
            for (const auto& r : resp.runs()) RETURN_IF_ERROR(emit("workflowRun", r, {{"workflowId", workflow}}));
            return absl::OkStatus();
          }));
    }
    return Pages<npb::ListWebhooksResponse>(
        caller_, owner, service, "ListWebhooks",
        [&](grpc::ClientContext* ctx, const std::string& token, npb::ListWebhooksResponse* resp) {
          npb::ListWebhooksRequest req;
          req.set_page_size(kPage);
          req.set_page_token(token);
          return stub_->ListWebhooks(ctx, req, resp);
        },
        [&](const npb::ListWebhooksResponse& resp) -> absl::Status {
          for (const auto& w : resp.webhooks()) RETURN_IF_ERROR(emit("webhook", w, {}));
          return absl::OkStatus();
        });
  }

 private:
  std::unique_ptr<npb::NotificationsService::Stub> stub_;
  RemoteCaller caller_;
};

// Download: the job's chunks, one read per write.
class DownloadStream : public grpc::ServerWriteReactor<api::v1::HttpBody> {
 public:
  DownloadStream(AccountExportStore* store, Owner owner, std::string id)
      : store_(store), owner_(std::move(owner)), id_(std::move(id)) {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    absl::StatusOr<std::optional<std::string>> chunk = store_->ReadChunk(owner_, id_, seq_);
    if (!chunk.ok()) return Finish(ToGrpcStatus(chunk.status()));
    if (!chunk->has_value()) {
      if (seq_ > 0) return Finish(grpc::Status::OK);
      // An empty file still names its type.
      body_.set_content_type(kAccountExportContentType);
      body_.clear_data();
      ++seq_;
      return StartWrite(&body_);
    }
    body_.set_content_type(kAccountExportContentType);
    *body_.mutable_data() = std::move(**chunk);
    ++seq_;
    StartWrite(&body_);
  }

  AccountExportStore* const store_;
  const Owner owner_;
  const std::string id_;
  int64_t seq_ = 0;
  api::v1::HttpBody body_;
};

class Refused : public grpc::ServerWriteReactor<api::v1::HttpBody> {
 public:
  explicit Refused(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

const char kAccountExportMigration[] = R"sql(
CREATE TABLE account_exports (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  export_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  lease_until_us INTEGER NOT NULL DEFAULT 0,
  create_us INTEGER NOT NULL,
  finish_us INTEGER,                  -- NULL until SUCCEEDED or FAILED
  data BLOB NOT NULL,                 -- rapport.profiles.v1.AccountExport
  PRIMARY KEY (org_id, user_id, export_id)
) WITHOUT ROWID;
CREATE INDEX account_exports_by_state ON account_exports (state, create_us);
CREATE INDEX account_exports_by_finish ON account_exports (finish_us);
CREATE TABLE account_export_chunks (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  export_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  create_us INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (org_id, user_id, export_id, seq)
) WITHOUT ROWID;
CREATE INDEX account_export_chunks_by_time ON account_export_chunks (create_us);
)sql";

std::vector<RetentionRule> ExportRetention() {
  return {RetentionRule{"account_exports", "org_id, user_id, export_id", "finish_us", kExportRetention},
          RetentionRule{"account_export_chunks", "org_id, user_id, export_id, seq", "create_us",
                        kExportRetention + std::chrono::hours(24)}};
}

void AccountExportStore::Create(const Owner& owner, const pb::AccountExport& job,
                                std::function<void(absl::Status)> done, std::optional<TenantContext> actor) {
  db_->WriteAsync(
      [owner, job, actor](db::Connection& conn) -> absl::Status {
        if (actor) {
          RETURN_IF_ERROR(
              audit::Record(conn, *actor, "profiles",
                            {.action = "export.created", .target_id = job.id(), .detail = "account", .org_id = ""}));
        }
        return conn
            .Prepare(
                "INSERT INTO account_exports (org_id, user_id, export_id, state, create_us, data) "
                "VALUES (?, ?, ?, ?, ?, ?)")
            .Bind(1, owner.org)
            .Bind(2, owner.user)
            .Bind(3, job.id())
            .Bind(4, static_cast<int>(job.state()))
            .Bind(5, TimestampToMicros(job.create_time()))
            .BindBlob(6, job.SerializeAsString())
            .Run();
      },
      std::move(done));
}

absl::StatusOr<pb::AccountExport> AccountExportStore::Get(const Owner& owner, const std::string& id) {
  pb::AccountExport job;
  RETURN_IF_ERROR(db_->Read([&](db::Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT data FROM account_exports WHERE org_id = ? AND user_id = ? AND export_id = ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
    ASSIGN_OR_RETURN(job, db::ReadBlob<pb::AccountExport>(st, "export"));
    return absl::OkStatus();
  }));
  return job;
}

absl::StatusOr<std::optional<AccountExportStore::Claimed>> AccountExportStore::ClaimNext(int64_t now_us,
                                                                                         int64_t lease_until_us) {
  std::optional<Claimed> claimed;
  RETURN_IF_ERROR(db_->Write([&](db::Connection& conn) -> absl::Status {
    claimed.reset();
    // Maintenance scan across orgs (tests/citus_readiness_test.cc names it).
    auto scan = conn.Prepare(
        "SELECT org_id, user_id, export_id, data FROM account_exports WHERE state IN (1, 2) AND lease_until_us < ? "
        "ORDER BY state, create_us LIMIT 1");
    scan.Bind(1, now_us);
    ASSIGN_OR_RETURN(bool row, scan.Step());
    if (!row) return absl::OkStatus();
    Claimed c;
    c.owner = Owner{scan.ColumnText(0), scan.ColumnText(1)};
    RETURN_IF_ERROR(db::ParseRow(scan.ColumnBlob(3), &c.job));
    c.job.set_state(pb::AccountExport::RUNNING);
    c.job.set_attempts(c.job.attempts() + 1);
    // The lease condition again: on PostgreSQL another replica may have
    // claimed the job since the scan; then this one takes nothing this turn.
    RETURN_IF_ERROR(conn.Prepare("UPDATE account_exports SET state = ?, lease_until_us = ?, data = ? "
                                 "WHERE org_id = ? AND user_id = ? AND export_id = ? AND lease_until_us < ?")
                        .Bind(1, static_cast<int>(c.job.state()))
                        .Bind(2, lease_until_us)
                        .BindBlob(3, c.job.SerializeAsString())
                        .Bind(4, c.owner.org)
                        .Bind(5, c.owner.user)
                        .Bind(6, c.job.id())
                        .Bind(7, now_us)
                        .Run());
    if (conn.Changes() == 1) claimed = std::move(c);
    return absl::OkStatus();
  }));
  return claimed;
}

absl::Status AccountExportStore::ClearChunks(const Owner& owner, const std::string& id) {
  return db_->Write([&](db::Connection& conn) -> absl::Status {
    return conn.Prepare("DELETE FROM account_export_chunks WHERE org_id = ? AND user_id = ? AND export_id = ?")
        .Bind(1, owner.org)
        .Bind(2, owner.user)
        .Bind(3, id)
        .Run();
  });
}

absl::Status AccountExportStore::AppendChunk(const Owner& owner, const std::string& id, int64_t seq,
                                             const std::string& data) {
  return db_->Write([&](db::Connection& conn) -> absl::Status {
    return conn
        .Prepare(
            "INSERT INTO account_export_chunks (org_id, user_id, export_id, seq, create_us, data) "
            "VALUES (?, ?, ?, ?, ?, ?)")
        .Bind(1, owner.org)
        .Bind(2, owner.user)
        .Bind(3, id)
        .Bind(4, seq)
        .Bind(5, NowMicros())
        .BindBlob(6, data)
        .Run();
  });
}

absl::Status AccountExportStore::Save(const Owner& owner, const pb::AccountExport& job, int64_t next_attempt_us) {
  return db_->Write([&](db::Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "UPDATE account_exports SET state = ?, finish_us = ?, data = ?, lease_until_us = ? WHERE org_id = ? AND "
        "user_id = ? AND export_id = ?");
    st.Bind(1, static_cast<int>(job.state()));
    if (job.has_finish_time()) {
      st.Bind(2, TimestampToMicros(job.finish_time()));
    } else {
      st.BindNull(2);
    }
    st.BindBlob(3, job.SerializeAsString()).Bind(4, next_attempt_us).Bind(5, owner.org).Bind(6, owner.user);
    st.Bind(7, job.id());
    return st.Run();
  });
}

absl::StatusOr<std::optional<std::string>> AccountExportStore::ReadChunk(const Owner& owner, const std::string& id,
                                                                         int64_t seq) {
  std::optional<std::string> out;
  RETURN_IF_ERROR(db_->Read([&](db::Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT data FROM account_export_chunks WHERE org_id = ? AND user_id = ? AND export_id = ? AND seq = ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id).Bind(4, seq);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) out = st.ColumnBlob(0);
    return absl::OkStatus();
  }));
  return out;
}

std::unique_ptr<AccountSource> ProfilesAccountSource(ProfilesStore* store) {
  return std::make_unique<ProfilesSource>(store);
}

std::unique_ptr<AccountSource> InteractionsAccountSource(std::shared_ptr<grpc::Channel> channel,
                                                         const TenantSigner* signer,
                                                         std::chrono::milliseconds deadline) {
  return std::make_unique<InteractionsSource>(std::move(channel), signer, deadline);
}

std::unique_ptr<AccountSource> NotificationsAccountSource(std::shared_ptr<grpc::Channel> channel,
                                                          const TenantSigner* signer,
                                                          std::chrono::milliseconds deadline) {
  return std::make_unique<NotificationsSource>(std::move(channel), signer, deadline);
}

AccountExporter::AccountExporter(AccountExportStore* store, std::vector<std::unique_ptr<AccountSource>> sources,
                                 std::chrono::milliseconds poll, std::chrono::milliseconds retry_backoff)
    : store_(store), sources_(std::move(sources)), poll_(poll), retry_backoff_(retry_backoff) {}

AccountExporter::~AccountExporter() { Stop(); }

void AccountExporter::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      absl::StatusOr<bool> ran = RunOnce();
      if (!ran.ok()) log::Warn("account export poll failed", {{"error", ran.status().ToString()}});
      lock.lock();
      if (ran.ok() && *ran) continue;  // maybe more waiting
      cv_.wait_for(lock, poll_, [this] { return stop_ || kicked_; });
      kicked_ = false;
    }
  });
}

void AccountExporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AccountExporter::Kick() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

absl::StatusOr<bool> AccountExporter::RunOnce() {
  const int64_t now = NowMicros();
  ASSIGN_OR_RETURN(std::optional<AccountExportStore::Claimed> claimed,
                   store_->ClaimNext(now, now + std::chrono::duration_cast<std::chrono::microseconds>(kLease).count()));
  if (!claimed.has_value()) return false;
  pb::AccountExport& job = claimed->job;
  absl::Status written = Write(claimed->owner, job);
  if (written.ok()) {
    job.set_state(pb::AccountExport::SUCCEEDED);
    job.clear_error();
  } else {
    log::Warn("account export attempt failed",
              {{"org", claimed->owner.org}, {"export", job.id()}, {"error", written.ToString()}});
    job.set_error(std::string(written.message()));
    // An outage is retried (the lease lapses, or at once when kept); anything
    // else, or too many attempts, fails the job.
    if (!absl::IsUnavailable(written) || job.attempts() >= kExportAttempts) {
      job.set_state(pb::AccountExport::FAILED);
    } else {
      job.set_state(pb::AccountExport::PENDING);
    }
  }
  if (job.state() != pb::AccountExport::PENDING) {
    const int64_t done = NowMicros();
    *job.mutable_finish_time() = ToTimestamp(done);
    *job.mutable_expire_time() =
        ToTimestamp(done + std::chrono::duration_cast<std::chrono::microseconds>(kExportRetention).count());
  }
  const int64_t next_attempt =
      job.state() == pb::AccountExport::PENDING && retry_backoff_.count() > 0
          ? NowMicros() + std::chrono::duration_cast<std::chrono::microseconds>(retry_backoff_).count() * job.attempts()
          : 0;
  RETURN_IF_ERROR(store_->Save(claimed->owner, job, next_attempt));
  log::Info("account export", {{"org", claimed->owner.org},
                               {"export", job.id()},
                               {"state", pb::AccountExport::State_Name(job.state())},
                               {"records", absl::StrCat(job.records())},
                               {"bytes", absl::StrCat(job.bytes())}});
  return true;
}

absl::Status AccountExporter::Write(const Owner& owner, pb::AccountExport& job) {
  RETURN_IF_ERROR(store_->ClearChunks(owner, job.id()));
  std::string buffer;
  int64_t seq = 0, records = 0, bytes = 0;
  google::protobuf::util::JsonPrintOptions json_options;
  auto flush = [&]() -> absl::Status {
    if (buffer.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(store_->AppendChunk(owner, job.id(), seq++, buffer));
    bytes += static_cast<int64_t>(buffer.size());
    buffer.clear();
    return absl::OkStatus();
  };
  RecordSink emit = [&](std::string_view kind, const google::protobuf::Message& data,
                        const std::vector<std::pair<std::string, std::string>>& extra) -> absl::Status {
    std::string json;
    auto printed = google::protobuf::util::MessageToJsonString(data, &json, json_options);
    if (!printed.ok())
      return absl::InternalError(absl::StrCat("cannot print a ", std::string(kind), ": ", printed.ToString()));
    absl::StrAppend(&buffer, "{\"type\":", JsonString(kind));
    for (const auto& [key, value] : extra) absl::StrAppend(&buffer, ",", JsonString(key), ":", JsonString(value));
    absl::StrAppend(&buffer, ",\"data\":", json, "}\n");
    ++records;
    if (buffer.size() >= kExportChunkBytes) return flush();
    return absl::OkStatus();
  };
  // The header line says what the file is.
  absl::StrAppend(&buffer, "{\"type\":\"export\",\"data\":{\"id\":", JsonString(job.id()),
                  ",\"orgId\":", JsonString(owner.org), ",\"userId\":", JsonString(owner.user),
                  ",\"createTime\":", JsonString(google::protobuf::util::TimeUtil::ToString(job.create_time())),
                  "}}\n");
  ++records;
  for (const auto& source : sources_) RETURN_IF_ERROR(source->Collect(owner, emit));
  RETURN_IF_ERROR(flush());
  job.set_records(records);
  job.set_bytes(bytes);
  return absl::OkStatus();
}

grpc::ServerWriteReactor<api::v1::HttpBody>* StartAccountExportDownload(AccountExportStore* store, const Owner& owner,
                                                                        const std::string& id) {
  absl::StatusOr<pb::AccountExport> job = store->Get(owner, id);
  if (!job.ok()) return new Refused(ToGrpcStatus(job.status()));
  if (job->state() != pb::AccountExport::SUCCEEDED) {
    return new Refused(ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("export ", id, " is ", pb::AccountExport::State_Name(job->state()), ", not SUCCEEDED"))));
  }
  return new DownloadStream(store, owner, id);
}

}  // namespace rapport::profiles
