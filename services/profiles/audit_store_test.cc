// Org administration in the store (users' state, keys' expiry, rate limit and
// last use) and the audit log (audit.recorded events stored once, listed
// newest first with filters and pages, per org), on both database drivers.
#include "services/profiles/audit_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/audit.h"
#include "services/common/crypto.h"
#include "services/common/db_rows.h"
#include "services/common/idempotency.h"
#include "services/common/ids.h"
#include "services/common/pagination.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_store.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::profiles {
namespace {

using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

constexpr int64_t kNoQuota = int64_t{1} << 40;

TenantContext AdminKey(const std::string& org, const std::string& key_id) {
  TenantContext t;
  t.org_id = org;
  t.key_id = key_id;
  t.client_address = "203.0.113.9";
  t.request_id = "req-1";
  t.Add(api::v1::ADMIN);
  return t;
}

class AdminStoreTest : public ::testing::TestWithParam<std::string> {
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
    org_ = NewOrg();
    admin_ = AdminKey(org_, "adminkey");
  }
  void TearDown() override {
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
    TenantContext platform;
    platform.Add(api::v1::PLATFORM);
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { store_->CreateOrg(org, key, platform, d); }).ok());
    return org.id();
  }
  pb::User NewUser(const std::string& org, const std::string& email) {
    pb::User user;
    user.set_id(NewId());
    user.set_display_name("Ann");
    user.set_email(email);
    user.set_timezone("UTC");
    user.set_state(pb::ACTIVE);
    auto created = Await<pb::User>([&](Done<pb::User> d) {
      store_->CreateUser(org, user, IdempotencyScope{}, pb::CreateUserRequest(), AdminKey(org, "adminkey"), d);
    });
    EXPECT_TRUE(created.ok()) << created.status();
    return user;
  }
  StoredApiKey NewKey(const std::string& org) {
    StoredApiKey key;
    key.org_id = org;
    key.key.set_id(NewId());
    key.key.set_display_name("ci");
    key.key.add_scopes(api::v1::READ);
    key.secret_sha256 = Sha256("s3cret" + key.key.id());
    EXPECT_TRUE(
        AwaitStatus([&](DoneStatus d) { store_->CreateApiKey(key, kNoQuota, AdminKey(org, "adminkey"), d); }).ok());
    return key;
  }

  // Delivers every audit.recorded event still in the outbox to the audit log,
  // twice (as a redelivery would), and empties the outbox.
  void DeliverAudit() {
    std::vector<events::v1::Event> pending;
    ASSERT_TRUE(store_->db()
                    .Read([&](db::Connection& conn) -> absl::Status {
                      auto st = conn.Prepare("SELECT data FROM outbox ORDER BY seq");
                      ASSIGN_OR_RETURN(pending, db::ListBlobs<events::v1::Event>(st));
                      return absl::OkStatus();
                    })
                    .ok());
    for (int round = 0; round < 2; ++round) {
      for (const events::v1::Event& e : pending) ASSERT_TRUE(store_->StoreAuditEvent(e).ok());
    }
    ASSERT_TRUE(store_->db().Write([](db::Connection& conn) { return conn.Prepare("DELETE FROM outbox").Run(); }).ok());
  }
  std::vector<pb::AuditEntry> List(const std::string& org, AuditFilter filter = {}) {
    auto entries = store_->ListAuditEntries(org, filter, "", 100);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<pb::AuditEntry>{};
  }
  static std::vector<std::string> Actions(const std::vector<pb::AuditEntry>& entries) {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.action());
    return out;
  }

  db::Options options_;
  std::filesystem::path dir_;
  std::unique_ptr<ProfilesStore> store_;
  std::string org_;
  TenantContext admin_;
};

TEST_P(AdminStoreTest, DeactivateAndReactivateKeepTheDataAndAreAudited) {
  pb::User ann = NewUser(org_, "ann@acme.test");
  auto deactivate = [&](pb::UserState state) {
    return Await<pb::User>([&](Done<pb::User> d) {
      store_->UpdateUser(
          org_, ann.id(),
          [state](pb::User& u) {
            u.set_state(state);
            return absl::OkStatus();
          },
          NowMicros(), admin_, d);
    });
  };
  auto off = deactivate(pb::DEACTIVATED);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->state(), pb::DEACTIVATED);
  EXPECT_TRUE(off->has_update_time());
  auto read = store_->GetUser(org_, ann.id());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->state(), pb::DEACTIVATED);
  EXPECT_EQ(read->email(), "ann@acme.test");
  // The same state again changes nothing and records nothing.
  ASSERT_TRUE(deactivate(pb::DEACTIVATED).ok());
  ASSERT_TRUE(deactivate(pb::ACTIVE).ok());
  EXPECT_EQ(store_->GetUser(org_, ann.id())->state(), pb::ACTIVE);
  // Another org's admin reaches no such user.
  const std::string other = NewOrg();
  auto foreign = Await<pb::User>([&](Done<pb::User> d) {
    store_->UpdateUser(
        other, ann.id(), [](pb::User&) { return absl::OkStatus(); }, NowMicros(), AdminKey(other, "k2"), d);
  });
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kNotFound);

  DeliverAudit();
  std::vector<pb::AuditEntry> entries = List(org_);
  EXPECT_EQ(Actions(entries),
            (std::vector<std::string>{"user.reactivated", "user.deactivated", "user.created", "org.created"}));
  const pb::AuditEntry& last = entries[0];
  EXPECT_EQ(last.actor_key_id(), "adminkey");
  EXPECT_EQ(last.actor(), "key:adminkey");
  EXPECT_EQ(last.target_id(), ann.id());
  EXPECT_EQ(last.client_address(), "203.0.113.9");
  EXPECT_EQ(last.service(), "profiles");
  EXPECT_EQ(last.request_id(), "req-1");
  EXPECT_EQ(last.detail(), "changed: state");
  EXPECT_TRUE(last.has_time());
  EXPECT_EQ(entries.back().actor(), "platform");
  // The other org's log holds its own creation only.
  EXPECT_EQ(Actions(List(other)), (std::vector<std::string>{"org.created"}));
}

