// Ids: public, opaque, unguessable. They appear in URLs, logs and the console; never secrets.
#pragma once

#include <string>
#include <string_view>

namespace tokend::core {

// 20 base62 characters: 8 of the creation time in milliseconds since the Unix epoch, then 12
// random ones (71 bits, from the CSPRNG: ids of other tenants cannot be probed, and every
// query is scoped by tenant anyway). The time prefix comes first, big-endian, in an alphabet
// whose byte order is its digit order, so ids sort by creation: a new row's primary key and
// every index with the id as a tie-break gain a row at their right edge instead of at a random
// leaf, and a creation dirties fewer pages. An id reveals when it was made, as created_at does.
std::string NewId();
// True for a string NewId could have produced; used to reject junk before any lookup.
bool LooksLikeId(std::string_view id);

}  // namespace tokend::core
