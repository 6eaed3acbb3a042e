// The `tokend` command line: serve, tenant, user, token. Flag parsing and wiring only.
#pragma once

namespace tokend::cli {

// Runs the command line; returns the process exit code (see exit_code.h).
int Main(int argc, char** argv);

}  // namespace tokend::cli
