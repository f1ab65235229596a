// Benchmarks of the recommendations read model and logic on generated
// networks fed straight into the model (tools/datagen): no processes, no
// Redis, so the figures are the computation alone (the gRPC and cache
// round trips come on top).
//
//   BM_WarmPath3Hops      paths of up to 3 hops to a teammate's ORG contact
//                         in one org of 1 000 users x 2 000 contacts
//                         (2 million user->contact edges); p50/p99 counters
//   BM_WarmPathCompany    the same org, targets by company + title keyword
//   BM_ReachOuts10k       reach-out ranking for a user with 10 000 contacts
//   BM_ModelMemory        bytes per edge (graph arrays) and per contact (all)
//
// Sizes can be lowered for a quick run: RECO_BENCH_USERS, RECO_BENCH_CONTACTS.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "services/common/time_util.h"
#include "services/recommendations/read_model.h"
#include "services/recommendations/recommendations_logic.h"
#include "tools/datagen/datagen.h"

namespace rapport::recommendations {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

struct World {
  ReadModel model;
  int64_t now = 0;
  int users = 0;
  int contacts = 0;
  double build_seconds = 0;
  double events_per_second = 0;
  // Query inputs drawn from the model: (user, teammate's ORG contact id).
  std::vector<std::pair<std::string, std::string>> path_queries;
  std::vector<std::pair<std::string, std::string>> company_queries;  // (user, company)
};

World& Big() {
  static World* w = [] {
    auto* world = new World;
    world->users = EnvInt("RECO_BENCH_USERS", 1000);
    world->contacts = EnvInt("RECO_BENCH_CONTACTS", 2000);
    datagen::Options o;
    o.seed = 1;
    o.users_per_org = world->users;
    o.contacts_per_user = world->contacts;
    o.heavy_tail = false;
    o.emit_interactions = false;  // ledger rows only: interactions do not take part in paths
    o.org_prefix = "big";
    o.now_us = NowMicros();
    world->now = o.now_us;
    auto start = std::chrono::steady_clock::now();
    int64_t events = 0;
    datagen::Stats stats = datagen::Generate(o, [&](const events::v1::Event& e) {
      (void)world->model.Apply(e);
      ++events;
    });
    world->model.RebuildAll();
    world->build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    world->events_per_second = events / world->build_seconds;
    std::cerr << "built " << stats.users << " users x " << world->contacts << " contacts (" << stats.people
              << " people) from " << events << " events in " << world->build_seconds << " s\n";
    std::mt19937_64 rng(7);
    world->model.Read("big1", [&](const OrgGraph& g) {
      while (world->path_queries.size() < 2000) {
        uint32_t c = std::uniform_int_distribution<uint32_t>(0, g.edges.size() - 1)(rng);
        uint32_t u = std::uniform_int_distribution<uint32_t>(0, g.users.size() - 1)(rng);
        if (!g.edges[c].org_visible() || g.edges[c].owner == u) continue;
        world->path_queries.push_back({g.users[u].id, g.info[c].id});
        world->company_queries.push_back({g.users[u].id, g.info[c].company});
      }
    });
    return world;
  }();
  return *w;
}

World& Wide() {
  static World* w = [] {
    auto* world = new World;
    datagen::Options o;
    o.seed = 2;
    o.users_per_org = 1;
    o.contacts_per_user = 10000;
    o.heavy_tail = false;
    o.emit_interactions = false;
    o.org_prefix = "wide";
    o.now_us = NowMicros();
    world->now = o.now_us;
    datagen::Generate(o, [&](const events::v1::Event& e) { (void)world->model.Apply(e); });
    world->model.RebuildAll();
    return world;
  }();
  return *w;
}

// Runs query once per iteration, timing each for percentiles.
template <typename Fn>
void Percentiles(benchmark::State& state, Fn query) {
  std::vector<double> us;
  us.reserve(100000);
  size_t i = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    query(i++);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  if (us.empty()) return;
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  state.counters["max_us"] = us.back();
}

void BM_WarmPath3Hops(benchmark::State& state) {
  World& w = Big();
  size_t found = 0;
  Percentiles(state, [&](size_t i) {
    const auto& [user, target] = w.path_queries[i % w.path_queries.size()];
    pb::FindPathsRequest req;
    req.set_target_contact_id(target);
    req.set_max_hops(3);
    w.model.Read("big1", [&](const OrgGraph& g) {
      auto r = FindPaths(Query{g, user, w.now, Settings{}}, req);
      if (r.ok()) found += r->paths_size();
      benchmark::DoNotOptimize(r);
    });
  });
  state.counters["paths_per_query"] = static_cast<double>(found) / std::max<int64_t>(1, state.iterations());
}
BENCHMARK(BM_WarmPath3Hops)->Iterations(5000)->Unit(benchmark::kMicrosecond);

void BM_WarmPathCompany(benchmark::State& state) {
  World& w = Big();
  Percentiles(state, [&](size_t i) {
    const auto& [user, company] = w.company_queries[i % w.company_queries.size()];
    pb::FindPathsRequest req;
    req.set_company(company);
    req.set_title_keyword("manager");
    w.model.Read("big1", [&](const OrgGraph& g) {
      auto r = FindPaths(Query{g, user, w.now, Settings{}}, req);
      benchmark::DoNotOptimize(r);
    });
  });
}
BENCHMARK(BM_WarmPathCompany)->Iterations(500)->Unit(benchmark::kMicrosecond);

void BM_ReachOuts10k(benchmark::State& state) {
  World& w = Wide();
  size_t items = 0;
  Percentiles(state, [&](size_t) {
    w.model.Read("wide1", [&](const OrgGraph& g) {
      // The first page as the service builds it: the whole ranking, the
      // reasons of its first 50 (+1 to know more follow).
      auto r = ReachOuts(Query{g, "wide1-u1", w.now, Settings{}, 51});
      items = r.size();
      benchmark::DoNotOptimize(r);
    });
  });
  state.counters["items_built"] = static_cast<double>(items);
}
BENCHMARK(BM_ReachOuts10k)->Iterations(1000)->Unit(benchmark::kMicrosecond);

void BM_ModelMemory(benchmark::State& state) {
  World& w = Big();
  for (auto _ : state) {
    w.model.Read("big1", [&](const OrgGraph& g) {
      const double edges = static_cast<double>(g.AliveEdges());
      state.counters["edges"] = edges;
      state.counters["persons"] = static_cast<double>(g.person_head.size());
      state.counters["graph_bytes_per_edge"] = g.GraphBytes() / edges;
      state.counters["total_bytes_per_contact"] = g.TotalBytes() / edges;
      state.counters["total_MiB"] = g.TotalBytes() / 1048576.0;
    });
  }
  state.counters["build_s"] = w.build_seconds;
  state.counters["apply_events_per_s"] = w.events_per_second;
}
BENCHMARK(BM_ModelMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rapport::recommendations

BENCHMARK_MAIN();
