// A builder of small hand-made networks for the recommendations unit tests:
// every call applies the event the owning service would emit, so the tests
// exercise ReadModel::Apply as well as the logic. Times are days before a
// fixed `now` (2026-06-15T12:00:00Z). Not thread-safe; one per test.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_TEST_NETWORK_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_TEST_NETWORK_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "rapport/events/v1/events.pb.h"
#include "services/common/time_util.h"
#include "services/recommendations/read_model.h"
#include "services/recommendations/recommendations_logic.h"

namespace rapport::recommendations::testing {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;

class TestNetwork {
 public:
  static constexpr int64_t kDayUs = int64_t{86400} * 1000000;
  const int64_t now = ToMicros(absl::FromCivil(absl::CivilSecond(2026, 6, 15, 12, 0, 0), absl::UTCTimeZone()));
  ReadModel model;

  void Apply(const std::string& org, const std::string& user, const std::string& type,
             const std::function<void(events::v1::Event&)>& fill, int64_t time_us = 0) {
    events::v1::Event e;
    e.set_type(type);
    e.set_org_id(org);
    e.set_user_id(user);
    *e.mutable_time() = ToTimestamp(time_us == 0 ? now : time_us);
    fill(e);
    last_event = e;
    absl::Status s = model.Apply(e);
    if (!s.ok()) abort();
  }

  void User(const std::string& org, const std::string& id, const std::string& name,
            const std::function<void(ppb::Profile&)>& edit = nullptr, const std::string& email = "") {
    Apply(org, id, "user.created", [&](events::v1::Event& e) {
      e.mutable_user()->mutable_user()->set_id(id);
      e.mutable_user()->mutable_user()->set_email(email);
      e.mutable_user()->mutable_user()->set_display_name(name);
      e.mutable_user()->mutable_user()->set_timezone("UTC");
      ppb::Profile* p = e.mutable_user()->mutable_profile();
      p->set_user_id(id);
      p->set_display_name(name);
      p->set_timezone("UTC");
      if (edit) edit(*p);
    });
  }

  ppb::Contact Contact(const std::string& org, const std::string& user, const std::string& id, const std::string& name,
                       const std::function<void(ppb::Contact&)>& edit = nullptr) {
    ppb::Contact c;
    c.set_id(id);
    c.set_display_name(name);
    c.set_tier(ppb::NETWORK);
    c.set_visibility(ppb::PRIVATE);
    *c.mutable_create_time() = ToTimestamp(now - 365 * kDayUs);
    if (edit) edit(c);
    Apply(org, user, "contact.created", [&](events::v1::Event& e) { *e.mutable_contact()->mutable_contact() = c; });
    return c;
  }

  void DeleteContact(const std::string& org, const std::string& user, const std::string& id) {
    Apply(org, user, "contact.deleted",
          [&](events::v1::Event& e) { e.mutable_contact()->mutable_contact()->set_id(id); });
  }

  // The ledger row as interactions would publish it at now.
  void Ledger(const std::string& org, const std::string& user, const std::string& contact, double strength,
              double given, double received, int last_days_ago, int cadence_days = 90) {
    Apply(org, user, "ledger.changed", [&](events::v1::Event& e) {
      ipb::LedgerEntry* l = e.mutable_ledger();
      l->set_contact_id(contact);
      l->set_strength(strength);
      l->set_given(given);
      l->set_received(received);
      l->set_balance(given - received);
      l->set_interaction_count(1);
      l->set_cadence_days(cadence_days);
      if (last_days_ago >= 0) *l->mutable_last_interaction_time() = ToTimestamp(now - last_days_ago * kDayUs);
    });
  }

  void Interaction(const std::string& org, const std::string& user, const std::string& id, ipb::InteractionKind kind,
                   ipb::Direction direction, int days_ago, const std::vector<std::string>& contacts,
                   const std::string& type = "interaction.created") {
    Apply(org, user, type, [&](events::v1::Event& e) {
      ipb::Interaction* i = e.mutable_interaction();
      i->set_id(id);
      i->set_kind(kind);
      i->set_direction(direction);
      *i->mutable_occurred_at() = ToTimestamp(now - days_ago * kDayUs);
      for (const auto& c : contacts) i->add_contact_ids(c);
    });
  }

  void Introduction(const std::string& org, const std::string& user, const std::string& id, const std::string& a,
                    const std::string& b, ipb::IntroductionState state) {
    Apply(org, user, "introduction.requested", [&](events::v1::Event& e) {
      ipb::Introduction* i = e.mutable_introduction();
      i->set_id(id);
      i->set_mode(ipb::CONNECT);
      i->set_contact_a_id(a);
      i->set_contact_b_id(b);
      i->set_state(state);
    });
  }

  void Member(const std::string& org, const std::string& user, const std::string& group_id, const std::string& name,
              ppb::GroupKind kind, const std::string& member, ppb::MemberRole role = ppb::MEMBER) {
    Apply(org, user, "group.member_added", [&](events::v1::Event& e) {
      auto* m = e.mutable_group_member();
      m->set_group_id(group_id);
      m->set_member_id(member);
      m->set_role(role);
      m->mutable_group()->set_id(group_id);
      m->mutable_group()->set_display_name(name);
      m->mutable_group()->set_kind(kind);
    });
  }

  // Runs fn with the acting user's query on org.
  template <typename Fn>
  auto With(const std::string& org, const std::string& user, Fn fn, Settings settings = Settings{}) {
    decltype(fn(std::declval<const Query&>())) result;
    model.Read(org, [&](const OrgGraph& g) { result = fn(Query{g, user, now, settings}); });
    return result;
  }

  events::v1::Event last_event;
};

}  // namespace rapport::recommendations::testing

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_TEST_NETWORK_H_
