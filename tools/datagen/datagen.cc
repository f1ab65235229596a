#include "tools/datagen/datagen.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"
#include "services/interactions/ledger.h"

namespace rapport::datagen {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;

constexpr int64_t kDayUs = int64_t{86400} * 1000000;

constexpr const char* kFirst[] = {"Ada",  "Ben",  "Cleo", "Dev",    "Eli", "Fatima", "Gus",   "Hana",  "Ivan",
                                  "Jun",  "Kofi", "Lena", "Mateo",  "Nia", "Omar",   "Priya", "Quinn", "Rosa",
                                  "Sami", "Tara", "Uma",  "Victor", "Wen", "Xavi",   "Yara",  "Zoe"};
constexpr const char* kLast[] = {"Abe",    "Baker", "Chen",   "Diaz",  "Evans", "Fischer", "Garcia",
                                 "Haddad", "Ito",   "Jensen", "Kim",   "Lopez", "Martin",  "Nguyen",
                                 "Okafor", "Patel", "Quint",  "Rossi", "Silva", "Tanaka",  "Ueda",
                                 "Varga",  "Weber", "Xu",     "Young", "Zimmer"};
constexpr const char* kTitles[] = {"Engineer",
                                   "Senior Engineer",
                                   "Engineering Manager",
                                   "Hiring Manager",
                                   "Recruiter",
                                   "Product Manager",
                                   "Designer",
                                   "CTO",
                                   "CEO",
                                   "Founder",
                                   "Data Scientist",
                                   "Sales Director",
                                   "Marketing Lead",
                                   "Investor",
                                   "Consultant"};
constexpr const char* kIndustries[] = {"fintech", "healthcare", "retail", "education", "energy", "media", "logistics"};
constexpr const char* kTags[] = {"hiring",      "funding",   "design",   "mentoring", "sales",         "partnerships",
                                 "engineering", "marketing", "speaking", "advice",    "introductions", "jobs"};
constexpr int kCompanies = 300;

// Kinds by how often people log them, with the direction they usually take.
struct KindShare {
  ipb::InteractionKind kind;
  int percent;
};
constexpr KindShare kKinds[] = {
    {ipb::EMAIL, 22},         {ipb::MESSAGE, 18}, {ipb::MEETING, 12},       {ipb::CONVERSATION, 10},
    {ipb::CALL, 8},           {ipb::COMMENT, 8},  {ipb::CONGRATULATION, 4}, {ipb::BIRTHDAY_GREETING, 3},
    {ipb::ENDORSEMENT, 3},    {ipb::EVENT, 3},    {ipb::INTRODUCTION, 2},   {ipb::FAVOR, 2},
    {ipb::RECOMMENDATION, 2}, {ipb::REFERRAL, 1}, {ipb::GIFT, 1},           {ipb::POST_SHARED, 1}};

struct Person {
  uint32_t first, last, company, title;
  uint32_t serial;
};

class Generator {
 public:
  Generator(const Options& o, const std::function<void(const events::v1::Event&)>& sink)
      : o_(o), sink_(sink), rng_(o.seed), now_(o.now_us != 0 ? o.now_us : NowMicros()) {}

  Stats Run() {
    for (int org = 0; org < o_.orgs; ++org) GenerateOrg(absl::StrCat(o_.org_prefix, org + 1));
    return stats_;
  }

 private:
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  uint32_t Pick(size_t n) { return std::uniform_int_distribution<uint32_t>(0, static_cast<uint32_t>(n - 1))(rng_); }
  // Pareto with the given mean (alpha 1.5): many small values, a few large ones.
  double Pareto(double mean) { return (mean / 3.0) * std::pow(1.0 - Uniform(), -1.0 / 1.5); }

  events::v1::Event Event(const std::string& type, const std::string& org, const std::string& user) {
    events::v1::Event e;
    e.set_id(absl::StrCat("gen", ++stats_.events));
    e.set_type(type);
    e.set_source("datagen");
    e.set_org_id(org);
    e.set_user_id(user);
    *e.mutable_time() = ToTimestamp(now_);
    return e;
  }

  std::vector<std::string> Tags(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      std::string t = kTags[Pick(std::size(kTags))];
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
    return out;
  }

