// RFC 3339 and date-only parsing and formatting, strict: no invented dates.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace tokend::core {

// "2026-03-01T12:00:00Z". REQUIRES: `t` in the years 1970-9999, as every time tokend makes or
// accepts is (ParseExpiry's bounds).
std::string FormatRfc3339(Time t);
// "2026-03-01"
std::string FormatDate(Time t);

struct ParsedExpiry {
  Time time;
  bool date_only;  // the input was YYYY-MM-DD: `time` is the end of that day (23:59:59Z)
};
// Accepts "YYYY-MM-DD" (end of that day, UTC) or RFC 3339 with "Z" or a numeric offset,
// optional fractional seconds (truncated). Refuses impossible dates (2025-02-30), leap
// seconds (23:59:60), years outside 1970..9999, and anything else. nullopt on failure.
std::optional<ParsedExpiry> ParseExpiry(std::string_view text);
// RFC 3339 only.
std::optional<Time> ParseRfc3339(std::string_view text);

}  // namespace tokend::core
