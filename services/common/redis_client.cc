#include "services/common/redis_client.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/log.h"
#include "services/common/status.h"

namespace rapport::redis {

namespace {

using Clock = std::chrono::steady_clock;

timeval ToTimeval(std::chrono::milliseconds ms) {
  if (ms.count() < 1) ms = std::chrono::milliseconds(1);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// hiredis writes with write(2): a peer that closed its end would raise
// SIGPIPE and kill the process. Ignore it unless the program chose otherwise.
void IgnoreSigpipeIfDefault() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current;
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL &&
        (current.sa_flags & SA_SIGINFO) == 0) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

std::string ReplyText(const redisReply* r) { return r->str != nullptr ? std::string(r->str, r->len) : std::string(); }

// Error replies nested in arrays (e.g. from EXEC) and in pipelines become
// kStatus replies carrying the error text ("WRONGTYPE ...", "ERR ..."); Redis
// error texts start with an upper-case code, which tells them from "OK"/"PONG".
Reply ConvertReply(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str = ReplyText(r);
      break;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kStatus;
      out.str = ReplyText(r);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(ConvertReply(r->element[i]));
      break;
    case REDIS_REPLY_NIL:
    default:  // RESP3 types are never negotiated: the client speaks RESP2
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

struct Argv {
  explicit Argv(const std::vector<std::string>& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

absl::Status Unavailable(const Endpoint& endpoint, const std::string& why) {
  return absl::UnavailableError(absl::StrCat("redis ", endpoint.display, ": ", why));
}

// Sends a connection set-up command; on failure frees ctx and says what
// Redis answered (never the arguments: AUTH's carry the password).
absl::Status Setup(const Endpoint& endpoint, redisContext* ctx, absl::string_view what,
                   const std::vector<std::string>& args) {
  Argv argv(args);
  auto* r = static_cast<redisReply*>(redisCommandArgv(ctx, argv.argc(), argv.ptrs.data(), argv.lens.data()));
  absl::Status s;
  if (r == nullptr) {
    s = Unavailable(endpoint, absl::StrCat(what, ": ", ctx->errstr));
  } else if (r->type == REDIS_REPLY_ERROR) {
    s = Unavailable(endpoint, absl::StrCat(what, " refused: ", ReplyText(r)));
  }
  if (r != nullptr) freeReplyObject(r);
  if (!s.ok()) redisFree(ctx);
  return s;
}

// A new connection with the client's timeouts, logged in: every connection
// (first connect and every reconnect, pooled or subscribed) sends AUTH and
// SELECT before anything else.
absl::StatusOr<redisContext*> OpenConnection(const Endpoint& endpoint, const ClientOptions& options) {
  redisContext* ctx = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, ToTimeval(options.connect_timeout));
  if (ctx == nullptr) return Unavailable(endpoint, "cannot allocate a connection");
  if (ctx->err != 0) {
    absl::Status s = Unavailable(endpoint, absl::StrCat("connect: ", ctx->errstr));
    redisFree(ctx);
    return s;
  }
  if (redisSetTimeout(ctx, ToTimeval(options.command_timeout)) != REDIS_OK) {
    absl::Status s = Unavailable(endpoint, absl::StrCat("set timeout: ", ctx->errstr));
    redisFree(ctx);
    return s;
  }
  redisEnableKeepAlive(ctx);
  if (!endpoint.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(endpoint.password);
    RETURN_IF_ERROR(Setup(endpoint, ctx, "AUTH", auth));
  }
  if (endpoint.db != 0) RETURN_IF_ERROR(Setup(endpoint, ctx, "SELECT", {"SELECT", absl::StrCat(endpoint.db)}));
  return ctx;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes (RFC 3986 userinfo); false on a malformed escape.
bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexDigit(in[i + 1]);
    const int lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// "host:port", "host", "[v6]:port" or "[v6]" into host and port.
absl::Status ParseHostPort(absl::string_view hostport, std::string* host, int* port) {
  *port = 6379;
  absl::string_view h = hostport;
  absl::string_view p;
  if (absl::StartsWith(h, "[")) {
    size_t close = h.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("redis address: unclosed [");
    if (close + 1 < h.size()) {
      if (h[close + 1] != ':') return absl::InvalidArgumentError("redis address: junk after ]");
      p = h.substr(close + 2);
    }
    h = h.substr(1, close - 1);
  } else if (size_t colon = h.rfind(':'); colon != absl::string_view::npos) {
    p = h.substr(colon + 1);
    h = h.substr(0, colon);
  }
  if (h.empty()) return absl::InvalidArgumentError("redis address: no host");
  if (!p.empty() && (!absl::SimpleAtoi(p, port) || *port < 1 || *port > 65535)) {
    return absl::InvalidArgumentError("redis address: bad port (1..65535)");  // no echo: may be a password
  }
  *host = std::string(h);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Endpoint> ParseAddress(const std::string& addr) {
  Endpoint e;
  constexpr absl::string_view kScheme = "redis://";
  absl::string_view rest = addr;
  if (!absl::StartsWith(rest, kScheme)) {
    if (rest.find("://") != absl::string_view::npos) {
      // Never echo the address: it may carry a password.
      return absl::InvalidArgumentError("redis address: only redis:// URLs are supported (rediss://, TLS, is not)");
    }
    RETURN_IF_ERROR(ParseHostPort(rest, &e.host, &e.port));
    e.display = addr;
    return e;
  }
  rest.remove_prefix(kScheme.size());
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError("redis URL: query parameters and fragments are not supported");
  }
  absl::string_view authority = rest.substr(0, rest.find('/'));
  absl::string_view path = rest.substr(authority.size());
  bool has_userinfo = false;
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    has_userinfo = true;
    absl::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "redis URL: give the password as redis://:password@host or redis://user:password@host");
    }
    if (!PercentDecode(userinfo.substr(0, colon), &e.user) || !PercentDecode(userinfo.substr(colon + 1), &e.password)) {
      return absl::InvalidArgumentError("redis URL: bad %-escape in user or password");
    }
    if (e.password.empty()) return absl::InvalidArgumentError("redis URL: empty password");
  }
  RETURN_IF_ERROR(ParseHostPort(authority, &e.host, &e.port));
  if (path.size() > 1) {
    absl::string_view db = path.substr(1);
    if (!absl::SimpleAtoi(db, &e.db) || e.db < 0) {
      return absl::InvalidArgumentError(absl::StrCat("redis URL: bad database number \"", db, "\""));
    }
  }
  e.display =
      absl::StrCat(kScheme, has_userinfo ? absl::StrCat(e.user, ":***@") : "", std::string(authority), "/", e.db);
  return e;
}

// Connection pool with a fail-fast "down" state.
//
// Every transport failure (connect error, timeout, reset) closes that
// connection, drops every idle connection (after a Redis restart they are all
// dead, and each would otherwise fail once more) and marks the client down
// until now + retry_interval. While down, calls return UNAVAILABLE without
// touching the network; once the interval has passed exactly one caller
// probes with a fresh connection and its command, and the others keep failing
// fast until the probe succeeds (down is cleared) or fails (down is renewed).
//
// The epoch counts failures. A connection opened before the latest failure
// that then fails as well reports a failure already accounted for, so it does
// not renew the down state (and a stale success does not clear it either).
struct Client::Impl {
  struct Conn {
    redisContext* ctx = nullptr;
    uint64_t epoch = 0;
    bool probe = false;
  };

