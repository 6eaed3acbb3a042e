#!/bin/sh
# Builds the console into <outdir> (embedded into tokend by console/CMakeLists.txt).
#   sh console/build.sh <outdir>
# Installs the pinned dependencies with `npm ci` only when node_modules is missing or older
# than package-lock.json, then type-checks and runs the Vite build.
set -eu
out=${1:?usage: build.sh <outdir>}
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
cd "$(dirname "$0")"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
./node_modules/.bin/tsc --noEmit -p tsconfig.json
./node_modules/.bin/vite build --logLevel warn --emptyOutDir --outDir "$out"
