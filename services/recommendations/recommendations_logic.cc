#include "services/recommendations/recommendations_logic.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"

namespace rapport::recommendations {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;

constexpr int64_t kDayUs = int64_t{86400} * 1000000;

double TieWeight(const OrgGraph& g, uint32_t c, int64_t now) {
  return std::max(StrengthAt(g.edges[c].log_anchor, now), 5.0) / 100.0;
}

int TierWeight(int tier) {
  switch (tier) {
    case ppb::INNER:
      return 8;
    case ppb::CLOSE:
      return 4;
    case ppb::ACQUAINTANCE:
      return 1;
    default:
      return 2;
  }
}

std::string TierName(int tier) { return ppb::Tier_Name(static_cast<ppb::Tier>(tier)); }

std::string Num(double v) { return absl::StrFormat("%.1f", v); }
std::string Whole(double v) { return absl::StrFormat("%.0f", v); }

std::string Date(int64_t us) { return absl::FormatTime("%Y-%m-%d", FromMicros(us), absl::UTCTimeZone()); }

pb::ContactSummary Summary(const OrgGraph& g, uint32_t c) {
  pb::ContactSummary s;
  const ContactInfo& info = g.info[c];
  s.set_id(info.id);
  s.set_display_name(info.display_name);
  s.set_company(info.company);
  s.set_title(info.title);
  s.set_tier(static_cast<ppb::Tier>(info.tier));
  return s;
}

// Orders by score descending, then by the contact's name and id.
template <typename T>
void SortByScore(std::vector<T>& items) {
  std::stable_sort(items.begin(), items.end(), [](const T& a, const T& b) {
    if (a.score() != b.score()) return a.score() > b.score();
    if (a.contact().display_name() != b.contact().display_name()) {
      return a.contact().display_name() < b.contact().display_name();
    }
    return a.contact().id() < b.contact().id();
  });
}

// Days until each (month, day) within the coming week in the user's
// timezone, -1 elsewhere: built once per query so that a ranking of many
// contacts does no calendar arithmetic per contact.
class BirthdayWindow {
 public:
  BirthdayWindow(const UserNode& user, int64_t now_us, int days) {
    for (auto& m : days_) std::fill(std::begin(m), std::end(m), static_cast<int8_t>(-1));
    absl::TimeZone tz = absl::UTCTimeZone();
    if (!user.timezone.empty()) absl::LoadTimeZone(user.timezone, &tz);
    absl::CivilDay today = absl::ToCivilDay(FromMicros(now_us), tz);
    for (int k = days; k >= 0; --k) {
      absl::CivilDay d = today + k;
      days_[d.month()][d.day()] = static_cast<int8_t>(k);
      // Feb 29 birthdays fall on Feb 28 in common years.
      if (d.month() == 2 && d.day() == 28 && absl::CivilDay(d.year(), 2, 29).month() != 2) days_[2][29] = k;
    }
  }
  int DaysUntil(const ContactInfo& info) const {
    if (info.birthday_month < 1 || info.birthday_month > 12 || info.birthday_day > 31) return -1;
    return days_[info.birthday_month][info.birthday_day];
  }

 private:
  int8_t days_[13][32];
};

const UserNode* Me(const Query& q, uint32_t* index) {
  auto it = q.graph.user_index.find(q.user_id);
  if (it == q.graph.user_index.end()) return nullptr;
  *index = it->second;
  return &q.graph.users[it->second];
}

// Latest alive interaction time per contact of the user.
absl::flat_hash_map<uint32_t, int64_t> LatestPerContact(const OrgGraph& g, const UserNode& u) {
  absl::flat_hash_map<uint32_t, int64_t> latest;
  for (uint32_t i : u.interactions) {
    const InteractionRec& r = g.interactions[i];
    if (!r.alive) continue;
    for (uint32_t c : r.contacts) {
      int64_t& t = latest[c];
      t = std::max(t, r.occurred_us);
    }
  }
  return latest;
}

bool IsConversation(uint8_t kind) { return kind == ipb::CONVERSATION || kind == ipb::MEETING || kind == ipb::CALL; }

std::string KindWord(uint8_t kind) {
  std::string s = absl::AsciiStrToLower(ipb::InteractionKind_Name(static_cast<ipb::InteractionKind>(kind)));
  for (char& ch : s) {
    if (ch == '_') ch = ' ';
  }
  return s;
}

// "a meeting", "an introduction".
std::string WithArticle(const std::string& word) {
  bool vowel = !word.empty() && std::string_view("aeiou").find(word[0]) != std::string_view::npos;
  return absl::StrCat(vowel ? "an " : "a ", word);
}

std::string TagList(const OrgGraph& g, const std::vector<uint32_t>& tags) {
  std::vector<std::string> names;
  for (uint32_t t : tags) names.push_back(g.Tag(t));
  return absl::StrJoin(names, ", ");
}

}  // namespace

// --- reach outs ---