  explicit Impl(ClientOptions o) : options(std::move(o)) {
    absl::StatusOr<Endpoint> parsed = ParseAddress(options.addr);
    if (parsed.ok()) {
      endpoint = *std::move(parsed);
    } else {
      config_error = parsed.status();
      endpoint.display = "(bad address)";
    }
    if (options.pool_size < 1) options.pool_size = 1;
  }

  ~Impl() {
    for (Conn& c : idle) redisFree(c.ctx);
  }

  absl::Status Unavailable(const std::string& why) const { return redis::Unavailable(endpoint, why); }

  absl::StatusOr<redisContext*> Connect() const { return OpenConnection(endpoint, options); }

  // Marks the client down; returns the idle connections to close outside the lock.
  std::vector<Conn> MarkDownLocked() {
    ++epoch;
    down = true;
    retry_at = Clock::now() + options.retry_interval;
    std::vector<Conn> dropped;
    dropped.swap(idle);
    open -= static_cast<int>(dropped.size());
    return dropped;
  }

  absl::StatusOr<Conn> Acquire() {
    if (!config_error.ok()) return config_error;
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      bool probe = false;
      if (down) {
        if (probing || Clock::now() < retry_at) {
          return Unavailable(absl::StrCat("unreachable; retrying later (last error: ", last_error, ")"));
        }
        probing = true;
        probe = true;
      } else if (!idle.empty()) {
        Conn c = idle.back();
        idle.pop_back();
        return c;
      } else if (open >= options.pool_size) {
        cv.wait(lock);
        continue;
      }
      ++open;
      lock.unlock();
      absl::StatusOr<redisContext*> ctx = Connect();
      lock.lock();
      if (ctx.ok()) return Conn{*ctx, epoch, probe};
      --open;
      if (probe) probing = false;
      std::vector<Conn> dropped = MarkDownLocked();
      last_error = std::string(ctx.status().message());
      // A refused password is a setting to fix, not a blip: say so once per
      // kind of failure rather than on every retry.
      const bool report = last_error != reported_error;
      reported_error = last_error;
      cv.notify_all();
      lock.unlock();
      for (Conn& c : dropped) redisFree(c.ctx);
      if (report) log::Warn("cannot connect to redis", {{"error", last_error}});
      return ctx.status();
    }
  }

