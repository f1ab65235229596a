#include "gateway/server.h"

#include <array>
#include <cerrno>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gateway/metrics.h"
#include "gateway/openapi.h"
#include "gateway/problem.h"
#include "gateway/router.h"
#include "gateway/sse.h"
#include "gateway/transcoder.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/channel.h"
#include "services/common/crypto.h"
#include "services/common/health.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/status.h"

namespace rapport::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Reply = std::function<void(Response)>;
// Hands the connection over to an event stream, writing head first (SSE).
using OpenStream = std::function<std::shared_ptr<EventSink>(Response head)>;

constexpr char kProfilesService[] = "rapport.profiles.v1.ProfilesService";

std::string Header(const http::fields& req, const char* name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value().data(), it->value().size());
}

// X-Request-Id is echoed into logs and metadata: only a safe token is kept.
std::string RequestIdFrom(const http::fields& req) {
  std::string id = Header(req, "X-Request-Id");
  if (id.empty() || id.size() > 128) return NewId();
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return NewId();
  }
  return id;
}

bool IsPrintableAscii(const std::string& s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Response MakeResponse(int status, std::string body, const char* content_type) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "rapport-gateway");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

// Parses a backend's answer straight from the call's buffer (its slices, no
// flattening copy).
bool ParseResponse(grpc::ByteBuffer* bytes, google::protobuf::Message* out) {
  return bytes != nullptr && grpc::SerializationTraits<google::protobuf::Message>::Deserialize(bytes, out).ok();
}

Response ProblemResponse(const Problem& p, const std::string& request_id) {
  return MakeResponse(p.status, ProblemJson(p, request_id), "application/problem+json");
}

struct Backend {
  std::string service;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
};

// One HTTP exchange in progress; finished exactly once.
struct Exchange {
  std::string request_id;
  std::string method;
  std::string path;
  std::string route = "unmatched";
  std::string origin;  // allowed CORS origin, or empty
  RateDecision rate;   // rate.limit > 0: add X-RateLimit-* headers
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  Reply reply;
  OpenStream open_stream;     // for server-streaming routes
  std::string last_event_id;  // the Last-Event-ID header
};

}  // namespace

struct Gateway::Impl {
  explicit Impl(GatewayOptions o)
      : options(std::move(o)), signer(options.internal_key), loops(MakeLoops(options.threads)),
        acceptor(*loops[0]), accept_retry(*loops[0]), blocking(4) {}

