#include "gateway/auth.h"

#include <openssl/bio.h>
#include <openssl/pem.h>

#include <optional>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/json_parser.h"
#include "google/protobuf/struct.pb.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"

namespace rapport::gateway {
namespace {

constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=";
constexpr size_t kMaxCacheEntries = 100000;

// Bounds a verdict cache before an insert: expired entries go first, and
// only a cache full of live entries is emptied.
template <typename Map, typename ExpiryOf>
void MakeRoom(Map& cache, absl::Time now, ExpiryOf expiry_of) {
  if (cache.size() < kMaxCacheEntries) return;
  absl::erase_if(cache, [&](const auto& entry) { return expiry_of(entry.second) <= now; });
  if (cache.size() >= kMaxCacheEntries) cache.clear();
}

absl::Status Unauthenticated(const std::string& why) { return absl::UnauthenticatedError(why); }

// A JWT segment: base64url (RFC 7515 omits the padding; correct padding is
// still taken), and no whitespace, which Abseil's decoder would skip.
bool DecodeSegment(absl::string_view segment, std::string* out) {
  return segment.find_first_not_of(kBase64UrlAlphabet) == absl::string_view::npos &&
         absl::WebSafeBase64Unescape(segment, out);
}

// The JSON object of a token's header or claims.
absl::StatusOr<google::protobuf::Struct> DecodeJsonPart(const std::string& part) {
  std::string json;
  if (!DecodeSegment(part, &json)) return Unauthenticated("malformed token");
  absl::StatusOr<google::protobuf::Value> value = ParseJsonValue(json);
  if (!value.ok() || !value->has_struct_value()) return Unauthenticated("malformed token");
  return std::move(*value->mutable_struct_value());
}

const google::protobuf::Value* Field(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

std::string StringClaim(const google::protobuf::Struct& s, const std::string& name) {
  const google::protobuf::Value* v = Field(s, name);
  return (v != nullptr && v->kind_case() == google::protobuf::Value::kStringValue) ? v->string_value() : "";
}

}  // namespace

absl::StatusOr<std::shared_ptr<EVP_PKEY>> LoadRsaPublicKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (bio == nullptr) return absl::InternalError("BIO_new_mem_buf failed");
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM public key");
  std::shared_ptr<EVP_PKEY> out(key, EVP_PKEY_free);
  if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) return absl::InvalidArgumentError("not an RSA public key");
  return out;
}

std::string SignJwtHs256(const std::string& payload_json, const std::string& secret, const std::string& header_json) {
  const std::string signing_input =
      absl::StrCat(absl::WebSafeBase64Escape(header_json), ".", absl::WebSafeBase64Escape(payload_json));
  return absl::StrCat(signing_input, ".", absl::WebSafeBase64Escape(HmacSha256(secret, signing_input)));
}

