#include "gateway/pipeline.h"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gateway/json_writer.h"
#include "gateway/openapi.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/status.h"

namespace rapport::gateway {
namespace {

// The backend deadline of upload (HttpBody) routes at least.
constexpr std::chrono::milliseconds kUploadDeadline{60000};

namespace http = boost::beast::http;

std::string Header(const http::fields& req, const char* name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value().data(), it->value().size());
}

bool IsPrintableAscii(const std::string& s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Paths are cut to this many characters in logs: a client cannot write
// kilobytes into the log with each request.
constexpr size_t kLoggedPathChars = 256;

// {"status":"ok"}: the process serves (readiness is /readyz).
std::string HealthyJson() {
  std::string out;
  JsonWriter(&out).BeginObject().Key("status").String("ok").EndObject();
  return out;
}

}  // namespace

std::string RequestIdFrom(const http::fields& req) {
  std::string id = Header(req, "X-Request-Id");
  if (id.empty() || id.size() > 128) return NewId();
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return NewId();
  }
  return id;
}

Response MakeResponse(int status, std::string body, const char* content_type) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "rapport-gateway");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

Response ProblemResponse(const Problem& p, const std::string& request_id) {
  return MakeResponse(p.status, ProblemJson(p, request_id), "application/problem+json");
}

// One HTTP exchange in progress; finished exactly once.
struct Pipeline::Exchange {
  std::string request_id;
  std::string method;
  std::string path;
  std::string route = "unmatched";
  std::string client;            // the client's address (client_address.h)
  std::string credential;        // the rate-limit bucket, once authenticated
  bool unauthenticated = false;  // refused for its credentials: logged sampled, per client
  std::string origin;            // allowed CORS origin, or empty
  RateDecision rate;             // rate.limit > 0: add X-RateLimit-* headers
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  Reply reply;
  OpenStream open_stream;     // for server-streaming routes
  std::string last_event_id;  // the Last-Event-ID header
  Credentials credentials;    // as sent, for event streams' re-checks
};

Pipeline::Pipeline(const GatewayOptions& options, Metrics* metrics, BackendClient* backends, EventStreams* streams,
                   std::function<void(std::function<void()>)> run_blocking,
                   boost::asio::any_io_executor stream_executor)
    : options_(options),
      metrics_(metrics),
      backends_(backends),
      streams_(streams),
      run_blocking_(std::move(run_blocking)),
      stream_executor_(std::move(stream_executor)) {}

Pipeline::~Pipeline() = default;

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(const GatewayOptions& options, Metrics* metrics,
                                                           BackendClient* backends, EventStreams* streams,
                                                           std::function<void(std::function<void()>)> run_blocking,
                                                           boost::asio::any_io_executor stream_executor) {
  std::unique_ptr<Pipeline> p(
      new Pipeline(options, metrics, backends, streams, std::move(run_blocking), std::move(stream_executor)));
  std::vector<std::string> services;
  for (const BackendEndpoint& b : options.backends) services.push_back(b.service);
  RETURN_IF_ERROR(p->router_.AddServices(services));
  p->openapi_ = OpenApiJson(p->router_);
  if (!options.redis_addr.empty()) {
    redis::ClientOptions redis_options;
    redis_options.addr = options.redis_addr;
    p->redis_ = std::make_unique<redis::Client>(redis_options);
  }
  // Local buckets: sharing them through Redis would cost a round trip per
  // lookup; each gateway process throttles on its own.
  p->failed_keys_ = std::make_unique<RateLimiter>(options.failed_keys, nullptr, nullptr);
  p->unauthenticated_ = std::make_unique<RateLimiter>(options.unauthenticated, nullptr, nullptr);
  p->limiter_ = std::make_unique<RateLimiter>(options.rate_limit, p->redis_.get(), p->run_blocking_);
  p->auth_ = std::make_unique<Authenticator>(
      options.auth,
      [backends](const std::string& secret, Callback<VerifiedKey> done) {
        backends->VerifyApiKey(secret, std::move(done));
      },
      [backends](const std::string& org, const std::string& user, Callback<bool> done) {
        backends->CheckUser(org, user, std::move(done));
      },
      p->failed_keys_.get(),
      [backends](const std::string& kid, Callback<JwtKey> done) { backends->ResolveJwtKey(kid, std::move(done)); });
  // Its own thread: a check blocks up to ready_timeout per backend, which
  // must not hold the pool that refills rate-limit leases.
  p->readiness_ = std::make_unique<ReadinessCache>(
      [backends, timeout = options.ready_timeout] { return backends->Serving(timeout); });
  return p;
}

