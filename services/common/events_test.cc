// The event backbone end to end against a real redis-server and SQLite file:
// outbox atomicity, the relay surviving a Redis outage, duplicate delivery,
// reclaiming from dead consumers, dead-lettering and ack-after-commit.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/crypto.h"
#include "services/common/db.h"
#include "services/common/event_consumer.h"
#include "services/common/ids.h"
#include "services/common/outbox.h"
#include "services/common/redis_client.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "tests/testing/harness.h"

namespace rapport::events {
namespace {

using ::rapport::testing::RedisServer;
using ::rapport::testing::WaitFor;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{20000};
constexpr char kGroup[] = "test";
constexpr char kDead[] = "rapport:events:dead";
constexpr char kInternalKey[] = "events-test-internal-key";

// A stream entry as XRANGE returns it.
struct StreamEntry {
  std::string entry_id;
  std::map<std::string, std::string> fields;
};

v1::Event MakeEvent(const std::string& type, const std::string& org = "org1") {
  v1::Event e;
  e.set_type(type);
  e.set_source("test");
  e.set_org_id(org);
  e.set_user_id("user1");
  return e;
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(server_->Start().ok());
    redis::ClientOptions ro;
    ro.addr = server_->addr();
    ro.command_timeout = milliseconds(1000);
    ro.retry_interval = milliseconds(50);
    redis_ = std::make_unique<redis::Client>(ro);
    dir_ = ::rapport::testing::TempDir("rapport-events-test");
    ASSERT_FALSE(dir_.empty());
    db::Options so;
    so.path = dir_ + "/service.db";
    // effects stands for a handler's own table; no key, so a second run of a
    // handler for one event shows up as a second row.
    so.migrations = {kOutboxMigration, kProcessedEventsMigration, kProcessedEventsByTimeMigration,
                     "CREATE TABLE effects (org_id TEXT NOT NULL, event_id TEXT NOT NULL)"};
    auto db = db::Open(so);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(db).value();
  }

  void TearDown() override {
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  RelayOptions Relay() const {
    RelayOptions o;
    o.internal_key = kInternalKey;
    o.poll_interval = milliseconds(10);
    o.retry_interval = milliseconds(50);
    return o;
  }

  ConsumerOptions Consumer(const std::string& name = "c1") const {
    ConsumerOptions o;
    o.internal_key = kInternalKey;
    o.group = kGroup;
    o.consumer = name;
    o.poll_interval = milliseconds(10);
    o.claim_idle = milliseconds(200);
    return o;
  }

  // Appends e in a write transaction of its own; returns the id it got.
  std::string Append(v1::Event e) {
    if (e.id().empty()) e.set_id(NewId());
    const std::string id = e.id();
    absl::Status s = db_->Write([&](db::Connection& conn) { return AppendEvent(conn, e); });
    EXPECT_TRUE(s.ok()) << s;
    return id;
  }

  // XADDs e the way the relay does, bypassing the outbox: signed under the
  // internal key unless `as` says otherwise.
  std::string AddToStream(const v1::Event& e, const EventSigner& as = EventSigner(kInternalKey),
                          const std::string& entry_id = "*") {
    return XAdd(entry_id, EntryFields(as, e));
  }
  std::string XAdd(const std::string& entry_id, const std::vector<std::string>& fields) {
    std::vector<std::string> xadd = {"XADD", kEventStream, entry_id};
    xadd.insert(xadd.end(), fields.begin(), fields.end());
    auto r = redis_->Command(xadd);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->str : "";
  }

  std::vector<StreamEntry> Range(const std::string& stream) {
    std::vector<StreamEntry> out;
    auto r = redis_->Command({"XRANGE", stream, "-", "+"});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return out;
    for (const redis::Reply& item : r->elements) {
      StreamEntry entry;
      entry.entry_id = item.elements[0].str;
      const auto& f = item.elements[1].elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) entry.fields[f[i].str] = f[i + 1].str;
      out.push_back(std::move(entry));
    }
    return out;
  }

  int64_t XLen(const std::string& stream) {
    auto r = redis_->Command({"XLEN", stream});
    return r.ok() ? r->integer : -1;
  }