absl::StatusOr<TenantContext> VerifyJwt(const std::string& token, const AuthOptions& options, absl::Time now) {
  const bool rs256 = options.jwt_public_key != nullptr;
  if (!rs256 && options.jwt_secret.empty()) return Unauthenticated("user tokens are not accepted here");
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("malformed token");
  absl::StatusOr<google::protobuf::Struct> header = DecodeJsonPart(parts[0]);
  if (!header.ok()) return header.status();
  // The algorithm is pinned by configuration: the header may not choose it
  // (no "none", no RS256/HS256 confusion).
  if (StringClaim(*header, "alg") != (rs256 ? "RS256" : "HS256")) {
    return Unauthenticated("token algorithm not accepted");
  }
  std::string signature;
  const bool decoded = DecodeSegment(parts[2], &signature);
  const std::string signing_input = parts[0] + "." + parts[1];
  bool valid = false;
  if (decoded && rs256) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    valid = md != nullptr &&
            EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, options.jwt_public_key.get()) == 1 &&
            EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  } else if (decoded) {
    valid = ConstantTimeEquals(signature, HmacSha256(options.jwt_secret, signing_input));
  }
  if (!valid) return Unauthenticated("invalid token signature");
  absl::StatusOr<google::protobuf::Struct> claims = DecodeJsonPart(parts[1]);
  if (!claims.ok()) return claims.status();
  const double t = static_cast<double>(absl::ToUnixSeconds(now));
  const double skew = absl::ToDoubleSeconds(options.jwt_skew);
  const google::protobuf::Value* exp = Field(*claims, "exp");
  if (exp == nullptr || exp->kind_case() != google::protobuf::Value::kNumberValue) {
    return Unauthenticated("token has no expiry");
  }
  if (t > exp->number_value() + skew) return Unauthenticated("token expired");
  const double max_lifetime = absl::ToDoubleSeconds(options.jwt_max_lifetime);
  if (exp->number_value() - t > max_lifetime + skew) return Unauthenticated("token lives longer than allowed");
  if (const google::protobuf::Value* iat = Field(*claims, "iat"); iat != nullptr) {
    if (iat->kind_case() != google::protobuf::Value::kNumberValue) return Unauthenticated("malformed token");
    if (exp->number_value() - iat->number_value() > max_lifetime) {
      return Unauthenticated("token lives longer than allowed");
    }
  }
  if (const google::protobuf::Value* nbf = Field(*claims, "nbf"); nbf != nullptr) {
    if (nbf->kind_case() != google::protobuf::Value::kNumberValue) return Unauthenticated("malformed token");
    if (t + skew < nbf->number_value()) return Unauthenticated("token not yet valid");
  }
  if (StringClaim(*claims, "iss") != options.jwt_issuer) return Unauthenticated("token issuer not accepted");
  bool audience_ok = false;
  if (const google::protobuf::Value* aud = Field(*claims, "aud"); aud != nullptr) {
    if (aud->kind_case() == google::protobuf::Value::kStringValue) {
      audience_ok = aud->string_value() == options.jwt_audience;
    } else if (aud->kind_case() == google::protobuf::Value::kListValue) {
      for (const auto& v : aud->list_value().values()) audience_ok |= v.string_value() == options.jwt_audience;
    }
  }
  if (!audience_ok) return Unauthenticated("token audience not accepted");
  TenantContext ctx;
  ctx.user_id = StringClaim(*claims, "sub");
  ctx.org_id = StringClaim(*claims, "org");
  if (!IsWellFormedId(ctx.user_id) || !IsWellFormedId(ctx.org_id)) {
    return Unauthenticated("token names no user or org");
  }
  ctx.Add(api::v1::READ);
  ctx.Add(api::v1::WRITE);
  return ctx;
}

Authenticator::Authenticator(AuthOptions options, KeyVerifier verifier, UserChecker user_checker,
                             RateLimiter* failed_lookups, JwtKeyResolver jwt_keys)
    : options_(std::move(options)),
      verifier_(std::move(verifier)),
      user_checker_(std::move(user_checker)),
      failed_lookups_(failed_lookups),
      jwt_keys_(jwt_keys ? std::make_unique<JwtKeyCache>(std::move(jwt_keys), options_.jwt_key_cache_ttl) : nullptr) {}

void Authenticator::FromKey(const VerifiedKey& key, const Credentials& credentials,
                            const Callback<TenantContext>& done) {
  TenantContext ctx;
  ctx.org_id = key.org_id;
  ctx.scopes = key.scopes;
  ctx.key_id = key.key_id;
  ctx.rate_limit_per_minute = key.rate_limit_per_minute;
  ctx.user_id = key.user_id;  // a personal key acts as its user (checked active by VerifyApiKey)
  if (!credentials.act_as_user.empty()) {
    if (!ctx.Has(api::v1::ACT_AS_USER)) {
      return done(absl::PermissionDeniedError("X-Rapport-User needs a key with the ACT_AS_USER scope"));
    }
    if (!IsWellFormedId(credentials.act_as_user)) {
      return done(absl::InvalidArgumentError("X-Rapport-User: must be a user id"));
    }
    ctx.user_id = credentials.act_as_user;
    if (user_checker_) {
      return RequireActiveUser(std::move(ctx), absl::PermissionDeniedError("X-Rapport-User names no user of this org"),
                               done);
    }
  }
  done(std::move(ctx));
}

