// A fixed set of connections lent out one at a time, for the database
// drivers: Lease blocks until a connection is idle and gives it back when it
// goes out of scope. The pool does not own the connections; the driver does.
//
// Thread-safety: Lease may be taken from any thread; a leased connection is
// its holder's alone until the Lease ends.
#ifndef RAPPORT_SERVICES_COMMON_CONNECTION_POOL_H_
#define RAPPORT_SERVICES_COMMON_CONNECTION_POOL_H_

#include <condition_variable>
#include <mutex>
#include <vector>

namespace rapport::db {

template <typename Conn>
class ConnectionPool {
 public:
  void Add(Conn* conn) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(conn);
  }

  class Lease {
   public:
    explicit Lease(ConnectionPool& pool) : pool_(pool) {
      std::unique_lock<std::mutex> lock(pool_.mu_);
      pool_.cv_.wait(lock, [this] { return !pool_.idle_.empty(); });
      conn_ = pool_.idle_.back();
      pool_.idle_.pop_back();
    }
    ~Lease() {
      {
        std::lock_guard<std::mutex> lock(pool_.mu_);
        pool_.idle_.push_back(conn_);
      }
      pool_.cv_.notify_one();
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Conn* operator->() const { return conn_; }
    Conn& operator*() const { return *conn_; }

   private:
    ConnectionPool& pool_;
    Conn* conn_ = nullptr;
  };

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Conn*> idle_;
};

}  // namespace rapport::db

#endif  // RAPPORT_SERVICES_COMMON_CONNECTION_POOL_H_
