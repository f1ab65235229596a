#include "services/common/outbox.h"

#include <algorithm>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "services/common/db_rows.h"
#include "services/common/ids.h"
#include "services/common/log.h"
#include "services/common/polling_loop.h"
#include "services/common/retention.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport::events {

// The index serves both scans: unsent rows in sequence order (sent_us IS NULL
// is an equality on the first column) and pruning by sent time.
const char kOutboxMigration[] = R"sql(
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  type TEXT NOT NULL,
  data BLOB NOT NULL,           -- rapport.events.v1.Event
  created_us INTEGER NOT NULL,
  sent_us INTEGER               -- NULL until published
);
CREATE INDEX outbox_unsent ON outbox (sent_us, seq);
)sql";

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMicros() { return ToMicros(absl::Now()); }

struct OutboxRow {
  int64_t seq = 0;
  std::string event_id;
  std::string org_id;
  std::string type;
  std::string data;
};

// Error replies that clear up by themselves; anything else (WRONGTYPE, a
// syntax error) needs someone to change something first.
absl::Status ReplyError(const std::string& text) {
  for (const char* transient :
       {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "OOM", "READONLY", "CLUSTERDOWN", "NOREPLICAS"}) {
    const std::string prefix = transient;
    if (text.compare(0, prefix.size(), prefix) == 0) {
      return absl::UnavailableError(absl::StrCat("redis XADD: ", text));
    }
  }
  return absl::FailedPreconditionError(absl::StrCat("redis XADD: ", text));
}

}  // namespace

namespace {

// The derivation label of the event key (see EventSigner).
constexpr char kEventKeyLabel[] = "rapport event stream v1";

void AppendField(std::string* message, std::string_view field) {
  absl::StrAppend(message, field.size(), ":", absl::string_view(field.data(), field.size()), ";");
}

}  // namespace

EventSigner::EventSigner(std::string_view internal_key) : key_(HmacSha256(internal_key, kEventKeyLabel)) {}

std::string EventSigner::Sign(std::string_view id, std::string_view type, std::string_view org,
                              std::string_view data) const {
  std::string message = "rapport-event-v1;";
  message.reserve(message.size() + id.size() + type.size() + org.size() + data.size() + 32);
  for (std::string_view field : {id, type, org, data}) AppendField(&message, field);
  return absl::BytesToHexString(key_.Mac(message));
}

bool EventSigner::Verify(std::string_view id, std::string_view type, std::string_view org, std::string_view data,
                         std::string_view sig) const {
  return ConstantTimeEquals(sig, Sign(id, type, org, data));
}

std::vector<std::string> EntryFields(const EventSigner& signer, const std::string& id, const std::string& type,
                                     const std::string& org, const std::string& data) {
  return {"id", id, "type", type, "org", org, "data", data, "sig", signer.Sign(id, type, org, data)};
}

std::vector<std::string> EntryFields(const EventSigner& signer, const events::v1::Event& event) {
  return EntryFields(signer, event.id(), event.type(), event.org_id(), event.SerializeAsString());
}

events::v1::Event NewEvent(const std::string& type, const std::string& source, const std::string& org,
                           const std::string& user) {
  events::v1::Event e;
  e.set_type(type);
  e.set_source(source);
  e.set_org_id(org);
  e.set_user_id(user);
  return e;
}

absl::Status AppendEvent(db::Connection& conn, events::v1::Event event) {
  if (event.type().empty()) return absl::InvalidArgumentError("outbox: event without a type");
  const int64_t now = NowMicros();
  if (event.id().empty()) event.set_id(NewId());
  if (!event.has_time()) *event.mutable_time() = ToTimestamp(now);
  std::string data;
  if (!event.SerializeToString(&data)) {
    return absl::InternalError(absl::StrCat("outbox: cannot serialize event ", event.id()));
  }
  return conn.Prepare("INSERT INTO outbox (event_id, org_id, type, data, created_us) VALUES (?, ?, ?, ?, ?)")
      .Bind(1, event.id())
      .Bind(2, event.org_id())
      .Bind(3, event.type())
      .BindBlob(4, data)
      .Bind(5, now)
      .RunLater();  // a failure fails the write at its next statement or its commit
}