void Authenticator::RequireActiveUser(TenantContext ctx, const absl::Status& refused,
                                      const Callback<TenantContext>& done) {
  const std::string cache_key = absl::StrCat(ctx.org_id, "/", ctx.user_id);
  const absl::Time now = absl::Now();
  bool known = false, unknown = false, lead = false;
  {
    absl::MutexLock lock(&mu_);
    auto k = known_users_.find(cache_key);
    known = k != known_users_.end() && k->second > now;
    auto u = unknown_users_.find(cache_key);
    unknown = u != unknown_users_.end() && u->second > now;
    if (!known && !unknown) {
      auto [flight, inserted] = user_checks_.try_emplace(cache_key);
      flight->second.push_back([ctx, refused, done](const absl::StatusOr<bool>& exists) mutable {
        if (!exists.ok() && !absl::IsNotFound(exists.status())) return done(exists.status());
        if (!exists.ok() || !*exists) return done(refused);
        done(std::move(ctx));
      });
      lead = inserted;
    }
  }
  if (unknown) return done(refused);
  if (known) return done(std::move(ctx));
  if (!lead) return;  // answered when the check in flight lands
  user_checker_(ctx.org_id, ctx.user_id, [this, cache_key](absl::StatusOr<bool> exists) {
    if (exists.ok() || absl::IsNotFound(exists.status())) {
      const bool found = exists.ok() && *exists;
      absl::MutexLock lock(&mu_);
      auto& cache = found ? known_users_ : unknown_users_;
      const absl::Time now = absl::Now();
      MakeRoom(cache, now, [](absl::Time expiry) { return expiry; });
      cache[cache_key] = now + options_.key_cache_ttl;
    }
    Land(user_checks_, cache_key, exists);
  });
}

void Authenticator::Authenticate(const Credentials& credentials, Callback<TenantContext> done) {
  if (!credentials.api_key.empty() && !credentials.authorization.empty()) {
    return done(Unauthenticated("send one credential: X-Api-Key or Authorization"));
  }
  if (!credentials.authorization.empty()) {
    const std::string& h = credentials.authorization;
    if (h.size() < 8 || !absl::StartsWithIgnoreCase(h, "Bearer ")) {
      return done(Unauthenticated("Authorization must be a Bearer token"));
    }
    if (!credentials.act_as_user.empty()) {
      return done(absl::PermissionDeniedError("X-Rapport-User needs a key with the ACT_AS_USER scope"));
    }
    // After the signature (and the kid's org key): the token's user must be an
    // active user of its org.
    return FromJwt(h.substr(7), credentials.client, [this, done](absl::StatusOr<TenantContext> jwt) {
      if (!jwt.ok() || !user_checker_) return done(std::move(jwt));
      RequireActiveUser(*std::move(jwt), Unauthenticated("the token's user is not an active user of its org"), done);
    });
  }
  if (credentials.api_key.empty()) return done(Unauthenticated("credentials required: X-Api-Key or Authorization"));

  if (!options_.admin_key.empty() && ConstantTimeEquals(credentials.api_key, options_.admin_key)) {
    VerifiedKey platform;
    platform.scopes = 1u << static_cast<int>(api::v1::PLATFORM);
    return FromKey(platform, credentials, done);
  }
  const std::string cache_key = Sha256(credentials.api_key);
  const absl::Time now = absl::Now();
  std::optional<absl::StatusOr<VerifiedKey>> cached;
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(cache_key);
    if (it != cache_.end() && it->second.expiry > now) {
      cached = it->second.verdict;
    } else {
      auto [flight, inserted] = key_lookups_.try_emplace(cache_key);
      flight->second.push_back([this, credentials, done](const absl::StatusOr<VerifiedKey>& verdict) {
        if (verdict.ok()) return FromKey(*verdict, credentials, done);
        // Only "invalid key" reaches the client as such; a backend failure stays a backend failure.
        done(absl::IsUnauthenticated(verdict.status()) ? Unauthenticated("invalid API key") : verdict.status());
      });
      lead = inserted;
    }
  }
  if (cached.has_value()) {
    if (!cached->ok()) return done(cached->status());
    return FromKey(**cached, credentials, done);
  }
  if (!lead) return;  // answered when the lookup in flight lands
  const bool throttled = failed_lookups_ != nullptr && !credentials.client.empty();
  if (throttled) {
    const RateDecision d = failed_lookups_->Take(credentials.client);
    if (!d.allowed) {
      return Land(key_lookups_, cache_key, absl::StatusOr<VerifiedKey>(TooManyGuesses(d, "invalid API keys")));
    }
  }
  verifier_(credentials.api_key,
            [this, cache_key, client = credentials.client, throttled](absl::StatusOr<VerifiedKey> verdict) {
              // Only a refused key keeps its token: valid keys and backend failures are not guesses.
              if (throttled && !absl::IsUnauthenticated(verdict.status())) failed_lookups_->Refund(client);
              if (verdict.ok() || absl::IsUnauthenticated(verdict.status())) {
                absl::MutexLock lock(&mu_);
                const absl::Time now = absl::Now();
                MakeRoom(cache_, now, [](const CacheEntry& e) { return e.expiry; });
                cache_[cache_key] = CacheEntry{now + options_.key_cache_ttl, verdict};
              }
              Land(key_lookups_, cache_key, verdict);
            });
}