  // One io_context per thread (an event loop per core): a connection lives on
  // one loop, so its handlers never run concurrently and need no strand, and
  // each loop runs with asio's single-threaded scheduler (no handler queue
  // shared between threads, no thread woken to run another's handler).
  static std::vector<std::unique_ptr<net::io_context>> MakeLoops(int threads) {
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::unique_ptr<net::io_context>> out;
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<net::io_context>(1));
    return out;
  }

  GatewayOptions options;
  // Before the loops: sessions still queued in a stopped loop count themselves
  // out of it when the loops are destroyed.
  Metrics metrics;
  Router router;
  std::string openapi;
  TenantSigner signer;
  std::map<std::string, Backend> backends;
  std::unique_ptr<RateLimiter> failed_keys;  // per client address, auth.h; outlives auth
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<RateLimiter> limiter;
  std::vector<std::unique_ptr<net::io_context>> loops;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> loop_guards;  // keep idle loops running
  size_t next_loop = 0;  // round-robin of accepted connections; touched on loops[0] only
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;  // on loops[0], like the acceptor
  bool accept_failing = false;     // touched on loops[0] only
  bool refusing = false;           // over max_connections; touched on loops[0] only
  net::thread_pool blocking;  // readiness checks and Redis calls, which block
  std::vector<std::thread> threads;
  EventStreams streams;  // server-streaming routes served as SSE
  int port = 0;
  bool stopped = false;

  void Accept();
  // client: the client's address (ClientOf), for the throttle of failed key lookups.
  void Handle(std::shared_ptr<Request> req, const std::string& client, Reply reply, OpenStream open_stream);
  void Decorate(const std::shared_ptr<Exchange>& ex, Response& res);
  void Finish(const std::shared_ptr<Exchange>& ex, Response res);
  void Stream(const std::shared_ptr<Exchange>& ex, const Route& route, const google::protobuf::Message& request,
              const TenantContext& tenant);
  void Fail(const std::shared_ptr<Exchange>& ex, const Problem& p) { Finish(ex, ProblemResponse(p, ex->request_id)); }
  void Dispatch(const std::shared_ptr<Exchange>& ex, const Route& route, HttpInput input, TenantContext tenant);
  void CallBackend(const std::string& service, const std::string& grpc_method, const TenantContext& tenant,
                   const google::protobuf::Message& request,
                   std::function<void(grpc::Status, grpc::ByteBuffer* response)> done);
  void VerifyKey(const std::string& secret, Callback<VerifiedKey> done);
  void CheckUser(const std::string& org, const std::string& user, Callback<bool> done);
  void Ready(const std::shared_ptr<Exchange>& ex);
  std::string AllowedOrigin(const Request& req) const;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Gateway::Impl* gw) : stream_(std::move(socket)), gw_(gw) {
    gw_->metrics.ConnectionOpened();
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) client_ = peer.address().to_string();
  }
  ~Session() { gw_->metrics.ConnectionClosed(); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Over the connection limit: answers 503 with Retry-After at once, without
  // waiting for a request, then drains what the client sends and closes.
  void Refuse() {
    gw_->metrics.ConnectionRefused();
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      const std::string id = NewId();
      Response res = ProblemResponse(
          MakeProblem(503, "UNAVAILABLE",
                      absl::StrCat("the gateway serves at most ", self->gw_->options.max_connections,
                                   " connections at once; retry later")),
          id);
      res.set(http::field::retry_after, "1");
      self->AnswerAndClose(std::move(res), id);
    });
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(gw_->options.body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::body_limit) return RejectTooLarge();
    if (ec == http::error::header_limit) {
      return Reject(431, "HEADERS_TOO_LARGE", "the request header is larger than 16 KiB");
    }
    if (IsMalformed(ec)) return Reject(400, "MALFORMED_REQUEST", "the request is not valid HTTP/1.1");
    if (ec) return Close();
    // A request without a body (every GET) is complete with its header: go
    // on now rather than through another read operation, whose completion
    // asio would post back through the loop.
    if (parser_->is_done()) return OnRead({});
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) return RejectTooLarge();
    if (IsMalformed(ec)) return Reject(400, "MALFORMED_REQUEST", "the request body is not valid HTTP/1.1");
    if (ec) return Close();
    auto req = std::make_shared<Request>(parser_->release());
    keep_alive_ = req->keep_alive();
    gw_->Handle(
        req, ClientOf(*req),
        [self = shared_from_this()](Response res) {
          net::post(self->stream_.get_executor(),
                    [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
        },
        [self = shared_from_this()](Response head) {
          // The connection now belongs to the event stream: no more requests on it.
          head.keep_alive(false);
          // Events go out as they come, not held back by Nagle's algorithm
          // until the client acknowledges the previous one. (Request/answer
          // connections keep Nagle: measured cheaper per request, and no
          // slower, with tools/bench/gateway_wrk.sh.)
          beast::error_code nodelay_ec;
          self->stream_.socket().set_option(tcp::no_delay(true), nodelay_ec);
          std::ostringstream out;
          out << head.base();
          return MakeSocketSink(self->stream_, self, out.str(), self->gw_->options.sse_heartbeat);
        });
  }

  // The client's address: the peer, or what trusted proxies say it is.
  std::string ClientOf(const Request& req) const {
    const TrustedProxies& proxies = gw_->options.trusted_proxies;
    if (proxies.empty()) return client_;
    std::string forwarded;
    const auto [first, last] = req.equal_range("X-Forwarded-For");
    for (auto field = first; field != last; ++field) {
      if (!forwarded.empty()) forwarded += ',';
      forwarded.append(field->value().data(), field->value().size());
    }
    return proxies.ClientOf(client_, forwarded);
  }

  // A parse error of the client's making (not a closed or timed-out connection).
  static bool IsMalformed(beast::error_code ec) {
    return ec && ec.category() == http::make_error_code(http::error::bad_method).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message;
  }

  // The body is over the limit: answer 413 without reading the rest, then close.
  void RejectTooLarge() {
    Reject(413, "PAYLOAD_TOO_LARGE", absl::StrCat("the request body is larger than ", gw_->options.body_limit, " bytes"));
  }

  // Answers a request that could not be read whole, then closes the connection.
  void Reject(int status, const char* code, const std::string& detail) {
    const auto& req = parser_->get();
    std::string id = RequestIdFrom(req);
    log::Info("http", {{"method", std::string(req.method_string())}, {"status", absl::StrCat(status)},
                       {"request_id", id}});
    AnswerAndClose(ProblemResponse(MakeProblem(status, code, detail), id), id);
  }

  // Answers outside any route (Reject, Refuse), then drains what the client
  // still sends and closes.
  void AnswerAndClose(Response res, const std::string& id) {
    res.set("X-Request-Id", id);
    gw_->metrics.ObserveRequest("unmatched", static_cast<int>(res.result_int()), 0);
    keep_alive_ = false;
    linger_ = true;
    Write(std::move(res));
  }

  // After refusing a body, reads and drops what the client still sends (for
  // at most a few seconds and 8 MiB) before closing, so that closing with
  // unread data does not reset the connection before the client read the 413.
  void Linger() {
    if (scratch_ == nullptr) scratch_ = std::make_unique<std::array<char, 16 * 1024>>();
    stream_.async_read_some(net::buffer(*scratch_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > (8u << 20)) return;
      self->Linger();
    });
  }

  void Write(Response res) {
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    auto sp = std::make_shared<Response>(std::move(res));
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, size_t) {
      if (ec || !sp->keep_alive()) return self->Close();
      self->ReadHeader();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (linger_ && !ec) {
      stream_.expires_after(std::chrono::seconds(3));
      Linger();
    }
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool linger_ = false;
  std::string client_;  // the TCP peer's address
  size_t lingered_ = 0;
  std::unique_ptr<std::array<char, 16 * 1024>> scratch_;  // only while lingering: idle connections stay small
  Gateway::Impl* gw_;
};

}  // namespace

