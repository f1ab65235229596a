#include "gateway/sse.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gateway/backend_client.h"
#include "gateway/json_writer.h"
#include "gateway/transcoder.h"
#include "rapport/api/v1/annotations.pb.h"
#include "services/common/log.h"

namespace rapport::gateway {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using google::protobuf::FieldDescriptor;

// A refused call ends before this grace; an accepted one that is quiet (no
// replay) opens the event stream when it ends, so the client gets its 200
// and heartbeats without waiting for the first event.
constexpr std::chrono::milliseconds kOpenGrace{250};

class SocketSink : public EventSink, public std::enable_shared_from_this<SocketSink> {
 public:
  SocketSink(beast::tcp_stream& stream, std::shared_ptr<void> owner, std::chrono::milliseconds heartbeat)
      : stream_(stream), owner_(std::move(owner)), heartbeat_(heartbeat), timer_(stream.get_executor()) {}

  void Begin(std::string head) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), head = std::move(head)]() mutable {
      self->stream_.expires_never();
      self->queue_.push_back({std::move(head), nullptr});
      self->Pump();
      self->WatchForClose();
      self->ArmHeartbeat();
    });
  }

  void Write(std::string bytes, std::function<void(bool)> done) override {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), bytes = std::move(bytes), done = std::move(done)]() mutable {
                if (self->closed_) return done(false);
                self->queue_.push_back({std::move(bytes), std::move(done)});
                self->Pump();
              });
  }

  void OnClientGone(std::function<void()> gone) override {
    net::post(stream_.get_executor(), [self = shared_from_this(), gone = std::move(gone)]() mutable {
      if (self->closed_) return gone();
      self->gone_ = std::move(gone);
    });
  }

  void End() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->ending_ = true;
      if (!self->writing_ && self->queue_.empty()) self->Close();
    });
  }

 private:
  struct Pending {
    std::string bytes;
    std::function<void(bool)> done;
  };

  void Pump() {
    if (writing_ || queue_.empty() || closed_) return;
    writing_ = true;
    net::async_write(stream_, net::buffer(queue_.front().bytes),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->writing_ = false;
                       Pending sent = std::move(self->queue_.front());
                       self->queue_.pop_front();
                       if (ec) {
                         self->Close();
                       } else {
                         self->idle_since_ = std::chrono::steady_clock::now();
                       }
                       if (sent.done) sent.done(!ec);
                       if (self->closed_) {
                         for (Pending& p : self->queue_) {
                           if (p.done) p.done(false);
                         }
                         self->queue_.clear();
                         return;
                       }
                       if (self->ending_ && self->queue_.empty()) return self->Close();
                       self->Pump();
                     });
  }

  // The client sends nothing more after its request: a completed read means
  // it closed the connection (or broke the protocol); either way it is gone.
  void WatchForClose() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->WatchForClose();
    });
  }

  void ArmHeartbeat() {
    if (heartbeat_.count() <= 0) return;  // a download: no comments in its body
    timer_.expires_after(heartbeat_);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      if (!self->writing_ && self->queue_.empty() &&
          std::chrono::steady_clock::now() - self->idle_since_ >= self->heartbeat_ / 2) {
        self->queue_.push_back({": heartbeat\n\n", nullptr});
        self->Pump();
      }
      self->ArmHeartbeat();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    if (gone_) {
      auto gone = std::move(gone_);
      gone_ = nullptr;
      gone();
    }
  }

  beast::tcp_stream& stream_;
  std::shared_ptr<void> owner_;  // keeps the connection (and stream_) alive
  const std::chrono::milliseconds heartbeat_;
  net::steady_timer timer_;
  std::deque<Pending> queue_;
  bool writing_ = false;
  bool ending_ = false;
  bool closed_ = false;
  std::function<void()> gone_;
  std::chrono::steady_clock::time_point idle_since_ = std::chrono::steady_clock::now();
  std::array<char, 512> scratch_;
};

}  // namespace

