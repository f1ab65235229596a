#include "services/profiles/profiles_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/crypto.h"
#include "services/common/idempotency.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::profiles {
namespace {

using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

// A quota no test meets, for tests about something else.
constexpr int64_t kNoQuota = int64_t{1} << 40;

// Every test runs against both drivers of the database layer.
class ProfilesStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "profiles");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    if (!options_.path.empty()) dir_ = std::filesystem::path(options_.path).parent_path();
    OpenStore();
    org_ = NewOrg("Acme");
    alice_ = Owner{org_, NewUser(org_, "alice@acme.test")};
    bob_ = Owner{org_, NewUser(org_, "bob@acme.test")};
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void OpenStore() {
    store_.reset();
    auto s = ProfilesStore::Open(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  std::string NewOrg(const std::string& name) {
    pb::Org org;
    org.set_id(NewId());
    org.set_display_name(name);
    StoredApiKey key;
    key.org_id = org.id();
    key.key.set_id(NewId());
    key.secret_sha256 = Sha256("secret-" + org.id());
    EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { store_->CreateOrg(org, key, TenantContext{}, d); }).ok());
    return org.id();
  }
  std::string NewUser(const std::string& org, const std::string& email) {
    pb::User user;
    user.set_id(NewId());
    user.set_display_name(email.substr(0, email.find('@')));
    user.set_email(email);
    user.set_timezone("UTC");
    EXPECT_TRUE((Await<pb::User>([&](Done<pb::User> d) {
                  store_->CreateUser(org, user, IdempotencyScope{}, pb::CreateUserRequest(), TenantContext{}, d);
                })).ok());
    return user.id();
  }
  pb::Contact NewContact(const Owner& owner, const std::string& name, std::vector<std::string> tags = {}) {
    pb::Contact c;
    c.set_id(NewId());
    c.set_display_name(name);
    c.set_company("Initech");
    c.set_tier(pb::NETWORK);
    for (auto& t : tags) c.add_tags(t);
    auto r = Await<pb::Contact>([&](Done<pb::Contact> d) {
      store_->CreateContact(owner, c, IdempotencyScope{}, pb::CreateContactRequest(), kNoQuota, d);
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return c;
  }

  db::Options options_;
  std::filesystem::path dir_;
  std::unique_ptr<ProfilesStore> store_;
  std::string org_;
  Owner alice_, bob_;
};

TEST_P(ProfilesStoreTest, UserEmailIsUniquePerOrg) {
  pb::User dup;
  dup.set_id(NewId());
  dup.set_display_name("Alice 2");
  dup.set_email("ALICE@acme.test");
  auto s = Await<pb::User>([&](Done<pb::User> d) {
    store_->CreateUser(org_, dup, IdempotencyScope{}, pb::CreateUserRequest(), TenantContext{}, d);
  });
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAlreadyExists);
  // Same email in another org is fine.
  std::string other = NewOrg("Other");
  EXPECT_FALSE(NewUser(other, "alice@acme.test").empty());
  auto users = store_->ListUsers(org_, "", 10);
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->size(), 2u);
}