std::vector<pb::ReachOut> ReachOuts(const Query& q) {
  std::vector<pb::ReachOut> out;
  uint32_t me;
  const UserNode* u = Me(q, &me);
  if (u == nullptr) return out;
  const OrgGraph& g = q.graph;
  const BirthdayWindow birthdays(*u, q.now_us, 7);
  struct Scored {
    double score;
    uint32_t contact;
    int overdue;
    int birthday_in;
    double strength;
  };
  // Score every overdue contact cheaply; build the reasons for the top only.
  std::vector<Scored> scored;
  scored.reserve(u->contacts.size());
  for (uint32_t c : u->contacts) {
    const ContactInfo& info = g.info[c];
    if (info.last_us == 0) continue;
    const int64_t due = info.last_us + int64_t{info.cadence_days} * kDayUs;
    if (q.now_us < due) continue;
    const int overdue = static_cast<int>((q.now_us - due) / kDayUs);
    const double strength = StrengthAt(g.edges[c].log_anchor, q.now_us);
    const double balance = g.edges[c].balance;
    double score = TierWeight(info.tier) * (1.0 + std::min(static_cast<double>(overdue) / info.cadence_days, 3.0)) *
                   std::max(strength, 5.0) / 100.0;
    const int days = birthdays.DaysUntil(info);
    if (days >= 0) score *= 1.5;
    if (balance < 0) score *= 1.0 + std::min(-static_cast<double>(balance), 10.0) / 10.0;
    scored.push_back({score, c, overdue, days, strength});
  }
  auto better = [&](const Scored& a, const Scored& b) {
    if (a.score != b.score) return a.score > b.score;
    const ContactInfo& x = g.info[a.contact];
    const ContactInfo& y = g.info[b.contact];
    return std::tie(x.display_name, x.id) < std::tie(y.display_name, y.id);
  };
  const size_t keep = std::min(scored.size(), q.limit);
  std::partial_sort(scored.begin(), scored.begin() + keep, scored.end(), better);
  scored.resize(keep);
  for (const Scored& s : scored) {
    const uint32_t c = s.contact;
    const ContactInfo& info = g.info[c];
    const double balance = g.edges[c].balance;
    pb::ReachOut item;
    item.add_reasons(absl::StrCat("Overdue by ", s.overdue, " days: last interaction ", Date(info.last_us),
                                  ", cadence ", info.cadence_days, " days."));
    item.add_reasons(absl::StrCat(TierName(info.tier), " tie, strength ", Whole(s.strength), "."));
    if (s.birthday_in >= 0) {
      item.add_reasons(s.birthday_in == 0 ? std::string("Their birthday is today.")
                                          : absl::StrCat("Their birthday is in ", s.birthday_in,
                                                         s.birthday_in == 1 ? " day." : " days."));
    }
    if (balance < 0) {
      item.add_reasons(absl::StrCat("You owe them: balance ", Num(balance), " (they gave ", Num(info.received),
                                    ", you gave ", Num(info.given), ")."));
    }
    *item.mutable_contact() = Summary(g, c);
    item.set_score(s.score);
    item.set_overdue_days(s.overdue);
    item.set_strength(std::round(s.strength * 100) / 100);
    item.set_balance(balance);
    out.push_back(std::move(item));
  }
  return out;
}

// --- give backs ---