void Pipeline::Stop() { readiness_->Stop(); }

std::string Pipeline::AllowedOrigin(const Request& req) const {
  std::string origin = Header(req, "Origin");
  if (origin.empty()) return "";
  for (const std::string& allowed : options_.cors_origins) {
    if (allowed == origin || allowed == "*") return origin;
  }
  return "";
}

void Pipeline::Decorate(const ExchangePtr& ex, Response& res) {
  res.set("X-Request-Id", ex->request_id);
  if (ex->rate.limit > 0) {
    res.set("X-RateLimit-Limit", absl::StrCat(ex->rate.limit));
    res.set("X-RateLimit-Remaining", absl::StrCat(ex->rate.remaining));
    if (!ex->rate.allowed) res.set(http::field::retry_after, absl::StrCat(ex->rate.retry_after_seconds));
  }
  if (!ex->origin.empty()) {
    res.set(http::field::access_control_allow_origin, ex->origin);
    res.set(http::field::vary, "Origin");
    res.set(http::field::access_control_expose_headers,
            "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, Retry-After");
  }
}

void Pipeline::Finish(const ExchangePtr& ex, Response res) {
  Decorate(ex, res);
  const int status = static_cast<int>(res.result_int());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ex->start).count();
  metrics_->ObserveRequest(ex->route, status, seconds);
  if (log::Enabled(log::Level::kInfo)) {
    // Refusals for credentials are sampled per client: a flood of them
    // would otherwise flood the log.
    LogSampler::Verdict sample;
    if (ex->unauthenticated) sample = unauthenticated_log_.Sample(ex->client);
    if (sample.write) {
      log::Fields fields = {{"method", ex->method},
                            {"path", ex->path.substr(0, kLoggedPathChars)},
                            {"route", ex->route},
                            {"status", absl::StrCat(status)},
                            {"ms", absl::StrCat(static_cast<int64_t>(seconds * 1000))},
                            {"request_id", ex->request_id}};
      if (ex->path.size() > kLoggedPathChars) fields.push_back({"path_length", absl::StrCat(ex->path.size())});
      if (ex->unauthenticated) {
        fields.push_back({"client", ex->client});
        if (sample.suppressed > 0) fields.push_back({"suppressed", absl::StrCat(sample.suppressed)});
      }
      log::Info("http", fields);
    }
  }
  ex->reply(std::move(res));
}

void Pipeline::Fail(const ExchangePtr& ex, const Problem& p) { Finish(ex, ProblemResponse(p, ex->request_id)); }

void Pipeline::Throttled(const ExchangePtr& ex, const Problem& p) {
  if (options_.throttle_hold.count() <= 0) return Fail(ex, p);
  // Held on the stream loop's timer; the reply goes back to the
  // connection's own loop. Each held request is one per connection, and an
  // address's connections are bounded by its share.
  auto timer = std::make_shared<boost::asio::steady_timer>(stream_executor_, options_.throttle_hold);
  held_.fetch_add(1);
  timer->async_wait([this, ex, p, timer](const boost::system::error_code&) {
    Fail(ex, p);
    held_.fetch_sub(1);
  });
}

void Pipeline::AuthFailed(const ExchangePtr& ex, const absl::Status& status) {
  if (auto wait = status.GetPayload(kRetryAfterPayload); wait.has_value()) {
    // Too many invalid keys (or made-up kids) from this address: 429 with Retry-After.
    ex->unauthenticated = true;
    ex->rate.allowed = false;
    ex->rate.limit = options_.failed_keys.per_minute;
    if (!absl::SimpleAtoi(std::string(*wait), &ex->rate.retry_after_seconds)) ex->rate.retry_after_seconds = 1;
    return Throttled(ex, ProblemFromStatus(status));
  }
  if (status.code() != absl::StatusCode::kUnauthenticated) return Fail(ex, ProblemFromStatus(status));
  Unauthenticated(ex, ProblemFromStatus(status));
}

void Pipeline::Unauthenticated(const ExchangePtr& ex, const Problem& p) {
  ex->unauthenticated = true;
  // Refusing costs little, but a client that keeps sending no or bad
  // credentials is told to slow down, from its own address's bucket.
  const RateDecision decision = unauthenticated_->Take(ex->client);
  if (!decision.allowed) {
    ex->rate = decision;
    return Throttled(ex, MakeProblem(429, "RESOURCE_EXHAUSTED",
                                     absl::StrCat("too many requests without valid credentials from this address; "
                                                  "retry after ",
                                                  decision.retry_after_seconds, " s")));
  }
  Fail(ex, p);
}

