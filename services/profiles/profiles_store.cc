#include "services/profiles/profiles_store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "services/common/audit.h"
#include "services/common/db_rows.h"
#include "services/common/erasure.h"
#include "services/common/event_size.h"
#include "services/common/field_mask.h"
#include "services/common/outbox.h"
#include "services/common/quota.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/common/validate.h"
#include "services/profiles/account_export.h"
#include "services/profiles/audit_store.h"
#include "services/profiles/contact_keys.h"
#include "services/profiles/contact_merge.h"
#include "services/profiles/import_store.h"

namespace rapport::profiles {
namespace {

using db::Connection;
using db::ListBlobs;
using db::ParseRow;
using db::ReadBlob;
using db::RowNotFound;
using db::WriteWithResult;

// Numbered migrations; append only. org_id leads every primary key and index
// so that the schema can move to PostgreSQL/Citus sharded by org.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE orgs (
  org_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  create_us INTEGER NOT NULL,
  PRIMARY KEY (org_id)
) WITHOUT ROWID;
CREATE TABLE users (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  email TEXT NOT NULL,          -- normalized, unique in the org
  create_us INTEGER NOT NULL,
  profile BLOB NOT NULL,        -- rapport.profiles.v1.Profile
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX users_by_email ON users (org_id, email);
CREATE TABLE api_keys (
  org_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  secret_sha256 BLOB NOT NULL,
  revoke_us INTEGER,
  key BLOB NOT NULL,            -- rapport.profiles.v1.ApiKey
  PRIMARY KEY (org_id, key_id)
) WITHOUT ROWID;
CREATE TABLE contacts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  search TEXT NOT NULL,         -- lowercased name, company, title, emails
  tier INTEGER NOT NULL,
  has_birthday INTEGER NOT NULL,
  data BLOB NOT NULL,           -- rapport.profiles.v1.Contact
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE contact_tags (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  tag TEXT NOT NULL,            -- normalized
  contact_id TEXT NOT NULL,
  PRIMARY KEY (org_id, user_id, tag, contact_id)
) WITHOUT ROWID;
CREATE TABLE groups (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  data BLOB NOT NULL,           -- rapport.profiles.v1.Group
  PRIMARY KEY (org_id, user_id, group_id)
) WITHOUT ROWID;
CREATE TABLE memberships (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  member_id TEXT NOT NULL,      -- contact id or "me"
  role INTEGER NOT NULL,
  join_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_member ON memberships (org_id, user_id, member_id, group_id);
)sql",
      events::kOutboxMigration,
      kIdempotencyMigration,
      kIdempotencyByTimeMigration,
      // Contacts per user, kept with every create and delete, so that the
      // quota check costs one row read rather than a count of 50 000 rows on
      // the writer.
      R"sql(
CREATE TABLE contact_counts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contacts INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
INSERT INTO contact_counts (org_id, user_id, contacts)
  SELECT org_id, user_id, COUNT(*) FROM contacts GROUP BY org_id, user_id;
)sql",
      // Duplicates and merge: every contact's normalized match keys
      // (contact_keys.h), so that duplicates are one indexed GROUP BY rather
      // than a comparison of every pair; the owners whose keys are complete
      // (contacts written before this migration get theirs on the owner's
      // first duplicates call); contacts merged away, pointing at their
      // survivor, so that a repeated merge answers it.
      R"sql(
CREATE TABLE contact_keys (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  key_kind TEXT NOT NULL,
  key_value TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  PRIMARY KEY (org_id, user_id, key_kind, key_value, contact_id)
) WITHOUT ROWID;
CREATE INDEX contact_keys_by_contact ON contact_keys (org_id, user_id, contact_id);
CREATE TABLE contact_keys_ready (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE TABLE merged_contacts (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  survivor_id TEXT NOT NULL,
  merge_us INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX merged_contacts_by_survivor ON merged_contacts (org_id, user_id, survivor_id);
)sql",
      kJwtKeysMigration,
      // Contact imports (import_store.h).
      kImportsMigration,
      kErasedSubjectsMigration,
      kAccountExportMigration,
      // Org administration: a user's state (1 ACTIVE, 2 DEACTIVATED) and
      // last update; a key's last use in its own column, so that recording
      // it is one small UPDATE (KeyUseRecorder, key_use.h).
      R"sql(
ALTER TABLE users ADD COLUMN state INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN update_us INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_us INTEGER;
)sql",
      kAuditLogMigration,
  };
  return kMigrations;
}

std::string SearchText(const pb::Contact& c) {
  std::vector<std::string> parts = {c.display_name(), c.given_name(), c.family_name(), c.company(), c.title()};
  for (const std::string& e : c.emails()) parts.push_back(e);
  return NormalizeKey(absl::StrJoin(parts, "\x1f"));
}

// A LIKE pattern that matches any text containing s. LIKE with an escape
// character is the substring search SQLite and PostgreSQL share (instr and
// strpos are one engine's each). Both sides are normalized to lowercase, so
// SQLite's ASCII case folding in LIKE changes nothing.
std::string SubstringPattern(std::string_view s) {
  std::string out = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '!') out.push_back('!');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

pb::User UserFromRow(const std::string& user_id, const std::string& email, int64_t create_us,
                     const pb::Profile& profile) {
  pb::User user;
  user.set_id(user_id);
  user.set_display_name(profile.display_name());
  user.set_email(email);
  user.set_timezone(profile.timezone());
  *user.mutable_create_time() = ToTimestamp(create_us);
  return user;
}

absl::StatusOr<pb::Profile> ReadProfile(Connection& conn, const Owner& owner) {
  auto st = conn.Prepare("SELECT profile FROM users WHERE org_id = ? AND user_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user);
  return ReadBlob<pb::Profile>(st, "user");
}

absl::StatusOr<pb::Contact> ReadContact(Connection& conn, const Owner& owner, const std::string& id) {
  auto st = conn.Prepare("SELECT data FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  return ReadBlob<pb::Contact>(st, "contact");
}

absl::StatusOr<pb::Group> ReadGroup(Connection& conn, const Owner& owner, const std::string& id) {
  auto st = conn.Prepare("SELECT data FROM groups WHERE org_id = ? AND user_id = ? AND group_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  return ReadBlob<pb::Group>(st, "group");
}

absl::StatusOr<int64_t> ContactCount(Connection& conn, const Owner& owner) {
  ASSIGN_OR_RETURN(std::optional<int64_t> n,
                   db::ReadRow<int64_t>(conn.Prepare("SELECT contacts FROM contact_counts WHERE org_id = ? AND "
                                                     "user_id = ?")
                                            .Bind(1, owner.org)
                                            .Bind(2, owner.user),
                                        [](const db::Statement& row) { return row.ColumnInt(0); }));
  return n.value_or(0);
}

// At most a few hundred rows per org (the quota), read on the key.
absl::StatusOr<int64_t> CountActiveApiKeys(Connection& conn, const std::string& org) {
  ASSIGN_OR_RETURN(std::optional<int64_t> n,
                   db::ReadRow<int64_t>(conn.Prepare("SELECT COUNT(*) FROM api_keys WHERE org_id = ? AND "
                                                     "revoke_us IS NULL")
                                            .Bind(1, org),
                                        [](const db::Statement& row) { return row.ColumnInt(0); }));
  return n.value_or(0);
}

// Replaces the contact's match keys (contact_keys.h) in contact_keys.
absl::Status WriteContactKeys(Connection& conn, const Owner& owner, const pb::Contact& c) {
  auto clear = conn.Prepare("DELETE FROM contact_keys WHERE org_id = ? AND user_id = ? AND contact_id = ?");
  clear.Bind(1, owner.org).Bind(2, owner.user).Bind(3, c.id());
  RETURN_IF_ERROR(clear.Run());
  for (const MatchKey& k : MatchKeys(c)) {
    auto ins = conn.Prepare(
        "INSERT INTO contact_keys (org_id, user_id, key_kind, key_value, contact_id) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING");
    ins.Bind(1, owner.org).Bind(2, owner.user).Bind(3, k.kind).Bind(4, k.key).Bind(5, c.id());
    RETURN_IF_ERROR(ins.Run());
  }
  return absl::OkStatus();
}

// Writes the contact row and its tag index (replacing both). With
// check_met_through, met_through_contact_id must name one of the owner's contacts.
absl::Status WriteContact(Connection& conn, const Owner& owner, const pb::Contact& c, bool check_met_through) {
  if (check_met_through && !c.met_through_contact_id().empty()) {
    auto exists = conn.Prepare("SELECT 1 FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?");
    exists.Bind(1, owner.org).Bind(2, owner.user).Bind(3, c.met_through_contact_id());
    ASSIGN_OR_RETURN(bool found, db::Exists(exists));
    if (!found) return absl::InvalidArgumentError("contact.metThroughContactId: no such contact");
  }
  // contacts has no unique index besides its key, so this upsert replaces
  // exactly the row INSERT OR REPLACE used to.
  auto st = conn.Prepare(
      "INSERT INTO contacts (org_id, user_id, contact_id, display_name, search, tier, has_birthday, data) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, contact_id) DO UPDATE SET "
      "display_name = excluded.display_name, search = excluded.search, tier = excluded.tier, "
      "has_birthday = excluded.has_birthday, data = excluded.data");
  st.Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, c.id())
      .Bind(4, c.display_name())
      .Bind(5, SearchText(c))
      .Bind(6, static_cast<int>(c.tier()))
      .Bind(7, c.has_birthday() && c.birthday().month() > 0 ? 1 : 0)
      .BindBlob(8, c.SerializeAsString());
  RETURN_IF_ERROR(st.Run());
  auto clear = conn.Prepare("DELETE FROM contact_tags WHERE org_id = ? AND user_id = ? AND contact_id = ?");
  clear.Bind(1, owner.org).Bind(2, owner.user).Bind(3, c.id());
  RETURN_IF_ERROR(clear.Run());
  for (const std::string& tag : c.tags()) {
    auto ins = conn.Prepare(
        "INSERT INTO contact_tags (org_id, user_id, tag, contact_id) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING");
    ins.Bind(1, owner.org).Bind(2, owner.user).Bind(3, NormalizeKey(tag)).Bind(4, c.id());
    RETURN_IF_ERROR(ins.Run());
  }
  return WriteContactKeys(conn, owner, c);
}

absl::Status WriteGroup(Connection& conn, const Owner& owner, const pb::Group& g) {
  // groups has no unique index besides its key (as for contacts above).
  auto st = conn.Prepare(
      "INSERT INTO groups (org_id, user_id, group_id, data) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (org_id, user_id, group_id) DO UPDATE SET data = excluded.data");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, g.id()).BindBlob(4, g.SerializeAsString());
  return st.Run();
}

// Display name of a member: the contact's, or the user's own for "me".
absl::StatusOr<std::string> MemberName(Connection& conn, const Owner& owner, const std::string& member_id) {
  if (member_id == "me") {
    ASSIGN_OR_RETURN(pb::Profile profile, ReadProfile(conn, owner));
    return profile.display_name();
  }
  auto st = conn.Prepare("SELECT display_name FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?");
  st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, member_id);
  ASSIGN_OR_RETURN(std::optional<std::string> name,
                   db::ReadRow<std::string>(st, [](const db::Statement& row) { return row.ColumnText(0); }));
  if (!name.has_value()) return RowNotFound("contact");
  return *std::move(name);
}