std::vector<pb::GiveBack> GiveBacks(const Query& q) {
  std::vector<pb::GiveBack> out;
  uint32_t me;
  const UserNode* u = Me(q, &me);
  if (u == nullptr) return out;
  const OrgGraph& g = q.graph;
  // Kinds each contact gave the user, and when they last gave.
  absl::flat_hash_map<uint32_t, uint32_t> received_kinds;
  absl::flat_hash_map<uint32_t, int64_t> last_received;
  for (uint32_t i : u->interactions) {
    const InteractionRec& r = g.interactions[i];
    if (!r.alive || r.direction != ipb::RECEIVED) continue;
    for (uint32_t c : r.contacts) {
      received_kinds[c] |= 1u << r.kind;
      int64_t& t = last_received[c];
      t = std::max(t, r.occurred_us);
    }
  }
  // Kinds the user gave each contact since that contact last gave: the
  // suggested act logged (GAVE or MUTUAL) is the give-back done.
  absl::flat_hash_map<uint32_t, uint32_t> gave_since;
  for (uint32_t i : u->interactions) {
    const InteractionRec& r = g.interactions[i];
    if (!r.alive || r.direction == ipb::RECEIVED || r.occurred_us > q.now_us) continue;
    for (uint32_t c : r.contacts) {
      auto last = last_received.find(c);
      if (last == last_received.end() || r.occurred_us >= last->second) gave_since[c] |= 1u << r.kind;
    }
  }
  // Who offers each tag, strongest first, for introductions to suggest.
  absl::flat_hash_map<uint32_t, std::vector<std::pair<double, uint32_t>>> offering;
  for (uint32_t c : u->contacts) {
    for (uint32_t t : g.info[c].offering) offering[t].push_back({StrengthAt(g.edges[c].log_anchor, q.now_us), c});
  }
  for (auto& [t, list] : offering) {
    std::sort(list.begin(), list.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first > b.first;
      return g.info[a.second].id < g.info[b.second].id;
    });
  }
  for (uint32_t c : u->contacts) {
    const double balance = g.edges[c].balance;
    if (!(balance < 0)) continue;
    const ContactInfo& info = g.info[c];
    const double strength = StrengthAt(g.edges[c].log_anchor, q.now_us);
    pb::GiveBack item;
    *item.mutable_contact() = Summary(g, c);
    item.set_balance(balance);
    item.set_score(-balance * (1.0 + strength / 100.0));
    item.add_reasons(absl::StrCat("They gave ", Num(info.received), " and received ", Num(info.given),
                                  " from you: balance ", Num(balance), "."));
    // The introduction to suggest: someone else of yours offering what they seek.
    uint32_t match = kNone, match_tag = kNone;
    for (uint32_t t : info.seeking) {
      auto it = offering.find(t);
      if (it == offering.end()) continue;
      for (const auto& [s, d] : it->second) {
        if (d != c) {
          match = d;
          match_tag = t;
          break;
        }
      }
      if (match != kNone) break;
    }
    const uint32_t kinds = received_kinds.contains(c) ? received_kinds[c] : 0;
    ipb::InteractionKind act = ipb::FAVOR;
    for (ipb::InteractionKind k : {ipb::REFERRAL, ipb::INTRODUCTION, ipb::RECOMMENDATION, ipb::ENDORSEMENT}) {
      if (kinds & (1u << k)) {
        act = k;
        break;
      }
    }
    const std::string& name = info.display_name;
    std::string because =
        act == ipb::FAVOR ? std::string() : absl::StrCat(", as they gave you ", WithArticle(KindWord(act)));
    if (act != ipb::FAVOR) item.add_reasons(absl::StrCat("They gave you ", WithArticle(KindWord(act)), "."));
    if (!info.seeking.empty()) item.add_reasons(absl::StrCat("They are seeking: ", TagList(g, info.seeking), "."));
    if ((act == ipb::INTRODUCTION || act == ipb::FAVOR) && match != kNone) {
      act = ipb::INTRODUCTION;
      item.set_suggested_act(absl::StrCat("Introduce ", name, " to ", g.info[match].display_name, ", who offers ",
                                          g.Tag(match_tag), because, "."));
    } else if (act == ipb::REFERRAL) {
      item.set_suggested_act(absl::StrCat("Refer ", name, " for an opportunity", because, "."));
    } else if (act == ipb::INTRODUCTION) {
      item.set_suggested_act(absl::StrCat("Introduce ", name, " to someone who can help them", because, "."));
    } else if (act == ipb::RECOMMENDATION) {
      item.set_suggested_act(absl::StrCat("Write ", name, " a recommendation", because, "."));
    } else if (act == ipb::ENDORSEMENT) {
      item.set_suggested_act(absl::StrCat("Endorse ", name, "'s skills", because, "."));
    } else if (!info.seeking.empty()) {
      item.set_suggested_act(absl::StrCat("Offer ", name, " help with ", TagList(g, info.seeking), "."));
    } else {
      item.set_suggested_act(absl::StrCat("Do ", name, " a favor or send a thank-you note."));
    }
    if (auto done = gave_since.find(c); done != gave_since.end() && (done->second & (1u << act))) continue;
    item.set_suggested_kind(act);
    out.push_back(std::move(item));
  }
  SortByScore(out);
  return out;
}

// --- follow ups ---

std::vector<pb::FollowUp> FollowUps(const Query& q) {
  std::vector<pb::FollowUp> out;
  uint32_t me;
  const UserNode* u = Me(q, &me);
  if (u == nullptr) return out;
  const OrgGraph& g = q.graph;
  absl::flat_hash_map<uint32_t, int64_t> latest = LatestPerContact(g, *u);
  const int64_t window = int64_t{q.settings.follow_up_days} * kDayUs;
  struct Found {
    int64_t occurred;
    const InteractionRec* rec;
    uint32_t contact;
  };
  std::vector<Found> found;
  for (uint32_t i : u->interactions) {
    const InteractionRec& r = g.interactions[i];
    if (!r.alive || !IsConversation(r.kind) || q.now_us - r.occurred_us < window) continue;
    // Past the expiry a follow-up is stale: nobody follows up a meeting of last season.
    if (q.now_us - r.occurred_us > int64_t{q.settings.follow_up_expiry_days} * kDayUs) continue;
    for (uint32_t c : r.contacts) {
      if (!g.edges[c].alive() || latest[c] != r.occurred_us) continue;
      found.push_back({r.occurred_us, &r, c});
    }
  }
  std::sort(found.begin(), found.end(), [&](const Found& a, const Found& b) {
    return std::tie(b.occurred, b.rec->id, g.info[a.contact].display_name) <
           std::tie(a.occurred, a.rec->id, g.info[b.contact].display_name);
  });
  for (const Found& f : found) {
    pb::FollowUp item;
    *item.mutable_contact() = Summary(g, f.contact);
    item.set_interaction_id(f.rec->id);
    item.set_kind(static_cast<ipb::InteractionKind>(f.rec->kind));
    *item.mutable_occurred_at() = ToTimestamp(f.occurred);
    int days = static_cast<int>((q.now_us - f.occurred) / kDayUs);
    item.set_days_since(days);
    item.add_reasons(absl::StrCat("Your ", KindWord(f.rec->kind), " with ", g.info[f.contact].display_name, " on ",
                                  Date(f.occurred), " (", days, " days ago) had no later interaction; ",
                                  q.settings.follow_up_days, " days have passed."));
    out.push_back(std::move(item));
  }
  return out;
}

