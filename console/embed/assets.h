// The console's built files, embedded in the binary at build time (cmake/EmbedAssets.cmake).
#pragma once

#include <span>
#include <string_view>

namespace tokend::console {

struct Asset {
  std::string_view path;  // "/index.html", "/assets/index-abc123.js"
  std::string_view content_type;
  std::string_view body;
};

// Every embedded file. Empty when the console was not built (TOKEND_BUILD_CONSOLE=OFF).
std::span<const Asset> Assets();

}  // namespace tokend::console
