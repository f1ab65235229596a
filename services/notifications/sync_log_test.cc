// The sync log on both drivers: events and notifications' own changes become
// one change per object at its latest state in commit order, deletes and
// merges tombstones, late (older) events never win, pages and cursors walk
// everything once, expired cursors and bad input are refused, tombstones are
// pruned after the retention, and other users' and orgs' rows never show.
#include "services/notifications/sync_log.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "services/common/erasure.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/common/time_util.h"
#include "services/notifications/inbox_store.h"
#include "services/notifications/notifications_erasure.h"
#include "services/notifications/notifications_store.h"
#include "tests/testing/await.h"
#include "tests/testing/test_database.h"

namespace rapport::notifications {
namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using ::rapport::testing::Await;
using ::rapport::testing::AwaitStatus;

class SyncLogTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto options = rapport::testing::TestDatabase(GetParam(), "notifications");
    if (options.status().code() == absl::StatusCode::kFailedPrecondition) GTEST_SKIP() << options.status();
    ASSERT_TRUE(options.ok()) << options.status();
    auto s = NotificationsStore::Open(*options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    now_ = absl::Now();
    log_ = std::make_unique<SyncLog>(&store_->db(), std::chrono::seconds(3600), [this] { return now_; });
  }

  // Applies e as the consumer does (projection, then the sync log).
  void Apply(events::v1::Event e, const Owner& o) {
    if (e.id().empty()) e.set_id(NewId());
    e.set_org_id(o.org);
    e.set_user_id(o.user);
    absl::Status s = store_->db().Write([&](db::Connection& c) -> absl::Status {
      RETURN_IF_ERROR(store_->ApplyEvent(c, e));
      return ApplySyncEvent(c, e);
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  events::v1::Event ContactEvent(const std::string& type, const std::string& id, const std::string& name) {
    events::v1::Event e;
    e.set_type(type);
    e.mutable_contact()->mutable_contact()->set_id(id);
    e.mutable_contact()->mutable_contact()->set_display_name(name);
    return e;
  }

  // Every change after cursor, page by page; the last cursor in *cursor.
  std::vector<pb::SyncChange> All(const Owner& o, std::string* cursor, int page_size = 7) {
    std::vector<pb::SyncChange> out;
    for (int pages = 0; pages < 1000; ++pages) {
      absl::StatusOr<pb::SyncResponse> page = log_->Read(o, *cursor, page_size);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_FALSE(page->next_cursor().empty());
      EXPECT_LE(page->changes_size(), page_size);
      *cursor = page->next_cursor();
      for (const auto& c : page->changes()) out.push_back(c);
      if (!page->has_more()) break;
    }
    return out;
  }

  std::unique_ptr<NotificationsStore> store_;
  std::unique_ptr<SyncLog> log_;
  absl::Time now_;
};

TEST_P(SyncLogTest, EachObjectOnceAtItsLatestStateInCommitOrder) {
  const Owner alice{"org1", "alice"};
  Apply(ContactEvent("contact.created", "c1", "Ann"), alice);
  Apply(ContactEvent("contact.created", "c2", "Bob"), alice);
  Apply(ContactEvent("contact.updated", "c1", "Ann Lee"), alice);
  events::v1::Event g;
  g.set_type("group.created");
  g.mutable_group()->mutable_group()->set_id("g1");
  g.mutable_group()->mutable_group()->set_display_name("Alumni");
  Apply(g, alice);
  events::v1::Event m;
  m.set_type("group.member_added");
  m.mutable_group_member()->set_group_id("g1");
  m.mutable_group_member()->set_member_id("c2");
  m.mutable_group_member()->set_role(ppb::LEADER);
  *m.mutable_group_member()->mutable_member()->mutable_join_time() = ToTimestamp(1000);
  Apply(m, alice);
  events::v1::Event i;
  i.set_type("interaction.created");
  i.mutable_interaction()->set_id("i1");
  i.mutable_interaction()->add_contact_ids("c2");
  i.mutable_interaction()->set_summary("coffee");
  Apply(i, alice);
  events::v1::Event intro;
  intro.set_type("introduction.requested");
  intro.mutable_introduction()->set_id("n1");
  Apply(intro, alice);

  std::string cursor;
  std::vector<pb::SyncChange> all = All(alice, &cursor, 2);
  std::vector<std::string> ids;
  for (const auto& c : all) ids.push_back(c.type() + ":" + c.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"contact:c2", "contact:c1", "group:g1", "membership:g1/c2", "interaction:i1",
                                           "introduction:n1"}));
  EXPECT_EQ(all[1].contact().display_name(), "Ann Lee");
  EXPECT_EQ(all[3].membership().group_id(), "g1");
  EXPECT_EQ(all[3].membership().member().member_id(), "c2");
  EXPECT_EQ(all[3].membership().member().role(), ppb::LEADER);
  EXPECT_EQ(all[3].membership().member().join_time().nanos(), 1000000);
  EXPECT_EQ(all[4].interaction().summary(), "coffee");
  for (const auto& c : all) EXPECT_FALSE(c.deleted());

  // Nothing new: an empty page, the same position.
  absl::StatusOr<pb::SyncResponse> again = log_->Read(alice, cursor, 10);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->changes_size(), 0);
  EXPECT_FALSE(again->has_more());