void Gateway::Impl::Accept() {
  net::io_context& loop = *loops[next_loop++ % loops.size()];
  acceptor.async_accept(loop, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space || ec == net::error::no_memory ||
        ec.value() == ENFILE) {
      // Out of descriptors or memory: the connection stays queued and accept
      // would fail again at once, spinning a loop thread. Retry shortly.
      if (!accept_failing) log::Warn("cannot accept connections; retrying every 100 ms", {{"error", ec.message()}});
      accept_failing = true;
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor.is_open()) Accept();
      });
      return;
    }
    if (!ec) {
      if (accept_failing) log::Info("accepting connections again");
      accept_failing = false;
      const bool full = options.max_connections > 0 && metrics.OpenConnections() >= options.max_connections;
      auto session = std::make_shared<Session>(std::move(socket), this);
      if (full) {
        if (!refusing) {
          log::Warn("connection limit reached; refusing with 503",
                    {{"max_connections", absl::StrCat(options.max_connections)}});
        }
        refusing = true;
        session->Refuse();
      } else {
        if (refusing) log::Info("below the connection limit again");
        refusing = false;
        session->Start();
      }
    }
    Accept();
  });
}

std::string Gateway::Impl::AllowedOrigin(const Request& req) const {
  std::string origin = Header(req, "Origin");
  if (origin.empty()) return "";
  for (const std::string& allowed : options.cors_origins) {
    if (allowed == origin || allowed == "*") return origin;
  }
  return "";
}

void Gateway::Impl::Decorate(const std::shared_ptr<Exchange>& ex, Response& res) {
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

void Gateway::Impl::Finish(const std::shared_ptr<Exchange>& ex, Response res) {
  Decorate(ex, res);
  const int status = static_cast<int>(res.result_int());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ex->start).count();
  metrics.ObserveRequest(ex->route, status, seconds);
  if (log::Enabled(log::Level::kInfo)) log::Info("http", {{"method", ex->method},
                     {"path", ex->path},
                     {"route", ex->route},
                     {"status", absl::StrCat(status)},
                     {"ms", absl::StrCat(static_cast<int64_t>(seconds * 1000))},
                     {"request_id", ex->request_id}});
  ex->reply(std::move(res));
}

