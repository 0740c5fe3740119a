#!/usr/bin/env bash
# scripts/gpu-check.sh: the one command for a GPU host after a kernel, dispatch or inference
# change. Builds with CUDA (scripts/build-gpu.sh, offline prefix from .offline-deps), runs every
# [cuda] test case as its own line of output, and writes a dated results file.
#
# Usage: scripts/gpu-check.sh [--out DIR] [--filter TAGS]
#   --out DIR      where the results go (default: gpu-results/); files:
#                  YYYY-MM-DD-<commit>-build.txt, ...-cuda-tests.txt (Catch2 listing of every
#                  test case and its result), ...-summary.txt (one line: passed / failed / card)
#   --filter TAGS  Catch2 test spec for halo_tests_cuda (default: "[cuda]", every GPU test)
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
halo_log "running halo_tests_cuda $FILTER (log: $stem-cuda-tests.txt)"
set +e
(cd "$BUILD" && HALO_FIXTURES_DIR="$BUILD/fixtures" HALO_SOURCE_DIR="$HALO_ROOT" \
  ./tests/halo_tests_cuda "$FILTER" --durations yes --reporter console) >"$stem-cuda-tests.txt" 2>&1
rc=$?
set -e
summary=$(grep -E "^(All tests passed|test cases:)" "$stem-cuda-tests.txt" | tail -1)
echo "$(date -u +%FT%TZ) $card $commit$dirty halo_tests_cuda $FILTER: ${summary:-no summary (rc $rc)}" \
  | tee "$stem-summary.txt"
[ "$rc" -eq 0 ] || { grep -B2 -A12 "FAILED" "$stem-cuda-tests.txt" | head -80 >&2; exit 1; }
