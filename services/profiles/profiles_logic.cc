#include "services/profiles/profiles_logic.h"

#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/profiles/admin_logic.h"

namespace rapport::profiles {
namespace {

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int month, int64_t year_or_leap) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2) return IsLeap(year_or_leap) ? 29 : 28;
  return kDays[month - 1];
}

// Trims each entry and drops empty and repeated ones (compared case-insensitively).
void TidyList(google::protobuf::RepeatedPtrField<std::string>* values) {
  std::set<std::string> seen;
  google::protobuf::RepeatedPtrField<std::string> out;
  for (const std::string& v : *values) {
    std::string trimmed(absl::StripAsciiWhitespace(v));
    if (trimmed.empty()) continue;
    if (seen.insert(NormalizeKey(trimmed)).second) out.Add(std::move(trimmed));
  }
  values->Swap(&out);
}

void ValidateCommonTags(Violations& v, const std::string& prefix,
                        const google::protobuf::RepeatedPtrField<std::string>& list) {
  v.TextList(prefix, list, kMaxTags, 50);
}

size_t JsonBytes(const google::protobuf::Message& m) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(m, &json).ok()) return 0;
  return json.size();
}

// The set field of m whose value alone prints the largest JSON: the one to
// name when the whole message is too large.
const google::protobuf::FieldDescriptor* LargestField(const google::protobuf::Message& m) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  const google::protobuf::FieldDescriptor* largest = nullptr;
  size_t largest_bytes = 0;
  for (const google::protobuf::FieldDescriptor* f : fields) {
    std::unique_ptr<google::protobuf::Message> only(m.New());
    only->CopyFrom(m);
    for (const google::protobuf::FieldDescriptor* other : fields) {
      if (other != f) only->GetReflection()->ClearField(only.get(), other);
    }
    size_t bytes = JsonBytes(*only);
    if (largest == nullptr || bytes > largest_bytes) {
      largest = f;
      largest_bytes = bytes;
    }
  }
  return largest;
}

// Within every field's limit, the whole may still be too large (long
// multi-byte texts in every field at once): named by its largest field.
void CheckWholeSize(Violations& v, const google::protobuf::Message& m, const char* what) {
  if (!v.empty()) return;
  const size_t bytes = JsonBytes(m);
  if (bytes <= kMaxContactJsonBytes) return;
  const google::protobuf::FieldDescriptor* f = LargestField(m);
  v.Add(f != nullptr ? f->json_name() : what,
        absl::StrCat("makes the ", what, " ", bytes, " bytes as JSON, over the 32 KiB limit; shorten it"));
}

}  // namespace

int TierCadenceDays(pb::Tier tier) {
  switch (tier) {
    case pb::INNER:
      return 14;
    case pb::CLOSE:
      return 30;
    case pb::ACQUAINTANCE:
      return 180;
    default:
      return 90;
  }
}

bool IsValidBirthday(int month, int day, int year) {
  if (month < 1 || month > 12 || day < 1) return false;
  if (year == 0) return day <= DaysInMonth(month, 2000);  // 2000 is leap: Feb 29 allowed
  if (year < 1900 || year > 2200) return false;
  return day <= DaysInMonth(month, year);
}

void NormalizeContact(pb::Contact* c) {
  if (c->tier() == pb::TIER_UNSPECIFIED) c->set_tier(pb::NETWORK);
  if (c->visibility() == pb::VISIBILITY_UNSPECIFIED) c->set_visibility(pb::PRIVATE);
  TidyList(c->mutable_tags());
  TidyList(c->mutable_seeking());
  TidyList(c->mutable_offering());
  c->set_effective_cadence_days(c->cadence_days() > 0 ? c->cadence_days() : TierCadenceDays(c->tier()));
}