void Pipeline::Handle(std::shared_ptr<Request> req, const std::string& client, Reply reply, OpenStream open_stream) {
  auto ex = std::make_shared<Exchange>();
  ex->client = client;
  ex->request_id = RequestIdFrom(*req);
  ex->method = std::string(req->method_string());
  ex->reply = std::move(reply);
  ex->open_stream = std::move(open_stream);
  ex->last_event_id = Header(*req, "Last-Event-ID");
  ex->origin = AllowedOrigin(*req);
  const std::string target(req->target());
  const size_t q = target.find('?');
  ex->path = target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : target.substr(q + 1);

  // CORS preflight for an allowed origin.
  if (req->method() == http::verb::options && !ex->origin.empty() &&
      !Header(*req, "Access-Control-Request-Method").empty()) {
    ex->route = "preflight";
    Response res = MakeResponse(204, "", "text/plain");
    res.set(http::field::access_control_allow_methods, "GET, POST, PUT, PATCH, DELETE");
    res.set(http::field::access_control_allow_headers,
            "Authorization, Content-Type, X-Api-Key, X-Rapport-User, Idempotency-Key, X-Request-Id");
    res.set(http::field::access_control_max_age, "600");
    return Finish(ex, std::move(res));
  }

  if (req->method() == http::verb::get) {
    if (ex->path == "/healthz") {
      ex->route = ex->path;
      return Finish(ex, MakeResponse(200, HealthyJson(), "application/json"));
    }
    if (ex->path == "/readyz") {
      ex->route = ex->path;
      return Ready(ex);
    }
    if (ex->path == "/openapi.json") {
      ex->route = ex->path;
      return Finish(ex, MakeResponse(200, openapi_, "application/json"));
    }
    if (ex->path == "/metrics") {
      // The platform admin's: the figures tell every org's traffic.
      ex->route = ex->path;
      Credentials credentials{Header(*req, "X-Api-Key"), Header(*req, "Authorization"), "", client};
      return auth_->Authenticate(credentials, [this, ex](absl::StatusOr<TenantContext> tenant) {
        if (!tenant.ok()) return AuthFailed(ex, tenant.status());
        if (!tenant->Has(api::v1::PLATFORM)) {
          return Fail(ex, MakeProblem(403, "PERMISSION_DENIED", "/metrics needs the platform admin key"));
        }
        Finish(ex, MakeResponse(200, metrics_->Text(), "text/plain; version=0.0.4"));
      });
    }
  }

  RouteMatch match = router_.Match(ex->method, ex->path);
  if (match.kind == RouteMatch::Kind::kNoSuchPath) {
    return Fail(ex, MakeProblem(404, "NOT_FOUND", "no route for " + ex->path));
  }
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    Response res = ProblemResponse(
        MakeProblem(405, "METHOD_NOT_ALLOWED", absl::StrCat(ex->method, " is not allowed on ", ex->path)),
        ex->request_id);
    res.set(http::field::allow, absl::StrJoin(match.allowed_methods, ", "));
    return Finish(ex, std::move(res));
  }
  const Route& route = *match.route;
  ex->route = absl::StrCat(route.http_method, " ", route.path_template);

  HttpInput input;
  if (route.raw_body) {
    // An upload: any media type; the service tells the file's format.
    input.content_type = std::string(absl::StripAsciiWhitespace(Header(*req, "Content-Type")));
  } else if (!req->body().empty()) {
    std::string type = Header(*req, "Content-Type");
    type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(type.substr(0, type.find(';'))));
    if (type != "application/json") {
      return Fail(ex, MakeProblem(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be application/json"));
    }
  }
  input.body = std::move(req->body());
  input.path_vars = std::move(match.vars);
  absl::StatusOr<QueryParams> params = ParseQuery(query);
  if (!params.ok()) return Fail(ex, ProblemFromStatus(params.status()));
  input.query = *std::move(params);

  std::string idempotency_key;
  if (route.rule.idempotent_create()) {
    idempotency_key = Header(*req, "Idempotency-Key");
    if (idempotency_key.size() > 255 || !IsPrintableAscii(idempotency_key)) {
      return Fail(
          ex, ProblemFromStatus(absl::InvalidArgumentError("Idempotency-Key: up to 255 printable ASCII characters")));
    }
  }

  Credentials credentials{Header(*req, "X-Api-Key"), Header(*req, "Authorization"), Header(*req, "X-Rapport-User"),
                          client};
  if (route.method->server_streaming()) ex->credentials = credentials;
  auth_->Authenticate(credentials, [this, ex, &route, input = std::move(input), idempotency_key,
                                    api_key = credentials.api_key](absl::StatusOr<TenantContext> tenant) mutable {
    Admit(ex, route, std::move(input), idempotency_key, api_key, std::move(tenant));
  });
}