TEST_P(AdminStoreTest, EmailChangesKeepUniqueness) {
  NewUser(org_, "ann@acme.test");
  pb::User bob = NewUser(org_, "bob@acme.test");
  auto taken = Await<pb::User>([&](Done<pb::User> d) {
    store_->UpdateUser(
        org_, bob.id(),
        [](pb::User& u) {
          u.set_email("ANN@acme.test");
          return absl::OkStatus();
        },
        NowMicros(), admin_, d);
  });
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists);
  auto renamed = Await<pb::User>([&](Done<pb::User> d) {
    store_->UpdateUser(
        org_, bob.id(),
        [](pb::User& u) {
          u.set_email("robert@acme.test");
          u.set_display_name("Robert");
          return absl::OkStatus();
        },
        NowMicros(), admin_, d);
  });
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  auto read = store_->GetUser(org_, bob.id());
  EXPECT_EQ(read->email(), "robert@acme.test");
  EXPECT_EQ(read->display_name(), "Robert");
}

TEST_P(AdminStoreTest, KeysExpireTakeLimitsAndRecordTheirLastUse) {
  StoredApiKey key = NewKey(org_);
  const int64_t expiry = NowMicros() + 3600 * int64_t{1000000};
  auto updated = Await<pb::ApiKey>([&](Done<pb::ApiKey> d) {
    store_->UpdateApiKey(
        org_, key.key.id(),
        [expiry](pb::ApiKey& k) {
          *k.mutable_expire_time() = ToTimestamp(expiry);
          k.set_rate_limit_per_minute(30);
          return absl::OkStatus();
        },
        admin_, d);
  });
  ASSERT_TRUE(updated.ok()) << updated.status();
  auto stored = store_->GetApiKey(org_, key.key.id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(TimestampToMicros(stored->key.expire_time()), expiry);
  EXPECT_EQ(stored->key.rate_limit_per_minute(), 30);
  EXPECT_EQ(stored->secret_sha256, key.secret_sha256);
  EXPECT_FALSE(stored->key.has_last_use_time());

  // The last use only moves forward.
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->TouchApiKey(org_, key.key.id(), 5000, d); }).ok());
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->TouchApiKey(org_, key.key.id(), 4000, d); }).ok());
  auto listed = store_->ListApiKeys(org_, "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);  // the org's admin key and this one
  for (const pb::ApiKey& k : *listed) {
    if (k.id() == key.key.id()) {
      EXPECT_EQ(TimestampToMicros(k.last_use_time()), 5000);
    }
  }

  // Revoked: no more updates; the revocation is audited once.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(Await<pb::ApiKey>([&](Done<pb::ApiKey> d) {
                  store_->RevokeApiKey(org_, key.key.id(), NowMicros(), admin_, d);
                }).ok());
  }
  auto after_revoke = Await<pb::ApiKey>([&](Done<pb::ApiKey> d) {
    store_->UpdateApiKey(
        org_, key.key.id(), [](pb::ApiKey&) { return absl::OkStatus(); }, admin_, d);
  });
  EXPECT_EQ(after_revoke.status().code(), absl::StatusCode::kFailedPrecondition);
  auto foreign = Await<pb::ApiKey>([&](Done<pb::ApiKey> d) {
    store_->UpdateApiKey(
        NewOrg(), key.key.id(), [](pb::ApiKey&) { return absl::OkStatus(); }, admin_, d);
  });
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kNotFound);

  DeliverAudit();
  EXPECT_EQ(Actions(List(org_, AuditFilter{.actor = "", .action = "apiKey.*", .since_us = 0})),
            (std::vector<std::string>{"apiKey.revoked", "apiKey.updated", "apiKey.created"}));
  auto updates = List(org_, AuditFilter{.actor = "", .action = "apiKey.updated", .since_us = 0});
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_NE(updates[0].detail().find("rateLimitPerMinute=30"), std::string::npos) << updates[0].detail();
}

