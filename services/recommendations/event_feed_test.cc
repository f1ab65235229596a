// The recommendations start-up pieces that main.cc wires: the cache
// invalidation rule (ApplyAndInvalidate), the event feed's private consumer
// group (created at the noted position, destroyed on Stop), and the
// start-up retries of NoteAndBackfill, which give up when the process is
// asked to stop. Against a real redis-server; the backfill's services are
// closed ports.
#include "services/recommendations/event_feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "services/common/channel.h"
#include "services/common/outbox.h"
#include "services/common/tenant.h"
#include "services/recommendations/backfill.h"
#include "tests/testing/harness.h"

namespace rapport::recommendations {
namespace {

using ::rapport::testing::FreePort;
using ::rapport::testing::RedisServer;

constexpr char kOrg[] = "org1";
constexpr char kInternalKey[] = "event-feed-test-internal-key";

events::v1::Event InteractionOf(const std::string& user) {
  events::v1::Event e;
  e.set_id("ev-i-" + user);
  e.set_type("interaction.created");
  e.set_org_id(kOrg);
  e.set_user_id(user);
  e.mutable_interaction()->set_id("i-" + user);
  return e;
}

events::v1::Event ContactOf(const std::string& user) {
  events::v1::Event e;
  e.set_id("ev-c-" + user);
  e.set_type("contact.created");
  e.set_org_id(kOrg);
  e.set_user_id(user);
  e.mutable_contact()->mutable_contact()->set_id("c-" + user);
  e.mutable_contact()->mutable_contact()->set_display_name("Ada");
  return e;
}

class EventFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.Start().ok());
    redis::ClientOptions options;
    options.addr = redis_server_.addr();
    redis_ = std::make_unique<redis::Client>(options);
    cache_ = std::make_unique<ResultCache>(redis_.get(), ResultCacheOptions{});
  }

  // True when user's cached answer (paths-like: org-wide) is still served
  // from the cache, i.e. no event since the last call changed it.
  bool CachedFor(const std::string& user) {
    bool computed = false;
    absl::StatusOr<std::string> r = cache_->GetOrCompute(kOrg, user, "FindPaths", "req", /*org_wide=*/true, [&] {
      computed = true;
      return absl::StatusOr<std::string>("answer");
    });
    EXPECT_TRUE(r.ok());
    return !computed;
  }

  RedisServer redis_server_;
  std::unique_ptr<redis::Client> redis_;
  ReadModel model_;
  std::unique_ptr<ResultCache> cache_;
};

TEST_F(EventFeedTest, InteractionsChangeOnlyTheirOwnersAnswersAndContactsTheWholeOrgs) {
  CachedFor("u1");
  CachedFor("u2");
  ASSERT_TRUE(CachedFor("u1"));
  ASSERT_TRUE(CachedFor("u2"));

  ASSERT_TRUE(ApplyAndInvalidate(InteractionOf("u2"), &model_, cache_.get()).ok());
  EXPECT_TRUE(CachedFor("u1"));   // a teammate's interaction: nothing of u1's changed
  EXPECT_FALSE(CachedFor("u2"));  // recomputed

  ASSERT_TRUE(ApplyAndInvalidate(ContactOf("u2"), &model_, cache_.get()).ok());
  EXPECT_FALSE(CachedFor("u1"));  // a teammate's contact may be on u1's paths
  EXPECT_FALSE(CachedFor("u2"));
}

// Issue 17: an update names the fields it changed so that consumers skip
// what does not concern them. Before, every contact.updated (a phone number,
// the update time) emptied the whole org's cached answers.
TEST_F(EventFeedTest, UpdatesOfFieldsTheModelDoesNotKeepLeaveTheCachedAnswers) {
  ASSERT_TRUE(ApplyAndInvalidate(ContactOf("u2"), &model_, cache_.get()).ok());
  CachedFor("u1");
  CachedFor("u2");
  events::v1::Event phone = ContactOf("u2");
  phone.set_id("ev-c-u2-phone");
  phone.set_type("contact.updated");
  phone.mutable_changed()->add_paths("phones");
  phone.mutable_changed()->add_paths("update_time");
  ASSERT_TRUE(ApplyAndInvalidate(phone, &model_, cache_.get()).ok());
  EXPECT_TRUE(CachedFor("u1"));
  EXPECT_TRUE(CachedFor("u2"));

  events::v1::Event summary = InteractionOf("u2");
  summary.set_type("interaction.updated");
  summary.mutable_changed()->add_paths("summary");
  summary.mutable_changed()->add_paths("follow_up_at");
  ASSERT_TRUE(ApplyAndInvalidate(summary, &model_, cache_.get()).ok());
  EXPECT_TRUE(CachedFor("u2"));

  // A field the model keeps, or an update that names nothing, does change them.
  events::v1::Event company = phone;
  company.set_id("ev-c-u2-company");
  company.mutable_contact()->mutable_contact()->set_company("Initech");
  company.mutable_changed()->add_paths("company");
  ASSERT_TRUE(ApplyAndInvalidate(company, &model_, cache_.get()).ok());
  EXPECT_FALSE(CachedFor("u1"));
  EXPECT_FALSE(CachedFor("u2"));
  model_.Read(kOrg, [](const OrgGraph& g) {
    bool found = false;
    for (const ContactInfo& info : g.info) found |= info.company == "Initech";
    EXPECT_TRUE(found);
  });
  events::v1::Event unnamed = ContactOf("u2");
  unnamed.set_id("ev-c-u2-unnamed");
  unnamed.set_type("contact.updated");
  ASSERT_TRUE(ApplyAndInvalidate(unnamed, &model_, cache_.get()).ok());
  EXPECT_FALSE(CachedFor("u1"));
}

