// Orgs' JWT signing keys in the profiles database, on both drivers: the key
// made with the org, rotation with a grace period, secrets sealed at rest,
// another org's keys invisible, and the per-org bound on live keys.
#include "services/profiles/jwt_keys_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_store.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::profiles {
namespace {

using ::rapport::testing::AwaitStatus;

class JwtKeysStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    auto box = SecretBox::FromText("00112233445566778899aabbccddeeff8f1e2d3c4b5a69788796a5b4c3d2e1f0");
    ASSERT_TRUE(box.ok()) << box.status();
    SetProcessSecretBox(*std::move(box));
  }
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "profiles");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    if (!options_.path.empty()) dir_ = std::filesystem::path(options_.path).parent_path();
    auto s = ProfilesStore::Open(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    keys_ = std::make_unique<JwtKeysStore>(&store_->db());
  }
  void TearDown() override {
    keys_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // A new org with its first key (as CreateOrg makes them).
  StoredJwtKey NewOrg(int64_t now_us) {
    pb::Org org;
    org.set_id(NewId());
    org.set_display_name("Org");
    *org.mutable_create_time() = ToTimestamp(now_us);
    StoredApiKey admin;
    admin.org_id = org.id();
    admin.key.set_id(NewId());
    admin.secret_sha256 = Sha256("secret-" + org.id());
    StoredJwtKey first = NewJwtKey(org.id(), NewId(), now_us);
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { store_->CreateOrg(org, admin, TenantContext{}, d, first); }).ok());
    return first;
  }
  absl::Status Rotate(const StoredJwtKey& next, absl::Duration grace, int64_t now_us) {
    return AwaitStatus([&](DoneStatus d) { keys_->Rotate(next, grace, now_us, d); });
  }
  std::vector<pb::JwtKey> List(const std::string& org) {
    auto keys = keys_->List(org, "", 100);
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? *keys : std::vector<pb::JwtKey>{};
  }

  db::Options options_;
  std::filesystem::path dir_;
  std::unique_ptr<ProfilesStore> store_;
  std::unique_ptr<JwtKeysStore> keys_;
};

