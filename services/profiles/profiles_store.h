// Storage of the profiles service: orgs, users with their own profiles, API
// keys (SHA-256 of the secret only), contacts, groups and memberships.
//
// ProfilesStore holds the SQL, written once in the portable dialect of the
// database layer (services/common/db.h): a second engine is a second db
// driver, not a second store. Every method takes the org, and personal data
// also the owning user: rows of another org or user are invisible and answer
// NOT_FOUND exactly like missing ones.
//
// Reads return at once. Writes complete through a callback, called once on
// the store's writer thread after the change is durable, so callers do not
// hold a thread while the disk flushes. Mutations passed to Update* run inside
// the write transaction on the current row; an error from them aborts that
// write alone.
//
// Thread-safety: all methods may be called concurrently.
#ifndef RAPPORT_SERVICES_PROFILES_PROFILES_STORE_H_
#define RAPPORT_SERVICES_PROFILES_PROFILES_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/audit.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/idempotency.h"
#include "services/common/outbox.h"
#include "services/common/tenant.h"
#include "services/profiles/jwt_keys_store.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

struct StoredApiKey {
  std::string org_id;
  pb::ApiKey key;
  std::string secret_sha256;  // raw 32 bytes
};

// GET /v1/audit's filters; empty (0) fields filter nothing.
struct AuditFilter {
  std::string actor;     // a key id, a user id, or "platform"
  std::string action;    // exact, or a prefix ending in ".*"
  int64_t since_us = 0;  // entries at or after
};

struct ContactFilter {
  std::string query;  // substring of name, company, title or email, case-insensitive
  std::string tag;    // exact tag, case-insensitive
  pb::Tier tier = pb::TIER_UNSPECIFIED;
  std::string group_id;
};

// The quotas profiles enforces (services/common/quota.h), set from flags;
// the defaults are far above any real use. Names as GET /v1/org/usage and a
// 429's detail give them.
inline constexpr char kContactsPerUser[] = "contactsPerUser";
inline constexpr char kApiKeysPerOrg[] = "apiKeysPerOrg";
struct ProfilesQuotas {
  int64_t contacts_per_user = 50000;
  int64_t api_keys_per_org = 200;  // active (not revoked) keys
};

class ProfilesStore {
 public:
  // Opens (creating and migrating) the service's database at path.
  static absl::StatusOr<std::unique_ptr<ProfilesStore>> Open(const std::string& path);
  // Opens (creating and migrating) the database the options name, on either
  // driver (db::Open); the store supplies the migrations.
  static absl::StatusOr<std::unique_ptr<ProfilesStore>> Open(db::Options options);

  // Orgs and users. CreateUser: ALREADY_EXISTS when the email is taken in the org.
  // CreateOrg also writes the org's first JWT signing key when one is given
  // (jwt_keys_store.h), in the org's transaction. Every administrative write
  // records its audit entry (services/common/audit.h) for actor in its own
  // transaction.
  void CreateOrg(const pb::Org& org, const StoredApiKey& admin_key, const TenantContext& actor, DoneStatus done,
                 std::optional<StoredJwtKey> jwt_key = std::nullopt);
  // Creates replay the first result for a repeated idempotency key.
  void CreateUser(const std::string& org, const pb::User& user, const IdempotencyScope& idempotency,
                  const google::protobuf::Message& request, const TenantContext& actor, Done<pb::User> done);
  // Applies mutate to the user (display name, email, timezone, state) and
  // emits user.updated; audited as user.updated, user.deactivated or
  // user.reactivated. A mutation that changes nothing writes nothing.
  // NOT_FOUND for no such user in org; ALREADY_EXISTS when the new email is taken.
  void UpdateUser(const std::string& org, const std::string& user_id, Mutation<pb::User> mutate, int64_t now_micros,
                  const TenantContext& actor, Done<pb::User> done);
  absl::StatusOr<pb::User> GetUser(const std::string& org, const std::string& user_id);
  absl::StatusOr<std::vector<pb::User>> ListUsers(const std::string& org, const std::string& after_id, int limit);

