// Live notification streams (the server-streaming Subscribe RPC). Each
// stream is a gRPC callback ServerWriteReactor that sends the user's inbox
// notifications in stream-sequence order, read from the store: first those
// after the client's last_event_id (the replay), then new ones as they
// commit. Because replay and live reads are the same keyed query on the
// durable inbox, a reconnect with the last id seen loses nothing.
//
// New notifications are announced by Wake (the scheduler calls it after a
// timer's transaction committed); a tick every `tick` also re-reads every
// stream, which covers notifications committed by the event consumer and
// bounds the delay. Across replicas (ShareWakes), Wake also publishes the
// owner on a Redis channel that every replica subscribes to, so a stream
// served by one replica wakes when another replica's scheduler commits; the
// message is only a hint (the stream re-reads the store), and while Redis is
// down the tick still bounds the delay.
//
// Limits: at most max_per_user streams open per user on this replica (more
// are refused RESOURCE_EXHAUSTED, quota liveStreamsPerUser), and each stream
// ends (OK) after max_lifetime; the client reconnects with Last-Event-ID and
// loses nothing.
//
// Locking: the store is read only on the hub's own thread (ticks and wakes)
// and on gRPC threads (a write done, a stream's first read), never under the
// hub's lock. Wake only records the owner and signals that thread, so the
// scheduler's commit callback (the SQLite writer's thread) never waits for
// stream reads.
//
// Thread-safety: all methods may be called from any thread.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_LIVE_HUB_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_LIVE_HUB_H_

#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/redis_client.h"
#include "services/notifications/notifications_store.h"

namespace rapport::notifications {

class LiveStream;

struct LiveHubOptions {
  std::chrono::milliseconds tick{250};              // RAPPORT_LIVE_TICK_MS
  int max_per_user = 5;                             // RAPPORT_QUOTA_LIVE_STREAMS_PER_USER
  std::chrono::milliseconds max_lifetime{3600000};  // RAPPORT_LIVE_STREAM_MAX_LIFETIME_MS
};

inline constexpr char kLiveStreamsPerUser[] = "liveStreamsPerUser";

class LiveHub {
 public:
  LiveHub(NotificationsStore* store, LiveHubOptions options);
  explicit LiveHub(NotificationsStore* store, std::chrono::milliseconds tick = std::chrono::milliseconds(250));
  ~LiveHub();  // stops the tick thread; streams must have finished

  // A reactor streaming owner's notifications after after_seq, or one that
  // refuses with RESOURCE_EXHAUSTED when owner has max_per_user open.
  grpc::ServerWriteReactor<pb::NotificationEvent>* Open(const Owner& owner, int64_t after_seq);
  // A reactor that finishes at once with status (refused calls).
  static grpc::ServerWriteReactor<pb::NotificationEvent>* Refuse(const grpc::Status& status);

  // Shares wakes with the other replicas through Redis pub/sub on channel.
  // Call once, before streams open.
  void ShareWakes(redis::Client* redis, const std::string& channel);

  // New notifications may be waiting for owner's streams (on every replica
  // after ShareWakes).
  void Wake(const Owner& owner);
  size_t streams();
  // The liveStreamsPerUser quota's use in org on this replica (GET
  // /v1/org/usage): the most streams any one user of org has open here, and
  // who. The limit is enforced per replica, so a user reaching several
  // replicas may hold max_per_user on each.
  profiles::v1::QuotaUsage Usage(const std::string& org);

 private:
  friend class LiveStream;
  void Remove(LiveStream* s);
  void Run();
  void WakeHere(const Owner& owner);
  // Marks owner's streams for a re-read on the hub's thread, and with
  // publish (a wake from this replica) for announcing to the others.
  void Note(const Owner& owner, bool publish);

  NotificationsStore* store_;
  const LiveHubOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<LiveStream*> streams_;
  std::set<std::pair<std::string, std::string>> woken_;       // (org, user) to re-read at once
  std::set<std::pair<std::string, std::string>> to_publish_;  // woken here: to announce to the other replicas
  bool poking_ = false;                                       // the hub's thread is reading for streams, outside mu_
  bool stopping_ = false;
  std::thread thread_;
  redis::Client* redis_ = nullptr;
  std::string channel_;
  std::unique_ptr<redis::Subscription> subscription_;
};

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_LIVE_HUB_H_
