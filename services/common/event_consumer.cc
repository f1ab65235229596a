#include "services/common/event_consumer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/common/polling_loop.h"
#include "services/common/retention.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::events {

const char kProcessedEventsMigration[] = R"sql(
CREATE TABLE processed_events (
  org_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  processed_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, event_id)
) WITHOUT ROWID;
)sql";

const char kProcessedEventsByTimeMigration[] = R"sql(
CREATE INDEX processed_events_by_time ON processed_events (processed_us);
)sql";

namespace {

using Clock = std::chrono::steady_clock;
using redis::Reply;

// In-memory mode remembers this many recent ids (oldest forgotten first).
constexpr size_t kSeenCapacity = 100000;

// Durable mode's processed_events rows are kept this much longer than the
// stream's oldest entry, for clock skew between Redis (entry ids) and this
// process (processed_us).
constexpr int64_t kSkewMicros = int64_t{3600} * 1000000;

// One stream entry as XREADGROUP/XAUTOCLAIM return it. A pending entry whose
// stream entry was trimmed or deleted comes back without fields.
struct Entry {
  std::string id;
  bool has_fields = false;
  std::vector<std::pair<std::string, std::string>> fields;

  const std::string* Field(const std::string& name) const {
    for (const auto& [key, value] : fields) {
      if (key == name) return &value;
    }
    return nullptr;
  }
  std::string FieldOr(const std::string& name) const {
    const std::string* v = Field(name);
    return v != nullptr ? *v : std::string();
  }
};

bool IsString(const Reply& r) { return r.type == Reply::Type::kString; }

absl::Status Malformed(const std::string& what) {
  return absl::InternalError(absl::StrCat("unexpected redis reply: ", what));
}

// Parses [[id, [field, value, ...] or nil], ...].
absl::StatusOr<std::vector<Entry>> ParseEntries(const Reply& list) {
  std::vector<Entry> entries;
  if (list.type == Reply::Type::kNil) return entries;
  if (list.type != Reply::Type::kArray) return Malformed("entry list is not an array");
  entries.reserve(list.elements.size());
  for (const Reply& item : list.elements) {
    if (item.type == Reply::Type::kNil) continue;  // Redis 6.2 XAUTOCLAIM: deleted entry
    if (item.type != Reply::Type::kArray || item.elements.size() != 2 || !IsString(item.elements[0])) {
      return Malformed("stream entry is not [id, fields]");
    }
    Entry entry;
    entry.id = item.elements[0].str;
    const Reply& fields = item.elements[1];
    if (fields.type == Reply::Type::kArray) {
      entry.has_fields = true;
      for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
        entry.fields.emplace_back(fields.elements[i].str, fields.elements[i + 1].str);
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

bool HasPrefix(const absl::Status& status, const std::string& prefix) {
  const std::string message(status.message());
  return message.compare(0, prefix.size(), prefix) == 0;
}

// The handler's exceptions must not end the consumer thread.
absl::Status CallHandler(const EventConsumer::Handler& handler, const events::v1::Event& event) {
  try {
    return handler(event);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("event handler threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("event handler threw a non-standard exception");
  }
}

}  // namespace

struct EventConsumer::Impl {
  Impl(redis::Client* r, db::Database* d, ConsumerOptions o) : redis(r), db(d), options(std::move(o)) {
    if (options.batch < 1) options.batch = 1;
    if (options.max_deliveries < 1) options.max_deliveries = 1;
    claim_every = std::max(options.claim_idle / 2, std::chrono::milliseconds(10));
    if (!options.internal_key.empty()) signer = std::make_unique<EventSigner>(options.internal_key);
  }

  absl::StatusOr<int> Poll();
  absl::Status EnsureGroup();
  // Deletes one chunk of processed_events rows that can no longer be needed;
  // true when the chunk was full.
  absl::StatusOr<bool> PruneProcessed();
  absl::StatusOr<std::vector<Entry>> ReadGroup(const std::string& from);
  absl::StatusOr<std::vector<Entry>> Reclaim();
  // Delivery counts of this consumer's pending entries among entries.
  absl::StatusOr<absl::flat_hash_map<std::string, int64_t>> DeliveryCounts(const std::vector<Entry>& entries);
  absl::StatusOr<int64_t> DeliveryCount(const std::string& entry_id);
  // Handles entries (delivered `deliveries` times when known, else looked up)
  // and acknowledges those that are done; returns how many were.
  absl::StatusOr<int> Process(const std::vector<Entry>& entries,
                              const absl::flat_hash_map<std::string, int64_t>* deliveries);
  // Runs the handlers of events (durable mode: all in one group commit, each
  // in its own savepoint) and returns each one's outcome.
  std::vector<absl::Status> RunHandlers(const std::vector<const events::v1::Event*>& batch);
  absl::Status DeadLetter(const Entry& entry, const std::string& error);
  absl::Status Ack(const std::vector<std::string>& ids);
  bool Seen(const std::string& id) const { return seen.contains(id); }
  void Remember(const std::string& id);

  redis::Client* redis;
  db::Database* db;  // null in in-memory mode
  ConsumerOptions options;
  TxHandler tx_handler;
  Handler handler;
  std::unique_ptr<EventSigner> signer;  // null without an internal key: Poll refuses to run

  bool group_ready = false;
  // Entries this consumer read before a restart are re-read once, from the
  // start of its pending list, before new ones.
  bool own_pending_done = false;
  std::string own_pending_cursor = "0";
  std::chrono::milliseconds claim_every;
  Clock::time_point next_claim = Clock::now();
  std::string claim_cursor = "0-0";
  Clock::time_point next_prune = Clock::now();

  absl::flat_hash_set<std::string> seen;
  std::deque<std::string> seen_order;

  std::mutex poll_mu;  // PollOnce and the thread never poll at once

  std::unique_ptr<PollingLoop> loop;
};

absl::Status EventConsumer::Impl::EnsureGroup() {
  if (group_ready) return absl::OkStatus();
  absl::StatusOr<Reply> created =
      redis->Command({"XGROUP", "CREATE", options.stream, options.group, options.start_id, "MKSTREAM"});
  if (!created.ok() && !HasPrefix(created.status(), "BUSYGROUP")) return created.status();
  group_ready = true;
  // After Redis lost its data (a new group) there is nothing of ours pending;
  // otherwise the history read covers what this consumer read before.
  own_pending_done = false;
  // Move-assigned: GCC 12 warns falsely (-Wrestrict) on assigning a literal here.
  own_pending_cursor = std::string("0");
  claim_cursor = std::string("0-0");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Entry>> EventConsumer::Impl::ReadGroup(const std::string& from) {
  // No BLOCK: the client's command timeout is short, and the thread sleeps
  // poll_interval itself when nothing came.
  ASSIGN_OR_RETURN(Reply reply, redis->Command({"XREADGROUP", "GROUP", options.group, options.consumer, "COUNT",
                                                std::to_string(options.batch), "STREAMS", options.stream, from}));
  if (reply.type == Reply::Type::kNil) return std::vector<Entry>();
  // [[stream, entries]]
  if (reply.type != Reply::Type::kArray || reply.elements.empty() || reply.elements[0].type != Reply::Type::kArray ||
      reply.elements[0].elements.size() != 2) {
    return Malformed("XREADGROUP reply is not [[stream, entries]]");
  }
  return ParseEntries(reply.elements[0].elements[1]);
}

absl::StatusOr<std::vector<Entry>> EventConsumer::Impl::Reclaim() {
  ASSIGN_OR_RETURN(Reply reply, redis->Command({"XAUTOCLAIM", options.stream, options.group, options.consumer,
                                                std::to_string(options.claim_idle.count()), claim_cursor, "COUNT",
                                                std::to_string(options.batch)}));
  // Redis 7: [next-cursor, entries, deleted-ids]; 6.2: [next-cursor, entries].
  if (reply.type != Reply::Type::kArray || reply.elements.size() < 2 || !IsString(reply.elements[0])) {
    return Malformed("XAUTOCLAIM reply is not [cursor, entries, ...]");
  }
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ParseEntries(reply.elements[1]));
  // A cursor other than 0-0 means the scan stopped early: continue it at the
  // next poll rather than after another claim period.
  claim_cursor = reply.elements[0].str;
  if (claim_cursor == "0-0") next_claim = Clock::now() + claim_every;
  return entries;
}

absl::StatusOr<absl::flat_hash_map<std::string, int64_t>> EventConsumer::Impl::DeliveryCounts(
    const std::vector<Entry>& entries) {
  absl::flat_hash_map<std::string, int64_t> counts;
  if (entries.empty()) return counts;
  // Entries come in id order, so one range covers them; ours that are not in
  // the batch may share the range, hence the slack in the count.
  ASSIGN_OR_RETURN(Reply reply,
                   redis->Command({"XPENDING", options.stream, options.group, entries.front().id, entries.back().id,
                                   std::to_string(2 * entries.size() + 16), options.consumer}));
  if (reply.type != Reply::Type::kArray) return Malformed("XPENDING reply is not an array");
  for (const Reply& item : reply.elements) {
    // [id, consumer, idle ms, delivery count]
    if (item.type != Reply::Type::kArray || item.elements.size() < 4 || !IsString(item.elements[0]) ||
        item.elements[3].type != Reply::Type::kInteger) {
      return Malformed("XPENDING entry is not [id, consumer, idle, count]");
    }
    counts[item.elements[0].str] = item.elements[3].integer;
  }
  return counts;
}

absl::StatusOr<int64_t> EventConsumer::Impl::DeliveryCount(const std::string& entry_id) {
  ASSIGN_OR_RETURN(Reply reply, redis->Command({"XPENDING", options.stream, options.group, entry_id, entry_id, "1"}));
  if (reply.type != Reply::Type::kArray) return Malformed("XPENDING reply is not an array");
  if (reply.elements.empty()) return 0;  // no longer pending
  const Reply& item = reply.elements[0];
  if (item.type != Reply::Type::kArray || item.elements.size() < 4 || item.elements[3].type != Reply::Type::kInteger) {
    return Malformed("XPENDING entry is not [id, consumer, idle, count]");
  }
  return item.elements[3].integer;
}

void EventConsumer::Impl::Remember(const std::string& id) {
  if (!seen.insert(id).second) return;
  seen_order.push_back(id);
  while (seen_order.size() > kSeenCapacity) {
    seen.erase(seen_order.front());
    seen_order.pop_front();
  }
}

std::vector<absl::Status> EventConsumer::Impl::RunHandlers(const std::vector<const events::v1::Event*>& batch) {
  std::vector<absl::Status> results(batch.size());
  if (db == nullptr) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const events::v1::Event& event = *batch[i];
      // An id seen earlier in this batch or before: a republished duplicate.
      if (Seen(event.id())) continue;
      results[i] = CallHandler(handler, event);
      if (results[i].ok()) Remember(event.id());
    }
    return results;
  }

  // Queued together, the transactions commit in one batch (one fsync) while
  // each keeps its own savepoint: a failing handler undoes only its event,
  // including its processed_events row. The writer runs them in queue order,
  // and a duplicate later in the batch sees the earlier one's row.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    size_t remaining = 0;
  };
  Pending pending;
  pending.remaining = batch.size();
  const int64_t now = ToMicros(absl::Now());
  for (size_t i = 0; i < batch.size(); ++i) {
    const events::v1::Event* event = batch[i];
    db->WriteAsync(
        [this, event, now](db::Connection& conn) -> absl::Status {
          RETURN_IF_ERROR(conn.Prepare("INSERT INTO processed_events (org_id, event_id, processed_us) "
                                       "VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
                              .Bind(1, event->org_id())
                              .Bind(2, event->id())
                              .Bind(3, now)
                              .Run());
          if (conn.Changes() == 0) return absl::OkStatus();  // processed before
          return tx_handler(conn, *event);
        },
        [&pending, &results, i](absl::Status status) {
          std::lock_guard<std::mutex> lock(pending.mu);
          results[i] = std::move(status);
          if (--pending.remaining == 0) pending.cv.notify_all();
        });
  }
  std::unique_lock<std::mutex> lock(pending.mu);
  pending.cv.wait(lock, [&pending] { return pending.remaining == 0; });
  return results;
}

absl::Status EventConsumer::Impl::DeadLetter(const Entry& entry, const std::string& error) {
  // MULTI/EXEC: the copy and the acknowledgement happen together, so an entry
  // lands in the dead-letter stream once.
  ASSIGN_OR_RETURN(
      std::vector<Reply> replies,
      redis->Pipeline({{"MULTI"},
                       {"XADD", options.dead_letter_stream, "*", "id", entry.FieldOr("id"), "type",
                        entry.FieldOr("type"), "org", entry.FieldOr("org"), "data", entry.FieldOr("data"), "sig",
                        entry.FieldOr("sig"), "error", error, "group", options.group, "entry", entry.id},
                       {"XACK", options.stream, options.group, entry.id},
                       {"EXEC"}}));
  if (replies.size() != 4 || replies[3].type != Reply::Type::kArray || replies[3].elements.size() != 2 ||
      !IsString(replies[3].elements[0])) {
    std::string why = "dead-letter transaction failed";
    for (const Reply& r : replies) {
      if (r.type == Reply::Type::kStatus && r.str != "OK" && r.str != "QUEUED") why = r.str;
    }
    return absl::UnavailableError(absl::StrCat("redis: ", why));
  }
  log::Error("event dead-lettered", {{"stream", options.stream},
                                     {"group", options.group},
                                     {"entry", entry.id},
                                     {"event_id", entry.FieldOr("id")},
                                     {"type", entry.FieldOr("type")},
                                     {"org", entry.FieldOr("org")},
                                     {"error", error}});
  return absl::OkStatus();
}

absl::Status EventConsumer::Impl::Ack(const std::vector<std::string>& ids) {
  if (ids.empty()) return absl::OkStatus();
  std::vector<std::string> args = {"XACK", options.stream, options.group};
  args.insert(args.end(), ids.begin(), ids.end());
  return redis->Command(args).status();
}

absl::StatusOr<int> EventConsumer::Impl::Process(const std::vector<Entry>& entries,
                                                 const absl::flat_hash_map<std::string, int64_t>* deliveries) {
  std::vector<std::string> acks;
  int dead = 0;
  absl::Status first_error;
  auto keep = [&first_error](absl::Status s) {
    if (first_error.ok()) first_error = std::move(s);
  };
  // Looked up once per entry when the batch did not come with counts.
  auto delivery_count = [&](const Entry& entry) -> std::optional<int64_t> {
    if (deliveries != nullptr) {
      auto it = deliveries->find(entry.id);
      if (it != deliveries->end()) return it->second;
    }
    absl::StatusOr<int64_t> n = DeliveryCount(entry.id);
    if (!n.ok()) {
      keep(n.status());
      return std::nullopt;
    }
    return *n;
  };
  auto dead_letter = [&](const Entry& entry, const std::string& error) {
    absl::Status s = DeadLetter(entry, error);
    if (s.ok()) {
      ++dead;
    } else {
      keep(s);
    }
  };

  std::vector<events::v1::Event> parsed(entries.size());
  std::vector<const events::v1::Event*> to_handle;
  std::vector<size_t> handled_index;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[i];
    if (!entry.has_fields) {
      acks.push_back(entry.id);  // trimmed from the stream: nothing left to handle
      continue;
    }
    // Only what a holder of the internal key wrote is acted on; anything else
    // (an entry XADDed by whoever reached Redis) is set aside untouched.
    const std::string* sig = entry.Field("sig");
    if (sig == nullptr || !signer->Verify(entry.FieldOr("id"), entry.FieldOr("type"), entry.FieldOr("org"),
                                          entry.FieldOr("data"), *sig)) {
      log::Warn("event entry not signed with the internal key",
                {{"stream", options.stream}, {"group", options.group}, {"entry", entry.id}});
      dead_letter(entry, sig == nullptr ? "entry is not signed" : "bad signature: not signed with the internal key");
      continue;
    }
    const std::string* data = entry.Field("data");
    if (data == nullptr || !parsed[i].ParseFromString(*data) ||
        (parsed[i].id().empty() && entry.FieldOr("id").empty())) {
      // Retrying cannot fix it.
      log::Warn("malformed event entry", {{"stream", options.stream}, {"group", options.group}, {"entry", entry.id}});
      dead_letter(entry, data == nullptr ? "entry has no data field" : "data is not an Event");
      continue;
    }
    if (parsed[i].id().empty()) parsed[i].set_id(entry.FieldOr("id"));
    if (deliveries != nullptr) {
      // Delivered more often than allowed without an outcome: an earlier
      // attempt probably crashed the process, so do not try again.
      std::optional<int64_t> count = delivery_count(entry);
      if (count.has_value() && *count > options.max_deliveries) {
        dead_letter(entry, absl::StrCat("delivered ", *count, " times without success"));
        continue;
      }
    }
    to_handle.push_back(&parsed[i]);
    handled_index.push_back(i);
  }

  std::vector<absl::Status> results = RunHandlers(to_handle);
  for (size_t k = 0; k < results.size(); ++k) {
    const Entry& entry = entries[handled_index[k]];
    const events::v1::Event& event = *to_handle[k];
    if (results[k].ok()) {
      acks.push_back(entry.id);
      continue;
    }
    std::optional<int64_t> count = deliveries != nullptr ? delivery_count(entry) : std::optional<int64_t>(1);
    log::Warn("event handler failed", {{"stream", options.stream},
                                       {"group", options.group},
                                       {"entry", entry.id},
                                       {"event_id", event.id()},
                                       {"type", event.type()},
                                       {"org", event.org_id()},
                                       {"deliveries", count.has_value() ? std::to_string(*count) : "unknown"},
                                       {"error", results[k].ToString()}});
    // Otherwise it stays pending and is reclaimed once idle past claim_idle.
    if (count.has_value() && *count >= options.max_deliveries) {
      dead_letter(entry, results[k].ToString());
    }
  }
  absl::Status acked = Ack(acks);
  if (!acked.ok()) return acked;
  if (!first_error.ok()) return first_error;
  return static_cast<int>(acks.size()) + dead;
}

absl::StatusOr<int> EventConsumer::Impl::Poll() {
  if (options.group.empty() || options.consumer.empty()) {
    return absl::InvalidArgumentError("event consumer needs a group and a consumer name");
  }
  if (signer == nullptr) return absl::InvalidArgumentError("event consumer needs the internal key to verify events");
  RETURN_IF_ERROR(EnsureGroup());
  absl::StatusOr<int> handled = [this]() -> absl::StatusOr<int> {
    int total = 0;
    if (!own_pending_done) {
      // Reading by id re-delivers this consumer's own pending entries after
      // that id; the cursor moves past failures so they wait for a reclaim.
      ASSIGN_OR_RETURN(std::vector<Entry> entries, ReadGroup(own_pending_cursor));
      if (static_cast<int>(entries.size()) < options.batch) own_pending_done = true;
      if (!entries.empty()) {
        own_pending_cursor = entries.back().id;
        ASSIGN_OR_RETURN(auto counts, DeliveryCounts(entries));
        ASSIGN_OR_RETURN(int n, Process(entries, &counts));
        total += n;
      }
    }
    if (Clock::now() >= next_claim) {
      ASSIGN_OR_RETURN(std::vector<Entry> entries, Reclaim());
      if (!entries.empty()) {
        ASSIGN_OR_RETURN(auto counts, DeliveryCounts(entries));
        ASSIGN_OR_RETURN(int n, Process(entries, &counts));
        total += n;
      }
    }
    // New entries have been delivered exactly once.
    ASSIGN_OR_RETURN(std::vector<Entry> entries, ReadGroup(">"));
    ASSIGN_OR_RETURN(int n, Process(entries, nullptr));
    return total + n;
  }();
  // The group is gone when Redis lost its data: create it again next time.
  if (!handled.ok() && HasPrefix(handled.status(), "NOGROUP")) group_ready = false;
  if (handled.ok() && db != nullptr && Clock::now() >= next_prune) {
    absl::StatusOr<bool> full = PruneProcessed();
    if (!full.ok()) log::Warn("processed_events prune failed", {{"error", full.status().ToString()}});
    // A full chunk: the next one at the next poll.
    if (!full.ok() || !*full) next_prune = Clock::now() + kRetentionEvery;
  }
  return handled;
}

absl::StatusOr<bool> EventConsumer::Impl::PruneProcessed() {
  int64_t before = ToMicros(absl::Now()) -
                   std::chrono::duration_cast<std::chrono::microseconds>(options.processed_retention).count();
  // The oldest entry still in the stream: its id starts with the
  // milliseconds at which it was added, and every row processed before that
  // belongs to an entry already trimmed.
  ASSIGN_OR_RETURN(Reply oldest, redis->Command({"XRANGE", options.stream, "-", "+", "COUNT", "1"}));
  if (oldest.type != Reply::Type::kArray) return Malformed("XRANGE reply is not an array");
  if (!oldest.elements.empty()) {
    ASSIGN_OR_RETURN(std::vector<Entry> entries, ParseEntries(oldest));
    int64_t added_ms = 0;
    if (entries.empty() || !absl::SimpleAtoi(entries[0].id.substr(0, entries[0].id.find('-')), &added_ms)) {
      return Malformed("XRANGE entry id is not <ms>-<seq>");
    }
    before = std::min(before, added_ms * 1000 - kSkewMicros);
  }
  return db::DeleteOldest(*db, "processed_events", "org_id, event_id", "processed_us", before, kRetentionChunk);
}

EventConsumer::EventConsumer(redis::Client* redis, db::Database* db, ConsumerOptions options, TxHandler handler)
    : impl_(std::make_unique<Impl>(redis, db, std::move(options))) {
  impl_->tx_handler = std::move(handler);
  MakeLoop();
}

EventConsumer::EventConsumer(redis::Client* redis, ConsumerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(redis, nullptr, std::move(options))) {
  impl_->handler = std::move(handler);
  MakeLoop();
}

void EventConsumer::MakeLoop() {
  PollingLoop::Options loop;
  loop.what = "event consumer";
  loop.fields = {{"stream", impl_->options.stream}, {"group", impl_->options.group}};
  loop.idle = impl_->options.poll_interval;
  loop.retry = impl_->options.poll_interval;
  impl_->loop = std::make_unique<PollingLoop>(std::move(loop), [this]() -> absl::StatusOr<bool> {
    absl::StatusOr<int> handled = PollOnce();
    if (!handled.ok()) return handled.status();
    return *handled > 0;  // a batch came: look for the next one at once
  });
}

EventConsumer::~EventConsumer() { Stop(); }

void EventConsumer::Start() { impl_->loop->Start(); }

void EventConsumer::Stop() { impl_->loop->Stop(); }

absl::StatusOr<int> EventConsumer::PollOnce() {
  std::lock_guard<std::mutex> lock(impl_->poll_mu);
  return impl_->Poll();
}

absl::Status EventConsumer::StopAndDestroyGroup() {
  Stop();
  std::lock_guard<std::mutex> lock(impl_->poll_mu);
  impl_->group_ready = false;  // a later poll creates it again
  return DestroyGroup(impl_->redis, impl_->options.stream, impl_->options.group).status();
}

absl::StatusOr<bool> DestroyGroup(redis::Client* redis, const std::string& stream, const std::string& group) {
  absl::StatusOr<Reply> destroyed = redis->Command({"XGROUP", "DESTROY", stream, group});
  if (!destroyed.ok()) {
    // No stream: no group either ("requires the key to exist").
    if (absl::StrContains(destroyed.status().message(), "key to exist")) return false;
    return destroyed.status();
  }
  return destroyed->integer > 0;
}

}  // namespace rapport::events