TEST_P(ProfilesStoreTest, ContactCrudAndOwnership) {
  pb::Contact c = NewContact(alice_, "Peter Gibbons", {"Engineering"});
  auto got = store_->GetContact(alice_, c.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->display_name(), "Peter Gibbons");
  // Bob (same org) and another org cannot see it.
  EXPECT_EQ(store_->GetContact(bob_, c.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetContact(Owner{NewOrg("Evil"), alice_.user}, c.id()).status().code(),
            absl::StatusCode::kNotFound);
  auto bob_update = Await<pb::Contact>([&](Done<pb::Contact> d) {
    store_->UpdateContact(
        bob_, c.id(),
        [](pb::Contact& x) {
          x.set_title("pwned");
          return absl::OkStatus();
        },
        d);
  });
  EXPECT_EQ(bob_update.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AwaitStatus([&](DoneStatus d) { store_->DeleteContact(bob_, c.id(), d); }).code(),
            absl::StatusCode::kNotFound);

  auto updated = Await<pb::Contact>([&](Done<pb::Contact> d) {
    store_->UpdateContact(
        alice_, c.id(),
        [](pb::Contact& x) {
          x.set_title("Programmer");
          return absl::OkStatus();
        },
        d);
  });
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(store_->GetContact(alice_, c.id())->title(), "Programmer");

  // A failing mutation changes nothing.
  auto failed = Await<pb::Contact>([&](Done<pb::Contact> d) {
    store_->UpdateContact(
        alice_, c.id(),
        [](pb::Contact& x) {
          x.set_title("half-written");
          return absl::InvalidArgumentError("title: no");
        },
        d);
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetContact(alice_, c.id())->title(), "Programmer");

  EXPECT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteContact(alice_, c.id(), d); }).ok());
  EXPECT_EQ(store_->GetContact(alice_, c.id()).status().code(), absl::StatusCode::kNotFound);
}

// GetContacts answers the owner's contacts in the order asked, whatever the
// count (the IN list is padded to a few lengths), and leaves out ids that
// name nothing of the owner's.
TEST_P(ProfilesStoreTest, GetContactsAnswersTheOwnersContactsInTheOrderAsked) {
  std::vector<std::string> mine;
  for (int i = 0; i < 101; ++i) mine.push_back(NewContact(alice_, absl::StrCat("Contact ", i)).id());
  const std::string bobs = NewContact(bob_, "Milton").id();
  const std::string other_org = NewContact(Owner{NewOrg("Globex"), alice_.user}, "Nina").id();
  for (size_t n : {1u, 2u, 4u, 5u, 16u, 17u, 99u, 100u, 101u}) {
    // Newest first, so that the order asked is not the key order.
    std::vector<std::string> ids(mine.rbegin(), mine.rbegin() + n);
    auto got = store_->GetContacts(alice_, ids);
    ASSERT_TRUE(got.ok()) << n << ": " << got.status();
    std::vector<std::string> got_ids;
    for (const pb::Contact& c : *got) got_ids.push_back(c.id());
    EXPECT_EQ(got_ids, ids) << n;
  }
  auto mixed = store_->GetContacts(alice_, {bobs, mine[3], NewId(), other_org, mine[1]});
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  ASSERT_EQ(mixed->size(), 2u);
  EXPECT_EQ((*mixed)[0].id(), mine[3]);
  EXPECT_EQ((*mixed)[0].display_name(), "Contact 3");
  EXPECT_EQ((*mixed)[1].id(), mine[1]);
  auto none = store_->GetContacts(bob_, {mine[0], mine[1]});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto empty = store_->GetContacts(alice_, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_P(ProfilesStoreTest, ListFiltersByQueryTagTierAndGroup) {
  pb::Contact a = NewContact(alice_, "Samir Nagheenanajar", {"Engineering", "Chess"});
  pb::Contact b = NewContact(alice_, "Michael Bolton", {"engineering"});
  NewContact(bob_, "Milton Waddams", {"engineering"});
  auto q = store_->ListContacts(alice_, ContactFilter{"BOLT", "", pb::TIER_UNSPECIFIED, ""}, "", 10);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].id(), b.id());
  auto by_company = store_->ListContacts(alice_, ContactFilter{"initech", "", pb::TIER_UNSPECIFIED, ""}, "", 10);
  EXPECT_EQ(by_company->size(), 2u);
  auto tag = store_->ListContacts(alice_, ContactFilter{"", "ENGINEERING", pb::TIER_UNSPECIFIED, ""}, "", 10);
  EXPECT_EQ(tag->size(), 2u);  // Bob's contact is not Alice's
  auto chess = store_->ListContacts(alice_, ContactFilter{"", "chess", pb::TIER_UNSPECIFIED, ""}, "", 10);
  ASSERT_EQ(chess->size(), 1u);
  EXPECT_EQ((*chess)[0].id(), a.id());
  auto inner = store_->ListContacts(alice_, ContactFilter{"", "", pb::INNER, ""}, "", 10);
  EXPECT_TRUE(inner->empty());

  pb::Group g;
  g.set_id(NewId());
  g.set_display_name("Chess club");
  g.set_kind(pb::HOBBY);
  ASSERT_TRUE((Await<pb::Group>([&](Done<pb::Group> d) {
                store_->CreateGroup(alice_, g, IdempotencyScope{}, pb::CreateGroupRequest(), d);
              })).ok());
  ASSERT_TRUE((Await<pb::GroupMember>([&](Done<pb::GroupMember> d) {
                store_->PutMember(alice_, g.id(), a.id(), pb::LEADER, 1, d);
              })).ok());
  auto in_group = store_->ListContacts(alice_, ContactFilter{"", "", pb::TIER_UNSPECIFIED, g.id()}, "", 10);
  ASSERT_EQ(in_group->size(), 1u);
  EXPECT_EQ((*in_group)[0].id(), a.id());
}

