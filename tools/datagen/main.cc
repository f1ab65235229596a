// rapport-datagen: loads a synthetic network (datagen.h) into a running
// stack through the HTTP API, as a client app would: per org, POST /v1/orgs
// with the platform admin key, then users, an ACT_AS_USER key, profiles
// (PATCH /v1/me), contacts and interactions; ledgers are derived by the
// interactions service itself. Counts are bounded by flags. A 429 from the
// gateway's rate limit waits Retry-After and retries, so large loads want a
// gateway started with a higher RAPPORT_RATE_LIMIT_PER_MINUTE.
//
// Prints, per org: the org id, its admin key secret, the ACT_AS_USER key
// secret and the user ids, then the counts. Exit status 1 on a failed call.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "rapport/interactions/v1/interactions.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"
#include "services/common/config.h"
#include "services/common/http_client.h"
#include "tools/datagen/datagen.h"

ABSL_FLAG(std::string, url, "http://127.0.0.1:8080", "gateway base URL (env RAPPORT_URL)");
ABSL_FLAG(std::string, admin_key, "", "platform admin key (env RAPPORT_ADMIN_KEY)");
ABSL_FLAG(uint64_t, seed, 42, "generator seed");
ABSL_FLAG(int, orgs, 1, "orgs to create (1..100)");
ABSL_FLAG(int, users, 5, "users per org (1..1000)");
ABSL_FLAG(int, contacts, 50, "mean contacts per user (1..10000)");
ABSL_FLAG(double, interactions, 3, "mean interactions per contact (0..50)");
ABSL_FLAG(double, shared, 0.3, "chance a contact is someone a teammate already knows");
ABSL_FLAG(bool, heavy_tail, true, "heavy-tailed contacts per user (else exactly --contacts)");

namespace {

namespace ppb = ::rapport::profiles::v1;
namespace ipb = ::rapport::interactions::v1;
using rapport::HttpResponse;

[[noreturn]] void Fail(const std::string& what, const HttpResponse& r) {
  std::cerr << "rapport-datagen: " << what << ": " << (r.status == 0 ? r.error : std::to_string(r.status)) << " "
            << r.body << "\n";
  std::exit(1);
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out);
  return out;
}

template <typename T>
T Parse(const HttpResponse& r) {
  T out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  (void)google::protobuf::util::JsonStringToMessage(r.body, &out, options);
  return out;
}

class Loader {
 public:
  explicit Loader(std::string url) : url_(std::move(url)) {}

  // Sends one call, waiting out rate limits; fails the run on any other error.
  HttpResponse Call(const std::string& method, const std::string& path, std::vector<std::string> headers,
                    const std::string& body, const char* what) {
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    for (int attempt = 0;; ++attempt) {
      HttpResponse r = rapport::HttpCall(method, url_ + path, headers, body);
      if (r.status == 429 && attempt < 1000) {
        int wait = 1;
        (void)absl::SimpleAtoi(r.Header("retry-after"), &wait);
        std::this_thread::sleep_for(std::chrono::seconds(std::max(wait, 1)));
        continue;
      }
      if (r.status != 200) Fail(what, r);
      ++calls_;
      return r;
    }
  }

  void OnEvent(const rapport::events::v1::Event& e, const std::string& platform_key) {
    if (e.type() == "user.created") {
      if (orgs_.find(e.org_id()) == orgs_.end()) NewOrg(e.org_id(), platform_key);
      Org& org = orgs_[e.org_id()];
      ppb::CreateUserRequest req;
      req.set_display_name(e.user().user().display_name());
      req.set_email(absl::StrCat(e.user().user().id(), ".", org.id, "@datagen.example"));
      req.set_timezone("UTC");
      HttpResponse r = Call("POST", "/v1/users", {"X-Api-Key: " + org.admin_secret}, Json(req), "create user");
      std::string id = Parse<ppb::User>(r).id();
      users_[e.user_id()] = id;
      org.users.push_back(id);
      ppb::Profile profile = e.user().profile();
      profile.clear_user_id();
      profile.clear_timezone();
      profile.clear_display_name();
      Call("PATCH", "/v1/me", As(e), Json(profile), "update profile");
    } else if (e.type() == "contact.created") {
      ppb::Contact c = e.contact().contact();
      c.clear_id();
      c.clear_create_time();
      c.clear_update_time();
      c.clear_effective_cadence_days();
      HttpResponse r = Call("POST", "/v1/contacts", As(e), Json(c), "create contact");
      contacts_[e.contact().contact().id()] = Parse<ppb::Contact>(r).id();
    } else if (e.type() == "interaction.created") {
      ipb::Interaction i = e.interaction();
      i.clear_id();
      i.clear_contact_ids();
      for (const std::string& c : e.interaction().contact_ids()) i.add_contact_ids(contacts_[c]);
      Call("POST", "/v1/interactions", As(e), Json(i), "create interaction");
    }
  }

