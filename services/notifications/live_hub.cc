#include "services/notifications/live_hub.h"

#include <deque>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/log.h"

namespace rapport::notifications {

class LiveStream : public grpc::ServerWriteReactor<pb::NotificationEvent> {
 public:
  LiveStream(LiveHub* hub, Owner owner, int64_t after_seq)
      : hub_(hub), owner_(std::move(owner)), opened_(std::chrono::steady_clock::now()), last_(after_seq) {}

  void Begin() {
    {
      // Headers go out at once, so a client (the gateway's SSE) knows the
      // stream was accepted before the first notification exists. Under mu_:
      // the hub's thread may poke the stream already.
      std::lock_guard<std::mutex> lock(mu_);
      StartSendInitialMetadata();
      begun_ = true;
    }
    Poke();
  }

  // Ends the stream (OK) once what is queued was written: its lifetime is
  // over, and the client resumes with Last-Event-ID.
  void Expire() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || cancelled_ || expired_) return;
    expired_ = true;
    if (!writing_) FinishLocked(grpc::Status::OK);
  }

  // Reads what is newer than the last message queued and starts writing it.
  void Poke() {
    const pb::NotificationEvent* next = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!begun_ || finished_ || cancelled_ || expired_) return;
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
        if (expired_) {
          FinishLocked(grpc::Status::OK);
          return;
        }
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
  std::chrono::steady_clock::time_point opened() const { return opened_; }

 private:
  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  LiveHub* hub_;
  const Owner owner_;
  const std::chrono::steady_clock::time_point opened_;
  std::mutex mu_;
  int64_t last_;
  std::deque<pb::NotificationEvent> queue_;
  bool begun_ = false;
  bool expired_ = false;
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

LiveHub::LiveHub(NotificationsStore* store, LiveHubOptions options) : store_(store), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

LiveHub::LiveHub(NotificationsStore* store, std::chrono::milliseconds tick) : LiveHub(store, LiveHubOptions{tick}) {}

LiveHub::~LiveHub() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

grpc::ServerWriteReactor<pb::NotificationEvent>* LiveHub::Open(const Owner& owner, int64_t after_seq) {
  LiveStream* s;
  {
    // Counted and added under one lock, so concurrent opens cannot overshoot.
    std::lock_guard<std::mutex> lock(mu_);
    int open = 0;
    for (LiveStream* other : streams_) {
      if (other->owner().org == owner.org && other->owner().user == owner.user) ++open;
    }
    if (open >= options_.max_per_user) {
      return Refuse(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 absl::StrCat("quota ", kLiveStreamsPerUser, ": at most ", options_.max_per_user,
                                              " open live streams per user; close one, or ask the operator to raise "
                                              "the quota")));
    }
    s = new LiveStream(this, owner, after_seq);
    streams_.insert(s);
  }
  s->Begin();
  return s;
}

grpc::ServerWriteReactor<pb::NotificationEvent>* LiveHub::Refuse(const grpc::Status& status) {
  return new Refused(status);
}

void LiveHub::Remove(LiveStream* s) {
  std::unique_lock<std::mutex> lock(mu_);
  // The hub's thread may be poking s outside the lock: s is deleted after
  // this returns, so wait for that round to end (unless this is that thread).
  if (std::this_thread::get_id() != thread_.get_id()) cv_.wait(lock, [this] { return !poking_; });
  streams_.erase(s);
}

size_t LiveHub::streams() {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

profiles::v1::QuotaUsage LiveHub::Usage(const std::string& org) {
  std::map<std::string, int64_t> open;  // by user
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (LiveStream* s : streams_) {
      if (s->owner().org == org) ++open[s->owner().user];
    }
  }
  profiles::v1::QuotaUsage q;
  q.set_quota(kLiveStreamsPerUser);
  q.set_per("user");
  q.set_limit(options_.max_per_user);
  for (const auto& [user, n] : open) {
    if (n <= q.used()) continue;  // ties: the lowest user id
    q.set_used(n);
    q.set_subject_id(user);
  }
  return q;
}

void LiveHub::ShareWakes(redis::Client* redis, const std::string& channel) {
  {
    std::lock_guard<std::mutex> lock(mu_);  // read by Note and the hub's thread
    redis_ = redis;
    channel_ = channel;
  }
  subscription_ = std::make_unique<redis::Subscription>(redis->options(), channel, [this](std::string message) {
    // "<org>\n<user>", as Wake publishes it.
    std::pair<std::string, std::string> owner = absl::StrSplit(message, absl::MaxSplits('\n', 1));
    if (!owner.first.empty() && !owner.second.empty()) WakeHere(Owner{owner.first, owner.second});
  });
}

void LiveHub::Wake(const Owner& owner) { Note(owner, /*publish=*/true); }

void LiveHub::WakeHere(const Owner& owner) { Note(owner, /*publish=*/false); }

void LiveHub::Note(const Owner& owner, bool publish) {
  // Only noted: the reads and the publish happen on the hub's thread, not on
  // the caller's (the scheduler's commit callback, on the database writer's
  // thread, which must not wait on Redis).
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_.emplace(owner.org, owner.user);
    if (publish && redis_ != nullptr) to_publish_.emplace(owner.org, owner.user);
  }
  cv_.notify_all();
}

void LiveHub::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next_tick = std::chrono::steady_clock::now() + options_.tick;
  while (!stopping_) {
    cv_.wait_until(lock, next_tick, [this] { return stopping_ || !woken_.empty(); });
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    const bool tick = now >= next_tick;
    if (tick) next_tick = now + options_.tick;
    std::vector<LiveStream*> poke, expire;
    for (LiveStream* s : streams_) {
      if (options_.max_lifetime.count() > 0 && now - s->opened() >= options_.max_lifetime) {
        expire.push_back(s);
      } else if (tick || woken_.count({s->owner().org, s->owner().user}) > 0) {
        poke.push_back(s);
      }
    }
    woken_.clear();
    std::set<std::pair<std::string, std::string>> publish;
    publish.swap(to_publish_);
    if (poke.empty() && expire.empty() && publish.empty()) continue;
    // The reads run without the hub's lock: a Wake meanwhile only waits for
    // the set insert, never for these reads. Remove waits for poking_ to end,
    // so none of these streams is deleted under us.
    poking_ = true;
    lock.unlock();
    for (const auto& [org, user] : publish) {
      // A failed publish costs the other replicas at most one tick.
      absl::StatusOr<redis::Reply> published = redis_->Command({"PUBLISH", channel_, absl::StrCat(org, "\n", user)});
      if (!published.ok()) log::Debug("live wake not published", {{"error", published.status().ToString()}});
    }
    for (LiveStream* s : expire) s->Expire();
    for (LiveStream* s : poke) s->Poke();
    lock.lock();
    poking_ = false;
    cv_.notify_all();
  }
}

}  // namespace rapport::notifications
