#!/usr/bin/env bash
# scripts/fuzz.sh: build the fuzz targets and sanitizer tests (build-fuzz/, clang, ASan + UBSan,
# no LibTorch), run the sanitizer tests, then run every fuzz target for a bounded time; exits
# non-zero on any failing test or any fuzzer finding (crash, sanitizer report, leak, timeout,
# out-of-memory, failed invariant, an exception other than HaloError). docs/reliability.md.
#
# Usage: scripts/fuzz.sh [--seconds S | --minutes M] [--jobs N] [--targets "a b ..."]
#                        [--no-tests] [--build-only]
#   --seconds S   fuzz each target for S seconds (default 30: what CI runs, .ci/run)
#   --minutes M   fuzz each target for M minutes (the longer local run)
#   --jobs N      targets fuzzed at the same time (default: nproc); each uses one core
#   --targets     only these targets (names as in fuzz/CMakeLists.txt, without fuzz_)
#   --no-tests    skip the sanitizer tests (halo_tests_hostile)
#   --build-only  build, run nothing
#
# Each target starts from its seed corpus in fuzz/corpus/<target>/ (kept in the repository, never
# written to); what a run adds goes to build-fuzz/fuzz-corpus/<target>/, so a later run
# continues from it. A finding is saved as build-fuzz/fuzz-artifacts/<target>-crash-<sha1> (or
# leak-, timeout-, oom-) and printed in base64 with the command that replays it; it becomes a
# regression test in tests/test_hostile_inputs.cpp once fixed.
#
# Environment:
#   HALO_FUZZ_BUILD_DIR  build directory (default: build-fuzz; relative to the repository root)
#   HALO_JOBS            parallel compile jobs (default: nproc)
#   HALO_NICE            nice level for the build and the fuzzers (default: 10)
set -euo pipefail
HALO_SCRIPT=fuzz.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

seconds=30
jobs="$(nproc)"
targets=""
run_tests=1
build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) halo_help "$0"; exit 0 ;;
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --minutes) seconds=$(( ${2:?--minutes needs a number} * 60 )); shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --targets) targets="${2:?--targets needs a list}"; shift 2 ;;
    --no-tests) run_tests=0; shift ;;
    --build-only) build_only=1; shift ;;
    *) halo_die "unknown argument '$1'. HINT: scripts/fuzz.sh --help" ;;
  esac
done
case "$seconds$jobs" in
  *[!0-9]*) halo_die "--seconds/--minutes/--jobs take whole numbers" ;;
esac

for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null 2>&1 || halo_die "$tool not found on PATH. HINT: run scripts/setup.sh."
done
BUILD_DIR="$(halo_abs "${HALO_FUZZ_BUILD_DIR:-build-fuzz}")"
NICE=(nice -n "${HALO_NICE:-10}")
start_s=$(date +%s)

# --- build -----------------------------------------------------------------------------------
halo_configure fuzz "$BUILD_DIR" "run scripts/setup.sh (clang, libclang-rt-14-dev)." \
  -S "$HALO_ROOT" -B "$BUILD_DIR" -G Ninja -DHALO_FUZZ=ON -DHALO_WERROR=ON \
  -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
"${NICE[@]}" ninja -C "$BUILD_DIR" -j "${HALO_JOBS:-$(nproc)}" \
  || halo_die "fuzz build failed (see the first error above)."
build_s=$(($(date +%s) - start_s))
halo_log "built $BUILD_DIR in ${build_s} s"
[ "$build_only" = 1 ] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$HALO_ROOT/fuzz/lsan.supp}"

# --- sanitizer tests -------------------------------------------------------------------------
if [ "$run_tests" = 1 ]; then
  t0=$(date +%s)
  HALO_SOURCE_DIR="$HALO_ROOT" "${NICE[@]}" ctest --test-dir "$BUILD_DIR" --output-on-failure \
    --no-tests=error -j "$jobs" \
    || halo_die "sanitizer tests failed (see above). HINT: rerun one with ctest --test-dir $BUILD_DIR -R NAME -V"
  halo_log "sanitizer tests passed in $(($(date +%s) - t0)) s"