struct OutboxRelay::Impl {
  Impl(db::Database* d, redis::Client* r, RelayOptions o) : db(d), redis(r), options(std::move(o)) {
    if (options.batch < 1) options.batch = 1;
    if (!options.internal_key.empty()) signer = std::make_unique<EventSigner>(options.internal_key);
  }

  // One turn of the relay loop: publish a batch, prune when due. True when
  // more work is probably waiting.
  absl::StatusOr<bool> Step();
  absl::StatusOr<int> PublishLocked();
  absl::Status MarkSent(const std::vector<OutboxRow>& rows, size_t count);
  // Deletes one chunk of sent rows past retention; true when the chunk was full.
  absl::StatusOr<bool> PruneChunk();

  db::Database* db;
  redis::Client* redis;
  RelayOptions options;
  std::unique_ptr<EventSigner> signer;  // null without an internal key: nothing is published

  std::mutex publish_mu;                        // one publisher at a time, or rows would go out twice
  Clock::time_point next_prune = Clock::now();  // loop thread only
  Clock::time_point next_trim = Clock::now();   // loop thread only
  std::unique_ptr<PollingLoop> loop;
};

absl::StatusOr<bool> OutboxRelay::Impl::Step() {
  absl::StatusOr<int> published = [this] {
    std::lock_guard<std::mutex> lock(publish_mu);
    return PublishLocked();
  }();
  if (!published.ok()) return published.status();
  // A full batch means more rows are probably waiting.
  bool more = *published >= options.batch;
  if (Clock::now() >= next_trim) {
    next_trim = Clock::now() + options.trim_interval;
    absl::StatusOr<int64_t> trimmed = TrimStream(*redis, options.stream, options.max_len,
                                                 std::chrono::duration_cast<std::chrono::milliseconds>(options.max_age),
                                                 absl::ToUnixMillis(absl::Now()));
    if (!trimmed.ok()) log::Warn("event stream trim failed", {{"error", trimmed.status().ToString()}});
  }
  if (Clock::now() >= next_prune) {
    absl::StatusOr<bool> full = PruneChunk();
    if (!full.ok()) log::Warn("outbox prune failed", {{"error", full.status().ToString()}});
    if (full.ok() && *full) {
      more = true;  // keep pruning, a chunk per turn
    } else {
      next_prune = Clock::now() + kRetentionEvery;
    }
  }
  return more;
}

absl::StatusOr<int> OutboxRelay::Impl::PublishLocked() {
  if (signer == nullptr) {
    return absl::FailedPreconditionError("outbox relay: no internal key to sign events with");
  }
  std::vector<OutboxRow> rows;
  RETURN_IF_ERROR(db->Read([&](db::Connection& conn) -> absl::Status {
    db::Statement stmt = conn.Prepare(
        "SELECT seq, event_id, org_id, type, data FROM outbox WHERE sent_us IS NULL "
        "ORDER BY seq LIMIT ?");
    stmt.Bind(1, options.batch);
    ASSIGN_OR_RETURN(rows, db::ListRows<OutboxRow>(stmt, [](const db::Statement& row) {
                       return OutboxRow{row.ColumnInt(0), row.ColumnText(1), row.ColumnText(2), row.ColumnText(3),
                                        row.ColumnBlob(4)};
                     }));
    return absl::OkStatus();
  }));
  if (rows.empty()) return 0;

  std::vector<std::vector<std::string>> commands;
  commands.reserve(rows.size());
  for (const OutboxRow& row : rows) {
    // No MAXLEN here: it would trim entries that consumer groups still have
    // pending. TrimStream bounds the stream instead.
    std::vector<std::string> xadd = {"XADD", options.stream, "*"};
    std::vector<std::string> fields = EntryFields(*signer, row.event_id, row.type, row.org_id, row.data);
    xadd.insert(xadd.end(), std::make_move_iterator(fields.begin()), std::make_move_iterator(fields.end()));
    commands.push_back(std::move(xadd));
  }
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis->Pipeline(commands));

  // XADD answers with the new entry id. Rows up to the first refused one are
  // in the stream and are marked; the rest stay unsent, so the stream keeps
  // commit order.
  size_t added = 0;
  absl::Status refused;
  for (; added < rows.size(); ++added) {
    if (added >= replies.size()) {
      refused = absl::InternalError("redis pipeline returned fewer replies than commands");
      break;
    }
    const redis::Reply& reply = replies[added];
    if (reply.type != redis::Reply::Type::kString) {
      refused = ReplyError(reply.type == redis::Reply::Type::kStatus ? reply.str : "unexpected reply type");
      break;
    }
  }
  if (added > 0) RETURN_IF_ERROR(MarkSent(rows, added));
  if (!refused.ok()) return refused;
  return static_cast<int>(added);
}