// The columns ReadUser reads, in its order.
constexpr char kUserColumns[] = "user_id, email, create_us, profile, state, update_us";

// A user from the columns kUserColumns.
absl::StatusOr<pb::User> ReadUser(const db::Statement& row) {
  pb::Profile profile;
  RETURN_IF_ERROR(ParseRow(row.ColumnBlob(3), &profile));
  pb::User user = UserFromRow(row.ColumnText(0), row.ColumnText(1), row.ColumnInt(2), profile);
  user.set_state(static_cast<pb::UserState>(row.ColumnInt(4)));
  if (!row.ColumnIsNull(5)) *user.mutable_update_time() = ToTimestamp(row.ColumnInt(5));
  return user;
}

// The columns ReadApiKey reads, in its order.
constexpr char kApiKeyColumns[] = "revoke_us, key, last_used_us";

// An API key from the columns kApiKeyColumns: the stored message with its
// revocation and last-use times, which live in their own columns so that
// revoking, and recording a use, is one UPDATE.
absl::StatusOr<pb::ApiKey> ReadApiKey(const db::Statement& row) {
  pb::ApiKey key;
  RETURN_IF_ERROR(ParseRow(row.ColumnBlob(1), &key));
  if (!row.ColumnIsNull(0)) *key.mutable_revoke_time() = ToTimestamp(row.ColumnInt(0));
  if (!row.ColumnIsNull(2)) *key.mutable_last_use_time() = ToTimestamp(row.ColumnInt(2));
  return key;
}

// Every change is published through the outbox in the same transaction.
events::v1::Event NewEvent(const char* type, const std::string& org, const std::string& user) {
  return events::NewEvent(type, "profiles", org, user);
}

// changed: on contact.updated, the fields the update changed (Event.changed).
absl::Status EmitContact(Connection& conn, const char* type, const Owner& owner, const pb::Contact& c,
                         const google::protobuf::FieldMask* changed = nullptr) {
  events::v1::Event e = NewEvent(type, owner.org, owner.user);
  pb::Contact* payload = e.mutable_contact()->mutable_contact();
  *payload = c;
  payload->clear_notes();  // notes never leave profiles
  if (changed != nullptr) *e.mutable_changed() = *changed;
  RETURN_IF_ERROR(events::CheckEventSize(e));
  return events::AppendEvent(conn, std::move(e));
}

// Adds delta to the owner's contact count.
absl::Status CountContacts(Connection& conn, const Owner& owner, int delta) {
  return conn
      .Prepare(
          "INSERT INTO contact_counts (org_id, user_id, contacts) VALUES (?, ?, ?) "
          "ON CONFLICT (org_id, user_id) DO UPDATE SET contacts = contact_counts.contacts + excluded.contacts")
      .Bind(1, owner.org)
      .Bind(2, owner.user)
      .Bind(3, delta)
      .Run();
}

absl::Status EmitUser(Connection& conn, const char* type, const std::string& org, const pb::User& user,
                      const pb::Profile& profile) {
  events::v1::Event e = NewEvent(type, org, user.id());
  *e.mutable_user()->mutable_user() = user;
  *e.mutable_user()->mutable_profile() = profile;
  RETURN_IF_ERROR(events::CheckEventSize(e));
  return events::AppendEvent(conn, std::move(e));
}