  // API keys. RESOURCE_EXHAUSTED (quota apiKeysPerOrg) when the org already
  // has max_keys active keys; INVALID_ARGUMENT when a personal key's user_id
  // names no user of the org.
  void CreateApiKey(const StoredApiKey& key, int64_t max_keys, const TenantContext& actor, DoneStatus done);
  absl::StatusOr<StoredApiKey> GetApiKey(const std::string& org, const std::string& key_id);
  absl::StatusOr<std::vector<pb::ApiKey>> ListApiKeys(const std::string& org, const std::string& after_id, int limit);
  // Sets revoke_time (once; revoking again keeps the first time, and only
  // the first is audited).
  void RevokeApiKey(const std::string& org, const std::string& key_id, int64_t now_micros, const TenantContext& actor,
                    Done<pb::ApiKey> done);
  // Applies mutate (display name, expiry, rate limit) to an active key;
  // FAILED_PRECONDITION for a revoked key, NOT_FOUND for no such key.
  void UpdateApiKey(const std::string& org, const std::string& key_id, Mutation<pb::ApiKey> mutate,
                    const TenantContext& actor, Done<pb::ApiKey> done);
  // Records a use of the key at now_micros (never moving it back). Callers
  // coalesce (KeyUseRecorder, key_use.h): this is a write.
  void TouchApiKey(const std::string& org, const std::string& key_id, int64_t now_micros, DoneStatus done);

  // The audit log (audit_store.cc). Stores an audit.recorded event's entry
  // in its org's log, once: a redelivered event changes nothing. Other
  // events are ignored. The event consumer's handler (AuditConsumer).
  absl::Status StoreAuditEvent(const events::v1::Event& event);
  // The org's entries matching filter, newest first, after the keyset key
  // after ("" for the first page; AuditPageKey of the last entry), at most limit.
  absl::StatusOr<std::vector<pb::AuditEntry>> ListAuditEntries(const std::string& org, const AuditFilter& filter,
                                                               const std::string& after, int limit);

  // Own profile of owner.user.
  absl::StatusOr<pb::Profile> GetProfile(const Owner& owner);
  void UpdateProfile(const Owner& owner, Mutation<pb::Profile> mutate, Done<pb::Profile> done);

  // Contacts. INVALID_ARGUMENT when met_through_contact_id names no contact
  // of the owner; RESOURCE_EXHAUSTED (quota contactsPerUser) when the owner
  // already has max_contacts. The owner's count is kept in the same
  // transaction as each create and delete (contact_counts). contact.updated
  // events name the fields that changed (Event.changed).
  void CreateContact(const Owner& owner, const pb::Contact& contact, const IdempotencyScope& idempotency,
                     const google::protobuf::Message& request, int64_t max_contacts, Done<pb::Contact> done);
  absl::StatusOr<pb::Contact> GetContact(const Owner& owner, const std::string& id);
  // The owner's contacts among ids, in the order of ids, from one snapshot; an
  // id that names no contact of the owner is absent (no error). ids should
  // hold no repeats.
  absl::StatusOr<std::vector<pb::Contact>> GetContacts(const Owner& owner, const std::vector<std::string>& ids);
  void UpdateContact(const Owner& owner, const std::string& id, Mutation<pb::Contact> mutate, Done<pb::Contact> done);
  // Also removes the contact's group memberships.
  void DeleteContact(const Owner& owner, const std::string& id, DoneStatus done);
  // Erasure (profiles_erasure.cc): every row of the user in org, or of the
  // whole org, with a user.deleted / org.deleted event for the other
  // services. NOT_FOUND when there is no such user in org (another org's
  // user included) or no such org.
  void DeleteUser(const std::string& org, const std::string& user_id, const TenantContext& actor, DoneStatus done);
  // actor: the platform caller, recorded as org.erased in the platform's
  // audit log (audit::kPlatformOrg), the one that outlives the org.
  void DeleteOrg(const std::string& org, const TenantContext& actor, DoneStatus done);
  // An audit entry for an action that changes nothing here (an export), in
  // a transaction of its own; returns once it is committed.
  absl::Status RecordAudit(const TenantContext& actor, const audit::Action& action);
  // In id (= creation) order, after after_id, at most limit.
  absl::StatusOr<std::vector<pb::Contact>> ListContacts(const Owner& owner, const ContactFilter& filter,
                                                        const std::string& after_id, int limit);
  absl::StatusOr<std::vector<pb::Contact>> ListContactsWithBirthday(const Owner& owner);

