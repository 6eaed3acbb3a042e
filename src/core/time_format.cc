#include "core/time_format.h"

#include <cstdio>

namespace tokend::core {
namespace {

using std::chrono::year_month_day;

// Years tokend accepts: the Unix epoch onwards, and four digits at most.
constexpr int kMinYear = 1970;
constexpr int kMaxYear = 9999;
// RFC 3339 puts no bound on fractional digits; more than nanoseconds is junk, not precision.
constexpr std::size_t kMaxFractionDigits = 9;

// A strict left-to-right reader: every Read* consumes exactly what it matched or fails.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ == text_.size(); }

  // Exactly `count` ASCII digits.
  bool ReadDigits(std::size_t count, int* value) {
    if (text_.size() - pos_ < count) return false;
    int v = 0;
    for (std::size_t i = 0; i < count; ++i) {
      char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos_ += count;
    *value = v;
    return true;
  }

  bool ReadChar(char expected) {
    if (AtEnd() || text_[pos_] != expected) return false;
    ++pos_;
    return true;
  }

  // One of `a` or `b`, e.g. 'T' or 't' (RFC 3339 §5.6 allows lower case).
  bool ReadEither(char a, char b, char* got = nullptr) {
    if (AtEnd() || (text_[pos_] != a && text_[pos_] != b)) return false;
    if (got != nullptr) *got = text_[pos_];
    ++pos_;
    return true;
  }

  // Digits until the first non-digit; returns how many.
  std::size_t SkipDigits() {
    std::size_t start = pos_;
    while (!AtEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ - start;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// YYYY-MM-DD as a calendar day, or nullopt for impossible or out-of-range dates.
std::optional<std::chrono::sys_days> ReadDate(Reader& reader) {
  int y = 0, m = 0, d = 0;
  if (!reader.ReadDigits(4, &y) || !reader.ReadChar('-') || !reader.ReadDigits(2, &m) ||
      !reader.ReadChar('-') || !reader.ReadDigits(2, &d)) {
    return std::nullopt;
  }
  if (y < kMinYear || y > kMaxYear) return std::nullopt;
  year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                     std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd};
}

// "THH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" after a date, to the end of the input.
std::optional<Time> ReadTimeOfDay(Reader& reader, std::chrono::sys_days day) {
  int hh = 0, mm = 0, ss = 0;
  if (!reader.ReadEither('T', 't') || !reader.ReadDigits(2, &hh) || !reader.ReadChar(':') ||
      !reader.ReadDigits(2, &mm) || !reader.ReadChar(':') || !reader.ReadDigits(2, &ss)) {
    return std::nullopt;
  }
  // Leap seconds (ss == 60) are refused: sys_seconds cannot represent them.
  if (hh > 23 || mm > 59 || ss > 59) return std::nullopt;
  if (reader.ReadChar('.')) {
    std::size_t digits = reader.SkipDigits();
    if (digits == 0 || digits > kMaxFractionDigits) return std::nullopt;
  }
  Time local = day + hours{hh} + minutes{mm} + seconds{ss};
  char sign = 0;
  if (reader.ReadEither('Z', 'z')) {
    return reader.AtEnd() ? std::optional<Time>(local) : std::nullopt;
  }
  if (!reader.ReadEither('+', '-', &sign)) return std::nullopt;
  int oh = 0, om = 0;
  if (!reader.ReadDigits(2, &oh) || !reader.ReadChar(':') || !reader.ReadDigits(2, &om)) {
    return std::nullopt;
  }
  if (oh > 23 || om > 59 || !reader.AtEnd()) return std::nullopt;
  seconds offset = hours{oh} + minutes{om};
  // Local time = UTC + offset, so UTC = local - offset.
  Time utc = sign == '+' ? local - offset : local + offset;
  // The year bounds hold for the instant, not only for the local date: "1970-01-01T00:00:00+00:01"
  // is 1969 in UTC (found by fuzz/expiry_parse; FormatRfc3339 could not round-trip it).
  constexpr Time kMin{std::chrono::sys_days{std::chrono::year{kMinYear} / 1 / 1}};
  constexpr Time kMax{std::chrono::sys_days{std::chrono::year{kMaxYear} / 12 / 31} + days{1}};
  if (utc < kMin || utc >= kMax) return std::nullopt;
  return utc;
}

// `value` in exactly `width` decimal digits (years are 1970-9999, the rest two digits).
void AppendDigits(std::string& out, unsigned value, int width) {
  char digits[4];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits, static_cast<std::size_t>(width));
}

// "YYYY-MM-DD", without snprintf: times are formatted for every JSON answer (~1% of a
// /api/v1/me in vfprintf).
void AppendDate(std::string& out, year_month_day ymd) {
  AppendDigits(out, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  out += '-';
  AppendDigits(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  AppendDigits(out, static_cast<unsigned>(ymd.day()), 2);
}

}  // namespace

std::string FormatRfc3339(Time t) {
  auto day = std::chrono::floor<days>(t);
  std::chrono::hh_mm_ss hms{t - day};
  std::string out;
  out.reserve(20);
  AppendDate(out, year_month_day{day});
  out += 'T';
  AppendDigits(out, static_cast<unsigned>(hms.hours().count()), 2);
  out += ':';
  AppendDigits(out, static_cast<unsigned>(hms.minutes().count()), 2);
  out += ':';
  AppendDigits(out, static_cast<unsigned>(hms.seconds().count()), 2);
  out += 'Z';
  return out;
}

std::string FormatDate(Time t) {
  std::string out;
  out.reserve(10);
  AppendDate(out, year_month_day{std::chrono::floor<days>(t)});
  return out;
}

std::optional<ParsedExpiry> ParseExpiry(std::string_view text) {
  Reader reader(text);
  std::optional<std::chrono::sys_days> day = ReadDate(reader);
  if (!day) return std::nullopt;
  if (reader.AtEnd()) {
    return ParsedExpiry{Time{*day} + days{1} - seconds{1}, true};
  }
  std::optional<Time> time = ReadTimeOfDay(reader, *day);
  if (!time) return std::nullopt;
  return ParsedExpiry{*time, false};
}

std::optional<Time> ParseRfc3339(std::string_view text) {
  Reader reader(text);
  std::optional<std::chrono::sys_days> day = ReadDate(reader);
  if (!day) return std::nullopt;
  return ReadTimeOfDay(reader, *day);
}

}  // namespace tokend::core
