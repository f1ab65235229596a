#include "services/common/redis_client.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/common/config.h"
#include "tests/testing/harness.h"

namespace rapport::redis {
namespace {

using ::rapport::testing::Process;
using ::rapport::testing::RedisServer;
using ::rapport::testing::WaitFor;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{10000};

// Blocks callers of Wait() until Open().
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(server_->Start().ok());
    admin_ = std::make_unique<Client>(Options());
  }

  ClientOptions Options() const {
    ClientOptions o;
    o.addr = server_->addr();
    o.connect_timeout = milliseconds(200);
    o.command_timeout = milliseconds(1000);
    o.retry_interval = milliseconds(100);
    o.pool_size = 4;
    return o;
  }

  // Runs a command on the admin connection, failing the test on any error.
  Reply Admin(const std::vector<std::string>& args) {
    absl::StatusOr<Reply> r = admin_->Command(args);
    EXPECT_TRUE(r.ok()) << args[0] << ": " << r.status();
    return r.ok() ? *r : Reply{};
  }

  bool Exists(const std::string& key) { return Admin({"EXISTS", key}).integer == 1; }

  // Number of times Redis executed `command` since the last CONFIG RESETSTAT.
  long long CommandCalls(const std::string& command) {
    Reply info = Admin({"INFO", "commandstats"});
    const std::string needle = "cmdstat_" + command + ":calls=";
    size_t at = info.str.find(needle);
    if (at == std::string::npos) return 0;
    at += needle.size();
    long long calls = 0;
    EXPECT_TRUE(absl::SimpleAtoi(info.str.substr(at, info.str.find(',', at) - at), &calls));
    return calls;
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<Client> admin_;
};

// ---- Client ----

TEST_F(RedisTest, CommandRoundTrips) {
  Client client(Options());

  absl::StatusOr<Reply> set = client.Command({"SET", "k", "v1"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");

  absl::StatusOr<Reply> get = client.Command({"GET", "k"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->type, Reply::Type::kString);
  EXPECT_EQ(get->str, "v1");

  absl::StatusOr<Reply> missing = client.Command({"GET", "nope"});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->type, Reply::Type::kNil);

  for (long long want = 1; want <= 3; ++want) {
    absl::StatusOr<Reply> incr = client.Command({"INCR", "counter"});
    ASSERT_TRUE(incr.ok()) << incr.status();
    EXPECT_EQ(incr->type, Reply::Type::kInteger);
    EXPECT_EQ(incr->integer, want);
  }

  ASSERT_TRUE(client.Command({"RPUSH", "list", "a", "b", "c"}).ok());
  absl::StatusOr<Reply> range = client.Command({"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->type, Reply::Type::kArray);
  ASSERT_EQ(range->elements.size(), 3u);
  EXPECT_EQ(range->elements[0].str, "a");
  EXPECT_EQ(range->elements[1].str, "b");
  EXPECT_EQ(range->elements[2].str, "c");
}

TEST_F(RedisTest, BinaryKeysAndValuesRoundTrip) {
  Client client(Options());
  const std::string key("bin\0key", 7);
  const std::string value("\0a\r\n\0\xff\x00z", 8);
  ASSERT_TRUE(client.Command({"SET", key, value}).ok());
  absl::StatusOr<Reply> get = client.Command({"GET", key});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->str, value);
  EXPECT_EQ(get->str.size(), 8u);
  // The key with its zero byte is distinct from its prefix.
  EXPECT_EQ(client.Command({"EXISTS", "bin"})->integer, 0);
}

TEST_F(RedisTest, ErrorReplyIsFailedPrecondition) {
  Client client(Options());
  ASSERT_TRUE(client.Command({"SET", "s", "x"}).ok());
  absl::StatusOr<Reply> wrong = client.Command({"LPUSH", "s", "y"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong.status().message().substr(0, 9), "WRONGTYPE");

  absl::StatusOr<Reply> unknown = client.Command({"NOSUCHCOMMAND"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kFailedPrecondition);

  // An error reply is not a transport failure: the client keeps working.
  EXPECT_EQ(client.Command({"GET", "s"})->str, "x");
}

TEST_F(RedisTest, EmptyCommandIsInvalidArgument) {
  Client client(Options());
  EXPECT_EQ(client.Command({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Pipeline({{"PING"}, {}}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RedisTest, PipelineRepliesInOrder) {
  Client client(Options());
  absl::StatusOr<std::vector<Reply>> replies = client.Pipeline({
      {"SET", "p", "1"},
      {"INCR", "p"},
      {"LPUSH", "p", "x"},  // WRONGTYPE: comes back as a kStatus entry
      {"GET", "p"},
      {"GET", "missing"},
  });
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 5u);
  EXPECT_EQ((*replies)[0].type, Reply::Type::kStatus);
  EXPECT_EQ((*replies)[0].str, "OK");
  EXPECT_EQ((*replies)[1].type, Reply::Type::kInteger);
  EXPECT_EQ((*replies)[1].integer, 2);
  EXPECT_EQ((*replies)[2].type, Reply::Type::kStatus);
  EXPECT_EQ((*replies)[2].str.substr(0, 9), "WRONGTYPE");
  EXPECT_EQ((*replies)[3].type, Reply::Type::kString);
  EXPECT_EQ((*replies)[3].str, "2");
  EXPECT_EQ((*replies)[4].type, Reply::Type::kNil);

  absl::StatusOr<std::vector<Reply>> empty = client.Pipeline({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(RedisTest, FailsFastWhileDownAndRecoversAfterRestart) {
  ClientOptions options = Options();
  options.retry_interval = milliseconds(200);
  Client client(options);
  ASSERT_TRUE(client.Command({"SET", "k", "v"}).ok());

  server_->Kill9();
  absl::StatusOr<Reply> first = client.Command({"GET", "k"});
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable) << first.status();
  EXPECT_EQ(client.Pipeline({{"GET", "k"}}).status().code(), absl::StatusCode::kUnavailable);

  // Functional bound, not a benchmark: 20 calls must not each wait on a timeout.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(client.Command({"GET", "k"}).status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));

  ASSERT_TRUE(server_->Start().ok());  // same port, empty data
  EXPECT_TRUE(WaitFor([&] { return client.Command({"PING"}).ok(); }, kDeadline));
  ASSERT_TRUE(client.Command({"SET", "k", "again"}).ok());
  EXPECT_EQ(client.Command({"GET", "k"})->str, "again");
}

TEST_F(RedisTest, SubscriptionHearsPublishesAndReconnectsAfterARestart) {
  std::mutex mu;
  std::vector<std::string> heard;
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return heard.size();
  };
  ClientOptions options = Options();
  options.retry_interval = milliseconds(50);
  Subscription sub(options, "wake", [&](std::string message) {
    std::lock_guard<std::mutex> lock(mu);
    heard.push_back(std::move(message));
  });
  Client client(options);
  // A publish before the SUBSCRIBE reached Redis has no receiver: publish
  // until one is counted (PUBLISH answers with the number of receivers).
  auto publish = [&](const std::string& message) {
    return WaitFor(
        [&] {
          absl::StatusOr<Reply> r = client.Command({"PUBLISH", "wake", message});
          return r.ok() && r->integer == 1;
        },
        kDeadline);
  };
  ASSERT_TRUE(publish("org-1\nuser-1"));
  ASSERT_TRUE(WaitFor([&] { return count() >= 1; }, kDeadline));
  ASSERT_TRUE(client.Command({"PUBLISH", "other", "x"}).ok());  // another channel: not heard
  ASSERT_TRUE(client.Command({"PUBLISH", "wake", std::string("a\0b", 3)}).ok());
  ASSERT_TRUE(WaitFor([&] { return count() >= 2; }, kDeadline));

  server_->Kill9();
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(publish("after restart"));
  ASSERT_TRUE(WaitFor([&] { return count() >= 3; }, kDeadline));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(heard[0], "org-1\nuser-1");
  EXPECT_EQ(heard[1], std::string("a\0b", 3));
  EXPECT_EQ(heard.back(), "after restart");
}

TEST(RedisClientNoServerTest, UnreachableServerIsUnavailable) {
  ClientOptions options;
  options.addr = "127.0.0.1:" + std::to_string(::rapport::testing::FreePort());
  Client client(options);
  EXPECT_EQ(client.Command({"PING"}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.Command({"PING"}).status().code(), absl::StatusCode::kUnavailable);
}

// A hung Redis (connections accepted, no replies) is the case where failing
// fast matters: without it every call would wait out the command timeout.
TEST_F(RedisTest, CommandTimeoutIsUnavailableFailsFastAndRecovers) {
  ClientOptions options = Options();
  options.command_timeout = milliseconds(100);
  options.retry_interval = milliseconds(300);
  Client client(options);
  ASSERT_TRUE(client.Command({"PING"}).ok());

  Admin({"CLIENT", "PAUSE", "1500", "ALL"});
  absl::StatusOr<Reply> r = client.Command({"GET", "k"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  // 20 timeouts would take 2 s; failing fast takes about nothing.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(client.Command({"GET", "k"}).status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_TRUE(WaitFor([&] { return client.Command({"PING"}).ok(); }, kDeadline));
}

TEST_F(RedisTest, ConcurrentIncrementsAreExact) {
  Client client(Options());  // 4 connections shared by 16 threads
  constexpr int kThreads = 16;
  constexpr int kPerThread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!client.Command({"INCR", "total"}).ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(client.Command({"GET", "total"})->str, std::to_string(kThreads * kPerThread));
}

// ---- Addresses, passwords and databases ----

TEST(RedisAddressTest, ParsesHostPortAndUrls) {
  struct Case {
    std::string addr;
    std::string host;
    int port;
    std::string user;
    std::string password;
    int db;
    std::string display;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:6380", "127.0.0.1", 6380, "", "", 0, "127.0.0.1:6380"},
      {"redis", "redis", 6379, "", "", 0, "redis"},
      {"[::1]:7000", "::1", 7000, "", "", 0, "[::1]:7000"},
      {"redis://cache:6390", "cache", 6390, "", "", 0, "redis://cache:6390/0"},
      {"redis://cache", "cache", 6379, "", "", 0, "redis://cache/0"},
      {"redis://:s3cret@cache:6379/2", "cache", 6379, "", "s3cret", 2, "redis://:***@cache:6379/2"},
      {"redis://app:p%40ss%3Aw%2Fd@[::1]:6379/", "::1", 6379, "app", "p@ss:w/d", 0, "redis://app:***@[::1]:6379/0"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Endpoint> e = ParseAddress(c.addr);
    ASSERT_TRUE(e.ok()) << c.addr << ": " << e.status();
    EXPECT_EQ(e->host, c.host) << c.addr;
    EXPECT_EQ(e->port, c.port) << c.addr;
    EXPECT_EQ(e->user, c.user) << c.addr;
    EXPECT_EQ(e->password, c.password) << c.addr;
    EXPECT_EQ(e->db, c.db) << c.addr;
    EXPECT_EQ(e->display, c.display) << c.addr;
  }
}

TEST(RedisAddressTest, RefusesWhatItCannotHonourWithoutEchoingThePassword) {
  const std::vector<std::string> bad = {
      "rediss://:hunter2@cache:6379",  // TLS
      "http://cache:6379",             // another scheme
      "redis://hunter2@cache:6379",    // a user without a password would be ignored
      "redis://:@cache:6379",          // empty password
      "redis://:hunter2@cache:0",      // port
      "redis://:hunter2@cache:notaport",
      "redis://:hunter2",               // forgot the host: "hunter2" would be a port
      "redis://:hunter2@cache:6379/x",  // database
      "redis://:hunter2@cache:6379/-1",
      "redis://:hunter2@cache:6379/0?timeout=1",
      "redis://:hunt%zzer2@cache:6379",  // escape
      "redis://:hunter2@:6379",          // host
      "cache:70000",
  };
  for (const std::string& addr : bad) {
    absl::StatusOr<Endpoint> e = ParseAddress(addr);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << addr;
    EXPECT_FALSE(absl::StrContains(e.status().message(), "hunter2")) << e.status();
    // A client on a bad address fails every call with that reason, at once.
    ClientOptions options;
    options.addr = addr;
    Client client(options);
    absl::StatusOr<Reply> r = client.Command({"PING"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << addr;
  }
}

TEST(RedisAddressTest, UrlFlagWinsOverAddrFlag) {
  const std::string saved_addr = absl::GetFlag(FLAGS_redis_addr);
  const std::string saved_url = absl::GetFlag(FLAGS_redis_url);
  absl::SetFlag(&FLAGS_redis_addr, "cache:6390");
  absl::SetFlag(&FLAGS_redis_url, "");
  EXPECT_EQ(config::RedisAddress(), "cache:6390");
  absl::SetFlag(&FLAGS_redis_url, "redis://:pw@cache:6391/1");
  EXPECT_EQ(config::RedisAddress(), "redis://:pw@cache:6391/1");
  absl::SetFlag(&FLAGS_redis_addr, saved_addr);
  absl::SetFlag(&FLAGS_redis_url, saved_url);
}

std::string FindOnPath(const std::string& name) {
  std::vector<std::string> dirs = {"/usr/bin", "/usr/sbin", "/usr/local/bin"};
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::vector<std::string> on_path = absl::StrSplit(path, ':', absl::SkipEmpty());
    dirs.insert(dirs.begin(), on_path.begin(), on_path.end());
  }
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (std::filesystem::exists(dir + "/" + name, ec)) return dir + "/" + name;
  }
  return name;
}

// A redis-server started with --requirepass (the default user's password)
// and an ACL user, as deploy/compose.yaml and the in-cluster Redis run it.
class RedisAuthTest : public ::testing::Test {
 protected:
  static constexpr char kPassword[] = "correct-horse-battery";
  static constexpr char kAppPassword[] = "app-staple";

  void SetUp() override {
    dir_ = ::rapport::testing::TempDir("rapport-redis-auth");
    ASSERT_FALSE(dir_.empty());
    port_ = ::rapport::testing::FreePort();
    auto process = Process::Start(FindOnPath("redis-server"),
                                  {"--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_,
                                   "--daemonize",
                                   "no",
                                   "--requirepass",
                                   kPassword,
                                   "--user",
                                   "app",
                                   "on",
                                   std::string(">") + kAppPassword,
                                   "~*",
                                   "&*",
                                   "+@all"},
                                  {}, dir_ + "/redis.log");
    ASSERT_TRUE(process.ok()) << process.status();
    process_ = *std::move(process);
    Client probe(Options(Url(":" + std::string(kPassword))));
    ASSERT_TRUE(WaitFor([&] { return probe.Command({"PING"}).ok() || !process_->running(); }, kDeadline));
    ASSERT_TRUE(process_->running()) << "see " << dir_ << "/redis.log";
  }

  void TearDown() override {
    process_.reset();  // SIGKILL and reap
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // userinfo is "user:password" or ":password"; empty for none.
  std::string Url(const std::string& userinfo, int db = 0) const {
    return "redis://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" + std::to_string(port_) + "/" +
           std::to_string(db);
  }

  static ClientOptions Options(const std::string& addr) {
    ClientOptions o;
    o.addr = addr;
    o.connect_timeout = milliseconds(500);
    o.command_timeout = milliseconds(1000);
    o.retry_interval = milliseconds(100);
    o.pool_size = 4;
    return o;
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

TEST_F(RedisAuthTest, WrongPasswordFailsClearlyAndNeverShowsIt) {
  Client client(Options(Url(":not-the-password")));
  for (int i = 0; i < 3; ++i) {  // the first call connects; later ones fail fast with the same reason
    absl::StatusOr<Reply> r = client.Command({"SET", "k", "v"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "AUTH refused: WRONGPASS")) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "redis://:***@127.0.0.1:")) << r.status();
    EXPECT_FALSE(absl::StrContains(r.status().message(), "not-the-password")) << r.status();
  }
  Client wrong_user(Options(Url("app:" + std::string(kPassword))));
  absl::StatusOr<Reply> r = wrong_user.Command({"PING"});
  EXPECT_TRUE(absl::StrContains(r.status().message(), "AUTH refused: WRONGPASS")) << r.status();

  // Without a password Redis answers the command itself with NOAUTH.
  Client none(Options("127.0.0.1:" + std::to_string(port_)));
  absl::StatusOr<Reply> anonymous = none.Command({"SET", "k", "v"});
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kFailedPrecondition) << anonymous.status();
  EXPECT_TRUE(absl::StartsWith(anonymous.status().message(), "NOAUTH")) << anonymous.status();

  Client right(Options(Url(":" + std::string(kPassword))));
  absl::StatusOr<Reply> stored = right.Command({"EXISTS", "k"});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->integer, 0);  // none of the refused writes landed
}

TEST_F(RedisAuthTest, RightPasswordWorksForTheDefaultUserAndAnAclUser) {
  Client client(Options(Url(":" + std::string(kPassword))));
  ASSERT_TRUE(client.Command({"SET", "k", "v"}).ok());
  absl::StatusOr<Reply> got = client.Command({"GET", "k"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->str, "v");
  absl::StatusOr<std::vector<Reply>> piped = client.Pipeline({{"INCR", "n"}, {"INCR", "n"}});
  ASSERT_TRUE(piped.ok()) << piped.status();
  EXPECT_EQ((*piped)[1].integer, 2);
  EXPECT_EQ(client.Command({"ACL", "WHOAMI"})->str, "default");

  Client app(Options(Url("app:" + std::string(kAppPassword))));
  absl::StatusOr<Reply> whoami = app.Command({"ACL", "WHOAMI"});
  ASSERT_TRUE(whoami.ok()) << whoami.status();
  EXPECT_EQ(whoami->str, "app");
  EXPECT_EQ(app.Command({"GET", "k"})->str, "v");
}

TEST_F(RedisAuthTest, SubscriptionLogsInLikeThePool) {
  const std::string url = Url("app:" + std::string(kAppPassword), 3);
  std::atomic<int> heard{0};
  Subscription sub(Options(url), "wake", [&](std::string) { heard.fetch_add(1); });
  Client client(Options(url));
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<Reply> r = client.Command({"PUBLISH", "wake", "x"});
        return r.ok() && r->integer == 1;
      },
      kDeadline));
  EXPECT_TRUE(WaitFor([&] { return heard.load() >= 1; }, kDeadline));
}

// Every connection of the pool, and every reconnect after Redis dropped
// them all, logs in and selects the database before its first command.
TEST_F(RedisAuthTest, EveryPooledConnectionAndReconnectAuthenticatesAndSelects) {
  const std::string userinfo = "app:" + std::string(kAppPassword);
  Client client(Options(Url(userinfo, 3)));
  Client db0(Options(Url(userinfo, 0)));

  // Hold the pool's four connections busy at once so that all of them open.
  auto all_connections_work = [&] {
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        // BLPOP with a short timeout keeps the connection checked out.
        if (!client.Command({"BLPOP", "nothing-" + std::to_string(i), "0.2"}).ok()) ++failures;
        if (!client.Command({"SET", "k" + std::to_string(i), "in-db-3"}).ok()) ++failures;
      });
    }
    for (std::thread& t : threads) t.join();
    return failures.load() == 0;
  };
  ASSERT_TRUE(all_connections_work());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(db0.Command({"EXISTS", "k" + std::to_string(i)})->integer, 0) << "landed in db 0";
  }
  // CLIENT LIST shows who each connection is logged in as, and its database.
  auto client_lines_in_db3 = [&] {
    absl::StatusOr<Reply> list = db0.Command({"CLIENT", "LIST"});
    int in_db3 = 0;
    if (!list.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(list->str, '\n', absl::SkipEmpty())) {
      if (absl::StrContains(line, " db=3 ")) {
        if (!absl::StrContains(line, " user=app ")) return -1;
        ++in_db3;
      }
    }
    return in_db3;
  };
  EXPECT_EQ(client_lines_in_db3(), 4);

  // Drop every connection (as a Redis restart does); the client reconnects
  // by itself, logged in and in db 3 again.
  ASSERT_TRUE(db0.Command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}).ok());
  EXPECT_TRUE(WaitFor([&] { return client.Command({"GET", "k0"}).ok(); }, kDeadline));
  EXPECT_TRUE(WaitFor([&] { return all_connections_work(); }, kDeadline));
  EXPECT_EQ(client.Command({"GET", "k0"})->str, "in-db-3");
  EXPECT_EQ(client_lines_in_db3(), 4);
}

// ---- EntityCache ----

class EntityCacheTest : public RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = std::make_unique<Client>(Options());
    cache_ = std::make_unique<EntityCache>(client_.get(), CacheOpts());
  }

  static CacheOptions CacheOpts() {
    CacheOptions o;
    o.enabled = true;
    o.ttl = std::chrono::seconds(60);
    o.service = "profiles";
    return o;
  }

  // A loader that counts its calls and returns *value.
  std::function<absl::StatusOr<std::string>()> Loader(const std::string* value) {
    return [this, value]() -> absl::StatusOr<std::string> {
      loads_.fetch_add(1);
      return *value;
    };
  }

  std::unique_ptr<Client> client_;
  std::unique_ptr<EntityCache> cache_;
  std::atomic<int> loads_{0};
};

TEST_F(EntityCacheTest, KeyStartsWithOrg) {
  EXPECT_EQ(cache_->Key("org1", "contact", "42"), "org1:profiles:contact:42");
  EXPECT_TRUE(cache_->enabled());
}

TEST_F(EntityCacheTest, MissLoadsAndCachesWithTtl) {
  const std::string key = cache_->Key("o", "contact", "1");
  const std::string value = "v1";
  absl::StatusOr<std::string> got = cache_->GetOrLoad(key, Loader(&value));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "v1");
  EXPECT_EQ(loads_.load(), 1);
  EXPECT_EQ(Admin({"GET", key}).str, "v1");
  long long pttl = Admin({"PTTL", key}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 60000);
}

TEST_F(EntityCacheTest, HitDoesNotCallLoader) {
  const std::string key = cache_->Key("o", "contact", "2");
  std::string value = "v1";
  ASSERT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v1");
  value = "v2";  // the store changed without an invalidation: the cache still answers
  EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v1");
  EXPECT_EQ(loads_.load(), 1);

  // A value put there by another replica is served as is.
  const std::string other = cache_->Key("o", "contact", "3");
  Admin({"SET", other, std::string("bin\0ary", 7)});
  EXPECT_EQ(*cache_->GetOrLoad(other, Loader(&value)), std::string("bin\0ary", 7));
  EXPECT_EQ(loads_.load(), 1);
}

TEST_F(EntityCacheTest, ConcurrentMissesLoadOnce) {
  const std::string key = cache_->Key("o", "contact", "sf");
  Admin({"CONFIG", "RESETSTAT"});
  Gate gate;
  std::atomic<bool> loading{false};
  auto load = [&]() -> absl::StatusOr<std::string> {
    loads_.fetch_add(1);
    loading = true;
    gate.Wait();
    return std::string("loaded");
  };
  constexpr int kThreads = 20;
  std::vector<absl::StatusOr<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = cache_->GetOrLoad(key, load); });
  }
  // Every thread has missed (20 GETs of the key, plus the leader's GET of the
  // generation) while the loader is blocked; only then let it finish.
  EXPECT_TRUE(WaitFor([&] { return loading.load() && CommandCalls("get") >= kThreads + 1; }, kDeadline));
  gate.Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(loads_.load(), 1);
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, "loaded");
  }
  EXPECT_EQ(Admin({"GET", key}).str, "loaded");
}

