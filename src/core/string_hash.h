// A hash for unordered containers keyed by std::string that can be searched with a
// std::string_view (or a literal) without building a std::string first, which would allocate
// for any key longer than the small-string buffer. Use with std::equal_to<>.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace tokend::core {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace tokend::core
