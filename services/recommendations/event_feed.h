// The recommendations service's event feed, step 3 of its start-up
// (backfill.h): a consumer group of this replica alone,
// "recommendations-<consumer name>", created at the stream position noted
// before the backfill, applies every event to the read model and invalidates
// the cached results the event may change (ApplyAndInvalidate). Each replica
// needs every event, so replicas never share a group; a group outlives its
// process only when the process was killed, so the feed destroys what killed
// runs left before it starts (SweepGroups) and its own group when it stops.
//
// Thread-safety: an EventFeed is driven by one owner thread (CatchUp, Start,
// Stop); events are applied on the consumer's thread.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_EVENT_FEED_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_EVENT_FEED_H_

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/event_consumer.h"
#include "services/common/redis_client.h"
#include "services/recommendations/read_model.h"
#include "services/recommendations/result_cache.h"

namespace rapport::recommendations {

// Every replica's consumer group is this followed by its consumer name.
inline constexpr char kGroupPrefix[] = "recommendations-";

struct EventFeedOptions {
  std::string internal_key;  // required: entries not signed under it are dead-lettered
  std::string stream = events::kEventStream;
  std::string consumer_name = "recommendations-1";  // unique per replica
  std::string start_id = "0";                       // the position noted before the backfill
  // Another replica's group whose consumers have all been idle this long was
  // left by a killed process.
  std::chrono::milliseconds abandoned_after{600000};
  // When set, each event is applied under it (a late org backfill holds it:
  // org_backfills.h).
  std::mutex* apply_mu = nullptr;
};

// Applies e to model, then bumps the cache generations of the answers it may
// change: interactions and introductions change only their owner's answers;
// everything else (users, contacts, memberships, ledger rows) may also change
// what teammates see (paths, groups), so it bumps the org's generation too.
absl::Status ApplyAndInvalidate(const events::v1::Event& e, ReadModel* model, ResultCache* cache);

// Destroys the stream's groups named `prefix`...: `own` (this replica's
// group, left by an earlier run that was killed), and any other whose
// consumers have all been idle longer than `abandoned_after` (a live replica
// polls every 50 ms; a group with no consumer yet is being created and is
// kept). Returns how many groups it destroyed.
absl::StatusOr<int> SweepGroups(redis::Client* redis, const std::string& stream, const std::string& prefix,
                                const std::string& own, std::chrono::milliseconds abandoned_after);

class EventFeed {
 public:
  // redis, model and cache must outlive the feed.
  EventFeed(redis::Client* redis, ReadModel* model, ResultCache* cache, EventFeedOptions options);
  ~EventFeed();  // Stop()

  // Before the service serves: sweeps the groups killed runs left (a failure
  // is logged, not fatal), creates this replica's group at start_id and
  // applies what the stream holds after it, batch after batch, until a poll
  // brings nothing or fails, or stop_requested() says the process is
  // stopping.
  void CatchUp(const std::function<bool()>& stop_requested);
  // Consumes in the background from where CatchUp left off.
  void Start();
  // Stops consuming and destroys this replica's group: nothing is left
  // behind in Redis. Idempotent.
  void Stop();

  const std::string& group() const { return group_; }

 private:
  redis::Client* redis_;
  EventFeedOptions options_;
  std::string group_;
  events::EventConsumer consumer_;
  bool stopped_ = false;
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_EVENT_FEED_H_
