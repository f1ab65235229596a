// The gateway's per-request CPU outside the network: printing a contact as
// proto3 JSON, reading an interaction body, signing tenant metadata, minting a
// request id, matching a route. Each fast path is measured next to what it
// replaced (protobuf's json_util, a per-call HMAC), so the ratio shows even on
// a busy machine.
//
//   build/bin/gateway_transcode_bench
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "gateway/backends.h"
#include "gateway/json_parser.h"
#include "gateway/json_printer.h"
#include "gateway/router.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/crypto.h"
#include "services/common/ids.h"
#include "services/common/tenant.h"

namespace rapport::gateway {
namespace {

profiles::v1::Contact SampleContact() {
  profiles::v1::Contact c;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        id: "01m8fwsa3wc9wmhnmf141nsjey"
        display_name: "Grace Hopper"
        given_name: "Grace"
        family_name: "Hopper"
        headline: "Compilers and COBOL"
        company: "US Navy"
        title: "Rear Admiral"
        emails: [ "grace@navy.test", "hopper@example.test" ]
        phones: "+1 555 0100"
        links: "https://example.test/grace"
        location: "Arlington, VA"
        birthday { month: 12 day: 9 year: 1906 }
        tags: [ "mentor", "compilers", "navy" ]
        seeking: "speakers"
        offering: "introductions to the Navy"
        tier: CLOSE
        how_we_met: "a conference on programming languages"
        notes: "Talked about nanoseconds and the first bug; follow up about the talk in spring."
        create_time { seconds: 1764288000 nanos: 123456000 }
        update_time { seconds: 1764288001 }
      )pb",
      &c);
  return c;
}

constexpr char kInteractionBody[] =
    R"({"kind":"MESSAGE","direction":"GAVE","contactIds":["01m8fwsa3wc9wmhnmf141nsjey"],"summary":"checking in"})";

void BM_PrintContactFast(benchmark::State& state) {
  const profiles::v1::Contact c = SampleContact();
  for (auto _ : state) {
    std::string out;
    PrintJsonFast(c, &out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_PrintContactFast);

void BM_PrintContactProtobuf(benchmark::State& state) {
  const profiles::v1::Contact c = SampleContact();
  google::protobuf::util::JsonPrintOptions options;
  for (auto _ : state) {
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(c, &out, options);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_PrintContactProtobuf);

void BM_ParseInteractionFast(benchmark::State& state) {
  for (auto _ : state) {
    interactions::v1::Interaction m;
    benchmark::DoNotOptimize(ParseJsonFast(kInteractionBody, &m));
  }
}
BENCHMARK(BM_ParseInteractionFast);

void BM_ParseInteractionProtobuf(benchmark::State& state) {
  google::protobuf::util::JsonParseOptions options;
  for (auto _ : state) {
    interactions::v1::Interaction m;
    benchmark::DoNotOptimize(google::protobuf::util::JsonStringToMessage(kInteractionBody, &m, options).ok());
  }
}
BENCHMARK(BM_ParseInteractionProtobuf);

TenantContext SampleTenant() {
  TenantContext t;
  t.org_id = "01m8fwsa0z14vr0bnzy97n5p83";
  t.user_id = "01m8fwsa2rg8c567fb0trc74cy";
  t.Add(api::v1::READ);
  t.Add(api::v1::WRITE);
  t.request_id = "01m8fwsa3wc9wmhnmf141nsjey";
  return t;
}

void BM_TenantSignAndVerify(benchmark::State& state) {
  const TenantSigner signer("an internal key of a realistic length, 48 bytes.");
  const TenantContext t = SampleTenant();
  const std::string method = "/rapport.profiles.v1.ProfilesService/GetContact";
  for (auto _ : state) {
    std::multimap<std::string, std::string> md = signer.Metadata(t, method);
    std::multimap<grpc::string_ref, grpc::string_ref> refs;
    for (const auto& [k, v] : md) refs.emplace(k, v);
    benchmark::DoNotOptimize(signer.Verify(refs, method).ok());
  }
}
BENCHMARK(BM_TenantSignAndVerify);

void BM_HmacCachedKey(benchmark::State& state) {
  const HmacKey key("an internal key of a realistic length, 48 bytes.");
  const std::string message(100, 'm');
  for (auto _ : state) benchmark::DoNotOptimize(key.Mac(message));
}
BENCHMARK(BM_HmacCachedKey);

void BM_HmacPerCallKey(benchmark::State& state) {
  const std::string message(100, 'm');
  for (auto _ : state)
    benchmark::DoNotOptimize(HmacSha256("an internal key of a realistic length, 48 bytes.", message));
}
BENCHMARK(BM_HmacPerCallKey);

// What crypto.cc did before: OpenSSL 3's one-shot HMAC(), which fetches SHA-256 per call.
void BM_HmacOpensslOneShot(benchmark::State& state) {
  const std::string key = "an internal key of a realistic length, 48 bytes.";
  const std::string message(100, 'm');
  for (auto _ : state) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), out, &len);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_HmacOpensslOneShot);

void BM_NewId(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(NewId());
}
BENCHMARK(BM_NewId);

void BM_RouteMatch(benchmark::State& state) {
  Router router;
  std::vector<std::string> services;
  for (const Backend& b : Backends()) {
    b.anchor();
    services.push_back(b.service());
  }
  if (!router.AddServices(services).ok()) {
    state.SkipWithError("no routes");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(router.Match("GET", "/v1/contacts/01m8fwsa3wc9wmhnmf141nsjey"));
}
BENCHMARK(BM_RouteMatch);

}  // namespace
}  // namespace rapport::gateway

BENCHMARK_MAIN();