  // Deletes are tombstones: type, id, time; no object.
  m.set_id("");
  m.set_type("group.member_removed");
  Apply(m, alice);
  i.set_id("");
  i.set_type("interaction.deleted");
  Apply(i, alice);
  g.set_id("");
  g.set_type("group.deleted");
  Apply(g, alice);
  std::vector<pb::SyncChange> deletes = All(alice, &cursor);
  ASSERT_EQ(deletes.size(), 3u);
  EXPECT_EQ(deletes[0].id(), "g1/c2");
  EXPECT_EQ(deletes[1].type(), "interaction");
  EXPECT_EQ(deletes[2].type(), "group");
  for (const auto& c : deletes) {
    EXPECT_TRUE(c.deleted());
    EXPECT_EQ(c.object_case(), pb::SyncChange::OBJECT_NOT_SET);
    EXPECT_TRUE(c.has_change_time());
  }
}

TEST_P(SyncLogTest, MergeTombstonesTheMergedAndUpdatesTheSurvivor) {
  const Owner alice{"org1", "alice"};
  for (const char* id : {"c1", "c2", "c3"}) Apply(ContactEvent("contact.created", id, id), alice);
  std::string cursor;
  ASSERT_EQ(All(alice, &cursor).size(), 3u);
  events::v1::Event merged;
  merged.set_type("contact.merged");
  merged.mutable_contact_merged()->mutable_survivor()->set_id("c1");
  merged.mutable_contact_merged()->mutable_survivor()->set_display_name("Ann (merged)");
  merged.mutable_contact_merged()->add_merged_ids("c2");
  merged.mutable_contact_merged()->add_merged_ids("c3");
  Apply(merged, alice);
  std::vector<pb::SyncChange> changes = All(alice, &cursor);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].id(), "c1");
  EXPECT_EQ(changes[0].contact().display_name(), "Ann (merged)");
  EXPECT_TRUE(changes[1].deleted() && changes[1].id() == "c2");
  EXPECT_TRUE(changes[2].deleted() && changes[2].id() == "c3");
}

TEST_P(SyncLogTest, ALateOlderEventNeverOverwritesANewerStateOrATombstone) {
  const Owner alice{"org1", "alice"};
  events::v1::Event created = ContactEvent("contact.created", "c1", "Ann");
  created.set_id(NewId());
  events::v1::Event updated = ContactEvent("contact.updated", "c1", "Ann Lee");
  updated.set_id(NewId());
  events::v1::Event deleted = ContactEvent("contact.deleted", "c1", "");
  deleted.set_id(NewId());
  Apply(created, alice);
  Apply(deleted, alice);
  Apply(updated, alice);  // reclaimed late
  Apply(created, alice);  // delivered twice
  std::string cursor;
  std::vector<pb::SyncChange> all = All(alice, &cursor);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].deleted());
}

TEST_P(SyncLogTest, RemindersAndNotificationsAreRecordedWithTheirChange) {
  const Owner alice{"org1", "alice"};
  pb::Reminder r;
  r.set_id(NewId());
  r.set_note("call back");
  *r.mutable_due_time() = ToTimestamp(ToMicros(absl::Now() + absl::Hours(1)));
  ASSERT_TRUE(Await<pb::Reminder>([&](Done<pb::Reminder> d) {
                store_->CreateReminder(alice, r, IdempotencyScope{}, pb::CreateReminderRequest(), false,
                                       int64_t{1} << 40, d);
              }).ok());
  std::string cursor;
  std::vector<pb::SyncChange> created = All(alice, &cursor);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].type(), "reminder");
  EXPECT_EQ(created[0].reminder().note(), "call back");
  ASSERT_TRUE(AwaitStatus([&](DoneStatus d) { store_->DeleteReminder(alice, r.id(), d); }).ok());
  std::vector<pb::SyncChange> deleted = All(alice, &cursor);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_TRUE(deleted[0].deleted());
  EXPECT_EQ(deleted[0].id(), r.id());

  pb::Notification n;
  n.set_kind("digest");
  n.set_title("Hello");
  ASSERT_TRUE(store_->db()
                  .Write([&](db::Connection& c) -> absl::Status {
                    return AddNotification(c, alice, n, "test:1", NowMicros()).status();
                  })
                  .ok());
  std::vector<pb::SyncChange> added = All(alice, &cursor);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].notification().title(), "Hello");
  ASSERT_TRUE(Await<pb::Notification>([&](Done<pb::Notification> d) {
                store_->ChangeNotification(alice, added[0].id(), InboxAction::kRead, 0, d);
              }).ok());
  std::vector<pb::SyncChange> read = All(alice, &cursor);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].notification().state(), pb::READ);
}

