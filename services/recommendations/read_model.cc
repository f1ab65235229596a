#include "services/recommendations/read_model.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/erasure.h"
#include "services/common/field_mask.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"

namespace rapport::recommendations {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;

constexpr int64_t kAnchorUs = int64_t{1577836800} * 1000000;  // 2020-01-01
constexpr double kHalfLifeUs = 90.0 * 86400.0 * 1e6;
constexpr double kStrengthScale = 10.0;  // as interactions/ledger.h

int16_t TierCadence(int tier) {
  switch (tier) {
    case ppb::INNER:
      return 14;
    case ppb::CLOSE:
      return 30;
    case ppb::ACQUAINTANCE:
      return 180;
    default:
      return 90;
  }
}

template <typename T>
size_t VectorBytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

size_t StringBytes(const std::string& s) {
  // Short strings live inside the object (SSO); longer ones own a buffer.
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

template <typename K, typename V>
size_t MapBytes(const absl::flat_hash_map<K, V>& m) {
  return m.capacity() * (sizeof(std::pair<const K, V>) + 1);
}

void EraseValue(std::vector<uint32_t>& v, uint32_t x) {
  auto it = std::find(v.begin(), v.end(), x);
  if (it != v.end()) {
    *it = v.back();
    v.pop_back();
  }
}

std::vector<uint32_t> InternTags(OrgGraph& g, const google::protobuf::RepeatedPtrField<std::string>& tags) {
  std::vector<uint32_t> out;
  for (const std::string& t : tags) {
    std::string key = NormalizeKey(t);
    if (key.empty()) continue;
    uint32_t id = g.InternTag(key);
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

void ApplyUser(OrgGraph& g, const events::v1::UserEvent& e) {
  const std::string& id = e.user().id().empty() ? e.profile().user_id() : e.user().id();
  if (id.empty()) return;
  UserNode& u = g.users[g.InternUser(id)];
  u.known = true;
  const ppb::Profile& p = e.profile();
  u.display_name = !p.display_name().empty() ? p.display_name() : e.user().display_name();
  if (!e.user().email().empty()) u.email = e.user().email();
  u.headline = p.headline();
  u.company = p.company();
  u.title = p.title();
  u.timezone = !p.timezone().empty() ? p.timezone() : e.user().timezone();
  u.company_key = NormalizeKey(p.company());
  u.industry_key = NormalizeKey(p.industry());
  u.seeking = InternTags(g, p.seeking());
  u.offering = InternTags(g, p.offering());
}

void RemoveFromCompany(OrgGraph& g, uint32_t c) {
  ContactInfo& info = g.info[c];
  if (info.company_key == kNone) return;
  auto it = g.contacts_by_company.find(info.company_key);
  if (it != g.contacts_by_company.end()) {
    EraseValue(it->second, c);
    if (it->second.empty()) g.contacts_by_company.erase(it);
  }
  info.company_key = kNone;
}

void ApplyContact(OrgGraph& g, const std::string& owner_id, const std::string& type, const ppb::Contact& pc) {
  if (pc.id().empty() || owner_id.empty()) return;
  uint32_t owner = g.InternUser(owner_id);
  uint32_t c = g.InternContact(pc.id(), owner);
  ContactEdge& edge = g.edges[c];
  if (edge.owner != owner) return;                 // an id that is another user's: never mix owners
  if (edge.flags & ContactEdge::kDeleted) return;  // tombstone
  ContactInfo& info = g.info[c];
  const bool deleted = type == "contact.deleted";
  const uint8_t flags = ContactEdge::kAlive | (pc.visibility() == ppb::ORG ? ContactEdge::kOrgVisible : 0);
  std::vector<std::string> keys = deleted ? std::vector<std::string>() : PersonKeys(pc);
  // An update that keeps the keys and the visibility keeps the person.
  const bool same_person = !deleted && edge.alive() && edge.flags == flags && keys == info.person_keys;
  if (edge.alive()) {
    if (!same_person) g.ReleasePerson(c);
    RemoveFromCompany(g, c);
    EraseValue(g.users[owner].contacts, c);
  }
  if (deleted) {
    edge = ContactEdge{.owner = owner, .flags = ContactEdge::kDeleted};
    ContactInfo tombstone;
    tombstone.id = std::move(info.id);
    info = std::move(tombstone);
    return;
  }
  edge.flags = flags;
  info.display_name = pc.display_name();
  info.company = pc.company();
  info.title = pc.title();
  std::string company_key = NormalizeKey(pc.company());
  if (!company_key.empty()) {
    info.company_key = g.InternCompany(company_key);
    g.contacts_by_company[info.company_key].push_back(c);
  }
  info.seeking = InternTags(g, pc.seeking());
  info.offering = InternTags(g, pc.offering());
  info.person_keys = std::move(keys);
  info.create_us = pc.has_create_time() ? TimestampToMicros(pc.create_time()) : 0;
  info.tier = static_cast<uint8_t>(pc.tier() == ppb::TIER_UNSPECIFIED ? ppb::NETWORK : pc.tier());
  info.cadence_days = pc.effective_cadence_days() > 0 ? pc.effective_cadence_days()
                      : pc.cadence_days() > 0         ? pc.cadence_days()
                                                      : TierCadence(info.tier);
  info.birthday_month = static_cast<uint8_t>(pc.has_birthday() ? pc.birthday().month() : 0);
  info.birthday_day = static_cast<uint8_t>(pc.has_birthday() ? pc.birthday().day() : 0);
  g.users[owner].contacts.push_back(c);
  if (!same_person) g.AssignPerson(c);
}

void ApplyLedger(OrgGraph& g, const std::string& owner_id, int64_t as_of_us, const ipb::LedgerEntry& l) {
  if (l.contact_id().empty() || owner_id.empty()) return;
  uint32_t owner = g.InternUser(owner_id);
  uint32_t c = g.InternContact(l.contact_id(), owner);
  ContactEdge& edge = g.edges[c];
  if (edge.owner != owner || (edge.flags & ContactEdge::kDeleted)) return;
  ContactInfo& info = g.info[c];
  edge.log_anchor = LogAnchorFromStrength(l.strength(), as_of_us);
  edge.balance = static_cast<float>(l.balance());
  info.given = l.given();
  info.received = l.received();
  info.interaction_count = l.interaction_count();
  info.last_us = l.has_last_interaction_time() ? TimestampToMicros(l.last_interaction_time()) : 0;
  if (!edge.alive() && l.cadence_days() > 0) info.cadence_days = static_cast<int16_t>(l.cadence_days());
}

void ApplyInteraction(OrgGraph& g, const std::string& owner_id, const std::string& type, const ipb::Interaction& pi) {
  if (pi.id().empty() || owner_id.empty()) return;
  uint32_t owner = g.InternUser(owner_id);
  auto [it, inserted] = g.interaction_index.try_emplace(pi.id(), static_cast<uint32_t>(g.interactions.size()));
  if (inserted) {
    InteractionRec rec;
    rec.owner = owner;
    rec.id = pi.id();
    g.interactions.push_back(std::move(rec));
    g.users[owner].interactions.push_back(it->second);
  }
  InteractionRec& rec = g.interactions[it->second];
  if (rec.owner != owner) return;
  // Planned (future) and cancelled interactions have not happened: they
  // count toward nothing until interaction.created says they did.
  rec.alive = type != "interaction.deleted" && pi.state() != ipb::PLANNED && pi.state() != ipb::CANCELLED;
  rec.kind = static_cast<uint8_t>(pi.kind());
  rec.direction = static_cast<uint8_t>(pi.direction());
  rec.occurred_us = TimestampToMicros(pi.occurred_at());
  rec.contacts.clear();
  for (const std::string& id : pi.contact_ids()) {
    uint32_t c = g.InternContact(id, owner);
    if (g.edges[c].owner == owner) rec.contacts.push_back(c);
  }
}

void ApplyIntroduction(OrgGraph& g, const std::string& owner_id, const ipb::Introduction& pi) {
  if (pi.id().empty() || owner_id.empty()) return;
  uint32_t owner = g.InternUser(owner_id);
  auto [it, inserted] = g.introduction_index.try_emplace(pi.id(), static_cast<uint32_t>(g.introductions.size()));
  if (inserted) {
    IntroductionRec rec;
    rec.owner = owner;
    rec.id = pi.id();
    g.introductions.push_back(std::move(rec));
    g.users[owner].introductions.push_back(it->second);
  }
  IntroductionRec& rec = g.introductions[it->second];
  if (rec.owner != owner) return;
  rec.a = pi.contact_a_id().empty() ? kNone : g.InternContact(pi.contact_a_id(), owner);
  rec.b = pi.contact_b_id().empty() ? kNone : g.InternContact(pi.contact_b_id(), owner);
  rec.state = static_cast<uint8_t>(pi.state());
}

void ApplyMember(OrgGraph& g, const std::string& owner_id, const std::string& type,
                 const events::v1::GroupMemberEvent& m) {
  if (m.group_id().empty() || m.member_id().empty() || owner_id.empty()) return;
  uint32_t owner = g.InternUser(owner_id);
  std::string key = absl::StrCat(owner_id, "/", m.group_id());
  auto it = g.group_index.find(key);
  if (it == g.group_index.end()) {
    if (type != "group.member_added") return;
    it = g.group_index.emplace(key, static_cast<uint32_t>(g.groups.size())).first;
    GroupNode group;
    group.owner = owner;
    group.id = m.group_id();
    g.groups.push_back(std::move(group));
    g.users[owner].groups.push_back(it->second);
  }
  GroupNode& group = g.groups[it->second];
  if (m.has_group()) {
    group.display_name = m.group().display_name();
    group.name_key = NormalizeKey(m.group().display_name());
    group.kind = static_cast<uint8_t>(m.group().kind());
  }
  uint32_t member = m.member_id() == "me" ? kMe : g.InternContact(m.member_id(), owner);
  if (member != kMe && g.edges[member].owner != owner) return;
  auto& members = group.members;
  auto found =
      std::find_if(members.begin(), members.end(), [&](const GroupMemberRec& r) { return r.member == member; });
  if (type == "group.member_removed") {
    if (found != members.end()) members.erase(found);
    return;
  }
  uint8_t role = static_cast<uint8_t>(m.role() == ppb::MEMBER_ROLE_UNSPECIFIED ? ppb::MEMBER : m.role());
  if (found != members.end()) {
    found->role = role;
  } else {
    members.push_back(GroupMemberRec{member, role});
  }
}

// user.deleted: every contact of the user becomes an id-only tombstone, the
// user's interactions, introductions and groups are emptied, and the user's
// node forgets who they were (its slot stays: indexes elsewhere point at it).
void EraseUserFromGraph(OrgGraph& g, const std::string& user_id) {
  auto found = g.user_index.find(user_id);
  if (found == g.user_index.end()) return;
  const uint32_t owner = found->second;
  const std::vector<uint32_t> contacts = g.users[owner].contacts;
  for (uint32_t c : contacts) {
    ppb::Contact gone;
    gone.set_id(g.info[c].id);
    ApplyContact(g, user_id, "contact.deleted", gone);
  }
  UserNode& u = g.users[owner];
  for (uint32_t i : u.interactions) {
    g.interactions[i].alive = false;
    g.interactions[i].contacts.clear();
  }
  for (uint32_t i : u.introductions) {
    g.introductions[i].a = g.introductions[i].b = kNone;
    g.introductions[i].state = 0;
  }
  for (uint32_t i : u.groups) {
    g.groups[i].members.clear();
    g.groups[i].display_name.clear();
    g.groups[i].name_key.clear();
  }
  UserNode blank;
  blank.id = u.id;
  blank.interactions = std::move(u.interactions);
  blank.introductions = std::move(u.introductions);
  blank.groups = std::move(u.groups);
  u = std::move(blank);
  g.persons_dirty = true;
}

}  // namespace

float LogAnchorFromStrength(double strength, int64_t as_of_us) {
  if (strength <= 0) return kNoStrength;
  double s = std::min(strength, 99.999);
  double sum = -kStrengthScale * std::log(1.0 - s / 100.0);
  return static_cast<float>(std::log2(sum) + static_cast<double>(as_of_us - kAnchorUs) / kHalfLifeUs);
}

double StrengthAt(float log_anchor, int64_t now_us) {
  if (log_anchor <= kNoStrength) return 0;
  // Single precision: rankings evaluate this for every tie they touch, and
  // a float's 1e-6 relative error is far below the 0.01 strength shown.
  const float age = static_cast<float>(static_cast<double>(now_us - kAnchorUs) / kHalfLifeUs);
  const float sum = ::exp2f(log_anchor - age);
  return 100.0 * (1.0 - static_cast<double>(::expf(-sum / static_cast<float>(kStrengthScale))));
}

std::vector<std::string> PersonKeys(const profiles::v1::Contact& contact) {
  std::vector<std::string> keys;
  for (const std::string& e : contact.emails()) {
    std::string k = NormalizeKey(e);
    if (!k.empty()) keys.push_back("e:" + k);
  }
  for (const std::string& l : contact.links()) {
    std::string k = NormalizeKey(l);
    for (const char* prefix : {"https://", "http://"}) {
      if (absl::StartsWith(k, prefix)) k = k.substr(std::string_view(prefix).size());
    }
    if (absl::StartsWith(k, "www.")) k = k.substr(4);
    while (!k.empty() && k.back() == '/') k.pop_back();
    if (absl::StartsWith(k, "linkedin.com/")) keys.push_back("l:" + k);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// --- OrgGraph ---

const UserNode* OrgGraph::FindUser(const std::string& id) const {
  auto it = user_index.find(id);
  return it == user_index.end() ? nullptr : &users[it->second];
}

uint32_t OrgGraph::FindContact(const std::string& id) const {
  auto it = contact_index.find(id);
  return it == contact_index.end() ? kNone : it->second;
}

bool OrgGraph::VisibleTo(uint32_t c, uint32_t user) const {
  const ContactEdge& e = edges[c];
  return e.alive() && (e.owner == user || e.org_visible());
}

uint32_t OrgGraph::InternUser(const std::string& id) {
  auto [it, inserted] = user_index.try_emplace(id, static_cast<uint32_t>(users.size()));
  if (inserted) {
    UserNode user;
    user.id = id;
    users.push_back(std::move(user));
  }
  return it->second;
}

uint32_t OrgGraph::InternContact(const std::string& id, uint32_t owner) {
  auto [it, inserted] = contact_index.try_emplace(id, static_cast<uint32_t>(edges.size()));
  if (inserted) {
    edges.push_back(ContactEdge{.owner = owner});
    ContactInfo fresh;
    fresh.id = id;
    info.push_back(std::move(fresh));
  }
  return it->second;
}

uint32_t OrgGraph::InternTag(const std::string& normalized) {
  auto [it, inserted] = tag_index.try_emplace(normalized, static_cast<uint32_t>(tags.size()));
  if (inserted) tags.push_back(normalized);
  return it->second;
}

uint32_t OrgGraph::InternCompany(const std::string& normalized) {
  auto [it, inserted] = company_index.try_emplace(normalized, static_cast<uint32_t>(companies.size()));
  if (inserted) companies.push_back(normalized);
  return it->second;
}

void OrgGraph::AssignPerson(uint32_t c) {
  if (persons_dirty) return;  // the rebuild will place it
  ContactEdge& e = edges[c];
  std::vector<uint32_t> found;
  if (e.org_visible()) {
    for (const std::string& k : info[c].person_keys) {
      auto it = person_of_key.find(k);
      if (it != person_of_key.end() && std::find(found.begin(), found.end(), it->second) == found.end()) {
        found.push_back(it->second);
      }
    }
  }
  if (found.size() > 1) {  // c bridges persons: merge them in a rebuild
    persons_dirty = true;
    return;
  }
  uint32_t p;
  if (found.empty()) {
    p = static_cast<uint32_t>(person_head.size());
    person_head.push_back(kNone);
  } else {
    p = found[0];
  }
  e.person = p;
  e.next_in_person = person_head[p];
  person_head[p] = c;
  if (e.org_visible()) {
    for (const std::string& k : info[c].person_keys) person_of_key.emplace(k, p);
  }
}

void OrgGraph::ReleasePerson(uint32_t c) {
  ContactEdge& e = edges[c];
  if (persons_dirty || e.person == kNone) {
    e.person = kNone;
    return;
  }
  uint32_t p = e.person;
  // Unlink c from p's chain.
  uint32_t* link = &person_head[p];
  while (*link != kNone && *link != c) link = &edges[*link].next_in_person;
  if (*link == c) *link = e.next_in_person;
  e.person = kNone;
  e.next_in_person = kNone;
  if (person_head[p] != kNone) {
    // Others remain; c's keys may have been the bridge between them.
    if (e.org_visible() && !info[c].person_keys.empty()) persons_dirty = true;
    return;
  }
  for (const std::string& k : info[c].person_keys) {
    auto it = person_of_key.find(k);
    if (it != person_of_key.end() && it->second == p) person_of_key.erase(it);
  }
}

void OrgGraph::RebuildPersons() {
  // Union-find over alive contacts joined by shared keys of ORG-visible ones.
  const uint32_t n = static_cast<uint32_t>(edges.size());
  std::vector<uint32_t> parent(n);
  for (uint32_t i = 0; i < n; ++i) parent[i] = i;
  auto find = [&](uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  absl::flat_hash_map<std::string, uint32_t> first_of_key;
  for (uint32_t c = 0; c < n; ++c) {
    if (!edges[c].alive() || !edges[c].org_visible()) continue;
    for (const std::string& k : info[c].person_keys) {
      auto [it, inserted] = first_of_key.try_emplace(k, c);
      if (!inserted) {
        uint32_t a = find(it->second), b = find(c);
        if (a != b) parent[std::max(a, b)] = std::min(a, b);
      }
    }
  }
  person_head.clear();
  person_of_key.clear();
  std::vector<uint32_t> person_of_root(n, kNone);
  for (uint32_t c = 0; c < n; ++c) {
    ContactEdge& e = edges[c];
    e.person = kNone;
    e.next_in_person = kNone;
    if (!e.alive()) continue;
    uint32_t root = find(c);
    if (person_of_root[root] == kNone) {
      person_of_root[root] = static_cast<uint32_t>(person_head.size());
      person_head.push_back(kNone);
    }
    uint32_t p = person_of_root[root];
    e.person = p;
    e.next_in_person = person_head[p];
    person_head[p] = c;
  }
  for (const auto& [k, c] : first_of_key) person_of_key.emplace(k, edges[c].person);
  persons_dirty = false;
}

size_t OrgGraph::GraphBytes() const {
  size_t bytes = VectorBytes(edges) + VectorBytes(person_head);
  for (const UserNode& u : users) bytes += VectorBytes(u.contacts);
  return bytes;
}

size_t OrgGraph::TotalBytes() const {
  size_t bytes = GraphBytes() + VectorBytes(info) + VectorBytes(users) + VectorBytes(interactions) +
                 VectorBytes(introductions) + VectorBytes(groups) + VectorBytes(tags) + VectorBytes(companies);
  bytes += MapBytes(user_index) + MapBytes(contact_index) + MapBytes(person_of_key) + MapBytes(tag_index) +
           MapBytes(company_index) + MapBytes(contacts_by_company) + MapBytes(interaction_index) +
           MapBytes(introduction_index) + MapBytes(group_index);
  for (const auto& [id, i] : contact_index) bytes += StringBytes(id);
  for (const auto& [k, p] : person_of_key) bytes += StringBytes(k);
  for (const auto& [k, v] : contacts_by_company) bytes += VectorBytes(v);
  for (const ContactInfo& ci : info) {
    bytes += StringBytes(ci.id) + StringBytes(ci.display_name) + StringBytes(ci.company) + StringBytes(ci.title) +
             VectorBytes(ci.seeking) + VectorBytes(ci.offering) + VectorBytes(ci.person_keys);
    for (const std::string& k : ci.person_keys) bytes += StringBytes(k);
  }
  for (const UserNode& u : users) {
    bytes += VectorBytes(u.interactions) + VectorBytes(u.introductions) + VectorBytes(u.groups) +
             VectorBytes(u.seeking) + VectorBytes(u.offering);
  }
  for (const InteractionRec& r : interactions) bytes += StringBytes(r.id) + VectorBytes(r.contacts);
  for (const auto& [id, i] : interaction_index) bytes += StringBytes(id);
  for (const GroupNode& gr : groups) bytes += VectorBytes(gr.members) + StringBytes(gr.display_name);
  return bytes;
}

size_t OrgGraph::AliveEdges() const {
  size_t n = 0;
  for (const ContactEdge& e : edges) n += e.alive();
  return n;
}

// --- ReadModel ---

ReadModel::Org* ReadModel::FindOrg(const std::string& org) {
  std::shared_lock lock(mu_);
  auto it = orgs_.find(org);
  return it == orgs_.end() ? nullptr : it->second.get();
}

namespace {

// contact.merged: the survivor's fields as profiles combined them; the
// interactions and introductions that named a merged contact name the
// survivor; the merged contacts are deleted (tombstones, as on
// contact.deleted). Interactions, the ledger and group memberships also
// follow through their own events (interaction.updated, ledger.changed,
// group.member_*); doing it here too keeps the model right in between.
// Applying it twice changes nothing more.
void ApplyContactMerged(OrgGraph& g, const std::string& owner_id, const events::v1::ContactMergedEvent& merged) {
  const ppb::Contact& survivor = merged.survivor();
  if (survivor.id().empty() || owner_id.empty()) return;
  ApplyContact(g, owner_id, "contact.updated", survivor);
  const uint32_t owner = g.InternUser(owner_id);
  const uint32_t s = g.FindContact(survivor.id());
  if (s == kNone || g.edges[s].owner != owner) return;
  for (const std::string& id : merged.merged_ids()) {
    const uint32_t m = g.FindContact(id);
    if (m == kNone || m == s || g.edges[m].owner != owner) continue;
    for (uint32_t i : g.users[owner].interactions) {
      std::vector<uint32_t>& contacts = g.interactions[i].contacts;
      if (std::find(contacts.begin(), contacts.end(), m) == contacts.end()) continue;
      EraseValue(contacts, m);
      if (std::find(contacts.begin(), contacts.end(), s) == contacts.end()) contacts.push_back(s);
    }
    for (uint32_t i : g.users[owner].introductions) {
      IntroductionRec& rec = g.introductions[i];
      if (rec.a == m) rec.a = s;
      if (rec.b == m) rec.b = s;
    }
    ppb::Contact gone;
    gone.set_id(id);
    ApplyContact(g, owner_id, "contact.deleted", gone);
  }
}

}  // namespace

bool ReadModelConcerns(const events::v1::Event& e) {
  // The fields ApplyContact and ApplyInteraction read (PersonKeys: emails
  // and links).
  if (e.type() == "contact.updated") {
    return MayHaveChanged(e.changed(),
                          {"id", "display_name", "company", "title", "seeking", "offering", "visibility", "tier",
                           "cadence_days", "effective_cadence_days", "birthday", "emails", "links", "create_time"});
  }
  if (e.type() == "interaction.updated") {
    return MayHaveChanged(e.changed(), {"id", "kind", "direction", "occurred_at", "contact_ids", "state"});
  }
  return true;
}

ReadModel::Org* ReadModel::GetOrg(const std::string& org) {
  if (Org* o = FindOrg(org)) return o;
  std::unique_lock lock(mu_);
  auto& slot = orgs_[org];
  if (!slot) slot = std::make_unique<Org>();
  return slot.get();
}

absl::Status ReadModel::Apply(const events::v1::Event& event) {
  if (event.org_id().empty()) {
    if (event.type() == "org.created") return absl::OkStatus();
    return absl::InvalidArgumentError("event: names no org");
  }
  const std::string& type = event.type();
  const std::string& user = event.user_id();
  {
    std::lock_guard<std::mutex> lock(erased_mu_);
    if (erased_.contains(event.org_id()) || erased_.contains(absl::StrCat(event.org_id(), "/", user))) {
      return absl::OkStatus();
    }
    if (type == kOrgDeletedEvent) erased_.insert(event.org_id());
    if (type == kUserDeletedEvent && !user.empty()) erased_.insert(absl::StrCat(event.org_id(), "/", user));
  }
  if (type == kOrgDeletedEvent) {
    Mutate(event.org_id(), [](OrgGraph& g) { g = OrgGraph(); });
    return absl::OkStatus();
  }
  if (type == kUserDeletedEvent) {
    if (!user.empty()) Mutate(event.org_id(), [&](OrgGraph& g) { EraseUserFromGraph(g, user); });
    return absl::OkStatus();
  }
  int64_t time_us = event.has_time() ? TimestampToMicros(event.time()) : NowMicros();
  Mutate(event.org_id(), [&](OrgGraph& g) {
    switch (event.payload_case()) {
      case events::v1::Event::kUser:
        ApplyUser(g, event.user());
        break;
      case events::v1::Event::kContact:
        ApplyContact(g, user, type, event.contact().contact());
        break;
      case events::v1::Event::kGroupMember:
        ApplyMember(g, user, type, event.group_member());
        break;
      case events::v1::Event::kInteraction:
        ApplyInteraction(g, user, type, event.interaction());
        break;
      case events::v1::Event::kIntroduction:
        ApplyIntroduction(g, user, event.introduction());
        break;
      case events::v1::Event::kLedger:
        ApplyLedger(g, user, time_us, event.ledger());
        break;
      case events::v1::Event::kContactMerged:
        ApplyContactMerged(g, user, event.contact_merged());
        break;
      default:
        break;
    }
  });
  return absl::OkStatus();
}

void ReadModel::Read(const std::string& org, const std::function<void(const OrgGraph&)>& fn) {
  Org* o = FindOrg(org);
  if (o == nullptr) {
    static const OrgGraph kEmpty;
    fn(kEmpty);
    return;
  }
  {
    std::shared_lock lock(o->mu);
    if (!o->graph.persons_dirty) {
      fn(o->graph);
      return;
    }
  }
  std::unique_lock lock(o->mu);
  if (o->graph.persons_dirty) o->graph.RebuildPersons();
  fn(o->graph);
}

void ReadModel::Mutate(const std::string& org, const std::function<void(OrgGraph&)>& fn) {
  Org* o = GetOrg(org);
  std::unique_lock lock(o->mu);
  fn(o->graph);
}

void ReadModel::RebuildAll() {
  std::shared_lock lock(mu_);
  for (auto& [name, o] : orgs_) {
    std::unique_lock org_lock(o->mu);
    o->graph.RebuildPersons();
    // Bulk loading leaves vectors with doubling slack; later growth is small.
    o->graph.edges.shrink_to_fit();
    o->graph.info.shrink_to_fit();
    for (UserNode& u : o->graph.users) u.contacts.shrink_to_fit();
  }
}

std::vector<std::string> ReadModel::Orgs() {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(orgs_.size());
  for (const auto& [name, o] : orgs_) out.push_back(name);
  return out;
}

}  // namespace rapport::recommendations
