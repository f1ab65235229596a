// The import job against the store on both drivers: a real LinkedIn export
// applied by the runner, counts exact; the same file twice creates nothing;
// merges fill empty fields only; a chunk commits with its checkpoint (a
// stale runner is refused, a resumed job never doubles); the contact quota;
// leases; another org's or user's import is invisible.
#include "services/profiles/import_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "services/profiles/import_jobs.h"
#include "services/profiles/profiles_store.h"
#include "services/profiles/profiles_store_testing.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::profiles {
namespace {

using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(RAPPORT_SOURCE_DIR) + "/tests/fixtures/import/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ImportStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "profiles");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    if (!options_.path.empty()) dir_ = std::filesystem::path(options_.path).parent_path();
    auto s = ProfilesStore::Open(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    imports_ = std::make_unique<ImportStore>(&store_->db());
    org_ = NewOrg();
    alice_ = Owner{org_, NewUser(org_, "alice@acme.test")};
    bob_ = Owner{org_, NewUser(org_, "bob@acme.test")};
  }
  void TearDown() override {
    imports_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string NewOrg() { return testing::CreateTestOrg(*store_); }
  std::string NewUser(const std::string& org, const std::string& email) {
    return testing::CreateTestUser(*store_, org, email, "u");
  }
  // Accepts a file as POST /v1/imports does.
  pb::Import Queue(const Owner& owner, const std::string& data, const std::string& format = "") {
    pb::CreateImportRequest req;
    req.mutable_file()->set_data(data);
    req.set_format(format);
    absl::StatusOr<pb::Import> import = PrepareImport(req, NewId(), NowMicros());
    EXPECT_TRUE(import.ok()) << import.status();
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { imports_->Create(owner, *import, data, d); }).ok());
    return *import;
  }
  // Claims every queued job for runner and runs it to its end.
  void RunAll(ImportRunner& runner) {
    int64_t now = NowMicros();
    auto jobs = imports_->Claim(runner.id(), now, now + 60'000'000, 10);
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    for (const ImportJob& job : *jobs) ASSERT_TRUE(runner.RunJob(job).ok());
  }
  std::vector<pb::Contact> Contacts(const Owner& owner) {
    auto list = store_->ListContacts(owner, ContactFilter{}, "", 100000);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<pb::Contact>();
  }
  pb::Import Get(const Owner& owner, const std::string& id) {
    auto import = imports_->Get(owner, id, true);
    EXPECT_TRUE(import.ok()) << import.status();
    return import.ok() ? *import : pb::Import();
  }

  db::Options options_;
  std::filesystem::path dir_;
  std::unique_ptr<ProfilesStore> store_;
  std::unique_ptr<ImportStore> imports_;
  std::string org_;
  Owner alice_, bob_;
};

TEST_P(ImportStoreTest, LinkedInExportAppliedWithExactCounts) {
  ImportRunner runner(imports_.get(), nullptr, {});
  pb::Import queued = Queue(alice_, Fixture("linkedin_connections.csv"));
  EXPECT_EQ(queued.format(), "linkedin");
  EXPECT_EQ(queued.rows_total(), 1000);
  RunAll(runner);
  pb::Import done = Get(alice_, queued.id());
  EXPECT_EQ(done.state(), pb::IMPORT_SUCCEEDED);
  EXPECT_EQ(done.rows_read(), 1000);
  EXPECT_EQ(done.created(), 997);
  EXPECT_EQ(done.merged(), 1);  // the repeated first row
  EXPECT_EQ(done.skipped(), 2);
  ASSERT_EQ(done.skips_size(), 2);
  EXPECT_TRUE(absl::StrContains(done.skips(0).reason(), "columns")) << done.skips(0).reason();
  EXPECT_TRUE(absl::StrContains(done.skips(1).reason(), "UTF-8")) << done.skips(1).reason();
  EXPECT_EQ(Contacts(alice_).size(), 997u);
  EXPECT_TRUE(Contacts(bob_).empty());
  // Done: nothing left to claim, the file is gone.
  auto left = imports_->Claim("other", NowMicros(), NowMicros() + 1000, 10);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  EXPECT_TRUE(absl::IsNotFound(imports_->File(ImportJob{alice_, queued.id()}).status()));
}

TEST_P(ImportStoreTest, TheSameFileTwiceCreatesNothingTheSecondTime) {
  ImportRunner runner(imports_.get(), nullptr, {});
  const std::string file = Fixture("linkedin_connections.csv");
  Queue(alice_, file);
  RunAll(runner);
  pb::Import second = Queue(alice_, file);
  RunAll(runner);
  pb::Import done = Get(alice_, second.id());
  EXPECT_EQ(done.created(), 0);
  EXPECT_EQ(done.merged(), 998);
  EXPECT_EQ(done.skipped(), 2);
  EXPECT_EQ(Contacts(alice_).size(), 997u);
}