void Gateway::Impl::Handle(std::shared_ptr<Request> req, const std::string& client, Reply reply,
                           OpenStream open_stream) {
  auto ex = std::make_shared<Exchange>();
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
      return Finish(ex, MakeResponse(200, "{\"status\":\"ok\"}", "application/json"));
    }
    if (ex->path == "/readyz") {
      ex->route = ex->path;
      return Ready(ex);
    }
    if (ex->path == "/openapi.json") {
      ex->route = ex->path;
      return Finish(ex, MakeResponse(200, openapi, "application/json"));
    }
    if (ex->path == "/metrics") {
      ex->route = ex->path;
      return Finish(ex, MakeResponse(200, metrics.Text(), "text/plain; version=0.0.4"));
    }
  }

  RouteMatch match = router.Match(ex->method, ex->path);
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

  if (!req->body().empty()) {
    std::string type = Header(*req, "Content-Type");
    type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(type.substr(0, type.find(';'))));
    if (type != "application/json") {
      return Fail(ex, MakeProblem(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be application/json"));
    }
  }
  HttpInput input;
  input.body = std::move(req->body());
  input.path_vars = std::move(match.vars);
  absl::StatusOr<QueryParams> params = ParseQuery(query);
  if (!params.ok()) return Fail(ex, ProblemFromStatus(params.status()));
  input.query = *std::move(params);

  std::string idempotency_key;
  if (route.rule.idempotent_create()) {
    idempotency_key = Header(*req, "Idempotency-Key");
    if (idempotency_key.size() > 255 || !IsPrintableAscii(idempotency_key)) {
      return Fail(ex, ProblemFromStatus(
                          absl::InvalidArgumentError("Idempotency-Key: up to 255 printable ASCII characters")));
    }
  }

  Credentials credentials{Header(*req, "X-Api-Key"), Header(*req, "Authorization"), Header(*req, "X-Rapport-User"),
                          client};
  auth->Authenticate(credentials, [this, ex, &route, input = std::move(input), idempotency_key,
                                   api_key = credentials.api_key](absl::StatusOr<TenantContext> tenant) mutable {
    if (!tenant.ok()) {
      if (auto wait = tenant.status().GetPayload(kRetryAfterPayload); wait.has_value()) {
        // Too many invalid keys from this address: 429 with Retry-After.
        ex->rate.allowed = false;
        ex->rate.limit = options.failed_keys.per_minute;
        if (!absl::SimpleAtoi(std::string(*wait), &ex->rate.retry_after_seconds)) ex->rate.retry_after_seconds = 1;
      }
      return Fail(ex, ProblemFromStatus(tenant.status()));
    }
    if (!tenant->Has(route.rule.scope())) {
      return Fail(ex, MakeProblem(403, "PERMISSION_DENIED",
                                  absl::StrCat("credentials lack the ", api::v1::Scope_Name(route.rule.scope()),
                                               " scope")));
    }
    tenant->request_id = ex->request_id;
    tenant->idempotency_key = idempotency_key;
    // One bucket per credential: an API key (by hash), or a token's user.
    const std::string bucket = api_key.empty() ? absl::StrCat("user:", tenant->org_id, ":", tenant->user_id)
                                               : absl::StrCat("key:", HexEncode(Sha256(api_key)).substr(0, 32));
    limiter->Acquire(bucket, [this, ex, &route, input = std::move(input),
                              tenant = *std::move(tenant)](RateDecision decision) mutable {
      ex->rate = decision;
      if (!decision.allowed) {
        return Fail(ex, MakeProblem(429, "RESOURCE_EXHAUSTED",
                                    absl::StrCat("rate limit of ", decision.limit,
                                                 " requests a minute exceeded; retry after ",
                                                 decision.retry_after_seconds, " s")));
      }
      Dispatch(ex, route, std::move(input), std::move(tenant));
    });
  });
}

void Gateway::Impl::Dispatch(const std::shared_ptr<Exchange>& ex, const Route& route, HttpInput input,
                             TenantContext tenant) {
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> request = BuildRequest(route, input);
  if (!request.ok()) return Fail(ex, ProblemFromStatus(request.status()));
  if (route.method->server_streaming()) return Stream(ex, route, **request, tenant);
  CallBackend(route.service, route.grpc_method, tenant, **request,
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
              });
}