absl::Status ValidateContact(const pb::Contact& c) {
  Violations v;
  v.Text("displayName", c.display_name(), kMaxNameChars, /*required=*/true);
  v.Text("givenName", c.given_name(), kMaxNameChars);
  v.Text("familyName", c.family_name(), kMaxNameChars);
  v.Text("headline", c.headline(), kMaxNameChars);
  v.Text("company", c.company(), kMaxNameChars);
  v.Text("title", c.title(), kMaxNameChars);
  v.Text("location", c.location(), kMaxNameChars);
  v.Text("howWeMet", c.how_we_met(), 1000);
  v.Text("notes", c.notes(), kMaxNotesChars);
  if (c.emails_size() > 20) v.Add("emails", "has more than 20 items");
  for (int i = 0; i < c.emails_size() && i < 20; ++i) v.Email(absl::StrCat("emails[", i, "]"), c.emails(i));
  if (c.phones_size() > 20) v.Add("phones", "has more than 20 items");
  for (int i = 0; i < c.phones_size() && i < 20; ++i) v.Phone(absl::StrCat("phones[", i, "]"), c.phones(i));
  if (c.links_size() > 20) v.Add("links", "has more than 20 items");
  for (int i = 0; i < c.links_size() && i < 20; ++i) v.Url(absl::StrCat("links[", i, "]"), c.links(i));
  if (c.has_birthday() && !IsValidBirthday(c.birthday().month(), c.birthday().day(), c.birthday().year())) {
    v.Add("birthday", "is not a valid date (month 1..12, a day of that month, year 0 or 1900..2200)");
  }
  ValidateCommonTags(v, "tags", c.tags());
  ValidateCommonTags(v, "seeking", c.seeking());
  ValidateCommonTags(v, "offering", c.offering());
  if (!pb::Tier_IsValid(c.tier())) v.Add("tier", "is not INNER, CLOSE, NETWORK or ACQUAINTANCE");
  if (!pb::Visibility_IsValid(c.visibility())) v.Add("visibility", "is not PRIVATE or ORG");
  if (c.cadence_days() < 0 || c.cadence_days() > 3650) v.Add("cadenceDays", "must be 0 (tier default) to 3650");
  v.Id("metThroughContactId", c.met_through_contact_id(), /*required=*/false);
  if (!c.id().empty() && c.met_through_contact_id() == c.id()) {
    v.Add("metThroughContactId", "cannot be the contact itself");
  }
  CheckWholeSize(v, c, "contact");
  return v.ToStatus();
}

absl::Status ValidateBatchGetContacts(const pb::BatchGetContactsRequest& request) {
  Violations v;
  const int n = request.contact_ids_size();
  if (n == 0) v.Add("contactIds", "name at least one contact");
  if (n > kMaxBatchGetContacts) {
    v.Add("contactIds", absl::StrCat("has more than ", kMaxBatchGetContacts, " ids"));
    return v.ToStatus();  // one violation, not one per id past the limit
  }
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i) {
    std::string field = absl::StrCat("contactIds[", i, "]");
    v.Id(field, request.contact_ids(i), /*required=*/true);
    if (!seen.insert(request.contact_ids(i)).second) v.Add(field, "is repeated");
  }
  return v.ToStatus();
}

absl::Status ValidateGroup(const pb::Group& g) {
  Violations v;
  v.Text("displayName", g.display_name(), kMaxNameChars, true);
  v.Text("description", g.description(), 2000);
  if (!g.url().empty()) v.Url("url", g.url());
  if (!pb::GroupKind_IsValid(g.kind())) v.Add("kind", "is not a group kind");
  return v.ToStatus();
}

bool IsValidTimeZone(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  absl::TimeZone tz;
  return absl::LoadTimeZone(name, &tz);
}

absl::Status ValidateProfile(const pb::Profile& p) {
  Violations v;
  v.Text("displayName", p.display_name(), kMaxNameChars, true);
  v.Text("headline", p.headline(), kMaxNameChars);
  v.Text("company", p.company(), kMaxNameChars);
  v.Text("title", p.title(), kMaxNameChars);
  v.Text("industry", p.industry(), kMaxNameChars);
  v.Text("location", p.location(), kMaxNameChars);
  v.Text("bio", p.bio(), 5000);
  if (!p.photo_url().empty()) v.Url("photoUrl", p.photo_url());
  if (p.emails_size() > 20) v.Add("emails", "has more than 20 items");
  for (int i = 0; i < p.emails_size() && i < 20; ++i) v.Email(absl::StrCat("emails[", i, "]"), p.emails(i));
  if (p.links_size() > 20) v.Add("links", "has more than 20 items");
  for (int i = 0; i < p.links_size() && i < 20; ++i) v.Url(absl::StrCat("links[", i, "]"), p.links(i));
  ValidateCommonTags(v, "skills", p.skills());
  ValidateCommonTags(v, "seeking", p.seeking());
  ValidateCommonTags(v, "offering", p.offering());
  if (!IsValidTimeZone(p.timezone())) v.Add("timezone", "is not an IANA time zone name (e.g. Europe/Paris)");
  CheckWholeSize(v, p, "profile");
  return v.ToStatus();
}