// One backend stream; deletes itself in OnDone. Callbacks that may run
// after that (the sink's, the grace timer's) go through `shared`.
class SseCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  struct Shared {
    std::mutex mu;
    SseCall* call = nullptr;  // null once done
  };

  SseCall(EventStreams* owner, EventStreams::Call call,
          std::function<std::shared_ptr<EventSink>(const std::string&)> open, std::function<void(grpc::Status)> fail,
          std::function<void(grpc::Status)> ended)
      : download_(IsDownload(call.method)),
        owner_(owner),
        call_(std::move(call)),
        open_(std::move(open)),
        fail_(std::move(fail)),
        ended_(std::move(ended)),
        shared_(std::make_shared<Shared>()) {
    shared_->call = this;
  }

  void Begin() {
    for (const auto& [k, v] : call_.metadata) ctx_.AddMetadata(k, v);
    call_.stub->PrepareBidiStreamingCall(&ctx_, call_.grpc_method, grpc::StubOptions(), this);
    grpc::Slice slice(call_.request);
    request_ = grpc::ByteBuffer(&slice, 1);
    AddHold();  // the event pump: released when reading ends
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { ctx_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    // A download opens with its first chunk, which names the content type.
    if (!ok || download_) return;
    auto timer = std::make_shared<net::steady_timer>(call_.executor, kOpenGrace);
    timer->async_wait([shared = shared_, timer](beast::error_code ec) {
      if (ec) return;
      std::lock_guard<std::mutex> lock(shared->mu);
      if (shared->call != nullptr) shared->call->OpenLocked(kEventStreamType);
    });
  }

  void OnReadDone(bool ok) override {
    if (!ok) return RemoveHold();
    std::string text;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (download_) {
        text = DownloadChunkLocked();
      } else {
        OpenLocked(kEventStreamType);
        text = EventText();
      }
    }
    if (text.empty()) {  // unconvertible message: skip it
      StartRead(&response_);
      return;
    }
    sink_->Write(std::move(text), [this](bool written) {
      if (!written) ctx_.TryCancel();
      StartRead(&response_);  // fails after a cancel, which ends the pump
    });
  }

  void OnDone(const grpc::Status& status) override {
    bool opened;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->call = nullptr;
      opened = sink_ != nullptr;
    }
    if (opened) {
      // A download's last chunk says it is complete; after an error the
      // connection closes without it, so the client sees a truncated body.
      if (download_ && status.ok()) sink_->Write(std::string(kLastChunk), [](bool) {});
      sink_->End();
      if (ended_) ended_(status);
    } else if (status.ok()) {
      // Accepted and ended before the grace: an empty but successful stream.
      sink_ = open_(download_ ? kOctetStreamType : kEventStreamType);
      if (sink_ && download_) sink_->Write(std::string(kLastChunk), [](bool) {});
      if (sink_) sink_->End();
      if (ended_) ended_(status);
    } else {
      fail_(status);
    }
    owner_->Done(this);
    delete this;
  }

 private:
  static constexpr char kEventStreamType[] = "text/event-stream";
  static constexpr char kOctetStreamType[] = "application/octet-stream";
  static constexpr std::string_view kLastChunk = "0\r\n\r\n";

  static bool IsDownload(const google::protobuf::MethodDescriptor* method) {
    return method != nullptr && method->output_type()->full_name() == api::v1::HttpBody::descriptor()->full_name();
  }

  // A download's message as one chunk of the chunked body, opening the
  // response with the first message's content type; "" for an empty or
  // unparsable message (a zero-size chunk would end the body). Caller holds
  // shared_->mu.
  std::string DownloadChunkLocked() {
    api::v1::HttpBody body;
    if (!ParseResponse(&response_, &body)) {
      log::Warn("unparsable download chunk", {{"method", call_.grpc_method}});
      return "";
    }
    OpenLocked(body.content_type().empty() ? kOctetStreamType : body.content_type());
    if (body.data().empty()) return "";
    return absl::StrCat(absl::Hex(body.data().size()), "\r\n", body.data(), "\r\n");
  }

  // Turns the connection into the event stream (or download), once. Caller
  // holds shared_->mu.
  void OpenLocked(const std::string& content_type) {
    if (sink_ != nullptr) return;
    sink_ = open_(content_type);
    sink_->OnClientGone([shared = shared_] {
      std::lock_guard<std::mutex> lock(shared->mu);
      if (shared->call != nullptr) shared->call->ctx_.TryCancel();
    });
    ArmRecheckLocked();
  }

  // The next credential check. Caller holds shared_->mu. The timer and the
  // verdict's callback reach the call only through shared_, since either may
  // land after the call is done.
  void ArmRecheckLocked() {
    if (!call_.recheck || call_.recheck_every.count() <= 0) return;
    auto timer = std::make_shared<net::steady_timer>(call_.executor, call_.recheck_every);
    timer->async_wait([shared = shared_, timer, recheck = call_.recheck](beast::error_code ec) {
      if (ec) return;
      {
        std::lock_guard<std::mutex> lock(shared->mu);
        if (shared->call == nullptr) return;
      }
      recheck([shared](absl::Status verdict) {
        std::lock_guard<std::mutex> lock(shared->mu);
        if (shared->call == nullptr) return;
        if (absl::IsUnauthenticated(verdict) || absl::IsPermissionDenied(verdict)) {
          shared->call->EndForCredentialLocked(verdict);
        } else {
          shared->call->ArmRecheckLocked();  // valid, or unknown for now (backend down): keep going
        }
      });
    });
  }

  // A final event saying why, then the end of the stream. Caller holds
  // shared_->mu.
  void EndForCredentialLocked(const absl::Status& why) {
    if (credential_refused_) return;
    credential_refused_ = true;
    log::Info("event stream ended: credential refused", {{"method", call_.grpc_method}, {"error", why.ToString()}});
    std::string data;
    JsonWriter json(&data);
    json.BeginObject()
        .Key("code")
        .String(absl::StatusCodeToString(why.code()))
        .Key("detail")
        .String(std::string(why.message()))
        .EndObject();
    sink_->Write(FormatEvent("error", "", data), [](bool) {});
    ctx_.TryCancel();
  }

  std::string EventText() {
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (response_.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(call_.method->output_type());
    std::unique_ptr<google::protobuf::Message> message(prototype->New());
    if (!message->ParseFromString(bytes)) {
      log::Warn("unparsable stream message", {{"method", call_.grpc_method}});
      return "";
    }
    absl::StatusOr<EventParts> parts = ToEvent(*message);
    if (!parts.ok()) return "";
    return FormatEvent(parts->event, parts->id, parts->data);
  }

  const bool download_;  // the method returns HttpBody: raw bytes, chunked, not events
  EventStreams* owner_;
  EventStreams::Call call_;
  std::function<std::shared_ptr<EventSink>(const std::string&)> open_;
  std::function<void(grpc::Status)> fail_;
  std::function<void(grpc::Status)> ended_;
  std::shared_ptr<Shared> shared_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::shared_ptr<EventSink> sink_;
  bool credential_refused_ = false;  // guarded by shared_->mu
};