// The query is a plain substring: LIKE's wildcards and the escape character
// in it match only themselves.
TEST_P(ProfilesStoreTest, QueryMatchesWildcardCharactersLiterally) {
  pb::Contact percent = NewContact(alice_, "100% Dana");
  pb::Contact underscore = NewContact(alice_, "Eve_Smith");
  pb::Contact bang = NewContact(alice_, "Frank!");
  NewContact(alice_, "1000 Dana");
  NewContact(alice_, "EveXSmith");
  struct Case {
    std::string query;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"%", {percent.id()}},
      {"0% d", {percent.id()}},
      {"_", {underscore.id()}},
      {"e_s", {underscore.id()}},
      {"!", {bang.id()}},
      {"k!", {bang.id()}},
      {"%%", {}},
  };
  for (const Case& c : cases) {
    auto found = store_->ListContacts(alice_, ContactFilter{c.query, "", pb::TIER_UNSPECIFIED, ""}, "", 10);
    ASSERT_TRUE(found.ok()) << c.query << ": " << found.status();
    std::vector<std::string> ids;
    for (const pb::Contact& contact : *found) ids.push_back(contact.id());
    EXPECT_EQ(ids, c.want) << c.query;
  }
}

TEST_P(ProfilesStoreTest, MembershipsOfContactsAndMe) {
  pb::Contact a = NewContact(alice_, "Joanna");
  pb::Group g;
  g.set_id(NewId());
  g.set_display_name("Alumni");
  g.set_kind(pb::ALUMNI);
  ASSERT_TRUE((Await<pb::Group>([&](Done<pb::Group> d) {
                store_->CreateGroup(alice_, g, IdempotencyScope{}, pb::CreateGroupRequest(), d);
              })).ok());
  auto put = [&](const std::string& member, pb::MemberRole role, int64_t now) {
    return Await<pb::GroupMember>(
        [&](Done<pb::GroupMember> d) { store_->PutMember(alice_, g.id(), member, role, now, d); });
  };
  auto me = put("me", pb::ORGANIZER, 100);
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->display_name(), "alice");
  ASSERT_TRUE(put(a.id(), pb::MEMBER, 200).ok());
  auto again = put(a.id(), pb::LEADER, 300);  // a role change keeps the join time
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->join_time().seconds(), 0);
  EXPECT_EQ(again->join_time().nanos(), 200000);
  EXPECT_EQ(put("nosuchcontact", pb::MEMBER, 1).status().code(), absl::StatusCode::kNotFound);
  // Bob cannot add members to Alice's group.
  auto bob_put =
      Await<pb::GroupMember>([&](Done<pb::GroupMember> d) { store_->PutMember(bob_, g.id(), "me", pb::MEMBER, 1, d); });
  EXPECT_EQ(bob_put.status().code(), absl::StatusCode::kNotFound);

  auto members = store_->ListMembers(alice_, g.id(), "", 10);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  auto groups = store_->ListMemberGroups(alice_, a.id());
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].role(), pb::LEADER);

  // Deleting the contact removes its membership.
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteContact(alice_, a.id(), d); }).ok());
  EXPECT_EQ(store_->ListMembers(alice_, g.id(), "", 10)->size(), 1u);
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteGroup(alice_, g.id(), d); }).ok());
  EXPECT_EQ(store_->ListMembers(alice_, g.id(), "", 10).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(ProfilesStoreTest, ApiKeysRevokeOnceAndSurviveReopen) {
  StoredApiKey key;
  key.org_id = org_;
  key.key.set_id(NewId());
  key.key.set_display_name("ci");
  key.key.add_scopes(api::v1::READ);
  key.secret_sha256 = Sha256("s3cret");
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->CreateApiKey(key, kNoQuota, TenantContext{}, d); }).ok());
  auto first = Await<pb::ApiKey>(
      [&](Done<pb::ApiKey> d) { store_->RevokeApiKey(org_, key.key.id(), 1000, TenantContext{}, d); });
  ASSERT_TRUE(first.ok());
  auto second = Await<pb::ApiKey>(
      [&](Done<pb::ApiKey> d) { store_->RevokeApiKey(org_, key.key.id(), 5000, TenantContext{}, d); });
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->revoke_time().nanos(), 1000000);  // 1000 us, the first revocation
  auto other_org = Await<pb::ApiKey>(
      [&](Done<pb::ApiKey> d) { store_->RevokeApiKey(NewOrg("x"), key.key.id(), 1, TenantContext{}, d); });
  EXPECT_EQ(other_org.status().code(), absl::StatusCode::kNotFound);
  OpenStore();
  auto stored = store_->GetApiKey(org_, key.key.id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->secret_sha256, Sha256("s3cret"));
  EXPECT_TRUE(stored->key.has_revoke_time());
}

