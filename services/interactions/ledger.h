// The reciprocity ledger's arithmetic, kept apart from storage so that it can
// be tested on hand-computed cases.
//
// Each interaction contributes to the ledger row of every contact it names:
//   weight w = KindWeight(kind)          (the table below, also in README.md)
//   GAVE: given += w; RECEIVED: received += w; MUTUAL: neither (an exchange)
//   interaction_count += 1; last_interaction = max(occurred_at)
//   decayed strength sum S(now) = sum of w * 2^(-(now - occurred_at) / 90 days)
// To keep S exact under inserts and deletes without rescanning, rows store
// the anchored sum A = sum of w * 2^((occurred_at - T0) / 90 days) with T0 =
// 2020-01-01; S(now) = A * 2^(-(now - T0) / 90 days). Ordering by A is
// ordering by strength at any instant.
//   strength = 100 * (1 - exp(-S / 10))   (one meeting today ~ 26, ten ~ 95)
//   balance = given - received; next_due = last_interaction + cadence.
// Weights are kept in integer thousandths so sums and differences are exact.
// Only interactions that Count() contribute: a PLANNED one (occurred_at in
// the future) or a CANCELLED one adds nothing until it happens.
// Explain() lists the interactions behind an entry: each one's decayed weight
// w * 2^(-age / 90 days) and its part of the balance, largest first, so that
// strength and balance can be recomputed by hand.
#ifndef RAPPORT_SERVICES_INTERACTIONS_LEDGER_H_
#define RAPPORT_SERVICES_INTERACTIONS_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "rapport/interactions/v1/interactions.pb.h"

namespace rapport::interactions {

namespace pb = ::rapport::interactions::v1;

inline constexpr double kHalfLifeDays = 90.0;
inline constexpr double kStrengthScale = 10.0;

// Weight of a kind in thousandths (a meeting is 3000, i.e. 3.0).
int64_t KindWeightMilli(pb::InteractionKind kind);

// One (user, contact) row of the ledger as stored.
struct LedgerRow {
  std::string contact_id;
  int64_t given_milli = 0;
  int64_t received_milli = 0;
  double anchored = 0;  // A above
  int64_t count = 0;
  int64_t last_us = 0;  // 0 before the first interaction
  int32_t cadence_days = 90;

  int64_t balance_milli() const { return given_milli - received_milli; }
  // last + cadence; 0 when there was no interaction yet.
  int64_t next_due_us() const;
};

// Adds (sign = +1) or removes (sign = -1) one interaction's contribution.
// last_us is not touched: on removal the caller recomputes it from what is
// left, on addition it takes the max.
void ApplyContribution(const pb::Interaction& interaction, int sign, LedgerRow* row);

// False for PLANNED and CANCELLED interactions: they contribute nothing.
bool Counts(const pb::Interaction& interaction);

double AnchoredWeight(int64_t weight_milli, int64_t occurred_us);
double StrengthAt(double anchored, absl::Time now);
// overdue_days: whole days now is past next_due (0 when not due or never met).
pb::LedgerEntry ToEntry(const LedgerRow& row, absl::Time now);

inline constexpr int kExplanationSize = 10;
// The explanation of row as of now: the `top` counted interactions of
// `interactions` with the largest decayed weights (newer first on a tie),
// and what the others add (decayed_sum from row.anchored, the balance from
// row's given and received, so the parts add up to the entry exactly).
pb::LedgerExplanation Explain(const LedgerRow& row, const std::vector<pb::Interaction>& interactions, absl::Time now,
                              int top = kExplanationSize);

}  // namespace rapport::interactions

#endif  // RAPPORT_SERVICES_INTERACTIONS_LEDGER_H_