TEST_F(EntityCacheTest, LoaderErrorIsReturnedAndNotCached) {
  const std::string key = cache_->Key("o", "contact", "missing");
  auto not_found = [&]() -> absl::StatusOr<std::string> {
    loads_.fetch_add(1);
    return absl::NotFoundError("no such contact");
  };
  absl::StatusOr<std::string> got = cache_->GetOrLoad(key, not_found);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), "no such contact");
  EXPECT_FALSE(Exists(key));
  EXPECT_EQ(cache_->GetOrLoad(key, not_found).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(loads_.load(), 2);

  const std::string value = "created";
  EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "created");
  EXPECT_EQ(loads_.load(), 3);
}

TEST_F(EntityCacheTest, InvalidateRemovesEntry) {
  const std::string key = cache_->Key("o", "contact", "4");
  std::string value = "v1";
  ASSERT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v1");
  ASSERT_TRUE(Exists(key));

  value = "v2";
  cache_->Invalidate(key);
  EXPECT_FALSE(Exists(key));
  EXPECT_EQ(Admin({"GET", key + ":gen"}).str, "1");
  EXPECT_GT(Admin({"PTTL", key + ":gen"}).integer, 60000);  // outlives the entry's TTL

  EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v2");
  EXPECT_EQ(loads_.load(), 2);
  EXPECT_EQ(Admin({"GET", key}).str, "v2");
}

