// Tests of RpcHandler through a real gRPC server on an in-process channel:
// the signed tenant metadata and the scope of each method's HTTP rule decide
// who gets in (a table of callers), the body's absl::Status reaches the
// client as the same gRPC code and message, only the first answer counts,
// exceptions become INTERNAL, and every call leaves one access-log line.
#include "services/common/rpc.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/crypto.h"
#include "services/common/log.h"

namespace rapport {
namespace {

namespace ppb = ::rapport::profiles::v1;

constexpr char kKey[] = "rpc-test-internal-key";

// The profiles API served by RpcHandler with bodies the tests choose. Scopes
// come from profiles.proto: CreateOrg PLATFORM, GetUser ADMIN, GetContact and
// ListContacts READ, UpdateContact WRITE, VerifyApiKey no HTTP rule.
class TestService final : public ppb::ProfilesService::CallbackService {
 public:
  using ContactBody = std::function<void(const TenantContext&, Reply<ppb::Contact>)>;

  explicit TestService(const TenantSigner* signer)
      : rpc_(signer, ppb::GetContactRequest::descriptor()->file()->FindServiceByName("ProfilesService")) {}

  void set_contact_body(ContactBody body) { contact_body_ = std::move(body); }

  // GetContact runs the test's body; by default it echoes the tenant the
  // body was given, so tests see what RpcHandler passed on.
  grpc::ServerUnaryReactor* GetContact(grpc::CallbackServerContext* ctx, const ppb::GetContactRequest*,
                                       ppb::Contact* resp) override {
    return rpc_.Handle(ctx, "GetContact", resp, [this](const TenantContext& t, Reply<ppb::Contact> reply) {
      if (contact_body_) return contact_body_(t, std::move(reply));
      ppb::Contact echo;
      echo.set_id(t.org_id);
      echo.set_display_name(t.user_id);
      echo.set_headline(t.request_id);
      echo.set_company(t.idempotency_key);
      reply(echo);
    });
  }
  grpc::ServerUnaryReactor* UpdateContact(grpc::CallbackServerContext* ctx, const ppb::UpdateContactRequest*,
                                          ppb::Contact* resp) override {
    return rpc_.Handle(ctx, "UpdateContact", resp,
                       [](const TenantContext&, Reply<ppb::Contact> reply) { reply(ppb::Contact()); });
  }
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* ctx, const ppb::GetUserRequest*,
                                    ppb::User* resp) override {
    return rpc_.Handle(ctx, "GetUser", resp, [](const TenantContext&, Reply<ppb::User> reply) { reply(ppb::User()); });
  }
  grpc::ServerUnaryReactor* CreateOrg(grpc::CallbackServerContext* ctx, const ppb::CreateOrgRequest*,
                                      ppb::CreateOrgResponse* resp) override {
    return rpc_.Handle(ctx, "CreateOrg", resp, [](const TenantContext&, Reply<ppb::CreateOrgResponse> reply) {
      reply(ppb::CreateOrgResponse());
    });
  }
  grpc::ServerUnaryReactor* VerifyApiKey(grpc::CallbackServerContext* ctx, const ppb::VerifyApiKeyRequest*,
                                         ppb::VerifyApiKeyResponse* resp) override {
    return rpc_.Handle(ctx, "VerifyApiKey", resp, [](const TenantContext&, Reply<ppb::VerifyApiKeyResponse> reply) {
      reply(ppb::VerifyApiKeyResponse());
    });
  }
  // Handled under a misspelt method name: it must get the strictest scope.
  grpc::ServerUnaryReactor* ListContacts(grpc::CallbackServerContext* ctx, const ppb::ListContactsRequest*,
                                         ppb::ListContactsResponse* resp) override {
    return rpc_.Handle(ctx, "ListContactz", resp, [](const TenantContext&, Reply<ppb::ListContactsResponse> reply) {
      reply(ppb::ListContactsResponse());
    });
  }

