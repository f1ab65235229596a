// Server-Sent Events for server-streaming RPCs, generic over any streaming
// method that carries an HTTP rule (today GET /v1/notifications:stream).
//
// EventStreams::Start opens the backend call over the generic stub with the
// callback API (a bidi reactor that writes the one request and half-closes,
// which is a server-streaming call on the wire). Nothing is written to the
// client until the backend has accepted the call: its first message, or its
// headers followed by 250 ms without an error (a trailers-only refusal looks
// like headers too). So a refused call (UNAUTHENTICATED, INVALID_ARGUMENT,
// backend down) still answers a normal problem+json through `fail`. Then
// `open` turns the connection into an event stream (200, text/event-stream,
// no Content-Length, closed at the end) and every backend message becomes
// one event:
//
//   event: <name>\nid: <id>\ndata: <json>\n\n
//
// A message with a string field `id` and exactly one message field (e.g.
// NotificationEvent {id, notification}) gives event name = that field's name,
// id = `id`, data = that field's JSON; any other message is "event: message"
// with the whole message as data (and its `id` field, if any). The request's
// `last_event_id` field, when it has one, comes from the Last-Event-ID
// header unless the query set it. Heartbeat comments (": heartbeat") keep
// idle connections open through proxies; a client that goes away cancels the
// backend call; the next message is read only once the previous event was
// written (backpressure). When the call carries a `recheck`, the stream's
// credential is validated again every `recheck_every`; once it is refused
// (UNAUTHENTICATED or PERMISSION_DENIED: a revoked key, an expired token;
// not a backend outage) the client gets a final `event: error` with the
// reason and the stream ends.
//
// Downloads: a method returning a stream of rapport.api.v1.HttpBody (a
// contact export) goes through the same call, with its differences: it opens
// with its first message (whose content_type is the response's Content-Type;
// application/octet-stream when the stream ends without one), each message's
// data is written as it comes as one chunk of a chunked body
// (Transfer-Encoding: chunked), no heartbeat is written into it, and the last
// chunk (0 CRLF CRLF) is written only when the call ends OK: after a backend
// error the connection closes without it, so the client sees a truncated
// download rather than a complete-looking wrong file.
//
// Thread-safety: EventStreams is safe from any thread; each stream runs on
// gRPC callback threads and its sink's executor.
#ifndef RAPPORT_GATEWAY_SSE_H_
#define RAPPORT_GATEWAY_SSE_H_

#include <grpcpp/generic/generic_stub.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "services/common/tenant.h"

namespace rapport::gateway {

// The client side of one event stream: the HTTP connection, after its head.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Queues bytes; done(false) when the client is gone (or the sink closed).
  virtual void Write(std::string bytes, std::function<void(bool ok)> done) = 0;
  // Called once when the client disconnects (or at once if it already has).
  virtual void OnClientGone(std::function<void()> gone) = 0;
  // Ends the response: closes the connection after what is queued.
  virtual void End() = 0;
};

// A sink on a Beast TCP stream whose owner (kept alive by `owner`) stops
// reading requests from it: writes `head` (an HTTP response head, ending
// with the blank line), then events, with a heartbeat comment after each
// `heartbeat` without a write. Runs on the stream's executor.
std::shared_ptr<EventSink> MakeSocketSink(boost::beast::tcp_stream& stream, std::shared_ptr<void> owner,
                                          std::string head, std::chrono::milliseconds heartbeat);

// One event in the text/event-stream format; data lines split on newlines.
std::string FormatEvent(const std::string& event, const std::string& id, const std::string& data);

// Name, id and JSON data of the event a backend message becomes (see above).
struct EventParts {
  std::string event;
  std::string id;
  std::string data;
};
absl::StatusOr<EventParts> ToEvent(const google::protobuf::Message& message);

// Sets request.last_event_id from the Last-Event-ID header when the request
// has such a string field and it is still empty.
void ApplyLastEventId(const std::string& header, google::protobuf::Message* request);

class EventStreams {
 public:
  EventStreams() = default;
  ~EventStreams();  // cancels and waits (bounded) for the streams

  struct Call {
    grpc::GenericStub* stub = nullptr;
    std::string grpc_method;  // "/pkg.Service/Method"
    const google::protobuf::MethodDescriptor* method = nullptr;
    std::multimap<std::string, std::string> metadata;  // signed tenant metadata
    std::string request;                               // serialized request message
    boost::asio::any_io_executor executor;             // for the open-grace and recheck timers
    // Validates the stream's credential again; calls back with the verdict.
    std::function<void(std::function<void(absl::Status)>)> recheck;
    std::chrono::milliseconds recheck_every{0};  // 0: never
  };
  // open: makes the event sink once the backend accepted the call, for the
  // answer's content type (text/event-stream, or a download's).
  // fail: the call failed before any event (an ordinary error answer).
  // ended: the stream ended after it was opened (for logs and metrics).
  void Start(Call call, std::function<std::shared_ptr<EventSink>(const std::string& content_type)> open,
             std::function<void(grpc::Status)> fail, std::function<void(grpc::Status)> ended);

  // Cancels every open stream and waits up to timeout for them to finish.
  void CancelAll(std::chrono::milliseconds timeout);
  size_t active();

 private:
  friend class SseCall;
  void Done(void* call);
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<void*> calls_;
  bool closing_ = false;
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_SSE_H_
