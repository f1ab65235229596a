#include "services/interactions/interactions_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "services/common/ids.h"
#include "services/common/time_util.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::interactions {
namespace {

using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

constexpr int64_t kDayUs = int64_t{86400} * 1000000;
constexpr int64_t kBaseUs = int64_t{1780000000} * 1000000;

// Every test runs against both drivers of the database layer.
class InteractionsStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "interactions");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    if (!options->path.empty()) dir_ = std::filesystem::path(options->path).parent_path();
    auto s = InteractionsStore::Open(*options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  pb::Interaction Interaction(pb::InteractionKind kind, pb::Direction dir, std::vector<std::string> contacts,
                              int64_t occurred_us) {
    pb::Interaction i;
    i.set_id(NewId());
    i.set_kind(kind);
    i.set_direction(dir);
    for (auto& c : contacts) i.add_contact_ids(c);
    *i.mutable_occurred_at() = ToTimestamp(occurred_us);
    return i;
  }

  absl::StatusOr<pb::Interaction> Create(const Owner& owner, const pb::Interaction& i, const std::string& key = "",
                                         const pb::CreateInteractionRequest* request = nullptr) {
    pb::CreateInteractionRequest req;
    *req.mutable_interaction() = i;
    if (request != nullptr) req = *request;
    Cadences cadences;
    for (const auto& c : i.contact_ids()) cadences[c] = 30;
    return Await<pb::Interaction>([&](Done<pb::Interaction> d) {
      store_->CreateInteraction(owner, i, cadences, IdempotencyScope{owner.org, owner.user, key, "CreateInteraction"},
                                req, d);
    });
  }

  absl::Status Delete(const Owner& owner, const std::string& id) {
    return AwaitStatus([&](DoneStatus d) { store_->DeleteInteraction(owner, id, d); });
  }

  void ExpectLedgerExact(const Owner& owner, const std::string& contact) {
    auto stored = store_->GetLedgerRow(owner, contact);
    auto fresh = store_->RecomputeLedgerRow(owner, contact);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_TRUE(fresh.ok()) << fresh.status();
    EXPECT_EQ(stored->given_milli, fresh->given_milli) << contact;
    EXPECT_EQ(stored->received_milli, fresh->received_milli) << contact;
    EXPECT_EQ(stored->count, fresh->count) << contact;
    EXPECT_EQ(stored->last_us, fresh->last_us) << contact;
    EXPECT_NEAR(stored->anchored, fresh->anchored, 1e-9 * std::max(1.0, fresh->anchored)) << contact;
  }

  int64_t OutboxCount(const std::string& type) {
    int64_t n = 0;
    EXPECT_TRUE(store_->db()
                    .Read([&](db::Connection& conn) {
                      auto st = conn.Prepare("SELECT COUNT(*) FROM outbox WHERE type = ?");
                      st.Bind(1, type);
                      auto row = st.Step();
                      if (!row.ok()) return row.status();
                      n = st.ColumnInt(0);
                      return absl::OkStatus();
                    })
                    .ok());
    return n;
  }

  std::filesystem::path dir_;
  std::unique_ptr<InteractionsStore> store_;
  Owner alice_{"org1", "alice"};
};

