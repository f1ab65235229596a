#include "services/interactions/ledger.h"

#include <algorithm>
#include <cmath>

#include "services/common/time_util.h"

namespace rapport::interactions {
namespace {

// 2020-01-01T00:00:00Z: the anchor of the decayed sums.
constexpr int64_t kAnchorUs = int64_t{1577836800} * 1000000;
constexpr double kHalfLifeUs = kHalfLifeDays * 86400.0 * 1e6;
constexpr int64_t kDayUs = int64_t{86400} * 1000000;

}  // namespace

int64_t KindWeightMilli(pb::InteractionKind kind) {
  switch (kind) {
    case pb::REFERRAL:
      return 6000;
    case pb::INTRODUCTION:
      return 5000;
    case pb::RECOMMENDATION:
      return 4000;
    case pb::MEETING:
      return 3000;
    case pb::FAVOR:
      return 3000;
    case pb::CONVERSATION:
      return 2000;
    case pb::CALL:
      return 2000;
    case pb::ENDORSEMENT:
      return 2000;
    case pb::GIFT:
      return 2000;
    case pb::EVENT:
      return 1500;
    case pb::EMAIL:
      return 1000;
    case pb::MESSAGE:
      return 1000;
    case pb::BIRTHDAY_GREETING:
      return 1000;
    case pb::CONGRATULATION:
      return 1000;
    case pb::COMMENT:
      return 500;
    case pb::POST_SHARED:
      return 500;
    default:
      return 0;
  }
}

int64_t LedgerRow::next_due_us() const { return last_us == 0 ? 0 : last_us + int64_t{cadence_days} * kDayUs; }

double AnchoredWeight(int64_t weight_milli, int64_t occurred_us) {
  return (static_cast<double>(weight_milli) / 1000.0) *
         std::exp2(static_cast<double>(occurred_us - kAnchorUs) / kHalfLifeUs);
}

bool Counts(const pb::Interaction& interaction) {
  return interaction.state() != pb::PLANNED && interaction.state() != pb::CANCELLED;
}

void ApplyContribution(const pb::Interaction& interaction, int sign, LedgerRow* row) {
  if (!Counts(interaction)) return;
  int64_t w = KindWeightMilli(interaction.kind());
  if (interaction.direction() == pb::GAVE) row->given_milli += sign * w;
  if (interaction.direction() == pb::RECEIVED) row->received_milli += sign * w;
  row->count += sign;
  row->anchored += sign * AnchoredWeight(w, TimestampToMicros(interaction.occurred_at()));
  // Floating residue must not outlive the last interaction.
  if (row->count == 0 || row->anchored < 0) row->anchored = 0;
  if (sign > 0) row->last_us = std::max(row->last_us, TimestampToMicros(interaction.occurred_at()));
}

double StrengthAt(double anchored, absl::Time now) {
  double decayed = anchored * std::exp2(-static_cast<double>(ToMicros(now) - kAnchorUs) / kHalfLifeUs);
  return 100.0 * (1.0 - std::exp(-decayed / kStrengthScale));
}

pb::LedgerEntry ToEntry(const LedgerRow& row, absl::Time now) {
  pb::LedgerEntry e;
  e.set_contact_id(row.contact_id);
  e.set_strength(std::round(StrengthAt(row.anchored, now) * 100.0) / 100.0);
  e.set_given(row.given_milli / 1000.0);
  e.set_received(row.received_milli / 1000.0);
  e.set_balance(row.balance_milli() / 1000.0);
  e.set_interaction_count(static_cast<int32_t>(row.count));
  e.set_cadence_days(row.cadence_days);
  if (row.last_us != 0) {
    *e.mutable_last_interaction_time() = ToTimestamp(row.last_us);
    *e.mutable_next_due_time() = ToTimestamp(row.next_due_us());
    int64_t late = ToMicros(now) - row.next_due_us();
    e.set_overdue_days(late > 0 ? static_cast<int32_t>(late / kDayUs) : 0);
  }
  return e;
}

pb::LedgerExplanation Explain(const LedgerRow& row, const std::vector<pb::Interaction>& interactions, absl::Time now,
                              int top) {
  const double decay = std::exp2(-static_cast<double>(ToMicros(now) - kAnchorUs) / kHalfLifeUs);
  std::vector<pb::LedgerContribution> all;
  for (const pb::Interaction& i : interactions) {
    if (!Counts(i)) continue;
    const int64_t w = KindWeightMilli(i.kind());
    pb::LedgerContribution c;
    c.set_interaction_id(i.id());
    c.set_kind(i.kind());
    c.set_direction(i.direction());
    *c.mutable_occurred_at() = i.occurred_at();
    c.set_summary(i.summary());
    c.set_weight(w / 1000.0);
    c.set_decayed_weight(AnchoredWeight(w, TimestampToMicros(i.occurred_at())) * decay);
    c.set_balance(i.direction() == pb::GAVE ? w / 1000.0 : i.direction() == pb::RECEIVED ? -w / 1000.0 : 0.0);
    all.push_back(std::move(c));
  }
  std::sort(all.begin(), all.end(), [](const pb::LedgerContribution& a, const pb::LedgerContribution& b) {
    if (a.decayed_weight() != b.decayed_weight()) return a.decayed_weight() > b.decayed_weight();
    int64_t ta = TimestampToMicros(a.occurred_at()), tb = TimestampToMicros(b.occurred_at());
    if (ta != tb) return ta > tb;
    return a.interaction_id() > b.interaction_id();
  });
  pb::LedgerExplanation x;
  const double sum = row.anchored * decay;
  x.set_decayed_sum(sum);
  double listed = 0, listed_balance = 0;
  for (size_t i = 0; i < all.size() && static_cast<int>(i) < top; ++i) {
    listed += all[i].decayed_weight();
    listed_balance += all[i].balance();
    *x.add_top() = std::move(all[i]);
  }
  x.set_others_count(static_cast<int32_t>(all.size() - static_cast<size_t>(x.top_size())));
  // The rest by difference, so that the parts add up to the entry; no
  // negative residue from rounding when nothing is left.
  x.set_others_decayed_weight(x.others_count() == 0 ? 0.0 : std::max(0.0, sum - listed));
  x.set_others_balance(x.others_count() == 0 ? 0.0 : row.balance_milli() / 1000.0 - listed_balance);
  if (x.others_count() == 0) x.set_decayed_sum(listed);
  return x;
}

}  // namespace rapport::interactions