void Pipeline::Admit(const ExchangePtr& ex, const Route& route, HttpInput input, const std::string& idempotency_key,
                     const std::string& api_key, absl::StatusOr<TenantContext> tenant) {
  if (!tenant.ok()) return AuthFailed(ex, tenant.status());
  if (!tenant->Has(route.rule.scope())) {
    return Fail(ex,
                MakeProblem(403, "PERMISSION_DENIED",
                            absl::StrCat("credentials lack the ", api::v1::Scope_Name(route.rule.scope()), " scope")));
  }
  tenant->request_id = ex->request_id;
  tenant->idempotency_key = idempotency_key;
  // For the audit log; an address never holds a space, but a signed field may not.
  tenant->client_address = ex->client.find(' ') == std::string::npos ? ex->client : "";
  // One bucket per credential: an API key (by hash), or a token's user.
  const std::string bucket = api_key.empty()
                                 ? absl::StrCat("user:", tenant->org_id, ":", tenant->user_id)
                                 : absl::StrCat("key:", absl::BytesToHexString(Sha256(api_key)).substr(0, 32));
  ex->credential = bucket;
  RateLimiter* limiter = tenant->rate_limit_per_minute > 0 ? KeyLimiter(tenant->rate_limit_per_minute) : limiter_.get();
  limiter->Acquire(bucket, [this, ex, &route, input = std::move(input),
                            tenant = *std::move(tenant)](RateDecision decision) mutable {
    ex->rate = decision;
    if (!decision.allowed) {
      return Fail(
          ex, MakeProblem(429, "RESOURCE_EXHAUSTED",
                          absl::StrCat("rate limit of ", decision.limit, " requests a minute exceeded; retry after ",
                                       decision.retry_after_seconds, " s")));
    }
    Dispatch(ex, route, std::move(input), std::move(tenant));
  });
}

RateLimiter* Pipeline::KeyLimiter(int per_minute) {
  absl::MutexLock lock(&key_limiters_mu_);
  std::unique_ptr<RateLimiter>& limiter = key_limiters_[per_minute];
  if (limiter == nullptr) {
    RateLimitOptions o = options_.rate_limit;
    o.per_minute = per_minute;
    o.burst = o.burst > 0 ? std::min(o.burst, per_minute) : per_minute;
    limiter = std::make_unique<RateLimiter>(o, redis_.get(), run_blocking_);
  }
  return limiter.get();
}

void Pipeline::Dispatch(const ExchangePtr& ex, const Route& route, HttpInput input, TenantContext tenant) {
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> request = BuildRequest(route, input);
  if (!request.ok()) return Fail(ex, ProblemFromStatus(request.status()));
  if (route.method->server_streaming()) return Stream(ex, route, **request, tenant);
  backends_->Call(
      route.service, route.grpc_method, tenant, **request,
      [this, ex, &route](grpc::Status status, grpc::ByteBuffer* bytes) {
        if (!status.ok()) {
          Problem p = ProblemFromStatus(FromGrpcStatus(status));
          if (p.status >= 500) {
            log::Warn("backend call failed", {{"method", route.grpc_method},
                                              {"code", absl::StrCat(status.error_code())},
                                              {"error", status.error_message()},
                                              {"request_id", ex->request_id}});
          }
          return Fail(ex, p);
        }
        const google::protobuf::Message* prototype =
            google::protobuf::MessageFactory::generated_factory()->GetPrototype(route.method->output_type());
        std::unique_ptr<google::protobuf::Message> response(prototype->New());
        if (!ParseResponse(bytes, response.get())) {
          return Fail(ex, ProblemFromStatus(absl::InternalError("unparsable backend response")));
        }
        absl::StatusOr<std::string> json = ToJson(*response);
        if (!json.ok()) return Fail(ex, ProblemFromStatus(json.status()));
        Finish(ex, MakeResponse(200, *std::move(json), "application/json"));
      },
      // An upload (up to 20 MiB) is parsed and stored before its answer: more
      // time than a JSON call, on a loaded machine several seconds.
      route.raw_body ? std::max(options_.backend_deadline, kUploadDeadline) : std::chrono::milliseconds::zero());
}

