#!/usr/bin/env bash
# scripts/gpu-check.sh: the one command for a GPU host after a kernel, dispatch or inference
# change. Builds with CUDA (scripts/build-gpu.sh, offline prefix from .offline-deps), runs every
# [cuda] test case as its own CTest entry (ctest -L cuda), and writes a dated results file.
#
# Usage: scripts/gpu-check.sh [--out DIR] [--filter TAGS]
#   --out DIR      where the results go (default: gpu-results/); files:
#                  YYYY-MM-DD-<commit>-build.txt, ...-cuda-tests.txt (CTest's line per test
#                  case), ...-summary.txt (one line: passed / failed / skipped / card)
#   --filter TAGS  Catch2 test spec for halo_tests_cuda (default: "[cuda]", every GPU test, run
#                  through CTest; any other spec runs the binary directly)
# Exit status: 0 when the build and every selected test passed, 1 otherwise; 77 without a GPU.
set -euo pipefail
HALO_SCRIPT=gpu-check.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

OUT="$HALO_ROOT/gpu-results"
FILTER="[cuda]"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --filter) FILTER="$2"; shift 2 ;;
    -h | --help) halo_help "$0"; exit 0 ;;
    *) halo_die "unknown argument '$1'. HINT: scripts/gpu-check.sh --help" ;;
  esac
done
command -v nvidia-smi >/dev/null 2>&1 || { halo_log "no nvidia-smi: not a GPU host"; exit 77; }
mkdir -p "$OUT"
commit=$(git -C "$HALO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$HALO_ROOT" status --porcelain 2>/dev/null | grep -qv '^??' && echo "-dirty" || true)
stem="$OUT/$(date -u +%Y-%m-%d)-${commit}${dirty}"
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)

halo_log "building (log: $stem-build.txt)"
if ! bash "$HALO_ROOT/scripts/build-gpu.sh" >"$stem-build.txt" 2>&1; then
  tail -30 "$stem-build.txt" >&2
  echo "build FAILED on $card at $commit$dirty" | tee "$stem-summary.txt"
  exit 1
fi
BUILD="$HALO_ROOT/${HALO_BUILD_DIR:-build}"
# The Qwen3 fixtures the [cuda] tests load (transformers from the host's Python).
ctest --test-dir "$BUILD" -R '^fixtures.hf_qwen3$' --output-on-failure >"$stem-fixtures.txt" 2>&1 \
  || { cat "$stem-fixtures.txt" >&2; halo_die "fixtures failed"; }
halo_log "running the [cuda] tests, one CTest entry each (log: $stem-cuda-tests.txt)"
set +e
if [ "$FILTER" = "[cuda]" ]; then
  # Each test case its own entry (tests/CMakeLists.txt): skipped ones (a [2gpu] case on one GPU)
  # are listed as "Not Run"/"Skipped", never counted as passed.
  HALO_FIXTURES_DIR="$BUILD/fixtures" HALO_SOURCE_DIR="$HALO_ROOT" \
    ctest --test-dir "$BUILD" -L cuda --output-on-failure --timeout 900 >"$stem-cuda-tests.txt" 2>&1
  rc=$?
  summary=$(grep -E "tests passed, .* tests failed out of" "$stem-cuda-tests.txt" | tail -1)
  skipped=$(grep -cE "\(Skipped\)" "$stem-cuda-tests.txt" || true)
  summary="${summary:-no summary (rc $rc)}; skipped: ${skipped}"
else
  (cd "$BUILD" && HALO_FIXTURES_DIR="$BUILD/fixtures" HALO_SOURCE_DIR="$HALO_ROOT" \
    ./tests/halo_tests_cuda "$FILTER" --durations yes --reporter console) >"$stem-cuda-tests.txt" 2>&1
  rc=$?
  summary=$(grep -E "^(All tests passed|test cases:)" "$stem-cuda-tests.txt" | tail -1)
  summary="${summary:-no summary (rc $rc)}"
fi
set -e
echo "$(date -u +%FT%TZ) $card $commit$dirty [cuda] $FILTER: $summary" | tee "$stem-summary.txt"
[ "$rc" -eq 0 ] || { grep -B2 -A12 -E "FAILED|\*\*\*Failed" "$stem-cuda-tests.txt" | head -80 >&2; exit 1; }