TEST_P(ProfilesStoreTest, MetThroughMustBeAnOwnContact) {
  pb::Contact bobs = NewContact(bob_, "Bob's friend");
  pb::Contact c;
  c.set_id(NewId());
  c.set_display_name("Lumbergh");
  c.set_met_through_contact_id(bobs.id());
  auto r = Await<pb::Contact>([&](Done<pb::Contact> d) {
    store_->CreateContact(alice_, c, IdempotencyScope{}, pb::CreateContactRequest(), kNoQuota, d);
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetContact(alice_, c.id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(ProfilesStoreTest, DeletingAMetThroughContactDoesNotLockTheOthers) {
  pb::Contact via = NewContact(alice_, "Introducer");
  pb::Contact c;
  c.set_id(NewId());
  c.set_display_name("Met through");
  c.set_met_through_contact_id(via.id());
  ASSERT_TRUE((Await<pb::Contact>([&](Done<pb::Contact> d) {
                store_->CreateContact(alice_, c, IdempotencyScope{}, pb::CreateContactRequest(), kNoQuota, d);
              })).ok());
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteContact(alice_, via.id(), d); }).ok());
  auto updated = Await<pb::Contact>([&](Done<pb::Contact> d) {
    store_->UpdateContact(
        alice_, c.id(),
        [](pb::Contact& x) {
          x.set_title("still editable");
          return absl::OkStatus();
        },
        d);
  });
  ASSERT_TRUE(updated.ok()) << updated.status();
  // Pointing it at a missing contact anew is still refused.
  auto repointed = Await<pb::Contact>([&](Done<pb::Contact> d) {
    store_->UpdateContact(
        alice_, c.id(),
        [](pb::Contact& x) {
          x.set_met_through_contact_id("nosuch");
          return absl::OkStatus();
        },
        d);
  });
  EXPECT_EQ(repointed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(ProfilesStoreTest, IdempotentCreateReplaysTheFirstContact) {
  pb::CreateContactRequest req;
  req.mutable_contact()->set_display_name("Once");
  IdempotencyScope scope{alice_.org, alice_.user, "k-1", "CreateContact"};
  std::string first_id;
  for (int i = 0; i < 3; ++i) {
    pb::Contact c = req.contact();
    c.set_id(NewId());
    auto r =
        Await<pb::Contact>([&](Done<pb::Contact> d) { store_->CreateContact(alice_, c, scope, req, kNoQuota, d); });
    ASSERT_TRUE(r.ok()) << r.status();
    if (i == 0) first_id = r->id();
    EXPECT_EQ(r->id(), first_id);
  }
  EXPECT_EQ(store_->ListContacts(alice_, ContactFilter{}, "", 10)->size(), 1u);
  pb::CreateContactRequest other = req;
  other.mutable_contact()->set_display_name("Twice");
  pb::Contact c = other.contact();
  c.set_id(NewId());
  auto mismatch =
      Await<pb::Contact>([&](Done<pb::Contact> d) { store_->CreateContact(alice_, c, scope, other, kNoQuota, d); });
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kFailedPrecondition);
}

// Keys past their 24 hours are deleted by the service's pruner; younger ones stay.
TEST_P(ProfilesStoreTest, IdempotencyRetentionDeletesExpiredKeysOnly) {
  pb::CreateContactRequest req;
  req.mutable_contact()->set_display_name("Once");
  for (const char* key : {"k-old", "k-new"}) {
    pb::Contact c = req.contact();
    c.set_id(NewId());
    IdempotencyScope scope{alice_.org, alice_.user, key, "CreateContact"};
    ASSERT_TRUE(Await<pb::Contact>([&](Done<pb::Contact> d) {
                  store_->CreateContact(alice_, c, scope, req, kNoQuota, d);
                }).ok());
  }
  ASSERT_TRUE(store_->db()
                  .Write([](db::Connection& conn) {
                    return conn.Prepare("UPDATE idempotency_keys SET create_us = create_us - ? WHERE key = 'k-old'")
                        .Bind(1, int64_t{25} * 3600 * 1000000)
                        .Run();
                  })
                  .ok());
  auto keys = [&] {
    std::vector<std::string> out;
    EXPECT_TRUE(store_->db()
                    .Read([&](db::Connection& conn) -> absl::Status {
                      auto st = conn.Prepare("SELECT key FROM idempotency_keys ORDER BY key");
                      for (;;) {
                        ASSIGN_OR_RETURN(bool row, st.Step());
                        if (!row) return absl::OkStatus();
                        out.push_back(st.ColumnText(0));
                      }
                    })
                    .ok());
    return out;
  };
  ASSERT_EQ(keys(), (std::vector<std::string>{"k-new", "k-old"}));
  RetentionPruner pruner(&store_->db(), {IdempotencyRetention()});
  absl::StatusOr<bool> full = pruner.PruneOnce();
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_FALSE(*full);
  EXPECT_EQ(keys(), (std::vector<std::string>{"k-new"}));
}

TEST_P(ProfilesStoreTest, ProfileUpdateIsAtomicAndPersistent) {
  auto r = Await<pb::Profile>([&](Done<pb::Profile> d) {
    store_->UpdateProfile(
        alice_,
        [](pb::Profile& p) {
          p.set_headline("Builder");
          p.set_timezone("Europe/Paris");
          return absl::OkStatus();
        },
        d);
  });
  ASSERT_TRUE(r.ok());
  OpenStore();
  auto p = store_->GetProfile(alice_);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->headline(), "Builder");
  EXPECT_EQ(store_->GetUser(org_, alice_.user)->timezone(), "Europe/Paris");
}

TEST_P(ProfilesStoreTest, ContactsPerUserQuotaIsKeptWithCreatesAndDeletes) {
  auto create = [&](const Owner& owner, int64_t quota) {
    pb::Contact c;
    c.set_id(NewId());
    c.set_display_name("Q");
    return Await<pb::Contact>([&](Done<pb::Contact> d) {
      store_->CreateContact(owner, c, IdempotencyScope{}, pb::CreateContactRequest(), quota, d);
    });
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto c = create(alice_, 3);
    ASSERT_TRUE(c.ok()) << c.status();
    ids.push_back(c->id());
  }
  auto over = create(alice_, 3);
  ASSERT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message().substr(0, 22), "quota contactsPerUser:") << over.status();
  EXPECT_TRUE(create(bob_, 3).ok());  // per user: bob has his own
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteContact(alice_, ids[0], d); }).ok());
  EXPECT_TRUE(create(alice_, 3).ok());
  EXPECT_EQ(create(alice_, 3).status().code(), absl::StatusCode::kResourceExhausted);

  ProfilesQuotas quotas;
  quotas.contacts_per_user = 3;
  quotas.api_keys_per_org = 7;
  auto usage = store_->Usage(org_, quotas);
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->size(), 2u);
  EXPECT_EQ((*usage)[0].quota(), "contactsPerUser");
  EXPECT_EQ((*usage)[0].per(), "user");
  EXPECT_EQ((*usage)[0].limit(), 3);
  EXPECT_EQ((*usage)[0].used(), 3);
  EXPECT_EQ((*usage)[0].subject_id(), alice_.user);
  EXPECT_EQ((*usage)[1].quota(), "apiKeysPerOrg");
  EXPECT_EQ((*usage)[1].used(), 1);  // the org's admin key
  EXPECT_EQ((*usage)[1].limit(), 7);
  // Another org's use is its own.
  auto other = store_->Usage(NewOrg("Other"), quotas);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)[0].used(), 0);
  EXPECT_EQ((*other)[0].subject_id(), "");
}

