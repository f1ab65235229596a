#include "services/notifications/recurrence.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rapport::notifications {
namespace {

// A rule that finds nothing this long after its start or the asked instant
// never will (the calendar's weekday pattern repeats well within it).
constexpr int kHorizonYears = 60;

absl::Status Bad(absl::string_view field, absl::string_view part, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", part, ": ", why));
}

std::optional<absl::Weekday> ParseWeekday(absl::string_view s) {
  static constexpr std::pair<const char*, absl::Weekday> kDays[] = {
      {"MO", absl::Weekday::monday},   {"TU", absl::Weekday::tuesday}, {"WE", absl::Weekday::wednesday},
      {"TH", absl::Weekday::thursday}, {"FR", absl::Weekday::friday},  {"SA", absl::Weekday::saturday},
      {"SU", absl::Weekday::sunday}};
  for (const auto& [name, day] : kDays) {
    if (s == name) return day;
  }
  return std::nullopt;
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// "YYYYMMDD", "YYYYMMDDTHHMMSS" or "YYYYMMDDTHHMMSSZ".
std::optional<UntilRule> ParseUntil(absl::string_view s) {
  bool utc = absl::ConsumeSuffix(&s, "Z");
  absl::string_view date = s.substr(0, 8);
  if (!AllDigits(date) || (s.size() != 8 && s.size() != 15)) return std::nullopt;
  int y = 0, mo = 0, d = 0, h = 23, mi = 59, sec = 59;
  if (!absl::SimpleAtoi(date.substr(0, 4), &y) || !absl::SimpleAtoi(date.substr(4, 2), &mo) ||
      !absl::SimpleAtoi(date.substr(6, 2), &d)) {
    return std::nullopt;
  }
  if (s.size() == 15) {
    absl::string_view time = s.substr(9);
    if (s[8] != 'T' || !AllDigits(time) || !absl::SimpleAtoi(time.substr(0, 2), &h) ||
        !absl::SimpleAtoi(time.substr(2, 2), &mi) || !absl::SimpleAtoi(time.substr(4, 2), &sec)) {
      return std::nullopt;
    }
  } else if (utc) {
    return std::nullopt;  // a date has no zone
  }
  absl::CivilSecond cs(y, mo, d, h, mi, sec);
  // CivilSecond normalizes (Feb 30 -> Mar 2): a value that moved was not a date.
  if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.hour() != h || cs.minute() != mi ||
      cs.second() != sec || y < 1970 || y > 9999) {
    return std::nullopt;
  }
  UntilRule out;
  out.utc = utc;
  out.local = cs;
  if (utc) out.instant = absl::FromCivil(cs, absl::UTCTimeZone());
  return out;
}

int DaysInMonth(absl::CivilMonth m) { return static_cast<int>(absl::CivilDay(m + 1) - absl::CivilDay(m)); }

bool MatchesMonthDay(const Recurrence& rule, absl::CivilDay d) {
  const int dim = DaysInMonth(absl::CivilMonth(d));
  for (int n : rule.by_month_day) {
    if ((n > 0 && d.day() == n) || (n < 0 && d.day() == dim + 1 + n)) return true;
  }
  return false;
}

// first..last: the period (month or year) that ordinals count in.
bool MatchesWeekday(const Recurrence& rule, absl::CivilDay d, absl::CivilDay first, absl::CivilDay last) {
  const absl::Weekday wd = absl::GetWeekday(d);
  for (const WeekdayRule& r : rule.by_day) {
    if (r.weekday != wd) continue;
    if (r.ordinal == 0) return true;
    if (r.ordinal > 0 && (d - first) / 7 + 1 == r.ordinal) return true;
    if (r.ordinal < 0 && (last - d) / 7 + 1 == -r.ordinal) return true;
  }
  return false;
}

bool Matches(const Recurrence& rule, absl::CivilDay d, absl::CivilDay start, absl::CivilDay first,
             absl::CivilDay last) {
  if (!rule.by_month_day.empty() && !MatchesMonthDay(rule, d)) return false;
  if (!rule.by_day.empty() && !MatchesWeekday(rule, d, first, last)) return false;
  if (!rule.by_month_day.empty() || !rule.by_day.empty()) return true;
  // No BYxxx: the day, weekday, day of month or date of DTSTART.
  switch (rule.freq) {
    case Frequency::kDaily:
      return true;
    case Frequency::kWeekly:
      return absl::GetWeekday(d) == absl::GetWeekday(start);
    case Frequency::kMonthly:
      return d.day() == start.day();
    case Frequency::kYearly:
      return d.month() == start.month() && d.day() == start.day();
  }
  return false;
}

// The first and last day of the k-th period of the series.
std::pair<absl::CivilDay, absl::CivilDay> Period(const Recurrence& rule, absl::CivilDay start, int64_t k) {
  const int64_t step = k * rule.interval;
  switch (rule.freq) {
    case Frequency::kDaily: {
      absl::CivilDay d = start + step;
      return {d, d};
    }
    case Frequency::kWeekly: {
      // Weeks start on Monday (WKST=MO).
      absl::CivilDay monday = absl::PrevWeekday(start + 1, absl::Weekday::monday) + 7 * step;
      return {monday, monday + 6};
    }
    case Frequency::kMonthly: {
      absl::CivilMonth m = absl::CivilMonth(start) + step;
      return {absl::CivilDay(m), absl::CivilDay(m + 1) - 1};
    }
    case Frequency::kYearly: {
      absl::CivilYear y = absl::CivilYear(start) + step;
      return {absl::CivilDay(y), absl::CivilDay(y + 1) - 1};
    }
  }
  return {start, start};
}

}  // namespace