  // Entries of the group delivered and not yet acknowledged.
  int64_t PendingInGroup() {
    auto r = redis_->Command({"XPENDING", kEventStream, kGroup});
    if (!r.ok() || r->elements.empty()) return -1;
    return r->elements[0].integer;
  }

  int64_t CountRows(const std::string& sql) {
    int64_t n = -1;
    absl::Status s = db_->Read([&](db::Connection& conn) -> absl::Status {
      db::Statement stmt = conn.Prepare(sql);
      auto row = stmt.Step();
      if (!row.ok()) return row.status();
      n = stmt.ColumnInt(0);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<redis::Client> redis_;
  std::string dir_;
  std::unique_ptr<db::Database> db_;
};

// A durable handler that records each event it applies in effects.
struct RecordingHandler {
  std::atomic<int> calls{0};
  std::mutex mu;
  std::multiset<std::string> ids;

  EventConsumer::TxHandler Durable() {
    return [this](db::Connection& conn, const v1::Event& e) -> absl::Status {
      ++calls;
      {
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(e.id());
      }
      return conn.Prepare("INSERT INTO effects (org_id, event_id) VALUES (?, ?)")
          .Bind(1, e.org_id())
          .Bind(2, e.id())
          .Run();
    };
  }
};

TEST_F(EventsTest, RelayPublishesCommittedEventsInOrder) {
  RelayOptions ro = Relay();
  ro.poll_interval = milliseconds(60000);  // only Notify can wake it in time
  OutboxRelay relay(db_.get(), redis_.get(), ro);
  relay.Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    v1::Event e = MakeEvent("contact.created");
    e.set_id("");  // AppendEvent assigns it
    absl::Status s = db_->Write([&](db::Connection& conn) { return AppendEvent(conn, e); });
    ASSERT_TRUE(s.ok()) << s;
  }
  relay.Notify();
  ASSERT_TRUE(WaitFor([&] { return XLen(kEventStream) == 10; }, kDeadline));
  ASSERT_TRUE(WaitFor([&] { return relay.PendingCount().value_or(-1) == 0; }, kDeadline));
  relay.Stop();
  relay.Stop();  // idempotent

  std::vector<StreamEntry> entries = Range(kEventStream);
  ASSERT_EQ(entries.size(), 10u);
  ASSERT_TRUE(db_->Read([&](db::Connection& conn) -> absl::Status {
                   db::Statement stmt = conn.Prepare("SELECT event_id FROM outbox ORDER BY seq");
                   for (;;) {
                     auto row = stmt.Step();
                     if (!row.ok()) return row.status();
                     if (!*row) return absl::OkStatus();
                     ids.push_back(stmt.ColumnText(0));
                   }
                 })
                  .ok());
  ASSERT_EQ(ids.size(), 10u);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& f = entries[i].fields;
    EXPECT_EQ(f.at("id"), ids[i]) << "stream order differs from commit order at " << i;
    EXPECT_EQ(f.at("type"), "contact.created");
    EXPECT_EQ(f.at("org"), "org1");
    v1::Event parsed;
    ASSERT_TRUE(parsed.ParseFromString(f.at("data")));
    EXPECT_EQ(parsed.id(), ids[i]);
    EXPECT_EQ(parsed.user_id(), "user1");
    EXPECT_GT(parsed.time().seconds(), 0) << "AppendEvent fills the time";
  }
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM outbox WHERE sent_us IS NOT NULL"), 10);
}

TEST_F(EventsTest, RolledBackEventIsNeverPublished) {
  OutboxRelay relay(db_.get(), redis_.get(), Relay());
  v1::Event doomed = MakeEvent("contact.created");
  doomed.set_id("doomed");
  absl::Status s = db_->Write([&](db::Connection& conn) -> absl::Status {
    absl::Status appended = AppendEvent(conn, doomed);
    if (!appended.ok()) return appended;
    return absl::AbortedError("the change failed after the event was appended");
  });
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  const std::string kept = Append(MakeEvent("contact.updated"));

  auto published = relay.PublishOnce();
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(*published, 1);
  std::vector<StreamEntry> entries = Range(kEventStream);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].fields["id"], kept);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM outbox WHERE event_id = 'doomed'"), 0);
  EXPECT_EQ(relay.PendingCount().value_or(-1), 0);
  EXPECT_EQ(relay.PublishOnce().value_or(-1), 0);
}