absl::Status EmitMember(Connection& conn, const char* type, const Owner& owner, const std::string& group_id,
                        const std::string& member_id, pb::MemberRole role, const pb::Group* group) {
  events::v1::Event e = NewEvent(type, owner.org, owner.user);
  auto* m = e.mutable_group_member();
  m->set_group_id(group_id);
  m->set_member_id(member_id);
  m->set_role(role);
  if (group != nullptr) *m->mutable_group() = *group;
  if (group != nullptr) {
    // The membership as its list route shows it, for sync clients.
    auto st = conn.Prepare(
        "SELECT join_us FROM memberships WHERE org_id = ? AND user_id = ? AND group_id = ? AND member_id = ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, group_id).Bind(4, member_id);
    ASSIGN_OR_RETURN(std::optional<int64_t> join_us,
                     db::ReadRow<int64_t>(st, [](const db::Statement& row) { return row.ColumnInt(0); }));
    pb::GroupMember* member = m->mutable_member();
    member->set_member_id(member_id);
    member->set_role(role);
    if (join_us.has_value()) *member->mutable_join_time() = ToTimestamp(*join_us);
  }
  RETURN_IF_ERROR(events::CheckEventSize(e));
  return events::AppendEvent(conn, std::move(e));
}

// group.created / group.updated / group.deleted, for sync clients.
absl::Status EmitGroup(Connection& conn, const char* type, const Owner& owner, const pb::Group& group) {
  events::v1::Event e = NewEvent(type, owner.org, owner.user);
  *e.mutable_group()->mutable_group() = group;
  RETURN_IF_ERROR(events::CheckEventSize(e));
  return events::AppendEvent(conn, std::move(e));
}

// Deletes the memberships of a member or of a group (column names which),
// emitting group.member_removed for each.
absl::Status RemoveMemberships(Connection& conn, const Owner& owner, const char* column, const std::string& id) {
  using GroupAndMember = std::pair<std::string, std::string>;
  std::vector<GroupAndMember> removed;
  {
    auto st = conn.Prepare(absl::StrCat(
        "SELECT group_id, member_id FROM memberships WHERE org_id = ? AND user_id = ? AND ", column, " = ?"));
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
    ASSIGN_OR_RETURN(removed, db::ListRows<GroupAndMember>(st, [](const db::Statement& row) {
                       return GroupAndMember(row.ColumnText(0), row.ColumnText(1));
                     }));
  }
  auto del =
      conn.Prepare(absl::StrCat("DELETE FROM memberships WHERE org_id = ? AND user_id = ? AND ", column, " = ?"));
  del.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
  RETURN_IF_ERROR(del.Run());
  for (const auto& [group_id, member_id] : removed) {
    RETURN_IF_ERROR(
        EmitMember(conn, "group.member_removed", owner, group_id, member_id, pb::MEMBER_ROLE_UNSPECIFIED, nullptr));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProfilesStore>> ProfilesStore::Open(const std::string& path) {
  db::Options options;
  options.path = path;
  return Open(std::move(options));
}

absl::StatusOr<std::unique_ptr<ProfilesStore>> ProfilesStore::Open(db::Options options) {
  options.migrations = Migrations();
  ASSIGN_OR_RETURN(auto db, db::Open(options));
  return std::unique_ptr<ProfilesStore>(new ProfilesStore(std::move(db)));
}

// --- orgs and users ---

absl::Status ProfilesStore::RecordAudit(const TenantContext& actor, const audit::Action& action) {
  return db_->Write([&](Connection& conn) { return audit::Record(conn, actor, "profiles", action); });
}

void ProfilesStore::CreateOrg(const pb::Org& org, const StoredApiKey& admin_key, const TenantContext& actor,
                              DoneStatus done, std::optional<StoredJwtKey> jwt_key) {
  db_->WriteAsync(
      [org, admin_key, actor, jwt_key = std::move(jwt_key)](Connection& conn) -> absl::Status {
        auto st = conn.Prepare("INSERT INTO orgs (org_id, display_name, create_us) VALUES (?, ?, ?)");
        st.Bind(1, org.id()).Bind(2, org.display_name()).Bind(3, TimestampToMicros(org.create_time()));
        RETURN_IF_ERROR(st.Run());
        auto key = conn.Prepare(
            "INSERT INTO api_keys (org_id, key_id, secret_sha256, revoke_us, key) VALUES (?, ?, ?, NULL, ?)");
        key.Bind(1, admin_key.org_id)
            .Bind(2, admin_key.key.id())
            .BindBlob(3, admin_key.secret_sha256)
            .BindBlob(4, admin_key.key.SerializeAsString());
        RETURN_IF_ERROR(key.Run());
        if (jwt_key.has_value()) RETURN_IF_ERROR(InsertJwtKey(conn, *jwt_key));
        events::v1::Event e = NewEvent("org.created", org.id(), "");
        *e.mutable_org()->mutable_org() = org;
        RETURN_IF_ERROR(events::AppendEvent(conn, std::move(e)));
        return audit::Record(conn, actor, "profiles",
                             {.action = "org.created", .target_id = org.id(), .detail = "", .org_id = org.id()});
      },
      std::move(done));
}

void ProfilesStore::CreateUser(const std::string& org, const pb::User& user, const IdempotencyScope& idempotency,
                               const google::protobuf::Message& request, const TenantContext& actor,
                               Done<pb::User> done) {
  WriteWithResult<pb::User>(
      *db_,
      [org, user, idempotency, actor, req = CopyMessage(request)](Connection& conn) -> absl::StatusOr<pb::User> {
        return IdempotentCreate<pb::User>(conn, idempotency, *req, [&]() -> absl::StatusOr<pb::User> {
          auto exists = conn.Prepare("SELECT 1 FROM orgs WHERE org_id = ?");
          exists.Bind(1, org);
          ASSIGN_OR_RETURN(bool found, db::Exists(exists));
          if (!found) return RowNotFound("org");
          pb::Profile profile;
          profile.set_user_id(user.id());
          profile.set_display_name(user.display_name());
          profile.add_emails(user.email());
          profile.set_timezone(user.timezone());
          *profile.mutable_update_time() = user.create_time();
          auto st =
              conn.Prepare("INSERT INTO users (org_id, user_id, email, create_us, profile) VALUES (?, ?, ?, ?, ?)");
          st.Bind(1, org)
              .Bind(2, user.id())
              .Bind(3, NormalizeKey(user.email()))
              .Bind(4, TimestampToMicros(user.create_time()))
              .BindBlob(5, profile.SerializeAsString());
          absl::Status s = st.Run();
          if (absl::IsAlreadyExists(s)) return absl::AlreadyExistsError("email: a user with this email exists");
          RETURN_IF_ERROR(s);
          RETURN_IF_ERROR(EmitUser(conn, "user.created", org, user, profile));
          RETURN_IF_ERROR(
              audit::Record(conn, actor, "profiles",
                            {.action = "user.created", .target_id = user.id(), .detail = "", .org_id = org}));
          return user;
        });
      },
      std::move(done));
}

absl::StatusOr<pb::User> ProfilesStore::GetUser(const std::string& org, const std::string& user_id) {
  std::optional<pb::User> user;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(absl::StrCat("SELECT ", kUserColumns, " FROM users WHERE org_id = ? AND user_id = ?"));
    st.Bind(1, org).Bind(2, user_id);
    ASSIGN_OR_RETURN(user, db::ReadRow<pb::User>(st, ReadUser));
    return absl::OkStatus();
  }));
  if (!user.has_value()) return RowNotFound("user");
  return *std::move(user);
}

absl::StatusOr<std::vector<pb::User>> ProfilesStore::ListUsers(const std::string& org, const std::string& after_id,
                                                               int limit) {
  std::vector<pb::User> users;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        absl::StrCat("SELECT ", kUserColumns, " FROM users WHERE org_id = ? AND user_id > ? ORDER BY user_id LIMIT ?"));
    st.Bind(1, org).Bind(2, after_id).Bind(3, limit);
    ASSIGN_OR_RETURN(users, db::ListRows<pb::User>(st, ReadUser));
    return absl::OkStatus();
  }));
  return users;
}

// --- API keys ---

void ProfilesStore::CreateApiKey(const StoredApiKey& key, int64_t max_keys, const TenantContext& actor,
                                 DoneStatus done) {
  db_->WriteAsync(
      [key, max_keys, actor](Connection& conn) -> absl::Status {
        ASSIGN_OR_RETURN(int64_t active, CountActiveApiKeys(conn, key.org_id));
        RETURN_IF_ERROR(CheckQuota(kApiKeysPerOrg, active, max_keys, "active API keys per org"));
        if (!key.key.user_id().empty()) {
          // A personal key names a user of its org.
          ASSIGN_OR_RETURN(bool found, db::Exists(conn.Prepare("SELECT 1 FROM users WHERE org_id = ? AND user_id = ?")
                                                      .Bind(1, key.org_id)
                                                      .Bind(2, key.key.user_id())));
          if (!found) return absl::InvalidArgumentError("userId: no such user in the org");
        }
        RETURN_IF_ERROR(audit::Record(
            conn, actor, "profiles",
            {.action = "apiKey.created",
             .target_id = key.key.id(),
             .detail = key.key.user_id().empty() ? "" : absl::StrCat("personal key of user ", key.key.user_id()),
             .org_id = key.org_id}));
        auto st = conn.Prepare(
            "INSERT INTO api_keys (org_id, key_id, secret_sha256, revoke_us, key) VALUES (?, ?, ?, NULL, ?)");
        st.Bind(1, key.org_id)
            .Bind(2, key.key.id())
            .BindBlob(3, key.secret_sha256)
            .BindBlob(4, key.key.SerializeAsString());
        return st.Run();
      },
      std::move(done));
}

absl::StatusOr<StoredApiKey> ProfilesStore::GetApiKey(const std::string& org, const std::string& key_id) {
  std::optional<StoredApiKey> out;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        absl::StrCat("SELECT ", kApiKeyColumns, ", secret_sha256 FROM api_keys WHERE org_id = ? AND key_id = ?"));
    st.Bind(1, org).Bind(2, key_id);
    ASSIGN_OR_RETURN(out, db::ReadRow<StoredApiKey>(st, [&](const db::Statement& row) -> absl::StatusOr<StoredApiKey> {
                       StoredApiKey stored;
                       stored.org_id = org;
                       ASSIGN_OR_RETURN(stored.key, ReadApiKey(row));
                       stored.secret_sha256 = row.ColumnBlob(3);
                       return stored;
                     }));
    return absl::OkStatus();
  }));
  if (!out.has_value()) return RowNotFound("api key");
  return *std::move(out);
}