absl::StatusOr<Recurrence> ParseRecurrence(absl::string_view field, absl::string_view text) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  absl::string_view rule = upper;
  absl::ConsumePrefix(&rule, "RRULE:");
  if (text.size() > kMaxRecurrenceLength) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is longer than ", kMaxRecurrenceLength, " characters"));
  }
  Recurrence out;
  bool has_freq = false;
  std::vector<std::string> seen;
  std::vector<absl::string_view> days;
  for (absl::string_view part : absl::StrSplit(rule, ';', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    const std::string name(kv.first);
    absl::string_view value = kv.second;
    if (part.find('=') == absl::string_view::npos || name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": \"", part, "\" is not NAME=VALUE"));
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) return Bad(field, name, "is given twice");
    seen.push_back(name);
    if (name == "FREQ") {
      has_freq = true;
      if (value == "DAILY") {
        out.freq = Frequency::kDaily;
      } else if (value == "WEEKLY") {
        out.freq = Frequency::kWeekly;
      } else if (value == "MONTHLY") {
        out.freq = Frequency::kMonthly;
      } else if (value == "YEARLY") {
        out.freq = Frequency::kYearly;
      } else {
        return Bad(field, name, absl::StrCat("\"", value, "\" is not DAILY, WEEKLY, MONTHLY or YEARLY"));
      }
    } else if (name == "INTERVAL") {
      if (!AllDigits(value) || !absl::SimpleAtoi(value, &out.interval) || out.interval < 1 ||
          out.interval > kMaxRecurrenceInterval) {
        return Bad(field, name, absl::StrCat("must be a whole number from 1 to ", kMaxRecurrenceInterval));
      }
    } else if (name == "COUNT") {
      if (!AllDigits(value) || !absl::SimpleAtoi(value, &out.count) || out.count < 1 ||
          out.count > kMaxRecurrenceCount) {
        return Bad(field, name, absl::StrCat("must be a whole number from 1 to ", kMaxRecurrenceCount));
      }
    } else if (name == "UNTIL") {
      out.until = ParseUntil(value);
      if (!out.until.has_value()) {
        return Bad(field, name,
                   absl::StrCat("\"", value, "\" is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, Z for UTC)"));
      }
    } else if (name == "BYDAY") {
      days = absl::StrSplit(value, ',');
    } else if (name == "BYMONTHDAY") {
      for (absl::string_view n : absl::StrSplit(value, ',')) {
        int day = 0;
        absl::string_view digits = n;
        absl::ConsumePrefix(&digits, "-") || absl::ConsumePrefix(&digits, "+");
        if (!AllDigits(digits) || !absl::SimpleAtoi(n, &day) || day == 0 || day > 31 || day < -31) {
          return Bad(field, name, absl::StrCat("\"", n, "\" is not a day of the month (1 to 31, or -1 to -31)"));
        }
        out.by_month_day.push_back(day);
      }
    } else if (name == "WKST") {
      if (value != "MO") return Bad(field, name, "only MO (weeks start on Monday) is supported");
    } else {
      return Bad(field, name, "is not supported (FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL and WKST=MO are)");
    }
  }
  if (!has_freq) return Bad(field, "FREQ", "is required (DAILY, WEEKLY, MONTHLY or YEARLY)");
  // BYDAY after FREQ is known: whether ordinals are allowed depends on it.
  const bool ordinals = out.freq == Frequency::kMonthly || out.freq == Frequency::kYearly;
  const int max_ordinal = out.freq == Frequency::kMonthly ? 5 : 53;
  for (absl::string_view d : days) {
    absl::string_view name = d.size() >= 2 ? d.substr(d.size() - 2) : d;
    std::optional<absl::Weekday> wd = ParseWeekday(name);
    if (!wd.has_value()) return Bad(field, "BYDAY", absl::StrCat("\"", d, "\" is not a weekday"));
    WeekdayRule r{0, *wd};
    absl::string_view ord = d.substr(0, d.size() - 2);
    if (!ord.empty()) {
      absl::string_view digits = ord;
      absl::ConsumePrefix(&digits, "-") || absl::ConsumePrefix(&digits, "+");
      if (!AllDigits(digits) || !absl::SimpleAtoi(ord, &r.ordinal) || r.ordinal == 0) {
        return Bad(field, "BYDAY", absl::StrCat("\"", d, "\" is not a weekday"));
      }
      if (!ordinals) {
        return Bad(field, "BYDAY",
                   absl::StrCat("\"", d, "\": an ordinal is allowed only with FREQ=MONTHLY or FREQ=YEARLY"));
      }
      if (r.ordinal > max_ordinal || r.ordinal < -max_ordinal) {
        return Bad(field, "BYDAY",
                   absl::StrCat("\"", d, "\": the ordinal must be within -", max_ordinal, " to ", max_ordinal));
      }
    }
    out.by_day.push_back(r);
  }
  if (out.freq == Frequency::kWeekly && !out.by_month_day.empty()) {
    return Bad(field, "BYMONTHDAY", "is not allowed with FREQ=WEEKLY");
  }
  if (out.count > 0 && out.until.has_value()) return Bad(field, "UNTIL", "cannot be combined with COUNT");
  return out;
}

