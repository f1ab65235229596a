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

constexpr char kGetContact[] = "/rapport.profiles.v1.ProfilesService/GetContact";

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
  in.key_id = "key-9";
  in.client_address = "2001:db8::7";
  Incoming md{signer.Metadata(in, kGetContact)};
  auto out = signer.Verify(md.refs(), kGetContact);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->org_id, "org1");
  EXPECT_EQ(out->user_id, "alice");
  EXPECT_TRUE(out->Has(api::v1::READ));
  EXPECT_TRUE(out->Has(api::v1::WRITE));
  EXPECT_FALSE(out->Has(api::v1::ADMIN));
  EXPECT_FALSE(out->Has(api::v1::PLATFORM));
  EXPECT_EQ(out->request_id, "req-1");
  EXPECT_EQ(out->idempotency_key, "idem-7");
  EXPECT_EQ(out->key_id, "key-9");
  EXPECT_EQ(out->client_address, "2001:db8::7");
}

TEST(TenantSignerTest, OneHeaderCarriesTheContext) {
  TenantSigner signer("secret");
  auto md = signer.Metadata(Alice(), kGetContact);
  ASSERT_EQ(md.size(), 1u);  // no idempotency key: the signed header only
  EXPECT_EQ(md.begin()->first, kTenantHeader);
  EXPECT_TRUE(md.begin()->second.starts_with("v4 /rapport.profiles.v1.ProfilesService/GetContact org1 alice "))
      << md.begin()->second;
}

struct TamperCase {
  const char* name;
  int field;  // index of the space-separated field replaced; -1 appends one
  const char* value;
};

class TamperTest : public ::testing::TestWithParam<TamperCase> {};

TEST_P(TamperTest, TamperedFieldIsUnauthenticated) {
  TenantSigner signer("secret");
  Incoming md{signer.Metadata(Alice(), kGetContact)};
  auto it = md.owned.find(kTenantHeader);
  ASSERT_NE(it, md.owned.end());
  std::vector<std::string> fields = absl::StrSplit(it->second, ' ');
  ASSERT_EQ(fields.size(), 10u);
  if (GetParam().field < 0) {
    fields.insert(fields.end() - 1, GetParam().value);
  } else {
    fields[GetParam().field] = GetParam().value;
  }
  it->second = absl::StrJoin(fields, " ");
  auto out = signer.Verify(md.refs(), kGetContact);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnauthenticated) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(Fields, TamperTest,
                         ::testing::Values(TamperCase{"version", 0, "v2"},
                                           TamperCase{"method", 1, "/rapport.profiles.v1.ProfilesService/ListContacts"},
                                           TamperCase{"org", 2, "org2"}, TamperCase{"user", 3, "bob"},
                                           TamperCase{"user emptied", 3, ""}, TamperCase{"scopes", 4, "1023"},
                                           TamperCase{"time", 5, "12"}, TamperCase{"request id", 6, "req-2"},
                                           TamperCase{"key id", 7, "key-2"}, TamperCase{"client", 8, "10.0.0.1"},
                                           TamperCase{"signature", 9, "00"}, TamperCase{"extra field", -1, "x"}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             if (c == ' ') c = '_';
                           return n;
                         });

TEST(TenantSignerTest, MissingMetadataIsUnauthenticated) {
  TenantSigner signer("secret");
  EXPECT_EQ(signer.Verify(MD{}, kGetContact).status().code(), absl::StatusCode::kUnauthenticated);
  Incoming md{signer.Metadata(Alice(), kGetContact)};
  md.owned.begin()->second = "";
  EXPECT_EQ(signer.Verify(md.refs(), kGetContact).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TenantSignerTest, AFieldWithASpaceIsNeverSigned) {
  TenantSigner signer("secret");
  TenantContext ctx = Alice();
  ctx.request_id = "two words";
  EXPECT_EQ(signer.Token(ctx, kGetContact), "");
  Incoming md{signer.Metadata(ctx, kGetContact)};
  EXPECT_EQ(signer.Verify(md.refs(), kGetContact).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TenantSignerTest, WrongKeyIsUnauthenticated) {
  Incoming md{TenantSigner("secret").Metadata(Alice(), kGetContact)};
  EXPECT_EQ(TenantSigner("other").Verify(md.refs(), kGetContact).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TenantSignerTest, AHeaderLivesSixtySecondsAtMost) {
  TenantSigner signer("secret");
  absl::Time now = absl::Now();
  Incoming old{signer.Metadata(Alice(), kGetContact, now - absl::Seconds(61))};
  EXPECT_EQ(signer.Verify(old.refs(), kGetContact, now).status().code(), absl::StatusCode::kUnauthenticated);
  Incoming future{signer.Metadata(Alice(), kGetContact, now + absl::Seconds(61))};
  EXPECT_EQ(signer.Verify(future.refs(), kGetContact, now).status().code(), absl::StatusCode::kUnauthenticated);
  Incoming recent{signer.Metadata(Alice(), kGetContact, now - absl::Seconds(59))};
  EXPECT_TRUE(signer.Verify(recent.refs(), kGetContact, now).ok());
  // Four minutes passed under the old five-minute window; no longer.
  Incoming four{signer.Metadata(Alice(), kGetContact, now - absl::Minutes(4))};
  EXPECT_EQ(signer.Verify(four.refs(), kGetContact, now).status().message(), "stale tenant metadata");
}

TEST(TenantSignerTest, AHeaderIsGoodForTheOneMethodItNames) {
  TenantSigner signer("secret");
  Incoming md{signer.Metadata(Alice(), kGetContact)};
  ASSERT_TRUE(signer.Verify(md.refs(), kGetContact).ok());
  for (const char* other : {"/rapport.profiles.v1.ProfilesService/ListContacts",        // another method
                            "/rapport.backfill.v1.ProfilesBackfill/ExportContacts",     // an export
                            "/rapport.interactions.v1.InteractionsService/GetContact",  // another service
                            "/rapport.profiles.v1.ProfilesService/GetContactX", "GetContact", ""}) {
    absl::StatusOr<TenantContext> out = signer.Verify(md.refs(), other);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kUnauthenticated) << other;
  }
  EXPECT_EQ(signer.Verify(md.refs(), "/rapport.profiles.v1.ProfilesService/ListContacts").status().message(),
            "tenant metadata signed for another method");
}

TEST(TenantSignerTest, OnlyAFullMethodPathIsSigned) {
  TenantSigner signer("secret");
  EXPECT_EQ(FullMethod("rapport.profiles.v1.ProfilesService", "GetContact"), kGetContact);
  for (const char* bad : {"", "GetContact", "/GetContact", "//GetContact", "/svc/", "/svc/a/b", "/svc/Get Contact"}) {
    EXPECT_EQ(signer.Token(Alice(), bad), "") << bad;
  }
}

}  // namespace
}  // namespace rapport
