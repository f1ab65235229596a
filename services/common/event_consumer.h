// Consumes the Redis event stream with a consumer group, at-least-once
// delivery made effectively-once by deduplication on the event id.
//
// Each consumer group (one per consuming service, e.g. "notifications") reads
// with XREADGROUP. For every entry the handler runs; only after the handler's
// own effects are committed is the entry acknowledged (XACK). Entries left
// pending by a consumer that died are reclaimed with XAUTOCLAIM once idle past
// claim_idle. An entry whose delivery count reaches max_deliveries without
// success is copied to the dead-letter stream and acknowledged.
//
// Entries must carry the signature the outbox relay makes under the internal
// key (EventSigner, outbox.h): an entry without one, or with a wrong one, is
// dead-lettered at once, before anything of it is parsed or handled, as a
// malformed entry is.
//
// Two dedupe modes:
// - Durable (a db::Database is given): the handler runs inside a write
//   transaction that also records the event id in the `processed_events`
//   table (kProcessedEventsMigration); an already recorded id is skipped and
//   acknowledged. Effects and dedupe commit together.
// - In memory (no database; for read models rebuilt at start): a bounded set
//   of recently seen ids.
//
// Thread-safety: Start/Stop/PollOnce from one owner thread. An in-memory
// handler runs on the consumer's thread; a durable handler runs on the
// Database's writer thread inside the write transaction, so it must use only
// the conn it is given (never db->Write) and be quick. Events are handled one
// at a time, in stream order except that retried and reclaimed entries come
// after newer ones. claim_idle must exceed the slowest batch, or entries still
// being handled are reclaimed (dedupe makes that harmless, but wasteful).
//
// Retention (durable mode): the consumer's loop deletes processed_events rows,
// a chunk at a time, once they are older than processed_retention (7 days)
// and older than the oldest entry still in the stream (less an hour for clock
// skew): only an event whose entry is gone can never be delivered again, even
// to a group created afresh at "0".
#ifndef RAPPORT_SERVICES_COMMON_EVENT_CONSUMER_H_
#define RAPPORT_SERVICES_COMMON_EVENT_CONSUMER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/db.h"
#include "services/common/outbox.h"
#include "services/common/redis_client.h"

namespace rapport::events {

extern const char kProcessedEventsMigration[];
// The index retention deletes by; a migration of its own, after the table's.
extern const char kProcessedEventsByTimeMigration[];

struct ConsumerOptions {
  // Required: entries not signed under it are dead-lettered (without it,
  // PollOnce answers INVALID_ARGUMENT).
  std::string internal_key;
  std::string stream = kEventStream;
  std::string group;     // required, e.g. "notifications"
  std::string consumer;  // required and unique per process, e.g. "notifications-<host>-<pid>"
  int batch = 128;
  std::chrono::milliseconds poll_interval{50};  // wait when the stream is empty
  std::chrono::milliseconds claim_idle{30000};  // reclaim entries pending this long
  int max_deliveries = 5;
  std::string dead_letter_stream = std::string(kEventStream) + ":dead";
  std::string start_id = "0";                      // where a new group starts ("0" = whole stream, "$" = new only)
  std::chrono::hours processed_retention{24 * 7};  // durable mode: see Retention above
};

// Destroys group on stream (XGROUP DESTROY): its position and pending
// entries are gone. Returns whether it existed.
absl::StatusOr<bool> DestroyGroup(redis::Client* redis, const std::string& stream, const std::string& group);

class EventConsumer {
 public:
  // Durable mode: handler runs inside a write transaction of db.
  using TxHandler = std::function<absl::Status(db::Connection&, const events::v1::Event&)>;
  // In-memory mode.
  using Handler = std::function<absl::Status(const events::v1::Event&)>;

  EventConsumer(redis::Client* redis, db::Database* db, ConsumerOptions options, TxHandler handler);
  EventConsumer(redis::Client* redis, ConsumerOptions options, Handler handler);
  ~EventConsumer();  // stops the thread

  void Start();
  void Stop();
  // Reclaims idle entries, reads one batch, handles and acknowledges it.
  // Returns the number of entries handled (including skipped duplicates).
  absl::StatusOr<int> PollOnce();
  // Stops, then destroys the consumer group in Redis (DestroyGroup above):
  // for a group private to this process, such as an in-memory read model's,
  // which nobody resumes after it. OK when the group was already gone.
  absl::Status StopAndDestroyGroup();

 private:
  struct Impl;
  void MakeLoop();
  std::unique_ptr<Impl> impl_;
};

}  // namespace rapport::events

#endif  // RAPPORT_SERVICES_COMMON_EVENT_CONSUMER_H_
