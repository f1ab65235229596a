// The gateway's request pipeline: one parsed HTTP request in, one answer (or
// an event stream) out, in this order: operations endpoints (/healthz,
// /readyz from the ReadinessCache, /openapi.json, /metrics for the platform
// admin key) and CORS preflight; route (404, 405 with Allow); Content-Type
// (415); Idempotency-Key; credentials (401/403, the Authenticator; a client
// address refused for its credentials too often gets 429 instead); the
// route's scope (403); rate limit (429, Retry-After); transcoding to the
// RPC's request message (400); the backend call (BackendClient), or an event
// stream for server-streaming routes (EventStreams; at most a share of the
// connection cap per credential, else 429); the answer as proto3 JSON or
// application/problem+json, with X-Request-Id, X-RateLimit-* and CORS
// headers, counted in Metrics and logged (paths cut at 256 characters;
// refusals for credentials sampled per client address, log_sampler.h).
// It knows nothing of sockets: a connection (connection.h) hands it each
// request with a Reply that writes the answer, and an OpenStream that turns
// the connection into an event stream.
//
// Owns the route table, the OpenAPI document, the Authenticator, the rate
// limiters (with their Redis client), the event-stream shares, the log
// sampler and the readiness cache (with its thread); the options, Metrics, BackendClient and
// EventStreams it is created with belong to the server and outlive it.
//
// Thread-safety: Handle may be called from any thread, concurrently; a
// request's callbacks (reply, open_stream) may run on any thread.
#ifndef RAPPORT_GATEWAY_PIPELINE_H_
#define RAPPORT_GATEWAY_PIPELINE_H_

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/auth.h"
#include "gateway/backend_client.h"
#include "gateway/client_share.h"
#include "gateway/log_sampler.h"
#include "gateway/metrics.h"
#include "gateway/problem.h"
#include "gateway/rate_limit.h"
#include "gateway/readiness.h"
#include "gateway/router.h"
#include "gateway/server.h"
#include "gateway/sse.h"
#include "gateway/transcoder.h"
#include "services/common/redis_client.h"

namespace rapport::gateway {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
// Writes the answer to the client; called once, from any thread.
using Reply = std::function<void(Response)>;
// Hands the connection over to an event stream, writing `head` first (SSE).
using OpenStream = std::function<std::shared_ptr<EventSink>(Response head)>;

// An answer with the gateway's common headers (Server, Content-Type, Cache-Control: no-store).
Response MakeResponse(int status, std::string body, const char* content_type);
// An application/problem+json answer.
Response ProblemResponse(const Problem& problem, const std::string& request_id);
// The request's X-Request-Id when it is a safe token (≤ 128 of
// [A-Za-z0-9._-]: it is echoed into logs and metadata), else a new id.
std::string RequestIdFrom(const boost::beast::http::fields& req);

class Pipeline {
 public:
  // Builds the route table and /openapi.json from the services of
  // options.backends, and the Authenticator and rate limiters. run_blocking
  // runs a task off the io threads (readiness checks, Redis calls);
  // stream_executor runs the event streams' timers.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(const GatewayOptions& options, Metrics* metrics,
                                                          BackendClient* backends, EventStreams* streams,
                                                          std::function<void(std::function<void()>)> run_blocking,
                                                          boost::asio::any_io_executor stream_executor);
  ~Pipeline();

  // Answers one request through reply (or open_stream). client: the client's
  // address (client_address.h), for the throttle of failed key lookups.
  void Handle(std::shared_ptr<Request> req, const std::string& client, Reply reply, OpenStream open_stream);

  const Router& router() const { return router_; }

  // The largest body a request for method and target (path and query) may
  // send: options.upload_limit on a raw-body (HttpBody) route, else
  // options.body_limit. Asked by the connection once the header is in.
  size_t BodyLimit(const std::string& method, const std::string& target) const;

  // Stops the readiness thread, answering /readyz requests that wait for it;
  // call before the connections' loops stop.
  void Stop();

  // Throttling 429s being held (GatewayOptions::throttle_hold): the gateway
  // lets them go out before its loops stop.
  int HeldRefusals() const { return held_.load(); }

 private:
  struct Exchange;
  using ExchangePtr = std::shared_ptr<Exchange>;

  Pipeline(const GatewayOptions& options, Metrics* metrics, BackendClient* backends, EventStreams* streams,
           std::function<void(std::function<void()>)> run_blocking, boost::asio::any_io_executor stream_executor);

  // After authentication: the scope, the rate limit, then Dispatch.
  void Admit(const ExchangePtr& ex, const Route& route, HttpInput input, const std::string& idempotency_key,
             const std::string& api_key, absl::StatusOr<TenantContext> tenant);
  void Dispatch(const ExchangePtr& ex, const Route& route, HttpInput input, TenantContext tenant);
  void Stream(const ExchangePtr& ex, const Route& route, const google::protobuf::Message& request,
              const TenantContext& tenant);
  void Ready(const ExchangePtr& ex);
  // Credentials refused: 401/403 as the status says, 429 for key guessing
  // or, through Unauthenticated, for too many refusals from one address.
  void AuthFailed(const ExchangePtr& ex, const absl::Status& status);
  void Unauthenticated(const ExchangePtr& ex, const Problem& p);
  // Sends a throttling 429 after options_.throttle_hold (server.h).
  void Throttled(const ExchangePtr& ex, const Problem& p);
  void Decorate(const ExchangePtr& ex, Response& res);
  void Finish(const ExchangePtr& ex, Response res);
  void Fail(const ExchangePtr& ex, const Problem& p);
  std::string AllowedOrigin(const Request& req) const;
  // The limiter of a key with a rate limit of its own (ApiKey's
  // rate_limit_per_minute): one per distinct limit, made on first use, with
  // the deployment's lease settings and a burst of at most the limit.
  RateLimiter* KeyLimiter(int per_minute);

  const GatewayOptions& options_;
  Metrics* const metrics_;
  BackendClient* const backends_;
  EventStreams* const streams_;
  const std::function<void(std::function<void()>)> run_blocking_;
  const boost::asio::any_io_executor stream_executor_;
  Router router_;
  std::string openapi_;                           // /openapi.json, built once
  std::unique_ptr<RateLimiter> failed_keys_;      // per client address (auth.h); outlives auth_
  std::unique_ptr<RateLimiter> unauthenticated_;  // requests refused for credentials, per client address
  LogSampler unauthenticated_log_;                // their log lines, per client address
  ShareCounter stream_shares_;                    // open event streams per credential
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<redis::Client> redis_;  // the rate limit's buckets; null: local buckets only
  std::unique_ptr<RateLimiter> limiter_;
  // By limit. Limits are set by org admins on a bounded number of keys
  // (apiKeysPerOrg), so the map stays small.
  absl::Mutex key_limiters_mu_;
  absl::flat_hash_map<int, std::unique_ptr<RateLimiter>> key_limiters_ ABSL_GUARDED_BY(key_limiters_mu_);
  std::unique_ptr<ReadinessCache> readiness_;
  std::atomic<int> held_{0};
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_PIPELINE_H_
