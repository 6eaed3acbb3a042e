#include "core/time_format.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

using std::chrono::sys_days;
using std::chrono::year_month_day;
using namespace std::chrono_literals;

Time At(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return Time{sys_days{
             year_month_day{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}}}} +
         hours{hh} + minutes{mm} + seconds{ss};
}

TEST(TimeFormatTest, FormatsUtc) {
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(At(2026, 3, 1, 12, 5, 9)), "2026-03-01T12:05:09Z");
  EXPECT_EQ(FormatRfc3339(At(2024, 2, 29, 23, 59, 59)), "2024-02-29T23:59:59Z");
  EXPECT_EQ(FormatDate(At(2026, 3, 1, 23, 59, 59)), "2026-03-01");
  // 1700000000 is 2023-11-14T22:13:20Z (date -u -d @1700000000).
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(1700000000)), "2023-11-14T22:13:20Z");
}

TEST(TimeFormatTest, ValidInputs) {
  struct Case {
    std::string_view input;
    Time expected;
    bool date_only;
  };
  const Case cases[] = {
      {"2024-02-29", At(2024, 2, 29, 23, 59, 59), true},
      {"2026-12-31", At(2026, 12, 31, 23, 59, 59), true},
      {"1970-01-01", At(1970, 1, 1, 23, 59, 59), true},
      {"9999-12-31", At(9999, 12, 31, 23, 59, 59), true},
      {"2000-02-29", At(2000, 2, 29, 23, 59, 59), true},
      {"2026-03-01T12:00:00Z", At(2026, 3, 1, 12), false},
      {"2026-03-01t12:00:00z", At(2026, 3, 1, 12), false},
      {"2026-03-01T12:00:00.999Z", At(2026, 3, 1, 12), false},
      {"2026-03-01T12:00:00.123456789Z", At(2026, 3, 1, 12), false},
      {"2026-03-01T23:59:59Z", At(2026, 3, 1, 23, 59, 59), false},
      // Offsets are normalised to UTC.
      {"2026-03-01T12:00:00+02:00", At(2026, 3, 1, 10), false},
      {"2026-03-01T12:00:00-05:30", At(2026, 3, 1, 17, 30), false},
      {"2026-03-01T01:00:00+02:00", At(2026, 2, 28, 23), false},
      {"2026-12-31T22:00:00-03:00", At(2027, 1, 1, 1), false},
      {"2026-03-01T12:00:00+00:00", At(2026, 3, 1, 12), false},
      {"2026-03-01T12:00:00-00:00", At(2026, 3, 1, 12), false},
  };
  for (const Case& c : cases) {
    std::optional<ParsedExpiry> parsed = ParseExpiry(c.input);
    ASSERT_TRUE(parsed.has_value()) << c.input;
    EXPECT_EQ(parsed->time, c.expected) << c.input << " -> " << FormatRfc3339(parsed->time);
    EXPECT_EQ(parsed->date_only, c.date_only) << c.input;
    std::optional<Time> rfc = ParseRfc3339(c.input);
    if (c.date_only) {
      EXPECT_EQ(rfc, std::nullopt) << "date-only is not RFC 3339: " << c.input;
    } else {
      EXPECT_EQ(rfc, c.expected) << c.input;
    }
  }
}

TEST(TimeFormatTest, InvalidInputsAreRefused) {
  const std::string_view cases[] = {
      "",
      "2025-02-29",  // not a leap year
      "2025-02-30",
      "2025-13-01",
      "2025-00-10",
      "2025-01-00",
      "2025-01-32",
      "2025-04-31",
      "1900-02-29",
      "1969-12-31",  // before the epoch
      "10000-01-01",
      "0000-01-01",
      "2025-1-01",
      "2025-01-1",
      "25-01-01",
      "2025/01/01",
      "20250101",
      "2025-01-01 ",
      " 2025-01-01",
      "2025-01-01x",
      "2025-01-01T",
      "2025-01-01T12:00",
      "2025-01-01T12:00Z",
      "2025-01-01T12:00:00",  // no offset
      "2025-01-01 12:00:00Z",
      "2025-01-01T23:59:60Z",  // leap second
      "2025-01-01T24:00:00Z",
      "2025-01-01T12:60:00Z",
      "2025-01-01T12:00:00.Z",
      "2025-01-01T12:00:00.1234567890Z",
      "2025-01-01T12:00:00ZZ",
      "2025-01-01T12:00:00Z ",
      "2025-01-01T12:00:00+2:00",
      "2025-01-01T12:00:00+02",
      "2025-01-01T12:00:00+0200",
      "2025-01-01T12:00:00+24:00",
      "2025-01-01T12:00:00+02:60",
      "2025-01-01T12:00:00+02:00junk",
      "2025-02-30T12:00:00Z",
      "+2025-01-01",
      "-2025-01-01",
      "２０２５-01-01",  // full-width digits
  };
  for (std::string_view input : cases) {
    EXPECT_EQ(ParseExpiry(input), std::nullopt) << "'" << input << "'";
    EXPECT_EQ(ParseRfc3339(input), std::nullopt) << "'" << input << "'";
  }
  std::string with_nul("2025-01-01\0", 11);
  EXPECT_EQ(ParseExpiry(with_nul), std::nullopt);
}

TEST(TimeFormatTest, FormatThenParseRoundTrips) {
  for (std::int64_t s : {0LL, 1LL, 951782400LL, 1700000000LL, 4102444799LL}) {
    Time t = FromUnixSeconds(s);
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t) << s;
  }
}

}  // namespace
}  // namespace tokend::core