TEST_F(EventsTest, EventsWaitWhileRedisIsDownAndArePublishedOnce) {
  OutboxRelay relay(db_.get(), redis_.get(), Relay());
  server_->Stop();
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(Append(MakeEvent("contact.created")));

  auto published = relay.PublishOnce();
  EXPECT_TRUE(absl::IsUnavailable(published.status())) << published.status();
  EXPECT_EQ(relay.PendingCount().value_or(-1), 100);

  relay.Start();  // retrying while Redis is still down
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return relay.PendingCount().value_or(-1) == 0; }, kDeadline));
  relay.Stop();

  std::vector<StreamEntry> entries = Range(kEventStream);
  ASSERT_EQ(entries.size(), 100u);
  std::set<std::string> unique;
  for (size_t i = 0; i < entries.size(); ++i) {
    unique.insert(entries[i].fields["id"]);
    EXPECT_EQ(entries[i].fields["id"], ids[i]);
  }
  EXPECT_EQ(unique.size(), 100u);
}

TEST_F(EventsTest, RowsStayUnsentWhenRedisRefusesTheWrite) {
  OutboxRelay relay(db_.get(), redis_.get(), Relay());
  ASSERT_TRUE(redis_->Command({"SET", kEventStream, "not a stream"}).ok());
  for (int i = 0; i < 3; ++i) Append(MakeEvent("contact.created"));
  auto published = relay.PublishOnce();
  EXPECT_FALSE(published.ok());
  EXPECT_NE(published.status().message().find("WRONGTYPE"), std::string::npos) << published.status();
  EXPECT_EQ(relay.PendingCount().value_or(-1), 3);

  ASSERT_TRUE(redis_->Command({"DEL", kEventStream}).ok());
  EXPECT_EQ(relay.PublishOnce().value_or(-1), 3);
  EXPECT_EQ(relay.PendingCount().value_or(-1), 0);
  EXPECT_EQ(XLen(kEventStream), 3);
}

TEST_F(EventsTest, RepublishedEventsAreProcessedOnceByDurableConsumer) {
  OutboxRelay relay(db_.get(), redis_.get(), Relay());
  for (int i = 0; i < 10; ++i) Append(MakeEvent("contact.created"));
  ASSERT_EQ(relay.PublishOnce().value_or(-1), 10);
  // A crash between XADD and marking the rows sent: they go out again.
  ASSERT_TRUE(
      db_->Write([](db::Connection& conn) { return conn.Prepare("UPDATE outbox SET sent_us = NULL").Run(); }).ok());
  ASSERT_EQ(relay.PublishOnce().value_or(-1), 10);
  ASSERT_EQ(XLen(kEventStream), 20);

  RecordingHandler h;
  EventConsumer consumer(redis_.get(), db_.get(), Consumer(), h.Durable());
  int handled = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto n = consumer.PollOnce();
        EXPECT_TRUE(n.ok()) << n.status();
        handled += n.value_or(0);
        return handled >= 20;
      },
      kDeadline));
  EXPECT_EQ(handled, 20);
  EXPECT_EQ(h.calls.load(), 10);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events"), 10);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects"), 10);
  EXPECT_EQ(CountRows("SELECT COUNT(DISTINCT event_id) FROM effects"), 10);
  EXPECT_EQ(PendingInGroup(), 0);
}

TEST_F(EventsTest, EntriesOfADeadConsumerAreReclaimedAndProcessedOnce) {
  std::set<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    v1::Event e = MakeEvent("contact.created");
    e.set_id(NewId());
    sent.insert(e.id());
    AddToStream(e);
  }
  // Consumer "dead" reads everything and dies before acknowledging.
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", kEventStream, kGroup, "0"}).ok());
  auto read = redis_->Command({"XREADGROUP", "GROUP", kGroup, "dead", "COUNT", "100", "STREAMS", kEventStream, ">"});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->elements[0].elements[1].elements.size(), 5u);
  ASSERT_EQ(PendingInGroup(), 5);

  RecordingHandler h;
  EventConsumer consumer(redis_.get(), db_.get(), Consumer("alive"), h.Durable());
  consumer.Start();  // the group exists already (BUSYGROUP is fine)
  ASSERT_TRUE(WaitFor([&] { return h.calls.load() >= 5 && PendingInGroup() == 0; }, kDeadline));
  consumer.Stop();
  consumer.Stop();  // idempotent

  EXPECT_EQ(h.calls.load(), 5);
  std::lock_guard<std::mutex> lock(h.mu);
  EXPECT_EQ(h.ids, std::multiset<std::string>(sent.begin(), sent.end()));
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects"), 5);
}