TEST_P(AdminStoreTest, PersonalKeysNameAUserOfTheOrg) {
  StoredApiKey key;
  key.org_id = org_;
  key.key.set_id(NewId());
  key.key.set_display_name("mine");
  key.key.add_scopes(api::v1::READ);
  key.key.set_user_id(NewId());
  key.secret_sha256 = Sha256("x");
  EXPECT_EQ(AwaitStatus([&](DoneStatus d) { store_->CreateApiKey(key, kNoQuota, admin_, d); }).code(),
            absl::StatusCode::kInvalidArgument);
  key.key.set_user_id(NewUser(org_, "ann@acme.test").id());
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->CreateApiKey(key, kNoQuota, admin_, d); }).ok());
  EXPECT_EQ(store_->GetApiKey(org_, key.key.id())->key.user_id(), key.key.user_id());
}

TEST_P(AdminStoreTest, AuditListsPageNewestFirstWithFilters) {
  // Entries recorded by any service with one call, in a transaction of its own here.
  TenantContext user;
  user.org_id = org_;
  user.user_id = "useranne";
  user.client_address = "::1";
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(store_->db()
                    .Write([&](db::Connection& conn) {
                      return audit::Record(conn, i % 2 == 0 ? user : admin_, "notifications",
                                           {.action = i % 2 == 0 ? "webhook.created" : "webhook.deleted",
                                            .target_id = absl::StrCat("wh", i),
                                            .detail = "",
                                            .org_id = ""});
                    })
                    .ok());
  }
  DeliverAudit();
  std::vector<pb::AuditEntry> all = List(org_);
  ASSERT_EQ(all.size(), 8u);  // and org.created
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GE(TimestampToMicros(all[i - 1].time()), TimestampToMicros(all[i].time()));
  }
  EXPECT_EQ(all[0].target_id(), "wh6");

  // Pages of 3 walk the same order, each entry once.
  std::vector<std::string> walked;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto entries = store_->ListAuditEntries(org_, {}, after, 3);
    ASSERT_TRUE(entries.ok()) << entries.status();
    for (const auto& e : *entries) walked.push_back(e.id());
    if (entries->size() < 3) break;
    after = AuditPageKey(entries->back());
  }
  ASSERT_EQ(walked.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(walked[i], all[i].id());

  EXPECT_EQ(List(org_, AuditFilter{.actor = "useranne", .action = "", .since_us = 0}).size(), 4u);
  EXPECT_EQ(List(org_, AuditFilter{.actor = "adminkey", .action = "", .since_us = 0}).size(), 3u);
  EXPECT_EQ(List(org_, AuditFilter{.actor = "platform", .action = "", .since_us = 0}).size(), 1u);
  EXPECT_EQ(List(org_, AuditFilter{.actor = "", .action = "webhook.*", .since_us = 0}).size(), 7u);
  EXPECT_EQ(List(org_, AuditFilter{.actor = "", .action = "webhook", .since_us = 0}).size(), 0u);
  EXPECT_EQ(List(org_, AuditFilter{.actor = "", .action = "webhook_created", .since_us = 0}).size(), 0u);
  const int64_t since = TimestampToMicros(all[2].time());
  for (const auto& e : List(org_, AuditFilter{.actor = "", .action = "", .since_us = since})) {
    EXPECT_GE(TimestampToMicros(e.time()), since);
  }
  EXPECT_TRUE(List(org_, AuditFilter{.actor = "", .action = "", .since_us = NowMicros() + 1000000}).empty());
  // A token from nowhere is refused, not misread.
  EXPECT_EQ(store_->ListAuditEntries(org_, {}, "garbage", 3).status().code(), absl::StatusCode::kInvalidArgument);
  // Another org sees none of it.
  EXPECT_EQ(List(NewOrg()).size(), 0u);
}

TEST_P(AdminStoreTest, OtherEventsAreIgnoredAndRetentionDropsOldEntries) {
  events::v1::Event contact = events::NewEvent("contact.created", "profiles", org_, "u1");
  contact.set_id(NewId());
  ASSERT_TRUE(store_->StoreAuditEvent(contact).ok());
  DeliverAudit();
  ASSERT_EQ(List(org_).size(), 1u);  // org.created only
  // An entry older than a year goes with the next retention pass.
  events::v1::Event old = events::NewEvent(audit::kRecordedType, "profiles", org_, "");
  old.set_id(NewId());
  *old.mutable_audit() =
      audit::MakeEntry(admin_, "profiles", {.action = "user.updated", .target_id = "u1", .detail = "", .org_id = ""});
  old.mutable_audit()->set_id(old.id());
  *old.mutable_audit()->mutable_time() = ToTimestamp(NowMicros() - int64_t{366} * 86400 * 1000000);
  ASSERT_TRUE(store_->StoreAuditEvent(old).ok());
  ASSERT_EQ(List(org_).size(), 2u);
  RetentionPruner pruner(&store_->db(), {AuditRetention()});
  ASSERT_TRUE(pruner.PruneOnce().ok());
  EXPECT_EQ(Actions(List(org_)), (std::vector<std::string>{"org.created"}));
}

INSTANTIATE_TEST_SUITE_P(Drivers, AdminStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::profiles
