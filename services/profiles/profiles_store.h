// Storage of the profiles service: orgs, users with their own profiles, API
// keys (SHA-256 of the secret only), contacts, groups and memberships.
//
// ProfilesStore is the interface (a PostgreSQL twin can implement it later);
// SqliteProfilesStore implements it on services/common/sqlite. Every method
// takes the org, and personal data also the owning user: rows of another org
// or user are invisible and answer NOT_FOUND exactly like missing ones.
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

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/db.h"
#include "services/common/db_rows.h"
#include "services/common/idempotency.h"
#include "services/common/outbox.h"

namespace rapport::profiles {

namespace pb = ::rapport::profiles::v1;

struct StoredApiKey {
  std::string org_id;
  pb::ApiKey key;
  std::string secret_sha256;  // raw 32 bytes
};

struct ContactFilter {
  std::string query;  // substring of name, company, title or email, case-insensitive
  std::string tag;    // exact tag, case-insensitive
  pb::Tier tier = pb::TIER_UNSPECIFIED;
  std::string group_id;
};

class ProfilesStore {
 public:
  virtual ~ProfilesStore() = default;

  // Orgs and users. CreateUser: ALREADY_EXISTS when the email is taken in the org.
  virtual void CreateOrg(const pb::Org& org, const StoredApiKey& admin_key, DoneStatus done) = 0;
  // Creates replay the first result for a repeated idempotency key.
  virtual void CreateUser(const std::string& org, const pb::User& user, const IdempotencyScope& idempotency,
                          const google::protobuf::Message& request, Done<pb::User> done) = 0;
  virtual absl::StatusOr<pb::User> GetUser(const std::string& org, const std::string& user_id) = 0;
  virtual absl::StatusOr<std::vector<pb::User>> ListUsers(const std::string& org, const std::string& after_id,
                                                          int limit) = 0;

  // API keys.
  virtual void CreateApiKey(const StoredApiKey& key, DoneStatus done) = 0;
  virtual absl::StatusOr<StoredApiKey> GetApiKey(const std::string& org, const std::string& key_id) = 0;
  virtual absl::StatusOr<std::vector<pb::ApiKey>> ListApiKeys(const std::string& org, const std::string& after_id,
                                                              int limit) = 0;
  // Sets revoke_time (once; revoking again keeps the first time).
  virtual void RevokeApiKey(const std::string& org, const std::string& key_id, int64_t now_micros,
                            Done<pb::ApiKey> done) = 0;

  // Own profile of owner.user.
  virtual absl::StatusOr<pb::Profile> GetProfile(const Owner& owner) = 0;
  virtual void UpdateProfile(const Owner& owner, Mutation<pb::Profile> mutate, Done<pb::Profile> done) = 0;

  // Contacts. INVALID_ARGUMENT when met_through_contact_id names no contact of the owner.
  virtual void CreateContact(const Owner& owner, const pb::Contact& contact, const IdempotencyScope& idempotency,
                             const google::protobuf::Message& request, Done<pb::Contact> done) = 0;
  virtual absl::StatusOr<pb::Contact> GetContact(const Owner& owner, const std::string& id) = 0;
  virtual void UpdateContact(const Owner& owner, const std::string& id, Mutation<pb::Contact> mutate,
                             Done<pb::Contact> done) = 0;
  // Also removes the contact's group memberships.
  virtual void DeleteContact(const Owner& owner, const std::string& id, DoneStatus done) = 0;
  // In id (= creation) order, after after_id, at most limit.
  virtual absl::StatusOr<std::vector<pb::Contact>> ListContacts(const Owner& owner, const ContactFilter& filter,
                                                                const std::string& after_id, int limit) = 0;
  virtual absl::StatusOr<std::vector<pb::Contact>> ListContactsWithBirthday(const Owner& owner) = 0;

  // Groups and memberships. A member is a contact id or "me".
  virtual void CreateGroup(const Owner& owner, const pb::Group& group, const IdempotencyScope& idempotency,
                           const google::protobuf::Message& request, Done<pb::Group> done) = 0;
  virtual absl::StatusOr<pb::Group> GetGroup(const Owner& owner, const std::string& id) = 0;
  virtual void UpdateGroup(const Owner& owner, const std::string& id, Mutation<pb::Group> mutate,
                           Done<pb::Group> done) = 0;
  virtual void DeleteGroup(const Owner& owner, const std::string& id, DoneStatus done) = 0;
  virtual absl::StatusOr<std::vector<pb::Group>> ListGroups(const Owner& owner, const std::string& after_id,
                                                            int limit) = 0;
  // NOT_FOUND when the group or the contact does not exist for the owner.
  virtual void PutMember(const Owner& owner, const std::string& group_id, const std::string& member_id,
                         pb::MemberRole role, int64_t now_micros, Done<pb::GroupMember> done) = 0;
  virtual void RemoveMember(const Owner& owner, const std::string& group_id, const std::string& member_id,
                            DoneStatus done) = 0;
  virtual absl::StatusOr<std::vector<pb::GroupMember>> ListMembers(const Owner& owner, const std::string& group_id,
                                                                   const std::string& after_id, int limit) = 0;
  virtual absl::StatusOr<std::vector<pb::ContactGroup>> ListMemberGroups(const Owner& owner,
                                                                         const std::string& member_id) = 0;

