#!/usr/bin/env bash
# scripts/build.sh: configure (when needed) and build halo-distill with CMake + Ninja.
#
# Usage: scripts/build.sh [extra cmake args...]      e.g. scripts/build.sh -DHALO_BUILD_TESTS=OFF
#
# Builds into build/ (the CLI lands at build/halo-distill). CMake runs when build/ has no
# configured tree yet, or when the configure arguments (these defaults, the environment below,
# the extra args) differ from last time; otherwise Ninja alone runs, and it re-runs CMake by
# itself when a CMakeLists.txt or cmake/*.cmake file changed. A tree configured by
# scripts/build-gpu.sh (the offline prefix) is reconfigured from scratch (cmake --fresh).
#
# Defaults: Release, -DHALO_WERROR=ON, ccache (found by cmake/HaloOptions.cmake) with the
# sloppiness the precompiled header needs, CCACHE_DIR left at ccache's default, nproc jobs.
# LibTorch comes from the `python3` on PATH (run scripts/setup.sh first).
#
# Environment:
#   HALO_BUILD_DIR   build directory (default: build; relative paths are taken from the repo root)
#   HALO_BUILD_TYPE  CMAKE_BUILD_TYPE (default: Release)
#   HALO_WITH_CUDA   ON/OFF: build the CUDA kernels (default: ON when nvcc is found)
#   HALO_WERROR      ON/OFF: warnings are errors in project code (default: ON)
#   HALO_JOBS        parallel jobs (default: nproc)
#   HALO_TARGETS     space-separated Ninja targets (default: all), e.g. "halo_pch"
set -euo pipefail
HALO_SCRIPT=build.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

case "${1:-}" in
  -h | --help) halo_help "$0"; exit 0 ;;
esac

for tool in cmake ninja python3; do
  command -v "$tool" >/dev/null 2>&1 || halo_die "$tool not found on PATH. HINT: run scripts/setup.sh."
done

BUILD_DIR="$(halo_abs "${HALO_BUILD_DIR:-build}")"
JOBS="${HALO_JOBS:-$(nproc)}"
# The interpreter itself (not a pyenv shim), so CMake's FindPython3 and the fixture tests use
# the same Python, and the same torch, as scripts/setup.sh checked.
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"

args=(
  -S "$HALO_ROOT" -B "$BUILD_DIR" -G Ninja
  -DCMAKE_BUILD_TYPE="${HALO_BUILD_TYPE:-Release}"
  -DHALO_WERROR="${HALO_WERROR:-ON}"
  -DPython3_EXECUTABLE="$PYTHON"
)
[ -n "${HALO_WITH_CUDA:-}" ] && args+=(-DHALO_WITH_CUDA="$HALO_WITH_CUDA")
args+=("$@")

# Reconfigure only when the arguments changed (see halo_configure in _common.sh).
halo_configure dev "$BUILD_DIR" \
  "run scripts/setup.sh; if a cached path is stale, delete $BUILD_DIR/CMakeCache.txt." "${args[@]}"

# shellcheck disable=SC2086  # HALO_TARGETS is a word list on purpose
ninja -C "$BUILD_DIR" -j "$JOBS" ${HALO_TARGETS:-} \
  || halo_die "build failed (see the first error above). HINT: HALO_JOBS=1 scripts/build.sh shows it alone; HALO_WERROR=OFF turns warnings back into warnings."
halo_log "built $BUILD_DIR (${HALO_BUILD_TYPE:-Release}, $JOBS jobs)"
if [ "${CI:-}" = true ] && command -v ccache >/dev/null 2>&1; then
  ccache --show-stats 2>/dev/null | grep -Ei 'hits|misses|cache size' >&2 || true
fi
