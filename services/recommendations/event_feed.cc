#include "services/recommendations/event_feed.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/status.h"

namespace rapport::recommendations {
namespace {

// A field of an XINFO reply entry: RESP2 [name, value, name, value, ...].
const redis::Reply* InfoField(const redis::Reply& entry, const std::string& name) {
  if (entry.type != redis::Reply::Type::kArray) return nullptr;
  for (size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
    if (entry.elements[i].str == name) return &entry.elements[i + 1];
  }
  return nullptr;
}

// At most this many batches before serving: the catch-up ends even when
// events arrive faster than they are applied.
constexpr int kMaxCatchUpPolls = 10000;

}  // namespace

absl::Status ApplyAndInvalidate(const events::v1::Event& e, ReadModel* model, ResultCache* cache) {
  // Audit entries are profiles' (services/common/audit.h): nothing here changes.
  if (e.payload_case() == events::v1::Event::kAudit) return absl::OkStatus();
  // An update of fields the model does not keep changes no answer: the
  // org's cached answers stay.
  if (!ReadModelConcerns(e)) return absl::OkStatus();
  RETURN_IF_ERROR(model->Apply(e));
  // Introductions are org-wide too: one a teammate made for the user weighs
  // in the user's paths through that teammate.
  const bool org_wide = e.payload_case() != events::v1::Event::kInteraction;
  cache->Invalidate(e.org_id(), e.user_id(), org_wide);
  return absl::OkStatus();
}

absl::StatusOr<int> SweepGroups(redis::Client* redis, const std::string& stream, const std::string& prefix,
                                const std::string& own, std::chrono::milliseconds abandoned_after) {
  absl::StatusOr<redis::Reply> groups = redis->Command({"XINFO", "GROUPS", stream});
  if (!groups.ok()) {
    // No stream yet: no group either.
    if (absl::StrContains(groups.status().message(), "no such key")) return 0;
    return groups.status();
  }
  if (groups->type != redis::Reply::Type::kArray) return absl::InternalError("XINFO GROUPS reply is not an array");
  int destroyed = 0;
  for (const redis::Reply& group : groups->elements) {
    const redis::Reply* name = InfoField(group, "name");
    if (name == nullptr || !absl::StartsWith(name->str, prefix)) continue;
    bool abandoned = name->str == own;
    if (!abandoned) {
      ASSIGN_OR_RETURN(redis::Reply consumers, redis->Command({"XINFO", "CONSUMERS", stream, name->str}));
      if (consumers.type != redis::Reply::Type::kArray) {
        return absl::InternalError("XINFO CONSUMERS reply is not an array");
      }
      abandoned = !consumers.elements.empty();
      for (const redis::Reply& consumer : consumers.elements) {
        const redis::Reply* idle = InfoField(consumer, "idle");
        if (idle == nullptr || idle->integer <= abandoned_after.count()) abandoned = false;
      }
    }
    if (!abandoned) continue;
    ASSIGN_OR_RETURN(bool gone, events::DestroyGroup(redis, stream, name->str));
    if (gone) ++destroyed;
  }
  return destroyed;
}

namespace {

events::ConsumerOptions ConsumerOptionsOf(const EventFeedOptions& options) {
  events::ConsumerOptions consumer;
  consumer.internal_key = options.internal_key;
  consumer.stream = options.stream;
  consumer.consumer = options.consumer_name;
  consumer.group = absl::StrCat(kGroupPrefix, options.consumer_name);
  consumer.start_id = options.start_id;
  return consumer;
}

}  // namespace

EventFeed::EventFeed(redis::Client* redis, ReadModel* model, ResultCache* cache, EventFeedOptions options)
    : redis_(redis),
      options_(std::move(options)),
      group_(absl::StrCat(kGroupPrefix, options_.consumer_name)),
      consumer_(redis, ConsumerOptionsOf(options_), [model, cache, mu = options_.apply_mu](const events::v1::Event& e) {
        if (mu == nullptr) return ApplyAndInvalidate(e, model, cache);
        std::lock_guard<std::mutex> lock(*mu);
        return ApplyAndInvalidate(e, model, cache);
      }) {}

EventFeed::~EventFeed() { Stop(); }

void EventFeed::CatchUp(const std::function<bool()>& stop_requested) {
  // What killed runs left in Redis; the group is then created at start_id.
  absl::StatusOr<int> swept = SweepGroups(redis_, options_.stream, kGroupPrefix, group_, options_.abandoned_after);
  if (!swept.ok()) {
    log::Warn("cannot sweep abandoned consumer groups", {{"error", swept.status().ToString()}});
  } else if (*swept > 0) {
    log::Info("destroyed abandoned consumer groups", {{"groups", std::to_string(*swept)}});
  }
  // Catch up with what happened during the backfill before serving.
  for (int i = 0; i < kMaxCatchUpPolls && !stop_requested(); ++i) {
    absl::StatusOr<int> handled = consumer_.PollOnce();
    if (!handled.ok() || *handled == 0) break;
  }
}

void EventFeed::Start() { consumer_.Start(); }

void EventFeed::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // The group is this process's alone: leave no state behind in Redis.
  absl::Status destroyed = consumer_.StopAndDestroyGroup();
  if (!destroyed.ok()) {
    log::Warn("cannot destroy the consumer group", {{"group", group_}, {"error", destroyed.ToString()}});
  }
}

}  // namespace rapport::recommendations