TEST_F(EventsTest, RestartedConsumerReprocessesItsOwnPendingEntriesAtOnce) {
  for (int i = 0; i < 3; ++i) {
    v1::Event e = MakeEvent("contact.created");
    e.set_id(NewId());
    AddToStream(e);
  }
  // The previous process of consumer "c1" read the entries and was killed.
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", kEventStream, kGroup, "0"}).ok());
  ASSERT_TRUE(
      redis_->Command({"XREADGROUP", "GROUP", kGroup, "c1", "COUNT", "100", "STREAMS", kEventStream, ">"}).ok());
  ConsumerOptions co = Consumer("c1");
  co.claim_idle = milliseconds(600000);  // a reclaim cannot be what finds them
  RecordingHandler h;
  EventConsumer consumer(redis_.get(), db_.get(), co, h.Durable());
  auto n = consumer.PollOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(h.calls.load(), 3);
  EXPECT_EQ(PendingInGroup(), 0);
}

TEST_F(EventsTest, PoisonEventIsDeadLetteredOnceAfterMaxDeliveries) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    v1::Event e = MakeEvent("contact.created");
    e.set_id(NewId());
    ids.push_back(e.id());
    AddToStream(e);
  }
  const std::string poison = ids[2];
  std::atomic<int> poison_calls{0};
  RecordingHandler h;
  auto record = h.Durable();
  ConsumerOptions co = Consumer();
  co.max_deliveries = 3;
  co.claim_idle = milliseconds(100);
  EventConsumer consumer(redis_.get(), db_.get(), co, [&](db::Connection& conn, const v1::Event& e) -> absl::Status {
    if (e.id() == poison) {
      ++poison_calls;
      // Its effects must be undone with it.
      absl::Status s = record(conn, e);
      if (!s.ok()) return s;
      return absl::InternalError("boom");
    }
    return record(conn, e);
  });
  consumer.Start();
  ASSERT_TRUE(WaitFor([&] { return XLen(kDead) == 1 && PendingInGroup() == 0; }, kDeadline));
  consumer.Stop();

  EXPECT_EQ(poison_calls.load(), 3);
  EXPECT_EQ(XLen(kDead), 1);
  std::vector<StreamEntry> dead = Range(kDead);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].fields["id"], poison);
  EXPECT_EQ(dead[0].fields["type"], "contact.created");
  EXPECT_EQ(dead[0].fields["org"], "org1");
  EXPECT_EQ(dead[0].fields["group"], kGroup);
  EXPECT_NE(dead[0].fields["error"].find("boom"), std::string::npos) << dead[0].fields["error"];
  v1::Event parsed;
  EXPECT_TRUE(parsed.ParseFromString(dead[0].fields["data"]));
  EXPECT_EQ(parsed.id(), poison);

  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects"), 4);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects WHERE event_id = '" + poison + "'"), 0);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events"), 4);
}

TEST_F(EventsTest, MalformedEntriesAreDeadLetteredAtOnce) {
  // Signed under the internal key, so that it is the shape that is refused.
  const EventSigner signer(kInternalKey);
  const std::string garbage("\xff\xff\xff", 3);
  XAdd("*", {"id", "bad1", "type", "x", "org", "o", "data", garbage, "sig", signer.Sign("bad1", "x", "o", garbage)});
  XAdd("*", {"id", "bad2", "type", "x", "sig", signer.Sign("bad2", "x", "", "")});
  v1::Event good = MakeEvent("contact.created");
  good.set_id("good");
  AddToStream(good);

  RecordingHandler h;
  EventConsumer consumer(redis_.get(), db_.get(), Consumer(), h.Durable());
  auto n = consumer.PollOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(h.calls.load(), 1);
  std::vector<StreamEntry> dead = Range(kDead);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].fields["id"], "bad1");
  EXPECT_EQ(dead[1].fields["id"], "bad2");
  EXPECT_EQ(PendingInGroup(), 0);
}

