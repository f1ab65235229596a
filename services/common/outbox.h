// The transactional outbox and its relay to the Redis event stream.
//
// A service appends events with AppendEvent inside the same write
// transaction as the change they describe, so an event exists exactly when
// its change committed. OutboxRelay (one thread) publishes unsent rows in
// commit order with XADD in pipelined batches, then marks them sent in one
// write. Every trim_interval it trims the stream (TrimStream) by age and
// length, but never past an entry a consumer group still needs. If Redis is down the rows wait and are
// published when it returns; nothing is lost. A crash between XADD and the
// mark republishes those rows: delivery is at-least-once and consumers dedupe
// on the event id. Sent rows are pruned after a retention period.
//
// The outbox table is node-local and drained in sequence order, so unlike
// every other table its primary key is the sequence, not the org.
//
// Stream entry fields: "id" (event id), "type", "org", "data" (serialized
// rapport.events.v1.Event), "sig" (EventSigner below). Every entry is signed
// under the internal key and consumers verify it (event_consumer.h), so
// nobody who can merely write to Redis can make a service act on an event.
//
// Thread-safety: AppendEvent runs on the caller's transaction; OutboxRelay
// methods are safe from any thread.
#ifndef RAPPORT_SERVICES_COMMON_OUTBOX_H_
#define RAPPORT_SERVICES_COMMON_OUTBOX_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/crypto.h"
#include "services/common/db.h"
#include "services/common/redis_client.h"

namespace rapport::events {

inline constexpr char kEventStream[] = "rapport:events";

// Signs stream entries and checks their signatures: HMAC-SHA256, hex, under a
// key derived from the internal key (HMAC of "rapport event stream v1" under
// it, so that a MAC made for one purpose, such as tenant metadata, is never
// good for another), over the entry's id, type, org and data fields, each
// length-prefixed so that no two entries share a signed message.
// Immutable; thread-safe.
class EventSigner {
 public:
  // internal_key must not be empty.
  explicit EventSigner(std::string_view internal_key);

  std::string Sign(std::string_view id, std::string_view type, std::string_view org, std::string_view data) const;
  // Whether sig is Sign's answer for these fields (compared in constant time).
  bool Verify(std::string_view id, std::string_view type, std::string_view org, std::string_view data,
              std::string_view sig) const;

 private:
  HmacKey key_;
};

// The fields of the stream entry for an event, signed: id, type, org, data
// and sig, names and values alternating as XADD takes them. The relay writes
// these; so may tests and tools that publish an event themselves.
std::vector<std::string> EntryFields(const EventSigner& signer, const std::string& id, const std::string& type,
                                     const std::string& org, const std::string& data);
std::vector<std::string> EntryFields(const EventSigner& signer, const events::v1::Event& event);

// The migration that creates the outbox table; append it to a service's
// migrations list once.
extern const char kOutboxMigration[];

// An event of type from source about org (and user, when personal).
events::v1::Event NewEvent(const std::string& type, const std::string& source, const std::string& org,
                           const std::string& user);

// Fills id (a new ULID) and time (now) when empty, and inserts the event into
// the outbox on conn, which must be inside a write transaction.
absl::Status AppendEvent(db::Connection& conn, events::v1::Event event);

// One row of an internal export (rapport.backfill.v1): the event the row's
// creation emitted, and the row's keyset key (org, user, id...) for paging.
struct ExportedEvent {
  std::vector<std::string> key;
  events::v1::Event event;
};

// Runs a keyset export query on a read snapshot of db. The query's first
// key_parts columns are the key (org, user, ...), compared as a row value
// against after (padded with "" to key_parts) in parameters 1..key_parts;
// parameter key_parts + 1 is the limit. row() fills the event's type and
// payload from the current row; source, org and user are set here, and time (now)
// unless row() set it.
absl::StatusOr<std::vector<ExportedEvent>> ExportRows(
    db::Database& db, const std::string& source, const std::string& sql, const std::vector<std::string>& after,
    size_t key_parts, int limit, const std::function<absl::Status(const db::Statement&, events::v1::Event*)>& row);

struct RelayOptions {
  // Required: signs every entry (EventSigner). Without it nothing is
  // published (PublishOnce answers FAILED_PRECONDITION; rows wait).
  std::string internal_key;
  std::string stream = kEventStream;
  int64_t max_len = 1000000;                       // entries kept at most (TrimStream); <= 0: no length bound
  std::chrono::hours max_age{24 * 7};              // entries older are trimmed (TrimStream); <= 0: no age bound
  std::chrono::milliseconds trim_interval{10000};  // how often the relay trims the stream
  int batch = 256;                                 // rows per XADD pipeline
  std::chrono::milliseconds poll_interval{50};     // idle wait between scans
  std::chrono::milliseconds retry_interval{500};   // wait after Redis failed
  std::chrono::hours retention{24};                // sent rows kept this long
};

// Trims stream by age and length without losing what a consumer group still
// needs: entries older than max_age (by their id's millisecond part, against
// now_ms) or beyond the newest max_len are cut, but never an entry at or
// after the oldest one any group has pending (XPENDING) or at or after its
// last-delivered id (XINFO GROUPS), so a lagging or crashed consumer finds
// everything it has not acknowledged. One XTRIM MINID (exact); the length
// bound is found with XRANGE over at most max_step entries per call, so a
// long backlog is cut over several calls. Returns the number of entries
// removed. XADD's own MAXLEN is not used: it ignores consumer groups.
absl::StatusOr<int64_t> TrimStream(redis::Client& redis, const std::string& stream, int64_t max_len,
                                   std::chrono::milliseconds max_age, int64_t now_ms, int64_t max_step = 10000);

class OutboxRelay {
 public:
  OutboxRelay(db::Database* db, redis::Client* redis, RelayOptions options = {});
  ~OutboxRelay();  // stops the thread

  void Start();
  void Stop();
  // Wakes the relay now (e.g. after a commit) instead of at the next poll.
  void Notify();
  // Publishes one batch of unsent rows; returns how many were published.
  // UNAVAILABLE when Redis is down (the rows stay unsent).
  absl::StatusOr<int> PublishOnce();
  // Rows not yet marked sent.
  absl::StatusOr<int64_t> PendingCount();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rapport::events

#endif  // RAPPORT_SERVICES_COMMON_OUTBOX_H_
