// Fuzzes the services' tenant metadata parser, TenantSigner::Verify: the
// input is the x-rapport-tenant value, tried as given and with a valid MAC
// appended (so the field parser behind the signature check is reached), and,
// after its first newline, the x-idempotency-key value. Whatever Verify
// accepts must sign again into a value Verify reads back the same.
#include <grpcpp/support/string_ref.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "services/common/crypto.h"
#include "services/common/tenant.h"

namespace {

constexpr char kKey[] = "fuzz-internal-key";
// The method the fuzzed metadata is checked against (the header names the
// method it was signed for: "v4 <method> <org> ...").
constexpr char kMethod[] = "/rapport.profiles.v1.ProfilesService/GetContact";

void Check(const rapport::TenantSigner& signer, const std::string& token, const std::string& idem, absl::Time now) {
  std::multimap<grpc::string_ref, grpc::string_ref> md;
  md.emplace(rapport::kTenantHeader, token);
  md.emplace(rapport::kIdempotencyHeader, idem);
  absl::StatusOr<rapport::TenantContext> ctx = signer.Verify(md, kMethod, now);
  if (!ctx.ok()) {
    if (ctx.status().code() != absl::StatusCode::kUnauthenticated) std::abort();
    return;
  }
  const std::string again = signer.Token(*ctx, kMethod, now);
  std::multimap<grpc::string_ref, grpc::string_ref> md2;
  md2.emplace(rapport::kTenantHeader, again);
  absl::StatusOr<rapport::TenantContext> back = signer.Verify(md2, kMethod, now);
  if (!back.ok() || back->org_id != ctx->org_id || back->user_id != ctx->user_id || back->scopes != ctx->scopes ||
      back->request_id != ctx->request_id || back->key_id != ctx->key_id ||
      back->client_address != ctx->client_address) {
    std::fprintf(stderr, "accepted tenant metadata does not survive re-signing: %s\n", again.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const rapport::TenantSigner* signer = new rapport::TenantSigner(kKey);
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  const std::string body = input.substr(0, eol);
  const std::string idem = eol == std::string::npos ? "" : input.substr(eol + 1);
  const absl::Time now = absl::FromUnixSeconds(1767225600);
  Check(*signer, body, idem, now);
  Check(*signer, body + " " + absl::BytesToHexString(rapport::HmacSha256(kKey, body)), idem, now);
  return 0;
}
