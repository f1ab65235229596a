// Table tests of the RRULE subset: parsing (each bad part named) and the
// expansion in a user's zone, across DST changes, skipped dates (31st,
// Feb 29), ordinals, COUNT and UNTIL.
#include "services/notifications/recurrence.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"

namespace rapport::notifications {
namespace {

struct ExpandCase {
  std::string name;
  std::string zone;
  absl::CivilSecond dtstart;  // local
  std::string rule;
  absl::CivilSecond after;  // local; occurrences strictly after it
  int n;
  std::vector<std::string> want;  // local "YYYY-MM-DD HH:MM"
};

class ExpandTest : public ::testing::TestWithParam<ExpandCase> {};

TEST_P(ExpandTest, Occurrences) {
  const ExpandCase& c = GetParam();
  absl::TimeZone zone;
  ASSERT_TRUE(absl::LoadTimeZone(c.zone, &zone));
  absl::StatusOr<Recurrence> rule = ParseRecurrence("recurrence", c.rule);
  ASSERT_TRUE(rule.ok()) << rule.status();
  std::vector<absl::Time> got =
      NextOccurrences(*rule, absl::FromCivil(c.dtstart, zone), zone, absl::FromCivil(c.after, zone), c.n);
  std::vector<std::string> local;
  for (absl::Time t : got) local.push_back(absl::FormatTime("%Y-%m-%d %H:%M", t, zone));
  EXPECT_EQ(local, c.want);
}

using CS = absl::CivilSecond;

INSTANTIATE_TEST_SUITE_P(
    Rules, ExpandTest,
    ::testing::Values(
        // 09:00 local stays 09:00 local when New York springs forward (Mar 8, 2026).
        ExpandCase{"WeeklyAcrossSpringForward",
                   "America/New_York",
                   CS(2026, 3, 2, 9, 0, 0),
                   "FREQ=WEEKLY",
                   CS(2026, 3, 1, 0, 0, 0),
                   3,
                   {"2026-03-02 09:00", "2026-03-09 09:00", "2026-03-16 09:00"}},
        // ... and when it falls back (Nov 1, 2026).
        ExpandCase{"WeeklyAcrossFallBack",
                   "America/New_York",
                   CS(2026, 10, 26, 9, 0, 0),
                   "FREQ=WEEKLY;COUNT=3",
                   CS(2026, 10, 1, 0, 0, 0),
                   5,
                   {"2026-10-26 09:00", "2026-11-02 09:00", "2026-11-09 09:00"}},
        // 02:30 does not exist on Mar 8 in New York: that day's occurrence is at the jump, 03:00 EDT.
        ExpandCase{"DailyInTheGap",
                   "America/New_York",
                   CS(2026, 3, 7, 2, 30, 0),
                   "FREQ=DAILY",
                   CS(2026, 3, 1, 0, 0, 0),
                   3,
                   {"2026-03-07 02:30", "2026-03-08 03:00", "2026-03-09 02:30"}},
        // The 31st is skipped in months without one (RFC 5545 3.3.10).
        ExpandCase{"MonthlyOnThe31st",
                   "Europe/Berlin",
                   CS(2026, 1, 31, 8, 0, 0),
                   "FREQ=MONTHLY",
                   CS(2026, 1, 1, 0, 0, 0),
                   4,
                   {"2026-01-31 08:00", "2026-03-31 08:00", "2026-05-31 08:00", "2026-07-31 08:00"}},
        // Feb 29 yearly: only in leap years.
        ExpandCase{"YearlyOnFeb29",
                   "UTC",
                   CS(2028, 2, 29, 12, 0, 0),
                   "FREQ=YEARLY;COUNT=3",
                   CS(2028, 1, 1, 0, 0, 0),
                   5,
                   {"2028-02-29 12:00", "2032-02-29 12:00", "2036-02-29 12:00"}},
        ExpandCase{"MonthlyLastDay",
                   "UTC",
                   CS(2026, 1, 31, 9, 0, 0),
                   "FREQ=MONTHLY;BYMONTHDAY=-1",
                   CS(2026, 1, 1, 0, 0, 0),
                   3,
                   {"2026-01-31 09:00", "2026-02-28 09:00", "2026-03-31 09:00"}},
        ExpandCase{"MonthlyLastFriday",
                   "America/New_York",
                   CS(2026, 1, 30, 17, 0, 0),
                   "FREQ=MONTHLY;BYDAY=-1FR",
                   CS(2026, 1, 1, 0, 0, 0),
                   4,
                   {"2026-01-30 17:00", "2026-02-27 17:00", "2026-03-27 17:00", "2026-04-24 17:00"}},
        ExpandCase{"MonthlyFirstMonday",
                   "UTC",
                   CS(2026, 1, 5, 9, 0, 0),
                   "FREQ=MONTHLY;BYDAY=1MO",
                   CS(2026, 1, 1, 0, 0, 0),
                   3,
                   {"2026-01-05 09:00", "2026-02-02 09:00", "2026-03-02 09:00"}},
        ExpandCase{
            "EveryOtherWeekMonWedFri",
            "UTC",
            CS(2026, 1, 5, 9, 0, 0),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR",
            CS(2026, 1, 1, 0, 0, 0),
            5,
            {"2026-01-05 09:00", "2026-01-07 09:00", "2026-01-09 09:00", "2026-01-19 09:00", "2026-01-21 09:00"}},
        // UNTIL as a date includes that whole local day.
        ExpandCase{"DailyUntilDate",
                   "Asia/Tokyo",
                   CS(2026, 1, 1, 9, 0, 0),
                   "FREQ=DAILY;INTERVAL=3;UNTIL=20260110",
                   CS(2025, 12, 1, 0, 0, 0),
                   10,
                   {"2026-01-01 09:00", "2026-01-04 09:00", "2026-01-07 09:00", "2026-01-10 09:00"}},
        ExpandCase{"UntilUtcInstant",
                   "UTC",
                   CS(2026, 1, 1, 9, 0, 0),
                   "FREQ=DAILY;UNTIL=20260103T090000Z",
                   CS(2025, 12, 1, 0, 0, 0),
                   10,
                   {"2026-01-01 09:00", "2026-01-02 09:00", "2026-01-03 09:00"}},
        // DTSTART counts as the first occurrence even when the rule would not produce it.
        ExpandCase{"CountIncludesDtstart",
                   "UTC",
                   CS(2026, 1, 6, 9, 0, 0),
                   "FREQ=WEEKLY;BYDAY=MO;COUNT=2",
                   CS(2026, 1, 1, 0, 0, 0),
                   5,
                   {"2026-01-06 09:00", "2026-01-12 09:00"}},
        // Occurrences strictly after `after`; COUNT still counts from DTSTART.
        ExpandCase{"AfterTheFirstFew",
                   "UTC",
                   CS(2026, 1, 1, 9, 0, 0),
                   "FREQ=DAILY;COUNT=5",
                   CS(2026, 1, 3, 9, 0, 0),
                   5,
                   {"2026-01-04 09:00", "2026-01-05 09:00"}},
        ExpandCase{"Yearly",
                   "UTC",
                   CS(2026, 6, 15, 9, 0, 0),
                   "RRULE:FREQ=YEARLY;INTERVAL=2",
                   CS(2026, 6, 15, 9, 0, 0),
                   2,
                   {"2028-06-15 09:00", "2030-06-15 09:00"}},
        ExpandCase{"DailyWeekdaysOnly",
                   "UTC",
                   CS(2026, 1, 9, 9, 0, 0),
                   "freq=daily;byday=mo,tu,we,th,fr",
                   CS(2026, 1, 1, 0, 0, 0),
                   3,
                   {"2026-01-09 09:00", "2026-01-12 09:00", "2026-01-13 09:00"}},
        // A rule that can never match again ends instead of looping.
        ExpandCase{"NeverAgain",
                   "UTC",
                   CS(2026, 2, 28, 9, 0, 0),
                   "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31",
                   CS(2026, 1, 1, 0, 0, 0),
                   3,
                   {"2026-02-28 09:00"}}),
    [](const ::testing::TestParamInfo<ExpandCase>& info) { return info.param.name; });

TEST(Recurrence, DstKeepsLocalTimeNotUtc) {
  absl::TimeZone ny;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &ny));
  auto rule = ParseRecurrence("recurrence", "FREQ=WEEKLY");
  ASSERT_TRUE(rule.ok());
  absl::Time start = absl::FromCivil(CS(2026, 3, 2, 9, 0, 0), ny);
  std::vector<absl::Time> got = NextOccurrences(*rule, start, ny, start, 1);
  ASSERT_EQ(got.size(), 1u);
  // A week later in UTC minus the hour New York skipped.
  EXPECT_EQ(got[0] - start, absl::Hours(7 * 24 - 1));
}

