#include "services/common/tenant.h"

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

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
  EXPECT_FALSE(out->Has(api::v1::PLATFORM));
  EXPECT_EQ(out->request_id, "req-1");
  EXPECT_EQ(out->idempotency_key, "idem-7");
}

TEST(TenantSignerTest, OneHeaderCarriesTheContext) {
  TenantSigner signer("secret");
  auto md = signer.Metadata(Alice());
  ASSERT_EQ(md.size(), 1u);  // no idempotency key: the signed header only
  EXPECT_EQ(md.begin()->first, kTenantHeader);
  EXPECT_TRUE(md.begin()->second.starts_with("v2 org1 alice ")) << md.begin()->second;
}

struct TamperCase {
  const char* name;
  int field;  // index of the space-separated field replaced; -1 appends one
  const char* value;
};

class TamperTest : public ::testing::TestWithParam<TamperCase> {};

TEST_P(TamperTest, TamperedFieldIsUnauthenticated) {
  TenantSigner signer("secret");
  Incoming md{signer.Metadata(Alice())};
  auto it = md.owned.find(kTenantHeader);
  ASSERT_NE(it, md.owned.end());
  std::vector<std::string> fields = absl::StrSplit(it->second, ' ');
  ASSERT_EQ(fields.size(), 7u);
  if (GetParam().field < 0) {
    fields.insert(fields.end() - 1, GetParam().value);
  } else {
    fields[GetParam().field] = GetParam().value;
  }
  it->second = absl::StrJoin(fields, " ");
  auto out = signer.Verify(md.refs());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnauthenticated) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(Fields, TamperTest,
                         ::testing::Values(TamperCase{"version", 0, "v1"}, TamperCase{"org", 1, "org2"},
                                           TamperCase{"user", 2, "bob"}, TamperCase{"user emptied", 2, ""},
                                           TamperCase{"scopes", 3, "1023"}, TamperCase{"time", 4, "12"},
                                           TamperCase{"request id", 5, "req-2"}, TamperCase{"signature", 6, "00"},
                                           TamperCase{"extra field", -1, "x"}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             if (c == ' ') c = '_';
                           return n;
                         });

TEST(TenantSignerTest, MissingMetadataIsUnauthenticated) {
  TenantSigner signer("secret");
  EXPECT_EQ(signer.Verify(MD{}).status().code(), absl::StatusCode::kUnauthenticated);
  Incoming md{signer.Metadata(Alice())};
  md.owned.begin()->second = "";
  EXPECT_EQ(signer.Verify(md.refs()).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TenantSignerTest, AFieldWithASpaceIsNeverSigned) {
  TenantSigner signer("secret");
  TenantContext ctx = Alice();
  ctx.request_id = "two words";
  EXPECT_EQ(signer.Token(ctx), "");
  Incoming md{signer.Metadata(ctx)};
  EXPECT_EQ(signer.Verify(md.refs()).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TenantSignerTest, WrongKeyIsUnauthenticated) {
  Incoming md{TenantSigner("secret").Metadata(Alice())};
  EXPECT_EQ(TenantSigner("other").Verify(md.refs()).status().code(), absl::StatusCode::kUnauthenticated);
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

}  // namespace
}  // namespace rapport