  void GenerateOrg(const std::string& org) {
    std::vector<Person> people;
    std::vector<uint32_t> known;  // person of every contact so far: picking from it favours popular people
    for (int u = 0; u < o_.users_per_org; ++u) {
      const std::string user = absl::StrCat(org, "-u", u + 1);
      events::v1::Event ue = Event("user.created", org, user);
      std::string name = absl::StrCat(kFirst[Pick(std::size(kFirst))], " ", kLast[Pick(std::size(kLast))]);
      ue.mutable_user()->mutable_user()->set_id(user);
      ue.mutable_user()->mutable_user()->set_display_name(name);
      ue.mutable_user()->mutable_user()->set_email(absl::StrCat(absl::AsciiStrToLower(user), "@rapport.example"));
      ue.mutable_user()->mutable_user()->set_timezone("UTC");
      ppb::Profile* p = ue.mutable_user()->mutable_profile();
      p->set_user_id(user);
      p->set_display_name(name);
      p->set_headline(
          absl::StrCat(kTitles[Pick(std::size(kTitles))], " in ", kIndustries[Pick(std::size(kIndustries))]));
      p->set_company(absl::StrCat("Company ", Pick(kCompanies) + 1));
      p->set_industry(kIndustries[Pick(std::size(kIndustries))]);
      p->set_timezone("UTC");
      for (const auto& t : Tags(2)) p->add_seeking(t);
      for (const auto& t : Tags(2)) p->add_offering(t);
      sink_(ue);
      ++stats_.users;

      int contacts = o_.heavy_tail
                         ? std::clamp(static_cast<int>(Pareto(o_.contacts_per_user)), 5, 20 * o_.contacts_per_user)
                         : o_.contacts_per_user;
      std::unordered_set<uint32_t> mine;  // a user knows each person once
      for (int c = 0; c < contacts; ++c) {
        uint32_t person = UINT32_MAX;
        if (!known.empty() && Uniform() < o_.shared) {
          for (int attempt = 0; attempt < 8 && person == UINT32_MAX; ++attempt) {
            uint32_t candidate = known[Pick(known.size())];
            if (!mine.contains(candidate)) person = candidate;
          }
        }
        if (person == UINT32_MAX) {
          person = static_cast<uint32_t>(people.size());
          people.push_back(Person{Pick(std::size(kFirst)), Pick(std::size(kLast)), Pick(kCompanies),
                                  Pick(std::size(kTitles)), person});
          ++stats_.people;
        }
        known.push_back(person);
        mine.insert(person);
        GenerateContact(org, user, absl::StrCat(user, "-c", c + 1), people[person]);
      }
    }
  }

  void GenerateContact(const std::string& org, const std::string& user, const std::string& id, const Person& p) {
    events::v1::Event ce = Event("contact.created", org, user);
    ppb::Contact* c = ce.mutable_contact()->mutable_contact();
    c->set_id(id);
    c->set_given_name(kFirst[p.first]);
    c->set_family_name(kLast[p.last]);
    c->set_display_name(absl::StrCat(kFirst[p.first], " ", kLast[p.last]));
    c->set_company(absl::StrCat("Company ", p.company + 1));
    c->set_title(kTitles[p.title]);
    c->add_emails(absl::StrCat(absl::AsciiStrToLower(kFirst[p.first]), ".", absl::AsciiStrToLower(kLast[p.last]), ".",
                               p.serial, "@company", p.company + 1, ".example"));
    double tier = Uniform();
    c->set_tier(tier < 0.05 ? ppb::INNER : tier < 0.2 ? ppb::CLOSE : tier < 0.7 ? ppb::NETWORK : ppb::ACQUAINTANCE);
    c->set_visibility(Uniform() < o_.org_visible ? ppb::ORG : ppb::PRIVATE);
    if (Uniform() < 0.4) {
      c->mutable_birthday()->set_month(static_cast<int>(Pick(12)) + 1);
      c->mutable_birthday()->set_day(static_cast<int>(Pick(28)) + 1);
    }
    if (Uniform() < 0.5) {
      for (const auto& t : Tags(1 + Pick(2))) c->add_seeking(t);
    }
    if (Uniform() < 0.5) {
      for (const auto& t : Tags(1 + Pick(2))) c->add_offering(t);
    }
    const int cadences[] = {0, 14, 30, 90, 180};
    c->set_effective_cadence_days(cadences[c->tier()]);
    *c->mutable_create_time() = ToTimestamp(now_ - static_cast<int64_t>(Uniform() * o_.days) * kDayUs);
    sink_(ce);
    ++stats_.contacts;

    interactions::LedgerRow row;
    row.contact_id = id;
    row.cadence_days = c->effective_cadence_days();
    int n = std::min(200, static_cast<int>(Pareto(o_.interactions_per_contact)));
    for (int i = 0; i < n; ++i) {
      ipb::Interaction in;
      in.set_id(absl::StrCat(id, "-i", i + 1));
      int roll = static_cast<int>(Pick(100)), acc = 0;
      in.set_kind(ipb::EMAIL);
      for (const KindShare& k : kKinds) {
        acc += k.percent;
        if (roll < acc) {
          in.set_kind(k.kind);
          break;
        }
      }
      const bool exchange = in.kind() == ipb::MEETING || in.kind() == ipb::CONVERSATION || in.kind() == ipb::CALL ||
                            in.kind() == ipb::EVENT;
      double d = Uniform();
      in.set_direction(exchange ? (d < 0.8   ? ipb::MUTUAL
                                   : d < 0.9 ? ipb::GAVE
                                             : ipb::RECEIVED)
                                : (d < 0.5 ? ipb::GAVE : ipb::RECEIVED));
      in.add_contact_ids(id);
      int64_t at = now_ - static_cast<int64_t>(Uniform() * o_.days * kDayUs);
      *in.mutable_occurred_at() = ToTimestamp(at);
      interactions::ApplyContribution(in, +1, &row);
      if (o_.emit_interactions) {
        events::v1::Event ie = Event("interaction.created", org, user);
        *ie.mutable_interaction() = std::move(in);
        sink_(ie);
      }
      ++stats_.interactions;
    }
    if (row.count > 0) {
      events::v1::Event le = Event("ledger.changed", org, user);
      *le.mutable_ledger() = interactions::ToEntry(row, FromMicros(now_));
      sink_(le);
    }
  }

  const Options& o_;
  const std::function<void(const events::v1::Event&)>& sink_;
  std::mt19937_64 rng_;
  int64_t now_;
  Stats stats_;
};

}  // namespace

Stats Generate(const Options& options, const std::function<void(const events::v1::Event&)>& sink) {
  return Generator(options, sink).Run();
}

}  // namespace rapport::datagen