TEST_P(ImportStoreTest, MergeFillsEmptyFieldsAndNeverOverwrites) {
  pb::Contact mine;
  mine.set_id(NewId());
  mine.set_display_name("Grace (my friend)");
  mine.set_company("My Own Words");
  mine.add_emails("grace@navy.example");
  mine.add_tags("friend");
  mine.set_tier(pb::INNER);
  ASSERT_TRUE((Await<pb::Contact>([&](Done<pb::Contact> d) {
                store_->CreateContact(alice_, mine, IdempotencyScope{}, pb::CreateContactRequest(), 1000, d);
              })).ok());
  ImportRunner runner(imports_.get(), nullptr, {});
  pb::Import queued = Queue(alice_, Fixture("google.vcf"));
  RunAll(runner);
  pb::Import done = Get(alice_, queued.id());
  EXPECT_EQ(done.merged(), 1);
  EXPECT_EQ(done.created(), 1);
  auto after = store_->GetContact(alice_, mine.id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->display_name(), "Grace (my friend)");
  EXPECT_EQ(after->company(), "My Own Words");
  EXPECT_EQ(after->title(), "Rear Admiral");  // was empty: filled
  EXPECT_EQ(after->tier(), pb::INNER);        // never overwritten
  EXPECT_EQ(after->birthday().year(), 1906);  // was empty: filled
  ASSERT_EQ(after->tags_size(), 3);           // unioned
  EXPECT_EQ(after->tags(0), "friend");
  ASSERT_EQ(after->emails_size(), 2);
}

TEST_P(ImportStoreTest, ChunksCommitWithTheirCheckpointAndAResumedJobNeverDoubles) {
  pb::Import queued = Queue(alice_, Fixture("linkedin_connections.csv"));
  ImportJob job{alice_, queued.id()};
  ImportOptions options;
  auto parsed = ParseImportFile(Fixture("linkedin_connections.csv"), options);
  ASSERT_TRUE(parsed.ok());
  absl::flat_hash_map<std::string, std::string> index;
  // A first runner applies rows [0, 300) and then "dies".
  auto chunk = imports_->CommitChunk(job, parsed->rows, 0, 300, index, 100000, NowMicros());
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(chunk->import.rows_read(), 300);
  // A stale runner that still thinks the checkpoint is 0 is refused whole.
  auto stale = imports_->CommitChunk(job, parsed->rows, 0, 300, index, 100000, NowMicros());
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  EXPECT_EQ(Contacts(alice_).size(), 300u);
  // Another runner resumes at the checkpoint.
  ImportRunner runner(imports_.get(), nullptr, {});
  RunAll(runner);
  pb::Import done = Get(alice_, queued.id());
  EXPECT_EQ(done.state(), pb::IMPORT_SUCCEEDED);
  EXPECT_EQ(done.rows_read(), 1000);
  EXPECT_EQ(done.created() + done.merged() + done.skipped(), 1000);
  EXPECT_EQ(done.created(), 997);
  EXPECT_EQ(Contacts(alice_).size(), 997u);
}

TEST_P(ImportStoreTest, RowsOverTheContactQuotaAreSkippedWithTheReason) {
  ImportRunnerOptions options;
  options.max_contacts = 5;
  ImportRunner runner(imports_.get(), nullptr, options);
  pb::Import queued = Queue(alice_, Fixture("linkedin_connections.csv"));
  RunAll(runner);
  pb::Import done = Get(alice_, queued.id());
  EXPECT_EQ(done.created(), 5);
  EXPECT_EQ(done.skipped(), 1000 - 5 - 1);  // the repeated first row still merges
  EXPECT_EQ(Contacts(alice_).size(), 5u);
  ASSERT_GT(done.skips_size(), 0);
  EXPECT_TRUE(absl::StrContains(done.skips(0).reason(), "quota contactsPerUser")) << done.skips(0).reason();
}

TEST_P(ImportStoreTest, LeasesKeepOneRunnerPerJob) {
  pb::Import queued = Queue(alice_, Fixture("apple.vcf"));
  int64_t now = NowMicros();
  auto a = imports_->Claim("a", now, now + 1'000'000, 10);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  auto b = imports_->Claim("b", now + 10, now + 1'000'000, 10);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->empty());
  EXPECT_FALSE(imports_->Renew((*a)[0], "b", now + 2'000'000).ok());
  auto later = imports_->Claim("b", now + 1'000'001, now + 3'000'000, 10);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].import_id, queued.id());
}

TEST_P(ImportStoreTest, AnotherUsersOrOrgsImportIsNotFound) {
  pb::Import queued = Queue(alice_, Fixture("apple.vcf"));
  EXPECT_TRUE(absl::IsNotFound(imports_->Get(bob_, queued.id(), true).status()));
  Owner stranger{NewOrg(), alice_.user};
  EXPECT_TRUE(absl::IsNotFound(imports_->Get(stranger, queued.id(), true).status()));
  auto mine = imports_->List(alice_, "", 10);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->size(), 1u);
  auto theirs = imports_->List(bob_, "", 10);
  ASSERT_TRUE(theirs.ok());
  EXPECT_TRUE(theirs->empty());
}

INSTANTIATE_TEST_SUITE_P(Drivers, ImportStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::profiles