TEST_F(EntityCacheTest, InvalidateThenRunsAfterTheInvalidationInOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back(cache_->Key("o", "contact", "then-" + std::to_string(i)));
    std::string value = "v";
    ASSERT_TRUE(cache_->GetOrLoad(keys.back(), Loader(&value)).ok());
    ASSERT_TRUE(Exists(keys.back()));
  }
  std::mutex mu;
  std::vector<int> order;
  std::vector<bool> gone_when_called(keys.size(), false);
  for (int i = 0; i < 5; ++i) {
    cache_->InvalidateThen(keys[i], [&, i] {
      bool gone = !Exists(keys[i]);
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
      gone_when_called[i] = gone;
    });
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return order.size() == keys.size();
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  for (bool gone : gone_when_called) EXPECT_TRUE(gone);
}

// A reader loads the old row; the write commits and invalidates before the
// reader stores it. The reader's store must be refused.
TEST_F(EntityCacheTest, InvalidationDuringLoadIsNotOverwritten) {
  const std::string key = cache_->Key("o", "contact", "race");
  auto stale_load = [&]() -> absl::StatusOr<std::string> {
    loads_.fetch_add(1);
    std::string old_row = "old";
    cache_->Invalidate(key);  // the concurrent writer, after its commit
    return old_row;
  };
  EXPECT_EQ(*cache_->GetOrLoad(key, stale_load), "old");  // concurrent with the write: fine
  EXPECT_FALSE(Exists(key));

  const std::string value = "new";
  EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "new");
  EXPECT_EQ(Admin({"GET", key}).str, "new");
}

