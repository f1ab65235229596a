// Fair shares of the gateway's open connections and event streams: counts
// what each client (a client address, or a credential for event streams)
// holds open and refuses more than `limit` at once, so that one client
// cannot take every connection of the cap while others wait outside.
//
// TryTake returns a Slot that holds one unit of the key's share until it is
// destroyed (a connection closing, an event stream ending); keys holding
// nothing are forgotten, so the map is bounded by what is open.
//
// Thread-safety: ShareCounter is safe for concurrent use and must outlive its
// Slots; a Slot may be destroyed on any thread.
#ifndef RAPPORT_GATEWAY_CLIENT_SHARE_H_
#define RAPPORT_GATEWAY_CLIENT_SHARE_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace rapport::gateway {

// A per-client share of a cap: at most cap * percent / 100, at least 1;
// 0 (no share) when the cap or the percentage is 0 or the share would be the
// whole cap.
int ShareOf(int cap, int percent);

class ShareCounter {
 public:
  // One unit of a key's share, given back on destruction.
  class Slot {
   public:
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { owner_->Give(key_); }

   private:
    friend class ShareCounter;
    Slot(ShareCounter* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    ShareCounter* const owner_;
    const std::string key_;
  };

  // A unit of key's share when it holds fewer than limit (limit <= 0: no
  // limit, counted all the same), else null.
  std::unique_ptr<Slot> TryTake(const std::string& key, int limit);
  // What key holds now.
  int Held(const std::string& key);

 private:
  void Give(const std::string& key);
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_CLIENT_SHARE_H_
