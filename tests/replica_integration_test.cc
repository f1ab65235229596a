// Rapport beyond one machine, with real processes: PostgreSQL, Redis, two
// replicas of every service and two gateways. 2 000 mixed writes go through
// both gateways while one replica of each service is killed with kill -9 and
// restarted; a write that fails is retried with its Idempotency-Key through
// the other gateway, as a client would. Afterwards every acknowledged write
// is there (and nothing else), no event is lost or doubled in any consumer,
// a replay of the same key through the other gateway answers the first
// answer, 300 reminders due during the kill have fired exactly once, and
// both recommendations replicas (and one rebuilt from scratch) give the same
// reach-outs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/notifications/v1/notifications.grpc.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "rapport/recommendations/v1/recommendations.grpc.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/http_client.h"
#include "services/common/ids.h"
#include "services/common/service_registry.h"
#include "services/common/time_util.h"
#include "tests/testing/event_stream.h"
#include "tests/testing/harness.h"
#include "tests/testing/postgres.h"
#include "tests/testing/stack.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
namespace npb = ::rapport::notifications::v1;
namespace rpb = ::rapport::recommendations::v1;
using ::rapport::testing::PostgresServer;
using ::rapport::testing::Stack;
using ::rapport::testing::StackOptions;
using ::rapport::testing::WaitFor;

constexpr char kJson[] = "Content-Type: application/json";
constexpr int kWrites = 2000;
constexpr int kWriters = 8;
constexpr int kReminders = 300;
const char* const kGateways[] = {"gateway", "gateway-2"};

template <typename T>
T Parse(const std::string& body) {
  T out;
  auto status = google::protobuf::util::JsonStringToMessage(body, &out);
  EXPECT_TRUE(status.ok()) << body;
  return out;
}