TEST_P(InteractionsStoreTest, IncrementalLedgerEqualsRecomputedUnderRandomChanges) {
  std::mt19937 rng(42);
  std::vector<std::string> contacts = {"c1", "c2", "c3", "c4"};
  std::vector<pb::Interaction> live;
  for (int step = 0; step < 300; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (op < 6 || live.empty()) {
      std::vector<std::string> who = {contacts[rng() % 4]};
      if (rng() % 3 == 0) {
        std::string other = contacts[rng() % 4];
        if (other != who[0]) who.push_back(other);
      }
      auto kind = static_cast<pb::InteractionKind>(1 + rng() % 16);
      auto dir = static_cast<pb::Direction>(1 + rng() % 3);
      auto created = Create(alice_, Interaction(kind, dir, who, kBaseUs - static_cast<int64_t>(rng() % 700) * kDayUs));
      ASSERT_TRUE(created.ok()) << created.status();
      live.push_back(*created);
    } else if (op < 8) {
      size_t k = rng() % live.size();
      pb::Interaction target = live[k];
      auto kind = static_cast<pb::InteractionKind>(1 + rng() % 16);
      std::string new_contact = contacts[rng() % 4];
      int64_t when = kBaseUs - static_cast<int64_t>(rng() % 700) * kDayUs;
      auto updated = Await<pb::Interaction>([&](Done<pb::Interaction> d) {
        store_->UpdateInteraction(
            alice_, target.id(),
            [&](pb::Interaction& i) {
              i.set_kind(kind);
              i.clear_contact_ids();
              i.add_contact_ids(new_contact);
              *i.mutable_occurred_at() = ToTimestamp(when);
              return absl::OkStatus();
            },
            Cadences{{new_contact, 30}}, d);
      });
      ASSERT_TRUE(updated.ok()) << updated.status();
      live[k] = *updated;
    } else {
      size_t k = rng() % live.size();
      ASSERT_TRUE(Delete(alice_, live[k].id()).ok());
      live.erase(live.begin() + static_cast<long>(k));
    }
  }
  for (const auto& c : contacts) {
    auto stored = store_->GetLedgerRow(alice_, c);
    if (stored.ok()) ExpectLedgerExact(alice_, c);
  }
}

TEST_P(InteractionsStoreTest, DeletingTheLatestMovesLastInteractionBack) {
  auto older = Create(alice_, Interaction(pb::EMAIL, pb::GAVE, {"c1"}, kBaseUs - 10 * kDayUs));
  auto latest = Create(alice_, Interaction(pb::MEETING, pb::RECEIVED, {"c1"}, kBaseUs));
  ASSERT_TRUE(older.ok() && latest.ok());
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1")->last_us, kBaseUs);
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1")->next_due_us(), kBaseUs + 30 * kDayUs);
  ASSERT_TRUE(Delete(alice_, latest->id()).ok());
  auto row = store_->GetLedgerRow(alice_, "c1");
  EXPECT_EQ(row->last_us, kBaseUs - 10 * kDayUs);
  EXPECT_EQ(row->next_due_us(), kBaseUs + 20 * kDayUs);
  EXPECT_EQ(row->received_milli, 0);
  EXPECT_EQ(row->given_milli, 1000);
  ASSERT_TRUE(Delete(alice_, older->id()).ok());
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1")->last_us, 0);
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1")->count, 0);
  ExpectLedgerExact(alice_, "c1");
}

TEST_P(InteractionsStoreTest, IdempotentCreateReplaysAndRejectsADifferentRequest) {
  pb::Interaction i = Interaction(pb::CALL, pb::MUTUAL, {"c1"}, kBaseUs);
  pb::CreateInteractionRequest req;
  *req.mutable_interaction()->mutable_contact_ids() = i.contact_ids();
  req.mutable_interaction()->set_kind(pb::CALL);
  std::string first_id;
  for (int attempt = 0; attempt < 5; ++attempt) {
    pb::Interaction fresh = i;
    fresh.set_id(NewId());  // each retry mints a new id; only the first may land
    auto r = Create(alice_, fresh, "key-1", &req);
    ASSERT_TRUE(r.ok()) << r.status();
    if (attempt == 0) first_id = r->id();
    EXPECT_EQ(r->id(), first_id);
  }
  auto listed = store_->ListInteractions(alice_, InteractionFilter(), std::nullopt, 100);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1")->count, 1);

  pb::CreateInteractionRequest other = req;
  other.mutable_interaction()->set_kind(pb::MEETING);
  auto mismatch = Create(alice_, i, "key-1", &other);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kFailedPrecondition);
  // Keys are per user: Bob may use the same key.
  Owner bob{"org1", "bob"};
  EXPECT_TRUE(Create(bob, Interaction(pb::CALL, pb::MUTUAL, {"c9"}, kBaseUs), "key-1", &other).ok());
}

