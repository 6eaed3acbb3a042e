// The server key file: 32 random bytes, created 0600 on first start.
#pragma once

#include <string>

#include "core/crypto.h"
#include "core/error.h"

namespace tokend::service {

// Reads the key at `path`, or creates it (mode 0600, parent directories 0700) when missing.
// kFailedPrecondition when the file exists with the wrong size or is readable by others.
core::Result<core::ServerKey> LoadOrCreateServerKey(const std::string& path);

}  // namespace tokend::service