 private:
  RpcHandler rpc_;
  ContactBody contact_body_;
};

enum class Method { kGetContact, kUpdateContact, kGetUser, kCreateOrg, kVerifyApiKey, kMisspelt };

TenantContext UserCtx(uint32_t scopes = (1u << api::v1::READ) | (1u << api::v1::WRITE)) {
  TenantContext t;
  t.org_id = "org1";
  t.user_id = "alice";
  t.scopes = scopes;
  t.request_id = "req-1";
  return t;
}

TenantContext Only(Scope scope, std::string org = "org1", std::string user = "") {
  TenantContext t;
  t.org_id = std::move(org);
  t.user_id = std::move(user);
  t.Add(scope);
  t.request_id = "req-2";
  return t;
}

class RpcHandlerTest : public ::testing::Test {
 protected:
  RpcHandlerTest() : signer_(kKey), service_(&signer_) {
    log::Init("rpc_test", "warn");  // refusals are expected here; the access-log tests lower it
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = ppb::ProfilesService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~RpcHandlerTest() override {
    server_->Shutdown();
    log::Init("rapport", "info");
  }

  // A client context with a deadline and the given raw metadata.
  static std::unique_ptr<grpc::ClientContext> Context(const std::multimap<std::string, std::string>& md) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    for (const auto& [k, v] : md) ctx->AddMetadata(k, v);
    return ctx;
  }

  // The full path gRPC calls for method.
  static std::string PathOf(Method method) {
    const char* names[] = {"GetContact", "UpdateContact", "GetUser", "CreateOrg", "VerifyApiKey", "ListContacts"};
    return FullMethod(ppb::ProfilesService::service_full_name(), names[static_cast<int>(method)]);
  }

  grpc::Status Call(Method method, const std::multimap<std::string, std::string>& md) {
    auto ctx = Context(md);
    switch (method) {
      case Method::kGetContact: {
        ppb::Contact out;
        return stub_->GetContact(ctx.get(), ppb::GetContactRequest(), &out);
      }
      case Method::kUpdateContact: {
        ppb::Contact out;
        return stub_->UpdateContact(ctx.get(), ppb::UpdateContactRequest(), &out);
      }
      case Method::kGetUser: {
        ppb::User out;
        return stub_->GetUser(ctx.get(), ppb::GetUserRequest(), &out);
      }
      case Method::kCreateOrg: {
        ppb::CreateOrgResponse out;
        return stub_->CreateOrg(ctx.get(), ppb::CreateOrgRequest(), &out);
      }
      case Method::kVerifyApiKey: {
        ppb::VerifyApiKeyResponse out;
        return stub_->VerifyApiKey(ctx.get(), ppb::VerifyApiKeyRequest(), &out);
      }
      case Method::kMisspelt: {
        ppb::ListContactsResponse out;
        return stub_->ListContacts(ctx.get(), ppb::ListContactsRequest(), &out);
      }
    }
    return grpc::Status(grpc::StatusCode::UNKNOWN, "no such method");
  }

  grpc::Status GetContact(const TenantContext& t, ppb::Contact* out) {
    auto ctx = Context(signer_.Metadata(t, PathOf(Method::kGetContact)));
    return stub_->GetContact(ctx.get(), ppb::GetContactRequest(), out);
  }