absl::Status ValidateNewUser(const pb::CreateUserRequest& r) {
  Violations v;
  v.Text("displayName", r.display_name(), kMaxNameChars, true);
  v.Email("email", r.email());
  if (!r.timezone().empty() && !IsValidTimeZone(r.timezone())) {
    v.Add("timezone", "is not an IANA time zone name (e.g. Europe/Paris)");
  }
  return v.ToStatus();
}

pb::GetCompletenessResponse Completeness(const pb::Profile& p) {
  struct Item {
    const char* field;
    int weight;
    bool present;
    const char* why;
  };
  const Item items[] = {
      {"headline", 15, !p.headline().empty(), "it is the first line anyone reads when you are introduced"},
      {"displayName", 10, !p.display_name().empty(), "people recognise you by name"},
      {"company", 10, !p.company().empty(), "warm paths to a company start from where you are"},
      {"title", 10, !p.title().empty(), "a title tells connectors whom to introduce you to"},
      {"bio", 10, !p.bio().empty(), "it becomes the forwardable blurb in introduction requests"},
      {"skills", 10, p.skills_size() > 0, "skills say what you can offer and help match you"},
      {"industry", 5, !p.industry().empty(), "it suggests groups and people in your field"},
      {"location", 5, !p.location().empty(), "it makes meeting in person possible"},
      {"photoUrl", 5, !p.photo_url().empty(), "a face makes an introduction warmer"},
      {"emails", 5, p.emails_size() > 0, "contacts need a way to reach you"},
      {"links", 5, p.links_size() > 0, "a LinkedIn or site link lets people check your work"},
      {"seeking", 5, p.seeking_size() > 0, "your network can only help with what it knows you need"},
      {"offering", 5, p.offering_size() > 0, "it tells people what you can give back"},
  };
  pb::GetCompletenessResponse out;
  int score = 0;
  for (const Item& item : items) {  // listed by weight, so missing fields come most valuable first
    if (item.present) {
      score += item.weight;
    } else {
      pb::MissingField* m = out.add_missing();
      m->set_field(item.field);
      m->set_why(item.why);
    }
  }
  out.set_score(score);
  return out;
}

absl::CivilDay NextBirthday(int month, int day, absl::CivilDay today) {
  for (int64_t year = today.year();; ++year) {
    int d = std::min(day, DaysInMonth(month, year));
    absl::CivilDay candidate(year, month, d);
    if (candidate >= today) return candidate;
  }
}

std::vector<pb::UpcomingBirthday> UpcomingBirthdays(const std::vector<pb::Contact>& contacts, absl::CivilDay today,
                                                    int within_days) {
  std::vector<pb::UpcomingBirthday> out;
  for (const pb::Contact& c : contacts) {
    if (!c.has_birthday() || c.birthday().month() == 0) continue;
    absl::CivilDay next = NextBirthday(c.birthday().month(), c.birthday().day(), today);
    int64_t days = next - today;
    if (days > within_days) continue;
    pb::UpcomingBirthday b;
    *b.mutable_contact() = c;
    b.set_next_date(absl::FormatCivilTime(next));
    b.set_days_until(static_cast<int32_t>(days));
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.days_until() != b.days_until()) return a.days_until() < b.days_until();
    return a.contact().display_name() < b.contact().display_name();
  });
  return out;
}

// --- API keys ---

namespace {

bool IsOrgScope(int scope) {
  return scope == api::v1::READ || scope == api::v1::WRITE || scope == api::v1::ADMIN || scope == api::v1::ACT_AS_USER;
}

NewApiKey KeyWithSecret(const std::string& org_id, const std::string& key_id, const std::string& display_name,
                        int64_t now_us) {
  NewApiKey out;
  out.stored.org_id = org_id;
  out.stored.key.set_id(key_id);
  out.stored.key.set_display_name(display_name);
  *out.stored.key.mutable_create_time() = ToTimestamp(now_us);
  out.secret = MakeApiKeySecret(org_id, key_id);
  out.stored.secret_sha256 = Sha256(out.secret);
  return out;
}

}  // namespace

