#include "core/ids.h"

#include <chrono>

#include "core/base62.h"
#include "core/crypto.h"

namespace tokend::core {
namespace {

constexpr std::size_t kIdLength = 20;
// 62^8 ms is ~6,900 years of milliseconds.
constexpr std::size_t kTimeDigits = 8;

}  // namespace

std::string NewId() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string id;
  id.reserve(kIdLength);
  AppendBase62(static_cast<std::uint64_t>(
                   std::chrono::duration_cast<std::chrono::milliseconds>(now).count()),
               kTimeDigits, id);
  id += RandomBase62(kIdLength - kTimeDigits);
  return id;
}

bool LooksLikeId(std::string_view id) { return id.size() == kIdLength && IsBase62(id); }

}  // namespace tokend::core