  void Print(const rapport::datagen::Stats& stats) {
    for (const auto& [name, org] : orgs_) {
      std::cout << "org " << org.id << "\nadmin key " << org.admin_secret << "\nuser key (READ, WRITE, ACT_AS_USER) "
                << org.user_secret << "\n";
      for (const std::string& u : org.users) std::cout << "user " << u << "\n";
    }
    std::cout << "loaded " << stats.users << " users, " << stats.contacts << " contacts (" << stats.people
              << " people), " << stats.interactions << " interactions in " << calls_ << " calls\n";
  }

 private:
  struct Org {
    std::string id, admin_secret, user_secret;
    std::vector<std::string> users;
  };

  void NewOrg(const std::string& name, const std::string& platform_key) {
    ppb::CreateOrgRequest req;
    req.set_display_name(absl::StrCat("Datagen ", name));
    HttpResponse r = Call("POST", "/v1/orgs", {"X-Api-Key: " + platform_key}, Json(req), "create org");
    auto created = Parse<ppb::CreateOrgResponse>(r);
    Org& org = orgs_[name];
    org.id = created.org().id();
    org.admin_secret = created.admin_key().secret();
    ppb::CreateApiKeyRequest key;
    key.set_display_name("datagen");
    key.add_scopes(rapport::api::v1::READ);
    key.add_scopes(rapport::api::v1::WRITE);
    key.add_scopes(rapport::api::v1::ACT_AS_USER);
    r = Call("POST", "/v1/apiKeys", {"X-Api-Key: " + org.admin_secret}, Json(key), "create api key");
    org.user_secret = Parse<ppb::ApiKeySecret>(r).secret();
  }

  std::vector<std::string> As(const rapport::events::v1::Event& e) {
    return {"X-Api-Key: " + orgs_[e.org_id()].user_secret, "X-Rapport-User: " + users_[e.user_id()]};
  }

  std::string url_;
  std::map<std::string, Org> orgs_;
  std::map<std::string, std::string> users_;     // generator id -> created id
  std::map<std::string, std::string> contacts_;  // generator id -> created id
  int64_t calls_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  rapport::config::ParseFlags(argc, argv, "rapport-datagen: loads a synthetic network through the HTTP API",
                              {{"url", "RAPPORT_URL"}, {"admin_key", "RAPPORT_ADMIN_KEY"}});
  rapport::datagen::Options options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.orgs = absl::GetFlag(FLAGS_orgs);
  options.users_per_org = absl::GetFlag(FLAGS_users);
  options.contacts_per_user = absl::GetFlag(FLAGS_contacts);
  options.interactions_per_contact = absl::GetFlag(FLAGS_interactions);
  options.shared = absl::GetFlag(FLAGS_shared);
  options.heavy_tail = absl::GetFlag(FLAGS_heavy_tail);
  if (options.orgs < 1 || options.orgs > 100 || options.users_per_org < 1 || options.users_per_org > 1000 ||
      options.contacts_per_user < 1 || options.contacts_per_user > 10000 || options.interactions_per_contact < 0 ||
      options.interactions_per_contact > 50 || options.shared < 0 || options.shared > 1) {
    std::cerr << "rapport-datagen: a count is out of range (see --help)\n";
    return 2;
  }
  const std::string platform_key = absl::GetFlag(FLAGS_admin_key);
  if (platform_key.empty()) {
    std::cerr << "rapport-datagen: --admin_key (or RAPPORT_ADMIN_KEY) is required\n";
    return 2;
  }
  Loader loader(absl::GetFlag(FLAGS_url));
  rapport::datagen::Stats stats = rapport::datagen::Generate(
      options, [&](const rapport::events::v1::Event& e) { loader.OnEvent(e, platform_key); });
  loader.Print(stats);
  return 0;
}
