// The recommendations read model: an in-memory, compact copy of each org's
// network, built from events (backfill and the live stream apply the same
// rapport.events.v1.Event through Apply) and read by the ranking logic.
//
// Layout (one OrgGraph per org; nothing crosses orgs, so another org's
// identical email can never connect):
// - ids are interned to dense uint32 indexes (users, contacts, groups,
//   interactions, introductions, tags, companies);
// - the graph part is arrays: ContactEdge (20 bytes: owner, person, next
//   holder of the same person, strength, balance, flags) indexed by contact,
//   each user's contact indexes, and person heads; a "person" is the set of
//   contacts that are one human: ORG-visible contacts of different users
//   sharing a normalized email or LinkedIn URL. A PRIVATE contact is always a
//   person of its own, so it can never be reached through a teammate.
// - cold attributes (names, tags, birthday, ledger details) sit apart, so
//   that path search touches only the edge arrays.
//
// Every Apply is an idempotent upsert keyed by the entity's id: applying an
// event twice, or an older event after the backfill already holds a newer
// state, converges once the stream's later events are applied (each event
// carries the whole entity, and the stream is in commit order per service).
// Contacts and users may be named (by ledger or interaction events) before
// their own event arrives: they get a placeholder filled in later. Deleted
// contacts stay as tombstones so late events cannot resurrect them.
//
// Person merging is incremental for the common cases (a new contact joining
// zero or one person); a change that could split or bridge persons marks the
// org for a rebuild, done before its next read.
//
// Thread-safety: ReadModel is safe for concurrent use. Apply takes the org's
// lock exclusively; Read runs its function under the org's shared lock, so
// the OrgGraph it sees is consistent and must not escape the function.
#ifndef RAPPORT_SERVICES_RECOMMENDATIONS_READ_MODEL_H_
#define RAPPORT_SERVICES_RECOMMENDATIONS_READ_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rapport/events/v1/events.pb.h"

namespace rapport::recommendations {

inline constexpr uint32_t kNone = 0xffffffffu;
inline constexpr uint32_t kMe = 0xfffffffeu;  // a group member that is the group's owner

// Ledger strength decays with a 90-day half-life (interactions/ledger.h).
// log_anchor = log2(S) + (as_of - 2020-01-01) / half-life, for the decayed
// sum S at as_of, so that S(now) = 2^(log_anchor - (now - 2020-01-01) / half-life):
// one float per tie that stays exact as time passes.
inline constexpr float kNoStrength = -1e30f;
float LogAnchorFromStrength(double strength, int64_t as_of_us);
// Strength 0..100 at now.
double StrengthAt(float log_anchor, int64_t now_us);

// The hot part of a contact: what path search reads, 20 bytes.
struct ContactEdge {
  uint32_t owner : 24 = 0xffffff;       // user index (an org has fewer than 2^24 users)
  uint32_t flags : 8 = 0;               // kAlive | kOrgVisible | kDeleted
  uint32_t person = kNone;              // person index
  uint32_t next_in_person = kNone;      // next contact of the same person
  float log_anchor = kNoStrength;       // strength, see above
  float balance = 0;                    // given - received (weighted)
  static constexpr uint8_t kAlive = 1;  // contact.created seen, not deleted
  static constexpr uint8_t kOrgVisible = 2;
  static constexpr uint8_t kDeleted = 4;
  bool alive() const { return flags & kAlive; }
  bool org_visible() const { return flags & kOrgVisible; }
};

// The cold part of a contact.
struct ContactInfo {
  std::string id;
  std::string display_name;
  std::string company;
  std::string title;
  uint32_t company_key = kNone;             // interned lowercased company
  std::vector<uint32_t> seeking, offering;  // interned normalized tags
  std::vector<std::string> person_keys;     // normalized emails and LinkedIn URLs
  int64_t create_us = 0;
  int64_t last_us = 0;  // last interaction, 0 = never
  double given = 0, received = 0;
  int32_t interaction_count = 0;
  int16_t cadence_days = 90;
  uint8_t tier = 3;  // profiles.v1.Tier; NETWORK when unset
  uint8_t birthday_month = 0, birthday_day = 0;
};

struct UserNode {
  std::string id;
  bool known = false;  // user.created seen
  std::string display_name, email, headline, company, title, timezone;
  std::string company_key, industry_key;
  std::vector<uint32_t> seeking, offering;  // tags
  std::vector<uint32_t> contacts;           // owned contact indexes, alive ones (unordered)
  std::vector<uint32_t> interactions;       // owned interaction indexes (including deleted slots)
  std::vector<uint32_t> introductions;
  std::vector<uint32_t> groups;  // owned groups
};

struct InteractionRec {
  uint32_t owner = kNone;
  bool alive = false;
  uint8_t kind = 0;       // interactions.v1.InteractionKind
  uint8_t direction = 0;  // interactions.v1.Direction
  int64_t occurred_us = 0;
  std::string id;
  std::vector<uint32_t> contacts;
};

struct IntroductionRec {
  uint32_t owner = kNone;
  uint32_t a = kNone, b = kNone;  // contacts
  uint8_t state = 0;
  std::string id;
};

struct GroupMemberRec {
  uint32_t member;  // contact index or kMe
  uint8_t role;     // profiles.v1.MemberRole
};

struct GroupNode {
  uint32_t owner = kNone;
  std::string id, display_name, name_key;
  uint8_t kind = 0;  // profiles.v1.GroupKind
  std::vector<GroupMemberRec> members;
};

// One org's network. Plain data, read by the logic under the model's lock.
struct OrgGraph {
  std::vector<UserNode> users;
  absl::flat_hash_map<std::string, uint32_t> user_index;
  std::vector<ContactEdge> edges;  // by contact index
  std::vector<ContactInfo> info;   // by contact index
  absl::flat_hash_map<std::string, uint32_t> contact_index;
  std::vector<uint32_t> person_head;                         // first contact of each person (kNone: empty)
  absl::flat_hash_map<std::string, uint32_t> person_of_key;  // ORG-visible keys only
  bool persons_dirty = false;
  std::vector<std::string> tags;  // by tag index
  absl::flat_hash_map<std::string, uint32_t> tag_index;
  std::vector<std::string> companies;
  absl::flat_hash_map<std::string, uint32_t> company_index;
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> contacts_by_company;  // alive contacts
  std::vector<InteractionRec> interactions;
  absl::flat_hash_map<std::string, uint32_t> interaction_index;
  std::vector<IntroductionRec> introductions;
  absl::flat_hash_map<std::string, uint32_t> introduction_index;
  std::vector<GroupNode> groups;
  absl::flat_hash_map<std::string, uint32_t> group_index;  // "<owner user id>/<group id>"

