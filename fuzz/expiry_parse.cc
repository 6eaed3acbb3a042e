// core::ParseExpiry / ParseRfc3339: never crash, never invent a date. Whatever is accepted
// lies in 1970..9999, formats back to a string that parses to the same instant, and a
// date-only input is the end of that very day.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/time_format.h"
#include "fuzz/fuzz_util.h"

using namespace tokend::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto parsed = ParseExpiry(text)) {
    std::string formatted = FormatRfc3339(parsed->time);
    FUZZ_CHECK(formatted.size() == 20);  // YYYY-MM-DDTHH:MM:SSZ: year within 4 digits
    auto again = ParseRfc3339(formatted);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == parsed->time);
    if (parsed->date_only) {
      FUZZ_CHECK(text.size() == 10);
      FUZZ_CHECK(FormatDate(parsed->time) == text);
      FUZZ_CHECK(formatted.ends_with("T23:59:59Z"));
    }
    auto as_expiry = ParseExpiry(formatted);
    FUZZ_CHECK(as_expiry && as_expiry->time == parsed->time && !as_expiry->date_only);
  }
  if (auto t = ParseRfc3339(text)) {
    auto back = ParseRfc3339(FormatRfc3339(*t));
    FUZZ_CHECK(back && *back == *t);
  }
  return 0;
}