TEST_P(ProfilesStoreTest, ApiKeysPerOrgQuotaCountsActiveKeys) {
  auto create = [&]() {
    StoredApiKey key;
    key.org_id = org_;
    key.key.set_id(NewId());
    key.secret_sha256 = Sha256(key.key.id());
    return AwaitStatus([&](DoneStatus d) { store_->CreateApiKey(key, 3, TenantContext{}, d); });
  };
  ASSERT_TRUE(create().ok());  // the admin key and this one
  ASSERT_TRUE(create().ok());
  absl::Status over = create();
  ASSERT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("quota apiKeysPerOrg"), std::string::npos) << over;
  auto keys = store_->ListApiKeys(org_, "", 10);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 3u);
  ASSERT_TRUE(Await<pb::ApiKey>([&](Done<pb::ApiKey> d) {
                store_->RevokeApiKey(org_, (*keys)[2].id(), 1, TenantContext{}, d);
              }).ok());
  EXPECT_TRUE(create().ok());  // a revoked key frees its place
}

// contact.updated names the fields the update changed, and never notes.
TEST_P(ProfilesStoreTest, UpdateEventsNameTheChangedFields) {
  pb::Contact c = NewContact(alice_, "Milton", {"stapler"});
  ASSERT_TRUE(Await<pb::Contact>([&](Done<pb::Contact> d) {
                store_->UpdateContact(
                    alice_, c.id(),
                    [](pb::Contact& x) {
                      x.add_tags("basement");
                      x.set_notes("red stapler");
                      x.set_title("Collator");
                      return absl::OkStatus();
                    },
                    d);
              }).ok());
  std::vector<events::v1::Event> updated;
  ASSERT_TRUE(store_->db()
                  .Read([&](db::Connection& conn) -> absl::Status {
                    db::Statement st = conn.Prepare("SELECT data FROM outbox WHERE type = ?");
                    st.Bind(1, "contact.updated");
                    return db::ForEachRow(st, [&](const db::Statement& row) -> absl::Status {
                      events::v1::Event e;
                      RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(0), &e));
                      updated.push_back(e);
                      return absl::OkStatus();
                    });
                  })
                  .ok());
  ASSERT_EQ(updated.size(), 1u);
  std::vector<std::string> paths(updated[0].changed().paths().begin(), updated[0].changed().paths().end());
  EXPECT_EQ(paths, (std::vector<std::string>{"title", "tags"}));
}

}  // namespace
INSTANTIATE_TEST_SUITE_P(Drivers, ProfilesStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace rapport::profiles
