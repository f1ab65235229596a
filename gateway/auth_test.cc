#include "gateway/auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <atomic>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rapport::gateway {
namespace {

constexpr char kSecret[] = "jwt-test-secret";
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

AuthOptions Options() {
  AuthOptions o;
  o.jwt_secret = kSecret;
  o.admin_key = "rpa_admin";
  return o;
}

std::string Claims(const std::string& extra) {
  return absl::StrCat(R"({"sub":"user1","org":"org1","iss":"rapport","aud":"rapport")", extra, "}");
}

TEST(JwtTest, AcceptsAValidToken) {
  auto ctx = VerifyJwt(SignJwtHs256(Claims(R"(,"exp":1800000100)"), kSecret), Options(), kNow);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->user_id, "user1");
  EXPECT_EQ(ctx->org_id, "org1");
  EXPECT_TRUE(ctx->Has(api::v1::READ));
  EXPECT_TRUE(ctx->Has(api::v1::WRITE));
  EXPECT_FALSE(ctx->Has(api::v1::ADMIN));
  // Audience as a list, and within the clock skew after expiry.
  auto listed = VerifyJwt(
      SignJwtHs256(absl::StrCat(R"({"sub":"u","org":"o","iss":"rapport","aud":["x","rapport"],"exp":1799999950})"),
                   kSecret),
      Options(), kNow);
  EXPECT_TRUE(listed.ok()) << listed.status();
}

struct BadToken {
  std::string name;
  std::string token;
};

TEST(JwtTest, RefusesBadTokens) {
  const std::string ok_claims = Claims(R"(,"exp":1800000100)");
  std::string tampered = SignJwtHs256(ok_claims, kSecret);
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  const std::vector<BadToken> cases = {
      {"expired", SignJwtHs256(Claims(R"(,"exp":1799999900)"), kSecret)},
      {"wrong signature", SignJwtHs256(ok_claims, "another-secret")},
      {"tampered", tampered},
      {"alg none", absl::WebSafeBase64Escape(R"({"alg":"none"})") + "." + absl::WebSafeBase64Escape(ok_claims) + "."},
      {"alg none signed", SignJwtHs256(ok_claims, kSecret, R"({"alg":"none"})")},
      {"alg HS512", SignJwtHs256(ok_claims, kSecret, R"({"alg":"HS512"})")},
      {"wrong aud", SignJwtHs256(R"({"sub":"u","org":"o","iss":"rapport","aud":"other","exp":1800000100})", kSecret)},
      {"no aud", SignJwtHs256(R"({"sub":"u","org":"o","iss":"rapport","exp":1800000100})", kSecret)},
      {"wrong iss", SignJwtHs256(R"({"sub":"u","org":"o","iss":"evil","aud":"rapport","exp":1800000100})", kSecret)},
      {"missing exp", SignJwtHs256(Claims(""), kSecret)},
      {"string exp", SignJwtHs256(Claims(R"(,"exp":"1800000100")"), kSecret)},
      {"not yet valid", SignJwtHs256(Claims(R"(,"exp":1800009999,"nbf":1800000100)"), kSecret)},
      {"no org", SignJwtHs256(R"({"sub":"u","iss":"rapport","aud":"rapport","exp":1800000100})", kSecret)},
      {"garbage", "a.b"},
      {"not json",
       absl::WebSafeBase64Escape("x") + "." + absl::WebSafeBase64Escape("y") + "." + absl::WebSafeBase64Escape("z")},
  };
  for (const BadToken& c : cases) {
    auto ctx = VerifyJwt(c.token, Options(), kNow);
    EXPECT_EQ(ctx.status().code(), absl::StatusCode::kUnauthenticated) << c.name;
  }
  AuthOptions no_secret = Options();
  no_secret.jwt_secret.clear();
  EXPECT_FALSE(VerifyJwt(SignJwtHs256(ok_claims, ""), no_secret, kNow).ok());
}

// An RS256 token signed with key over header and claims.
std::string SignRs256(EVP_PKEY* key, const std::string& header, const std::string& claims) {
  std::string input = absl::WebSafeBase64Escape(header) + "." + absl::WebSafeBase64Escape(claims);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  EVP_MD_CTX_free(md);
  return input + "." + absl::WebSafeBase64Escape(sig);
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key), 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