absl::StatusOr<std::vector<pb::ApiKey>> ProfilesStore::ListApiKeys(const std::string& org, const std::string& after_id,
                                                                   int limit) {
  std::vector<pb::ApiKey> keys;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(absl::StrCat("SELECT ", kApiKeyColumns,
                                        " FROM api_keys WHERE org_id = ? AND key_id > ? ORDER BY key_id LIMIT ?"));
    st.Bind(1, org).Bind(2, after_id).Bind(3, limit);
    ASSIGN_OR_RETURN(keys, db::ListRows<pb::ApiKey>(st, ReadApiKey));
    return absl::OkStatus();
  }));
  return keys;
}

void ProfilesStore::RevokeApiKey(const std::string& org, const std::string& key_id, int64_t now_micros,
                                 const TenantContext& actor, Done<pb::ApiKey> done) {
  WriteWithResult<pb::ApiKey>(
      *db_,
      [org, key_id, now_micros, actor](Connection& conn) -> absl::StatusOr<pb::ApiKey> {
        // Only the first revocation changes the row, and only it is audited.
        auto upd =
            conn.Prepare("UPDATE api_keys SET revoke_us = ? WHERE org_id = ? AND key_id = ? AND revoke_us IS NULL");
        upd.Bind(1, now_micros).Bind(2, org).Bind(3, key_id);
        RETURN_IF_ERROR(upd.Run());
        if (conn.Changes() > 0) {
          RETURN_IF_ERROR(audit::Record(
              conn, actor, "profiles", {.action = "apiKey.revoked", .target_id = key_id, .detail = "", .org_id = org}));
        }
        auto st =
            conn.Prepare(absl::StrCat("SELECT ", kApiKeyColumns, " FROM api_keys WHERE org_id = ? AND key_id = ?"));
        st.Bind(1, org).Bind(2, key_id);
        ASSIGN_OR_RETURN(std::optional<pb::ApiKey> key, db::ReadRow<pb::ApiKey>(st, ReadApiKey));
        if (!key.has_value()) return RowNotFound("api key");
        return *std::move(key);
      },
      std::move(done));
}

namespace {

// The fields of a user that differ, by JSON name, for the audit's detail.
std::vector<std::string> ChangedUserFields(const pb::User& before, const pb::User& after) {
  std::vector<std::string> out;
  if (before.display_name() != after.display_name()) out.push_back("displayName");
  if (before.email() != after.email()) out.push_back("email");
  if (before.timezone() != after.timezone()) out.push_back("timezone");
  if (before.state() != after.state()) out.push_back("state");
  return out;
}

}  // namespace

void ProfilesStore::UpdateUser(const std::string& org, const std::string& user_id, Mutation<pb::User> mutate,
                               int64_t now_micros, const TenantContext& actor, Done<pb::User> done) {
  WriteWithResult<pb::User>(
      *db_,
      [org, user_id, mutate = std::move(mutate), now_micros, actor](Connection& conn) -> absl::StatusOr<pb::User> {
        auto read = conn.Prepare(absl::StrCat("SELECT ", kUserColumns, " FROM users WHERE org_id = ? AND user_id = ?"));
        read.Bind(1, org).Bind(2, user_id);
        ASSIGN_OR_RETURN(std::optional<pb::User> found, db::ReadRow<pb::User>(read, ReadUser));
        if (!found.has_value()) return RowNotFound("user");
        const pb::User before = *found;
        pb::User user = *std::move(found);
        RETURN_IF_ERROR(mutate(user));
        const std::vector<std::string> changed = ChangedUserFields(before, user);
        if (changed.empty()) return user;  // nothing to write, nothing to audit
        *user.mutable_update_time() = ToTimestamp(now_micros);
        ASSIGN_OR_RETURN(pb::Profile profile, ReadProfile(conn, Owner{org, user_id}));
        // The user's name and zone live in the own profile (UserFromRow).
        profile.set_display_name(user.display_name());
        profile.set_timezone(user.timezone());
        absl::Status s = conn.Prepare(
                                 "UPDATE users SET email = ?, profile = ?, state = ?, update_us = ? "
                                 "WHERE org_id = ? AND user_id = ?")
                             .Bind(1, NormalizeKey(user.email()))
                             .BindBlob(2, profile.SerializeAsString())
                             .Bind(3, static_cast<int>(user.state()))
                             .Bind(4, now_micros)
                             .Bind(5, org)
                             .Bind(6, user_id)
                             .Run();
        if (absl::IsAlreadyExists(s)) return absl::AlreadyExistsError("user.email: a user with this email exists");
        RETURN_IF_ERROR(s);
        RETURN_IF_ERROR(EmitUser(conn, "user.updated", org, user, profile));
        std::string action = "user.updated";
        if (before.state() != user.state()) {
          action = user.state() == pb::DEACTIVATED ? "user.deactivated" : "user.reactivated";
        }
        RETURN_IF_ERROR(audit::Record(conn, actor, "profiles",
                                      {.action = action,
                                       .target_id = user_id,
                                       .detail = absl::StrCat("changed: ", absl::StrJoin(changed, ", ")),
                                       .org_id = org}));
        return user;
      },
      std::move(done));
}

void ProfilesStore::UpdateApiKey(const std::string& org, const std::string& key_id, Mutation<pb::ApiKey> mutate,
                                 const TenantContext& actor, Done<pb::ApiKey> done) {
  WriteWithResult<pb::ApiKey>(
      *db_,
      [org, key_id, mutate = std::move(mutate), actor](Connection& conn) -> absl::StatusOr<pb::ApiKey> {
        auto read =
            conn.Prepare(absl::StrCat("SELECT ", kApiKeyColumns, " FROM api_keys WHERE org_id = ? AND key_id = ?"));
        read.Bind(1, org).Bind(2, key_id);
        ASSIGN_OR_RETURN(std::optional<pb::ApiKey> found, db::ReadRow<pb::ApiKey>(read, ReadApiKey));
        if (!found.has_value()) return RowNotFound("api key");
        if (found->has_revoke_time()) return absl::FailedPreconditionError("apiKey: the key is revoked");
        const pb::ApiKey before = *found;
        pb::ApiKey key = *std::move(found);
        RETURN_IF_ERROR(mutate(key));
        std::vector<std::string> changed;
        if (before.display_name() != key.display_name()) changed.push_back("displayName");
        if (before.expire_time().SerializeAsString() != key.expire_time().SerializeAsString() ||
            before.has_expire_time() != key.has_expire_time()) {
          changed.push_back(
              key.has_expire_time()
                  ? absl::StrCat("expireTime=",
                                 absl::FormatTime(absl::RFC3339_sec, FromMicros(TimestampToMicros(key.expire_time())),
                                                  absl::UTCTimeZone()))
                  : "expireTime=never");
        }
        if (before.rate_limit_per_minute() != key.rate_limit_per_minute()) {
          changed.push_back(absl::StrCat("rateLimitPerMinute=", key.rate_limit_per_minute()));
        }
        if (changed.empty()) return key;
        // The stored message holds neither column-kept time.
        pb::ApiKey stored = key;
        stored.clear_revoke_time();
        stored.clear_last_use_time();
        RETURN_IF_ERROR(conn.Prepare("UPDATE api_keys SET key = ? WHERE org_id = ? AND key_id = ?")
                            .BindBlob(1, stored.SerializeAsString())
                            .Bind(2, org)
                            .Bind(3, key_id)
                            .Run());
        RETURN_IF_ERROR(audit::Record(conn, actor, "profiles",
                                      {.action = "apiKey.updated",
                                       .target_id = key_id,
                                       .detail = absl::StrCat("changed: ", absl::StrJoin(changed, ", ")),
                                       .org_id = org}));
        return key;
      },
      std::move(done));
}

void ProfilesStore::TouchApiKey(const std::string& org, const std::string& key_id, int64_t now_micros,
                                DoneStatus done) {
  db_->WriteAsync(
      [org, key_id, now_micros](Connection& conn) -> absl::Status {
        return conn
            .Prepare(
                "UPDATE api_keys SET last_used_us = ? WHERE org_id = ? AND key_id = ? AND "
                "(last_used_us IS NULL OR last_used_us < ?)")
            .Bind(1, now_micros)
            .Bind(2, org)
            .Bind(3, key_id)
            .Bind(4, now_micros)
            .Run();
      },
      std::move(done));
}

// --- quotas ---