// --- introductions to make ---

std::vector<pb::IntroductionSuggestion> IntroductionSuggestions(const Query& q) {
  std::vector<pb::IntroductionSuggestion> out;
  uint32_t me;
  const UserNode* u = Me(q, &me);
  if (u == nullptr) return out;
  const OrgGraph& g = q.graph;
  std::vector<std::pair<double, uint32_t>> pool;
  for (uint32_t c : u->contacts) pool.push_back({StrengthAt(g.edges[c].log_anchor, q.now_us), c});
  std::sort(pool.begin(), pool.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return g.info[a.second].id < g.info[b.second].id;
  });
  if (static_cast<int>(pool.size()) > q.settings.max_introduction_pool) pool.resize(q.settings.max_introduction_pool);
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> offering;
  for (const auto& [s, c] : pool) {
    for (uint32_t t : g.info[c].offering) offering[t].push_back(c);
  }
  auto pair_key = [](uint32_t a, uint32_t b) { return (uint64_t{std::min(a, b)} << 32) | std::max(a, b); };
  absl::flat_hash_set<uint64_t> introduced;
  for (uint32_t i : u->introductions) {
    const IntroductionRec& r = g.introductions[i];
    if (r.a != kNone && r.b != kNone) introduced.insert(pair_key(r.a, r.b));
  }
  // An introduction logged as an interaction names the pair too.
  for (uint32_t i : u->interactions) {
    const InteractionRec& r = g.interactions[i];
    if (!r.alive || r.kind != ipb::INTRODUCTION || r.occurred_us > q.now_us) continue;
    for (size_t x = 0; x < r.contacts.size(); ++x) {
      for (size_t y = x + 1; y < r.contacts.size(); ++y) introduced.insert(pair_key(r.contacts[x], r.contacts[y]));
    }
  }
  struct Match {
    std::set<std::string> tags;
    bool a_seeks = false;  // the lower index seeks from the higher
    bool b_seeks = false;
  };
  absl::flat_hash_map<uint64_t, Match> matches;
  for (const auto& [s, a] : pool) {
    for (uint32_t t : g.info[a].seeking) {
      auto it = offering.find(t);
      if (it == offering.end()) continue;
      for (uint32_t b : it->second) {
        if (b == a) continue;
        uint64_t key = pair_key(a, b);
        if (introduced.contains(key)) continue;
        Match& m = matches[key];
        m.tags.insert(g.Tag(t));
        (a < b ? m.a_seeks : m.b_seeks) = true;
      }
    }
  }
  for (const auto& [key, m] : matches) {
    uint32_t lo = static_cast<uint32_t>(key >> 32), hi = static_cast<uint32_t>(key & 0xffffffffu);
    uint32_t seeker = m.a_seeks ? lo : hi, offerer = m.a_seeks ? hi : lo;
    if (m.a_seeks && m.b_seeks) {
      // Both ways: the one first by name (then id) is named first.
      auto rank = [&](uint32_t c) { return std::tie(g.info[c].display_name, g.info[c].id); };
      if (rank(hi) < rank(lo)) std::swap(seeker, offerer);
    }
    double sa = StrengthAt(g.edges[seeker].log_anchor, q.now_us);
    double sb = StrengthAt(g.edges[offerer].log_anchor, q.now_us);
    pb::IntroductionSuggestion item;
    *item.mutable_contact_a() = Summary(g, seeker);
    *item.mutable_contact_b() = Summary(g, offerer);
    for (const std::string& t : m.tags) item.add_matched_tags(t);
    item.set_score(TieWeight(g, seeker, q.now_us) * TieWeight(g, offerer, q.now_us) * m.tags.size());
    const std::string tags = absl::StrJoin(m.tags, ", ");
    item.add_reasons(m.a_seeks && m.b_seeks
                         ? absl::StrCat(g.info[seeker].display_name, " and ", g.info[offerer].display_name,
                                        " each offer what the other seeks: ", tags, ".")
                         : absl::StrCat(g.info[seeker].display_name, " seeks ", tags, ", which ",
                                        g.info[offerer].display_name, " offers."));
    item.add_reasons(absl::StrCat("Your strength with ", g.info[seeker].display_name, " is ", Whole(sa), " and with ",
                                  g.info[offerer].display_name, " ", Whole(sb), "."));
    out.push_back(std::move(item));
  }
  std::sort(out.begin(), out.end(), [](const pb::IntroductionSuggestion& a, const pb::IntroductionSuggestion& b) {
    if (a.score() != b.score()) return a.score() > b.score();
    return std::tie(a.contact_a().display_name(), a.contact_b().display_name(), a.contact_a().id(),
                    a.contact_b().id()) <
           std::tie(b.contact_a().display_name(), b.contact_b().display_name(), b.contact_a().id(), b.contact_b().id());
  });
  return out;
}

// --- groups to join ---