// Same race, with the writer in another process: only Redis's generation
// check can refuse the store.
TEST_F(EntityCacheTest, InvalidationFromAnotherReplicaDuringLoadIsNotOverwritten) {
  Client other_client(Options());
  EntityCache other(&other_client, CacheOpts());
  const std::string key = cache_->Key("o", "contact", "race2");
  auto stale_load = [&]() -> absl::StatusOr<std::string> {
    loads_.fetch_add(1);
    other.Invalidate(key);
    return std::string("old");
  };
  EXPECT_EQ(*cache_->GetOrLoad(key, stale_load), "old");
  EXPECT_FALSE(Exists(key));
  EXPECT_EQ(Admin({"GET", key + ":gen"}).str, "1");

  // Also when the script is not loaded yet (EVALSHA falls back to EVAL).
  Admin({"SCRIPT", "FLUSH"});
  const std::string key2 = cache_->Key("o", "contact", "race3");
  auto stale_load2 = [&]() -> absl::StatusOr<std::string> {
    other.Invalidate(key2);
    return std::string("old");
  };
  EXPECT_EQ(*cache_->GetOrLoad(key2, stale_load2), "old");
  EXPECT_FALSE(Exists(key2));
  const std::string value = "fresh";
  EXPECT_EQ(*cache_->GetOrLoad(key2, Loader(&value)), "fresh");
  EXPECT_EQ(Admin({"GET", key2}).str, "fresh");
}