absl::StatusOr<std::vector<pb::QuotaUsage>> ProfilesStore::Usage(const std::string& org, const ProfilesQuotas& quotas) {
  pb::QuotaUsage contacts;
  contacts.set_quota(kContactsPerUser);
  contacts.set_per("user");
  contacts.set_limit(quotas.contacts_per_user);
  pb::QuotaUsage keys;
  keys.set_quota(kApiKeysPerOrg);
  keys.set_per("org");
  keys.set_limit(quotas.api_keys_per_org);
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(db::ForEachRow(
        conn.Prepare("SELECT user_id, contacts FROM contact_counts WHERE org_id = ? ORDER BY contacts DESC, user_id "
                     "LIMIT 1")
            .Bind(1, org),
        [&](const db::Statement& row) -> absl::Status {
          contacts.set_subject_id(row.ColumnText(0));
          contacts.set_used(row.ColumnInt(1));
          return absl::OkStatus();
        }));
    ASSIGN_OR_RETURN(int64_t active, CountActiveApiKeys(conn, org));
    keys.set_used(active);
    return absl::OkStatus();
  }));
  return std::vector<pb::QuotaUsage>{contacts, keys};
}

// --- own profile ---

absl::StatusOr<pb::Profile> ProfilesStore::GetProfile(const Owner& owner) {
  pb::Profile profile;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(profile, ReadProfile(conn, owner));
    return absl::OkStatus();
  }));
  return profile;
}

void ProfilesStore::UpdateProfile(const Owner& owner, Mutation<pb::Profile> mutate, Done<pb::Profile> done) {
  WriteWithResult<pb::Profile>(
      *db_,
      [owner, mutate = std::move(mutate)](Connection& conn) -> absl::StatusOr<pb::Profile> {
        ASSIGN_OR_RETURN(pb::Profile profile, ReadProfile(conn, owner));
        RETURN_IF_ERROR(mutate(profile));
        auto st = conn.Prepare("UPDATE users SET profile = ? WHERE org_id = ? AND user_id = ?");
        st.BindBlob(1, profile.SerializeAsString()).Bind(2, owner.org).Bind(3, owner.user);
        RETURN_IF_ERROR(st.Run());
        auto row = conn.Prepare("SELECT email, create_us FROM users WHERE org_id = ? AND user_id = ?");
        row.Bind(1, owner.org).Bind(2, owner.user);
        ASSIGN_OR_RETURN(std::optional<pb::User> user, db::ReadRow<pb::User>(row, [&](const db::Statement& r) {
                           return UserFromRow(owner.user, r.ColumnText(0), r.ColumnInt(1), profile);
                         }));
        if (!user.has_value()) return RowNotFound("user");
        RETURN_IF_ERROR(EmitUser(conn, "user.updated", owner.org, *user, profile));
        return profile;
      },
      std::move(done));
}

// --- contacts ---

void ProfilesStore::CreateContact(const Owner& owner, const pb::Contact& contact, const IdempotencyScope& idempotency,
                                  const google::protobuf::Message& request, int64_t max_contacts,
                                  Done<pb::Contact> done) {
  WriteWithResult<pb::Contact>(
      *db_,
      [owner, contact, idempotency, max_contacts,
       req = CopyMessage(request)](Connection& conn) -> absl::StatusOr<pb::Contact> {
        return IdempotentCreate<pb::Contact>(conn, idempotency, *req, [&]() -> absl::StatusOr<pb::Contact> {
          ASSIGN_OR_RETURN(int64_t used, ContactCount(conn, owner));
          RETURN_IF_ERROR(CheckQuota(kContactsPerUser, used, max_contacts, "contacts per user"));
          RETURN_IF_ERROR(WriteContact(conn, owner, contact, /*check_met_through=*/true));
          RETURN_IF_ERROR(CountContacts(conn, owner, +1));
          RETURN_IF_ERROR(EmitContact(conn, "contact.created", owner, contact));
          return contact;
        });
      },
      std::move(done));
}

absl::StatusOr<pb::Contact> ProfilesStore::GetContact(const Owner& owner, const std::string& id) {
  pb::Contact contact;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(contact, ReadContact(conn, owner, id));
    return absl::OkStatus();
  }));
  return contact;
}

absl::StatusOr<std::vector<pb::Contact>> ProfilesStore::GetContacts(const Owner& owner,
                                                                    const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<pb::Contact>();
  // One query with an IN list: a single round trip on any engine. The list
  // is padded (repeating the last id) to one of a few lengths, so that each
  // connection caches four statement texts rather than one per count.
  static constexpr size_t kListSizes[] = {1, 4, 16, 100};
  size_t length = ids.size();
  for (size_t n : kListSizes) {
    if (n >= ids.size()) {
      length = n;
      break;
    }
  }
  std::string sql = "SELECT data FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id IN (?";
  for (size_t i = 1; i < length; ++i) sql += ", ?";
  sql += ")";
  std::vector<pb::Contact> rows;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(sql);
    st.Bind(1, owner.org).Bind(2, owner.user);
    for (size_t i = 0; i < length; ++i) st.Bind(static_cast<int>(i) + 3, ids[std::min(i, ids.size() - 1)]);
    ASSIGN_OR_RETURN(rows, ListBlobs<pb::Contact>(st));
    return absl::OkStatus();
  }));
  // Rows come in key order; answer in the order asked, each row once.
  absl::flat_hash_map<std::string, pb::Contact*> by_id;
  for (pb::Contact& row : rows) by_id[row.id()] = &row;
  std::vector<pb::Contact> out;
  out.reserve(rows.size());
  for (const std::string& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end() || it->second == nullptr) continue;
    out.push_back(std::move(*it->second));
    it->second = nullptr;
  }
  return out;
}

void ProfilesStore::UpdateContact(const Owner& owner, const std::string& id, Mutation<pb::Contact> mutate,
                                  Done<pb::Contact> done) {
  WriteWithResult<pb::Contact>(
      *db_,
      [owner, id, mutate = std::move(mutate)](Connection& conn) -> absl::StatusOr<pb::Contact> {
        ASSIGN_OR_RETURN(pb::Contact contact, ReadContact(conn, owner, id));
        const pb::Contact before = contact;
        RETURN_IF_ERROR(mutate(contact));
        // Only a changed reference is checked: one to a since-deleted contact may stay.
        RETURN_IF_ERROR(
            WriteContact(conn, owner, contact, contact.met_through_contact_id() != before.met_through_contact_id()));
        // Notes never leave profiles, not even the fact that they changed.
        const google::protobuf::FieldMask changed = ChangedFields(before, contact, {"notes"});
        RETURN_IF_ERROR(EmitContact(conn, "contact.updated", owner, contact, &changed));
        return contact;
      },
      std::move(done));
}

void ProfilesStore::DeleteContact(const Owner& owner, const std::string& id, DoneStatus done) {
  db_->WriteAsync(
      [owner, id](Connection& conn) -> absl::Status {
        auto del = conn.Prepare("DELETE FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?");
        del.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
        RETURN_IF_ERROR(del.Run());
        if (conn.Changes() == 0) return RowNotFound("contact");
        RETURN_IF_ERROR(CountContacts(conn, owner, -1));
        RETURN_IF_ERROR(RemoveMemberships(conn, owner, "member_id", id));
        auto tags = conn.Prepare("DELETE FROM contact_tags WHERE org_id = ? AND user_id = ? AND contact_id = ?");
        tags.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
        RETURN_IF_ERROR(tags.Run());
        auto keys = conn.Prepare("DELETE FROM contact_keys WHERE org_id = ? AND user_id = ? AND contact_id = ?");
        keys.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
        RETURN_IF_ERROR(keys.Run());
        pb::Contact deleted;
        deleted.set_id(id);
        return EmitContact(conn, "contact.deleted", owner, deleted);
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Contact>> ProfilesStore::ListContacts(const Owner& owner, const ContactFilter& filter,
                                                                     const std::string& after_id, int limit) {
  // Each optional filter is written so that an empty value disables it, which
  // keeps one prepared statement for every combination.
  static constexpr char kSql[] =
      "SELECT c.data FROM contacts c WHERE c.org_id = ?1 AND c.user_id = ?2 AND c.contact_id > ?3 "
      "AND (?4 = '' OR c.search LIKE ?9 ESCAPE '!') "
      "AND (?5 = 0 OR c.tier = ?5) "
      "AND (?6 = '' OR EXISTS (SELECT 1 FROM contact_tags t WHERE t.org_id = ?1 AND t.user_id = ?2 "
      "     AND t.tag = ?6 AND t.contact_id = c.contact_id)) "
      "AND (?7 = '' OR EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = ?1 AND m.user_id = ?2 "
      "     AND m.group_id = ?7 AND m.member_id = c.contact_id)) "
      "ORDER BY c.contact_id LIMIT ?8";
  std::vector<pb::Contact> contacts;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(kSql);
    st.Bind(1, owner.org)
        .Bind(2, owner.user)
        .Bind(3, after_id)
        .Bind(4, NormalizeKey(filter.query))
        .Bind(5, static_cast<int>(filter.tier))
        .Bind(6, NormalizeKey(filter.tag))
        .Bind(7, filter.group_id)
        .Bind(8, limit)
        .Bind(9, SubstringPattern(NormalizeKey(filter.query)));
    ASSIGN_OR_RETURN(contacts, ListBlobs<pb::Contact>(st));
    return absl::OkStatus();
  }));
  return contacts;
}