struct BadCase {
  std::string rule;
  std::string message;  // the whole message after "recurrence: "
};

class BadRuleTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRuleTest, NamesThePart) {
  absl::StatusOr<Recurrence> r = ParseRecurrence("recurrence", GetParam().rule);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "recurrence: " + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BadRuleTest,
    ::testing::Values(
        BadCase{"FREQ=WEEKLY;BYDAY=XX", "BYDAY: \"XX\" is not a weekday"},
        BadCase{"FREQ=WEEKLY;BYDAY=MO,", "BYDAY: \"\" is not a weekday"},
        BadCase{"FREQ=HOURLY", "FREQ: \"HOURLY\" is not DAILY, WEEKLY, MONTHLY or YEARLY"},
        BadCase{"BYDAY=MO", "FREQ: is required (DAILY, WEEKLY, MONTHLY or YEARLY)"},
        BadCase{"FREQ=WEEKLY;BYDAY=1MO", "BYDAY: \"1MO\": an ordinal is allowed only with FREQ=MONTHLY or FREQ=YEARLY"},
        BadCase{"FREQ=MONTHLY;BYDAY=6MO", "BYDAY: \"6MO\": the ordinal must be within -5 to 5"},
        BadCase{"FREQ=MONTHLY;BYDAY=XMO", "BYDAY: \"XMO\" is not a weekday"},
        BadCase{"FREQ=DAILY;INTERVAL=0", "INTERVAL: must be a whole number from 1 to 1000"},
        BadCase{"FREQ=DAILY;INTERVAL=two", "INTERVAL: must be a whole number from 1 to 1000"},
        BadCase{"FREQ=DAILY;COUNT=0", "COUNT: must be a whole number from 1 to 1000"},
        BadCase{"FREQ=DAILY;COUNT=-3", "COUNT: must be a whole number from 1 to 1000"},
        BadCase{"FREQ=DAILY;UNTIL=2026",
                "UNTIL: \"2026\" is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, Z for UTC)"},
        BadCase{"FREQ=DAILY;UNTIL=20260230",
                "UNTIL: \"20260230\" is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, Z for UTC)"},
        BadCase{"FREQ=DAILY;COUNT=2;UNTIL=20260101", "UNTIL: cannot be combined with COUNT"},
        BadCase{"FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY: is not allowed with FREQ=WEEKLY"},
        BadCase{"FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY: \"32\" is not a day of the month (1 to 31, or -1 to -31)"},
        BadCase{"FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY: \"0\" is not a day of the month (1 to 31, or -1 to -31)"},
        BadCase{"FREQ=DAILY;BYHOUR=9",
                "BYHOUR: is not supported (FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL and WKST=MO are)"},
        BadCase{"FREQ=DAILY;FREQ=WEEKLY", "FREQ: is given twice"},
        BadCase{"FREQ=WEEKLY;WKST=SU", "WKST: only MO (weeks start on Monday) is supported"},
        BadCase{"FREQ", "\"FREQ\" is not NAME=VALUE"}));

}  // namespace
}  // namespace rapport::notifications
