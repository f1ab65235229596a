#include "services/profiles/key_use.h"

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {
namespace {

// Beyond this many keys the map is emptied: at worst each key writes once more.
constexpr size_t kMaxTracked = 100000;

}  // namespace

KeyUseRecorder::KeyUseRecorder(ProfilesStore* store, absl::Duration every)
    : store_(store), every_us_(absl::ToInt64Microseconds(every)) {}

bool KeyUseRecorder::Used(const std::string& org_id, const std::string& key_id, int64_t now_us) {
  const std::string k = absl::StrCat(org_id, "/", key_id);
  {
    absl::MutexLock lock(&mu_);
    auto it = written_.find(k);
    if (it != written_.end() && now_us - it->second < every_us_) return false;
    if (it == written_.end() && written_.size() >= kMaxTracked) written_.clear();
    written_[k] = now_us;
  }
  store_->TouchApiKey(org_id, key_id, now_us, [org_id, key_id](absl::Status s) {
    if (!s.ok()) log::Warn("cannot record an API key's use", {{"key", key_id}, {"error", s.ToString()}});
  });
  return true;
}

}  // namespace rapport::profiles
