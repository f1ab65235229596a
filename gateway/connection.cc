#include "gateway/connection.h"

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gateway/client_address.h"
#include "gateway/problem.h"
#include "gateway/sse.h"
#include "services/common/ids.h"
#include "services/common/log.h"

namespace rapport::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// How long a keep-alive connection may wait for its next request, and a
// request's body (after its header) to arrive.
constexpr std::chrono::seconds kIdleTimeout{60};
constexpr std::chrono::seconds kBodyTimeout{60};

// One connection (connection.h), alive while an operation of it is pending.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const ConnectionContext* context) : stream_(std::move(socket)), ctx_(context) {
    ctx_->metrics->ConnectionOpened();
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      client_ = peer.address().to_string();
      peer_is_proxy_ = ctx_->options->trusted_proxies.Trusts(peer.address());
    }
  }
  ~Session() { ctx_->metrics->ConnectionClosed(); }

  void Start() {
    // A client address takes one unit of its share for as long as the
    // connection is open. A trusted proxy speaks for many clients: its
    // connections count against the cap only.
    const int share = ShareOf(ctx_->options->max_connections, ctx_->options->client_share_percent);
    if (share > 0 && !peer_is_proxy_) {
      share_ = ctx_->shares->TryTake(client_, share);
      if (share_ == nullptr) {
        ctx_->metrics->ShareRefused("connection");
        return Answer(429, "RESOURCE_EXHAUSTED",
                      absl::StrCat("one client address may hold at most ", share,
                                   " connections to the gateway at once; retry later"));
      }
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Over the connection limit: answers 503 with Retry-After at once, without
  // waiting for a request, then drains what the client sends and closes.
  void Refuse() {
    ctx_->metrics->ConnectionRefused();
    Answer(503, "UNAVAILABLE",
           absl::StrCat("the gateway serves at most ", ctx_->options->max_connections,
                        " connections at once; retry later"));
  }

 private:
  // Waits (up to kIdleTimeout) for the first byte of the next request, then
  // gives its header header_timeout to arrive whole: a client that dribbles
  // a header (slowloris) is cut off then, while an idle keep-alive
  // connection may still wait for its next request.
  void ReadHeader() {
    parser_.emplace();
    // The larger limit until the header names the route (OnHeader).
    parser_->body_limit(std::max(ctx_->options->body_limit, ctx_->options->upload_limit));
    parser_->header_limit(16 * 1024);
    if (buffer_.size() > 0) return ReadRestOfHeader();  // pipelined: the request has begun
    stream_.expires_after(kIdleTimeout);
    // As much as a header read would ask for (512 bytes on a new
    // connection), so that waiting costs an idle connection no more memory.
    stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, 64 * 1024)),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->Close();
                              self->ReadRestOfHeader();
                            });
  }

  void ReadRestOfHeader() {
    stream_.expires_after(ctx_->options->header_timeout);
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
    {
      const auto& head = parser_->get();
      body_limit_ = ctx_->pipeline->BodyLimit(std::string(head.method_string()), std::string(head.target()));
      if (auto length = parser_->content_length(); length && *length > body_limit_) return RejectTooLarge();
      parser_->body_limit(body_limit_);
    }
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
    stream_.expires_after(kBodyTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) return RejectTooLarge();
    if (IsMalformed(ec)) return Reject(400, "MALFORMED_REQUEST", "the request body is not valid HTTP/1.1");
    if (ec) return Close();
    auto req = std::make_shared<Request>(parser_->release());
    keep_alive_ = req->keep_alive();
    ctx_->pipeline->Handle(
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
          // Heartbeat comments belong to event streams only, never in a download's bytes.
          const bool events = head[http::field::content_type] == "text/event-stream";
          return MakeSocketSink(self->stream_, self, out.str(),
                                events ? self->ctx_->options->sse_heartbeat : std::chrono::milliseconds(0));
        });
  }

  // The client's address: the peer, or what trusted proxies say it is.
  std::string ClientOf(const Request& req) const {
    const TrustedProxies& proxies = ctx_->options->trusted_proxies;
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
    Reject(413, "PAYLOAD_TOO_LARGE", absl::StrCat("the request body is larger than ", body_limit_, " bytes"));
  }

  // Answers a request that could not be read whole, then closes the connection.
  void Reject(int status, const char* code, const std::string& detail) {
    const auto& req = parser_->get();
    std::string id = RequestIdFrom(req);
    log::Info("http",
              {{"method", std::string(req.method_string())}, {"status", absl::StrCat(status)}, {"request_id", id}});
    AnswerAndClose(ProblemResponse(MakeProblem(status, code, detail), id), id);
  }

  // Answers a connection refused before any request (over the cap or the
  // client's share) at once, with Retry-After, then drains and closes.
  void Answer(int status, const char* code, const std::string& detail) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), status, code, detail] {
      const std::string id = NewId();
      Response res = ProblemResponse(MakeProblem(status, code, detail), id);
      res.set(http::field::retry_after, "1");
      self->AnswerAndClose(std::move(res), id);
    });
  }

  // Answers outside any route (Reject, Refuse), then drains what the client
  // still sends and closes.
  void AnswerAndClose(Response res, const std::string& id) {
    res.set("X-Request-Id", id);
    ctx_->metrics->ObserveRequest("unmatched", static_cast<int>(res.result_int()), 0);
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
  size_t body_limit_ = 1 << 20;  // of the request being read (Pipeline::BodyLimit)
  bool keep_alive_ = true;
  bool linger_ = false;
  std::string client_;                         // the TCP peer's address
  bool peer_is_proxy_ = false;                 // one of options.trusted_proxies
  std::unique_ptr<ShareCounter::Slot> share_;  // of the peer's connection share, while open
  size_t lingered_ = 0;
  std::unique_ptr<std::array<char, 16 * 1024>> scratch_;  // only while lingering: idle connections stay small
  const ConnectionContext* ctx_;                          // the server's, outlives the connection
};

}  // namespace

void ServeConnection(tcp::socket socket, const ConnectionContext* context) {
  std::make_shared<Session>(std::move(socket), context)->Start();
}

void RefuseConnection(tcp::socket socket, const ConnectionContext* context) {
  std::make_shared<Session>(std::move(socket), context)->Refuse();
}

}  // namespace rapport::gateway
