#include "services/notifications/local_time.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rapport::notifications {

absl::StatusOr<absl::TimeZone> LoadZone(const std::string& name) {
  absl::TimeZone zone = absl::UTCTimeZone();
  if (name.empty()) return zone;
  if (!absl::LoadTimeZone(name, &zone))
    return absl::InvalidArgumentError(absl::StrCat("timezone: unknown zone ", name));
  return zone;
}

absl::TimeZone ZoneOrUtc(const std::string& name) {
  absl::StatusOr<absl::TimeZone> zone = LoadZone(name);
  return zone.ok() ? *zone : absl::UTCTimeZone();
}

absl::StatusOr<int> ParseLocalTime(std::string_view field, std::string_view hhmm) {
  if (hhmm.empty()) return 9 * 60;
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": must be HH:MM, 00:00 to 23:59"));
  };
  if (hhmm.size() != 5 || hhmm[2] != ':') return bad();
  for (int i : {0, 1, 3, 4}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(hhmm[i]))) return bad();
  }
  int h = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
  int m = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
  if (h > 23 || m > 59) return bad();
  return h * 60 + m;
}

absl::Time AtLocal(absl::CivilDay day, int minute_of_day, absl::TimeZone zone) {
  absl::CivilSecond cs(day.year(), day.month(), day.day(), minute_of_day / 60, minute_of_day % 60, 0);
  return absl::FromCivil(cs, zone);
}

absl::Time DaysLaterAt(absl::Time from, int days, int minute_of_day, absl::TimeZone zone) {
  absl::CivilDay day = absl::ToCivilDay(from, zone) + days;
  return AtLocal(day, minute_of_day, zone);
}

absl::Time NextDaily(absl::Time after, int minute_of_day, absl::TimeZone zone) {
  absl::CivilDay day = absl::ToCivilDay(after, zone);
  for (int i = 0; i < 3; ++i) {
    absl::Time t = AtLocal(day + i, minute_of_day, zone);
    if (t > after) return t;
  }
  return AtLocal(day + 3, minute_of_day, zone);  // unreachable: one of the next days is later
}

absl::CivilDay AnnualDate(int64_t year, int month, int day) {
  if (month == 2 && day == 29) {
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (!leap) return absl::CivilDay(year, 2, 28);
  }
  return absl::CivilDay(year, month, day);
}

absl::Time NextAnnual(absl::Time after, int month, int day, int offset_days, int minute_of_day, absl::TimeZone zone) {
  int64_t year = absl::ToCivilYear(after, zone).year();
  // An offset of up to a year moves the occurrence of year Y into Y-1 or
  // Y+1, so scanning from the year before covers every case.
  int64_t first = year - 1 - (offset_days < 0 ? -offset_days : offset_days) / 365;
  for (int64_t y = first; y < year + 3 + (offset_days < 0 ? -offset_days : offset_days) / 365; ++y) {
    absl::Time t = AtLocal(AnnualDate(y, month, day) + offset_days, minute_of_day, zone);
    if (t > after) return t;
  }
  return absl::InfiniteFuture();
}

std::string LocalDate(absl::Time t, absl::TimeZone zone) {
  absl::CivilDay d = absl::ToCivilDay(t, zone);
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

}  // namespace rapport::notifications
