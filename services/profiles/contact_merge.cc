#include "services/profiles/contact_merge.h"

#include <functional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/profiles/contact_keys.h"

namespace rapport::profiles {
namespace {

namespace pb = ::rapport::profiles::v1;
using Strings = google::protobuf::RepeatedPtrField<std::string>;

// Appends the values of from that are new to into by key (a value whose key
// is empty is compared as written).
void Unite(const Strings& from, Strings* into, const std::function<std::string(const std::string&)>& key) {
  absl::flat_hash_set<std::string> seen;
  auto key_of = [&](const std::string& v) {
    std::string k = key(v);
    return k.empty() ? absl::StrCat("=", v) : k;
  };
  for (const std::string& v : *into) seen.insert(key_of(v));
  for (const std::string& v : from) {
    if (seen.insert(key_of(v)).second) *into->Add() = v;
  }
}

std::string LinkKey(const std::string& link) {
  std::string k = NormalizeLinkedInUrl(link);
  return k.empty() ? NormalizeKey(link) : k;
}

void Fill(std::string* into, const std::string& from) {
  if (into->empty()) *into = from;
}

}  // namespace

absl::Status ValidateMergeContacts(const pb::MergeContactsRequest& request) {
  Violations v;
  v.Id("contactId", request.contact_id(), /*required=*/true);
  if (request.other_ids().empty()) v.Add("otherIds", "must name at least one contact");
  if (request.other_ids_size() > kMaxMergeOthers) {
    v.Add("otherIds", absl::StrCat("at most ", kMaxMergeOthers, " contacts per merge"));
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < request.other_ids_size() && i < kMaxMergeOthers; ++i) {
    const std::string field = absl::StrCat("otherIds[", i, "]");
    const std::string& id = request.other_ids(i);
    v.Id(field, id, /*required=*/true);
    if (id == request.contact_id()) v.Add(field, "is the contact merged into (contactId)");
    if (!seen.insert(id).second) v.Add(field, "is repeated");
  }
  return v.ToStatus();
}

pb::Contact CombineContacts(const pb::Contact& survivor, const std::vector<pb::Contact>& others) {
  pb::Contact out = survivor;
  absl::flat_hash_set<std::string> merged_ids = {survivor.id()};
  for (const pb::Contact& o : others) merged_ids.insert(o.id());
  std::vector<std::string> notes;
  if (!survivor.notes().empty()) notes.push_back(survivor.notes());
  for (const pb::Contact& o : others) {
    Fill(out.mutable_display_name(), o.display_name());
    Fill(out.mutable_given_name(), o.given_name());
    Fill(out.mutable_family_name(), o.family_name());
    Fill(out.mutable_headline(), o.headline());
    Fill(out.mutable_company(), o.company());
    Fill(out.mutable_title(), o.title());
    Fill(out.mutable_location(), o.location());
    Fill(out.mutable_how_we_met(), o.how_we_met());
    if (out.met_through_contact_id().empty() && !merged_ids.contains(o.met_through_contact_id())) {
      out.set_met_through_contact_id(o.met_through_contact_id());
    }
    if ((!out.has_birthday() || out.birthday().month() == 0) && o.has_birthday() && o.birthday().month() > 0) {
      *out.mutable_birthday() = o.birthday();
    } else if (out.has_birthday() && out.birthday().year() == 0 && o.birthday().year() != 0 &&
               o.birthday().month() == out.birthday().month() && o.birthday().day() == out.birthday().day()) {
      out.mutable_birthday()->set_year(o.birthday().year());  // the same day, now with its year
    }
    if (out.tier() == pb::TIER_UNSPECIFIED) out.set_tier(o.tier());
    if (out.cadence_days() == 0) out.set_cadence_days(o.cadence_days());
    if (out.visibility() == pb::VISIBILITY_UNSPECIFIED) out.set_visibility(o.visibility());
    Unite(o.emails(), out.mutable_emails(), [](const std::string& e) { return NormalizeEmail(e); });
    Unite(o.phones(), out.mutable_phones(), [](const std::string& p) { return NormalizePhone(p); });
    Unite(o.links(), out.mutable_links(), LinkKey);
    auto tag_key = [](const std::string& t) { return NormalizeKey(t); };
    Unite(o.tags(), out.mutable_tags(), tag_key);
    Unite(o.seeking(), out.mutable_seeking(), tag_key);
    Unite(o.offering(), out.mutable_offering(), tag_key);
    if (!o.notes().empty() && o.notes() != survivor.notes()) notes.push_back(o.notes());
    if (o.has_create_time() &&
        (!out.has_create_time() || TimestampToMicros(o.create_time()) < TimestampToMicros(out.create_time()))) {
      *out.mutable_create_time() = o.create_time();
    }
  }
  if (merged_ids.contains(out.met_through_contact_id())) out.clear_met_through_contact_id();
  std::string joined;
  for (const std::string& n : notes) {
    if (!joined.empty()) joined += "\n\n";
    joined += n;
  }
  out.set_notes(joined);
  return out;
}

}  // namespace rapport::profiles
