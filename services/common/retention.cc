#include "services/common/retention.h"

#include <utility>

#include "absl/time/clock.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport {
namespace {

PollingLoop::Options PrunerLoop() {
  PollingLoop::Options options;
  options.what = "retention pruner";
  options.idle = kRetentionEvery;
  options.retry = kRetentionEvery;
  return options;
}

}  // namespace

RetentionPruner::RetentionPruner(db::Database* db, std::vector<RetentionRule> rules)
    : db_(db), rules_(std::move(rules)), loop_(PrunerLoop(), [this] { return PruneOnce(); }) {}

RetentionPruner::~RetentionPruner() { Stop(); }

void RetentionPruner::Start() { loop_.Start(); }

void RetentionPruner::Stop() { loop_.Stop(); }

absl::StatusOr<bool> RetentionPruner::PruneOnce() {
  const int64_t now = ToMicros(absl::Now());
  bool more = false;
  for (const RetentionRule& rule : rules_) {
    ASSIGN_OR_RETURN(bool full, db::DeleteOldest(*db_, rule.table, rule.key, rule.time_column, now - rule.keep.count(),
                                                 kRetentionChunk));
    more |= full;
  }
  return more;
}

}  // namespace rapport