void Gateway::Impl::Stream(const std::shared_ptr<Exchange>& ex, const Route& route,
                           const google::protobuf::Message& request, const TenantContext& tenant) {
  auto it = backends.find(route.service);
  if (it == backends.end()) return Fail(ex, MakeProblem(503, "UNAVAILABLE", "no backend for " + route.service));
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  ApplyLastEventId(ex->last_event_id, copy.get());
  EventStreams::Call call{it->second.stub.get(), route.grpc_method, route.method, signer.Metadata(tenant),
                          copy->SerializeAsString(), loops[0]->get_executor()};
  streams.Start(
      std::move(call),
      [this, ex]() {
        Response head = MakeResponse(200, "", "text/event-stream");
        head.set("X-Accel-Buffering", "no");
        Decorate(ex, head);
        metrics.ObserveRequest(ex->route, 200, std::chrono::duration<double>(std::chrono::steady_clock::now() - ex->start).count());
        log::Info("http stream opened", {{"path", ex->path}, {"route", ex->route}, {"request_id", ex->request_id}});
        return ex->open_stream(std::move(head));
      },
      [this, ex, service = route.service](grpc::Status status) {
        const absl::Status error = FromGrpcStatus(status);
        metrics.ObserveBackendError(service, error.code());
        Fail(ex, ProblemFromStatus(error));
      },
      [ex](grpc::Status status) {
        log::Info("http stream ended", {{"route", ex->route}, {"code", absl::StrCat(status.error_code())},
                                        {"request_id", ex->request_id}});
      });
}