TEST_F(EventsTest, InMemoryConsumerSkipsDuplicates) {
  std::vector<v1::Event> events;
  for (int i = 0; i < 10; ++i) {
    v1::Event e = MakeEvent("contact.created");
    e.set_id(NewId());
    events.push_back(e);
  }
  // Published twice, as after a relay crash, the second copy interleaved.
  for (const auto& e : events) AddToStream(e);
  for (const auto& e : events) AddToStream(e);
  AddToStream(events[0]);

  std::atomic<int> calls{0};
  std::mutex mu;
  std::set<std::string> seen;
  EventConsumer consumer(redis_.get(), Consumer(), [&](const v1::Event& e) -> absl::Status {
    ++calls;
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(e.id());
    return absl::OkStatus();
  });
  int handled = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        handled += consumer.PollOnce().value_or(0);
        return handled >= 21;
      },
      kDeadline));
  EXPECT_EQ(handled, 21);
  EXPECT_EQ(calls.load(), 10);
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(PendingInGroup(), 0);
}

TEST_F(EventsTest, EntryIsAckedOnlyAfterTheHandlersEffectsCommit) {
  v1::Event e = MakeEvent("contact.created");
  e.set_id("only");
  AddToStream(e);

  std::atomic<bool> fail{true};
  RecordingHandler h;
  auto record = h.Durable();
  ConsumerOptions co = Consumer();
  co.claim_idle = milliseconds(100);
  co.max_deliveries = 100;
  EventConsumer consumer(redis_.get(), db_.get(), co, [&](db::Connection& conn, const v1::Event& ev) -> absl::Status {
    absl::Status s = record(conn, ev);  // the row is written...
    if (!s.ok()) return s;
    if (fail) return absl::UnavailableError("downstream failed");  // ...then undone
    return absl::OkStatus();
  });
  auto n = consumer.PollOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(h.calls.load(), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects"), 0);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events"), 0);
  EXPECT_EQ(PendingInGroup(), 1);

  fail = false;
  ASSERT_TRUE(WaitFor(
      [&] {
        consumer.PollOnce().IgnoreError();
        return PendingInGroup() == 0;
      },
      kDeadline));
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects"), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'only'"), 1);
}

