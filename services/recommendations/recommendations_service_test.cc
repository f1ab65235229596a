// The recommendations gRPC adapter in process: the real service on an
// in-process channel over a read model filled with the events the other
// services would emit, called with signed tenant metadata the way the gateway
// calls it. What it checks is the adapter's own job: authorization from the
// metadata, validation, paging, and that answers come from the caller's own
// org and user.
#include "services/recommendations/recommendations_service.h"

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "services/common/redis_client.h"
#include "services/common/tenant.h"
#include "services/recommendations/test_network.h"
#include "tests/testing/stack.h"

namespace rapport::recommendations {
namespace {

namespace ipb = ::rapport::interactions::v1;
using testing::TestNetwork;

constexpr char kKey[] = "test-internal-key";

class RecommendationsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Alice (org-a) has two overdue contacts; Bob in org-b has one.
    net_.User("org-a", "alice", "Alice");
    net_.Contact("org-a", "alice", "c-1", "Carol");
    net_.Contact("org-a", "alice", "c-2", "Dan");
    net_.Ledger("org-a", "alice", "c-1", 60, 3, 1, 200);
    net_.Ledger("org-a", "alice", "c-2", 30, 1, 1, 300);
    net_.User("org-b", "bob", "Bob");
    net_.Contact("org-b", "bob", "c-9", "Eve");
    net_.Ledger("org-b", "bob", "c-9", 50, 1, 1, 400);

    redis::ClientOptions redis_options;
    redis_options.addr = "127.0.0.1:1";  // never reached: the result cache is off
    redis_ = std::make_unique<redis::Client>(redis_options);
    cache_ = std::make_unique<ResultCache>(redis_.get(), ResultCacheOptions{.enabled = false});
    service_ = std::make_unique<RecommendationsServiceImpl>(&net_.model, cache_.get(), &signer_, Settings{});
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = pb::RecommendationsService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override { server_->Shutdown(); }

  // A context carrying what the gateway signs for (org, user) with READ.
  std::unique_ptr<grpc::ClientContext> As(const std::string& org, const std::string& user, bool read = true) {
    TenantContext t;
    t.org_id = org;
    t.user_id = user;
    t.request_id = "req-1";
    if (read) t.Add(api::v1::READ);
    return ::rapport::testing::Stack::Call(t, kKey);  // signed for the method it is used on
  }

  TestNetwork net_;
  TenantSigner signer_{kKey};
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<ResultCache> cache_;
  std::unique_ptr<RecommendationsServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::RecommendationsService::Stub> stub_;
};

TEST_F(RecommendationsServiceTest, ReachOutsAreTheCallersOwnAndPaged) {
  pb::ListReachOutsRequest req;
  req.set_page_size(1);
  pb::ListReachOutsResponse first;
  ASSERT_TRUE(stub_->ListReachOuts(As("org-a", "alice").get(), req, &first).ok());
  ASSERT_EQ(first.items_size(), 1);
  EXPECT_FALSE(first.next_page_token().empty());
  req.set_page_token(first.next_page_token());
  pb::ListReachOutsResponse second;
  ASSERT_TRUE(stub_->ListReachOuts(As("org-a", "alice").get(), req, &second).ok());
  ASSERT_EQ(second.items_size(), 1);
  EXPECT_NE(first.items(0).contact().id(), second.items(0).contact().id());
  for (const auto* page : {&first, &second}) {
    for (const auto& r : page->items()) EXPECT_NE(r.contact().id(), "c-9");  // org-b's contact
  }
}

TEST_F(RecommendationsServiceTest, AnotherOrgSeesNothingOfThisOne) {
  pb::ListReachOutsResponse resp;
  ASSERT_TRUE(stub_->ListReachOuts(As("org-b", "bob").get(), pb::ListReachOutsRequest(), &resp).ok());
  ASSERT_EQ(resp.items_size(), 1);
  EXPECT_EQ(resp.items(0).contact().id(), "c-9");
  // Alice's id under org-b's credentials is an unknown user: nothing at all.
  pb::ListReachOutsResponse spoofed;
  ASSERT_TRUE(stub_->ListReachOuts(As("org-b", "alice").get(), pb::ListReachOutsRequest(), &spoofed).ok());
  EXPECT_EQ(spoofed.items_size(), 0);
}

TEST_F(RecommendationsServiceTest, CallsWithoutValidMetadataAreUnauthenticated) {
  grpc::ClientContext bare;
  pb::ListReachOutsResponse resp;
  EXPECT_EQ(stub_->ListReachOuts(&bare, pb::ListReachOutsRequest(), &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  TenantContext t;
  t.org_id = "org-a";
  t.user_id = "alice";
  t.Add(api::v1::READ);
  EXPECT_EQ(
      stub_->ListReachOuts(::rapport::testing::Stack::Call(t, "another-key").get(), pb::ListReachOutsRequest(), &resp)
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RecommendationsServiceTest, AScopeShortOfReadIsPermissionDenied) {
  pb::ListReachOutsResponse resp;
  EXPECT_EQ(
      stub_->ListReachOuts(As("org-a", "alice", /*read=*/false).get(), pb::ListReachOutsRequest(), &resp).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RecommendationsServiceTest, BadInputIsInvalidArgument) {
  struct Case {
    const char* name;
    std::function<grpc::Status()> call;
  } cases[] = {
      {"negative page size",
       [&] {
         pb::ListReachOutsRequest req;
         req.set_page_size(-1);
         pb::ListReachOutsResponse resp;
         return stub_->ListReachOuts(As("org-a", "alice").get(), req, &resp);
       }},
      {"corrupt page token",
       [&] {
         pb::ListGiveBacksRequest req;
         req.set_page_token("not-a-token");
         pb::ListGiveBacksResponse resp;
         return stub_->ListGiveBacks(As("org-a", "alice").get(), req, &resp);
       }},
      {"paths without a target",
       [&] {
         pb::FindPathsResponse resp;
         return stub_->FindPaths(As("org-a", "alice").get(), pb::FindPathsRequest(), &resp);
       }},
      {"paths with too many hops",
       [&] {
         pb::FindPathsRequest req;
         req.set_target_contact_id("c-1");
         req.set_max_hops(9);
         pb::FindPathsResponse resp;
         return stub_->FindPaths(As("org-a", "alice").get(), req, &resp);
       }},
  };
  for (const Case& c : cases) {
    grpc::Status status = c.call();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name << ": " << status.error_message();
  }
}

TEST_F(RecommendationsServiceTest, NetworkHealthCountsTheCallersContacts) {
  pb::NetworkHealth health;
  ASSERT_TRUE(stub_->GetNetworkHealth(As("org-a", "alice").get(), pb::GetNetworkHealthRequest(), &health).ok());
  EXPECT_EQ(health.size(), 2);
}

}  // namespace
}  // namespace rapport::recommendations
