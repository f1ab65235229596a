// The gateway's HTTP/1.1 server, start and stop: N event loops (one
// io_context and thread each, one per core by default), the listener that
// hands accepted connections to the loops round-robin (refusing those over
// max_connections, and retrying accept when out of descriptors), and the
// drain on Stop. The work itself is in three parts, each its own file:
//   connection.h      one client's connection (read, limits, keep-alive, write)
//   pipeline.h        one request: auth -> route -> transcode -> call -> answer
//   backend_client.h  the gRPC calls to the backends, signed, with a deadline
// Server-streaming routes are served as Server-Sent Events (sse.h).
// Operations endpoints: /healthz, /readyz (every backend's gRPC health,
// cached, readiness.h), /openapi.json, /metrics (Prometheus text, with the
// platform admin key).
//
// A Gateway owns everything it serves with: the loops and their threads, the
// metrics, the connection shares per client address, the backend client, the
// pipeline, the event streams, a small thread pool for blocking work (Redis).
//
// Thread-safety: Start/Stop from one thread; everything else is internal.
#ifndef RAPPORT_GATEWAY_SERVER_H_
#define RAPPORT_GATEWAY_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/auth.h"
#include "gateway/client_address.h"
#include "gateway/rate_limit.h"

namespace rapport::gateway {

struct BackendEndpoint {
  std::string service;  // full gRPC service name
  std::string addr;     // host:port
};

struct GatewayOptions {
  std::string addr = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  int threads = 0;                      // 0: one per core
  std::chrono::milliseconds backend_deadline{5000};
  std::chrono::milliseconds ready_timeout{500};
  std::string internal_key;  // signs tenant metadata; required
  AuthOptions auth;
  std::vector<BackendEndpoint> backends;
  size_t body_limit = 1 << 20;
  // The body limit of routes whose body is a rapport.api.v1.HttpBody (raw
  // uploads such as POST /v1/imports); every other route keeps body_limit.
  size_t upload_limit = 20 << 20;
  std::vector<std::string> cors_origins;  // exact origins allowed; empty: none
  RateLimitOptions rate_limit;
  // Per client address, API keys refused by VerifyApiKey (auth.h); 0 disables.
  RateLimitOptions failed_keys{.per_minute = 60, .burst = 20};
  std::string redis_addr;                          // rate-limit buckets; empty: local buckets only
  std::chrono::milliseconds sse_heartbeat{15000};  // comment line on idle event streams
  // How often an open event stream's credential is validated again (the
  // key cache's 5 s included, a revoked key's streams end within 10 s).
  std::chrono::milliseconds stream_recheck{2000};
  // Open HTTP connections (event streams included) at most; a connection
  // over the limit is answered 503 with Retry-After and closed. 0: no limit.
  int max_connections = 10000;
  // The share of max_connections one client address may hold (its TCP peer;
  // trusted proxies count against the cap only), and of event streams one
  // credential may hold open, in percent; past it, 429 with Retry-After.
  // 0 or 100: no share.
  int client_share_percent = 10;
  // A request's header must arrive whole within this of its first byte
  // (an idle keep-alive connection still waits 60 s for it).
  std::chrono::milliseconds header_timeout{10000};
  // Per client address, requests refused for missing or bad credentials;
  // past it they are answered 429 with Retry-After. 0 disables.
  RateLimitOptions unauthenticated{.per_minute = 120, .burst = 60};
  // A 429 for that (or for too many invalid keys) is held this long before
  // it is sent: a client that keeps sending waits on each of its
  // connections instead of costing the gateway a refusal as fast as it can
  // send, so a flood from one address gets at most its connection share of
  // answers per hold. 0: answered at once.
  std::chrono::milliseconds throttle_hold{1000};
  // Proxies whose X-Forwarded-For is believed for the client's address
  // (client_address.h); none: the TCP peer is the client.
  TrustedProxies trusted_proxies;
};

class Gateway {
 public:
  // Builds the route table, connects the backends, binds and starts serving.
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(GatewayOptions options);
  ~Gateway();
  // Stops accepting, waits (bounded by the backend deadline) for calls in flight, joins the threads.
  void Stop();
  int port() const;

  struct Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_SERVER_H_
