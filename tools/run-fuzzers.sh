#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and run each for SECONDS.
#
#   tools/run-fuzzers.sh [-p] SECONDS [TARGET...]     TARGET: snapshot, walker, core (default all)
#     -p   run the targets in parallel instead of one after another
#
# Each target first replays tests/fuzz/regressions/<target>/ (inputs that once crashed must
# not crash again), then fuzzes for SECONDS from the committed seeds (tests/fuzz/corpus/) plus
# a working corpus kept in build-fuzz/fuzz-corpus/ across runs. It prints executions and
# findings; every crash, leak, timeout or out-of-memory input found is copied into
# tests/fuzz/regressions/<target>/, where it stays as a regression input once fixed.
# Exit status: 0 no findings, 1 findings (or a regression input fails), 2 usage/build error.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${PYSNAP_FUZZ_BUILD:-build-fuzz}

usage() { echo "usage: tools/run-fuzzers.sh [-p] SECONDS [snapshot|walker|core ...]" >&2; exit 2; }
parallel=0
if [ "${1:-}" = "-p" ]; then parallel=1; shift; fi
[ $# -ge 1 ] || usage
seconds=$1; shift
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || usage
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(snapshot walker core)
for t in "${targets[@]}"; do
  case "$t" in snapshot|walker|core) ;; *) usage ;; esac
done

if ! command -v clang >/dev/null; then
  echo "run-fuzzers: clang not found (Debian: apt-get install -y clang)" >&2
  exit 2
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang meson setup "$BUILD" -Dfuzzing=true -Dtests=false -Dbuildtype=debugoptimized \
    >"$BUILD.setup.log" 2>&1 || { cat "$BUILD.setup.log" >&2; exit 2; }
  rm -f "$BUILD.setup.log"
fi
BUILD=$(cd "$BUILD" && pwd)
if ! ninja -C "$BUILD" tests/fuzz/fuzz_snapshot tests/fuzz/fuzz_walker tests/fuzz/fuzz_core >"$BUILD/fuzz-build.log" 2>&1; then
  tail -30 "$BUILD/fuzz-build.log" >&2
  echo "run-fuzzers: build failed (is subdir('tests/fuzz') under the fuzzing option in" \
       "meson.build? full log: $BUILD/fuzz-build.log)" >&2
  exit 2
fi

# One target: replay regressions, fuzz, collect findings. Writes a summary line to $2.
run_one() {
  local kind=$1 summary=$2
  local exe="$BUILD/tests/fuzz/fuzz_$kind"
  local seeds="$ROOT/tests/fuzz/corpus/$kind" regress="$ROOT/tests/fuzz/regressions/$kind"
  local work="$BUILD/fuzz-corpus/$kind" art="$BUILD/fuzz-artifacts/$kind"
  local log="$BUILD/fuzz-$kind.log"
  local opts=(-timeout=25 -rss_limit_mb=2048 -max_len=131072 -print_final_stats=1)
  mkdir -p "$work" "$art"
  local replay="no regression inputs"
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress" 2>/dev/null)" ]; then
    if "$exe" -runs=0 "${opts[@]}" "$regress" >"$log.replay" 2>&1; then
      replay="$(ls "$regress" | wc -l) regression inputs pass"
    else
      replay="REGRESSION INPUT FAILS (see $log.replay)"
    fi
  fi
  local before
  before=$(ls "$art" | wc -l)
  "$exe" "${opts[@]}" -max_total_time="$seconds" -artifact_prefix="$art/" \
    "$work" "$seeds" >"$log" 2>&1
  local execs rate cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 | tr -d ':')
  local findings=0 f
  mkdir -p "$regress"
  for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
    [ -e "$f" ] || continue
    if [ ! -e "$regress/$(basename "$f")" ]; then
      cp "$f" "$regress/"
      findings=$((findings + 1))
    fi
  done
  rmdir "$regress" 2>/dev/null || true
  local slow
  slow=$(ls "$art" | grep -c '^slow-unit-' || true)
  printf '%-9s %6ss  %10s execs  %6s exec/s  %s  corpus %5s  new findings %d  slow units %s  %s\n' \
    "$kind" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-cov ?}" "$(ls "$work" | wc -l)" \
    "$findings" "$slow" "$replay" >"$summary"
  if [ "$findings" -gt 0 ]; then
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 >>"$summary"
    echo "          inputs copied to tests/fuzz/regressions/$kind/; log: $log" >>"$summary"
  fi
  [ "$findings" -eq 0 ] && [[ "$replay" != REGRESSION* ]]
}

status=0
pids=()
for kind in "${targets[@]}"; do
  if [ "$parallel" = 1 ]; then
    run_one "$kind" "$BUILD/fuzz-$kind.summary" &
    pids+=($!)
  else
    echo "fuzzing $kind for ${seconds}s ..."
    run_one "$kind" "$BUILD/fuzz-$kind.summary" || status=1
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
for kind in "${targets[@]}"; do cat "$BUILD/fuzz-$kind.summary"; done
exit $status