TEST_P(SyncLogTest, PagesWalkEverythingOnceAndOtherUsersNeverShow) {
  const Owner alice{"org1", "alice"}, bob{"org1", "bob"}, eve{"org2", "alice"};
  std::set<std::string> want;
  for (int k = 0; k < 25; ++k) {
    const std::string id = absl::StrCat("c", k);
    Apply(ContactEvent("contact.created", id, id), alice);
    want.insert(id);
  }
  Apply(ContactEvent("contact.created", "bobs", "x"), bob);
  Apply(ContactEvent("contact.created", "eves", "x"), eve);
  std::string cursor;
  absl::StatusOr<pb::SyncResponse> first = log_->Read(alice, "", 10);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->changes_size(), 10);
  EXPECT_TRUE(first->has_more());
  // Changes made mid-walk are picked up by the same walk.
  cursor = first->next_cursor();
  Apply(ContactEvent("contact.updated", "c0", "moved"), alice);
  std::set<std::string> got;
  for (const auto& c : first->changes()) got.insert(c.id());
  std::vector<pb::SyncChange> rest = All(alice, &cursor, 10);
  for (const auto& c : rest) got.insert(c.id());
  EXPECT_EQ(got, want);
  EXPECT_EQ(rest.back().contact().display_name(), "moved");
  std::string bob_cursor;
  std::vector<pb::SyncChange> bobs = All(bob, &bob_cursor);
  ASSERT_EQ(bobs.size(), 1u);
  EXPECT_EQ(bobs[0].id(), "bobs");
}

TEST_P(SyncLogTest, BadInputIsInvalidAndAnExpiredCursorNeedsAResync) {
  const Owner alice{"org1", "alice"};
  for (int size : {-1, 1001}) {
    absl::StatusOr<pb::SyncResponse> bad = log_->Read(alice, "", size);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(bad.status().message(), "pageSize:")) << bad.status();
  }
  for (const char* cursor : {"nonsense!", "czE6eDox", "eA"}) {
    absl::StatusOr<pb::SyncResponse> bad = log_->Read(alice, cursor, 10);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << cursor;
    EXPECT_TRUE(absl::StartsWith(bad.status().message(), "cursor:")) << bad.status();
  }
  EXPECT_TRUE(log_->Read(alice, "", 1000).ok());
  EXPECT_TRUE(log_->Read(alice, "", 0).ok());
  absl::StatusOr<pb::SyncResponse> page = log_->Read(alice, "", 0);
  ASSERT_TRUE(page.ok());
  now_ += absl::Minutes(59);
  EXPECT_TRUE(log_->Read(alice, page->next_cursor(), 10).ok());
  now_ += absl::Minutes(2);
  absl::StatusOr<pb::SyncResponse> expired = log_->Read(alice, page->next_cursor(), 10);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(expired.status().message(), kResyncRequired)) << expired.status();
}

TEST_P(SyncLogTest, TombstonesArePrunedAfterTheRetentionAndErasureRemovesTheRest) {
  const Owner alice{"org1", "alice"}, bob{"org1", "bob"};
  Apply(ContactEvent("contact.created", "c1", "Ann"), alice);
  Apply(ContactEvent("contact.created", "c2", "Bob"), alice);
  Apply(ContactEvent("contact.deleted", "c2", ""), alice);
  Apply(ContactEvent("contact.created", "b1", "x"), bob);
  RetentionPruner pruner(&store_->db(), {SyncLog::TombstoneRetention(std::chrono::seconds(0))});
  ASSERT_TRUE(pruner.PruneOnce().ok());
  std::string cursor;
  std::vector<pb::SyncChange> left = All(alice, &cursor);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id(), "c1");
  ASSERT_TRUE(store_->db()
                  .Write([&](db::Connection& c) {
                    return EraseSubject(c, NotificationsErasureTables(), alice.org, alice.user, NowMicros());
                  })
                  .ok());
  cursor.clear();
  EXPECT_TRUE(All(alice, &cursor).empty());
  cursor.clear();
  EXPECT_EQ(All(bob, &cursor).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Drivers, SyncLogTest, ::testing::ValuesIn(rapport::testing::Drivers()),
                         rapport::testing::DriverName);

}  // namespace
}  // namespace rapport::notifications
