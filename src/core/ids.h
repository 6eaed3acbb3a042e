// Ids: public, opaque, random. They appear in URLs, logs and the console; never secrets.
#pragma once

#include <string>
#include <string_view>

namespace tokend::core {

// 20 base62 characters (119 bits): unguessable, so ids of other tenants cannot be probed.
std::string NewId();
// True for a string NewId could have produced; used to reject junk before any lookup.
bool LooksLikeId(std::string_view id);

}  // namespace tokend::core