  TenantSigner signer_;
  TestService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ppb::ProfilesService::Stub> stub_;
};

// --- who gets in ---

struct AuthCase {
  const char* name;
  Method method;
  // The metadata the client sends for the method path it is given, built
  // from a signer with the test's key.
  std::function<std::multimap<std::string, std::string>(const std::string& path)> metadata;
  grpc::StatusCode code;
  const char* message;  // a fragment of the error message; "" when OK
};

using MetadataFn = std::function<std::multimap<std::string, std::string>(const std::string& path)>;

MetadataFn Signed(TenantContext t, absl::Duration age = absl::ZeroDuration(), const std::string& key = kKey) {
  return [=](const std::string& path) { return TenantSigner(key).Metadata(t, path, absl::Now() - age); };
}

// Signed as the test's key does, but for another method than the one called:
// a header captured from one call and replayed on another.
MetadataFn SignedFor(TenantContext t, std::string signed_path) {
  return [=](const std::string&) { return TenantSigner(kKey).Metadata(t, signed_path); };
}

MetadataFn Raw(std::string header) {
  return [=](const std::string&) { return std::multimap<std::string, std::string>{{kTenantHeader, header}}; };
}

// A well-formed signature over a token of the wrong shape: the MAC passes,
// the parse must not.
MetadataFn SignedRaw(std::string body) {
  return [=](const std::string&) {
    std::string token = absl::StrCat(body, " ", HexEncode(HmacSha256(kKey, body)));
    return std::multimap<std::string, std::string>{{kTenantHeader, token}};
  };
}

class RpcAuthTest : public RpcHandlerTest, public ::testing::WithParamInterface<AuthCase> {};

TEST_P(RpcAuthTest, Answers) {
  const AuthCase& c = GetParam();
  grpc::Status s = Call(c.method, c.metadata(PathOf(c.method)));
  EXPECT_EQ(s.error_code(), c.code) << s.error_message();
  EXPECT_NE(s.error_message().find(c.message), std::string::npos) << s.error_message();
}

const uint32_t kRead = 1u << api::v1::READ;
const uint32_t kWrite = 1u << api::v1::WRITE;
const std::string kNow = absl::StrCat(absl::ToUnixSeconds(absl::Now()));

INSTANTIATE_TEST_SUITE_P(
    Callers, RpcAuthTest,
    ::testing::Values(
        // Tenant metadata: missing, malformed, forged, replayed.
        AuthCase{"RejectsMissingTenantMetadata", Method::kGetContact,
                 [](const std::string&) { return std::multimap<std::string, std::string>{}; },
                 grpc::StatusCode::UNAUTHENTICATED, "missing signed tenant metadata"},
        AuthCase{"RejectsEmptyTenantHeader", Method::kGetContact, Raw(""), grpc::StatusCode::UNAUTHENTICATED,
                 "invalid tenant signature"},
        AuthCase{"RejectsUnsignedHeader", Method::kGetContact,
                 Raw("v4 /rapport.profiles.v1.ProfilesService/GetContact org1 alice 6 0 req  "),
                 grpc::StatusCode::UNAUTHENTICATED, "invalid tenant signature"},
        AuthCase{"RejectsSignatureUnderAnotherKey", Method::kGetContact,
                 Signed(UserCtx(), absl::ZeroDuration(), "other"), grpc::StatusCode::UNAUTHENTICATED,
                 "invalid tenant signature"},
        AuthCase{"RejectsWrongVersionEvenWhenSigned", Method::kGetContact,
                 SignedRaw(absl::StrCat("v2 org1 alice 6 ", kNow, " req")), grpc::StatusCode::UNAUTHENTICATED,
                 "malformed tenant metadata"},
        AuthCase{"RejectsMissingFieldEvenWhenSigned", Method::kGetContact,
                 SignedRaw(absl::StrCat("v4 /rapport.profiles.v1.ProfilesService/GetContact org1 6 ", kNow, " req  ")),
                 grpc::StatusCode::UNAUTHENTICATED, "malformed tenant metadata"},
        AuthCase{"RejectsNonNumericScopesEvenWhenSigned", Method::kGetContact,
                 SignedRaw(absl::StrCat("v4 /rapport.profiles.v1.ProfilesService/GetContact org1 alice all ", kNow,
                                        " req  ")),
                 grpc::StatusCode::UNAUTHENTICATED, "malformed tenant metadata"},
        AuthCase{"RejectsSignatureOlderThanSixtySeconds", Method::kGetContact, Signed(UserCtx(), absl::Seconds(61)),
                 grpc::StatusCode::UNAUTHENTICATED, "stale tenant metadata"},
        AuthCase{"RejectsSignatureFromTheFuture", Method::kGetContact, Signed(UserCtx(), -absl::Seconds(61)),
                 grpc::StatusCode::UNAUTHENTICATED, "stale tenant metadata"},
        AuthCase{"AcceptsSignatureWithinItsLifetime", Method::kGetContact, Signed(UserCtx(), absl::Seconds(50)),
                 grpc::StatusCode::OK, ""},
        // A header captured from one call, replayed on another method or service.
        AuthCase{"RejectsHeaderSignedForAnotherMethod", Method::kUpdateContact,
                 SignedFor(UserCtx(), "/rapport.profiles.v1.ProfilesService/GetContact"),
                 grpc::StatusCode::UNAUTHENTICATED, "signed for another method"},
        AuthCase{"RejectsPlatformHeaderOfAnExport", Method::kCreateOrg,
                 SignedFor(Only(api::v1::PLATFORM, ""), "/rapport.backfill.v1.ProfilesBackfill/ExportUsers"),
                 grpc::StatusCode::UNAUTHENTICATED, "signed for another method"},
        AuthCase{"RejectsHeaderSignedForAnotherService", Method::kGetContact,
                 SignedFor(UserCtx(), "/rapport.interactions.v1.InteractionsService/GetContact"),
                 grpc::StatusCode::UNAUTHENTICATED, "signed for another method"},
        // Scopes, as each method's HTTP rule names them.
        AuthCase{"ReadMethodAcceptsReadScope", Method::kGetContact, Signed(UserCtx(kRead)), grpc::StatusCode::OK, ""},
        AuthCase{"ReadMethodRejectsWriteOnlyScope", Method::kGetContact, Signed(UserCtx(kWrite)),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials lack the READ scope"},
        AuthCase{"WriteMethodRejectsReadOnlyScope", Method::kUpdateContact, Signed(UserCtx(kRead)),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials lack the WRITE scope"},
        AuthCase{"WriteMethodAcceptsWriteScope", Method::kUpdateContact, Signed(UserCtx(kWrite)), grpc::StatusCode::OK,
                 ""},
        AuthCase{"UserMethodRejectsCredentialsWithoutUser", Method::kGetContact, Signed(Only(api::v1::READ)),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials name no user"},
        AuthCase{"OrgMethodRejectsCredentialsWithoutOrg", Method::kGetContact, Signed(Only(api::v1::READ, "", "alice")),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials name no org"},
        AuthCase{"AdminMethodRejectsUserScopes", Method::kGetUser, Signed(UserCtx()),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials lack the ADMIN scope"},
        AuthCase{"AdminMethodAcceptsAdminWithoutUser", Method::kGetUser, Signed(Only(api::v1::ADMIN)),
                 grpc::StatusCode::OK, ""},
        AuthCase{"AdminMethodRejectsAdminWithoutOrg", Method::kGetUser, Signed(Only(api::v1::ADMIN, "")),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials name no org"},
        AuthCase{"PlatformMethodRejectsOrgAdmin", Method::kCreateOrg, Signed(Only(api::v1::ADMIN)),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials lack the PLATFORM scope"},
        AuthCase{"PlatformMethodAcceptsPlatformWithoutOrg", Method::kCreateOrg, Signed(Only(api::v1::PLATFORM, "")),
                 grpc::StatusCode::OK, ""},
        AuthCase{"MethodWithoutHttpRuleNeedsPlatform", Method::kVerifyApiKey, Signed(UserCtx()),
                 grpc::StatusCode::PERMISSION_DENIED, "credentials lack the PLATFORM scope"},
        AuthCase{"MethodWithoutHttpRuleAcceptsPlatform", Method::kVerifyApiKey, Signed(Only(api::v1::PLATFORM, "")),
                 grpc::StatusCode::OK, ""},
        // The caller signs for ListContacts; the handler's misspelt name is no
        // method of the service: nobody gets in, not even the platform.
        AuthCase{"MisspeltHandlerNameRefusesEveryCaller", Method::kMisspelt, Signed(Only(api::v1::PLATFORM, "")),
                 grpc::StatusCode::UNAUTHENTICATED, "signed for another method"}),
    [](const ::testing::TestParamInfo<AuthCase>& info) { return std::string(info.param.name); });

// --- what the body sees and answers ---

TEST_F(RpcHandlerTest, BodyGetsTheVerifiedTenantAndIdempotencyKey) {
  TenantContext t = UserCtx();
  t.idempotency_key = "idem-42";
  ppb::Contact out;
  grpc::Status s = GetContact(t, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.id(), "org1");
  EXPECT_EQ(out.display_name(), "alice");
  EXPECT_EQ(out.headline(), "req-1");
  EXPECT_EQ(out.company(), "idem-42");
}

struct StatusCase {
  const char* name;
  absl::StatusCode code;
  grpc::StatusCode want;
};

class RpcStatusTest : public RpcHandlerTest, public ::testing::WithParamInterface<StatusCase> {};

TEST_P(RpcStatusTest, BodyErrorReachesTheClientWithTheSameCodeAndMessage) {
  const std::string message = absl::StrCat("contact: ", GetParam().name);
  service_.set_contact_body(
      [&](const TenantContext&, Reply<ppb::Contact> reply) { reply(absl::Status(GetParam().code, message)); });
  ppb::Contact out;
  grpc::Status s = GetContact(UserCtx(), &out);
  EXPECT_EQ(s.error_code(), GetParam().want);
  EXPECT_EQ(s.error_message(), message);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, RpcStatusTest,
    ::testing::Values(StatusCase{"InvalidArgument", absl::StatusCode::kInvalidArgument, grpc::INVALID_ARGUMENT},
                      StatusCase{"NotFound", absl::StatusCode::kNotFound, grpc::NOT_FOUND},
                      StatusCase{"AlreadyExists", absl::StatusCode::kAlreadyExists, grpc::ALREADY_EXISTS},
                      StatusCase{"FailedPrecondition", absl::StatusCode::kFailedPrecondition,
                                 grpc::FAILED_PRECONDITION},
                      StatusCase{"Aborted", absl::StatusCode::kAborted, grpc::ABORTED},
                      StatusCase{"Unavailable", absl::StatusCode::kUnavailable, grpc::UNAVAILABLE},
                      StatusCase{"DeadlineExceeded", absl::StatusCode::kDeadlineExceeded, grpc::DEADLINE_EXCEEDED},
                      StatusCase{"PermissionDenied", absl::StatusCode::kPermissionDenied, grpc::PERMISSION_DENIED},
                      StatusCase{"ResourceExhausted", absl::StatusCode::kResourceExhausted, grpc::RESOURCE_EXHAUSTED},
                      StatusCase{"OutOfRange", absl::StatusCode::kOutOfRange, grpc::OUT_OF_RANGE},
                      StatusCase{"Internal", absl::StatusCode::kInternal, grpc::INTERNAL},
                      StatusCase{"Unimplemented", absl::StatusCode::kUnimplemented, grpc::UNIMPLEMENTED}),
    [](const ::testing::TestParamInfo<StatusCase>& info) { return std::string(info.param.name); });

TEST_F(RpcHandlerTest, BodyMayAnswerLaterFromAnotherThread) {
  std::promise<Reply<ppb::Contact>> held;
  service_.set_contact_body([&](const TenantContext&, Reply<ppb::Contact> reply) { held.set_value(std::move(reply)); });
  ppb::Contact out;
  std::future<grpc::Status> call = std::async(std::launch::async, [&] { return GetContact(UserCtx(), &out); });
  // The handler has returned and the client still waits: the answer comes from here.
  Reply<ppb::Contact> reply = held.get_future().get();
  ASSERT_EQ(call.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  ppb::Contact late;
  late.set_id("late");
  reply(late);
  grpc::Status s = call.get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.id(), "late");
}

TEST_F(RpcHandlerTest, OnlyTheFirstAnswerCounts) {
  service_.set_contact_body([](const TenantContext&, Reply<ppb::Contact> reply) {
    ppb::Contact first;
    first.set_id("first");
    reply(first);
    reply(absl::NotFoundError("second"));
  });
  ppb::Contact out;
  grpc::Status s = GetContact(UserCtx(), &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.id(), "first");
}

TEST_F(RpcHandlerTest, ExceptionBecomesInternalWithoutLeakingItsText) {
  service_.set_contact_body(
      [](const TenantContext&, Reply<ppb::Contact>) { throw std::runtime_error("secret detail"); });
  ppb::Contact out;
  grpc::Status s = GetContact(UserCtx(), &out);
  EXPECT_EQ(s.error_code(), grpc::INTERNAL);
  EXPECT_EQ(s.error_message(), "internal error");
}

TEST_F(RpcHandlerTest, ExceptionAfterAnAnswerKeepsTheAnswer) {
  service_.set_contact_body([](const TenantContext&, Reply<ppb::Contact> reply) {
    ppb::Contact first;
    first.set_id("first");
    reply(first);
    throw std::runtime_error("late failure");
  });
  ppb::Contact out;
  grpc::Status s = GetContact(UserCtx(), &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.id(), "first");
}

// --- the access log: one line per call, its level by outcome ---

struct LogCase {
  const char* name;
  const char* level;  // the lowest level written
  absl::Status answer;
  bool authenticated;
  // Fragments the captured stderr must hold; "" entries are skipped.
  std::vector<std::string> want;
  std::vector<std::string> absent;
};

class RpcAccessLogTest : public RpcHandlerTest, public ::testing::WithParamInterface<LogCase> {};

TEST_P(RpcAccessLogTest, WritesOneLine) {
  const LogCase& c = GetParam();
  log::Init("rpc_test", c.level);
  service_.set_contact_body([&](const TenantContext&, Reply<ppb::Contact> reply) {
    if (c.answer.ok()) return reply(ppb::Contact());
    reply(c.answer);
  });
  ::testing::internal::CaptureStderr();
  ppb::Contact out;
  grpc::Status s;
  if (c.authenticated) {
    s = GetContact(UserCtx(), &out);
  } else {
    s = Call(Method::kGetContact, {});
  }
  std::string logged = ::testing::internal::GetCapturedStderr();
  for (const std::string& w : c.want) EXPECT_NE(logged.find(w), std::string::npos) << w << " in " << logged;
  for (const std::string& a : c.absent) EXPECT_EQ(logged.find(a), std::string::npos) << a << " in " << logged;
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, RpcAccessLogTest,
    ::testing::Values(LogCase{"SuccessIsNotLoggedAtInfo", "info", absl::OkStatus(), true, {}, {"\"msg\":\"rpc\""}},
                      LogCase{"SuccessIsLoggedAtDebug",
                              "debug",
                              absl::OkStatus(),
                              true,
                              {"\"level\":\"debug\"", "\"service\":\"rpc_test\"", "\"msg\":\"rpc\"",
                               "\"method\":\"GetContact\"", "\"code\":\"0\"", "\"org\":\"org1\"",
                               "\"request_id\":\"req-1\"", "\"ms\":\""},
                              {}},
                      LogCase{"RefusalIsLoggedAtInfoWithCodeAndError",
                              "info",
                              absl::NotFoundError("contact \"x\" not found"),
                              true,
                              {"\"level\":\"info\"", "\"method\":\"GetContact\"", "\"code\":\"5\"",
                               "\"error\":\"contact \\\"x\\\" not found\"", "\"org\":\"org1\""},
                              {}},
                      LogCase{"InternalIsLoggedAtError",
                              "error",
                              absl::InternalError("disk on fire"),
                              true,
                              {"\"level\":\"error\"", "\"code\":\"13\"", "\"error\":\"disk on fire\""},
                              {}},
                      LogCase{"UnauthenticatedCallIsLoggedWithoutTenant",
                              "info",
                              absl::OkStatus(),
                              false,
                              {"\"level\":\"info\"", "\"method\":\"GetContact\"", "\"code\":\"16\"", "\"org\":\"\"",
                               "\"request_id\":\"\""},
                              {}}),
    [](const ::testing::TestParamInfo<LogCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rapport