  void Release(Conn c, bool healthy) {
    std::vector<Conn> dropped;
    bool recovered = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (c.probe) probing = false;
      const bool current = c.epoch == epoch;
      if (healthy && current) {
        if (!reported_error.empty()) {
          reported_error.clear();
          recovered = true;
        }
        down = false;
        idle.push_back(c);
        c.ctx = nullptr;
      } else {
        --open;
        if (!healthy && current) dropped = MarkDownLocked();
      }
      cv.notify_all();
    }
    if (c.ctx != nullptr) redisFree(c.ctx);
    for (Conn& d : dropped) redisFree(d.ctx);
    if (recovered) log::Info("connected to redis", {{"addr", endpoint.display}});
  }

  ClientOptions options;
  Endpoint endpoint;
  absl::Status config_error;  // addr did not parse: every call fails with it

  std::mutex mu;
  std::condition_variable cv;  // a connection was returned or the state changed
  std::vector<Conn> idle;
  int open = 0;  // idle + checked out + being opened
  uint64_t epoch = 0;
  bool down = false;
  bool probing = false;
  Clock::time_point retry_at;
  std::string last_error;      // of the latest failed connect
  std::string reported_error;  // logged and not yet followed by a success
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) { IgnoreSigpipeIfDefault(); }

Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }

absl::StatusOr<Reply> Client::Command(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("redis: empty command");
  ASSIGN_OR_RETURN(Impl::Conn conn, impl_->Acquire());
  Argv argv(args);
  auto* r = static_cast<redisReply*>(redisCommandArgv(conn.ctx, argv.argc(), argv.ptrs.data(), argv.lens.data()));
  if (r == nullptr) {
    absl::Status s = impl_->Unavailable(absl::StrCat(args[0], ": ", conn.ctx->errstr));
    impl_->Release(conn, false);
    return s;
  }
  absl::StatusOr<Reply> out;
  if (r->type == REDIS_REPLY_ERROR) {
    // The message is exactly Redis's text, so callers can test its code prefix.
    out = absl::FailedPreconditionError(ReplyText(r));
  } else {
    out = ConvertReply(r);
  }
  freeReplyObject(r);
  impl_->Release(conn, true);
  return out;
}

