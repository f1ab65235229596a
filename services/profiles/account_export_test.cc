// The account export job store and runner, and erasure of a user and an org
// in profiles' store, over both drivers of the database layer.
#include "services/profiles/account_export.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "services/common/crypto.h"
#include "services/common/erasure.h"
#include "services/common/idempotency.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::profiles {
namespace {

using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

// An org admin of org, as the erasure's audit entry records.
TenantContext AdminOf(const std::string& org) {
  TenantContext admin;
  admin.org_id = org;
  admin.key_id = "admin-key";
  return admin;
}

// A source that fails with `error` its first `failures` times, then emits one record.
class FlakySource : public AccountSource {
 public:
  FlakySource(int failures, absl::Status error) : failures_(failures), error_(std::move(error)) {}
  absl::Status Collect(const Owner&, const RecordSink& emit) override {
    if (calls_++ < failures_) return error_;
    pb::Group g;
    g.set_id("g1");
    g.set_display_name("From elsewhere \"quoted\"");
    return emit("elsewhere", g, {{"note", "line\nbreak"}});
  }
  int calls_ = 0;

 private:
  const int failures_;
  const absl::Status error_;
};

class AccountExportTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "profiles");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    if (!options->path.empty()) dir_ = std::filesystem::path(options->path).parent_path();
    auto s = ProfilesStore::Open(*options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    exports_ = std::make_unique<AccountExportStore>(&store_->db());
    org_ = NewOrg();
    alice_ = Owner{org_, NewUser(org_, "alice@acme.test")};
    bob_ = Owner{org_, NewUser(org_, "bob@acme.test")};
  }
  void TearDown() override {
    exports_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string NewOrg() {
    pb::Org org;
    org.set_id(NewId());
    org.set_display_name("Acme");
    StoredApiKey key;
    key.org_id = org.id();
    key.key.set_id(NewId());
    key.secret_sha256 = Sha256("secret-" + org.id());
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { store_->CreateOrg(org, key, TenantContext{}, d); }).ok());
    return org.id();
  }
  std::string NewUser(const std::string& org, const std::string& email) {
    pb::User user;
    user.set_id(NewId());
    user.set_display_name(email.substr(0, email.find('@')));
    user.set_email(email);
    EXPECT_TRUE((Await<pb::User>([&](Done<pb::User> d) {
                  store_->CreateUser(org, user, IdempotencyScope{}, pb::CreateUserRequest(), TenantContext{}, d);
                })).ok());
    return user.id();
  }
  std::string NewContact(const Owner& owner, const std::string& name) {
    pb::Contact c;
    c.set_id(NewId());
    c.set_display_name(name);
    c.set_notes("secret notes");
    auto made = Await<pb::Contact>([&](Done<pb::Contact> d) {
      store_->CreateContact(owner, c, IdempotencyScope{}, pb::CreateContactRequest(), int64_t{1} << 40, d);
    });
    EXPECT_TRUE(made.ok()) << made.status();
    return c.id();
  }
  pb::AccountExport NewJob(const Owner& owner) {
    pb::AccountExport job;
    job.set_id(NewId());
    job.set_state(pb::AccountExport::PENDING);
    *job.mutable_create_time() = ToTimestamp(NowMicros());
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { exports_->Create(owner, job, d); }).ok());
    return job;
  }
  std::string File(const Owner& owner, const std::string& id) {
    std::string out;
    for (int64_t seq = 0;; ++seq) {
      auto chunk = exports_->ReadChunk(owner, id, seq);
      EXPECT_TRUE(chunk.ok()) << chunk.status();
      if (!chunk.ok() || !chunk->has_value()) return out;
      out += **chunk;
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<ProfilesStore> store_;
  std::unique_ptr<AccountExportStore> exports_;
  std::string org_;
  Owner alice_, bob_;
};

TEST_P(AccountExportTest, RunsAJobIntoChunksOwnedByTheUser) {
  NewContact(alice_, "Ann");
  NewContact(alice_, "Ben");
  NewContact(bob_, "Bob's");
  const pb::AccountExport job = NewJob(alice_);
  std::vector<std::unique_ptr<AccountSource>> sources;
  sources.push_back(ProfilesAccountSource(store_.get()));
  sources.push_back(std::make_unique<FlakySource>(0, absl::OkStatus()));
  AccountExporter exporter(exports_.get(), std::move(sources));
  ASSERT_EQ(*exporter.RunOnce(), true);
  EXPECT_EQ(*exporter.RunOnce(), false);  // nothing left

  auto done = exports_->Get(alice_, job.id());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), pb::AccountExport::SUCCEEDED);
  EXPECT_EQ(done->records(), 5);  // header, profile, two contacts, the other source's record
  EXPECT_TRUE(done->has_expire_time());
  const std::string file = File(alice_, job.id());
  EXPECT_EQ(done->bytes(), static_cast<int64_t>(file.size()));
  std::vector<std::string> lines = absl::StrSplit(file, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << file;
  EXPECT_TRUE(absl::StartsWith(lines[0], "{\"type\":\"export\",\"data\":{\"id\":\"" + job.id())) << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[1], "{\"type\":\"profile\",\"data\":")) << lines[1];
  EXPECT_TRUE(absl::StrContains(file, "\"notes\":\"secret notes\""));
  EXPECT_FALSE(absl::StrContains(file, "Bob's"));
  EXPECT_EQ(lines[4],
            "{\"type\":\"elsewhere\",\"note\":\"line\\u000abreak\",\"data\":{\"id\":\"g1\",\"displayName\":\"From "
            "elsewhere \\\"quoted\\\"\"}}");
  // Only its owner reaches it.
  EXPECT_EQ(exports_->Get(bob_, job.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(exports_->ReadChunk(bob_, job.id(), 0)->has_value());
  EXPECT_EQ(exports_->Get(Owner{"other-org", alice_.user}, job.id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(AccountExportTest, AnOutageIsRetriedThenTheJobFails) {
  const pb::AccountExport retried = NewJob(alice_);
  {
    std::vector<std::unique_ptr<AccountSource>> sources;
    sources.push_back(std::make_unique<FlakySource>(2, absl::UnavailableError("interactions is down")));
    AccountExporter exporter(exports_.get(), std::move(sources), std::chrono::seconds(2), std::chrono::milliseconds(0));
    ASSERT_TRUE(*exporter.RunOnce());
    EXPECT_EQ(exports_->Get(alice_, retried.id())->state(), pb::AccountExport::PENDING);
    EXPECT_EQ(exports_->Get(alice_, retried.id())->error(), "interactions is down");
    ASSERT_TRUE(*exporter.RunOnce());
    ASSERT_TRUE(*exporter.RunOnce());
    auto job = exports_->Get(alice_, retried.id());
    EXPECT_EQ(job->state(), pb::AccountExport::SUCCEEDED);
    EXPECT_EQ(job->attempts(), 3);
  }
  const pb::AccountExport failed = NewJob(alice_);
  std::vector<std::unique_ptr<AccountSource>> sources;
  sources.push_back(std::make_unique<FlakySource>(100, absl::UnavailableError("down for good")));
  AccountExporter exporter(exports_.get(), std::move(sources), std::chrono::seconds(2), std::chrono::milliseconds(0));
  for (int i = 0; i < kExportAttempts; ++i) ASSERT_TRUE(*exporter.RunOnce());
  EXPECT_FALSE(*exporter.RunOnce());
  auto job = exports_->Get(alice_, failed.id());
  EXPECT_EQ(job->state(), pb::AccountExport::FAILED);
  EXPECT_EQ(job->attempts(), kExportAttempts);
  EXPECT_TRUE(job->has_finish_time());
}

TEST_P(AccountExportTest, ErasingAUserRemovesTheirRowsAndEmitsTheEvent) {
  const std::string ann = NewContact(alice_, "Ann");
  const std::string bobs = NewContact(bob_, "Bob's");
  NewJob(alice_);
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteUser(org_, alice_.user, AdminOf(org_), d); }).ok());
  EXPECT_EQ(store_->GetUser(org_, alice_.user).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetContact(alice_, ann).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetContact(bob_, bobs).ok());
  // Again, or from another org: NOT_FOUND.
  EXPECT_EQ(AwaitStatus([&](DoneStatus d) { store_->DeleteUser(org_, alice_.user, AdminOf(org_), d); }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      AwaitStatus([&](DoneStatus d) { store_->DeleteUser("other-org", bob_.user, AdminOf("other-org"), d); }).code(),
      absl::StatusCode::kNotFound);
  int user_rows = -1, deleted_events = 0, alice_events = 0;
  ASSERT_TRUE(store_->db()
                  .Read([&](db::Connection& conn) -> absl::Status {
                    auto st = conn.Prepare(
                        "SELECT (SELECT COUNT(*) FROM contacts WHERE org_id = ?1 AND user_id = ?2) + "
                        "(SELECT COUNT(*) FROM users WHERE org_id = ?1 AND user_id = ?2) + "
                        "(SELECT COUNT(*) FROM account_exports WHERE org_id = ?1 AND user_id = ?2)");
                    st.Bind(1, org_).Bind(2, alice_.user);
                    ASSIGN_OR_RETURN(bool row, st.Step());
                    if (row) user_rows = static_cast<int>(st.ColumnInt(0));
                    auto events = conn.Prepare("SELECT type, data FROM outbox WHERE org_id = ?");
                    events.Bind(1, org_);
                    for (;;) {
                      ASSIGN_OR_RETURN(bool more, events.Step());
                      if (!more) break;
                      events::v1::Event e;
                      e.ParseFromString(events.ColumnBlob(1));
                      if (events.ColumnText(0) == kUserDeletedEvent && e.user_id() == alice_.user) ++deleted_events;
                      if (e.user_id() == alice_.user && events.ColumnText(0) != kUserDeletedEvent) ++alice_events;
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(user_rows, 0);
  EXPECT_EQ(deleted_events, 1);
  EXPECT_EQ(alice_events, 0);  // her earlier events (with her data) went with her
}

TEST_P(AccountExportTest, ErasingAnOrgLeavesOnlyItsEvent) {
  const std::string other = NewOrg();
  const Owner carol{other, NewUser(other, "carol@other.test")};
  NewContact(alice_, "Ann");
  NewContact(carol, "Cid");
  TenantContext platform;
  platform.Add(api::v1::PLATFORM);
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteOrg(org_, platform, d); }).ok());
  EXPECT_EQ(AwaitStatus([&](DoneStatus d) { store_->DeleteOrg(org_, platform, d); }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetUser(org_, bob_.user).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetUser(other, carol.user).ok());
  auto listed = store_->ListContacts(carol, ContactFilter{}, "", 10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
  ASSERT_TRUE(store_->db()
                  .Read([&](db::Connection& conn) -> absl::Status {
                    for (const char* table : {"orgs", "users", "api_keys", "contacts"}) {
                      auto st = conn.Prepare(std::string("SELECT COUNT(*) FROM ") + table + " WHERE org_id = ?");
                      st.Bind(1, org_);
                      ASSIGN_OR_RETURN(bool row, st.Step());
                      EXPECT_TRUE(row);
                      EXPECT_EQ(st.ColumnInt(0), 0) << table;
                    }
                    auto st = conn.Prepare("SELECT type FROM outbox WHERE org_id = ?");
                    st.Bind(1, org_);
                    ASSIGN_OR_RETURN(bool row, st.Step());
                    EXPECT_TRUE(row);
                    EXPECT_EQ(st.ColumnText(0), kOrgDeletedEvent);
                    ASSIGN_OR_RETURN(bool more, st.Step());
                    EXPECT_FALSE(more);
                    // The platform's audit log is told, by the org's id alone.
                    auto audit = conn.Prepare("SELECT data FROM outbox WHERE org_id = ? AND type = ?");
                    audit.Bind(1, audit::kPlatformOrg).Bind(2, audit::kRecordedType);
                    ASSIGN_OR_RETURN(bool recorded, audit.Step());
                    EXPECT_TRUE(recorded);
                    if (recorded) {
                      events::v1::Event e;
                      EXPECT_TRUE(e.ParseFromString(audit.ColumnBlob(0)));
                      EXPECT_EQ(e.audit().action(), "org.erased");
                      EXPECT_EQ(e.audit().target_id(), org_);
                      EXPECT_EQ(e.audit().actor(), "platform");
                    }
                    return absl::OkStatus();
                  })
                  .ok());
}

INSTANTIATE_TEST_SUITE_P(Drivers, AccountExportTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::profiles