// The relay bounds the stream, but a lagging group's pending entries and the
// entries it has not read yet survive every trim. Before TrimStream the relay
// trimmed with XADD MAXLEN ~, which ignores groups: this test lost the
// pending entries (the stream fell to about max_len + one macro node).
TEST_F(EventsTest, TrimKeepsWhatALaggingGroupStillNeeds) {
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", kEventStream, "lag", "0", "MKSTREAM"}).ok());
  RelayOptions ro = Relay();
  ro.max_len = 10;
  ro.trim_interval = milliseconds(0);
  OutboxRelay relay(db_.get(), redis_.get(), ro);
  for (int i = 0; i < 5; ++i) Append(MakeEvent("contact.created"));
  ASSERT_EQ(relay.PublishOnce().value_or(-1), 5);
  // The lagging group reads the first 5 and acknowledges nothing.
  auto read = redis_->Command({"XREADGROUP", "GROUP", "lag", "c", "COUNT", "5", "STREAMS", kEventStream, ">"});
  ASSERT_TRUE(read.ok()) << read.status();
  std::vector<std::string> pending;
  for (const redis::Reply& e : read->elements[0].elements[1].elements) pending.push_back(e.elements[0].str);
  ASSERT_EQ(pending.size(), 5u);

  relay.Start();
  for (int i = 0; i < 500; ++i) Append(MakeEvent("contact.updated"));
  relay.Notify();
  ASSERT_TRUE(WaitFor([&] { return relay.PendingCount().value_or(-1) == 0; }, kDeadline));
  relay.Stop();
  auto trimmed = TrimStream(*redis_, kEventStream, 10, milliseconds(1), absl::ToUnixMillis(absl::Now()) + 60000);
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(*trimmed, 0);
  EXPECT_EQ(XLen(kEventStream), 505);
  EXPECT_EQ(Range(kEventStream).front().entry_id, pending.front());

  // Once the group acknowledged the first 3, exactly those go; once it read
  // and acknowledged everything, the length bound (and then the age) rules.
  ASSERT_TRUE(redis_->Command({"XACK", kEventStream, "lag", pending[0], pending[1], pending[2]}).ok());
  trimmed = TrimStream(*redis_, kEventStream, 10, std::chrono::hours(1), absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(*trimmed, 3);
  EXPECT_EQ(Range(kEventStream).front().entry_id, pending[3]);
  ASSERT_TRUE(redis_->Command({"XGROUP", "SETID", kEventStream, "lag", "$"}).ok());
  ASSERT_TRUE(redis_->Command({"XACK", kEventStream, "lag", pending[3], pending[4]}).ok());
  trimmed = TrimStream(*redis_, kEventStream, 10, std::chrono::hours(1), absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(XLen(kEventStream), 10);
  trimmed = TrimStream(*redis_, kEventStream, 10, milliseconds(1), absl::ToUnixMillis(absl::Now()) + 60000);
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  // The group's last-delivered entry (the newest) is kept.
  EXPECT_EQ(XLen(kEventStream), 1);
}

TEST_F(EventsTest, RelayPrunesSentRowsPastRetention) {
  OutboxRelay relay(db_.get(), redis_.get(), Relay());
  const std::string old_id = Append(MakeEvent("contact.created"));
  const std::string recent_id = Append(MakeEvent("contact.updated"));
  ASSERT_EQ(relay.PublishOnce().value_or(-1), 2);
  ASSERT_TRUE(db_->Write([&](db::Connection& conn) {
                   // Sent long before the 24 h retention.
                   return conn.Prepare("UPDATE outbox SET sent_us = 1 WHERE event_id = ?").Bind(1, old_id).Run();
                 })
                  .ok());
  const std::string unsent_id = Append(MakeEvent("contact.deleted"));

  relay.Start();
  ASSERT_TRUE(WaitFor([&] { return CountRows("SELECT COUNT(*) FROM outbox") == 2; }, kDeadline));
  ASSERT_TRUE(WaitFor([&] { return relay.PendingCount().value_or(-1) == 0; }, kDeadline));
  relay.Stop();
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM outbox WHERE event_id = '" + old_id + "'"), 0);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM outbox WHERE event_id = '" + recent_id + "'"), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM outbox WHERE event_id = '" + unsent_id + "'"), 1);
}

// processed_events rows go once past the retention and older than the
// stream's oldest entry: an event whose entry is still in the stream may be
// delivered again (to a group created afresh at "0"), so its row stays.
TEST_F(EventsTest, ConsumerPrunesProcessedEventsWhoseEntriesAreGone) {
  const int64_t now_us = ToMicros(absl::Now());
  const int64_t day_us = int64_t{24} * 3600 * 1000000;
  // The stream's oldest entry was added 20 days ago.
  v1::Event old_event = MakeEvent("contact.created");
  old_event.set_id("e-old");
  ASSERT_FALSE(
      AddToStream(old_event, EventSigner(kInternalKey), absl::StrCat((now_us - 20 * day_us) / 1000, "-0")).empty());
  ASSERT_TRUE(db_->Write([&](db::Connection& conn) -> absl::Status {
                   for (const auto& [id, days] : std::vector<std::pair<std::string, int>>{
                            {"processed-25-days-ago", 25}, {"processed-10-days-ago", 10}, {"processed-1-day-ago", 1}}) {
                     RETURN_IF_ERROR(conn.Prepare("INSERT INTO processed_events (org_id, event_id, processed_us) "
                                                  "VALUES ('org1', ?, ?)")
                                         .Bind(1, id)
                                         .Bind(2, now_us - days * day_us)
                                         .Run());
                   }
                   return absl::OkStatus();
                 })
                  .ok());
  RecordingHandler h;
  {
    EventConsumer consumer(redis_.get(), db_.get(), Consumer("c1"), h.Durable());
    ASSERT_EQ(consumer.PollOnce().value_or(-1), 1);
  }
  // Older than 7 days and than the oldest entry: gone. 10 days old, but after
  // the oldest entry: kept.
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'processed-25-days-ago'"), 0);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'processed-10-days-ago'"), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'processed-1-day-ago'"), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'e-old'"), 1);

  // The stream trimmed to its newest entry: only the 7 days bound is left.
  v1::Event fresh = MakeEvent("contact.updated");
  fresh.set_id("e-new");
  AddToStream(fresh);
  ASSERT_TRUE(redis_->Command({"XTRIM", kEventStream, "MAXLEN", "1"}).ok());
  {
    EventConsumer consumer(redis_.get(), db_.get(), Consumer("c2"), h.Durable());
    ASSERT_EQ(consumer.PollOnce().value_or(-1), 1);
  }
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'processed-10-days-ago'"), 0);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'processed-1-day-ago'"), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events WHERE event_id = 'e-new'"), 1);
}