template <typename T>
void Authenticator::Land(Flights<T>& flights, const std::string& key, const absl::StatusOr<T>& result) {
  std::vector<std::function<void(const absl::StatusOr<T>&)>> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = flights.find(key);
    if (it == flights.end()) return;
    waiters = std::move(it->second);
    flights.erase(it);
  }
  for (auto& waiter : waiters) waiter(result);
}

// --- orgs' signing keys (kid) ---

absl::StatusOr<std::string> JwtKeyId(const std::string& token) {
  const size_t dot = token.find('.');
  if (dot == std::string::npos) return Unauthenticated("malformed token");
  absl::StatusOr<google::protobuf::Struct> header = DecodeJsonPart(token.substr(0, dot));
  if (!header.ok()) return header.status();
  const google::protobuf::Value* kid = Field(*header, "kid");
  if (kid == nullptr) return std::string();
  if (kid->kind_case() != google::protobuf::Value::kStringValue || kid->string_value().empty()) {
    return Unauthenticated("malformed token");
  }
  return kid->string_value();
}

absl::StatusOr<TenantContext> VerifyOrgJwt(const std::string& token, const JwtKey& key, const AuthOptions& options,
                                           absl::Time now) {
  // The org key's algorithm (HS256) is pinned by the key, whatever the
  // global configuration pins for tokens without kid.
  AuthOptions with_key = options;
  with_key.jwt_secret = key.secret;
  with_key.jwt_public_key = nullptr;
  if (key.secret.empty()) return Unauthenticated("unknown token key");
  absl::StatusOr<TenantContext> ctx = VerifyJwt(token, with_key, now);
  if (!ctx.ok()) return ctx;
  if (ctx->org_id != key.org_id) return Unauthenticated("token org does not match its signing key");
  if (now >= key.expire_time) return Unauthenticated("token signing key has expired");
  return ctx;
}

absl::Status Authenticator::TooManyGuesses(const RateDecision& d, const std::string& what) {
  absl::Status refused = absl::ResourceExhaustedError(
      absl::StrCat("too many ", what, " from this address; retry after ", d.retry_after_seconds, " s"));
  refused.SetPayload(kRetryAfterPayload, absl::Cord(absl::StrCat(d.retry_after_seconds)));
  return refused;
}

void Authenticator::FromJwt(const std::string& token, const std::string& client, const Callback<TenantContext>& done) {
  absl::StatusOr<std::string> kid = JwtKeyId(token);
  if (!kid.ok()) return done(kid.status());
  if (kid->empty()) return done(VerifyJwt(token, options_));
  if (jwt_keys_ == nullptr) return done(Unauthenticated("token signing key (kid) not accepted here"));
  JwtKeyCache::Guard guard;
  if (failed_lookups_ != nullptr && !client.empty()) {
    guard.admit = [this, client]() -> absl::Status {
      const RateDecision d = failed_lookups_->Take(client);
      return d.allowed ? absl::OkStatus() : TooManyGuesses(d, "unknown token signing keys");
    };
    // Only a kid that does not exist keeps its token.
    guard.after = [this, client](const absl::StatusOr<JwtKey>& key) {
      if (!absl::IsNotFound(key.status())) failed_lookups_->Refund(client);
    };
  }
  jwt_keys_->Resolve(
      *kid,
      [this, token, named = *kid, done](absl::StatusOr<JwtKey> key) {
        if (!key.ok()) {
          // Only "no such key" reaches the client as such; a backend failure
          // (or the throttle) stays what it is.
          return done(absl::IsNotFound(key.status()) ? Unauthenticated("unknown token signing key") : key.status());
        }
        if (key->kid != named) return done(Unauthenticated("unknown token signing key"));
        done(VerifyOrgJwt(token, *key, options_));
      },
      std::move(guard));
}

}  // namespace rapport::gateway
