#!/usr/bin/env bash
# `make test`: builds the asan preset (ASan + UBSan) and the release binary, then runs every
# test with CTest against the sanitizer build. Black-box tests (tests/) start the services they need
# themselves: PostgreSQL via CTest fixtures, tokend servers, headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The black-box suites' npm packages (OpenAPI lint); the console's are installed by its build.
if [[ -f tests/package-lock.json ]]; then
  npm ci --prefix tests --no-audit --no-fund --loglevel=error
fi

cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
# The release binary `make run` starts: it must build warning-free at -O2 too.
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target tokend

ctest --preset asan -j "$jobs"