TEST_P(JwtKeysStoreTest, TheOrgsFirstKeyIsMadeWithItAndItsSecretIsSealedAtRest) {
  const int64_t now = NowMicros();
  StoredJwtKey first = NewOrg(now);
  auto got = keys_->Get(first.org_id, first.key.kid());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->secret, first.secret);
  EXPECT_EQ(got->org_id, first.org_id);
  EXPECT_FALSE(got->key.has_retire_time());
  EXPECT_FALSE(got->key.has_expire_time());
  EXPECT_EQ(first.secret.size(), 64u);

  std::string stored;
  ASSERT_TRUE(store_->db()
                  .Read([&](db::Connection& c) -> absl::Status {
                    auto st = c.Prepare("SELECT sealed_secret FROM org_jwt_keys WHERE org_id = ? AND kid = ?");
                    st.Bind(1, first.org_id).Bind(2, first.key.kid());
                    ASSIGN_OR_RETURN(bool row, st.Step());
                    if (!row) return absl::NotFoundError("key row");
                    stored = st.ColumnText(0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_TRUE(SecretBox::IsSealed(stored)) << stored;
  EXPECT_FALSE(absl::StrContains(stored, first.secret));

  // The list shows the kid and its times, never a secret.
  std::vector<pb::JwtKey> keys = List(first.org_id);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].kid(), first.key.kid());
  EXPECT_FALSE(absl::StrContains(keys[0].SerializeAsString(), first.secret));
}

TEST_P(JwtKeysStoreTest, RotationRetiresTheCurrentKeyForTheGracePeriodAndPrunesExpiredOnes) {
  const int64_t t0 = NowMicros();
  StoredJwtKey first = NewOrg(t0);
  const int64_t t1 = t0 + 1000000;
  StoredJwtKey second = NewJwtKey(first.org_id, NewId(), t1);
  ASSERT_TRUE(Rotate(second, absl::Seconds(60), t1).ok());
  auto old = keys_->Get(first.org_id, first.key.kid());
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(TimestampToMicros(old->key.retire_time()), t1);
  EXPECT_EQ(TimestampToMicros(old->key.expire_time()), t1 + 60000000);
  auto current = keys_->Get(first.org_id, second.key.kid());
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_FALSE(current->key.has_expire_time());
  EXPECT_EQ(current->secret, second.secret);
  ASSERT_EQ(List(first.org_id).size(), 2u);

  // Rotating again within the grace period keeps the first key's expiry.
  const int64_t t2 = t1 + 2000000;
  StoredJwtKey third = NewJwtKey(first.org_id, NewId(), t2);
  ASSERT_TRUE(Rotate(third, absl::Seconds(600), t2).ok());
  old = keys_->Get(first.org_id, first.key.kid());
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(TimestampToMicros(old->key.expire_time()), t1 + 60000000);
  auto mid = keys_->Get(first.org_id, second.key.kid());
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(TimestampToMicros(mid->key.expire_time()), t2 + 600000000);
  std::vector<pb::JwtKey> keys = List(first.org_id);
  ASSERT_EQ(keys.size(), 3u);
  int current_keys = 0;
  for (const pb::JwtKey& k : keys) current_keys += k.has_expire_time() ? 0 : 1;
  EXPECT_EQ(current_keys, 1);

  // A rotation after the first key's expiry deletes it.
  const int64_t t3 = t1 + 61000000;
  ASSERT_TRUE(Rotate(NewJwtKey(first.org_id, NewId(), t3), absl::Seconds(600), t3).ok());
  EXPECT_EQ(keys_->Get(first.org_id, first.key.kid()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(List(first.org_id).size(), 3u);
}

TEST_P(JwtKeysStoreTest, AnotherOrgsKeysAreInvisible) {
  const int64_t now = NowMicros();
  StoredJwtKey a = NewOrg(now);
  StoredJwtKey b = NewOrg(now);
  // B's kid asked under A's org is not found, and so on.
  EXPECT_EQ(keys_->Get(a.org_id, b.key.kid()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(keys_->Get(b.org_id, a.key.kid()).status().code(), absl::StatusCode::kNotFound);
  std::vector<pb::JwtKey> listed = List(a.org_id);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].kid(), a.key.kid());
  // A's rotation leaves B's key current.
  ASSERT_TRUE(Rotate(NewJwtKey(a.org_id, NewId(), now + 1), absl::Seconds(1), now + 1).ok());
  auto b_key = keys_->Get(b.org_id, b.key.kid());
  ASSERT_TRUE(b_key.ok());
  EXPECT_FALSE(b_key->key.has_expire_time());
  // A rotation for an org that does not exist makes nothing.
  const std::string ghost = NewId();
  EXPECT_EQ(Rotate(NewJwtKey(ghost, NewId(), now), absl::Seconds(1), now).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(List(ghost).empty());
}

TEST_P(JwtKeysStoreTest, LiveKeysPerOrgAreBounded) {
  const int64_t now = NowMicros();
  StoredJwtKey first = NewOrg(now);
  for (int i = 1; i < kMaxJwtKeysPerOrg; ++i) {
    ASSERT_TRUE(Rotate(NewJwtKey(first.org_id, NewId(), now + i), absl::Hours(1), now + i).ok()) << i;
  }
  absl::Status over = Rotate(NewJwtKey(first.org_id, NewId(), now + 100), absl::Hours(1), now + 100);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(over.message(), kJwtKeysPerOrg)) << over;
  EXPECT_EQ(List(first.org_id).size(), static_cast<size_t>(kMaxJwtKeysPerOrg));
  // Once the retired keys expire, rotation works again.
  const int64_t later = now + absl::ToInt64Microseconds(absl::Hours(2));
  EXPECT_TRUE(Rotate(NewJwtKey(first.org_id, NewId(), later), absl::Hours(1), later).ok());
  EXPECT_EQ(List(first.org_id).size(), 2u);  // the previous current key, now retired, and the new one
}

TEST_P(JwtKeysStoreTest, ResolveAnswersTheKeyUntilItsGracePeriodEnds) {
  const int64_t t0 = NowMicros();
  StoredJwtKey first = NewOrg(t0);
  auto lookup = [&](const std::string& org, const std::string& kid) { return keys_->Get(org, kid); };
  auto r = ResolveKid(first.key.kid(), t0, lookup);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->org_id(), first.org_id);
  EXPECT_EQ(r->secret(), first.secret);
  EXPECT_FALSE(r->has_expire_time());
  ASSERT_TRUE(Rotate(NewJwtKey(first.org_id, NewId(), t0), absl::Seconds(30), t0).ok());
  r = ResolveKid(first.key.kid(), t0 + 29000000, lookup);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(TimestampToMicros(r->expire_time()), t0 + 30000000);
  EXPECT_EQ(ResolveKid(first.key.kid(), t0 + 30000000, lookup).status().code(), absl::StatusCode::kNotFound);
  for (const std::string& bad :
       {std::string(""), first.org_id, std::string("a.b.c"), std::string("A.B"), absl::StrCat(NewId(), ".", NewId())}) {
    EXPECT_EQ(ResolveKid(bad, t0, lookup).status().code(), absl::StatusCode::kNotFound) << bad;
  }
}

INSTANTIATE_TEST_SUITE_P(Drivers, JwtKeysStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::profiles
