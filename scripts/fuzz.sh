#!/usr/bin/env bash
# libFuzzer run of the parsers that face the network (docs/security.md).
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default 60 s; `make fuzz`)
#
# Builds fuzz/*.cc with clang++-14 -fsanitize=fuzzer,address,undefined, compiling the few
# src/core and src/http sources each target needs directly (the main g++ build is untouched),
# into $FUZZ_BUILD_DIR (default build/fuzz). For each target it first replays every input in
# fuzz/regressions/<target>/ (inputs that once crashed: they must pass now), then fuzzes for
# the given time from fuzz/corpus/<target>/ (seeds; new inputs go to the build dir). A crash
# is copied to fuzz/regressions/<target>/ and the script exits 1.
# Figures (executions, findings) go to $TOKEND_SECURITY_OUT/fuzz.json
# (default build/test-output/security) for scripts/security_report.sh.
set -euo pipefail

readonly root="$(cd "$(dirname "$0")/.." && pwd)"
readonly seconds="${1:-60}"
shift || true
readonly build="${FUZZ_BUILD_DIR:-$root/build/fuzz}"
readonly out_dir="${TOKEND_SECURITY_OUT:-$root/build/test-output/security}"
readonly cxx="${FUZZ_CXX:-clang++-14}"
readonly all_targets=(token_parse expiry_parse auth_header json_body query_parse)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

# Sources per target (besides fuzz/<target>.cc). Unused functions of auth.cc that reach into
# the service layer are dropped by --gc-sections.
declare -A sources=(
  [token_parse]="src/core/token_format.cc src/core/crypto.cc src/core/model.cc src/core/permission.cc src/core/error.cc"
  [expiry_parse]="src/core/time_format.cc src/core/clock.cc"
  [auth_header]="fuzz/http_stubs.cc src/http/auth.cc src/http/message.cc src/http/problem.cc src/core/crypto.cc src/core/error.cc"
  [json_body]="src/http/json_body.cc src/http/message.cc src/http/problem.cc src/core/error.cc"
  [query_parse]="src/http/cursor.cc src/http/message.cc src/core/ids.cc src/core/crypto.cc src/core/error.cc"
)
readonly common_flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -ffunction-sections -fdata-sections
  -I"$root/src" -I"$root" -DSPDLOG_SHARED_LIB -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL
  -fsanitize=address,undefined -fno-sanitize-recover=undefined)
readonly libs=(-lboost_json -lboost_url -lspdlog -lfmt -lsodium -lisal -pthread)

mkdir -p "$build/obj" "$out_dir"

obj_of() { echo "$build/obj/$(echo "$1" | tr '/' '_').o"; }

compile() {  # <source>: rebuilt when the source or any header under src/ or fuzz/ is newer
  local src="$1" obj
  obj="$(obj_of "$1")"
  if [[ ! -f $obj || $root/$src -nt $obj ]] || find "$root/src" "$root/fuzz" -name '*.h' -newer "$obj" | grep -q .; then
    "$cxx" "${common_flags[@]}" -fsanitize=fuzzer-no-link -c "$root/$src" -o "$obj.tmp" && mv "$obj.tmp" "$obj"
  fi
}

for t in "${targets[@]}"; do
  [[ -n ${sources[$t]+x} ]] || { echo "unknown target $t" >&2; exit 2; }
done
echo "== building ${#targets[@]} fuzz targets with $cxx into $build"
start_build=$(date +%s)
# Each source once, two at a time (the machine has two cores), then one link per target.
mapfile -t all_sources < <(for t in "${targets[@]}"; do echo "fuzz/$t.cc"; echo "${sources[$t]}" | tr ' ' '\n'; done | sort -u)
pids=()
for s in "${all_sources[@]}"; do
  compile "$s" &
  pids+=($!)
  if [[ ${#pids[@]} -ge 2 ]]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
for t in "${targets[@]}"; do
  objs=()
  for s in fuzz/$t.cc ${sources[$t]}; do objs+=("$(obj_of "$s")"); done
  "$cxx" "${common_flags[@]}" -fsanitize=fuzzer -Wl,--gc-sections "${objs[@]}" "${libs[@]}" -o "$build/$t"
done
echo "== built in $(( $(date +%s) - start_build )) s"

status=0
json_targets=()
for t in "${targets[@]}"; do
  bin="$build/$t"
  reg="$root/fuzz/regressions/$t"
  seeds="$root/fuzz/corpus/$t"
  work="$build/corpus/$t"
  art="$build/artifacts/$t"
  mkdir -p "$reg" "$seeds" "$work" "$art"
  replayed=0
  mapfile -t reg_files < <(find "$reg" -type f ! -name '.gitkeep' | sort)
  if [[ ${#reg_files[@]} -gt 0 ]]; then
    echo "== $t: replaying ${#reg_files[@]} regression inputs"
    if ! "$bin" -runs=1 "${reg_files[@]}" >"$build/$t.replay.log" 2>&1; then
      echo "!! $t: a regression input fails again; see $build/$t.replay.log" >&2
      tail -n 30 "$build/$t.replay.log" >&2
      status=1
    fi
    replayed=${#reg_files[@]}
  fi
  echo "== $t: fuzzing for $seconds s"
  log="$build/$t.log"
  rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*
  set +e
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  [[ -n $execs ]] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  [[ -n $execs ]] || execs=0
  findings=0
  for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
    [[ -f $f ]] || continue
    findings=$((findings + 1))
    cp "$f" "$reg/"
    echo "!! $t: finding saved as fuzz/regressions/$t/$(basename "$f")" >&2
  done
  if [[ $rc -ne 0 ]]; then
    status=1
    [[ $findings -gt 0 ]] || findings=1
    echo "!! $t: libFuzzer exited $rc; last lines of $log:" >&2
    tail -n 40 "$log" >&2
  fi
  printf '   %-14s %10s executions, %s findings, %s regressions replayed\n' "$t" "$execs" "$findings" "$replayed"
  json_targets+=("{\"target\":\"$t\",\"seconds\":$seconds,\"executions\":$execs,\"findings\":$findings,\"regressions_replayed\":$replayed,\"exit_code\":$rc}")
done

{
  echo "{\"suite\":\"fuzz\",\"finished_at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"targets\":["
  (IFS=,; echo "${json_targets[*]}")
  echo "]}"
} >"$out_dir/fuzz.json"
exit $status