  const UserNode* FindUser(const std::string& id) const;
  uint32_t FindContact(const std::string& id) const;  // kNone when unknown
  // A contact u may see: its own alive contacts, and teammates' alive ORG ones.
  bool VisibleTo(uint32_t contact, uint32_t user) const;
  const std::string& Tag(uint32_t t) const { return tags[t]; }

  // Upserts, used by ReadModel::Apply and by benchmarks and tests that
  // build networks directly.
  uint32_t InternUser(const std::string& id);
  uint32_t InternContact(const std::string& id, uint32_t owner);
  uint32_t InternTag(const std::string& normalized);
  uint32_t InternCompany(const std::string& normalized);
  // Recomputes every person from scratch (also compacts person indexes).
  void RebuildPersons();
  // Places contact c (alive) into a person incrementally, or marks the org dirty.
  void AssignPerson(uint32_t c);
  // Takes contact c out of its person (before an update or a delete).
  void ReleasePerson(uint32_t c);

  // Bytes held, for the benchmark's counters: the graph arrays (edges,
  // adjacency, person heads) and everything (graph + cold data + id maps).
  size_t GraphBytes() const;
  size_t TotalBytes() const;
  size_t AliveEdges() const;
};

// Normalized person keys of a contact: lowercased emails and LinkedIn URLs
// without scheme, "www." and trailing slash.
std::vector<std::string> PersonKeys(const profiles::v1::Contact& contact);

// Whether the read model (and so any cached answer) can change by e. An
// update whose Event.changed names only fields the model does not keep (a
// contact's phones or address, an interaction's summary or follow-up time,
// update_time) concerns it not; an update that names nothing (a producer
// that does not say) concerns it.
bool ReadModelConcerns(const events::v1::Event& e);

class ReadModel {
 public:
  ReadModel() = default;
  ReadModel(const ReadModel&) = delete;
  ReadModel& operator=(const ReadModel&) = delete;

  // Applies one event. Unknown types are ignored (OK). INVALID_ARGUMENT for
  // an event without an org. user.deleted / org.deleted erase the subject
  // (EraseUserFromGraph; the org's graph emptied) and remember it, so that
  // an event about it applied later (a replayed stream entry) is dropped.
  absl::Status Apply(const events::v1::Event& event);

  // Runs fn on org's graph under its shared lock (an empty graph for an org
  // never seen). Rebuilds persons first when the org is marked dirty.
  void Read(const std::string& org, const std::function<void(const OrgGraph&)>& fn);
  // Runs fn on org's graph under its exclusive lock, creating the org.
  void Mutate(const std::string& org, const std::function<void(OrgGraph&)>& fn);
  // Rebuilds the persons of every org (after a backfill).
  void RebuildAll();
  // The orgs the model holds, in no order (the weekly health job walks them).
  std::vector<std::string> Orgs();

 private:
  struct Org {
    std::shared_mutex mu;
    OrgGraph graph;
  };
  Org* FindOrg(const std::string& org);
  Org* GetOrg(const std::string& org);

  std::shared_mutex mu_;  // guards orgs_ (the map, not the graphs)
  absl::flat_hash_map<std::string, std::unique_ptr<Org>> orgs_;
  std::mutex erased_mu_;
  absl::flat_hash_set<std::string> erased_;  // "<org>" or "<org>/<user>", guarded by erased_mu_
};

}  // namespace rapport::recommendations

#endif  // RAPPORT_SERVICES_RECOMMENDATIONS_READ_MODEL_H_
