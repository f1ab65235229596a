// Records when each API key was last used, cheaply: VerifyApiKey calls Used
// for every key it accepts (at most once per key per gateway verdict cache
// period, 5 s), and this writes the key's last_used_us at most once a minute
// per key and process, so the key's last use (GET /v1/apiKeys) lags the true
// one by at most that interval plus the gateway's cache. The write is
// asynchronous and its failure only logged: a missed record is not worth
// failing a request over.
//
// Thread-safety: Used may be called concurrently.
#ifndef RAPPORT_SERVICES_PROFILES_KEY_USE_H_
#define RAPPORT_SERVICES_PROFILES_KEY_USE_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rapport::profiles {

class ProfilesStore;

class KeyUseRecorder {
 public:
  // store must outlive the recorder.
  explicit KeyUseRecorder(ProfilesStore* store, absl::Duration every = absl::Minutes(1));

  // Notes a use of the key at now_us; returns whether it started a write.
  bool Used(const std::string& org_id, const std::string& key_id, int64_t now_us);

 private:
  ProfilesStore* const store_;
  const int64_t every_us_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int64_t> written_ ABSL_GUARDED_BY(mu_);  // "org/key" -> last write's time
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_KEY_USE_H_