void Gateway::Impl::CallBackend(const std::string& service, const std::string& grpc_method,
                                const TenantContext& tenant, const google::protobuf::Message& request,
                                std::function<void(grpc::Status, grpc::ByteBuffer* response)> done) {
  auto it = backends.find(service);
  if (it == backends.end()) {
    return done(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no backend for " + service), nullptr);
  }
  struct Pending {
    grpc::ClientContext ctx;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };
  auto pending = std::make_shared<Pending>();
  pending->ctx.set_deadline(std::chrono::system_clock::now() + options.backend_deadline);
  signer.Sign(tenant, &pending->ctx);
  bool own_buffer = false;
  // Serialized straight into the call's buffer (no intermediate string).
  if (!grpc::SerializationTraits<google::protobuf::Message>::Serialize(request, &pending->request, &own_buffer).ok()) {
    return done(grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize the request"), nullptr);
  }
  metrics.BackendCallStarted();
  it->second.stub->UnaryCall(&pending->ctx, grpc_method, grpc::StubOptions(), &pending->request,
                             &pending->response,
                             [this, pending, &service = it->first, done = std::move(done)](grpc::Status status) {
                               if (!status.ok()) metrics.ObserveBackendError(service, FromGrpcStatus(status).code());
                               done(std::move(status), &pending->response);
                               metrics.BackendCallEnded();
                             });
}

void Gateway::Impl::VerifyKey(const std::string& secret, Callback<VerifiedKey> done) {
  TenantContext platform;
  platform.Add(api::v1::PLATFORM);
  platform.request_id = NewId();
  profiles::v1::VerifyApiKeyRequest request;
  request.set_secret(secret);
  CallBackend(kProfilesService, absl::StrCat("/", kProfilesService, "/VerifyApiKey"), platform, request,
              [done = std::move(done)](grpc::Status status, grpc::ByteBuffer* bytes) {
                if (!status.ok()) return done(FromGrpcStatus(status));
                profiles::v1::VerifyApiKeyResponse response;
                if (!ParseResponse(bytes, &response)) return done(absl::InternalError("unparsable VerifyApiKey answer"));
                VerifiedKey key;
                key.org_id = response.org_id();
                key.key_id = response.key_id();
                for (int s : response.scopes()) {
                  if (s != api::v1::PLATFORM && s > 0 && s < 32) key.scopes |= 1u << s;  // never PLATFORM from a key
                }
                done(std::move(key));
              });
}

// Asks profiles whether user belongs to org, as that org's administrator:
// the gateway vouches for the question, not the caller's key.
void Gateway::Impl::CheckUser(const std::string& org, const std::string& user, Callback<bool> done) {
  TenantContext admin;
  admin.org_id = org;
  admin.Add(api::v1::ADMIN);
  admin.request_id = NewId();
  profiles::v1::GetUserRequest request;
  request.set_user_id(user);
  CallBackend(kProfilesService, absl::StrCat("/", kProfilesService, "/GetUser"), admin, request,
              [done = std::move(done)](grpc::Status status, grpc::ByteBuffer*) {
                if (status.ok()) return done(true);
                // A malformed id is as unknown as a missing one.
                if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
                    status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
                  return done(false);
                }
                done(FromGrpcStatus(status));
              });
}

void Gateway::Impl::Ready(const std::shared_ptr<Exchange>& ex) {
  net::post(blocking, [this, ex] {
    std::string body = "{\"backends\":{";
    bool all = true, first = true;
    for (const auto& [name, backend] : backends) {
      bool ok = CheckServing(backend.channel, name, options.ready_timeout);
      all &= ok;
      if (!first) body += ",";
      first = false;
      log::AppendJsonString(&body, name);
      body += ok ? ":\"SERVING\"" : ":\"NOT_SERVING\"";
    }
    body += "}}";
    Finish(ex, MakeResponse(all ? 200 : 503, std::move(body), "application/json"));
  });
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { Stop(); }

int Gateway::port() const { return impl_->port; }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(GatewayOptions options) {
  if (options.internal_key.empty()) return absl::InvalidArgumentError("the internal key is required");
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl* gw = impl.get();
  std::vector<std::string> services;
  for (const BackendEndpoint& b : gw->options.backends) services.push_back(b.service);
  RETURN_IF_ERROR(gw->router.AddServices(services));
  gw->openapi = OpenApiJson(gw->router);
  for (const BackendEndpoint& b : gw->options.backends) {
    Backend backend;
    backend.service = b.service;
    backend.channel = CreateServiceChannel(b.addr);
    backend.stub = std::make_unique<grpc::GenericStub>(backend.channel);
    gw->backends[b.service] = std::move(backend);
  }
  if (gw->backends.count(kProfilesService) == 0) {
    return absl::InvalidArgumentError("the profiles backend is required to verify API keys");
  }
  if (!gw->options.redis_addr.empty()) {
    redis::ClientOptions redis_options;
    redis_options.addr = gw->options.redis_addr;
    gw->redis = std::make_unique<redis::Client>(redis_options);
  }
  // Local buckets: sharing them through Redis would cost a round trip per
  // lookup; each gateway process throttles on its own.
  gw->failed_keys = std::make_unique<RateLimiter>(gw->options.failed_keys, nullptr, nullptr);
  gw->limiter = std::make_unique<RateLimiter>(gw->options.rate_limit, gw->redis.get(),
                                              [gw](std::function<void()> task) { net::post(gw->blocking, std::move(task)); });
  gw->auth = std::make_unique<Authenticator>(
      gw->options.auth,
      [gw](const std::string& secret, Callback<VerifiedKey> done) { gw->VerifyKey(secret, std::move(done)); },
      [gw](const std::string& org, const std::string& user, Callback<bool> done) {
        gw->CheckUser(org, user, std::move(done));
      },
      gw->failed_keys.get());

  const std::string& addr = gw->options.addr;
  const size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError("listen address must be host:port: " + addr);
  }
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  net::ip::address ip = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError("bad listen host: " + host);
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  gw->acceptor.open(endpoint.protocol(), ec);
  if (!ec) gw->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) gw->acceptor.bind(endpoint, ec);
  if (!ec) gw->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", addr, ": ", ec.message()));
  gw->port = gw->acceptor.local_endpoint().port();
  gw->Accept();
  const int threads = static_cast<int>(gw->loops.size());
  for (auto& loop : gw->loops) {
    gw->loop_guards.push_back(net::make_work_guard(*loop));
    gw->threads.emplace_back([loop = loop.get()] { loop->run(); });
  }
  log::Info("listening", {{"addr", absl::StrCat(host, ":", gw->port)},
                          {"routes", absl::StrCat(gw->router.routes().size())},
                          {"threads", absl::StrCat(threads)}});
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

void Gateway::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->streams.CancelAll(std::chrono::seconds(2));
  net::post(*impl_->loops[0], [gw = impl_.get()] {
    beast::error_code ec;
    gw->acceptor.close(ec);
    gw->accept_retry.cancel();
  });
  // Calls in flight reference the gateway: let them finish (they are bounded by the deadline).
  const auto until = std::chrono::steady_clock::now() + impl_->options.backend_deadline + std::chrono::seconds(1);
  while (impl_->metrics.BackendCallsInFlight() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->blocking.join();
  impl_->loop_guards.clear();
  for (auto& loop : impl_->loops) loop->stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace rapport::gateway