std::vector<pb::GroupSuggestion> GroupSuggestions(const Query& q) {
  std::vector<pb::GroupSuggestion> out;
  uint32_t me;
  const UserNode* u = Me(q, &me);
  if (u == nullptr) return out;
  const OrgGraph& g = q.graph;
  auto is_member = [](const GroupNode& gr, uint32_t member) {
    return std::any_of(gr.members.begin(), gr.members.end(),
                       [&](const GroupMemberRec& m) { return m.member == member; });
  };
  std::set<std::string> mine;  // name keys of groups the user is in
  std::set<std::string> my_alumni;
  for (uint32_t gi : u->groups) {
    const GroupNode& gr = g.groups[gi];
    if (!is_member(gr, kMe)) continue;
    mine.insert(gr.name_key);
    if (gr.kind == ppb::ALUMNI) my_alumni.insert(gr.name_key);
  }
  struct Candidate {
    uint32_t group;
    double score = 0;
    std::vector<std::string> reasons;
  };
  std::map<std::string, Candidate> candidates;
  for (uint32_t gi : u->groups) {
    const GroupNode& gr = g.groups[gi];
    if (gr.name_key.empty() || mine.contains(gr.name_key)) continue;
    std::vector<std::tuple<double, std::string, uint8_t>> members;
    double score = 0;
    for (const GroupMemberRec& m : gr.members) {
      if (m.member == kMe || !g.edges[m.member].alive()) continue;
      double s = StrengthAt(g.edges[m.member].log_anchor, q.now_us);
      score += TieWeight(g, m.member, q.now_us) * (m.role == ppb::LEADER || m.role == ppb::ORGANIZER ? 1.5 : 1.0);
      members.push_back({s, g.info[m.member].display_name, m.role});
    }
    if (members.empty()) continue;
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
      return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) > std::get<0>(b) : std::get<1>(a) < std::get<1>(b);
    });
    std::vector<std::string> names;
    for (size_t i = 0; i < members.size() && i < 3; ++i) {
      const auto& [s, name, role] = members[i];
      std::string role_word = role == ppb::LEADER ? ", leader" : role == ppb::ORGANIZER ? ", organizer" : "";
      names.push_back(absl::StrCat(name, " (strength ", Whole(s), role_word, ")"));
    }
    Candidate& cand = candidates.try_emplace(gr.name_key, Candidate{gi, 0, {}}).first->second;
    cand.score += score;
    cand.reasons.push_back(absl::StrCat(
        members.size(), members.size() == 1 ? " of your contacts is a member: " : " of your contacts are members: ",
        absl::StrJoin(names, ", "), "."));
  }
  for (uint32_t o = 0; o < g.users.size(); ++o) {
    if (o == me || !g.users[o].known) continue;
    const UserNode& t = g.users[o];
    std::string why;
    if (!u->industry_key.empty() && t.industry_key == u->industry_key) {
      why = absl::StrCat("same industry: ", u->industry_key);
    } else if (!u->company_key.empty() && t.company_key == u->company_key) {
      why = absl::StrCat("same company: ", u->company);
    } else {
      for (uint32_t gi : t.groups) {
        const GroupNode& gr = g.groups[gi];
        if (gr.kind == ppb::ALUMNI && my_alumni.contains(gr.name_key) && is_member(gr, kMe)) {
          why = absl::StrCat("fellow alumni of ", gr.display_name);
          break;
        }
      }
    }
    if (why.empty()) continue;
    for (uint32_t gi : t.groups) {
      const GroupNode& gr = g.groups[gi];
      if (gr.name_key.empty() || mine.contains(gr.name_key) || !is_member(gr, kMe)) continue;
      Candidate& cand = candidates.try_emplace(gr.name_key, Candidate{gi, 0, {}}).first->second;
      cand.score += 0.5;
      cand.reasons.push_back(absl::StrCat("Teammate ", t.display_name, " is a member (", why, ")."));
    }
  }
  for (auto& [key, cand] : candidates) {
    const GroupNode& gr = g.groups[cand.group];
    pb::GroupSuggestion item;
    item.set_group_id(gr.id);
    item.set_display_name(gr.display_name);
    item.set_kind(static_cast<ppb::GroupKind>(gr.kind));
    item.set_score(cand.score);
    for (auto& r : cand.reasons) item.add_reasons(std::move(r));
    out.push_back(std::move(item));
  }
  std::stable_sort(out.begin(), out.end(), [](const pb::GroupSuggestion& a, const pb::GroupSuggestion& b) {
    if (a.score() != b.score()) return a.score() > b.score();
    return a.display_name() < b.display_name();
  });
  return out;
}

// --- network health ---