absl::StatusOr<std::vector<pb::Contact>> ProfilesStore::ListContactsWithBirthday(const Owner& owner) {
  std::vector<pb::Contact> contacts;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT data FROM contacts WHERE org_id = ? AND user_id = ? AND has_birthday = 1");
    st.Bind(1, owner.org).Bind(2, owner.user);
    ASSIGN_OR_RETURN(contacts, ListBlobs<pb::Contact>(st));
    return absl::OkStatus();
  }));
  return contacts;
}

// --- groups and memberships ---

void ProfilesStore::CreateGroup(const Owner& owner, const pb::Group& group, const IdempotencyScope& idempotency,
                                const google::protobuf::Message& request, Done<pb::Group> done) {
  WriteWithResult<pb::Group>(
      *db_,
      [owner, group, idempotency, req = CopyMessage(request)](Connection& conn) -> absl::StatusOr<pb::Group> {
        return IdempotentCreate<pb::Group>(conn, idempotency, *req, [&]() -> absl::StatusOr<pb::Group> {
          RETURN_IF_ERROR(WriteGroup(conn, owner, group));
          RETURN_IF_ERROR(EmitGroup(conn, "group.created", owner, group));
          return group;
        });
      },
      std::move(done));
}

absl::StatusOr<pb::Group> ProfilesStore::GetGroup(const Owner& owner, const std::string& id) {
  pb::Group group;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(group, ReadGroup(conn, owner, id));
    return absl::OkStatus();
  }));
  return group;
}

void ProfilesStore::UpdateGroup(const Owner& owner, const std::string& id, Mutation<pb::Group> mutate,
                                Done<pb::Group> done) {
  WriteWithResult<pb::Group>(
      *db_,
      [owner, id, mutate = std::move(mutate)](Connection& conn) -> absl::StatusOr<pb::Group> {
        ASSIGN_OR_RETURN(pb::Group group, ReadGroup(conn, owner, id));
        RETURN_IF_ERROR(mutate(group));
        RETURN_IF_ERROR(WriteGroup(conn, owner, group));
        RETURN_IF_ERROR(EmitGroup(conn, "group.updated", owner, group));
        return group;
      },
      std::move(done));
}

void ProfilesStore::DeleteGroup(const Owner& owner, const std::string& id, DoneStatus done) {
  db_->WriteAsync(
      [owner, id](Connection& conn) -> absl::Status {
        ASSIGN_OR_RETURN(pb::Group group, ReadGroup(conn, owner, id));
        auto del = conn.Prepare("DELETE FROM groups WHERE org_id = ? AND user_id = ? AND group_id = ?");
        del.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
        RETURN_IF_ERROR(del.Run());
        if (conn.Changes() == 0) return RowNotFound("group");
        RETURN_IF_ERROR(RemoveMemberships(conn, owner, "group_id", id));
        return EmitGroup(conn, "group.deleted", owner, group);
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::Group>> ProfilesStore::ListGroups(const Owner& owner, const std::string& after_id,
                                                                 int limit) {
  std::vector<pb::Group> groups;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare(
        "SELECT data FROM groups WHERE org_id = ? AND user_id = ? AND group_id > ? ORDER BY group_id LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, after_id).Bind(4, limit);
    ASSIGN_OR_RETURN(groups, ListBlobs<pb::Group>(st));
    return absl::OkStatus();
  }));
  return groups;
}

void ProfilesStore::PutMember(const Owner& owner, const std::string& group_id, const std::string& member_id,
                              pb::MemberRole role, int64_t now_micros, Done<pb::GroupMember> done) {
  WriteWithResult<pb::GroupMember>(
      *db_,
      [owner, group_id, member_id, role, now_micros](Connection& conn) -> absl::StatusOr<pb::GroupMember> {
        ASSIGN_OR_RETURN(pb::Group group, ReadGroup(conn, owner, group_id));
        ASSIGN_OR_RETURN(std::string name, MemberName(conn, owner, member_id));
        // A new membership starts now; changing the role keeps the join time.
        auto st = conn.Prepare(
            "INSERT INTO memberships (org_id, user_id, group_id, member_id, role, join_us) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, group_id, member_id) "
            "DO UPDATE SET role = excluded.role");
        st.Bind(1, owner.org)
            .Bind(2, owner.user)
            .Bind(3, group_id)
            .Bind(4, member_id)
            .Bind(5, static_cast<int>(role))
            .Bind(6, now_micros);
        RETURN_IF_ERROR(st.Run());
        auto join = conn.Prepare(
            "SELECT join_us FROM memberships WHERE org_id = ? AND user_id = ? AND group_id = ? AND member_id = ?");
        join.Bind(1, owner.org).Bind(2, owner.user).Bind(3, group_id).Bind(4, member_id);
        ASSIGN_OR_RETURN(std::optional<int64_t> join_us,
                         db::ReadRow<int64_t>(join, [](const db::Statement& row) { return row.ColumnInt(0); }));
        pb::GroupMember member;
        member.set_member_id(member_id);
        member.set_display_name(name);
        member.set_role(role);
        *member.mutable_join_time() = ToTimestamp(join_us.value_or(now_micros));
        RETURN_IF_ERROR(EmitMember(conn, "group.member_added", owner, group_id, member_id, role, &group));
        return member;
      },
      std::move(done));
}

void ProfilesStore::RemoveMember(const Owner& owner, const std::string& group_id, const std::string& member_id,
                                 DoneStatus done) {
  db_->WriteAsync(
      [owner, group_id, member_id](Connection& conn) -> absl::Status {
        auto st =
            conn.Prepare("DELETE FROM memberships WHERE org_id = ? AND user_id = ? AND group_id = ? AND member_id = ?");
        st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, group_id).Bind(4, member_id);
        RETURN_IF_ERROR(st.Run());
        if (conn.Changes() == 0) return RowNotFound("membership");
        return EmitMember(conn, "group.member_removed", owner, group_id, member_id, pb::MEMBER_ROLE_UNSPECIFIED,
                          nullptr);
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::GroupMember>> ProfilesStore::ListMembers(const Owner& owner, const std::string& group_id,
                                                                        const std::string& after_id, int limit) {
  std::vector<pb::GroupMember> members;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(ReadGroup(conn, owner, group_id).status());
    auto st = conn.Prepare(
        "SELECT m.member_id, m.role, m.join_us, c.display_name FROM memberships m "
        "LEFT JOIN contacts c ON c.org_id = m.org_id AND c.user_id = m.user_id AND c.contact_id = m.member_id "
        "WHERE m.org_id = ? AND m.user_id = ? AND m.group_id = ? AND m.member_id > ? "
        "ORDER BY m.member_id LIMIT ?");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, group_id).Bind(4, after_id).Bind(5, limit);
    ASSIGN_OR_RETURN(members, db::ListRows<pb::GroupMember>(st, [](const db::Statement& row) {
                       pb::GroupMember m;
                       m.set_member_id(row.ColumnText(0));
                       m.set_role(static_cast<pb::MemberRole>(row.ColumnInt(1)));
                       *m.mutable_join_time() = ToTimestamp(row.ColumnInt(2));
                       m.set_display_name(row.ColumnText(3));  // empty for "me", filled below
                       return m;
                     }));
    // "me" is no contact: the user's own name comes from the profile.
    for (pb::GroupMember& m : members) {
      if (m.member_id() != "me") continue;
      ASSIGN_OR_RETURN(pb::Profile profile, ReadProfile(conn, owner));
      m.set_display_name(profile.display_name());
    }
    return absl::OkStatus();
  }));
  return members;
}

