// The gateway process: flags and environment -> options, start the HTTP
// server in front of the backends of gateway/backends.cc, serve until SIGTERM
// or SIGINT, drain.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gateway/backends.h"
#include "gateway/server.h"
#include "services/common/config.h"
#include "services/common/log.h"
#include "services/common/redis_client.h"
#include "services/common/server.h"
#include "services/common/service_registry.h"
#include "services/common/termination.h"

ABSL_FLAG(std::string, addr, rapport::registry::kGateway.default_addr, "HTTP listen address (env RAPPORT_HTTP_ADDR)");
ABSL_FLAG(std::string, admin_key, "", "platform admin key (env RAPPORT_ADMIN_KEY); empty: no platform access");
ABSL_FLAG(std::string, jwt_secret, "", "HS256 secret of user JWTs (env RAPPORT_JWT_SECRET); empty: no JWTs");
ABSL_FLAG(std::string, jwt_public_key_file, "",
          "RS256 public key (PEM) of user JWTs (env RAPPORT_JWT_PUBLIC_KEY_FILE); when set, RS256 is pinned");
ABSL_FLAG(std::string, jwt_issuer, "rapport", "required JWT iss (env RAPPORT_JWT_ISSUER)");
ABSL_FLAG(std::string, jwt_audience, "rapport", "required JWT aud (env RAPPORT_JWT_AUDIENCE)");
ABSL_FLAG(int64_t, jwt_max_lifetime_seconds, 86400,
          "longest a JWT may live: exp at most this far from now and from iat; longer is 401 "
          "(env RAPPORT_JWT_MAX_LIFETIME_SECONDS)");
ABSL_FLAG(int64_t, jwt_key_cache_seconds, 30,
          "how long an org JWT signing key (kid) looked up in profiles, or its absence, is cached "
          "(env RAPPORT_JWT_KEY_CACHE_SECONDS)");
ABSL_FLAG(int, backend_deadline_ms, 5000, "deadline of each backend call (env RAPPORT_BACKEND_DEADLINE_MS)");
ABSL_FLAG(int, threads, 0, "io threads; 0 = one per core (env RAPPORT_HTTP_THREADS)");
ABSL_FLAG(int, rate_limit_per_minute, 600,
          "per-credential token bucket refill, requests a minute; 0 disables (env RAPPORT_RATE_LIMIT_PER_MINUTE)");
ABSL_FLAG(int, rate_limit_burst, 100, "per-credential bucket capacity (env RAPPORT_RATE_LIMIT_BURST)");
ABSL_FLAG(int, failed_keys_per_minute, 60,
          "per client address, API keys refused by profiles a minute before unverified keys get 429; 0 disables "
          "(env RAPPORT_FAILED_KEYS_PER_MINUTE)");
ABSL_FLAG(int, failed_keys_burst, 20,
          "per client address, refused API keys allowed at once (env RAPPORT_FAILED_KEYS_BURST)");
ABSL_FLAG(std::string, cors_origins, "", "comma-separated allowed CORS origins (env RAPPORT_CORS_ORIGINS)");
ABSL_FLAG(std::string, trusted_proxies, "",
          "comma-separated addresses and CIDR networks of proxies whose X-Forwarded-For gives the client's address "
          "(env RAPPORT_TRUSTED_PROXIES); empty: the TCP peer is the client");
ABSL_FLAG(int, max_connections, 10000,
          "open HTTP connections at most; more are answered 503 and closed; 0: no limit (env RAPPORT_MAX_CONNECTIONS)");
ABSL_FLAG(int, client_share_percent, 10,
          "percent of max_connections one client address may hold open, and of event streams one credential may; "
          "more are answered 429; 0 or 100: no share (env RAPPORT_CLIENT_SHARE_PERCENT)");
ABSL_FLAG(int, header_timeout_ms, 10000,
          "a request's header must arrive within this of its first byte, else the connection is closed "
          "(env RAPPORT_HEADER_TIMEOUT_MS)");
ABSL_FLAG(int, unauthenticated_per_minute, 120,
          "per client address, requests refused for missing or bad credentials a minute before they get 429; "
          "0 disables (env RAPPORT_UNAUTHENTICATED_PER_MINUTE)");
ABSL_FLAG(int, throttle_hold_ms, 1000,
          "a 429 for missing or bad credentials is held this long before it is sent; 0 answers at once "
          "(env RAPPORT_THROTTLE_HOLD_MS)");