absl::StatusOr<std::vector<Reply>> Client::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  std::vector<Reply> replies;
  if (commands.empty()) return replies;
  for (const auto& c : commands) {
    if (c.empty()) return absl::InvalidArgumentError("redis: empty command in pipeline");
  }
  ASSIGN_OR_RETURN(Impl::Conn conn, impl_->Acquire());
  for (const auto& c : commands) {
    Argv argv(c);
    if (redisAppendCommandArgv(conn.ctx, argv.argc(), argv.ptrs.data(), argv.lens.data()) != REDIS_OK) {
      absl::Status s = impl_->Unavailable(absl::StrCat("pipeline: ", conn.ctx->errstr));
      impl_->Release(conn, false);
      return s;
    }
  }
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(conn.ctx, &raw) != REDIS_OK || raw == nullptr) {
      absl::Status s = impl_->Unavailable(absl::StrCat("pipeline: ", conn.ctx->errstr));
      if (raw != nullptr) freeReplyObject(raw);
      impl_->Release(conn, false);
      return s;
    }
    auto* r = static_cast<redisReply*>(raw);
    replies.push_back(ConvertReply(r));
    freeReplyObject(r);
  }
  impl_->Release(conn, true);
  return replies;
}

namespace {

// Stores the loaded value only if the key's generation is still the one read
// before loading: an Invalidate in between (INCR gen) makes the value suspect.
// KEYS[1] = key, KEYS[2] = generation key; ARGV = generation, value, ttl ms.
constexpr char kSetIfGenerationScript[] =
    "if (redis.call('GET', KEYS[2]) or '0') == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end "
    "return 0";

std::string Sha1Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha1(), nullptr) != 1) return "";
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

// Invalidations that could not reach Redis. Beyond this many keys, the cache
// stops trusting reads for one TTL instead of remembering more.
constexpr size_t kMaxPendingInvalidations = 100000;
// Pending invalidations are sent in pipelines of this many keys.
constexpr size_t kFlushBatch = 500;

bool IsInteger(const Reply& r) { return r.type == Reply::Type::kInteger; }

}  // namespace

// The subscribed connection's loop. Waits for input with poll(2) in short
// slices, so a stop is seen within one slice, and parses with hiredis's
// reader: a blocking redisGetReply would leave the context unusable after
// its timeout. Any failure closes the connection and reconnects (after
// retry_interval): messages published meanwhile are lost, which is why
// subscribers must treat a message as a hint, never as the data.
struct Subscription::Impl {
  Impl(ClientOptions o, std::string ch, std::function<void(std::string)> cb)
      : options(std::move(o)), channel(std::move(ch)), on_message(std::move(cb)) {}

  void Run() {
    absl::StatusOr<Endpoint> endpoint = ParseAddress(options.addr);
    if (!endpoint.ok()) {
      log::Error("redis subscription not started", {{"channel", channel}, {"error", endpoint.status().ToString()}});
      return;
    }
    std::string reported;
    while (!stopping.load()) {
      absl::Status s = ListenOnce(*endpoint);
      if (stopping.load()) break;
      if (std::string why(s.message()); why != reported) {
        log::Warn("redis subscription lost; reconnecting", {{"channel", channel}, {"error", why}});
        reported = why;
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, options.retry_interval, [this] { return stopping.load(); });
    }
  }

