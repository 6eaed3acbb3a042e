// Exit codes of the `tokend` command, stable for scripts. Do not change the values.
#pragma once

#include "core/error.h"

namespace tokend::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // internal error or anything unclassified
  kExitUsage = 2,        // bad flags or arguments (CLI11), or malformed input
  kExitNotFound = 3,     // unknown tenant, user, department, user type or token
  kExitInvalid = 4,      // well-formed but refused by a rule (expiry, membership, ...)
  kExitConflict = 5,     // already exists / still referenced
  kExitUnavailable = 6,  // the store cannot be reached
  kExitDenied = 7,       // verification failed: invalid, expired or revoked token
};

// The one mapping from error codes to exit codes.
int ExitCodeFor(core::ErrorCode code);

}  // namespace tokend::cli