// A miss that starts after an invalidation must not join a load that began
// before it (and may have read the old row): it loads for itself.
TEST_F(EntityCacheTest, MissAfterInvalidateDoesNotJoinEarlierLoad) {
  const std::string key = cache_->Key("o", "contact", "join");
  Gate gate;
  std::atomic<bool> loading{false};
  absl::StatusOr<std::string> first;
  std::thread slow([&] {
    first = cache_->GetOrLoad(key, [&]() -> absl::StatusOr<std::string> {
      loading = true;
      gate.Wait();
      return std::string("old");
    });
  });
  ASSERT_TRUE(WaitFor([&] { return loading.load(); }, kDeadline));
  cache_->Invalidate(key);  // the write committed while the slow load was running
  const std::string value = "new";
  absl::StatusOr<std::string> second;
  std::atomic<bool> second_done{false};
  std::thread fresh([&] {
    second = cache_->GetOrLoad(key, Loader(&value));
    second_done = true;
  });
  // It completes while the slow load is still blocked (joining it would wait).
  EXPECT_TRUE(WaitFor([&] { return second_done.load(); }, milliseconds(5000)));
  gate.Open();
  slow.join();
  fresh.join();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, "new");
  EXPECT_EQ(loads_.load(), 1);
  EXPECT_EQ(first.value_or(""), "old");
  EXPECT_EQ(Admin({"GET", key}).str, "new");  // the slow load's store was refused
}