  // One connection's life: SUBSCRIBE, then messages until a failure or stop.
  absl::Status ListenOnce(const Endpoint& endpoint) {
    ASSIGN_OR_RETURN(redisContext * ctx, OpenConnection(endpoint, options));
    std::unique_ptr<redisContext, void (*)(redisContext*)> owned(ctx, redisFree);
    const std::vector<std::string> subscribe = {"SUBSCRIBE", channel};
    Argv argv(subscribe);
    if (redisAppendCommandArgv(ctx, argv.argc(), argv.ptrs.data(), argv.lens.data()) != REDIS_OK) {
      return Unavailable(endpoint, absl::StrCat("subscribe: ", ctx->errstr));
    }
    for (int done = 0; !done;) {
      if (redisBufferWrite(ctx, &done) != REDIS_OK) {
        return Unavailable(endpoint, absl::StrCat("subscribe: ", ctx->errstr));
      }
    }
    subscribed.store(true);
    while (!stopping.load()) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK) {
        return Unavailable(endpoint, absl::StrCat("read: ", ctx->errstr));
      }
      if (raw != nullptr) {
        std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw), freeReplyObject);
        // ["message", channel, payload]; the subscribe confirmation is skipped.
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 && ReplyText(reply->element[0]) == "message") {
          on_message(ReplyText(reply->element[2]));
        }
        continue;
      }
      pollfd pfd{ctx->fd, POLLIN, 0};
      const int ready = ::poll(&pfd, 1, 200);
      if (ready < 0 && errno != EINTR) return Unavailable(endpoint, "poll failed");
      if (ready > 0 && redisBufferRead(ctx) != REDIS_OK) {
        return Unavailable(endpoint, absl::StrCat("read: ", ctx->errstr));
      }
    }
    return absl::OkStatus();
  }

  const ClientOptions options;
  const std::string channel;
  const std::function<void(std::string)> on_message;
  std::atomic<bool> stopping{false};
  std::atomic<bool> subscribed{false};
  std::mutex mu;
  std::condition_variable cv;
  std::thread thread;
};

Subscription::Subscription(ClientOptions options, std::string channel, std::function<void(std::string)> on_message)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(channel), std::move(on_message))) {
  IgnoreSigpipeIfDefault();
  impl_->thread = std::thread([this] { impl_->Run(); });
}

Subscription::~Subscription() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping.store(true);
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

bool Subscription::subscribed() const { return impl_->subscribed.load(); }

// Cache-aside with a per-key generation "<key>:gen".
//
// Invalidate = INCR gen, PEXPIRE gen 2*ttl, DEL key (one pipeline, no MULTI:
// each step alone only makes the cache more conservative). A leader reads gen
// before loading and stores with a script that compares it again, so a write
// committed and invalidated during the load wins. The generation lives twice
// as long as any entry; a load slower than that could miss an invalidation
// (the counter restarts at 0), which is far beyond any store timeout.
//
// Invalidations that fail stay pending in this process; until they reach
// Redis, reads bypass the cache (an old entry may still be there) and no load
// that overlapped a failed invalidation stores its value.
struct EntityCache::Impl {
  // One in-process load of a key; concurrent missers wait for its result.
  struct Flight {
    bool done = false;
    absl::StatusOr<std::string> result;
    std::condition_variable cv;
  };

  // InvalidateThen's queue and worker thread (started on first use).
  std::mutex work_mu;
  std::condition_variable work_cv;
  std::deque<std::pair<std::string, std::function<void()>>> work;
  bool work_stopping = false;
  std::thread worker;

  Impl(Client* c, CacheOptions o) : client(c), options(std::move(o)), script_sha(Sha1Hex(kSetIfGenerationScript)) {
    if (options.ttl.count() < 1) options.ttl = std::chrono::milliseconds(1);
  }

  static std::string GenKey(const std::string& key) { return key + ":gen"; }

  std::vector<std::vector<std::string>> InvalidationCommands(const std::string& key) const {
    return {{"INCR", GenKey(key)}, {"PEXPIRE", GenKey(key), std::to_string(2 * options.ttl.count())}, {"DEL", key}};
  }

  void AddPending(const std::string& key) {
    failed_invalidations.fetch_add(1);
    std::lock_guard<std::mutex> lock(pending_mu);
    auto it = pending.find(key);
    if (it != pending.end()) {
      it->second = ++pending_seq;
    } else if (pending.size() < kMaxPendingInvalidations) {
      pending.emplace(key, ++pending_seq);
    } else {
      // The key is forgotten: its stale entry (set before now) expires within
      // one TTL, and reads bypass the cache until then.
      overflowed = true;
      bypass_until = Clock::now() + options.ttl;
    }
  }

