#!/usr/bin/env bash
# The propagation benchmark of docs/performance.md ("Propagation"): two tokend instances on a
# throwaway PostgreSQL 15 (tests/pg/pg_fixture.sh), sharing one server key, and
# bench/propagation.mjs measuring revoke-on-A -> first refusal on B.
#
#   TOKEND_BIN=build/release/tokend bench/propagation.sh [COUNT]     (default 1000)
#
# Use a Release build. Both instances run with --cache-ttl 300 so that B can only refuse a
# cached token because the LISTEN/NOTIFY invalidation reached it, never because the entry expired.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
COUNT=${1:-1000}
bin=${TOKEND_BIN:-$root/build/release/tokend}
[[ -x $bin ]] || { echo "propagation.sh: no tokend binary at $bin (set TOKEND_BIN)" >&2; exit 1; }
command -v node >/dev/null || { echo "propagation.sh: node is missing" >&2; exit 1; }

work=$(mktemp -d /tmp/tokend-propagation.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  "$root/tests/pg/pg_fixture.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/tests/pg/pg_fixture.sh" start "$work/pg" >/dev/null
db=$("$root/tests/pg/pg_fixture.sh" newdb "$work/pg")
password="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# start_instance NAME: starts tokend on a free port; sets $url.
start_instance() {
  local name=$1
  mkdir -p "$work/$name"
  TOKEND_BOOTSTRAP_ADMIN_PASSWORD=$password "$bin" serve --listen 127.0.0.1:0 \
    --data-dir "$work/$name" --db "$db" --key-file "$work/server.key" \
    --cache-ttl 300 --log-level warn >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 1 600); do
    url=$(grep -o 'tokend listening on http://[0-9.:]*' "$work/$name.out" 2>/dev/null | awk '{print $4}') || true
    [[ -n $url ]] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "tokend $name did not start:" >&2; cat "$work/$name.err" >&2; exit 1
}

start_instance a; url_a=$url
start_instance b; url_b=$url
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== tokend $("$bin" --version 2>/dev/null || echo "($bin)"); A=$url_a B=$url_b; PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}')"
BENCH_ADMIN_PASSWORD=$password node "$root/bench/propagation.mjs" "$url_a" "$url_b" "$COUNT"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