// An invalidation that failed during a load leaves the generation unchanged,
// so the process itself must refuse to store what that load read.
TEST_F(EntityCacheTest, FailedInvalidationDuringLoadIsNotOverwritten) {
  const std::string key = cache_->Key("o", "contact", "race4");
  auto stale_load = [&]() -> absl::StatusOr<std::string> {
    Admin({"CONFIG", "SET", "min-replicas-to-write", "1"});
    cache_->Invalidate(key);  // refused by Redis: stays pending
    Admin({"CONFIG", "SET", "min-replicas-to-write", "0"});
    return std::string("old");
  };
  EXPECT_EQ(*cache_->GetOrLoad(key, stale_load), "old");
  EXPECT_FALSE(Exists(key));
  const std::string value = "new";
  EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "new");
  EXPECT_EQ(Admin({"GET", key}).str, "new");
  EXPECT_EQ(Admin({"GET", key + ":gen"}).str, "1");
}

TEST_F(EntityCacheTest, RedisDownFallsBackToLoader) {
  const std::string key = cache_->Key("o", "contact", "5");
  std::string value = "v1";
  ASSERT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v1");

  server_->Kill9();
  value = "v2";
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> got = cache_->GetOrLoad(key, Loader(&value));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "v2");
  }
  cache_->Invalidate(key);  // must neither fail nor hang
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(loads_.load(), 21);

  // Back up (empty): the pending invalidation is flushed and caching resumes.
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v2");
        absl::StatusOr<Reply> r = admin_->Command({"GET", key});
        return r.ok() && r->str == "v2";
      },
      kDeadline));
  EXPECT_EQ(Admin({"GET", key + ":gen"}).str, "1");
}