// A token may live at most jwt_max_lifetime (24 h by default), counted from
// now and from its iat, plus the clock skew for clocks ahead.
TEST(JwtTest, RefusesTokensThatLiveLongerThanTheMaximum) {
  const int64_t now = absl::ToUnixSeconds(kNow);
  auto verify = [&](const std::string& extra, const AuthOptions& o = Options()) {
    return VerifyJwt(SignJwtHs256(Claims(extra), kSecret), o, kNow);
  };
  EXPECT_TRUE(verify(absl::StrCat(R"(,"exp":)", now + 86400)).ok());
  EXPECT_TRUE(verify(absl::StrCat(R"(,"iat":)", now, R"(,"exp":)", now + 86400)).ok());
  EXPECT_EQ(verify(absl::StrCat(R"(,"exp":)", now + 86400 + 61)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(verify(absl::StrCat(R"(,"exp":)", int64_t{9999999999})).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Issued an hour ago for 24 h and a minute: within 24 h of now, but not of iat.
  EXPECT_EQ(verify(absl::StrCat(R"(,"iat":)", now - 3600, R"(,"exp":)", now - 3600 + 86460)).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(verify(absl::StrCat(R"(,"iat":"yesterday","exp":)", now + 60)).status().code(),
            absl::StatusCode::kUnauthenticated);
  AuthOptions hour = Options();
  hour.jwt_max_lifetime = absl::Hours(1);
  EXPECT_TRUE(verify(absl::StrCat(R"(,"exp":)", now + 3600), hour).ok());
  EXPECT_EQ(verify(absl::StrCat(R"(,"exp":)", now + 7200), hour).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(JwtTest, Rs256IsPinnedWhenAPublicKeyIsConfigured) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  EVP_PKEY* other = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  ASSERT_NE(other, nullptr);
  const std::string pem = PublicPem(key);
  AuthOptions o = Options();
  auto loaded = LoadRsaPublicKey(pem);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  o.jwt_public_key = *loaded;
  const std::string claims = Claims(R"(,"exp":1800000100)");
  const std::string rs = R"({"alg":"RS256","typ":"JWT"})";
  auto ok = VerifyJwt(SignRs256(key, rs, claims), o, kNow);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->user_id, "user1");
  // Another key, HS256 (even keyed with the public PEM: alg confusion), and none are refused.
  EXPECT_FALSE(VerifyJwt(SignRs256(other, rs, claims), o, kNow).ok());
  EXPECT_FALSE(VerifyJwt(SignJwtHs256(claims, kSecret), o, kNow).ok());
  EXPECT_FALSE(VerifyJwt(SignJwtHs256(claims, pem), o, kNow).ok());
  EXPECT_FALSE(
      VerifyJwt(absl::WebSafeBase64Escape(R"({"alg":"none"})") + "." + absl::WebSafeBase64Escape(claims) + ".", o, kNow)
          .ok());
  EXPECT_FALSE(VerifyJwt(SignRs256(key, rs, Claims(R"(,"exp":1700000000)")), o, kNow).ok());
  EXPECT_FALSE(LoadRsaPublicKey("not a key").ok());
  EVP_PKEY_free(key);
  EVP_PKEY_free(other);
}

// Segments are base64url (correct padding taken) without whitespace, and the
// header and claims strict JSON with each key once.
TEST(JwtTest, SegmentsAndTheirJsonAreReadStrictly) {
  const std::string claims = Claims(R"(,"exp":1800000100)");
  const std::string token = SignJwtHs256(claims, kSecret);
  ASSERT_TRUE(VerifyJwt(token, Options(), kNow).ok());
  // The signature (32 bytes: 43 characters) with its padding is the same signature...
  EXPECT_TRUE(VerifyJwt(token + "=", Options(), kNow).ok());
  // ...but not with anything after the padding, or with whitespace inside.
  EXPECT_FALSE(VerifyJwt(token + "=x", Options(), kNow).ok());
  std::string spaced = token;
  spaced.insert(spaced.size() - 4, " ");
  EXPECT_FALSE(VerifyJwt(spaced, Options(), kNow).ok());
  const std::vector<std::string> bad_claims = {
      R"({'sub':'user1','org':'org1','iss':'rapport','aud':'rapport','exp':1800000100})",
      R"({"sub":"user1","org":"org1","iss":"rapport","aud":"rapport","exp":1800000100,})",
      R"({"sub":"user1","org":"org1","iss":"rapport","aud":"rapport","exp":1800000100,"sub":"user2"})",
      R"(["sub","user1"])",
  };
  for (const std::string& c : bad_claims) {
    EXPECT_EQ(VerifyJwt(SignJwtHs256(c, kSecret), Options(), kNow).status().message(), "malformed token") << c;
  }
}

absl::StatusOr<TenantContext> AuthRun(Authenticator& auth, const Credentials& c) {
  absl::StatusOr<TenantContext> out = absl::InternalError("not called");
  auth.Authenticate(c, [&](absl::StatusOr<TenantContext> r) { out = std::move(r); });
  return out;
}

TEST(AuthenticatorTest, ResolvesKeysAndCachesVerdicts) {
  std::atomic<int> calls{0};
  Authenticator auth(Options(), [&](const std::string& secret, Callback<VerifiedKey> done) {
    ++calls;
    if (secret != "good") return done(absl::UnauthenticatedError("invalid API key"));
    VerifiedKey k;
    k.org_id = "org1";
    k.scopes = (1u << api::v1::READ) | (1u << api::v1::ACT_AS_USER);
    done(k);
  });
  auto platform = AuthRun(auth, {"rpa_admin", "", "", ""});
  ASSERT_TRUE(platform.ok());
  EXPECT_TRUE(platform->Has(api::v1::PLATFORM));
  EXPECT_TRUE(platform->org_id.empty());
  EXPECT_EQ(calls, 0);

  auto key = AuthRun(auth, {"good", "", "user7", ""});
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->org_id, "org1");
  EXPECT_EQ(key->user_id, "user7");
  EXPECT_TRUE(key->Has(api::v1::READ));
  EXPECT_TRUE(AuthRun(auth, {"good", "", "", ""}).ok());
  EXPECT_EQ(calls, 1);  // cached

  EXPECT_EQ(AuthRun(auth, {"bad", "", "", ""}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthRun(auth, {"bad", "", "", ""}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(calls, 2);  // negative verdicts are cached too

  EXPECT_EQ(AuthRun(auth, {}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthRun(auth, {"rpa_admin", "", "user7", ""}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthRun(auth, {"", "Basic abc", "", ""}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthRun(auth, {"good", "Bearer x", "", ""}).status().code(), absl::StatusCode::kUnauthenticated);
  std::string jwt = SignJwtHs256(Claims(absl::StrCat(R"(,"exp":)", absl::ToUnixSeconds(absl::Now()) + 60)), kSecret);
  auto user = AuthRun(auth, {"", "Bearer " + jwt, "", ""});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->user_id, "user1");
  EXPECT_EQ(AuthRun(auth, {"", "Bearer " + jwt, "other", ""}).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(AuthenticatorTest, ActsOnlyAsUsersOfTheKeysOrg) {
  int checks = 0;
  Authenticator auth(
      Options(),
      [](const std::string&, Callback<VerifiedKey> done) {
        VerifiedKey k;
        k.org_id = "org1";
        k.scopes = (1u << api::v1::READ) | (1u << api::v1::ACT_AS_USER);
        done(k);
      },
      [&](const std::string& org, const std::string& user, Callback<bool> done) {
        ++checks;
        if (user == "down") return done(absl::UnavailableError("profiles down"));
        done(org == "org1" && user == "member");
      });
  EXPECT_TRUE(AuthRun(auth, {"key", "", "member", ""}).ok());
  EXPECT_TRUE(AuthRun(auth, {"key", "", "member", ""}).ok());
  EXPECT_EQ(checks, 1);  // cached
  EXPECT_EQ(AuthRun(auth, {"key", "", "stranger", ""}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthRun(auth, {"key", "", "stranger", ""}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(checks, 2);  // negative verdicts too
  EXPECT_EQ(AuthRun(auth, {"key", "", "down", ""}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AuthRun(auth, {"key", "", "down", ""}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(checks, 4);  // failures are not
}

TEST(AuthenticatorTest, DoesNotCacheBackendFailures) {
  int calls = 0;
  Authenticator auth(Options(), [&](const std::string&, Callback<VerifiedKey> done) {
    ++calls;
    done(absl::UnavailableError("profiles down"));
  });
  EXPECT_EQ(AuthRun(auth, {"k", "", "", ""}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AuthRun(auth, {"k", "", "", ""}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls, 2);
}

TEST(AuthenticatorTest, ThrottlesKeyGuessingPerClientAddress) {
  int calls = 0;
  RateLimitOptions limit;
  limit.per_minute = 60;  // one a second
  limit.burst = 3;
  RateLimiter failed(limit, nullptr, nullptr);
  Authenticator auth(
      Options(),
      [&](const std::string& secret, Callback<VerifiedKey> done) {
        ++calls;
        if (secret != "good") return done(absl::UnauthenticatedError("invalid API key"));
        VerifiedKey k;
        k.org_id = "org1";
        k.scopes = 1u << api::v1::READ;
        done(k);
      },
      nullptr, &failed);
  ASSERT_TRUE(AuthRun(auth, {"good", "", "", "10.0.0.1"}).ok());  // verified (token given back), cached
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(AuthRun(auth, {absl::StrCat("guess", i), "", "", "10.0.0.1"}).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(calls, 4);
  // The address's bucket is empty: a new key is refused without a lookup, with the wait.
  absl::Status refused = AuthRun(auth, {"guess3", "", "", "10.0.0.1"}).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  ASSERT_TRUE(refused.GetPayload(kRetryAfterPayload).has_value());
  EXPECT_EQ(std::string(*refused.GetPayload(kRetryAfterPayload)), "1");
  EXPECT_EQ(calls, 4);
  // A key verified before, a cached refusal, a JWT and another address still pass.
  EXPECT_TRUE(AuthRun(auth, {"good", "", "", "10.0.0.1"}).ok());
  EXPECT_EQ(AuthRun(auth, {"guess0", "", "", "10.0.0.1"}).status().code(), absl::StatusCode::kUnauthenticated);
  std::string jwt = SignJwtHs256(Claims(absl::StrCat(R"(,"exp":)", absl::ToUnixSeconds(absl::Now()) + 60)), kSecret);
  EXPECT_TRUE(AuthRun(auth, {"", "Bearer " + jwt, "", "10.0.0.1"}).ok());
  EXPECT_EQ(AuthRun(auth, {"guess3", "", "", "10.0.0.2"}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(calls, 5);
}

// Lookups in flight hold their tokens: a wave of concurrent guesses gets no
// more lookups than the burst, and the tokens of valid keys and backend
// failures come back when they answer.
TEST(AuthenticatorTest, ConcurrentGuessesGetNoMoreLookupsThanTheBurst) {
  RateLimitOptions limit;
  limit.per_minute = 1;
  limit.burst = 3;
  RateLimiter failed(limit, nullptr, nullptr);
  std::vector<std::pair<std::string, Callback<VerifiedKey>>> pending;  // lookups not yet answered
  Authenticator auth(
      Options(), [&](const std::string& secret, Callback<VerifiedKey> done) { pending.emplace_back(secret, done); },
      nullptr, &failed);
  std::vector<absl::StatusOr<TenantContext>> results;
  for (int i = 0; i < 10; ++i) {
    auth.Authenticate({absl::StrCat("k", i), "", "", "10.0.0.1"},
                      [&](absl::StatusOr<TenantContext> r) { results.push_back(std::move(r)); });
  }
  ASSERT_EQ(pending.size(), 3u);
  ASSERT_EQ(results.size(), 7u);
  for (const auto& r : results) EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  // One valid key and one backend failure give their tokens back; one refusal keeps it.
  VerifiedKey valid;
  valid.org_id = "org1";
  valid.scopes = 1u << api::v1::READ;
  pending[0].second(valid);
  pending[1].second(absl::UnavailableError("profiles down"));
  pending[2].second(absl::UnauthenticatedError("invalid API key"));
  EXPECT_TRUE(results[7].ok());
  EXPECT_EQ(results[8].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(results[9].status().code(), absl::StatusCode::kUnauthenticated);
  pending.clear();
  for (int i = 10; i < 15; ++i) {
    auth.Authenticate({absl::StrCat("k", i), "", "", "10.0.0.1"}, [](absl::StatusOr<TenantContext>) {});
  }
  EXPECT_EQ(pending.size(), 2u);  // the two tokens given back
}

// Many connections presenting one valid key when its verdict is not cached
// (at start, and each time it expires): one lookup serves them all, so they
// are neither refused by the throttle of lookups nor a stampede on profiles.
TEST(AuthenticatorTest, ConcurrentRequestsWithOneKeyShareOneLookup) {
  RateLimitOptions limit;
  limit.per_minute = 1;
  limit.burst = 3;
  RateLimiter failed(limit, nullptr, nullptr);
  std::vector<Callback<VerifiedKey>> key_lookups;
  std::vector<Callback<bool>> user_checks;
  Authenticator auth(
      Options(), [&](const std::string&, Callback<VerifiedKey> done) { key_lookups.push_back(done); },
      [&](const std::string&, const std::string&, Callback<bool> done) { user_checks.push_back(done); }, &failed);
  std::vector<absl::StatusOr<TenantContext>> results;
  for (int i = 0; i < 50; ++i) {
    auth.Authenticate({"the-key", "", "member", absl::StrCat("10.0.0.", i % 2)},
                      [&](absl::StatusOr<TenantContext> r) { results.push_back(std::move(r)); });
  }
  ASSERT_EQ(key_lookups.size(), 1u);
  EXPECT_TRUE(results.empty());
  VerifiedKey valid;
  valid.org_id = "org1";
  valid.scopes = (1u << api::v1::READ) | (1u << api::v1::ACT_AS_USER);
  key_lookups[0](valid);
  ASSERT_EQ(user_checks.size(), 1u);  // the user's check is shared too
  EXPECT_TRUE(results.empty());
  user_checks[0](true);
  ASSERT_EQ(results.size(), 50u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->org_id, "org1");
    EXPECT_EQ(r->user_id, "member");
  }
  // Both verdicts are cached now; a new flight starts only for another key,
  // and one refused lookup answers all of its waiters.
  results.clear();
  auth.Authenticate({"the-key", "", "member", "10.0.0.1"},
                    [&](absl::StatusOr<TenantContext> r) { results.push_back(std::move(r)); });
  EXPECT_EQ(key_lookups.size(), 1u);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok());
  results.clear();
  for (int i = 0; i < 5; ++i) {
    auth.Authenticate({"a-guess", "", "", "10.0.0.1"},
                      [&](absl::StatusOr<TenantContext> r) { results.push_back(std::move(r)); });
  }
  ASSERT_EQ(key_lookups.size(), 2u);
  key_lookups[1](absl::UnauthenticatedError("invalid API key"));
  ASSERT_EQ(results.size(), 5u);
  for (const auto& r : results) EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
}

// Org administration: a token's user must be an active user of its org
// (the same cached check as X-Rapport-User); a personal key acts as its user;
// the key's id and own rate limit reach the context.
TEST(AuthenticatorTest, TokensOfInactiveUsersAreRefusedAndPersonalKeysActAsTheirUser) {
  int checks = 0;
  bool active = true;
  AuthOptions options = Options();
  options.key_cache_ttl = absl::Milliseconds(200);
  Authenticator auth(
      options,
      [](const std::string&, Callback<VerifiedKey> done) {
        VerifiedKey k;
        k.org_id = "org1";
        k.key_id = "key9";
        k.user_id = "user1";
        k.rate_limit_per_minute = 12;
        k.scopes = (1u << api::v1::READ) | (1u << api::v1::WRITE);
        done(k);
      },
      [&](const std::string&, const std::string& user, Callback<bool> done) {
        ++checks;
        done(user == "user1" && active);
      });
  const std::string jwt =
      SignJwtHs256(Claims(absl::StrCat(R"(,"exp":)", absl::ToUnixSeconds(absl::Now()) + 60)), kSecret);
  ASSERT_TRUE(AuthRun(auth, {"", "Bearer " + jwt, "", ""}).ok());
  ASSERT_TRUE(AuthRun(auth, {"", "Bearer " + jwt, "", ""}).ok());
  EXPECT_EQ(checks, 1);  // cached
  active = false;
  // Accepted until the verdict expires, then refused (polled with a deadline).
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (AuthRun(auth, {"", "Bearer " + jwt, "", ""}).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(AuthRun(auth, {"", "Bearer " + jwt, "", ""}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(checks, 2);

  auto personal = AuthRun(auth, {"rpk.personal", "", "", ""});
  ASSERT_TRUE(personal.ok()) << personal.status();
  EXPECT_EQ(personal->user_id, "user1");
  EXPECT_EQ(personal->key_id, "key9");
  EXPECT_EQ(personal->rate_limit_per_minute, 12);
  // It holds no ACT_AS_USER: it cannot name another user.
  EXPECT_EQ(AuthRun(auth, {"rpk.personal", "", "user2", ""}).status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace rapport::gateway