TEST_F(EventFeedTest, CatchesUpFromTheNotedPositionAndDestroysItsGroupOnStop) {
  // Before the noted position: the backfill's; after it: the feed's.
  const events::EventSigner signer(kInternalKey);
  auto publish = [&](const events::EventSigner& as, const events::v1::Event& e) {
    std::vector<std::string> xadd = {"XADD", events::kEventStream, "*"};
    for (std::string& f : events::EntryFields(as, e)) xadd.push_back(std::move(f));
    return redis_->Command(xadd).ok();
  };
  events::v1::Event before = ContactOf("u1");
  ASSERT_TRUE(publish(signer, before));
  absl::StatusOr<std::string> position = StreamPosition(redis_.get(), events::kEventStream);
  ASSERT_TRUE(position.ok()) << position.status();
  ASSERT_TRUE(publish(signer, ContactOf("u2")));
  // Written straight into the stream by someone without the internal key.
  ASSERT_TRUE(publish(events::EventSigner("not-the-internal-key"), ContactOf("u3")));

  EventFeedOptions options;
  options.internal_key = kInternalKey;
  options.consumer_name = "feed-test";
  options.start_id = *position;
  EventFeed feed(redis_.get(), &model_, cache_.get(), options);
  EXPECT_EQ(feed.group(), "recommendations-feed-test");
  feed.CatchUp([] { return false; });
  auto owners = [&] {
    int users = 0;
    model_.Read(kOrg, [&](const OrgGraph& g) { users = static_cast<int>(g.users.size()); });
    return users;
  };
  EXPECT_EQ(owners(), 1);  // u2 only: u1's contact came before the position, u3's is forged

  auto groups = [&] {
    absl::StatusOr<redis::Reply> r = redis_->Command({"XINFO", "GROUPS", events::kEventStream});
    return r.ok() ? r->elements.size() : size_t{999};
  };
  EXPECT_EQ(groups(), 1u);
  feed.Stop();
  EXPECT_EQ(groups(), 0u);
}

TEST_F(EventFeedTest, SweepDestroysItsOwnEarlierGroupAndKeepsLiveReplicas) {
  for (const char* group : {"recommendations-me", "recommendations-other", "notifications"}) {
    ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", events::kEventStream, group, "0", "MKSTREAM"}).ok());
  }
  absl::StatusOr<int> swept = SweepGroups(redis_.get(), events::kEventStream, kGroupPrefix, "recommendations-me",
                                          std::chrono::milliseconds(600000));
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(*swept, 1);
  absl::StatusOr<bool> gone = events::DestroyGroup(redis_.get(), events::kEventStream, "recommendations-me");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);  // already swept
  gone = events::DestroyGroup(redis_.get(), events::kEventStream, "recommendations-other");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(*gone);
  gone = events::DestroyGroup(redis_.get(), "no-such-stream", "g");
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(*gone);
}

// The start-up waits on what is down, and stops waiting when asked to.
class NoteAndBackfillTest : public ::testing::Test {
 protected:
  BackfillSources Sources(std::atomic<int>* waits, int stop_after_waits) {
    BackfillSources sources;
    sources.profiles = CreateServiceChannel("127.0.0.1:" + std::to_string(FreePort()));  // closed
    sources.interactions = CreateServiceChannel("127.0.0.1:" + std::to_string(FreePort()));
    sources.signer = &signer_;
    sources.retry_every = std::chrono::milliseconds(10);
    sources.stop = [waits, stop_after_waits](std::chrono::milliseconds timeout) {
      if (timeout.count() == 0) return waits->load() >= stop_after_waits;  // just asking
      return ++*waits >= stop_after_waits;
    };
    return sources;
  }

  TenantSigner signer_{"key"};
  ReadModel model_;
};

TEST_F(NoteAndBackfillTest, RetriesWhileRedisIsDownUntilAskedToStop) {
  redis::ClientOptions options;
  options.addr = "127.0.0.1:" + std::to_string(FreePort());  // nothing listens
  options.retry_interval = std::chrono::milliseconds(0);
  redis::Client redis(options);
  std::atomic<int> waits{0};
  absl::StatusOr<std::string> position = NoteAndBackfill(&redis, events::kEventStream, Sources(&waits, 3), &model_);
  EXPECT_EQ(position.status().code(), absl::StatusCode::kCancelled) << position.status();
  EXPECT_EQ(waits.load(), 3);  // three failed attempts, each followed by a wait
}

TEST_F(NoteAndBackfillTest, RetriesTheBackfillWhileItsServicesAreDownUntilAskedToStop) {
  RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  redis::ClientOptions options;
  options.addr = server.addr();
  redis::Client redis(options);
  std::atomic<int> waits{0};
  absl::StatusOr<std::string> position = NoteAndBackfill(&redis, events::kEventStream, Sources(&waits, 2), &model_);
  EXPECT_EQ(position.status().code(), absl::StatusCode::kCancelled) << position.status();
  EXPECT_EQ(waits.load(), 2);
}

}  // namespace
}  // namespace rapport::recommendations
