#include "services/profiles/admin_logic.h"

#include <gtest/gtest.h>

#include <string>

#include "services/common/crypto.h"
#include "services/common/time_util.h"
#include "services/profiles/profiles_logic.h"

namespace rapport::profiles {
namespace {

pb::User Ann() {
  pb::User u;
  u.set_id("01huser");
  u.set_display_name("Ann");
  u.set_email("ann@acme.test");
  u.set_timezone("UTC");
  u.set_state(pb::ACTIVE);
  return u;
}

struct UserCase {
  std::string name;
  std::string json_field;  // "" when valid
  void (*fill)(pb::UpdateUserRequest&);
};

class UserUpdateTest : public ::testing::TestWithParam<UserCase> {};

TEST_P(UserUpdateTest, ValidatesEachField) {
  pb::UpdateUserRequest r;
  GetParam().fill(r);
  pb::User user = Ann();
  absl::Status s = ApplyUserUpdate(r, user);
  if (GetParam().json_field.empty()) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(GetParam().json_field), absl::string_view::npos) << s;
    EXPECT_EQ(user.SerializeAsString(), Ann().SerializeAsString()) << "a refused update changes nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, UserUpdateTest,
    ::testing::Values(
        UserCase{"deactivate", "", [](auto& r) { r.mutable_user()->set_state(pb::DEACTIVATED); }},
        UserCase{"rename", "", [](auto& r) { r.mutable_user()->set_display_name("Anne"); }},
        UserCase{"zone", "", [](auto& r) { r.mutable_user()->set_timezone("Europe/Paris"); }},
        UserCase{"bad zone", "user.timezone", [](auto& r) { r.mutable_user()->set_timezone("Mars/Olympus"); }},
        UserCase{"bad email", "user.email", [](auto& r) { r.mutable_user()->set_email("nope"); }},
        UserCase{"unspecified state by mask", "user.state",
                 [](auto& r) { r.mutable_update_mask()->add_paths("state"); }},
        UserCase{"empty name by mask", "user.displayName",
                 [](auto& r) { r.mutable_update_mask()->add_paths("display_name"); }},
        UserCase{"read-only id", "user.id", [](auto& r) { r.mutable_update_mask()->add_paths("id"); }},
        UserCase{"read-only time", "user.", [](auto& r) { r.mutable_update_mask()->add_paths("create_time"); }}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& c : n) {
        if (c == ' ' || c == '-') c = '_';
      }
      return n;
    });

TEST(UserUpdateTest, DeactivationKeepsEverythingElse) {
  pb::UpdateUserRequest r;
  r.mutable_user()->set_state(pb::DEACTIVATED);
  pb::User user = Ann();
  ASSERT_TRUE(ApplyUserUpdate(r, user).ok());
  EXPECT_EQ(user.state(), pb::DEACTIVATED);
  EXPECT_EQ(user.email(), "ann@acme.test");
  EXPECT_EQ(user.display_name(), "Ann");
}