fi

# --- fuzzing ---------------------------------------------------------------------------------
[ -n "$targets" ] || targets="$(cat "$BUILD_DIR/fuzz_targets.txt")"
ARTIFACTS="$BUILD_DIR/fuzz-artifacts"
LOGS="$BUILD_DIR/fuzz-logs"
mkdir -p "$ARTIFACTS" "$LOGS"

# dictionary of a target (none for raw-text and binary inputs)
dict_of() {
  case "$1" in
    pipeline_yaml) echo "$HALO_ROOT/fuzz/dict/yaml.dict" ;;
    pre_tokenizer | tokenizer_encode | token_shard) echo "" ;;
    *) echo "$HALO_ROOT/fuzz/dict/json.dict" ;;
  esac
}

# fuzz_one NAME: one bounded run; its log in $LOGS/NAME.log, exit status in $LOGS/NAME.rc
fuzz_one() {
  local name="$1" bin="$BUILD_DIR/fuzz/fuzz_$1"
  [ -x "$bin" ] || { echo "no such target: $bin" >"$LOGS/$name.log"; echo 2 >"$LOGS/$name.rc"; return; }
  local work="$BUILD_DIR/fuzz-corpus/$name" dict
  mkdir -p "$work"
  dict="$(dict_of "$name")"
  local args=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=16384
    -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-")
  [ -n "$dict" ] && args+=(-dict="$dict")
  # libhdf5 (third-party, uninstrumented) mallocs what a corrupt object header claims (4 GB seen
  # for a 2 KB file) and frees it when the read fails; a higher malloc limit lets the run go on,
  # the RSS limit still catches real growth (docs/reliability.md).
  [ "$name" = token_shard ] && args+=(-malloc_limit_mb=8192)
  local rc=0
  HALO_SOURCE_DIR="$HALO_ROOT" "${NICE[@]}" "$bin" "${args[@]}" "$work" "$HALO_ROOT/fuzz/corpus/$name" \
    >"$LOGS/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$LOGS/$name.rc"
}

halo_log "fuzzing $(wc -w <<<"$targets") targets for ${seconds} s each, $jobs at a time (logs: $LOGS)"
rm -f "$LOGS"/*.rc
running=0
for name in $targets; do
  fuzz_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

failed=()
for name in $targets; do
  rc="$(cat "$LOGS/$name.rc" 2>/dev/null || echo missing)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$name.log" | tail -1)"
  if [ "$rc" = 0 ]; then
    printf '[%s] %-20s ok     %8s runs in %s s\n' "$HALO_SCRIPT" "$name" "${execs:-?}" "$seconds" >&2
  else
    failed+=("$name")
    printf '[%s] %-20s FAILED (exit %s); log %s\n' "$HALO_SCRIPT" "$name" "$rc" "$LOGS/$name.log" >&2
    grep -E 'ERROR: |SUMMARY: |fuzz: |runtime error|uncaught exception|terminate called' \
      "$LOGS/$name.log" | head -20 >&2 || true
    for art in "$ARTIFACTS/$name"-*; do
      [ -f "$art" ] || continue
      halo_log "reproducer $art ($(stat -c %s "$art") bytes): replay with $BUILD_DIR/fuzz/fuzz_$name $art"
      if [ "$(stat -c %s "$art")" -le 65536 ]; then
        echo "base64 of $(basename "$art"):" >&2
        base64 -w 120 "$art" >&2
      fi
    done
  fi
done
total_s=$(($(date +%s) - start_s))
if [ "${#failed[@]}" -gt 0 ]; then
  halo_die "fuzzing found problems in: ${failed[*]} (total ${total_s} s). HINT: fix, add the reproducer as a test in tests/test_hostile_inputs.cpp, rerun."
fi
halo_log "fuzz targets clean; total ${total_s} s (build ${build_s} s)"