absl::StatusOr<std::vector<pb::ContactGroup>> ProfilesStore::ListMemberGroups(const Owner& owner,
                                                                              const std::string& member_id) {
  std::vector<pb::ContactGroup> groups;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    if (member_id != "me") RETURN_IF_ERROR(ReadContact(conn, owner, member_id).status());
    auto st = conn.Prepare(
        "SELECT g.data, m.role FROM memberships m JOIN groups g ON g.org_id = m.org_id "
        "AND g.user_id = m.user_id AND g.group_id = m.group_id "
        "WHERE m.org_id = ? AND m.user_id = ? AND m.member_id = ? ORDER BY m.group_id");
    st.Bind(1, owner.org).Bind(2, owner.user).Bind(3, member_id);
    ASSIGN_OR_RETURN(
        groups, db::ListRows<pb::ContactGroup>(st, [](const db::Statement& row) -> absl::StatusOr<pb::ContactGroup> {
          pb::ContactGroup cg;
          RETURN_IF_ERROR(ParseRow(row.ColumnBlob(0), cg.mutable_group()));
          cg.set_role(static_cast<pb::MemberRole>(row.ColumnInt(1)));
          return cg;
        }));
    return absl::OkStatus();
  }));
  return groups;
}

// --- internal export ---

absl::StatusOr<std::vector<events::ExportedEvent>> ProfilesStore::ExportUsers(const std::vector<std::string>& after,
                                                                              int limit) {
  return events::ExportRows(*db_, "profiles",
                            "SELECT org_id, user_id, email, create_us, profile FROM users "
                            "WHERE (org_id, user_id) > (?, ?) ORDER BY org_id, user_id LIMIT ?",
                            after, 2, limit, [](const db::Statement& st, events::v1::Event* e) -> absl::Status {
                              pb::Profile profile;
                              RETURN_IF_ERROR(ParseRow(st.ColumnBlob(4), &profile));
                              e->set_type("user.created");
                              *e->mutable_user()->mutable_user() =
                                  UserFromRow(st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3), profile);
                              *e->mutable_user()->mutable_profile() = std::move(profile);
                              return absl::OkStatus();
                            });
}

absl::StatusOr<std::vector<events::ExportedEvent>> ProfilesStore::ExportContacts(const std::vector<std::string>& after,
                                                                                 int limit) {
  return events::ExportRows(
      *db_, "profiles",
      "SELECT org_id, user_id, contact_id, data FROM contacts "
      "WHERE (org_id, user_id, contact_id) > (?, ?, ?) ORDER BY org_id, user_id, contact_id LIMIT ?",
      after, 3, limit, [](const db::Statement& st, events::v1::Event* e) -> absl::Status {
        pb::Contact* c = e->mutable_contact()->mutable_contact();
        RETURN_IF_ERROR(ParseRow(st.ColumnBlob(3), c));
        c->clear_notes();  // notes never leave profiles
        e->set_type("contact.created");
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<events::ExportedEvent>> ProfilesStore::ExportMemberships(
    const std::vector<std::string>& after, int limit) {
  return events::ExportRows(
      *db_, "profiles",
      "SELECT m.org_id, m.user_id, m.group_id, m.member_id, m.role, g.data FROM memberships m "
      "JOIN groups g ON g.org_id = m.org_id AND g.user_id = m.user_id AND g.group_id = m.group_id "
      "WHERE (m.org_id, m.user_id, m.group_id, m.member_id) > (?, ?, ?, ?) "
      "ORDER BY m.org_id, m.user_id, m.group_id, m.member_id LIMIT ?",
      after, 4, limit, [](const db::Statement& st, events::v1::Event* e) -> absl::Status {
        auto* m = e->mutable_group_member();
        RETURN_IF_ERROR(ParseRow(st.ColumnBlob(5), m->mutable_group()));
        m->set_group_id(st.ColumnText(2));
        m->set_member_id(st.ColumnText(3));
        m->set_role(static_cast<pb::MemberRole>(st.ColumnInt(4)));
        e->set_type("group.member_added");
        return absl::OkStatus();
      });
}

// --- duplicates and merge ---

namespace {

// Union-find over contact ids, for the sets of ListDuplicates.
class IdSets {
 public:
  const std::string& Find(const std::string& id) {
    auto it = parent_.find(id);
    if (it == parent_.end()) it = parent_.emplace(id, id).first;
    if (it->second == id) return it->second;
    std::string root = Find(it->second);
    parent_[id] = root;
    return parent_.find(id)->second;
  }
  void Join(const std::string& a, const std::string& b) {
    std::string ra = Find(a), rb = Find(b);
    if (ra == rb) return;
    // The smaller id becomes the root, so a set's root is its first id.
    if (rb < ra) std::swap(ra, rb);
    parent_[rb] = ra;
  }

 private:
  absl::flat_hash_map<std::string, std::string> parent_;
};

}  // namespace

void ProfilesStore::EnsureContactKeys(const Owner& owner, DoneStatus done) {
  absl::StatusOr<bool> ready = false;
  absl::Status read = db_->Read([&](Connection& conn) -> absl::Status {
    ready = db::Exists(conn.Prepare("SELECT 1 FROM contact_keys_ready WHERE org_id = ? AND user_id = ?")
                           .Bind(1, owner.org)
                           .Bind(2, owner.user));
    return ready.status();
  });
  if (!read.ok()) return done(read);
  if (*ready) return done(absl::OkStatus());
  db_->WriteAsync(
      [owner](Connection& conn) -> absl::Status {
        auto st = conn.Prepare("SELECT data FROM contacts WHERE org_id = ? AND user_id = ?");
        st.Bind(1, owner.org).Bind(2, owner.user);
        ASSIGN_OR_RETURN(std::vector<pb::Contact> contacts, ListBlobs<pb::Contact>(st));
        for (const pb::Contact& c : contacts) RETURN_IF_ERROR(WriteContactKeys(conn, owner, c));
        return conn.Prepare("INSERT INTO contact_keys_ready (org_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .Bind(1, owner.org)
            .Bind(2, owner.user)
            .Run();
      },
      std::move(done));
}

absl::StatusOr<std::vector<pb::DuplicateSet>> ProfilesStore::ListDuplicates(const Owner& owner,
                                                                            const std::string& after_first_id,
                                                                            int limit) {
  struct KeyRow {
    std::string kind, value, contact_id;
  };
  std::vector<pb::DuplicateSet> sets;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    // Only keys shared by two or more contacts: the GROUP BY walks the
    // owner's part of the primary key in order, without comparing pairs.
    auto st = conn.Prepare(
        "SELECT k.key_kind, k.key_value, k.contact_id FROM contact_keys k "
        "JOIN (SELECT key_kind, key_value FROM contact_keys WHERE org_id = ?1 AND user_id = ?2 "
        "      GROUP BY key_kind, key_value HAVING COUNT(*) > 1) d "
        "ON k.key_kind = d.key_kind AND k.key_value = d.key_value "
        "WHERE k.org_id = ?1 AND k.user_id = ?2 ORDER BY k.key_kind, k.key_value, k.contact_id");
    st.Bind(1, owner.org).Bind(2, owner.user);
    ASSIGN_OR_RETURN(std::vector<KeyRow> rows, db::ListRows<KeyRow>(st, [](const db::Statement& row) {
                       return KeyRow{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2)};
                     }));
    IdSets ids;
    for (size_t i = 1; i < rows.size(); ++i) {
      if (rows[i].kind == rows[i - 1].kind && rows[i].value == rows[i - 1].value) {
        ids.Join(rows[i - 1].contact_id, rows[i].contact_id);
      }
    }
    // Sets by their root (= first id), matches in key order, each set's ids sorted.
    std::map<std::string, pb::DuplicateSet> by_root;
    std::map<std::string, std::set<std::string>> members;
    for (size_t i = 0; i < rows.size();) {
      size_t j = i;
      while (j < rows.size() && rows[j].kind == rows[i].kind && rows[j].value == rows[i].value) ++j;
      const std::string root = ids.Find(rows[i].contact_id);
      if (root > after_first_id) {
        pb::DuplicateMatch* m = by_root[root].add_matches();
        m->set_reason(rows[i].kind);
        m->set_value(absl::StrReplaceAll(rows[i].value, {{"\x1f", " / "}}));
        for (size_t k = i; k < j; ++k) {
          m->add_contact_ids(rows[k].contact_id);
          members[root].insert(rows[k].contact_id);
        }
      }
      i = j;
    }
    for (auto& [root, set] : by_root) {
      if (static_cast<int>(sets.size()) >= limit) break;
      for (const std::string& id : members[root]) {
        ASSIGN_OR_RETURN(*set.add_contacts(), ReadContact(conn, owner, id));
      }
      sets.push_back(std::move(set));
    }
    return absl::OkStatus();
  }));
  return sets;
}

