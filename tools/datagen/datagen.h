// A synthetic network generator for benchmarks and demos: orgs, users,
// contacts with a heavy-tailed number of ties, people shared across
// teammates (popular people are known by many), and two years of
// interactions with realistic kinds and directions.
//
// The network comes out as the rapport.events.v1.Event stream its services
// would emit, in creation order: user.created (with a profile), then per
// user contact.created, interaction.created (when enabled) and the
// ledger.changed each contact ends with (computed with the interactions
// service's own ledger arithmetic). A benchmark feeds the events straight
// into a read model; the rapport-datagen CLI replays them through the HTTP
// API of a running stack. Deterministic for a given seed and options.
//
// Thread-safety: Generate is a pure function of its options.
#ifndef RAPPORT_TOOLS_DATAGEN_DATAGEN_H_
#define RAPPORT_TOOLS_DATAGEN_DATAGEN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "rapport/events/v1/events.pb.h"

namespace rapport::datagen {

struct Options {
  uint64_t seed = 42;
  int orgs = 1;
  int users_per_org = 10;
  int contacts_per_user = 200;          // the mean when heavy_tail, else exact
  bool heavy_tail = true;               // contacts per user Pareto-distributed (alpha 1.5), at least 5
  double shared = 0.3;                  // chance a new contact is someone already known in the org
  double org_visible = 0.6;             // chance a contact is ORG-visible
  double interactions_per_contact = 4;  // mean (Pareto, alpha 1.5), capped at 200
  bool emit_interactions = true;        // false: ledger rows only (memory-light, for large benchmarks)
  int days = 730;                       // interactions happen within this many days before now
  int64_t now_us = 0;                   // 0: the current time
  std::string org_prefix = "org";       // org ids are <prefix><n>
};

struct Stats {
  int64_t users = 0;
  int64_t contacts = 0;
  int64_t interactions = 0;
  int64_t people = 0;  // distinct people behind the contacts
  int64_t events = 0;
};

// Calls sink for every event, in creation order.
Stats Generate(const Options& options, const std::function<void(const events::v1::Event&)>& sink);

}  // namespace rapport::datagen

#endif  // RAPPORT_TOOLS_DATAGEN_DATAGEN_H_
