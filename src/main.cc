// tokend: issues, verifies and revokes access tokens. See README.md.
#include "cli/cli.h"

int main(int argc, char** argv) { return tokend::cli::Main(argc, argv); }
