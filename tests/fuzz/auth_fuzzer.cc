// Fuzzes the gateway's credential parsers: VerifyJwt on raw bytes, and on
// tokens whose header and claims come from the input but carry a valid
// HS256 signature (so the claims parser is reached, not just the MAC
// check), also as an org key's token (JwtKeyId, VerifyOrgJwt: only the
// key's org passes); the API-key secret format (ParseApiKeySecret,
// VerifyApiKeySecret) and the org key's kid (ParseKid).
// Input: "<header JSON>\n<claims JSON>" for the signed case; the whole input
// is also tried as a raw token and as an API-key secret.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gateway/auth.h"
#include "services/profiles/jwt_keys_logic.h"
#include "services/profiles/profiles_logic.h"

namespace {

constexpr char kSecret[] = "fuzz-jwt-secret";

void CheckRefusal(const absl::Status& status, const char* what) {
  if (status.ok() || status.code() == absl::StatusCode::kUnauthenticated) return;
  std::fprintf(stderr, "%s refused with %s, not UNAUTHENTICATED\n", what, status.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  rapport::gateway::AuthOptions options;
  options.jwt_secret = kSecret;
  const absl::Time now = absl::FromUnixSeconds(1767225600);  // 2026-01-01

  CheckRefusal(rapport::gateway::VerifyJwt(input, options, now).status(), "raw token");
  CheckRefusal(rapport::gateway::JwtKeyId(input).status(), "kid of a raw token");
  const size_t eol = input.find('\n');
  if (eol != std::string::npos) {
    const std::string token = rapport::gateway::SignJwtHs256(input.substr(eol + 1), kSecret, input.substr(0, eol));
    absl::StatusOr<rapport::TenantContext> tenant = rapport::gateway::VerifyJwt(token, options, now);
    CheckRefusal(tenant.status(), "signed token");
    if (tenant.ok() && (tenant->org_id.empty() || tenant->user_id.empty())) {
      std::fprintf(stderr, "a token without org or user was accepted\n");
      std::abort();
    }
    CheckRefusal(rapport::gateway::JwtKeyId(token).status(), "kid of a signed token");
    const rapport::gateway::JwtKey org_key{"o1.k1", "o1", kSecret, absl::InfiniteFuture()};
    absl::StatusOr<rapport::TenantContext> org_tenant = rapport::gateway::VerifyOrgJwt(token, org_key, options, now);
    CheckRefusal(org_tenant.status(), "org-key token");
    if (org_tenant.ok() && org_tenant->org_id != org_key.org_id) {
      std::fprintf(stderr, "a token of another org passed an org's key\n");
      std::abort();
    }
  }

  std::string kid_org;
  if (rapport::profiles::ParseKid(input, &kid_org) && input.substr(0, kid_org.size() + 1) != kid_org + ".") {
    std::fprintf(stderr, "a kid names another org than its first part\n");
    std::abort();
  }

  std::string org, key;
  if (rapport::profiles::ParseApiKeySecret(input, &org, &key)) {
    // What the secret names is what a well-formed secret of those ids names.
    std::string org2, key2;
    const std::string remade = rapport::profiles::MakeApiKeySecret(org, key);
    if (!rapport::profiles::ParseApiKeySecret(remade, &org2, &key2) || org2 != org || key2 != key) {
      std::fprintf(stderr, "API key ids do not survive MakeApiKeySecret\n");
      std::abort();
    }
  }
  // No such key: every refusal is the same UNAUTHENTICATED.
  auto lookup = [](const std::string&, const std::string&) -> absl::StatusOr<rapport::profiles::StoredApiKey> {
    return absl::NotFoundError("no such key");
  };
  absl::Status verdict = rapport::profiles::VerifyApiKeySecret(input, lookup, /*now_us=*/0).status();
  if (verdict.code() != absl::StatusCode::kUnauthenticated) {
    std::fprintf(stderr, "an unknown API key gave %s\n", verdict.ToString().c_str());
    std::abort();
  }
  return 0;
}
