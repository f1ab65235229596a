// A Redis client on hiredis, and the cache-aside helper every service uses.
//
// Client keeps a pool of synchronous hiredis connections with connect and
// command timeouts. A connection that fails is dropped and re-opened on a later
// call, so the client recovers by itself after Redis restarts. While Redis is
// unreachable, calls fail fast with UNAVAILABLE (a reconnect is attempted at
// most once per retry interval) so that callers can fall back to their store
// without waiting on timeouts each time. A Redis that wants a password, or a
// database other than 0, is given as a URL: every connection the pool opens
// (first connect and every reconnect) sends AUTH and SELECT before anything
// else, and a refused AUTH fails that call with Redis's own text.
//
// Thread-safety: Client and EntityCache are safe for concurrent use.
#ifndef RAPPORT_SERVICES_COMMON_REDIS_CLIENT_H_
#define RAPPORT_SERVICES_COMMON_REDIS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rapport::redis {

struct Reply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string str;              // kString and kStatus
  long long integer = 0;        // kInteger
  std::vector<Reply> elements;  // kArray
};

struct ClientOptions {
  // "host:port", or "redis://[[user]:password@]host[:port][/db]" (see
  // ParseAddress). Error messages name it with the password masked.
  std::string addr = "127.0.0.1:6379";
  std::chrono::milliseconds connect_timeout{200};
  std::chrono::milliseconds command_timeout{200};
  std::chrono::milliseconds retry_interval{500};  // fail fast this long after a failure
  int pool_size = 8;
};

// Where a Client connects and how it logs in.
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // empty: the default user (AUTH with the password only)
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT when not 0
  // The address for messages and logs: "host:port", or the URL with the
  // password replaced by "***".
  std::string display;
};

// Parses ClientOptions::addr: "host:port" ("[::1]:6379"; the port defaults to
// 6379), or a URL "redis://[[user]:password@]host[:port][/db]" whose user and
// password are percent-decoded. INVALID_ARGUMENT for anything else: another
// scheme (rediss://: TLS is not supported), a user without a password, a bad
// port or database number, query parameters.
absl::StatusOr<Endpoint> ParseAddress(const std::string& addr);

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();

  // Sends one command. UNAVAILABLE when Redis cannot be reached, timed out or
  // refused the password or database (the message says which, with Redis's
  // text, e.g. "AUTH refused: WRONGPASS ..."); INVALID_ARGUMENT when addr does
  // not parse; an error reply (e.g. WRONGTYPE) gives FAILED_PRECONDITION with
  // its text.
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);
  // Sends commands in one round trip; replies in order. An error reply among
  // them is returned as a kStatus reply whose str starts with "ERR"-like text
  // only if the transport succeeded; transport failures give UNAVAILABLE.
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);

  const ClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A subscriber to one pub/sub channel, on a connection of its own (a
// subscribed connection can do nothing else), logged in like the client's.
// on_message runs on the subscription's thread for each message published
// while it is connected; after a failure it reconnects by itself, and what
// was published meanwhile is lost: use messages as hints (wake up, look
// again), never as the only copy of anything. Publish with Client::Command
// ({"PUBLISH", channel, payload}).
class Subscription {
 public:
  Subscription(ClientOptions options, std::string channel, std::function<void(std::string)> on_message);
  ~Subscription();  // stops and joins the thread (within about 200 ms)

  // True once the SUBSCRIBE was sent on a connection (for tests and health).
  bool subscribed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct CacheOptions {
  bool enabled = false;
  std::chrono::milliseconds ttl{std::chrono::minutes(5)};
  std::string service;  // key namespace, e.g. "profiles"
};

// Cache-aside for entities serialized as bytes. Keys start with the org:
// "<org>:<service>:<kind>:<id>". A miss loads from the store once per key even
// under concurrent misses (single-flight), then stores the value with a TTL
// unless an invalidation of that key happened meanwhile (a per-key generation
// checked atomically by a script), so a slow reader cannot put back a value
// older than a committed write. Every Redis failure falls through to the
// loader; invalidations that could not reach Redis are retried before the
// cache is trusted again.
class EntityCache {
 public:
  EntityCache(Client* client, CacheOptions options);
  ~EntityCache();

  std::string Key(const std::string& org, const std::string& kind, const std::string& id) const;

  // Returns the cached bytes, or load()'s result (cached when OK). load's
  // errors (e.g. NOT_FOUND) are returned as they are and never cached. When
  // the cache is disabled this is just load().
  absl::StatusOr<std::string> GetOrLoad(const std::string& key,
                                        const std::function<absl::StatusOr<std::string>()>& load);

  // Call after the write that changed the entity has committed.
  void Invalidate(const std::string& key);

  // Invalidate on the cache's own thread, then call then(): for callers that
  // must not wait on Redis, such as a store's writer thread completing a
  // write. Invalidations run in the order they were asked for; then() runs
  // after its invalidation (at once, on the caller's thread, when the cache
  // is disabled).
  void InvalidateThen(const std::string& key, std::function<void()> then);

  bool enabled() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rapport::redis

#endif  // RAPPORT_SERVICES_COMMON_REDIS_CLIENT_H_