  // Groups and memberships. A member is a contact id or "me".
  void CreateGroup(const Owner& owner, const pb::Group& group, const IdempotencyScope& idempotency,
                   const google::protobuf::Message& request, Done<pb::Group> done);
  absl::StatusOr<pb::Group> GetGroup(const Owner& owner, const std::string& id);
  void UpdateGroup(const Owner& owner, const std::string& id, Mutation<pb::Group> mutate, Done<pb::Group> done);
  void DeleteGroup(const Owner& owner, const std::string& id, DoneStatus done);
  absl::StatusOr<std::vector<pb::Group>> ListGroups(const Owner& owner, const std::string& after_id, int limit);
  // NOT_FOUND when the group or the contact does not exist for the owner.
  void PutMember(const Owner& owner, const std::string& group_id, const std::string& member_id, pb::MemberRole role,
                 int64_t now_micros, Done<pb::GroupMember> done);
  void RemoveMember(const Owner& owner, const std::string& group_id, const std::string& member_id, DoneStatus done);
  absl::StatusOr<std::vector<pb::GroupMember>> ListMembers(const Owner& owner, const std::string& group_id,
                                                           const std::string& after_id, int limit);
  absl::StatusOr<std::vector<pb::ContactGroup>> ListMemberGroups(const Owner& owner, const std::string& member_id);

  // Internal export across every org (rapport.backfill.v1), keyset-ordered by
  // (org, user, id...): users as user.created with the own profile, contacts
  // as contact.created without notes, memberships as group.member_added with
  // the group. after holds the previous page's last key ({} on the first page).
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportUsers(const std::vector<std::string>& after, int limit);
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportContacts(const std::vector<std::string>& after, int limit);
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportMemberships(const std::vector<std::string>& after,
                                                                       int limit);
  // Every org's id after after_org, in id order, at most limit (the list an
  // org-by-org backfill walks).
  absl::StatusOr<std::vector<std::string>> ListOrgIds(const std::string& after_org, int limit);

  // Duplicates (contact_keys.h). EnsureContactKeys completes at once when the
  // owner's match keys are complete, else builds them in one write first
  // (contacts written before the key index existed). ListDuplicates: the sets
  // of the owner's contacts linked by shared keys, ordered by their first
  // contact id, those whose first id is after after_first_id, at most limit.
  void EnsureContactKeys(const Owner& owner, DoneStatus done);
  absl::StatusOr<std::vector<pb::DuplicateSet>> ListDuplicates(const Owner& owner, const std::string& after_first_id,
                                                               int limit);

  // Merges request.other_ids into request.contact_id in one transaction:
  // combine(survivor, others) gives the survivor's new fields; the others'
  // group memberships move to the survivor (its own role wins where both
  // were members); the others are deleted, leaving merged_contacts rows that
  // point at the survivor; contact.updated, group member events and
  // contact.merged go through the outbox. An other id already merged into
  // this survivor counts as merged (a retry answers the same); one that names
  // no contact of the owner is NOT_FOUND "otherIds[i]: ...". Idempotency-Key
  // replays the first answer.
  using CombineFn =
      std::function<absl::StatusOr<pb::Contact>(const pb::Contact& survivor, const std::vector<pb::Contact>& others)>;
  void MergeContacts(const Owner& owner, const pb::MergeContactsRequest& request, const IdempotencyScope& idempotency,
                     CombineFn combine, Done<pb::MergeContactsResponse> done);

  // The org's use of each of profiles' quotas: contacts of its busiest user,
  // its active API keys.
  absl::StatusOr<std::vector<pb::QuotaUsage>> Usage(const std::string& org, const ProfilesQuotas& quotas);

  // The database, for the outbox relay and retention.
  db::Database& db() { return *db_; }

 private:
  explicit ProfilesStore(std::unique_ptr<db::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<db::Database> db_;
};

// Contact rows for code that commits contacts inside a transaction of its
// own (the import job, import_store.cc): the same row, tag index, count and
// event as CreateContact / UpdateContact, on the connection of that
// transaction. ReadContactRow: NOT_FOUND when the owner has no such
// contact. CreateContactRow: RESOURCE_EXHAUSTED (quota contactsPerUser)
// when the owner already has max_contacts.
absl::StatusOr<pb::Contact> ReadContactRow(db::Connection& conn, const Owner& owner, const std::string& id);
absl::Status CreateContactRow(db::Connection& conn, const Owner& owner, const pb::Contact& contact,
                              int64_t max_contacts);
absl::Status UpdateContactRow(db::Connection& conn, const Owner& owner, const pb::Contact& before,
                              const pb::Contact& after);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_PROFILES_STORE_H_