void ProfilesStore::MergeContacts(const Owner& owner, const pb::MergeContactsRequest& request,
                                  const IdempotencyScope& idempotency, CombineFn combine,
                                  Done<pb::MergeContactsResponse> done) {
  WriteWithResult<pb::MergeContactsResponse>(
      *db_,
      [owner, request, idempotency,
       combine = std::move(combine)](Connection& conn) -> absl::StatusOr<pb::MergeContactsResponse> {
        return IdempotentCreate<pb::MergeContactsResponse>(
            conn, idempotency, request, [&]() -> absl::StatusOr<pb::MergeContactsResponse> {
              const std::string& survivor_id = request.contact_id();
              ASSIGN_OR_RETURN(pb::Contact survivor, ReadContact(conn, owner, survivor_id));
              std::vector<pb::Contact> others;
              for (int i = 0; i < request.other_ids_size(); ++i) {
                const std::string& id = request.other_ids(i);
                absl::StatusOr<pb::Contact> other = ReadContact(conn, owner, id);
                if (other.ok()) {
                  others.push_back(*std::move(other));
                  continue;
                }
                if (!absl::IsNotFound(other.status())) return other.status();
                // Merged by an earlier call into this very survivor: a retry.
                auto merged = conn.Prepare(
                    "SELECT survivor_id FROM merged_contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?");
                merged.Bind(1, owner.org).Bind(2, owner.user).Bind(3, id);
                ASSIGN_OR_RETURN(
                    std::optional<std::string> into,
                    db::ReadRow<std::string>(merged, [](const db::Statement& row) { return row.ColumnText(0); }));
                if (into != survivor_id) {
                  return absl::NotFoundError(absl::StrCat("otherIds[", i, "]: no such contact"));
                }
              }
              pb::MergeContactsResponse out;
              *out.mutable_merged_ids() = request.other_ids();
              if (others.empty()) {  // everything was merged already: answer the survivor as it is
                *out.mutable_contact() = std::move(survivor);
                return out;
              }
              ASSIGN_OR_RETURN(pb::Contact combined, combine(survivor, others));
              combined.set_id(survivor_id);
              RETURN_IF_ERROR(WriteContact(conn, owner, combined, /*check_met_through=*/false));
              const google::protobuf::FieldMask changed = ChangedFields(survivor, combined, {"notes"});
              RETURN_IF_ERROR(EmitContact(conn, "contact.updated", owner, combined, &changed));
              const int64_t merge_us = TimestampToMicros(combined.update_time());
              for (const pb::Contact& other : others) {
                // Memberships move to the survivor; where it was a member
                // already, its own membership (role, join time) stays.
                struct Membership {
                  std::string group_id;
                  int role;
                  int64_t join_us;
                };
                auto list = conn.Prepare(
                    "SELECT group_id, role, join_us FROM memberships WHERE org_id = ? AND user_id = ? AND member_id "
                    "= ?");
                list.Bind(1, owner.org).Bind(2, owner.user).Bind(3, other.id());
                ASSIGN_OR_RETURN(
                    std::vector<Membership> memberships, db::ListRows<Membership>(list, [](const db::Statement& row) {
                      return Membership{row.ColumnText(0), static_cast<int>(row.ColumnInt(1)), row.ColumnInt(2)};
                    }));
                for (const Membership& m : memberships) {
                  auto ins = conn.Prepare(
                      "INSERT INTO memberships (org_id, user_id, group_id, member_id, role, join_us) "
                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
                  ins.Bind(1, owner.org)
                      .Bind(2, owner.user)
                      .Bind(3, m.group_id)
                      .Bind(4, survivor_id)
                      .Bind(5, m.role)
                      .Bind(6, m.join_us);
                  RETURN_IF_ERROR(ins.Run());
                  if (conn.Changes() == 0) continue;
                  ASSIGN_OR_RETURN(pb::Group group, ReadGroup(conn, owner, m.group_id));
                  RETURN_IF_ERROR(EmitMember(conn, "group.member_added", owner, m.group_id, survivor_id,
                                             static_cast<pb::MemberRole>(m.role), &group));
                }
                RETURN_IF_ERROR(RemoveMemberships(conn, owner, "member_id", other.id()));
                for (const char* sql :
                     {"DELETE FROM contacts WHERE org_id = ? AND user_id = ? AND contact_id = ?",
                      "DELETE FROM contact_tags WHERE org_id = ? AND user_id = ? AND contact_id = ?",
                      "DELETE FROM contact_keys WHERE org_id = ? AND user_id = ? AND contact_id = ?"}) {
                  RETURN_IF_ERROR(conn.Prepare(sql).Bind(1, owner.org).Bind(2, owner.user).Bind(3, other.id()).Run());
                }
                RETURN_IF_ERROR(CountContacts(conn, owner, -1));
                // Contacts merged into this one earlier now point at the survivor.
                RETURN_IF_ERROR(conn.Prepare("UPDATE merged_contacts SET survivor_id = ? WHERE org_id = ? AND "
                                             "user_id = ? AND survivor_id = ?")
                                    .Bind(1, survivor_id)
                                    .Bind(2, owner.org)
                                    .Bind(3, owner.user)
                                    .Bind(4, other.id())
                                    .Run());
                RETURN_IF_ERROR(conn.Prepare("INSERT INTO merged_contacts (org_id, user_id, contact_id, survivor_id, "
                                             "merge_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id, "
                                             "contact_id) DO UPDATE SET survivor_id = excluded.survivor_id")
                                    .Bind(1, owner.org)
                                    .Bind(2, owner.user)
                                    .Bind(3, other.id())
                                    .Bind(4, survivor_id)
                                    .Bind(5, merge_us)
                                    .Run());
              }
              events::v1::Event e = NewEvent("contact.merged", owner.org, owner.user);
              pb::Contact* payload = e.mutable_contact_merged()->mutable_survivor();
              *payload = combined;
              payload->clear_notes();  // notes never leave profiles
              for (const pb::Contact& other : others) e.mutable_contact_merged()->add_merged_ids(other.id());
              RETURN_IF_ERROR(events::CheckEventSize(e));
              RETURN_IF_ERROR(events::AppendEvent(conn, std::move(e)));
              *out.mutable_contact() = std::move(combined);
              return out;
            });
      },
      std::move(done));
}

absl::StatusOr<std::vector<std::string>> ProfilesStore::ListOrgIds(const std::string& after_org, int limit) {
  std::vector<std::string> ids;
  RETURN_IF_ERROR(db_->Read([&](Connection& conn) -> absl::Status {
    auto st = conn.Prepare("SELECT org_id FROM orgs WHERE org_id > ? ORDER BY org_id LIMIT ?");
    st.Bind(1, after_org).Bind(2, limit);
    return db::ForEachRow(st, [&](const db::Statement& r) -> absl::Status {
      ids.push_back(r.ColumnText(0));
      return absl::OkStatus();
    });
  }));
  return ids;
}

// --- contact rows inside another writer's transaction (the import job) ---

absl::StatusOr<pb::Contact> ReadContactRow(Connection& conn, const Owner& owner, const std::string& id) {
  return ReadContact(conn, owner, id);
}

absl::Status CreateContactRow(Connection& conn, const Owner& owner, const pb::Contact& contact, int64_t max_contacts) {
  ASSIGN_OR_RETURN(int64_t used, ContactCount(conn, owner));
  RETURN_IF_ERROR(CheckQuota(kContactsPerUser, used, max_contacts, "contacts per user"));
  RETURN_IF_ERROR(WriteContact(conn, owner, contact, /*check_met_through=*/false));
  RETURN_IF_ERROR(CountContacts(conn, owner, +1));
  return EmitContact(conn, "contact.created", owner, contact);
}

absl::Status UpdateContactRow(Connection& conn, const Owner& owner, const pb::Contact& before,
                              const pb::Contact& after) {
  RETURN_IF_ERROR(WriteContact(conn, owner, after, /*check_met_through=*/false));
  const google::protobuf::FieldMask changed = ChangedFields(before, after, {"notes"});
  return EmitContact(conn, "contact.updated", owner, after, &changed);
}

}  // namespace rapport::profiles