pb::NetworkHealth NetworkHealth(const Query& q) {
  pb::NetworkHealth h;
  uint32_t me;
  const UserNode* u = Me(q, &me);
  if (u == nullptr) return h;
  const OrgGraph& g = q.graph;
  int active = 0, decaying = 0, never = 0, added = 0;
  double given = 0, received = 0;
  for (uint32_t c : u->contacts) {
    const ContactInfo& info = g.info[c];
    given += info.given;
    received += info.received;
    if (info.create_us >= q.now_us - 90 * kDayUs) ++added;
    if (info.last_us == 0) {
      ++never;
    } else if (q.now_us - info.last_us <= int64_t{info.cadence_days} * kDayUs) {
      ++active;
    } else {
      ++decaying;
    }
  }
  // Follow-up rate: per contact, the first conversation and whether another
  // interaction came within the window.
  absl::flat_hash_map<uint32_t, std::vector<std::pair<int64_t, bool>>> times;  // (time, is conversation)
  for (uint32_t i : u->interactions) {
    const InteractionRec& r = g.interactions[i];
    if (!r.alive) continue;
    for (uint32_t c : r.contacts) times[c].push_back({r.occurred_us, IsConversation(r.kind)});
  }
  const int64_t window = int64_t{q.settings.follow_up_rate_days} * kDayUs;
  int firsts = 0, followed = 0;
  for (auto& [c, list] : times) {
    if (!g.edges[c].alive()) continue;
    std::sort(list.begin(), list.end());
    auto first = std::find_if(list.begin(), list.end(), [](const auto& p) { return p.second; });
    if (first == list.end()) continue;
    bool later = std::next(first) != list.end() && std::next(first)->first <= first->first + window;
    if (!later && q.now_us - first->first < window) continue;  // still open
    ++firsts;
    followed += later;
  }
  const int size = static_cast<int>(u->contacts.size());
  h.set_size(size);
  h.set_active_ties(active);
  h.set_decaying_ties(decaying);
  h.set_never_contacted(never);
  h.set_given(given);
  h.set_received(received);
  h.set_give_take_ratio(received > 0 ? given / received : 0);
  h.set_first_conversations(firsts);
  h.set_follow_up_rate(firsts > 0 ? static_cast<double>(followed) / firsts : 0);
  h.set_contacts_added_90d(added);
  h.set_growth_90d(size - added > 0 ? static_cast<double>(added) / (size - added) : 0);
  h.add_reasons(absl::StrCat("You have ", size, size == 1 ? " contact: " : " contacts: ", active, " active, ", decaying,
                             " decaying, ", never, " never contacted."));
  h.add_reasons(received > 0 ? absl::StrCat("You gave ", Num(given), " and received ", Num(received), " (ratio ",
                                            absl::StrFormat("%.2f", given / received), ").")
                             : absl::StrCat("You gave ", Num(given), " and received nothing yet."));
  h.add_reasons(firsts > 0
                    ? absl::StrCat(followed, " of ", firsts, " first conversations (", Whole(100.0 * followed / firsts),
                                   "%) were followed by another interaction "
                                   "within ",
                                   q.settings.follow_up_rate_days, " days.")
                    : std::string("No first conversation to measure follow-ups on yet."));
  h.add_reasons(absl::StrCat(added, added == 1 ? " contact" : " contacts", " added in the last 90 days."));
  return h;
}

// --- warm paths ---

absl::Status ValidatePathsRequest(const pb::FindPathsRequest& r) {
  Violations v;
  const bool by_contact = !r.target_contact_id().empty();
  const bool by_company = !r.company().empty();
  if (!by_contact && !by_company) v.Add("targetContactId", "name a target contact, or a company");
  if (by_contact && by_company) v.Add("company", "give either targetContactId or company, not both");
  if (by_contact) v.Id("targetContactId", r.target_contact_id(), true);
  v.Text("company", r.company(), 200);
  v.Text("titleKeyword", r.title_keyword(), 200);
  if (!r.title_keyword().empty() && !by_company) v.Add("titleKeyword", "needs company");
  if (r.max_hops() < 0 || r.max_hops() > 3) v.Add("maxHops", "must be between 1 and 3");
  if (r.page_size() < 0 || r.page_size() > 50) v.Add("pageSize", "must be between 1 and 50");
  return v.ToStatus();
}

namespace {

// Whether text contains lowercase needle, ignoring ASCII case, without
// building a lowercased copy per contact.
bool ContainsIgnoringCase(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return absl::ascii_tolower(static_cast<unsigned char>(a)) == b; });
  return it != text.end();
}

struct Candidate {
  double score;
  int hops;
  uint32_t target;    // the contact record holding the target (owned by YOU or the teammate); kNone when
                      // the target is the teammate themself
  uint32_t teammate;  // kNone for a contact of yours
};

// Strength as the hops show it (two decimals), so that paths equal on what
// the user sees score equal: the float read model's last digits differ
// between two ties of the same shown strength.
double PathWeight(const OrgGraph& g, uint32_t c, int64_t now) {
  return std::max(std::round(StrengthAt(g.edges[c].log_anchor, now) * 100) / 100, 5.0) / 100.0;
}

// Scores compared at 1e-9: products of equal factors taken in another order
// differ in their last bits, and a tie must break by hops, not by noise.
int64_t ScoreKey(double score) { return std::llround(score * 1e9); }

// What ties the user to teammate t (see FindPaths in the header).
struct TeammateTie {
  int shared_groups = 0;  // group names both are members of
  int introductions = 0;  // introductions t made for the user (MADE or COMPLETED)
  double weight = 0;
};