  // Retries pending invalidations. Returns true when the cache can be trusted:
  // nothing is pending and no invalidation was forgotten within the last TTL.
  bool FlushPending() {
    std::vector<std::pair<std::string, uint64_t>> batch;
    {
      std::lock_guard<std::mutex> lock(pending_mu);
      if (overflowed && Clock::now() >= bypass_until) overflowed = false;
      if (pending.empty()) return !overflowed;
      if (flushing) return false;  // another caller is on it; do not trust meanwhile
      flushing = true;
    }
    while (true) {
      batch.clear();
      {
        std::lock_guard<std::mutex> lock(pending_mu);
        for (const auto& [key, seq] : pending) {
          if (batch.size() >= kFlushBatch) break;
          batch.emplace_back(key, seq);
        }
      }
      if (batch.empty()) break;
      std::vector<std::vector<std::string>> commands;
      commands.reserve(3 * batch.size());
      for (const auto& [key, seq] : batch) {
        for (auto& c : InvalidationCommands(key)) commands.push_back(std::move(c));
      }
      absl::StatusOr<std::vector<Reply>> replies = client->Pipeline(commands);
      size_t flushed = 0;
      {
        std::lock_guard<std::mutex> lock(pending_mu);
        if (replies.ok() && replies->size() == commands.size()) {
          for (size_t i = 0; i < batch.size(); ++i) {
            const Reply* r = &(*replies)[3 * i];
            if (!IsInteger(r[0]) || !IsInteger(r[1]) || !IsInteger(r[2])) continue;
            // A failure recorded after this snapshot stays pending: the write
            // behind it may have committed after our commands ran.
            auto it = pending.find(batch[i].first);
            if (it != pending.end() && it->second == batch[i].second) {
              pending.erase(it);
              ++flushed;
            }
          }
        }
      }
      if (flushed < batch.size()) break;
    }
    std::lock_guard<std::mutex> lock(pending_mu);
    flushing = false;
    if (overflowed && Clock::now() >= bypass_until) overflowed = false;
    return pending.empty() && !overflowed;
  }

  // Stores value unless the generation moved; every failure is ignored.
  void StoreIfGeneration(const std::string& key, const std::string& generation, const std::string& value) {
    const std::string ttl_ms = std::to_string(options.ttl.count());
    absl::StatusOr<Reply> r =
        client->Command({"EVALSHA", script_sha, "2", key, GenKey(key), generation, value, ttl_ms});
    if (!r.ok() && absl::IsFailedPrecondition(r.status()) && r.status().message().substr(0, 8) == "NOSCRIPT") {
      // EVAL also loads the script, so later calls take the EVALSHA path.
      r = client->Command({"EVAL", kSetIfGenerationScript, "2", key, GenKey(key), generation, value, ttl_ms});
    }
  }

  void Finish(const std::string& key, const std::shared_ptr<Flight>& flight,
              const absl::StatusOr<std::string>& result) {
    std::lock_guard<std::mutex> lock(flights_mu);
    auto it = flights.find(key);
    if (it != flights.end() && it->second == flight) flights.erase(it);
    flight->result = result;
    flight->done = true;
    flight->cv.notify_all();
  }

  Client* client;
  CacheOptions options;
  const std::string script_sha;

  std::mutex flights_mu;
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights;

  // Bumped by every failed invalidation; a load that saw it move does not store.
  std::atomic<uint64_t> failed_invalidations{0};
  std::mutex pending_mu;
  absl::flat_hash_map<std::string, uint64_t> pending;  // key -> sequence of its last failure
  uint64_t pending_seq = 0;
  bool flushing = false;
  bool overflowed = false;
  Clock::time_point bypass_until;
};