TEST_F(EventsTest, ConsumerRecreatesItsGroupAfterRedisLostItsData) {
  std::atomic<int> calls{0};
  EventConsumer consumer(redis_.get(), Consumer(), [&](const v1::Event&) -> absl::Status {
    ++calls;
    return absl::OkStatus();
  });
  consumer.Start();
  for (int i = 0; i < 3; ++i) {
    v1::Event e = MakeEvent("contact.created");
    e.set_id(NewId());
    AddToStream(e);
  }
  ASSERT_TRUE(WaitFor([&] { return calls.load() == 3; }, kDeadline));

  server_->Kill9();  // no persistence: the stream and the group are gone
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return redis_->Command({"PING"}).ok(); }, kDeadline));
  for (int i = 0; i < 2; ++i) {
    v1::Event e = MakeEvent("contact.created");
    e.set_id(NewId());
    AddToStream(e);
  }
  ASSERT_TRUE(WaitFor([&] { return calls.load() == 5; }, kDeadline));
  consumer.Stop();
  EXPECT_EQ(PendingInGroup(), 0);
}

TEST_F(EventsTest, OutboxToConsumerEndToEnd) {
  OutboxRelay relay(db_.get(), redis_.get(), Relay());
  RecordingHandler h;
  EventConsumer consumer(redis_.get(), db_.get(), Consumer(), h.Durable());
  relay.Start();
  consumer.Start();
  for (int i = 0; i < 50; ++i) Append(MakeEvent("contact.created"));
  relay.Notify();
  ASSERT_TRUE(WaitFor([&] { return h.calls.load() >= 50 && PendingInGroup() == 0; }, kDeadline));
  consumer.Stop();
  relay.Stop();
  EXPECT_EQ(h.calls.load(), 50);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events"), 50);
}

TEST_F(EventsTest, RelaySignsEveryEntryUnderTheInternalKey) {
  OutboxRelay relay(db_.get(), redis_.get(), Relay());
  for (int i = 0; i < 3; ++i) Append(MakeEvent("contact.created"));
  ASSERT_EQ(relay.PublishOnce().value_or(-1), 3);
  const EventSigner ours(kInternalKey);
  const EventSigner theirs("another-key");
  for (StreamEntry& e : Range(kEventStream)) {
    ASSERT_EQ(e.fields.count("sig"), 1u);
    EXPECT_TRUE(ours.Verify(e.fields["id"], e.fields["type"], e.fields["org"], e.fields["data"], e.fields["sig"]));
    EXPECT_FALSE(theirs.Verify(e.fields["id"], e.fields["type"], e.fields["org"], e.fields["data"], e.fields["sig"]));
  }
}