TeammateTie TieToTeammate(const OrgGraph& g, uint32_t me, uint32_t t, const std::string& my_key) {
  auto in_group = [](const GroupNode& gr) {
    return std::any_of(gr.members.begin(), gr.members.end(), [](const GroupMemberRec& m) { return m.member == kMe; });
  };
  TeammateTie tie;
  absl::flat_hash_set<std::string> mine;
  for (uint32_t gi : g.users[me].groups) {
    const GroupNode& gr = g.groups[gi];
    if (!gr.name_key.empty() && in_group(gr)) mine.insert(gr.name_key);
  }
  absl::flat_hash_set<std::string> shared;
  for (uint32_t gi : g.users[t].groups) {
    const GroupNode& gr = g.groups[gi];
    if (mine.contains(gr.name_key) && in_group(gr)) shared.insert(gr.name_key);
  }
  tie.shared_groups = static_cast<int>(shared.size());
  // An introduction of t's names the user as one side: t's contact record
  // carrying the user's email.
  if (!my_key.empty()) {
    auto names_me = [&](uint32_t c) {
      if (c == kNone) return false;
      const auto& keys = g.info[c].person_keys;
      return std::find(keys.begin(), keys.end(), my_key) != keys.end();
    };
    for (uint32_t i : g.users[t].introductions) {
      const IntroductionRec& r = g.introductions[i];
      if (r.state != ipb::MADE && r.state != ipb::COMPLETED) continue;
      if (names_me(r.a) || names_me(r.b)) ++tie.introductions;
    }
  }
  tie.weight = std::min(1.0, 0.25 + 0.15 * std::min(tie.shared_groups, 3) + 0.2 * std::min(tie.introductions, 2));
  return tie;
}

}  // namespace