// One acknowledged write: what was sent, through which gateway, and the answer.
struct Acked {
  std::string method, path, body, key;
  int gateway = 0;
  std::string answer;
  bool retried = false;  // its first attempt failed
};

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PostgresServer::Available()) GTEST_SKIP() << "PostgreSQL 15 is not installed (tools/deps installs it)";
    ASSERT_TRUE(pg_.Start().ok());
    stack_ = std::make_unique<Stack>(StackOptions{2, pg_.url()});
    ASSERT_TRUE(stack_->redis().Start().ok());
    for (const registry::ProcessInfo& service : registry::GrpcServices()) {
      for (const std::string& replica : stack_->Replicas(service.name)) StartService(replica);
    }
    for (const char* gateway : kGateways) {
      absl::Status s = stack_->StartGateway(
          {{"RAPPORT_RATE_LIMIT_PER_MINUTE", "10000000"}, {"RAPPORT_RATE_LIMIT_BURST", "1000000"}}, gateway);
      ASSERT_TRUE(s.ok()) << s;
    }
    HttpResponse org = Call(0, "POST", "/v1/orgs", {absl::StrCat("X-Api-Key: ", testing::kTestAdminKey), kJson},
                            R"({"displayName":"Replicated"})");
    ASSERT_EQ(org.status, 200) << org.body;
    auto created = Parse<ppb::CreateOrgResponse>(org.body);
    org_ = created.org().id();
    admin_ = created.admin_key().secret();
    alice_ = NewUser("alice@replicated.example");
    bob_ = NewUser("bob@replicated.example");
  }

  void StartService(const std::string& replica) {
    // Short leases, so that the dead replica's claimed timers come back soon;
    // no result cache, so that each recommendations replica answers from its
    // own read model.
    absl::Status s = stack_->Start(replica, {{"RAPPORT_TIMER_LEASE_MS", "4000"},
                                             {"RAPPORT_RECOMMENDATIONS_CACHE", "0"},
                                             {"RAPPORT_LIVE_TICK_MS", "60000"}});
    ASSERT_TRUE(s.ok()) << s;
  }

  HttpResponse Call(int gateway, const std::string& method, const std::string& path,
                    const std::vector<std::string>& headers, const std::string& body = "") {
    HttpOptions options;
    options.timeout_ms = 8000;
    return HttpCall(method, stack_->GatewayUrl(kGateways[gateway % 2]) + path, headers, body, options);
  }

  std::string NewUser(const std::string& email) {
    HttpResponse r = Call(1, "POST", "/v1/users", {"X-Api-Key: " + admin_, kJson},
                          absl::StrCat(R"({"displayName":"U","email":")", email, R"(","timezone":"Europe/Paris"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse<ppb::User>(r.body).id();
  }

  std::vector<std::string> As(const std::string& user, bool json = false) {
    std::vector<std::string> h = {"X-Api-Key: " + admin_, "X-Rapport-User: " + user};
    if (json) h.push_back(kJson);
    return h;
  }

  // Sends a write through gateway, and on any failure that a client would
  // retry (no answer, 5xx, 409 in progress, 429) retries it with the same key
  // through the other gateway until it is acknowledged.
  Acked Write(const std::string& user, int gateway, std::string method, std::string path, std::string body) {
    Acked a;
    a.method = std::move(method);
    a.path = std::move(path);
    a.body = std::move(body);
    a.key = NewId();
    a.gateway = gateway;
    std::vector<std::string> headers = As(user, true);
    headers.push_back("Idempotency-Key: " + a.key);
    HttpResponse last;
    int attempt = 0;
    const bool done = WaitFor(
        [&] {
          const int through = (gateway + attempt) % 2;
          last = Call(through, a.method, a.path, headers, a.body);
          if (last.status >= 200 && last.status < 300) {
            a.gateway = through;
            return true;
          }
          a.retried = true;
          ++attempt;
          const bool retryable = last.status == 0 || last.status >= 500 || last.status == 409 || last.status == 429;
          EXPECT_TRUE(retryable) << a.method << " " << a.path << " → " << last.status << " " << last.body;
          return !retryable;
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(done) << a.method << " " << a.path << " never acknowledged; last " << last.status << " " << last.body
                      << last.error;
    a.answer = last.body;
    return a;
  }

  // Every item of a paged GET list, by the id field of each element of field.
  template <typename Response, typename Items>
  std::vector<std::string> ListIds(const std::string& user, const std::string& path, Items items) {
    std::vector<std::string> ids;
    std::string token;
    do {
      HttpResponse r =
          Call(0, "GET",
               absl::StrCat(path, path.find('?') == std::string::npos ? "?" : "&", "pageSize=500&pageToken=", token),
               As(user));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      auto page = Parse<Response>(r.body);
      for (const auto& item : items(page)) ids.push_back(item.id());
      token = page.next_page_token();
    } while (!token.empty());
    return ids;
  }

  // Rows of a table of schema with this test's org.
  int64_t CountRows(const std::string& schema, const std::string& table, const std::string& where = "") {
    db::Options options;
    options.url = pg_.url();
    options.schema = schema;
    options.pool_size = 1;
    options.read_only = true;
    auto database = db::Open(options);
    EXPECT_TRUE(database.ok()) << database.status();
    if (!database.ok()) return -1;
    int64_t n = -1;
    absl::Status s = (*database)->Read([&](db::Connection& conn) -> absl::Status {
      db::Statement count = conn.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE org_id = ?", where));
      count.Bind(1, org_);
      auto row = db::ReadRow<int64_t>(count, [](const db::Statement& r) { return r.ColumnInt(0); });
      if (!row.ok()) return row.status();
      n = row->value_or(-1);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }

  // What a recommendations replica answers for alice, from its own read
  // model: network health, then give-backs and reach-outs sorted by contact
  // (weighted figures rounded and rankings left out: scores decay with the
  // clock, so two calls a moment apart may order near-ties differently).
  std::string Recommendations(const std::string& replica) {
    auto stub = rpb::RecommendationsService::NewStub(
        grpc::CreateChannel(stack_->Addr(replica), grpc::InsecureChannelCredentials()));
    auto round = [](double v) { return absl::StrFormat("%.2f", v); };
    rpb::NetworkHealth health;
    grpc::Status s = stub->GetNetworkHealth(Stack::Call(Stack::User(org_, alice_)).get(), {}, &health);
    if (!s.ok()) return "error: " + s.error_message();
    std::string out =
        absl::StrCat("size ", health.size(), " active ", health.active_ties(), " never ", health.never_contacted(),
                     " given ", round(health.given()), " received ", round(health.received()), " first conversations ",
                     health.first_conversations(), " follow-up rate ", round(health.follow_up_rate()), "\n");
    rpb::ListGiveBacksRequest give_backs_request;
    give_backs_request.set_page_size(500);
    rpb::ListGiveBacksResponse give_backs;
    s = stub->ListGiveBacks(Stack::Call(Stack::User(org_, alice_)).get(), give_backs_request, &give_backs);
    if (!s.ok()) return "error: " + s.error_message();
    std::vector<std::string> items;
    for (const auto& item : give_backs.items()) {
      items.push_back(absl::StrCat("give back ", item.contact().id(), " ", round(item.balance()), "\n"));
    }
    rpb::ListReachOutsResponse reach_outs;
    s = stub->ListReachOuts(Stack::Call(Stack::User(org_, alice_)).get(), {}, &reach_outs);
    if (!s.ok()) return "error: " + s.error_message();
    for (const auto& item : reach_outs.items()) items.push_back(absl::StrCat("reach out ", item.contact().id(), "\n"));
    std::sort(items.begin(), items.end());
    return out + absl::StrJoin(items, "");
  }

  PostgresServer pg_;
  std::unique_ptr<Stack> stack_;
  std::string org_, admin_, alice_, bob_;
};

TEST_F(ReplicaTest, KillNineOfOneReplicaOfEachServiceLosesAndDoublesNothing) {
  const std::vector<std::string> killed = {"profiles", "interactions", "recommendations", "notifications"};

  // 300 reminders of bob's, due around the moment of the kill.
  const absl::Time kill_at = absl::Now() + absl::Seconds(12);
  {
    std::vector<std::thread> creators;
    for (int w = 0; w < kWriters; ++w) {
      creators.emplace_back([&, w] {
        for (int i = w; i < kReminders; i += kWriters) {
          const absl::Time due = kill_at - absl::Seconds(1) + absl::Milliseconds(i * 4000 / kReminders);
          Write(bob_, i, "POST", "/v1/reminders",
                absl::StrCat(R"({"dueTime":")", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", due, absl::UTCTimeZone()),
                             R"(","note":"reminder )", i, R"("})"));
        }
      });
    }
    for (auto& t : creators) t.join();
  }
  ASSERT_LT(absl::Now(), kill_at - absl::Seconds(2)) << "the reminders took too long to create";

  // The writers: contacts first, then a mix of new contacts, interactions
  // with them and contact updates, paced to start at most kPace apart (about
  // 20 s in all) so that writes are in flight across the kill and the
  // restart; past 90 % they wait for the restart.
  constexpr auto kPace = std::chrono::milliseconds(10);
  std::atomic<int> next{0};
  std::atomic<bool> restart_done{false};
  std::mutex mu;
  std::vector<Acked> contacts, interactions, updates;
  std::vector<std::string> contact_ids;
  std::map<std::string, int> interactions_per_contact;
  const auto started = std::chrono::steady_clock::now();
  auto writer = [&](int w) {
    std::mt19937 rng(w);
    for (int n = next++; n < kWrites; n = next++) {
      WaitFor([&] { return std::chrono::steady_clock::now() >= started + n * kPace; }, std::chrono::seconds(60));
      if (n >= kWrites * 9 / 10) WaitFor([&] { return restart_done.load(); }, std::chrono::seconds(60));
      std::string contact;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!contact_ids.empty()) contact = contact_ids[rng() % contact_ids.size()];
      }
      const int pick = n < 100 || contact.empty() ? 0 : static_cast<int>(rng() % 10);
      if (pick < 4) {
        Acked a =
            Write(alice_, n, "POST", "/v1/contacts",
                  absl::StrCat(R"({"displayName":"Contact )", n, R"(","tier":"INNER","company":"Co )", n % 7, R"("})"));
        const std::string id = Parse<ppb::Contact>(a.answer).id();
        std::lock_guard<std::mutex> lock(mu);
        contact_ids.push_back(id);
        contacts.push_back(std::move(a));
      } else if (pick < 9) {
        static const char* const kKinds[] = {"MEETING", "CALL", "EMAIL", "FAVOR", "CONVERSATION"};
        static const char* const kDirections[] = {"GAVE", "RECEIVED", "MUTUAL"};
        Acked a = Write(alice_, n, "POST", "/v1/interactions",
                        absl::StrCat(R"({"kind":")", kKinds[rng() % 5], R"(","direction":")", kDirections[rng() % 3],
                                     R"(","contactIds":[")", contact, R"("],"summary":"write )", n, R"("})"));
        std::lock_guard<std::mutex> lock(mu);
        ++interactions_per_contact[contact];
        interactions.push_back(std::move(a));
      } else {
        Acked a = Write(alice_, n, "PATCH", "/v1/contacts/" + contact, absl::StrCat(R"({"title":"Title )", n, R"("})"));
        std::lock_guard<std::mutex> lock(mu);
        updates.push_back(std::move(a));
      }
    }
  };
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) writers.emplace_back(writer, w);

  ASSERT_TRUE(WaitFor([&] { return absl::Now() >= kill_at; }, std::chrono::seconds(30)));
  const int started_at_kill = next.load();
  for (const std::string& service : killed) stack_->Kill9(service);
  // Down while the reminders fall due and the writers go on through the
  // surviving replicas.
  ASSERT_TRUE(WaitFor([&] { return absl::Now() >= kill_at + absl::Seconds(4); }, std::chrono::seconds(30)));
  for (const std::string& service : killed) StartService(service);
  restart_done = true;
  const int started_at_restart = next.load();
  for (auto& t : writers) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int retried = 0;
  for (const auto* group : {&contacts, &interactions, &updates}) {
    for (const Acked& a : *group) retried += a.retried ? 1 : 0;
  }
  std::cout << kWrites << " writes in " << seconds << " s through two gateways (" << contacts.size() << " contacts, "
            << interactions.size() << " interactions, " << updates.size() << " updates; " << retried
            << " retried through the other gateway); killed at write " << started_at_kill << ", restarted at write "
            << started_at_restart << "\n";
  ASSERT_EQ(contacts.size() + interactions.size() + updates.size(), static_cast<size_t>(kWrites));

  // Every acknowledged write is there, and nothing else.
  std::set<std::string> want_contacts(contact_ids.begin(), contact_ids.end());
  std::vector<std::string> listed =
      ListIds<ppb::ListContactsResponse>(alice_, "/v1/contacts", [](const auto& p) { return p.contacts(); });
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), want_contacts);
  EXPECT_EQ(listed.size(), want_contacts.size());
  std::set<std::string> want_interactions;
  for (const Acked& a : interactions) want_interactions.insert(Parse<ipb::Interaction>(a.answer).id());
  std::vector<std::string> logged = ListIds<ipb::ListInteractionsResponse>(
      alice_, "/v1/interactions", [](const auto& p) { return p.interactions(); });
  EXPECT_EQ(std::set<std::string>(logged.begin(), logged.end()), want_interactions);
  EXPECT_EQ(logged.size(), interactions.size());
  for (const Acked& a : updates) {
    const std::string id = a.path.substr(a.path.rfind('/') + 1);
    HttpResponse got = Call(1, "GET", a.path, As(alice_));
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_NE(Parse<ppb::Contact>(got.body).title(), "") << id;
  }
  // The ledger counts each interaction once.
  int checked = 0;
  for (const auto& [contact, count] : interactions_per_contact) {
    if (++checked > 100) break;
    HttpResponse ledger = Call(checked, "GET", "/v1/contacts/" + contact + "/ledger", As(alice_));
    ASSERT_EQ(ledger.status, 200) << ledger.body;
    EXPECT_EQ(Parse<ipb::LedgerEntry>(ledger.body).interaction_count(), count) << contact;
  }

  // A retry of the same key through the other gateway replays the first answer.
  int replayed = 0;
  for (const auto* group : {&contacts, &interactions}) {
    for (size_t i = 0; i < group->size(); ++i) {
      const Acked& a = (*group)[i];
      if (!a.retried && i % 8 != 0) continue;  // every retried write, and a sample of the others
      std::vector<std::string> headers = As(alice_, true);
      headers.push_back("Idempotency-Key: " + a.key);
      HttpResponse again = Call(a.gateway + 1, a.method, a.path, headers, a.body);
      EXPECT_EQ(again.status, 200) << again.body;
      EXPECT_EQ(again.body, a.answer);
      ++replayed;
    }
  }
  std::cout << replayed << " replays through the other gateway\n";

  // Events: each acknowledged create is one event, and every consumer has
  // processed each of the org's events exactly once.
  std::set<std::string> org_events;
  std::map<std::string, std::set<std::string>> by_type;
  for (const testing::StreamEntry& e : testing::ReadEventStream(stack_->redis().addr())) {
    if (e.event.org_id() != org_) continue;
    org_events.insert(e.event.id());
    by_type[e.event.type()].insert(e.event.id());
  }
  EXPECT_EQ(by_type["contact.created"].size(), contacts.size());
  EXPECT_EQ(by_type["interaction.created"].size(), interactions.size());
  for (const char* consumer : {"interactions", "notifications"}) {
    int64_t processed = 0;
    EXPECT_TRUE(WaitFor(
        [&] {
          processed = CountRows(consumer, "processed_events");
          return processed >= static_cast<int64_t>(org_events.size());
        },
        std::chrono::seconds(60)));
    EXPECT_EQ(processed, static_cast<int64_t>(org_events.size())) << consumer;
  }
  // Their effects, once each: interactions' ledger row per contact, and
  // notifications' projection of contacts and interactions.
  EXPECT_EQ(CountRows("interactions", "ledger", " AND user_id = '" + alice_ + "'"),
            static_cast<int64_t>(contacts.size()));
  EXPECT_EQ(CountRows("notifications", "contacts"), static_cast<int64_t>(contacts.size()));
  EXPECT_EQ(CountRows("notifications", "contact_interactions"), static_cast<int64_t>(interactions.size()));

  // The reminders due during the kill fired exactly once.
  std::vector<npb::Notification> fired;
  EXPECT_TRUE(WaitFor(
      [&] {
        if (CountRows("notifications", "timers", " AND kind = 1") != 0) return false;
        fired.clear();
        std::string token;
        do {
          HttpResponse r = Call(0, "GET", "/v1/notifications?state=ALL&pageSize=500&pageToken=" + token, As(bob_));
          if (r.status != 200) return false;
          auto page = Parse<npb::ListNotificationsResponse>(r.body);
          for (const auto& n : page.notifications()) {
            if (n.kind() == "reminder") fired.push_back(n);
          }
          token = page.next_page_token();
        } while (!token.empty());
        return fired.size() >= static_cast<size_t>(kReminders);
      },
      std::chrono::seconds(60)));
  std::set<std::string> reminder_ids;
  for (const auto& n : fired) reminder_ids.insert(n.reminder_id());
  EXPECT_EQ(fired.size(), static_cast<size_t>(kReminders));
  EXPECT_EQ(reminder_ids.size(), static_cast<size_t>(kReminders));

  // Both recommendations replicas answer the same, and so does one that
  // rebuilt its read model from scratch (a doubled event would show).
  const std::string size_line = absl::StrCat("size ", contacts.size(), " ");
  std::string first, second;
  EXPECT_TRUE(WaitFor(
      [&] {
        first = Recommendations("recommendations");
        second = Recommendations("recommendations-2");
        return absl::StartsWith(first, size_line) && first == second;
      },
      std::chrono::seconds(60)))
      << first.substr(0, 2000) << "\n---\n"
      << second.substr(0, 2000);
  std::cout << "recommendations: " << first.substr(0, first.find('\n')) << ", "
            << std::count(first.begin(), first.end(), '\n') - 1 << " give-backs and reach-outs\n";
  stack_->Stop("recommendations-2");
  StartService("recommendations-2");
  std::string rebuilt;
  EXPECT_TRUE(WaitFor(
      [&] {
        rebuilt = Recommendations("recommendations-2");
        return rebuilt == first;
      },
      std::chrono::seconds(60)))
      << first.substr(0, 2000) << "\n---\n"
      << rebuilt.substr(0, 2000);
}

