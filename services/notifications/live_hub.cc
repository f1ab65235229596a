#include "services/notifications/live_hub.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/log.h"

namespace rapport::notifications {

class LiveStream : public grpc::ServerWriteReactor<pb::NotificationEvent> {
 public:
  LiveStream(LiveHub* hub, Owner owner, int64_t after_seq) : hub_(hub), owner_(std::move(owner)), last_(after_seq) {}

  void Begin() {
    // Headers go out at once, so a client (the gateway's SSE) knows the
    // stream was accepted before the first notification exists.
    StartSendInitialMetadata();
    hub_->Add(this);
    Poke();
  }

  // Reads what is newer than the last message queued and starts writing it.
  void Poke() {
    const pb::NotificationEvent* next = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_ || cancelled_) return;
      if (writing_) {
        poke_again_ = true;
        return;
      }
      auto rows = hub_->store_->StreamSince(owner_, last_, 100);
      if (!rows.ok()) {
        log::Warn("live stream read failed", {{"org", owner_.org}, {"error", rows.status().ToString()}});
        return;
      }
      for (auto& [seq, n] : *rows) {
        pb::NotificationEvent e;
        e.set_id(absl::StrCat(seq));
        *e.mutable_notification() = std::move(n);
        queue_.push_back(std::move(e));
        last_ = seq;
      }
      if (queue_.empty()) return;
      writing_ = true;
      next = &queue_.front();
    }
    StartWrite(next);
  }

  void OnWriteDone(bool ok) override {
    const pb::NotificationEvent* next = nullptr;
    bool poke = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ok || cancelled_) {
        writing_ = false;
        FinishLocked(cancelled_ ? grpc::Status::CANCELLED : grpc::Status::OK);
        return;
      }
      queue_.pop_front();
      if (!queue_.empty()) {
        next = &queue_.front();
      } else {
        writing_ = false;
        poke = poke_again_;
        poke_again_ = false;
      }
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (poke) {
      Poke();
    }
  }

  // A write in flight is completed (ok=false) before the stream finishes:
  // finishing under an outstanding write is not allowed.
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (!writing_) FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    hub_->Remove(this);
    delete this;
  }

  const Owner& owner() const { return owner_; }

 private:
  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  LiveHub* hub_;
  const Owner owner_;
  std::mutex mu_;
  int64_t last_;
  std::deque<pb::NotificationEvent> queue_;
  bool writing_ = false;
  bool poke_again_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
};

namespace {

class Refused : public grpc::ServerWriteReactor<pb::NotificationEvent> {
 public:
  explicit Refused(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

LiveHub::LiveHub(NotificationsStore* store, std::chrono::milliseconds tick) : store_(store), tick_(tick) {
  thread_ = std::thread([this] { Tick(); });
}

LiveHub::~LiveHub() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

grpc::ServerWriteReactor<pb::NotificationEvent>* LiveHub::Open(const Owner& owner, int64_t after_seq) {
  auto* s = new LiveStream(this, owner, after_seq);
  s->Begin();
  return s;
}

grpc::ServerWriteReactor<pb::NotificationEvent>* LiveHub::Refuse(const grpc::Status& status) {
  return new Refused(status);
}

void LiveHub::Add(LiveStream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.insert(s);
}

void LiveHub::Remove(LiveStream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(s);
}

size_t LiveHub::streams() {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

void LiveHub::ShareWakes(redis::Client* redis, const std::string& channel) {
  redis_ = redis;
  channel_ = channel;
  subscription_ = std::make_unique<redis::Subscription>(redis->options(), channel, [this](std::string message) {
    // "<org>\n<user>", as Wake publishes it.
    std::pair<std::string, std::string> owner = absl::StrSplit(message, absl::MaxSplits('\n', 1));
    if (!owner.first.empty() && !owner.second.empty()) WakeHere(Owner{owner.first, owner.second});
  });
}

void LiveHub::Wake(const Owner& owner) {
  WakeHere(owner);
  if (redis_ == nullptr) return;
  // A failed publish costs the other replicas at most one tick.
  absl::StatusOr<redis::Reply> published =
      redis_->Command({"PUBLISH", channel_, absl::StrCat(owner.org, "\n", owner.user)});
  if (!published.ok()) log::Debug("live wake not published", {{"error", published.status().ToString()}});
}

void LiveHub::WakeHere(const Owner& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  for (LiveStream* s : streams_) {
    if (s->owner().org == owner.org && s->owner().user == owner.user) s->Poke();
  }
}

void LiveHub::Tick() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, tick_, [this] { return stopping_; });
    if (stopping_) break;
    for (LiveStream* s : streams_) s->Poke();
  }
}

}  // namespace rapport::notifications