std::vector<absl::Time> NextOccurrences(const Recurrence& rule, absl::Time dtstart, absl::TimeZone zone,
                                        absl::Time after, int n) {
  std::vector<absl::Time> out;
  if (n <= 0) return out;
  const absl::CivilSecond start = absl::ToCivilSecond(dtstart, zone);
  const absl::CivilDay start_day(start);
  std::optional<absl::Time> until;
  if (rule.until.has_value()) until = rule.until->utc ? rule.until->instant : absl::FromCivil(rule.until->local, zone);
  const absl::CivilDay horizon = absl::ToCivilDay(std::max(after, dtstart), zone) + kHorizonYears * 366;
  int produced = 0;
  // False once the series ended or enough were found.
  auto emit = [&](absl::Time t) {
    if (until.has_value() && t > *until && produced > 0) return false;
    ++produced;
    if (rule.count > 0 && produced > rule.count) return false;
    if (t > after) out.push_back(t);
    return static_cast<int>(out.size()) < n;
  };
  if (!emit(dtstart)) return out;
  for (int64_t k = 0;; ++k) {
    const auto [first, last] = Period(rule, start_day, k);
    if (first > horizon) break;
    for (absl::CivilDay d = first; d <= last; ++d) {
      if (d <= start_day || !Matches(rule, d, start_day, first, last)) continue;
      absl::CivilSecond at(d.year(), d.month(), d.day(), start.hour(), start.minute(), start.second());
      if (!emit(absl::FromCivil(at, zone))) return out;
    }
  }
  return out;
}

}  // namespace rapport::notifications