EntityCache::EntityCache(Client* client, CacheOptions options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {}

EntityCache::~EntityCache() {
  {
    std::lock_guard<std::mutex> lock(impl_->work_mu);
    impl_->work_stopping = true;
  }
  impl_->work_cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

void EntityCache::InvalidateThen(const std::string& key, std::function<void()> then) {
  if (!enabled()) return then();
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.work_mu);
  d.work.emplace_back(key, std::move(then));
  if (!d.worker.joinable()) {
    d.worker = std::thread([this] {
      Impl& w = *impl_;
      std::unique_lock<std::mutex> lock(w.work_mu);
      while (true) {
        w.work_cv.wait(lock, [&] { return w.work_stopping || !w.work.empty(); });
        if (w.work.empty()) return;  // stopping, and everything asked for is done
        auto [key, then] = std::move(w.work.front());
        w.work.pop_front();
        lock.unlock();
        Invalidate(key);
        then();
        lock.lock();
      }
    });
  }
  d.work_cv.notify_one();
}

bool EntityCache::enabled() const { return impl_->options.enabled && impl_->client != nullptr; }

std::string EntityCache::Key(const std::string& org, const std::string& kind, const std::string& id) const {
  return absl::StrCat(org, ":", impl_->options.service, ":", kind, ":", id);
}

absl::StatusOr<std::string> EntityCache::GetOrLoad(const std::string& key,
                                                   const std::function<absl::StatusOr<std::string>()>& load) {
  if (!enabled()) return load();
  Impl& d = *impl_;
  if (!d.FlushPending()) return load();

  absl::StatusOr<Reply> cached = d.client->Command({"GET", key});
  if (!cached.ok()) return load();
  if (cached->type == Reply::Type::kString) return std::move(cached->str);
  if (cached->type != Reply::Type::kNil) return load();

  std::shared_ptr<Impl::Flight> flight;
  {
    std::unique_lock<std::mutex> lock(d.flights_mu);
    auto it = d.flights.find(key);
    if (it != d.flights.end()) {
      flight = it->second;
      flight->cv.wait(lock, [&] { return flight->done; });
      return flight->result;
    }
    flight = std::make_shared<Impl::Flight>();
    d.flights.emplace(key, flight);
  }

  // Completes the flight even if load() throws, so followers never hang.
  struct FinishGuard {
    Impl& d;
    const std::string& key;
    const std::shared_ptr<Impl::Flight>& flight;
    bool armed = true;
    ~FinishGuard() {
      if (armed) d.Finish(key, flight, absl::InternalError("cache loader did not return"));
    }
  } guard{d, key, flight};

  // The generation is read before loading: any invalidation after this point
  // changes it, and the script then refuses to store what we loaded. The key
  // is read again in the same round trip: a miss seen just before an earlier
  // leader stored the value and left must not load a second time.
  const uint64_t failures_before = d.failed_invalidations.load();
  std::optional<std::string> generation;
  absl::StatusOr<std::vector<Reply>> reread = d.client->Pipeline({{"GET", key}, {"GET", Impl::GenKey(key)}});
  if (reread.ok() && reread->size() == 2) {
    if ((*reread)[0].type == Reply::Type::kString) {
      guard.armed = false;
      absl::StatusOr<std::string> hit = std::move((*reread)[0].str);
      d.Finish(key, flight, hit);
      return hit;
    }
    const Reply& gen = (*reread)[1];
    if (gen.type == Reply::Type::kNil) generation.emplace(1, '0');
    if (gen.type == Reply::Type::kString) generation.emplace(gen.str);
  }

  absl::StatusOr<std::string> result = load();
  if (result.ok() && generation.has_value() && d.failed_invalidations.load() == failures_before) {
    d.StoreIfGeneration(key, *generation, *result);
  }
  guard.armed = false;
  d.Finish(key, flight, result);
  return result;
}

void EntityCache::Invalidate(const std::string& key) {
  if (!enabled()) return;
  Impl& d = *impl_;
  {
    // Misses that arrive from now on must not join a load that may have read
    // the old row; they start their own.
    std::lock_guard<std::mutex> lock(d.flights_mu);
    d.flights.erase(key);
  }
  d.FlushPending();
  absl::StatusOr<std::vector<Reply>> replies = d.client->Pipeline(d.InvalidationCommands(key));
  bool ok = replies.ok() && replies->size() == 3;
  if (ok) {
    for (const Reply& r : *replies) ok = ok && IsInteger(r);
  }
  if (!ok) d.AddPending(key);
}

}  // namespace rapport::redis
