// Exporting a user's contacts as vCard through the gateway (issue 18,
// Benchmark): starts redis-server, profiles and the gateway on 127.0.0.1
// (SQLite), seeds one user's contacts over gRPC (realistic fields: names,
// company, title, two emails, a phone, a link, tags, a birthday, notes), then
// for each size GET /v1/contacts:export streamed into a byte counter and
// reports the time, the size, and the peak resident memory (VmHWM) of
// profiles and of the gateway during the export (the peak is reset through
// /proc/<pid>/clear_refs before it, so seeding does not count).
//
//   build/bin/export_bench                 # 10 000 then 50 000 contacts
//   EXPORT_SIZES=1000,5000 build/bin/export_bench
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gateway/auth.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/channel.h"
#include "services/common/http_client.h"
#include "tests/testing/harness.h"
#include "tests/testing/stack.h"

namespace {

namespace ppb = ::rapport::profiles::v1;
using ::rapport::testing::Stack;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "export_bench: %s\n", what.c_str());
  std::exit(1);
}

// A field of /proc/<pid>/status in kB (VmHWM, VmRSS).
long StatusKb(int pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      long kb = 0;
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[parts.size() - 2], &kb)) return kb;
    }
  }
  return -1;
}

// Resets the peak resident size of pid to its current one (Linux >= 4.0).
void ResetPeak(int pid) { std::ofstream(absl::StrCat("/proc/", pid, "/clear_refs")) << "5"; }

ppb::Contact MakeContact(int i) {
  ppb::Contact c;
  const std::string n = absl::StrCat(i);
  c.set_display_name(absl::StrCat("Person ", n, " Example"));
  c.set_given_name(absl::StrCat("Person ", n));
  c.set_family_name("Example");
  c.set_company(absl::StrCat("Company ", i % 997, ", Inc."));
  c.set_title("Senior Engineer");
  c.add_emails(absl::StrCat("person", n, "@example.com"));
  c.add_emails(absl::StrCat("p", n, "@work.example.org"));
  c.add_phones(absl::StrCat("+1 555 ", 1000000 + i));
  c.add_links(absl::StrCat("https://www.linkedin.com/in/person-", n));
  c.add_tags("alumni");
  c.add_tags(absl::StrCat("cohort-", i % 20));
  c.mutable_birthday()->set_month(1 + i % 12);
  c.mutable_birthday()->set_day(1 + i % 28);
  c.set_notes("Met at the conference; follow up about the platform team, and the hiring plans for next year.");
  return c;
}

// Creates contacts [from, to) for the user with `threads` callers.
void Seed(ppb::ProfilesService::Stub* stub, const rapport::TenantContext& user, int from, int to, int threads) {
  std::atomic<int> next{from};
  std::atomic<int> failed{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < to; i = next++) {
        ppb::CreateContactRequest req;
        *req.mutable_contact() = MakeContact(i);
        ppb::Contact out;
        auto ctx = Stack::Call(user);
        ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        if (!stub->CreateContact(ctx.get(), req, &out).ok()) ++failed;
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failed > 0) Fail(absl::StrCat(failed.load(), " contacts were not created"));
}

}  // namespace

int main() {
  std::vector<int> sizes = {10000, 50000};
  if (const char* env = std::getenv("EXPORT_SIZES")) {
    sizes.clear();
    for (absl::string_view s : absl::StrSplit(env, ',', absl::SkipEmpty())) {
      int n = 0;
      if (!absl::SimpleAtoi(s, &n) || n <= 0) Fail("EXPORT_SIZES: comma-separated positive counts");
      sizes.push_back(n);
    }
  }
  Stack stack;
  if (!stack.redis().Start().ok()) Fail("redis-server did not start");
  // A quota above the largest size.
  if (absl::Status s = stack.Start("profiles", {{"RAPPORT_QUOTA_CONTACTS_PER_USER", "1000000"}}); !s.ok()) {
    Fail(s.ToString());
  }
  if (absl::Status s = stack.StartGateway(); !s.ok()) Fail(s.ToString());
  auto stub = ppb::ProfilesService::NewStub(rapport::CreateServiceChannel(stack.Addr("profiles")));
  ppb::CreateOrgRequest oreq;
  oreq.set_display_name("Bench");
  ppb::CreateOrgResponse org;
  if (!stub->CreateOrg(Stack::Call(Stack::Platform()).get(), oreq, &org).ok()) Fail("CreateOrg failed");
  ppb::CreateUserRequest ureq;
  ureq.set_display_name("Ann");
  ureq.set_email("ann@bench.test");
  ppb::User user;
  if (!stub->CreateUser(Stack::Call(Stack::Admin(org.org().id())).get(), ureq, &user).ok()) Fail("CreateUser failed");
  const rapport::TenantContext ann = Stack::User(org.org().id(), user.id());
  const std::string jwt = rapport::gateway::SignJwtHs256(
      absl::StrCat(R"({"sub":")", user.id(), R"(","org":")", org.org().id(),
                   R"(","iss":"rapport","aud":"rapport","exp":)", absl::ToUnixSeconds(absl::Now()) + 3600, "}"),
      rapport::testing::kTestJwtSecret);
  const int profiles_pid = stack.Pid("profiles");
  const int gateway_pid = stack.Pid("gateway");

  std::printf("%-9s %-10s %-9s %-12s %-22s %-22s\n", "contacts", "seconds", "MB", "contacts/s", "profiles VmHWM (RSS0)",
              "gateway VmHWM (RSS0)");
  int seeded = 0;
  for (int size : sizes) {
    if (size > seeded) {
      Seed(stub.get(), ann, seeded, size, 8);
      seeded = size;
    }
    ResetPeak(profiles_pid);
    ResetPeak(gateway_pid);
    const long profiles_rss = StatusKb(profiles_pid, "VmRSS");
    const long gateway_rss = StatusKb(gateway_pid, "VmRSS");
    int64_t bytes = 0, cards = 0;
    std::string tail;  // the end of the previous chunk, for a marker cut in two
    rapport::HttpOptions options;
    options.timeout_ms = 600000;
    options.body_writer = [&](std::string_view data) {
      bytes += static_cast<int64_t>(data.size());
      const std::string window = tail + std::string(data);
      for (size_t at = window.find("BEGIN:VCARD"); at != std::string::npos; at = window.find("BEGIN:VCARD", at + 1)) {
        if (at + 11 > tail.size()) ++cards;  // not counted with the previous chunk
      }
      tail = window.size() > 10 ? window.substr(window.size() - 10) : window;
      return true;
    };
    const auto start = std::chrono::steady_clock::now();
    rapport::HttpResponse r = rapport::HttpCall("GET", stack.GatewayUrl() + "/v1/contacts:export",
                                                {"Authorization: Bearer " + jwt}, "", options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.status != 200) Fail(absl::StrCat("export answered ", r.status, " ", r.error, " ", r.body));
    if (cards != size) Fail(absl::StrCat("exported ", cards, " cards, expected ", size));
    std::printf("%-9d %-10.2f %-9.1f %-12.0f %-22s %-22s\n", size, seconds, bytes / 1048576.0, size / seconds,
                absl::StrCat(StatusKb(profiles_pid, "VmHWM") / 1024, " MB (", profiles_rss / 1024, " MB)").c_str(),
                absl::StrCat(StatusKb(gateway_pid, "VmHWM") / 1024, " MB (", gateway_rss / 1024, " MB)").c_str());
  }
  return 0;
}