void Pipeline::Stream(const ExchangePtr& ex, const Route& route, const google::protobuf::Message& request,
                      const TenantContext& tenant) {
  grpc::GenericStub* stub = backends_->Stub(route.service);
  if (stub == nullptr) return Fail(ex, MakeProblem(503, "UNAVAILABLE", "no backend for " + route.service));
  // One credential holds at most its share of the connection cap as event
  // streams; the slot goes back when the stream's call is done (the
  // callbacks holding it are destroyed with the call).
  std::shared_ptr<ShareCounter::Slot> slot;
  if (const int share = ShareOf(options_.max_connections, options_.client_share_percent); share > 0) {
    slot = stream_shares_.TryTake(ex->credential, share);
    if (slot == nullptr) {
      metrics_->ShareRefused("stream");
      Response res = ProblemResponse(
          MakeProblem(429, "RESOURCE_EXHAUSTED",
                      absl::StrCat("one credential may hold at most ", share, " event streams open at once")),
          ex->request_id);
      res.set(http::field::retry_after, "1");
      return Finish(ex, std::move(res));
    }
  }
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  ApplyLastEventId(ex->last_event_id, copy.get());
  EventStreams::Call call;
  call.stub = stub;
  call.grpc_method = route.grpc_method;
  call.method = route.method;
  call.metadata = backends_->Metadata(tenant, route.grpc_method);
  call.request = copy->SerializeAsString();
  call.executor = stream_executor_;
  // The credential is validated again while the stream is open (through the
  // key cache, so a key costs at most one lookup per cache lifetime): a
  // revoked key or an expired token ends the stream.
  call.recheck = [this, credentials = ex->credentials](std::function<void(absl::Status)> verdict) {
    auth_->Authenticate(credentials, [verdict = std::move(verdict)](absl::StatusOr<TenantContext> tenant) {
      verdict(tenant.status());
    });
  };
  call.recheck_every = options_.stream_recheck;
  streams_->Start(
      std::move(call),
      [this, ex](const std::string& content_type) {
        Response head = MakeResponse(200, "", content_type.c_str());
        head.set("X-Accel-Buffering", "no");
        if (content_type != "text/event-stream") {
          // A download (sse.h): its chunks as they come, saved as a file by browsers.
          head.chunked(true);
          head.set(http::field::content_disposition, "attachment");
        }
        Decorate(ex, head);
        metrics_->ObserveRequest(ex->route, 200,
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - ex->start).count());
        log::Info(
            "http stream opened",
            {{"path", ex->path.substr(0, kLoggedPathChars)}, {"route", ex->route}, {"request_id", ex->request_id}});
        return ex->open_stream(std::move(head));
      },
      [this, ex, service = route.service, slot](grpc::Status status) {
        const absl::Status error = FromGrpcStatus(status);
        metrics_->ObserveBackendError(service, error.code());
        Fail(ex, ProblemFromStatus(error));
      },
      [ex, slot](grpc::Status status) {
        log::Info("http stream ended",
                  {{"route", ex->route}, {"code", absl::StrCat(status.error_code())}, {"request_id", ex->request_id}});
      });
}

// {"backends":{"<service>":"SERVING"|"NOT_SERVING",...}}: 200 when every
// backend serves, else 503 (also with no result, when stopping). From the
// readiness cache: at most one check a second, on its own thread.
void Pipeline::Ready(const ExchangePtr& ex) {
  readiness_->Get([this, ex](const std::map<std::string, bool>& serving) {
    std::string body;
    JsonWriter json(&body);
    json.BeginObject().Key("backends").BeginObject();
    bool all = !serving.empty();
    for (const auto& [name, ok] : serving) {
      all &= ok;
      json.Key(name).String(ok ? "SERVING" : "NOT_SERVING");
    }
    json.EndObject().EndObject();
    Finish(ex, MakeResponse(all ? 200 : 503, std::move(body), "application/json"));
  });
}

size_t Pipeline::BodyLimit(const std::string& method, const std::string& target) const {
  const std::string path = target.substr(0, target.find('?'));
  RouteMatch match = router_.Match(method, path);
  if (match.kind == RouteMatch::Kind::kMatched && match.route->raw_body) return options_.upload_limit;
  return options_.body_limit;
}

}  // namespace rapport::gateway
