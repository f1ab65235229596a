#include "services/notifications/introduction_asks.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"
#include "services/notifications/inbox_store.h"
#include "services/notifications/run_store.h"

namespace rapport::notifications {

absl::Status ApplyIntroductionAsk(db::Connection& conn, const events::v1::Event& e, absl::Time now) {
  if (!e.has_introduction() || e.introduction().via_user_id().empty()) return absl::OkStatus();
  const auto& intro = e.introduction();
  const std::string target = intro.target().empty() ? std::string("someone") : intro.target();
  pb::Notification n;
  n.set_introduction_id(intro.id());
  if (e.type() == "introduction.requested") {
    // The teammate asked: their inbox, whoever's event it is.
    const Owner teammate{e.org_id(), intro.via_user_id()};
    RETURN_IF_ERROR(EnsureUser(conn, teammate, now));
    n.set_kind(kIntroductionAskKind);
    n.set_title(absl::StrCat("A teammate asks you to introduce them to ", target));
    n.set_body(intro.reason());
    return AddNotification(conn, teammate, n, absl::StrCat("introduction-ask:", intro.id()), ToMicros(now)).status();
  }
  const bool accepted = e.type() == "introduction.accepted";
  if (!accepted && e.type() != "introduction.declined") return absl::OkStatus();
  const Owner asker{e.org_id(), e.user_id()};
  n.set_kind(kIntroductionAnswerKind);
  n.set_title(absl::StrCat("Your teammate ", accepted ? "accepted" : "declined", " your request to meet ", target));
  return AddNotification(conn, asker, n, absl::StrCat("introduction-answer:", intro.id()), ToMicros(now)).status();
}

}  // namespace rapport::notifications