  // Internal export across every org (rapport.backfill.v1), keyset-ordered by
  // (org, user, id...): users as user.created with the own profile, contacts
  // as contact.created without notes, memberships as group.member_added with
  // the group. after holds the previous page's last key ({} on the first page).
  virtual absl::StatusOr<std::vector<events::ExportedEvent>> ExportUsers(const std::vector<std::string>& after,
                                                                         int limit) = 0;
  virtual absl::StatusOr<std::vector<events::ExportedEvent>> ExportContacts(const std::vector<std::string>& after,
                                                                            int limit) = 0;
  virtual absl::StatusOr<std::vector<events::ExportedEvent>> ExportMemberships(const std::vector<std::string>& after,
                                                                               int limit) = 0;
};

class SqliteProfilesStore : public ProfilesStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteProfilesStore>> Open(const std::string& path);

  void CreateOrg(const pb::Org& org, const StoredApiKey& admin_key, DoneStatus done) override;
  void CreateUser(const std::string& org, const pb::User& user, const IdempotencyScope& idempotency,
                  const google::protobuf::Message& request, Done<pb::User> done) override;
  absl::StatusOr<pb::User> GetUser(const std::string& org, const std::string& user_id) override;
  absl::StatusOr<std::vector<pb::User>> ListUsers(const std::string& org, const std::string& after_id,
                                                  int limit) override;
  void CreateApiKey(const StoredApiKey& key, DoneStatus done) override;
  absl::StatusOr<StoredApiKey> GetApiKey(const std::string& org, const std::string& key_id) override;
  absl::StatusOr<std::vector<pb::ApiKey>> ListApiKeys(const std::string& org, const std::string& after_id,
                                                      int limit) override;
  void RevokeApiKey(const std::string& org, const std::string& key_id, int64_t now_micros,
                    Done<pb::ApiKey> done) override;
  absl::StatusOr<pb::Profile> GetProfile(const Owner& owner) override;
  void UpdateProfile(const Owner& owner, Mutation<pb::Profile> mutate, Done<pb::Profile> done) override;
  void CreateContact(const Owner& owner, const pb::Contact& contact, const IdempotencyScope& idempotency,
                     const google::protobuf::Message& request, Done<pb::Contact> done) override;
  absl::StatusOr<pb::Contact> GetContact(const Owner& owner, const std::string& id) override;
  void UpdateContact(const Owner& owner, const std::string& id, Mutation<pb::Contact> mutate,
                     Done<pb::Contact> done) override;
  void DeleteContact(const Owner& owner, const std::string& id, DoneStatus done) override;
  absl::StatusOr<std::vector<pb::Contact>> ListContacts(const Owner& owner, const ContactFilter& filter,
                                                        const std::string& after_id, int limit) override;
  absl::StatusOr<std::vector<pb::Contact>> ListContactsWithBirthday(const Owner& owner) override;
  void CreateGroup(const Owner& owner, const pb::Group& group, const IdempotencyScope& idempotency,
                   const google::protobuf::Message& request, Done<pb::Group> done) override;
  absl::StatusOr<pb::Group> GetGroup(const Owner& owner, const std::string& id) override;
  void UpdateGroup(const Owner& owner, const std::string& id, Mutation<pb::Group> mutate,
                   Done<pb::Group> done) override;
  void DeleteGroup(const Owner& owner, const std::string& id, DoneStatus done) override;
  absl::StatusOr<std::vector<pb::Group>> ListGroups(const Owner& owner, const std::string& after_id,
                                                    int limit) override;
  void PutMember(const Owner& owner, const std::string& group_id, const std::string& member_id, pb::MemberRole role,
                 int64_t now_micros, Done<pb::GroupMember> done) override;
  void RemoveMember(const Owner& owner, const std::string& group_id, const std::string& member_id,
                    DoneStatus done) override;
  absl::StatusOr<std::vector<pb::GroupMember>> ListMembers(const Owner& owner, const std::string& group_id,
                                                           const std::string& after_id, int limit) override;
  absl::StatusOr<std::vector<pb::ContactGroup>> ListMemberGroups(const Owner& owner,
                                                                 const std::string& member_id) override;

  absl::StatusOr<std::vector<events::ExportedEvent>> ExportUsers(const std::vector<std::string>& after,
                                                                 int limit) override;
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportContacts(const std::vector<std::string>& after,
                                                                    int limit) override;
  absl::StatusOr<std::vector<events::ExportedEvent>> ExportMemberships(const std::vector<std::string>& after,
                                                                       int limit) override;

  db::Database& db() { return *db_; }

 private:
  explicit SqliteProfilesStore(std::unique_ptr<db::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<db::Database> db_;
};

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_PROFILES_STORE_H_
