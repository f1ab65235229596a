#include "services/common/tenant.h"

#include <gtest/gtest.h>

namespace rapport {
namespace {

using MD = std::multimap<grpc::string_ref, grpc::string_ref>;

// Holds the strings that the string_refs of a metadata map point into.
struct Incoming {
  std::multimap<std::string, std::string> owned;
  MD refs() const {
    MD md;
    for (const auto& [k, v] : owned) md.emplace(grpc::string_ref(k), grpc::string_ref(v));
    return md;
  }
};

TenantContext Alice() {
  TenantContext ctx;
  ctx.org_id = "org1";
  ctx.user_id = "alice";
  ctx.Add(api::v1::READ);
  ctx.Add(api::v1::WRITE);
  ctx.request_id = "req-1";
  return ctx;
}

TEST(TenantSignerTest, RoundTripKeepsEveryField) {
  TenantSigner signer("secret");
  TenantContext in = Alice();
  in.idempotency_key = "idem-7";
  Incoming md{signer.Metadata(in)};
  auto out = signer.Verify(md.refs());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->org_id, "org1");
  EXPECT_EQ(out->user_id, "alice");
  EXPECT_TRUE(out->Has(api::v1::READ));
  EXPECT_TRUE(out->Has(api::v1::WRITE));
  EXPECT_FALSE(out->Has(api::v1::ADMIN));
  EXPECT_EQ(out->request_id, "req-1");
  EXPECT_EQ(out->idempotency_key, "idem-7");
}

struct TamperCase {
  const char* name;
  const char* header;
  const char* value;
};

class TamperTest : public ::testing::TestWithParam<TamperCase> {};

TEST_P(TamperTest, TamperedFieldIsUnauthenticated) {
  TenantSigner signer("secret");
  Incoming md{signer.Metadata(Alice())};
  auto it = md.owned.find(GetParam().header);
  ASSERT_NE(it, md.owned.end());
  it->second = GetParam().value;
  auto out = signer.Verify(md.refs());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnauthenticated) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, TamperTest,
    ::testing::Values(TamperCase{"org", kOrgHeader, "org2"}, TamperCase{"user", kUserHeader, "bob"},
                      TamperCase{"scopes", kScopesHeader, "READ,WRITE,ADMIN"},
                      TamperCase{"scopes reordered", kScopesHeader, "WRITE,READ"},
                      TamperCase{"unknown scope", kScopesHeader, "READ,ROOT"},
                      TamperCase{"request id", kRequestIdHeader, "req-2"},
                      TamperCase{"signature", kSignatureHeader, "00"},
                      TamperCase{"time", kTimeHeader, "12"}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& c : n) if (c == ' ') c = '_';
      return n;
    });

TEST(TenantSignerTest, MissingMetadataIsUnauthenticated) {
  TenantSigner signer("secret");
  EXPECT_EQ(signer.Verify(MD{}).status().code(), absl::StatusCode::kUnauthenticated);
  Incoming md{signer.Metadata(Alice())};
  md.owned.erase(kSignatureHeader);
  EXPECT_EQ(signer.Verify(md.refs()).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TenantSignerTest, WrongKeyIsUnauthenticated) {
  Incoming md{TenantSigner("secret").Metadata(Alice())};
  EXPECT_EQ(TenantSigner("other").Verify(md.refs()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(TenantSignerTest, StaleOrFutureSignatureIsRefused) {
  TenantSigner signer("secret");
  absl::Time now = absl::Now();
  Incoming old{signer.Metadata(Alice(), now - absl::Minutes(6))};
  EXPECT_EQ(signer.Verify(old.refs(), now).status().code(), absl::StatusCode::kUnauthenticated);
  Incoming future{signer.Metadata(Alice(), now + absl::Minutes(6))};
  EXPECT_EQ(signer.Verify(future.refs(), now).status().code(), absl::StatusCode::kUnauthenticated);
  Incoming recent{signer.Metadata(Alice(), now - absl::Minutes(4))};
  EXPECT_TRUE(signer.Verify(recent.refs(), now).ok());
}

TEST(ScopesTest, CanonicalOrder) {
  TenantContext ctx;
  ctx.Add(api::v1::PLATFORM);
  ctx.Add(api::v1::READ);
  EXPECT_EQ(ScopesToString(ctx.scopes), "READ,PLATFORM");
  EXPECT_EQ(ScopesToString(0), "");
}

}  // namespace
}  // namespace rapport
