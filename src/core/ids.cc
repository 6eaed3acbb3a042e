#include "core/ids.h"

#include "core/base62.h"
#include "core/crypto.h"

namespace tokend::core {
namespace {

constexpr std::size_t kIdLength = 20;

}  // namespace

std::string NewId() { return RandomBase62(kIdLength); }

bool LooksLikeId(std::string_view id) { return id.size() == kIdLength && IsBase62(id); }

}  // namespace tokend::core
