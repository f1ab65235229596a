// Orgs' JWT signing keys at the gateway (issue 17): VerifyOrgJwt's rules,
// the kid of a token's header, the Authenticator's choice between an org key
// and the global secret, and JwtKeyCache's cached answers and shared lookups.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "gateway/jwt_key_cache.h"

namespace rapport::gateway {
namespace {

constexpr char kGlobalSecret[] = "global-secret";
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

JwtKey Key(const std::string& org, const std::string& id, const std::string& secret) {
  return JwtKey{absl::StrCat(org, ".", id), org, secret, absl::InfiniteFuture()};
}

std::string Header(const std::string& kid) {
  return absl::StrCat(R"({"alg":"HS256","typ":"JWT","kid":")", kid, R"("})");
}

std::string Claims(const std::string& org, int64_t exp) {
  return absl::StrCat(R"({"sub":"user1","org":")", org, R"(","iss":"rapport","aud":"rapport","exp":)", exp, "}");
}

// A token for org signed with key's secret and naming key's kid.
std::string Token(const std::string& org, const JwtKey& key, int64_t exp) {
  return SignJwtHs256(Claims(org, exp), key.secret, Header(key.kid));
}

AuthOptions Options() {
  AuthOptions o;
  o.jwt_secret = kGlobalSecret;
  return o;
}

TEST(OrgJwtTest, AcceptsATokenOfTheKeysOrgSignedWithIt) {
  const JwtKey a = Key("orga", "k1", "secret-a");
  auto ctx = VerifyOrgJwt(Token("orga", a, 1800000100), a, Options(), kNow);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->org_id, "orga");
  EXPECT_EQ(ctx->user_id, "user1");
  EXPECT_TRUE(ctx->Has(api::v1::READ));
  EXPECT_FALSE(ctx->Has(api::v1::ADMIN));
}

TEST(OrgJwtTest, RefusesTokensThatDoNotMatchTheKey) {
  const JwtKey a = Key("orga", "k1", "secret-a");
  const JwtKey b = Key("orgb", "k2", "secret-b");
  JwtKey a_retired = a;
  a_retired.expire_time = kNow;
  struct Case {
    std::string name;
    std::string token;
    JwtKey key;  // what the kid resolved to
  };
  const std::vector<Case> cases = {
      // Org A's token signed with org B's secret, naming A's kid.
      {"A's kid, B's secret", SignJwtHs256(Claims("orga", 1800000100), b.secret, Header(a.kid)), a},
      // B's kid and B's secret, but A's org claim.
      {"B's key, A's org", SignJwtHs256(Claims("orga", 1800000100), b.secret, Header(b.kid)), b},
      {"global secret with a kid", SignJwtHs256(Claims("orga", 1800000100), kGlobalSecret, Header(a.kid)), a},
      {"past the grace period", Token("orga", a, 1800000100), a_retired},
      {"expired token", Token("orga", a, 1799999000), a},
      {"too long a life", Token("orga", a, 1800000000 + 7 * 86400), a},
      {"alg none", SignJwtHs256(Claims("orga", 1800000100), a.secret, R"({"alg":"none","kid":"orga.k1"})"), a},
      {"alg HS512", SignJwtHs256(Claims("orga", 1800000100), a.secret, R"({"alg":"HS512","kid":"orga.k1"})"), a},
      {"empty secret", SignJwtHs256(Claims("orga", 1800000100), "", Header(a.kid)), Key("orga", "k1", "")},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(VerifyOrgJwt(c.token, c.key, Options(), kNow).status().code(), absl::StatusCode::kUnauthenticated)
        << c.name;
  }
  // A key valid until a moment later still verifies.
  a_retired.expire_time = kNow + absl::Seconds(1);
  EXPECT_TRUE(VerifyOrgJwt(Token("orga", a, 1800000100), a_retired, Options(), kNow).ok());
}

TEST(OrgJwtTest, ReadsTheKidOfTheHeader) {
  EXPECT_EQ(*JwtKeyId(SignJwtHs256(Claims("o", 1), "s")), "");
  EXPECT_EQ(*JwtKeyId(SignJwtHs256(Claims("o", 1), "s", Header("o.k"))), "o.k");
  for (const std::string& header :
       {std::string(R"({"alg":"HS256","kid":7})"), std::string(R"({"alg":"HS256","kid":""})"),
        std::string(R"({"alg":"HS256","kid":null})")}) {
    EXPECT_EQ(JwtKeyId(SignJwtHs256(Claims("o", 1), "s", header)).status().code(), absl::StatusCode::kUnauthenticated)
        << header;
  }
  EXPECT_EQ(JwtKeyId("no-dots").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(JwtKeyId("!!.x.y").status().code(), absl::StatusCode::kUnauthenticated);
}

// A resolver over a fixed set of keys that counts its lookups.
struct FakeKeys {
  std::vector<JwtKey> keys;
  absl::Status failure;  // when set, every lookup fails with it
  int lookups = 0;
  JwtKeyResolver Resolver() {
    return [this](const std::string& kid, std::function<void(absl::StatusOr<JwtKey>)> done) {
      ++lookups;
      if (!failure.ok()) return done(failure);
      for (const JwtKey& k : keys) {
        if (k.kid == kid) return done(k);
      }
      done(absl::NotFoundError("jwt key not found"));
    };
  }
};

absl::StatusOr<TenantContext> AuthenticateBearer(Authenticator& auth, const std::string& token,
                                                 const std::string& client = "") {
  absl::StatusOr<TenantContext> out = absl::InternalError("not answered");
  Credentials c;
  c.authorization = "Bearer " + token;
  c.client = client;
  auth.Authenticate(c, [&](absl::StatusOr<TenantContext> r) { out = std::move(r); });
  return out;
}

KeyVerifier NoApiKeys() {
  return [](const std::string&, Callback<VerifiedKey> done) { done(absl::UnauthenticatedError("no")); };
}

TEST(OrgJwtAuthenticatorTest, VerifiesWithTheKeyTheKidNamesAndCachesIt) {
  const JwtKey a = Key("orga", "k1", "secret-a");
  const JwtKey b = Key("orgb", "k2", "secret-b");
  FakeKeys keys{{a, b}, absl::OkStatus(), 0};
  Authenticator auth(Options(), NoApiKeys(), nullptr, nullptr, keys.Resolver());
  const int64_t exp = absl::ToUnixSeconds(absl::Now()) + 300;

  auto ctx = AuthenticateBearer(auth, Token("orga", a, exp));
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->org_id, "orga");
  ASSERT_TRUE(AuthenticateBearer(auth, Token("orga", a, exp)).ok());
  EXPECT_EQ(keys.lookups, 1);  // the second token found the key cached

  // A's org claim with A's kid but B's secret; A's org claim with B's kid.
  EXPECT_EQ(AuthenticateBearer(auth, SignJwtHs256(Claims("orga", exp), b.secret, Header(a.kid))).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthenticateBearer(auth, SignJwtHs256(Claims("orga", exp), b.secret, Header(b.kid))).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.lookups, 2);

  // An unknown kid is refused, and so is it again without a second lookup.
  const JwtKey ghost = Key("orga", "nope", "secret-a");
  EXPECT_EQ(AuthenticateBearer(auth, Token("orga", ghost, exp)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthenticateBearer(auth, Token("orga", ghost, exp)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.lookups, 3);

  // Tokens without kid keep the global secret.
  auto global = AuthenticateBearer(auth, SignJwtHs256(Claims("orgc", exp), kGlobalSecret));
  ASSERT_TRUE(global.ok()) << global.status();
  EXPECT_EQ(global->org_id, "orgc");
  EXPECT_EQ(keys.lookups, 3);
  // ...and the global secret does not stand in for an org key.
  EXPECT_FALSE(AuthenticateBearer(auth, SignJwtHs256(Claims("orga", exp), kGlobalSecret, Header(a.kid))).ok());
}

TEST(OrgJwtAuthenticatorTest, BackendFailuresAreNotCachedAndNoResolverRefusesKids) {
  const JwtKey a = Key("orga", "k1", "secret-a");
  FakeKeys keys{{a}, absl::UnavailableError("profiles down"), 0};
  Authenticator auth(Options(), NoApiKeys(), nullptr, nullptr, keys.Resolver());
  const int64_t exp = absl::ToUnixSeconds(absl::Now()) + 300;
  EXPECT_EQ(AuthenticateBearer(auth, Token("orga", a, exp)).status().code(), absl::StatusCode::kUnavailable);
  keys.failure = absl::OkStatus();
  EXPECT_TRUE(AuthenticateBearer(auth, Token("orga", a, exp)).ok());
  EXPECT_EQ(keys.lookups, 2);

  Authenticator without(Options(), NoApiKeys());
  EXPECT_EQ(AuthenticateBearer(without, Token("orga", a, exp)).status().code(), absl::StatusCode::kUnauthenticated);
}

// Issue 17: each made-up kid used to cost a profiles lookup, however many a
// client sent; now it takes a token of the address's failed-lookups bucket,
// like a guessed API key (this test failed before: 5 lookups, no 429).
TEST(OrgJwtAuthenticatorTest, MadeUpKidsAreThrottledPerClientAddress) {
  const JwtKey a = Key("orga", "k1", "secret-a");
  const JwtKey b = Key("orgb", "k2", "secret-b");
  FakeKeys keys{{a, b}, absl::OkStatus(), 0};
  RateLimitOptions limit;
  limit.per_minute = 60;  // one a second
  limit.burst = 3;
  RateLimiter failed(limit, nullptr, nullptr);
  Authenticator auth(Options(), NoApiKeys(), nullptr, &failed, keys.Resolver());
  const int64_t exp = absl::ToUnixSeconds(absl::Now()) + 300;

  // A real kid's lookup gives its token back.
  ASSERT_TRUE(AuthenticateBearer(auth, Token("orga", a, exp), "10.0.0.1").ok());
  for (int i = 0; i < 3; ++i) {
    const JwtKey ghost = Key("orga", absl::StrCat("ghost", i), "secret-a");
    EXPECT_EQ(AuthenticateBearer(auth, Token("orga", ghost, exp), "10.0.0.1").status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(keys.lookups, 4);
  // The bucket is empty: another made-up kid is refused without a lookup, with the wait.
  const JwtKey ghost = Key("orga", "ghost3", "secret-a");
  absl::Status refused = AuthenticateBearer(auth, Token("orga", ghost, exp), "10.0.0.1").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("unknown token signing keys"), std::string::npos) << refused;
  ASSERT_TRUE(refused.GetPayload(kRetryAfterPayload).has_value());
  EXPECT_EQ(keys.lookups, 4);
  // A cached kid, a cached refusal and a token without kid still pass from
  // that address; another address still gets its lookups.
  EXPECT_TRUE(AuthenticateBearer(auth, Token("orga", a, exp), "10.0.0.1").ok());
  EXPECT_EQ(AuthenticateBearer(auth, Token("orga", Key("orga", "ghost0", "secret-a"), exp), "10.0.0.1").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(AuthenticateBearer(auth, SignJwtHs256(Claims("orgc", exp), kGlobalSecret), "10.0.0.1").ok());
  EXPECT_TRUE(AuthenticateBearer(auth, Token("orgb", b, exp), "10.0.0.2").ok());
  EXPECT_EQ(AuthenticateBearer(auth, Token("orga", ghost, exp), "10.0.0.2").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.lookups, 6);
}

TEST(OrgJwtAuthenticatorTest, AKeyPastItsGracePeriodIsRefusedEvenWhileCached) {
  JwtKey a = Key("orga", "k1", "secret-a");
  a.expire_time = absl::Now() + absl::Milliseconds(300);
  FakeKeys keys{{a}, absl::OkStatus(), 0};
  Authenticator auth(Options(), NoApiKeys(), nullptr, nullptr, keys.Resolver());
  const int64_t exp = absl::ToUnixSeconds(absl::Now()) + 300;
  ASSERT_TRUE(AuthenticateBearer(auth, Token("orga", a, exp)).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (AuthenticateBearer(auth, Token("orga", a, exp)).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(AuthenticateBearer(auth, Token("orga", a, exp)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_GE(absl::Now(), a.expire_time);
  EXPECT_EQ(keys.lookups, 1);  // the cached answer carried the expiry
}

TEST(JwtKeyCacheTest, ConcurrentLookupsOfOneKidShareOneAndAnswersExpire) {
  std::vector<std::function<void(absl::StatusOr<JwtKey>)>> pending;
  int lookups = 0;
  JwtKeyCache cache(
      [&](const std::string&, std::function<void(absl::StatusOr<JwtKey>)> done) {
        ++lookups;
        pending.push_back(std::move(done));
      },
      absl::Hours(1));
  std::vector<absl::StatusOr<JwtKey>> answers;
  for (int i = 0; i < 3; ++i) cache.Resolve("o.k", [&](absl::StatusOr<JwtKey> r) { answers.push_back(r); });
  EXPECT_EQ(lookups, 1);
  EXPECT_TRUE(answers.empty());
  ASSERT_EQ(pending.size(), 1u);
  pending[0](Key("o", "k", "s"));
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) EXPECT_EQ(a->secret, "s");
  cache.Resolve("o.k", [&](absl::StatusOr<JwtKey> r) { answers.push_back(r); });
  EXPECT_EQ(lookups, 1);
  ASSERT_EQ(answers.size(), 4u);

  // With no time to live, every lookup asks again; failures are not kept.
  JwtKeyCache uncached(
      [&](const std::string&, std::function<void(absl::StatusOr<JwtKey>)> done) {
        ++lookups;
        done(absl::NotFoundError("no"));
      },
      absl::ZeroDuration());
  uncached.Resolve("o.x", [](absl::StatusOr<JwtKey>) {});
  uncached.Resolve("o.x", [](absl::StatusOr<JwtKey>) {});
  EXPECT_EQ(lookups, 3);
}

TEST(JwtKeyCacheTest, StaysBoundedUnderAFloodOfMadeUpKids) {
  int lookups = 0;
  JwtKeyCache cache(
      [&](const std::string&, std::function<void(absl::StatusOr<JwtKey>)> done) {
        ++lookups;
        done(absl::NotFoundError("no"));
      },
      absl::Hours(1), /*max_entries=*/8);
  for (int i = 0; i < 100; ++i) cache.Resolve(absl::StrCat("o.", i), [](absl::StatusOr<JwtKey>) {});
  EXPECT_EQ(lookups, 100);
  // The last kid is still cached (the cache was emptied before it, not after).
  cache.Resolve("o.99", [](absl::StatusOr<JwtKey>) {});
  EXPECT_EQ(lookups, 100);
}

}  // namespace
}  // namespace rapport::gateway