// Live streams are served by whichever replica the client reached; a
// reminder fires on whichever replica claimed it. With the streams' own
// re-read tick at 60 s here, only the cross-replica wake (Redis pub/sub)
// brings the notification to both streams within seconds.
TEST_F(ReplicaTest, LiveStreamsOnEveryReplicaWakeWhenAnyReplicaFiresAReminder) {
  struct Listener {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReader<npb::NotificationEvent>> reader;
    std::thread thread;
    std::atomic<bool> got{false};
  };
  std::vector<std::unique_ptr<npb::NotificationsService::Stub>> stubs;
  std::vector<std::unique_ptr<Listener>> listeners;
  for (const std::string& replica : stack_->Replicas("notifications")) {
    stubs.push_back(npb::NotificationsService::NewStub(
        grpc::CreateChannel(stack_->Addr(replica), grpc::InsecureChannelCredentials())));
    auto l = std::make_unique<Listener>();
    l->context = Stack::Call(Stack::User(org_, bob_));
    l->context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    l->reader = stubs.back()->Subscribe(l->context.get(), npb::SubscribeRequest());
    l->reader->WaitForInitialMetadata();  // the replica has registered the stream
    listeners.push_back(std::move(l));
  }
  for (auto& l : listeners) {
    l->thread = std::thread([l = l.get()] {
      npb::NotificationEvent event;
      while (l->reader->Read(&event)) {
        if (event.notification().kind() == "reminder") {
          l->got = true;
          return;
        }
      }
    });
  }
  const absl::Time due = absl::Now() + absl::Milliseconds(1500);
  const auto sent = std::chrono::steady_clock::now();
  Write(bob_, 0, "POST", "/v1/reminders",
        absl::StrCat(R"({"dueTime":")", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", due, absl::UTCTimeZone()),
                     R"(","note":"live"})"));
  EXPECT_TRUE(WaitFor(
      [&] {
        for (auto& l : listeners) {
          if (!l->got) return false;
        }
        return true;
      },
      std::chrono::seconds(15)))
      << "a stream waited for its 60 s tick";
  std::cout << "both replicas' streams had the reminder "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent).count()
            << " ms after it was created (due after 1500 ms)\n";
  for (auto& l : listeners) {
    l->context->TryCancel();
    l->thread.join();
  }
}

}  // namespace
}  // namespace rapport
