#include "services/recommendations/result_cache.h"

#include "absl/strings/str_cat.h"
#include "services/common/crypto.h"
#include "services/common/log.h"
#include "services/common/time_util.h"

namespace rapport::recommendations {
namespace {

std::string UserGenKey(const std::string& org, const std::string& user) {
  return absl::StrCat(org, ":recommendations:gen:", user);
}
std::string OrgGenKey(const std::string& org) { return absl::StrCat(org, ":recommendations:gen"); }

std::string Generation(const redis::Reply& r) { return r.type == redis::Reply::Type::kString ? r.str : "0"; }

}  // namespace

ResultCache::ResultCache(redis::Client* redis, ResultCacheOptions options) : redis_(redis), options_(options) {}

bool ResultCache::Trusted() const { return NowMicros() / 1000 >= untrusted_until_ms_.load(); }

absl::StatusOr<std::string> ResultCache::GetOrCompute(const std::string& org, const std::string& user,
                                                      const std::string& rpc, const std::string& request_bytes,
                                                      bool org_wide,
                                                      const std::function<absl::StatusOr<std::string>()>& compute) {
  if (!options_.enabled || !Trusted()) return compute();
  absl::StatusOr<redis::Reply> gens = redis_->Command({"MGET", UserGenKey(org, user), OrgGenKey(org)});
  if (!gens.ok() || gens->elements.size() != 2) return compute();
  const std::string key =
      absl::StrCat(org, ":recommendations:r:", user, ":", rpc, ":", Generation(gens->elements[0]), ":",
                   org_wide ? Generation(gens->elements[1]) : "-", ":", HexEncode(Sha256(request_bytes)));
  absl::StatusOr<redis::Reply> cached = redis_->Command({"GET", key});
  if (cached.ok() && cached->type == redis::Reply::Type::kString) {
    hits_.fetch_add(1);
    return cached->str;
  }
  misses_.fetch_add(1);
  absl::StatusOr<std::string> value = compute();
  if (value.ok() && cached.ok()) {
    // Best effort: a failed write only costs a later recomputation.
    (void)redis_->Command({"SET", key, *value, "PX", std::to_string(options_.ttl.count())});
  }
  return value;
}

void ResultCache::Invalidate(const std::string& org, const std::string& user, bool org_wide) {
  if (!options_.enabled) return;
  std::vector<std::vector<std::string>> commands;
  if (!user.empty()) commands.push_back({"INCR", UserGenKey(org, user)});
  if (org_wide || user.empty()) commands.push_back({"INCR", OrgGenKey(org)});
  absl::StatusOr<std::vector<redis::Reply>> replies = redis_->Pipeline(commands);
  bool ok = replies.ok();
  if (ok) {
    for (const redis::Reply& r : *replies) ok = ok && r.type == redis::Reply::Type::kInteger;
  }
  if (!ok) {
    // Results cached before this event may still be found under the old
    // generation: stop reading the cache until they have all expired.
    untrusted_until_ms_.store(NowMicros() / 1000 + options_.ttl.count());
    log::Warn("result cache invalidation failed; bypassing the cache for one TTL", {{"org", org}});
  }
}

}  // namespace rapport::recommendations