TEST_F(EventsTest, EventSignatureCoversEveryFieldAndIsNotTheInternalKeysOwnMac) {
  const EventSigner signer(kInternalKey);
  const std::string sig = signer.Sign("e1", "contact.created", "org1", "data");
  EXPECT_TRUE(signer.Verify("e1", "contact.created", "org1", "data", sig));
  EXPECT_FALSE(signer.Verify("e2", "contact.created", "org1", "data", sig));
  EXPECT_FALSE(signer.Verify("e1", "contact.deleted", "org1", "data", sig));
  EXPECT_FALSE(signer.Verify("e1", "contact.created", "org2", "data", sig));
  EXPECT_FALSE(signer.Verify("e1", "contact.created", "org1", "datb", sig));
  // Moving bytes between fields changes the message (lengths are signed).
  EXPECT_FALSE(signer.Verify("e1c", "ontact.created", "org1", "data", sig));
  EXPECT_FALSE(signer.Verify("e1", "contact.created", "org1", "data", ""));
  // A key derived for events: an HMAC made directly under the internal key
  // (as tenant metadata is) over the same bytes is no event signature.
  EXPECT_NE(sig, HexEncode(HmacSha256(kInternalKey, "rapport-event-v1;2:e1;15:contact.created;4:org1;4:data;")));
}

// An entry written straight into the stream by whoever can reach Redis, with
// no signature, another key's, or a real signature over other fields: each
// is dead-lettered at once and nothing of it is applied.
TEST_F(EventsTest, ForgedEntriesAreDeadLetteredAndNothingOfThemIsApplied) {
  v1::Event unsigned_event = MakeEvent("contact.deleted");
  unsigned_event.set_id("forged-unsigned");
  XAdd("*", {"id", unsigned_event.id(), "type", unsigned_event.type(), "org", unsigned_event.org_id(), "data",
             unsigned_event.SerializeAsString()});
  v1::Event other_key = MakeEvent("contact.deleted");
  other_key.set_id("forged-other-key");
  AddToStream(other_key, EventSigner("guessed-key"));
  // A genuine entry's signature on another org's event.
  v1::Event genuine = MakeEvent("contact.created");
  genuine.set_id("genuine");
  std::vector<std::string> fields = EntryFields(EventSigner(kInternalKey), genuine);
  v1::Event swapped = genuine;
  swapped.set_id("forged-swapped");
  swapped.set_org_id("org2");
  fields[1] = swapped.id();
  fields[5] = swapped.org_id();
  fields[7] = swapped.SerializeAsString();
  XAdd("*", fields);
  AddToStream(genuine);

  RecordingHandler h;
  EventConsumer consumer(redis_.get(), db_.get(), Consumer(), h.Durable());
  auto n = consumer.PollOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 4);
  EXPECT_EQ(h.calls.load(), 1);
  EXPECT_EQ(h.ids, std::multiset<std::string>{"genuine"});
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects"), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM processed_events"), 1);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM effects WHERE event_id = 'genuine'"), 1);
  std::vector<StreamEntry> dead = Range(kDead);
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[0].fields["id"], "forged-unsigned");
  EXPECT_EQ(dead[0].fields["error"], "entry is not signed");
  EXPECT_EQ(dead[1].fields["id"], "forged-other-key");
  EXPECT_NE(dead[1].fields["error"].find("bad signature"), std::string::npos);
  EXPECT_EQ(dead[2].fields["id"], "forged-swapped");
  EXPECT_NE(dead[2].fields["error"].find("bad signature"), std::string::npos);
  EXPECT_EQ(PendingInGroup(), 0);  // acknowledged: never delivered again

  // The same in memory (a read model's consumer).
  std::atomic<int> calls{0};
  ConsumerOptions co = Consumer();
  co.group = "memory";
  EventConsumer memory(redis_.get(), co, [&](const v1::Event& e) {
    EXPECT_EQ(e.id(), "genuine");
    ++calls;
    return absl::OkStatus();
  });
  auto m = memory.PollOnce();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(XLen(kDead), 6);
}

TEST_F(EventsTest, WithoutTheInternalKeyNothingIsPublishedOrConsumed) {
  RelayOptions ro = Relay();
  ro.internal_key.clear();
  OutboxRelay relay(db_.get(), redis_.get(), ro);
  Append(MakeEvent("contact.created"));
  EXPECT_EQ(relay.PublishOnce().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(relay.PendingCount().value_or(-1), 1);  // waits in the outbox
  EXPECT_EQ(XLen(kEventStream), 0);

  ConsumerOptions co = Consumer();
  co.internal_key.clear();
  RecordingHandler h;
  EventConsumer consumer(redis_.get(), db_.get(), co, h.Durable());
  EXPECT_EQ(consumer.PollOnce().status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rapport::events