std::string MakeApiKeySecret(const std::string& org_id, const std::string& key_id) {
  return absl::StrCat("rpk.", org_id, ".", key_id, ".", RandomHex(24));
}

bool ParseApiKeySecret(const std::string& secret, std::string* org_id, std::string* key_id) {
  std::vector<std::string> parts = absl::StrSplit(secret, '.');
  if (parts.size() != 4 || parts[0] != "rpk" || !IsWellFormedId(parts[1]) || !IsWellFormedId(parts[2]) ||
      parts[3].size() != 48) {
    return false;
  }
  *org_id = parts[1];
  *key_id = parts[2];
  return true;
}

absl::StatusOr<NewApiKey> MakeApiKey(const std::string& org_id, const std::string& key_id,
                                     const pb::CreateApiKeyRequest& request, int64_t now_us) {
  Violations v;
  v.Text("displayName", request.display_name(), kMaxNameChars, true);
  if (request.scopes_size() == 0) v.Add("scopes", "name at least one of READ, WRITE, ADMIN, ACT_AS_USER");
  for (int i = 0; i < request.scopes_size(); ++i) {
    if (!IsOrgScope(request.scopes(i))) {
      v.Add(absl::StrCat("scopes[", i, "]"), "must be READ, WRITE, ADMIN or ACT_AS_USER");
    }
  }
  CheckKeyLimits(request.has_expire_time() ? &request.expire_time() : nullptr, request.rate_limit_per_minute(), now_us,
                 "", &v);
  if (!request.user_id().empty()) {
    v.Id("userId", request.user_id(), false);
    for (int s : request.scopes()) {
      if (s == api::v1::ADMIN || s == api::v1::ACT_AS_USER) {
        v.Add("scopes", "a personal key (userId) holds READ and WRITE only");
        break;
      }
    }
  }
  if (!v.empty()) return v.ToStatus();
  NewApiKey out = KeyWithSecret(org_id, key_id, request.display_name(), now_us);
  if (request.has_expire_time()) *out.stored.key.mutable_expire_time() = request.expire_time();
  out.stored.key.set_rate_limit_per_minute(request.rate_limit_per_minute());
  out.stored.key.set_user_id(request.user_id());
  uint32_t seen = 0;
  for (int s : request.scopes()) {
    if (!((seen >> s) & 1u)) out.stored.key.add_scopes(static_cast<api::v1::Scope>(s));
    seen |= 1u << s;
  }
  return out;
}

NewApiKey MakeOrgAdminKey(const std::string& org_id, const std::string& key_id, int64_t now_us) {
  NewApiKey out = KeyWithSecret(org_id, key_id, "org admin", now_us);
  for (api::v1::Scope s : {api::v1::READ, api::v1::WRITE, api::v1::ADMIN, api::v1::ACT_AS_USER}) {
    out.stored.key.add_scopes(s);
  }
  return out;
}

absl::StatusOr<pb::VerifyApiKeyResponse> VerifyApiKeySecret(
    const std::string& secret,
    absl::FunctionRef<absl::StatusOr<StoredApiKey>(const std::string& org_id, const std::string& key_id)> lookup,
    int64_t now_us) {
  const absl::Status invalid = absl::UnauthenticatedError("invalid API key");
  std::string org_id, key_id;
  if (!ParseApiKeySecret(secret, &org_id, &key_id)) return invalid;
  absl::StatusOr<StoredApiKey> stored = lookup(org_id, key_id);
  if (absl::IsNotFound(stored.status())) return invalid;
  if (!stored.ok()) return stored.status();
  if (!ConstantTimeEquals(Sha256(secret), stored->secret_sha256) || stored->key.has_revoke_time()) return invalid;
  if (stored->key.has_expire_time() && TimestampToMicros(stored->key.expire_time()) <= now_us) return invalid;
  pb::VerifyApiKeyResponse out;
  out.set_org_id(org_id);
  out.set_key_id(key_id);
  *out.mutable_scopes() = stored->key.scopes();
  out.set_rate_limit_per_minute(stored->key.rate_limit_per_minute());
  out.set_user_id(stored->key.user_id());
  return out;
}

}  // namespace rapport::profiles