ABSL_FLAG(int, unauthenticated_burst, 60,
          "per client address, requests refused for credentials allowed at once (env RAPPORT_UNAUTHENTICATED_BURST)");
ABSL_FLAG(int, sse_heartbeat_ms, 15000, "heartbeat comment interval on event streams (env RAPPORT_SSE_HEARTBEAT_MS)");
ABSL_FLAG(int, stream_recheck_ms, 2000,
          "how often an open event stream's credential is checked again; a revoked or expired one ends the stream "
          "(env RAPPORT_STREAM_RECHECK_MS)");

namespace {

// The usage line names every backend with its default address and its
// variable, as flags' help does, so that --help lists what the gateway reads.
std::string Usage() {
  std::vector<std::string> backends;
  for (const rapport::gateway::Backend& b : rapport::gateway::Backends()) {
    backends.push_back(absl::StrCat(b.service(), " at ", b.process->default_addr, " (env ", b.process->addr_env, ")"));
  }
  return absl::StrCat("rapport HTTP/JSON gateway; backends (host:port, several comma-separated, or unix:/path): ",
                      absl::StrJoin(backends, "; "));
}

}  // namespace

int main(int argc, char** argv) {
  rapport::InitProcess();
  rapport::config::ParseFlags(argc, argv, Usage(),
                              {{"addr", rapport::registry::kGateway.addr_env},
                               {"admin_key", "RAPPORT_ADMIN_KEY"},
                               {"jwt_secret", "RAPPORT_JWT_SECRET"},
                               {"jwt_public_key_file", "RAPPORT_JWT_PUBLIC_KEY_FILE"},
                               {"jwt_issuer", "RAPPORT_JWT_ISSUER"},
                               {"jwt_audience", "RAPPORT_JWT_AUDIENCE"},
                               {"jwt_max_lifetime_seconds", "RAPPORT_JWT_MAX_LIFETIME_SECONDS"},
                               {"jwt_key_cache_seconds", "RAPPORT_JWT_KEY_CACHE_SECONDS"},
                               {"backend_deadline_ms", "RAPPORT_BACKEND_DEADLINE_MS"},
                               {"threads", "RAPPORT_HTTP_THREADS"},
                               {"cors_origins", "RAPPORT_CORS_ORIGINS"},
                               {"sse_heartbeat_ms", "RAPPORT_SSE_HEARTBEAT_MS"},
                               {"stream_recheck_ms", "RAPPORT_STREAM_RECHECK_MS"},
                               {"max_connections", "RAPPORT_MAX_CONNECTIONS"},
                               {"client_share_percent", "RAPPORT_CLIENT_SHARE_PERCENT"},
                               {"header_timeout_ms", "RAPPORT_HEADER_TIMEOUT_MS"},
                               {"unauthenticated_per_minute", "RAPPORT_UNAUTHENTICATED_PER_MINUTE"},
                               {"unauthenticated_burst", "RAPPORT_UNAUTHENTICATED_BURST"},
                               {"throttle_hold_ms", "RAPPORT_THROTTLE_HOLD_MS"},
                               {"trusted_proxies", "RAPPORT_TRUSTED_PROXIES"},
                               {"rate_limit_per_minute", "RAPPORT_RATE_LIMIT_PER_MINUTE"},
                               {"rate_limit_burst", "RAPPORT_RATE_LIMIT_BURST"},
                               {"failed_keys_per_minute", "RAPPORT_FAILED_KEYS_PER_MINUTE"},
                               {"failed_keys_burst", "RAPPORT_FAILED_KEYS_BURST"}});
  rapport::log::Init("gateway", absl::GetFlag(FLAGS_log_level));
  rapport::gateway::GatewayOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.internal_key = absl::GetFlag(FLAGS_internal_key);
  if (options.internal_key.empty()) {
    rapport::log::Error("--internal_key (RAPPORT_INTERNAL_KEY) is required");
    return 2;
  }
  options.threads = absl::GetFlag(FLAGS_threads);
  options.backend_deadline = std::chrono::milliseconds(absl::GetFlag(FLAGS_backend_deadline_ms));
  options.auth.admin_key = absl::GetFlag(FLAGS_admin_key);
  options.auth.jwt_secret = absl::GetFlag(FLAGS_jwt_secret);
  if (absl::GetFlag(FLAGS_jwt_max_lifetime_seconds) <= 0) {
    rapport::log::Error("--jwt_max_lifetime_seconds (RAPPORT_JWT_MAX_LIFETIME_SECONDS) must be positive");
    return 2;
  }
  options.auth.jwt_max_lifetime = absl::Seconds(absl::GetFlag(FLAGS_jwt_max_lifetime_seconds));
  if (absl::GetFlag(FLAGS_jwt_key_cache_seconds) < 0) {
    rapport::log::Error("--jwt_key_cache_seconds (RAPPORT_JWT_KEY_CACHE_SECONDS) must not be negative");
    return 2;
  }
  options.auth.jwt_key_cache_ttl = absl::Seconds(absl::GetFlag(FLAGS_jwt_key_cache_seconds));
  if (const std::string path = absl::GetFlag(FLAGS_jwt_public_key_file); !path.empty()) {
    std::ifstream in(path);
    std::stringstream pem;
    pem << in.rdbuf();
    auto key = rapport::gateway::LoadRsaPublicKey(pem.str());
    if (!in || !key.ok()) {
      rapport::log::Error("cannot load the JWT public key", {{"file", path}, {"error", key.status().ToString()}});
      return 2;
    }
    options.auth.jwt_public_key = *key;
  }
  options.auth.jwt_issuer = absl::GetFlag(FLAGS_jwt_issuer);
  options.auth.jwt_audience = absl::GetFlag(FLAGS_jwt_audience);
  options.rate_limit.per_minute = absl::GetFlag(FLAGS_rate_limit_per_minute);
  options.rate_limit.burst = std::max(1, absl::GetFlag(FLAGS_rate_limit_burst));
  options.failed_keys.per_minute = absl::GetFlag(FLAGS_failed_keys_per_minute);
  options.failed_keys.burst = std::max(1, absl::GetFlag(FLAGS_failed_keys_burst));
  options.redis_addr = rapport::config::RedisAddress();  // empty: local rate-limit buckets only
  if (absl::Status bad = rapport::redis::ParseAddress(options.redis_addr).status();
      !options.redis_addr.empty() && !bad.ok()) {
    rapport::log::Error("bad --redis_url (RAPPORT_REDIS_URL) or --redis_addr", {{"error", bad.ToString()}});
    return 2;
  }
  options.cors_origins = absl::StrSplit(absl::GetFlag(FLAGS_cors_origins), ',', absl::SkipWhitespace());
  options.max_connections = std::max(0, absl::GetFlag(FLAGS_max_connections));
  options.client_share_percent = std::clamp(absl::GetFlag(FLAGS_client_share_percent), 0, 100);
  options.header_timeout = std::chrono::milliseconds(std::max(100, absl::GetFlag(FLAGS_header_timeout_ms)));
  options.unauthenticated.per_minute = absl::GetFlag(FLAGS_unauthenticated_per_minute);
  options.unauthenticated.burst = std::max(1, absl::GetFlag(FLAGS_unauthenticated_burst));
  options.throttle_hold = std::chrono::milliseconds(std::clamp(absl::GetFlag(FLAGS_throttle_hold_ms), 0, 10000));
  auto proxies = rapport::gateway::TrustedProxies::Parse(absl::GetFlag(FLAGS_trusted_proxies));
  if (!proxies.ok()) {
    rapport::log::Error("bad --trusted_proxies (RAPPORT_TRUSTED_PROXIES)", {{"error", proxies.status().ToString()}});
    return 2;
  }
  options.trusted_proxies = *std::move(proxies);
  options.sse_heartbeat = std::chrono::milliseconds(std::max(100, absl::GetFlag(FLAGS_sse_heartbeat_ms)));
  options.stream_recheck = std::chrono::milliseconds(std::max(100, absl::GetFlag(FLAGS_stream_recheck_ms)));
  for (const rapport::gateway::Backend& b : rapport::gateway::Backends()) {
    b.anchor();  // registers the service's proto file
    options.backends.push_back({b.service(), rapport::gateway::BackendAddr(b)});
  }
  auto gateway = rapport::gateway::Gateway::Start(std::move(options));
  if (!gateway.ok()) {
    rapport::log::Error("cannot start", {{"error", gateway.status().ToString()}});
    return 1;
  }
  rapport::ServeUntilSignal([&gateway] { (*gateway)->Stop(); });
  return 0;
}
