#!/usr/bin/env bash
# Installs every Debian package tokend needs. Idempotent: installs only what is missing.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also what `make test` needs (PostgreSQL, nginx, Chromium, ...)
#   scripts/install-deps.sh --bench  also what `make bench` needs (wrk, nginx)
set -euo pipefail

build_packages=(
  build-essential g++ cmake ninja-build pkg-config git ca-certificates curl
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsodium-dev libisal-dev libsqlite3-dev sqlite3 libpq-dev
  libspdlog-dev libfmt-dev libcli11-dev libexpected-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3 python3-yaml
)
test_packages=(postgresql nginx-light chromium clang-14 libclang-rt-14-dev clang-format clang-tidy)
bench_packages=(wrk nginx-light)

wanted=("${build_packages[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) wanted+=("${test_packages[@]}") ;;
    --bench) wanted+=("${bench_packages[@]}") ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# libboost1.81-dev conflicts with the 1.74 development packages; apt removes them.
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
