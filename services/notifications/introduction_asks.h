// Notifications about warm-path asks made through a teammate (issue 19,
// POST /v1/paths:ask in interactions): the request lands in the teammate's
// inbox (kind "introduction_ask"), and their answer in the asker's
// ("introduction_answer"). Asks through an outside contact notify nobody:
// the asker records those answers themself.
//
// Applied by NotificationsStore::ApplyEvent inside the event's transaction,
// once per event (dedupe keys per introduction and step). Stateless;
// thread-safety is that of the Connection passed in.
#ifndef RAPPORT_SERVICES_NOTIFICATIONS_INTRODUCTION_ASKS_H_
#define RAPPORT_SERVICES_NOTIFICATIONS_INTRODUCTION_ASKS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/db.h"

namespace rapport::notifications {

inline constexpr char kIntroductionAskKind[] = "introduction_ask";
inline constexpr char kIntroductionAnswerKind[] = "introduction_answer";

// introduction.requested naming a via_user_id: a notification for that
// teammate; introduction.accepted / .declined of such an ask: one for the
// asker. Any other event: nothing.
absl::Status ApplyIntroductionAsk(db::Connection& conn, const events::v1::Event& event, absl::Time now);

}  // namespace rapport::notifications

#endif  // RAPPORT_SERVICES_NOTIFICATIONS_INTRODUCTION_ASKS_H_