absl::Status OutboxRelay::Impl::MarkSent(const std::vector<OutboxRow>& rows, size_t count) {
  const int64_t now = NowMicros();
  return db->Write([&](db::Connection& conn) -> absl::Status {
    // Pipelined (RunLater): one round trip for the batch, not one per row.
    for (size_t i = 0; i < count; ++i) {
      RETURN_IF_ERROR(
          conn.Prepare("UPDATE outbox SET sent_us = ? WHERE seq = ?").Bind(1, now).Bind(2, rows[i].seq).RunLater());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> OutboxRelay::Impl::PruneChunk() {
  const int64_t before = NowMicros() - std::chrono::duration_cast<std::chrono::microseconds>(options.retention).count();
  return db::DeleteOldest(*db, "outbox", "seq", "sent_us", before, kRetentionChunk);
}

OutboxRelay::OutboxRelay(db::Database* db, redis::Client* redis, RelayOptions options)
    : impl_(std::make_unique<Impl>(db, redis, std::move(options))) {
  Impl* impl = impl_.get();
  PollingLoop::Options loop;
  loop.what = "outbox relay (events wait in the outbox)";
  loop.fields = {{"stream", impl->options.stream}};
  loop.idle = impl->options.poll_interval;
  loop.retry = impl->options.retry_interval;
  impl->loop = std::make_unique<PollingLoop>(std::move(loop), [impl] { return impl->Step(); });
}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() { impl_->loop->Start(); }

void OutboxRelay::Stop() { impl_->loop->Stop(); }

void OutboxRelay::Notify() { impl_->loop->Wake(); }

absl::StatusOr<int> OutboxRelay::PublishOnce() {
  std::lock_guard<std::mutex> lock(impl_->publish_mu);
  return impl_->PublishLocked();
}

absl::StatusOr<int64_t> OutboxRelay::PendingCount() {
  int64_t count = 0;
  RETURN_IF_ERROR(impl_->db->Read([&](db::Connection& conn) -> absl::Status {
    db::Statement stmt = conn.Prepare("SELECT COUNT(*) FROM outbox WHERE sent_us IS NULL");
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) count = stmt.ColumnInt(0);
    return absl::OkStatus();
  }));
  return count;
}

namespace {

// A stream entry id "<ms>-<seq>" as a comparable pair; nullopt when malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseStreamId(const std::string& id) {
  std::pair<std::string, std::string> parts = absl::StrSplit(id, absl::MaxSplits('-', 1));
  uint64_t ms = 0, seq = 0;
  if (!absl::SimpleAtoi(parts.first, &ms)) return std::nullopt;
  if (!parts.second.empty() && !absl::SimpleAtoi(parts.second, &seq)) return std::nullopt;
  return std::make_pair(ms, seq);
}

// The value of key in a flat [key, value, key, value...] reply, or nullptr.
const redis::Reply* Field(const redis::Reply& flat, const std::string& key) {
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    if (flat.elements[i].str == key) return &flat.elements[i + 1];
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<int64_t> TrimStream(redis::Client& redis, const std::string& stream, int64_t max_len,
                                   std::chrono::milliseconds max_age, int64_t now_ms, int64_t max_step) {
  using Id = std::pair<uint64_t, uint64_t>;
  // The cut: entries below it go. Age: every entry older than max_age.
  std::optional<Id> cut;
  if (max_age.count() > 0 && now_ms > max_age.count()) cut = Id{static_cast<uint64_t>(now_ms - max_age.count()), 0};
  if (max_len > 0) {
    ASSIGN_OR_RETURN(redis::Reply len, redis.Command({"XLEN", stream}));
    const int64_t excess = std::min<int64_t>(len.integer - max_len, std::max<int64_t>(max_step, 1));
    if (excess > 0) {
      // The first entry kept is the (excess + 1)-th oldest.
      ASSIGN_OR_RETURN(redis::Reply range,
                       redis.Command({"XRANGE", stream, "-", "+", "COUNT", std::to_string(excess + 1)}));
      if (static_cast<int64_t>(range.elements.size()) == excess + 1 && !range.elements.back().elements.empty()) {
        std::optional<Id> keep = ParseStreamId(range.elements.back().elements[0].str);
        if (keep && (!cut || *keep > *cut)) cut = keep;
      }
    }
  }
  if (!cut) return 0;
  // The floor: nothing a group still needs goes.
  absl::StatusOr<redis::Reply> groups = redis.Command({"XINFO", "GROUPS", stream});
  if (!groups.ok()) {
    if (absl::StrContains(groups.status().message(), "no such key")) return 0;
    return groups.status();
  }
  for (const redis::Reply& group : groups->elements) {
    const redis::Reply* name = Field(group, "name");
    const redis::Reply* delivered = Field(group, "last-delivered-id");
    if (name == nullptr || delivered == nullptr) {
      return absl::InternalError("redis XINFO GROUPS: unexpected reply");
    }
    std::optional<Id> last = ParseStreamId(delivered->str);
    if (!last) return absl::InternalError(absl::StrCat("redis XINFO GROUPS: bad id ", delivered->str));
    if (*last < *cut) cut = last;
    ASSIGN_OR_RETURN(redis::Reply pending, redis.Command({"XPENDING", stream, name->str}));
    if (pending.elements.size() >= 2 && pending.elements[1].type == redis::Reply::Type::kString) {
      std::optional<Id> oldest = ParseStreamId(pending.elements[1].str);
      if (oldest && *oldest < *cut) cut = oldest;
    }
  }
  if (cut->first == 0 && cut->second == 0) return 0;
  ASSIGN_OR_RETURN(redis::Reply trimmed,
                   redis.Command({"XTRIM", stream, "MINID", absl::StrCat(cut->first, "-", cut->second)}));
  return static_cast<int64_t>(trimmed.integer);
}

absl::StatusOr<std::vector<ExportedEvent>> ExportRows(
    db::Database& db, const std::string& source, const std::string& sql, const std::vector<std::string>& after,
    size_t key_parts, int limit, const std::function<absl::Status(const db::Statement&, events::v1::Event*)>& row) {
  std::vector<ExportedEvent> out;
  std::vector<std::string> key = after;
  key.resize(key_parts);
  absl::Status status = db.Read([&](db::Connection& conn) -> absl::Status {
    auto st = conn.Prepare(sql);
    for (size_t i = 0; i < key_parts; ++i) st.Bind(static_cast<int>(i + 1), key[i]);
    st.Bind(static_cast<int>(key_parts + 1), limit);
    return db::ForEachRow(st, [&](const db::Statement& r) -> absl::Status {
      ExportedEvent e;
      for (size_t i = 0; i < key_parts; ++i) e.key.push_back(r.ColumnText(static_cast<int>(i)));
      RETURN_IF_ERROR(row(r, &e.event));
      e.event.set_source(source);
      e.event.set_org_id(e.key[0]);
      if (key_parts > 1) e.event.set_user_id(e.key[1]);
      if (!e.event.has_time()) *e.event.mutable_time() = ToTimestamp(NowMicros());
      out.push_back(std::move(e));
      return absl::OkStatus();
    });
  });
  if (!status.ok()) return status;
  return out;
}

}  // namespace rapport::events