std::shared_ptr<EventSink> MakeSocketSink(beast::tcp_stream& stream, std::shared_ptr<void> owner, std::string head,
                                          std::chrono::milliseconds heartbeat) {
  auto sink = std::make_shared<SocketSink>(stream, std::move(owner), heartbeat);
  sink->Begin(std::move(head));
  return sink;
}

std::string FormatEvent(const std::string& event, const std::string& id, const std::string& data) {
  // A reader ends a line at CR, LF or CRLF, and ignores an id holding NUL: a
  // string carrying one would end the field (or the whole event) early and
  // let the rest pass for fields of its own. So the one-line fields drop
  // them and data is split at each (tests/fuzz/sse).
  const std::string one_line_event = absl::StrReplaceAll(event, {{"\r", ""}, {"\n", ""}});
  const std::string one_line_id = absl::StrReplaceAll(id, {{"\r", ""}, {"\n", ""}, {std::string(1, '\0'), ""}});
  const std::string lines = absl::StrReplaceAll(absl::StrReplaceAll(data, {{"\r\n", "\n"}}), {{"\r", "\n"}});
  std::string out;
  if (!one_line_event.empty()) absl::StrAppend(&out, "event: ", one_line_event, "\n");
  if (!one_line_id.empty()) absl::StrAppend(&out, "id: ", one_line_id, "\n");
  for (absl::string_view line : absl::StrSplit(lines, '\n')) absl::StrAppend(&out, "data: ", line, "\n");
  out += "\n";
  return out;
}

absl::StatusOr<EventParts> ToEvent(const google::protobuf::Message& message) {
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  EventParts parts;
  const FieldDescriptor* id = d->FindFieldByName("id");
  if (id != nullptr && id->type() == FieldDescriptor::TYPE_STRING && !id->is_repeated()) {
    parts.id = r->GetString(message, id);
  }
  const FieldDescriptor* payload = nullptr;
  int messages = 0;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f == id) continue;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      payload = f;
      ++messages;
    } else {
      ++messages;  // another kind of field: send the whole message
    }
  }
  if (id != nullptr && payload != nullptr && messages == 1) {
    parts.event = payload->name();
    absl::StatusOr<std::string> json = ToJson(r->GetMessage(message, payload));
    if (!json.ok()) return json.status();
    parts.data = *std::move(json);
    return parts;
  }
  parts.event = "message";
  absl::StatusOr<std::string> json = ToJson(message);
  if (!json.ok()) return json.status();
  parts.data = *std::move(json);
  return parts;
}

void ApplyLastEventId(const std::string& header, google::protobuf::Message* request) {
  if (header.empty()) return;
  const FieldDescriptor* f = request->GetDescriptor()->FindFieldByName("last_event_id");
  if (f == nullptr || f->type() != FieldDescriptor::TYPE_STRING || f->is_repeated()) return;
  if (!request->GetReflection()->GetString(*request, f).empty()) return;
  request->GetReflection()->SetString(request, f, header);
}

EventStreams::~EventStreams() { CancelAll(std::chrono::seconds(5)); }

void EventStreams::Start(Call call, std::function<std::shared_ptr<EventSink>(const std::string&)> open,
                         std::function<void(grpc::Status)> fail, std::function<void(grpc::Status)> ended) {
  auto* c = new SseCall(this, std::move(call), std::move(open), std::move(fail), std::move(ended));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      delete c;
      return fail(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is stopping"));
    }
    calls_.insert(c);
  }
  c->Begin();
}

void EventStreams::Done(void* call) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.erase(call);
  cv_.notify_all();
}

size_t EventStreams::active() {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_.size();
}

void EventStreams::CancelAll(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  closing_ = true;
  for (void* c : calls_) static_cast<SseCall*>(c)->Cancel();
  cv_.wait_for(lock, timeout, [this] { return calls_.empty(); });
}

}  // namespace rapport::gateway