// Redis answers reads but refuses writes: invalidations fail while GET would
// still return the stale entry. The cache must not trust it until the
// invalidation got through.
TEST_F(EntityCacheTest, FailedInvalidationBypassesCacheUntilRetried) {
  const std::string key = cache_->Key("o", "contact", "6");
  std::string value = "v1";
  ASSERT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v1");

  Admin({"CONFIG", "SET", "min-replicas-to-write", "1"});  // writes now fail with NOREPLICAS
  value = "v2";
  cache_->Invalidate(key);
  ASSERT_EQ(Admin({"GET", key}).str, "v1");  // the stale entry is still there
  for (int i = 0; i < 5; ++i) EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v2");
  EXPECT_EQ(loads_.load(), 6);

  Admin({"CONFIG", "SET", "min-replicas-to-write", "0"});
  EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v2");  // flushes, then misses
  EXPECT_EQ(Admin({"GET", key}).str, "v2");
  EXPECT_EQ(Admin({"GET", key + ":gen"}).str, "1");
  EXPECT_EQ(*cache_->GetOrLoad(key, Loader(&value)), "v2");
  EXPECT_EQ(loads_.load(), 7);  // cached again
}

// Redis stalls writes longer than the command timeout: the invalidation times
// out and stays pending, and reads must not return the old entry meanwhile.
TEST_F(EntityCacheTest, TimedOutInvalidationIsRetriedBeforeTrustingCache) {
  ClientOptions options = Options();
  options.command_timeout = milliseconds(100);
  options.retry_interval = milliseconds(50);
  Client client(options);
  EntityCache cache(&client, CacheOpts());
  const std::string key = cache.Key("o", "contact", "7");
  std::string value = "v1";
  ASSERT_EQ(*cache.GetOrLoad(key, Loader(&value)), "v1");

  Admin({"CLIENT", "PAUSE", "800", "WRITE"});  // reads go on, writes wait
  value = "v2";
  cache.Invalidate(key);
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<std::string> got = cache.GetOrLoad(key, Loader(&value));
        EXPECT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(got.value_or(""), "v2");
        absl::StatusOr<Reply> r = admin_->Command({"GET", key});
        return r.ok() && r->str == "v2";  // invalidated, then cached again
      },
      kDeadline));
  long long generation = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Admin({"GET", key + ":gen"}).str, &generation));
  EXPECT_GE(generation, 1);
}

TEST_F(EntityCacheTest, DisabledCacheAlwaysCallsLoader) {
  CacheOptions opts = CacheOpts();
  opts.enabled = false;
  EntityCache cache(client_.get(), opts);
  EXPECT_FALSE(cache.enabled());
  const std::string key = cache.Key("o", "contact", "8");
  const std::string value = "v";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(*cache.GetOrLoad(key, Loader(&value)), "v");
  EXPECT_EQ(loads_.load(), 3);
  EXPECT_FALSE(Exists(key));
  cache.Invalidate(key);
  EXPECT_FALSE(Exists(key + ":gen"));
}

}  // namespace
}  // namespace rapport::redis