TEST_P(InteractionsStoreTest, OtherUsersAndOrgsSeeNothing) {
  auto mine = Create(alice_, Interaction(pb::GIFT, pb::GAVE, {"c1"}, kBaseUs));
  ASSERT_TRUE(mine.ok());
  for (const Owner& other : {Owner{"org1", "bob"}, Owner{"org2", "alice"}}) {
    EXPECT_EQ(store_->GetInteraction(other, mine->id()).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store_->GetLedgerRow(other, "c1").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(Delete(other, mine->id()).code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(store_->ListInteractions(other, InteractionFilter(), std::nullopt, 10)->empty());
    EXPECT_TRUE(store_->ListLedger(other, LedgerOrder::kBalance, std::nullopt, 10)->empty());
  }
  EXPECT_TRUE(store_->GetInteraction(alice_, mine->id()).ok());
}

TEST_P(InteractionsStoreTest, ChangesAppendEventsInTheSameTransaction) {
  auto i = Create(alice_, Interaction(pb::MEETING, pb::GAVE, {"c1", "c2"}, kBaseUs));
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(OutboxCount("interaction.created"), 1);
  EXPECT_EQ(OutboxCount("ledger.changed"), 2);
  ASSERT_TRUE(Delete(alice_, i->id()).ok());
  EXPECT_EQ(OutboxCount("interaction.deleted"), 1);
  EXPECT_EQ(OutboxCount("ledger.changed"), 4);
  // A failed write leaves no event behind.
  auto failed = Await<pb::Interaction>([&](Done<pb::Interaction> d) {
    store_->UpdateInteraction(
        alice_, "missing", [](pb::Interaction&) { return absl::OkStatus(); }, Cadences(), d);
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(OutboxCount("interaction.updated"), 0);
}

// interaction.updated names the fields the update changed (Event.changed),
// never notes, which stay in this service.
TEST_P(InteractionsStoreTest, UpdateEventNamesTheChangedFields) {
  auto i = Create(alice_, Interaction(pb::MEETING, pb::GAVE, {"c1"}, kBaseUs));
  ASSERT_TRUE(i.ok());
  auto updated = Await<pb::Interaction>([&](Done<pb::Interaction> d) {
    store_->UpdateInteraction(
        alice_, i->id(),
        [](pb::Interaction& x) {
          x.set_summary("lunch");
          x.set_notes("private");
          return absl::OkStatus();
        },
        Cadences{{"c1", 30}}, d);
  });
  ASSERT_TRUE(updated.ok()) << updated.status();
  std::vector<std::string> paths;
  ASSERT_TRUE(store_->db()
                  .Read([&](db::Connection& conn) -> absl::Status {
                    auto st = conn.Prepare("SELECT data FROM outbox WHERE type = ?");
                    st.Bind(1, "interaction.updated");
                    return db::ForEachRow(st, [&](const db::Statement& row) -> absl::Status {
                      events::v1::Event e;
                      RETURN_IF_ERROR(db::ParseRow(row.ColumnBlob(0), &e));
                      paths.assign(e.changed().paths().begin(), e.changed().paths().end());
                      return absl::OkStatus();
                    });
                  })
                  .ok());
  EXPECT_EQ(paths, std::vector<std::string>{"summary"});
}

TEST_P(InteractionsStoreTest, DeletedContactLeavesTheLedgerAndStaysGone) {
  auto i = Create(alice_, Interaction(pb::MEETING, pb::GAVE, {"c1", "c2"}, kBaseUs));
  ASSERT_TRUE(i.ok());
  // An interaction with c1 alone is erased with c1; the shared one stays for c2.
  auto alone = Create(alice_, Interaction(pb::CALL, pb::RECEIVED, {"c1"}, kBaseUs - kDayUs));
  ASSERT_TRUE(alone.ok());
  auto apply = [&](const std::string& type, int32_t cadence) {
    events::v1::Event e;
    e.set_type(type);
    e.set_org_id(alice_.org);
    e.set_user_id(alice_.user);
    e.mutable_contact()->mutable_contact()->set_id("c1");
    e.mutable_contact()->mutable_contact()->set_effective_cadence_days(cadence);
    return store_->db().Write([&](db::Connection& conn) { return InteractionsStore::ApplyContactEvent(conn, e); });
  };
  ASSERT_TRUE(apply("contact.updated", 14).ok());
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1")->cadence_days, 14);
  ASSERT_TRUE(apply("contact.deleted", 0).ok());
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->KnownContacts(alice_, {"c1"})->empty());
  EXPECT_EQ(store_->GetInteraction(alice_, alone->id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetInteraction(alice_, i->id()).ok());
  // Applying the deletion again (a redelivery) changes nothing more.
  ASSERT_TRUE(apply("contact.deleted", 0).ok());
  EXPECT_TRUE(store_->GetInteraction(alice_, i->id()).ok());
  // A late, reclaimed update does not bring it back; nor does a new interaction.
  ASSERT_TRUE(apply("contact.updated", 30).ok());
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c1").status().code(), absl::StatusCode::kNotFound);
  auto again = Create(alice_, Interaction(pb::CALL, pb::GAVE, {"c1"}, kBaseUs));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kInvalidArgument);
  // The other contact's ledger is untouched and still exact; the old
  // interaction can still be deleted.
  ExpectLedgerExact(alice_, "c2");
  ASSERT_TRUE(Delete(alice_, i->id()).ok());
  EXPECT_EQ(store_->GetLedgerRow(alice_, "c2")->count, 0);
}

TEST_P(InteractionsStoreTest, ContactMergedMovesEverythingToTheSurvivorOnce) {
  // c1 survives; c2 and c3 merge into it. One interaction names c1 and c2.
  auto i1 = Create(alice_, Interaction(pb::MEETING, pb::GAVE, {"c1"}, kBaseUs - 3 * kDayUs));
  auto i2 = Create(alice_, Interaction(pb::CALL, pb::RECEIVED, {"c2"}, kBaseUs - 2 * kDayUs));
  auto i3 = Create(alice_, Interaction(pb::FAVOR, pb::GAVE, {"c1", "c2", "c4"}, kBaseUs - kDayUs));
  auto i4 = Create(alice_, Interaction(pb::EMAIL, pb::GAVE, {"c3"}, kBaseUs));
  Owner bob{"org1", "bob"};
  auto bobs = Create(bob, Interaction(pb::CALL, pb::GAVE, {"c2"}, kBaseUs));  // same id, another user: untouched
  for (const auto* i : {&i1, &i2, &i3, &i4, &bobs}) ASSERT_TRUE(i->ok()) << i->status();
  pb::Introduction intro;
  intro.set_id(NewId());
  intro.set_contact_a_id("c2");
  intro.set_contact_b_id("c4");
  intro.set_state(pb::REQUESTED);
  ASSERT_TRUE(Await<pb::Introduction>([&](Done<pb::Introduction> d) {
                store_->CreateIntroduction(alice_, intro, IdempotencyScope{}, pb::CreateIntroductionRequest(), d);
              }).ok());
  events::v1::Event e;
  e.set_id(NewId());
  e.set_type("contact.merged");
  e.set_org_id(alice_.org);
  e.set_user_id(alice_.user);
  *e.mutable_time() = ToTimestamp(kBaseUs);
  e.mutable_contact_merged()->mutable_survivor()->set_id("c1");
  e.mutable_contact_merged()->add_merged_ids("c2");
  e.mutable_contact_merged()->add_merged_ids("c3");
  const int64_t updated_before = OutboxCount("interaction.updated");
  for (int round = 0; round < 2; ++round) {  // a second application changes nothing more
    ASSERT_TRUE(
        store_->db().Write([&](db::Connection& conn) { return InteractionsStore::ApplyContactEvent(conn, e); }).ok());
    auto moved = store_->GetInteraction(alice_, i3->id());
    ASSERT_TRUE(moved.ok());
    EXPECT_EQ(std::vector<std::string>(moved->contact_ids().begin(), moved->contact_ids().end()),
              (std::vector<std::string>{"c1", "c4"}));
    EXPECT_EQ(store_->GetInteraction(alice_, i2->id())->contact_ids(0), "c1");
    EXPECT_EQ(store_->GetInteraction(alice_, i4->id())->contact_ids(0), "c1");
    auto row = store_->GetLedgerRow(alice_, "c1");
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->count, 4);
    ExpectLedgerExact(alice_, "c1");
    ExpectLedgerExact(alice_, "c4");
    EXPECT_EQ(store_->GetLedgerRow(alice_, "c2").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store_->GetLedgerRow(alice_, "c3").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store_->GetIntroduction(alice_, intro.id())->contact_a_id(), "c1");
    EXPECT_EQ(OutboxCount("interaction.updated") - updated_before, 3);  // i2, i3, i4, once
  }
  EXPECT_EQ(store_->GetInteraction(bob, bobs->id())->contact_ids(0), "c2");
  EXPECT_EQ(store_->GetLedgerRow(bob, "c2")->count, 1);
  // The merged ids are no longer accepted.
  EXPECT_EQ(Create(alice_, Interaction(pb::CALL, pb::GAVE, {"c2"}, kBaseUs)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(InteractionsStoreTest, ListsPageInOrder) {
  for (int k = 0; k < 7; ++k) {
    ASSERT_TRUE(Create(alice_, Interaction(k % 2 ? pb::FAVOR : pb::EMAIL, k % 2 ? pb::GAVE : pb::RECEIVED,
                                           {absl::StrCat("c", k)}, kBaseUs - k * kDayUs))
                    .ok());
  }
  // Newest first, paged by (time, id).
  std::optional<Cursor> cursor;
  std::vector<int64_t> times;
  for (int page = 0; page < 4; ++page) {
    auto items = store_->ListInteractions(alice_, InteractionFilter(), cursor, 3);
    ASSERT_TRUE(items.ok());
    for (auto& i : *items) times.push_back(TimestampToMicros(i.occurred_at()));
    if (items->size() < 3) break;
    cursor = Cursor{static_cast<double>(TimestampToMicros(items->back().occurred_at())), items->back().id()};
  }
  ASSERT_EQ(times.size(), 7u);
  EXPECT_TRUE(std::is_sorted(times.rbegin(), times.rend()));
  // Ledger by balance ascending: the ones who gave to us first.
  auto by_balance = store_->ListLedger(alice_, LedgerOrder::kBalance, std::nullopt, 10);
  ASSERT_EQ(by_balance->size(), 7u);
  EXPECT_LT(by_balance->front().balance_milli(), 0);
  EXPECT_GT(by_balance->back().balance_milli(), 0);
  auto page1 = store_->ListLedger(alice_, LedgerOrder::kStrength, std::nullopt, 4);
  auto page2 =
      store_->ListLedger(alice_, LedgerOrder::kStrength, Cursor{page1->back().anchored, page1->back().contact_id}, 4);
  ASSERT_EQ(page1->size() + page2->size(), 7u);
  EXPECT_GE(page1->back().anchored, page2->front().anchored);
  // Filter by time range and kind.
  InteractionFilter f;
  f.kind = pb::EMAIL;
  f.after_us = kBaseUs - 3 * kDayUs;
  auto filtered = store_->ListInteractions(alice_, f, std::nullopt, 10);
  ASSERT_EQ(filtered->size(), 2u);  // k = 0 and 2
}

// Warm-path asks: the teammate asked finds the asker's introduction by id
// within the org only.
TEST_P(InteractionsStoreTest, IntroductionOwnerFindsTheAskerWithinTheOrgOnly) {
  pb::Introduction intro;
  intro.set_id(NewId());
  intro.set_mode(pb::REQUEST);
  intro.set_via_user_id("bob");
  intro.set_contact_b_id("c4");
  intro.set_state(pb::REQUESTED);
  ASSERT_TRUE(Await<pb::Introduction>([&](Done<pb::Introduction> d) {
                store_->CreateIntroduction(alice_, intro, IdempotencyScope{}, pb::CreateIntroductionRequest(), d);
              }).ok());
  absl::StatusOr<Owner> owner = store_->IntroductionOwner(alice_.org, intro.id());
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(owner->org, alice_.org);
  EXPECT_EQ(owner->user, alice_.user);
  EXPECT_EQ(store_->IntroductionOwner("org2", intro.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->IntroductionOwner(alice_.org, NewId()).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
INSTANTIATE_TEST_SUITE_P(Drivers, InteractionsStoreTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace rapport::interactions
