// Local times in the user's zone: daylight-saving changes, Feb 29, year
// wrap, and parsing of "HH:MM" and zone names.
#include "services/notifications/local_time.h"

#include <gtest/gtest.h>

#include <string>

namespace rapport::notifications {
namespace {

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone z;
  EXPECT_TRUE(absl::LoadTimeZone(name, &z)) << name;
  return z;
}

absl::Time Utc(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

std::string Fmt(absl::Time t, absl::TimeZone z) { return absl::FormatTime("%Y-%m-%d %H:%M %Ez", t, z); }

TEST(LocalTime, NineLocalFollowsDaylightSavingChanges) {
  absl::TimeZone paris = Zone("Europe/Paris");
  // Spring forward on 2026-03-29: the day before is UTC+1, the day after UTC+2.
  absl::Time sat = Utc(2026, 3, 28, 12, 0);
  EXPECT_EQ(Fmt(DaysLaterAt(sat, 0, 9 * 60, paris), paris), "2026-03-28 09:00 +01:00");
  EXPECT_EQ(Fmt(DaysLaterAt(sat, 1, 9 * 60, paris), paris), "2026-03-29 09:00 +02:00");
  EXPECT_EQ(DaysLaterAt(sat, 1, 9 * 60, paris), Utc(2026, 3, 29, 7, 0));
  // A wall time skipped by the jump (02:30) fires at the jump, the first valid time.
  EXPECT_EQ(Fmt(DaysLaterAt(sat, 1, 2 * 60 + 30, paris), paris), "2026-03-29 03:00 +02:00");
  // Fall back on 2026-10-25: 09:00 is at UTC+1 again.
  EXPECT_EQ(DaysLaterAt(Utc(2026, 10, 24, 12, 0), 1, 9 * 60, paris), Utc(2026, 10, 25, 8, 0));
  // New York changes on another day (2026-03-08).
  absl::TimeZone ny = Zone("America/New_York");
  EXPECT_EQ(NextDaily(Utc(2026, 3, 7, 15, 0), 8 * 60, ny), Utc(2026, 3, 8, 12, 0));
  EXPECT_EQ(NextDaily(Utc(2026, 3, 8, 12, 0), 8 * 60, ny), Utc(2026, 3, 9, 12, 0));  // strictly after
}

TEST(LocalTime, AnnualDatesHandleFeb29AndYearWrap) {
  absl::TimeZone utc = absl::UTCTimeZone();
  struct Case {
    absl::Time after;
    int month, day, offset;
    std::string want;
  };
  const Case cases[] = {
      {Utc(2026, 1, 10, 0, 0), 2, 29, 0, "2026-02-28 09:00 +00:00"},   // common year: Feb 28
      {Utc(2027, 3, 1, 0, 0), 2, 29, 0, "2028-02-29 09:00 +00:00"},    // next leap year: Feb 29
      {Utc(2026, 12, 30, 0, 0), 1, 2, 0, "2027-01-02 09:00 +00:00"},   // year wrap
      {Utc(2026, 12, 20, 0, 0), 1, 3, -7, "2026-12-27 09:00 +00:00"},  // heads-up crosses into the year before
      {Utc(2026, 12, 28, 0, 0), 1, 3, -7, "2027-12-27 09:00 +00:00"},  // already past: next year's
      {Utc(2026, 6, 1, 9, 0), 6, 1, 0, "2027-06-01 09:00 +00:00"},     // exactly now is not after now
      {Utc(2026, 2, 20, 0, 0), 2, 29, -7, "2026-02-21 09:00 +00:00"},  // a week before Feb 28
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Fmt(NextAnnual(c.after, c.month, c.day, c.offset, 9 * 60, utc), utc), c.want)
        << c.month << "/" << c.day << " offset " << c.offset;
  }
  // In the user's zone: 09:00 Tokyo is 00:00 UTC.
  EXPECT_EQ(NextAnnual(Utc(2026, 1, 1, 0, 0), 5, 5, 0, 9 * 60, Zone("Asia/Tokyo")), Utc(2026, 5, 5, 0, 0));
}

TEST(LocalTime, ParsesLocalTimesAndZones) {
  EXPECT_EQ(*ParseLocalTime("t", ""), 9 * 60);
  EXPECT_EQ(*ParseLocalTime("t", "23:59"), 23 * 60 + 59);
  for (const char* bad : {"24:00", "9:00", "09:60", "ab:cd", "09-00"}) {
    absl::StatusOr<int> m = ParseLocalTime("trigger.localTime", bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(m.status().message().substr(0, 18), "trigger.localTime:");
  }
  EXPECT_FALSE(LoadZone("Mars/Olympus").ok());
  EXPECT_EQ(ZoneOrUtc("Mars/Olympus"), absl::UTCTimeZone());
}

}  // namespace
}  // namespace rapport::notifications