absl::StatusOr<pb::FindPathsResponse> FindPaths(const Query& q, const pb::FindPathsRequest& request) {
  RETURN_IF_ERROR(ValidatePathsRequest(request));
  const OrgGraph& g = q.graph;
  const int max_hops = request.max_hops() == 0 ? 3 : request.max_hops();
  const int limit = request.page_size() == 0 ? 5 : request.page_size();
  uint32_t me = kNone;
  const UserNode* u = Me(q, &me);

  // Targets: people.
  std::vector<uint32_t> targets;
  if (!request.target_contact_id().empty()) {
    uint32_t c = g.FindContact(request.target_contact_id());
    if (c == kNone || u == nullptr || !g.VisibleTo(c, me) || g.edges[c].person == kNone) {
      return absl::NotFoundError("contact not found");
    }
    targets.push_back(g.edges[c].person);
  } else if (u != nullptr) {
    auto company = g.company_index.find(NormalizeKey(request.company()));
    const std::string keyword = absl::AsciiStrToLower(request.title_keyword());
    if (company != g.company_index.end()) {
      auto list = g.contacts_by_company.find(company->second);
      if (list != g.contacts_by_company.end()) {
        for (uint32_t c : list->second) {
          if (!g.VisibleTo(c, me) || g.edges[c].person == kNone) continue;
          if (!keyword.empty() && !ContainsIgnoringCase(g.info[c].title, keyword)) continue;
          targets.push_back(g.edges[c].person);
        }
      }
    }
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  }
  pb::FindPathsResponse out;
  if (u == nullptr || targets.empty()) return out;

  const int64_t now = q.now_us;
  // Users as persons, by email key: a target who is the user is no target,
  // and a target who is a teammate is asked directly, never introduced.
  absl::flat_hash_map<std::string, uint32_t> user_by_key;
  for (uint32_t o = 0; o < g.users.size(); ++o) {
    const std::string key = g.users[o].email.empty() ? "" : "e:" + NormalizeKey(g.users[o].email);
    if (!key.empty() && g.users[o].known) user_by_key.try_emplace(key, o);
  }
  const std::string my_key = u->email.empty() ? "" : "e:" + NormalizeKey(u->email);
  auto user_of_person = [&](uint32_t person) {
    for (uint32_t h = g.person_head[person]; h != kNone; h = g.edges[h].next_in_person) {
      if (!g.edges[h].alive()) continue;
      for (const std::string& k : g.info[h].person_keys) {
        auto it = user_by_key.find(k);
        if (it != user_by_key.end()) return it->second;
      }
    }
    return kNone;
  };
  absl::flat_hash_map<uint32_t, TeammateTie> ties;
  auto tie_to = [&](uint32_t t) -> TeammateTie {
    auto it = ties.find(t);
    if (it == ties.end()) it = ties.emplace(t, TieToTeammate(g, me, t, my_key)).first;
    return it->second;
  };

  std::vector<Candidate> candidates;
  for (uint32_t person : targets) {
    const uint32_t colleague = user_of_person(person);
    if (colleague == me) continue;
    if (colleague != kNone) {
      // Your own colleague: one path, asking them, whoever else knows them.
      candidates.push_back({tie_to(colleague).weight, 1, kNone, colleague});
      continue;
    }
    for (uint32_t h = g.person_head[person]; h != kNone; h = g.edges[h].next_in_person) {
      const ContactEdge& e = g.edges[h];
      if (!e.alive()) continue;
      const double w_target = PathWeight(g, h, now);
      if (e.owner == me) {
        candidates.push_back({w_target, 1, h, kNone});
        continue;
      }
      if (!e.org_visible() || max_hops < 2) continue;
      candidates.push_back({tie_to(e.owner).weight * w_target, 2, h, e.owner});
    }
  }
  auto better = [&](const Candidate& a, const Candidate& b) {
    if (ScoreKey(a.score) != ScoreKey(b.score)) return a.score > b.score;
    if (a.hops != b.hops) return a.hops < b.hops;
    auto key = [&](const Candidate& c) {
      return std::make_tuple(c.target == kNone ? g.users[c.teammate].display_name : g.info[c.target].display_name,
                             c.target == kNone ? g.users[c.teammate].id : g.info[c.target].id,
                             c.teammate == kNone ? std::string() : g.users[c.teammate].display_name);
    };
    return key(a) < key(b);
  };
  const size_t keep = std::min(candidates.size(), static_cast<size_t>(limit));
  std::partial_sort(candidates.begin(), candidates.begin() + keep, candidates.end(), better);
  candidates.resize(keep);

  auto contact_hop = [&](pb::Path* path, uint32_t c) {
    pb::Hop* hop = path->add_hops();
    hop->set_display_name(g.info[c].display_name);
    hop->set_kind(pb::CONTACT);
    hop->set_contact_id(g.info[c].id);
    hop->set_user_id(g.users[g.edges[c].owner].id);
    hop->set_strength(std::round(StrengthAt(g.edges[c].log_anchor, now) * 100) / 100);
  };
  auto teammate_hop = [&](pb::Path* path, uint32_t o, double strength) {
    pb::Hop* hop = path->add_hops();
    hop->set_display_name(g.users[o].display_name);
    hop->set_kind(pb::TEAMMATE);
    hop->set_user_id(g.users[o].id);
    hop->set_strength(strength);
  };
  // The blurb the first connector can forward.
  std::string blurb = u->display_name;
  if (!u->headline.empty()) absl::StrAppend(&blurb, ", ", u->headline);
  if (!u->title.empty() && !u->company.empty()) {
    absl::StrAppend(&blurb, " (", u->title, " at ", u->company, ")");
  } else if (!u->company.empty()) {
    absl::StrAppend(&blurb, " (", u->company, ")");
  }
  absl::StrAppend(&blurb, ".");
  if (!u->seeking.empty()) absl::StrAppend(&blurb, " Looking for: ", TagList(g, u->seeking), ".");

  auto tie_reason = [&](uint32_t t) {
    const TeammateTie tie = tie_to(t);
    std::string why = absl::StrCat(g.users[t].display_name, " is your teammate");
    if (tie.shared_groups > 0) {
      absl::StrAppend(&why, "; you share ", tie.shared_groups, tie.shared_groups == 1 ? " group" : " groups");
    }
    if (tie.introductions > 0) {
      absl::StrAppend(&why, tie.shared_groups > 0 ? " and " : "; ", g.users[t].display_name, " made ",
                      tie.introductions, tie.introductions == 1 ? " introduction" : " introductions", " for you");
    }
    absl::StrAppend(&why, " (tie ", absl::StrFormat("%.2f", tie.weight), ").");
    return why;
  };
  for (const Candidate& cand : candidates) {
    pb::Path* path = out.add_paths();
    pb::Hop* you = path->add_hops();
    you->set_display_name(u->display_name);
    you->set_kind(pb::YOU);
    you->set_user_id(u->id);
    if (cand.target == kNone) {
      const UserNode& t = g.users[cand.teammate];
      teammate_hop(path, cand.teammate, std::round(tie_to(cand.teammate).weight * 10000) / 100);
      path->add_reasons(tie_reason(cand.teammate));
      path->set_ask(absl::StrCat("Hi ", t.display_name, ", would you have 20 minutes for a chat in the coming weeks?"));
      path->set_score(cand.score);
      continue;
    }
    const ContactInfo& target = g.info[cand.target];
    std::string target_desc = target.display_name;
    if (!target.title.empty() && !target.company.empty()) {
      absl::StrAppend(&target_desc, " (", target.title, " at ", target.company, ")");
    } else if (!target.company.empty()) {
      absl::StrAppend(&target_desc, " (", target.company, ")");
    }
    if (cand.hops == 1) {
      contact_hop(path, cand.target);
      path->add_reasons(absl::StrCat("You know ", target.display_name, " yourself (strength ",
                                     Whole(StrengthAt(g.edges[cand.target].log_anchor, now)), ")."));
      path->set_ask(absl::StrCat("Hi ", target.display_name, ", it has been a while. ", blurb,
                                 " Would you have 20 minutes to catch up in the coming weeks?"));
    } else {
      const UserNode& t = g.users[cand.teammate];
      teammate_hop(path, cand.teammate, std::round(tie_to(cand.teammate).weight * 10000) / 100);
      path->add_reasons(tie_reason(cand.teammate));
      contact_hop(path, cand.target);
      path->add_reasons(absl::StrCat(t.display_name, " knows ", target.display_name, " (strength ",
                                     Whole(StrengthAt(g.edges[cand.target].log_anchor, now)), ")."));
      path->set_ask(absl::StrCat("Hi ", t.display_name, ", could you introduce me to ", target_desc,
                                 "? Here is a short note you can forward: \"", blurb, " Hoping to meet ",
                                 target.display_name,
                                 target.company.empty() ? "" : absl::StrCat(" of ", target.company), ".\" Thank you!"));
    }
    path->set_score(cand.score);
  }
  return out;
}

}  // namespace rapport::recommendations
