#include "services/common/retention.h"

#include <utility>

#include "absl/time/clock.h"
#include "services/common/status.h"
#include "services/common/time_util.h"

namespace rapport {
namespace {

constexpr std::chrono::minutes kPruneEvery{1};
constexpr int kPruneChunk = 5000;

PollingLoop::Options PrunerLoop() {
  PollingLoop::Options options;
  options.what = "retention pruner";
  options.idle = kPruneEvery;
  options.retry = kPruneEvery;
  return options;
}

}  // namespace

RetentionPruner::RetentionPruner(sqlite::Database* db, std::vector<RetentionRule> rules)
    : db_(db), rules_(std::move(rules)), loop_(PrunerLoop(), [this] { return PruneOnce(); }) {}

RetentionPruner::~RetentionPruner() { Stop(); }

void RetentionPruner::Start() { loop_.Start(); }

void RetentionPruner::Stop() { loop_.Stop(); }

absl::StatusOr<bool> RetentionPruner::PruneOnce() {
  const int64_t now = ToMicros(absl::Now());
  bool more = false;
  for (const RetentionRule& rule : rules_) {
    ASSIGN_OR_RETURN(bool full, sqlite::DeleteOldest(*db_, rule.table, rule.key, rule.time_column,
                                                     now - rule.keep.count(), kPruneChunk));
    more |= full;
  }
  return more;
}

}  // namespace rapport
