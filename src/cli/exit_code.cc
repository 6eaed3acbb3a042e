#include "cli/exit_code.h"

namespace tokend::cli {

int ExitCodeFor(core::ErrorCode code) {
  switch (code) {
    case core::ErrorCode::kInvalidArgument:
      return kExitUsage;
    case core::ErrorCode::kValidation:
      return kExitInvalid;
    case core::ErrorCode::kNotFound:
      return kExitNotFound;
    case core::ErrorCode::kAlreadyExists:
    case core::ErrorCode::kFailedPrecondition:
      return kExitConflict;
    case core::ErrorCode::kUnauthenticated:
    case core::ErrorCode::kPermissionDenied:
      return kExitDenied;
    case core::ErrorCode::kUnavailable:
      return kExitUnavailable;
    case core::ErrorCode::kResourceExhausted:
    case core::ErrorCode::kInternal:
      return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace tokend::cli
