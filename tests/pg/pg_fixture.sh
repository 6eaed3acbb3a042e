#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests.
#
#   pg_fixture.sh start <dir>   initdb + start + an empty database `tokend`; writes its
#                               connection URL to <dir>/url
#   pg_fixture.sh newdb <dir>   creates a fresh empty database on the running cluster and
#                               prints its URL (one per test run of tokend: isolation)
#   pg_fixture.sh stop <dir>    stops the server and removes everything start created
#
# The server listens only on 127.0.0.1 (a free port) and on a unix socket in the cluster
# directory; it trusts local connections, so it must never hold real data. fsync is off for
# speed: a crash loses the cluster, which a test cluster can afford.
#
# initdb and postgres refuse to run as root (CI runs tests as root): then the cluster is
# created and run as the `postgres` system user, in a directory that user owns.
set -euo pipefail

readonly kBinDir="${TOKEND_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}"
# Unix socket paths are limited to 107 bytes; beyond this the cluster goes to a short /tmp dir.
readonly kMaxSocketDirLength=80

usage() {
  echo "usage: $0 start|newdb|stop <dir>" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
readonly command="$1"
mkdir -p "$2"
readonly dir="$(cd "$2" && pwd)"
# The cluster lives in <dir>/cluster, or in a /tmp directory (recorded in <dir>/cluster_path)
# when the `postgres` user cannot reach <dir> or its path is too long for a unix socket.
cluster="$dir/cluster"
[[ -f "$dir/cluster_path" ]] && cluster="$(cat "$dir/cluster_path")"

# Runs a command as the cluster owner: ourselves, or `postgres` when we are root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop_cluster() {
  if [[ -f "$cluster/data/postmaster.pid" ]]; then
    as_owner "$kBinDir/pg_ctl" stop -D "$cluster/data" -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf "$cluster" "$dir/url" "$dir/port" "$dir/cluster_path"
  cluster="$dir/cluster"
}

start_cluster() {
  stop_cluster  # a leftover from an interrupted run
  mkdir -p "$cluster"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$cluster"
  fi
  if [[ ${#cluster} -gt $kMaxSocketDirLength ]] || ! as_owner test -w "$cluster"; then
    rm -rf "$cluster"
    cluster="$(mktemp -d /tmp/tokend-pg.XXXXXX)"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$cluster"
    echo "$cluster" >"$dir/cluster_path"
  fi
  as_owner "$kBinDir/initdb" -D "$cluster/data" -U postgres --auth=trust --encoding=UTF8 \
    --no-locale --no-sync >"$cluster/initdb.log" 2>&1 || {
    cat "$cluster/initdb.log" >&2
    exit 1
  }

  local socket_dir="$cluster"
  # Another process may take the port between the probe and the bind: retry a few times.
  local attempt port
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + (RANDOM % 20000)))
    port_in_use "$port" && continue
    if as_owner "$kBinDir/pg_ctl" start -D "$cluster/data" -l "$cluster/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$socket_dir \
          -c fsync=off -c full_page_writes=off -c shared_buffers=32MB -c max_connections=200 \
          -c log_min_messages=warning" >/dev/null 2>&1; then
      "$kBinDir/createdb" -h 127.0.0.1 -p "$port" -U postgres tokend
      echo "$port" >"$dir/port"
      # Written last: its presence means the server is ready.
      echo "postgresql://postgres@127.0.0.1:$port/tokend" >"$dir/url"
      echo "PostgreSQL test cluster on 127.0.0.1:$port (socket in $socket_dir)"
      return 0
    fi
    echo "attempt $attempt: could not start on port $port" >&2
  done
  tail -n 20 "$cluster/server.log" >&2 || true
  exit 1
}

new_database() {
  [[ -f "$dir/port" ]] || {
    echo "no cluster running in $dir (run start first)" >&2
    exit 1
  }
  local port name
  port="$(cat "$dir/port")"
  name="tokend_$(date +%s%N)_$$_$RANDOM"
  "$kBinDir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$name"
  echo "postgresql://postgres@127.0.0.1:$port/$name"
}

case "$command" in
  start) start_cluster ;;
  newdb) new_database ;;
  stop) stop_cluster ;;
  *) usage ;;
esac
