#!/usr/bin/env bash
# scripts/test.sh: install what is missing, build, and run every test; exits non-zero on any
# failure (setup, configure, compile, or a failing test).
#
# Usage: scripts/test.sh [ctest args...]     e.g. scripts/test.sh -R safetensors -V
#
# Runs scripts/setup.sh, then scripts/build.sh (same environment variables: HALO_BUILD_DIR,
# HALO_BUILD_TYPE, HALO_WITH_CUDA, HALO_WERROR, HALO_JOBS), then
#   ctest --test-dir build --output-on-failure --no-tests=error -j2 [ctest args...]
# Later arguments win, so `scripts/test.sh -j1` runs the tests one at a time. [cuda] tests
# report "skipped" on machines without a GPU.
#
# Environment:
#   HALO_SKIP_SETUP=1   skip scripts/setup.sh (e.g. on a machine set up by hand).
set -euo pipefail
HALO_SCRIPT=test.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

case "${1:-}" in
  -h | --help) halo_help "$0"; exit 0 ;;
esac

if [ "${HALO_SKIP_SETUP:-0}" != 1 ]; then
  bash "$HALO_ROOT/scripts/setup.sh"
fi
bash "$HALO_ROOT/scripts/build.sh"

BUILD_DIR="$(halo_abs "${HALO_BUILD_DIR:-build}")"
halo_log "running tests in $BUILD_DIR"
if ! ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j2 "$@"; then
  halo_die "tests failed (see the output above). HINT: rerun one with scripts/test.sh -R NAME -V."
fi
halo_log "all tests passed"