TEST(ApiKeyUpdateTest, ExpiryAndRateLimit) {
  pb::ApiKey key;
  key.set_id("01hkey");
  key.set_display_name("ci");
  key.add_scopes(api::v1::READ);
  pb::UpdateApiKeyRequest r;
  *r.mutable_api_key()->mutable_expire_time() = ToTimestamp(1000);  // in the past: expires at once
  r.mutable_api_key()->set_rate_limit_per_minute(60);
  ASSERT_TRUE(ApplyApiKeyUpdate(r, key).ok());
  EXPECT_EQ(TimestampToMicros(key.expire_time()), 1000);
  EXPECT_EQ(key.rate_limit_per_minute(), 60);
  EXPECT_EQ(key.scopes_size(), 1);

  // Clearing the expiry through the mask.
  pb::UpdateApiKeyRequest clear;
  clear.mutable_update_mask()->add_paths("expire_time");
  ASSERT_TRUE(ApplyApiKeyUpdate(clear, key).ok());
  EXPECT_FALSE(key.has_expire_time());

  for (const char* path : {"scopes", "user_id", "last_use_time", "revoke_time", "id"}) {
    pb::UpdateApiKeyRequest ro;
    ro.mutable_update_mask()->add_paths(path);
    EXPECT_EQ(ApplyApiKeyUpdate(ro, key).code(), absl::StatusCode::kInvalidArgument) << path;
  }
  pb::UpdateApiKeyRequest too_fast;
  too_fast.mutable_api_key()->set_rate_limit_per_minute(kMaxKeyRateLimit + 1);
  absl::Status s = ApplyApiKeyUpdate(too_fast, key);
  EXPECT_NE(s.message().find("apiKey.rateLimitPerMinute"), absl::string_view::npos) << s;
  pb::UpdateApiKeyRequest negative;
  negative.mutable_api_key()->set_rate_limit_per_minute(-1);
  EXPECT_EQ(ApplyApiKeyUpdate(negative, key).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CreateApiKeyTest, ExpiryLimitAndPersonalKeys) {
  const int64_t now = 1'800'000'000'000'000;
  pb::CreateApiKeyRequest r;
  r.set_display_name("ci");
  r.add_scopes(api::v1::READ);
  *r.mutable_expire_time() = ToTimestamp(now - 1);
  absl::Status past = MakeApiKey("01horg", "01hkey", r, now).status();
  EXPECT_NE(past.message().find("expireTime"), absl::string_view::npos) << past;
  *r.mutable_expire_time() = ToTimestamp(now + 60'000'000);
  r.set_rate_limit_per_minute(5);
  auto ok = MakeApiKey("01horg", "01hkey", r, now);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->stored.key.rate_limit_per_minute(), 5);
  EXPECT_EQ(TimestampToMicros(ok->stored.key.expire_time()), now + 60'000'000);

  r.set_user_id("01huser");
  r.add_scopes(api::v1::ADMIN);
  absl::Status admin = MakeApiKey("01horg", "01hkey", r, now).status();
  EXPECT_NE(admin.message().find("scopes"), absl::string_view::npos) << admin;
}

TEST(VerifyApiKeyTest, ExpiredKeysAreInvalidLikeAnyOther) {
  const int64_t now = 1'800'000'000'000'000;
  pb::CreateApiKeyRequest r;
  r.set_display_name("ci");
  r.add_scopes(api::v1::READ);
  r.set_rate_limit_per_minute(7);
  *r.mutable_expire_time() = ToTimestamp(now + 10);
  auto key = MakeApiKey("01horg00000000000000000000", "01hkey00000000000000000000", r, now);
  ASSERT_TRUE(key.ok()) << key.status();
  auto lookup = [&](const std::string&, const std::string&) -> absl::StatusOr<StoredApiKey> { return key->stored; };
  auto before = VerifyApiKeySecret(key->secret, lookup, now + 9);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->rate_limit_per_minute(), 7);
  auto at = VerifyApiKeySecret(key->secret, lookup, now + 10);
  EXPECT_EQ(at.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(at.status().message(), "invalid API key");
}

TEST(AuditFilterTest, ValidatesActorActionAndSince) {
  pb::ListAuditEntriesRequest r;
  r.set_actor("01huser");
  r.set_action("apiKey.*");
  *r.mutable_since() = ToTimestamp(5);
  auto f = AuditFilterOf(r);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->since_us, 5);
  r.set_actor("platform");
  EXPECT_TRUE(AuditFilterOf(r).ok());
  r.set_actor("not an id!");
  EXPECT_NE(AuditFilterOf(r).status().message().find("actor"), absl::string_view::npos);
  r.set_actor("");
  r.set_action(std::string(kMaxAuditActionChars + 1, 'a'));
  EXPECT_NE(AuditFilterOf(r).status().message().find("action"), absl::string_view::npos);
}

}  // namespace
}  // namespace rapport::profiles
