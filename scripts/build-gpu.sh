#!/usr/bin/env bash
# scripts/build-gpu.sh: build halo-distill with CUDA on an offline GPU host, from the Debian
# packages that scripts/offline-deps.sh downloaded (see docs/gpu-build.md).
#
# Usage: scripts/build-gpu.sh [--deps DIR] [--prefix DIR] [--python PY] [--cuda-arch ARCHS]
#                             [--target T]... [--configure-only] [-- extra cmake args...]
#   --deps DIR        folder with the .debs and MANIFEST.txt (default: .offline-deps)
#   --prefix DIR      where the .debs are unpacked (default: DEPS/prefix); reused while the
#                     MANIFEST and the prefix path are unchanged
#   --python PY       the Python whose torch to build against (default:
#                     /opt/torch/.venv/bin/python3 if it exists, else python3)
#   --cuda-arch A     CMAKE_CUDA_ARCHITECTURES (default: 90, i.e. H100/H200; "80;90" adds A100)
#   --target T        build only Ninja target T (repeatable; default: all)
#   --configure-only  stop after CMake
#
# Steps: check the .debs against MANIFEST.txt; `dpkg-deb -x` them into the prefix; fix what
# Debian's absolute /usr paths break (absolute symlinks, pkg-config files); check that every
# library the prefix needs is in the prefix or on the host; configure with
# -DHALO_WITH_CUDA=ON, the prefix first on CMAKE_PREFIX_PATH, HDF5_ROOT at Debian's serial
# HDF5, and a build RPATH to the prefix (scripts/offline-prefix.cmake); build with Ninja into
# build/ (the CLI at build/halo-distill, as scripts/build.sh does). No LD_LIBRARY_PATH needed.
#
# Environment:
#   HALO_BUILD_DIR   build directory (default: build; relative to the repo root)
#   HALO_BUILD_TYPE  CMAKE_BUILD_TYPE (default: Release)
#   HALO_WERROR      ON/OFF (default: OFF: the host's g++ 13 warns differently from CI's g++ 12)
#   HALO_WITH_CUDA   ON/OFF (default: ON)
#   HALO_CUDA_ARCH   like --cuda-arch
#   HALO_JOBS        parallel jobs (default: nproc)
#   CUDACXX          the nvcc to use (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc)
set -euo pipefail
HALO_SCRIPT=build-gpu.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

DEPS="$HALO_ROOT/.offline-deps"
PREFIX=""
PYTHON=""
CUDA_ARCH="${HALO_CUDA_ARCH:-90}"
CONFIGURE_ONLY=0
targets=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) halo_help "$0"; exit 0 ;;
    --deps) [ $# -ge 2 ] || halo_die "--deps needs a folder"; DEPS="$2"; shift 2 ;;
    --prefix) [ $# -ge 2 ] || halo_die "--prefix needs a folder"; PREFIX="$2"; shift 2 ;;
    --python) [ $# -ge 2 ] || halo_die "--python needs an interpreter"; PYTHON="$2"; shift 2 ;;
    --cuda-arch) [ $# -ge 2 ] || halo_die "--cuda-arch needs a value"; CUDA_ARCH="$2"; shift 2 ;;
    --target) [ $# -ge 2 ] || halo_die "--target needs a name"; targets+=("$2"); shift 2 ;;
    --configure-only) CONFIGURE_ONLY=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) halo_die "unknown argument '$1'. HINT: scripts/build-gpu.sh --help (cmake args go after --)" ;;
  esac
done
case "$DEPS" in /*) ;; *) DEPS="$PWD/$DEPS" ;; esac
PREFIX="${PREFIX:-$DEPS/prefix}"
case "$PREFIX" in /*) ;; *) PREFIX="$PWD/$PREFIX" ;; esac
case "$PREFIX" in *'#'* | *' '*) halo_die "the prefix path '$PREFIX' must not contain '#' or spaces." ;; esac
BUILD_DIR="$(halo_abs "${HALO_BUILD_DIR:-build}")"
JOBS="${HALO_JOBS:-$(nproc)}"
WITH_CUDA="${HALO_WITH_CUDA:-ON}"

for tool in cmake ninja dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || halo_die "$tool not found on PATH (the GPU host needs cmake, ninja, dpkg-deb)."
done
MANIFEST="$DEPS/MANIFEST.txt"
[ -f "$MANIFEST" ] || halo_die "no $MANIFEST. HINT: run scripts/offline-deps.sh on a connected Debian 12 machine and copy its folder here (or pass --deps DIR)."

# --- unpack the .debs into the prefix (once per MANIFEST and prefix path) ---------------------
want_stamp="$(sha256sum <"$MANIFEST" | cut -d' ' -f1) $PREFIX"
stamp_file="$PREFIX/.halo-unpacked"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want_stamp" ]; then
  halo_log "prefix $PREFIX is up to date"
else
  if [ -e "$PREFIX" ] && [ ! -f "$stamp_file" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]; then
    halo_die "$PREFIX exists and was not made by this script; refusing to replace it. HINT: pass another --prefix."
  fi
  halo_log "checking the .debs against $MANIFEST"
  debs=()
  while IFS=$'\t' read -r pkg ver sha file; do
    case "$pkg" in '#'* | '') continue ;; esac
    [ -f "$DEPS/$file" ] || halo_die "$DEPS/$file ($pkg $ver) is missing. HINT: copy the whole folder again."
    [ "$(sha256sum <"$DEPS/$file" | cut -d' ' -f1)" = "$sha" ] \
      || halo_die "$DEPS/$file: checksum differs from MANIFEST.txt (damaged in transfer?). HINT: copy it again."
    debs+=("$DEPS/$file")
  done <"$MANIFEST"
  [ "${#debs[@]}" -gt 0 ] || halo_die "$MANIFEST lists no packages."

  halo_log "unpacking ${#debs[@]} packages into $PREFIX"
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" "$PREFIX" || halo_die "dpkg-deb -x $deb failed."
  done

  # Absolute symlinks (to /usr/...) would point at the host's system: make them relative.
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    case "$target" in
      /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$PREFIX$target")" "$link" ;;
    esac
  done < <(find "$PREFIX" -type l -print0)

  # pkg-config files and *-config scripts hard-code prefix=/usr, -I/usr/..., -L/usr/...: point
  # them into the prefix. (Debian's CMake package files compute their location and need no fix.)
  while IFS= read -r -d '' f; do
    sed -i -E "s#(^|[^A-Za-z0-9_./-]|-I|-L)/usr(/|\$|[[:space:]\"'])#\\1$PREFIX/usr\\2#g" "$f"
  done < <(find "$PREFIX/usr" \( -name '*.pc' -o -path '*/usr/bin/*-config' \) -type f -print0)

  # Every library in the prefix must find its dependencies in the prefix or on the host.
  if command -v readelf >/dev/null 2>&1 && command -v ldconfig >/dev/null 2>&1; then
    libdirs=()
    for d in "$PREFIX/usr/lib/x86_64-linux-gnu" "$PREFIX/lib/x86_64-linux-gnu"; do
      [ -d "$d" ] && libdirs+=("$d")
    done
    host_libs="$(ldconfig -p 2>/dev/null | awk 'NR > 1 { print $1 }' | sort -u || true)"
    prefix_libs="$(find "${libdirs[@]}" -maxdepth 1 -name '*.so*' -printf '%f\n' | sort -u)"
    missing="$(find "${libdirs[@]}" -maxdepth 1 -name '*.so*' -type f -exec readelf -d {} + 2>/dev/null \
      | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u \
      | grep -vxF -f <(printf '%s\n' "$prefix_libs" "$host_libs") || true)"
    if [ -n "$missing" ]; then
      halo_warn "libraries needed by the prefix but found neither there nor on this host: $(tr '\n' ' ' <<<"$missing"). Linking or running may fail. HINT: add the Debian package that ships each (dpkg -S on a Debian 12 machine) with HALO_OFFLINE_EXTRA=... scripts/offline-deps.sh, or install it on the host."
    fi
  fi
  printf '%s' "$want_stamp" >"$stamp_file"
fi

# --- PyTorch and nvcc ------------------------------------------------------------------------
if [ -z "$PYTHON" ]; then
  if [ -x /opt/torch/.venv/bin/python3 ]; then PYTHON=/opt/torch/.venv/bin/python3; else PYTHON=python3; fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || halo_die "python '$PYTHON' not found. HINT: --python /path/to/venv/bin/python3"
torch_info="$("$PYTHON" -c 'import sys, torch, torch.utils
print(sys.executable); print(torch.__version__); print(torch.utils.cmake_prefix_path); print(torch.version.cuda or "")')" \
  || halo_die "$PYTHON cannot import torch. HINT: --python /path/to/the/venv/bin/python3 that has PyTorch 2.11."
{ read -r PY_EXE; read -r TORCH_VERSION; read -r TORCH_PREFIX; read -r TORCH_CUDA; } <<<"$torch_info"
case "$TORCH_VERSION" in
  2.11.*) ;;
  *) halo_warn "torch $TORCH_VERSION from $PY_EXE; halo-distill is pinned to 2.11.0 (CMake will warn too)." ;;
esac

cuda_args=(-DHALO_WITH_CUDA="$WITH_CUDA")
nvcc_note="CUDA off"
if [ "$WITH_CUDA" = ON ]; then
  NVCC="${CUDACXX:-}"
  [ -n "$NVCC" ] || NVCC="$(command -v nvcc || true)"
  if [ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ]; then NVCC=/usr/local/cuda/bin/nvcc; fi
  { [ -n "$NVCC" ] && [ -x "$NVCC" ]; } \
    || halo_die "nvcc not found (PATH, CUDACXX, /usr/local/cuda/bin). HINT: export CUDACXX=/path/to/nvcc, or HALO_WITH_CUDA=OFF for a CPU-only build."
  nvcc_version="$("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  if [ -n "$TORCH_CUDA" ] && [ "${TORCH_CUDA%%.*}" != "${nvcc_version%%.*}" ]; then
    halo_warn "nvcc $nvcc_version but torch was built with CUDA $TORCH_CUDA: use an nvcc of the same major version (CUDACXX=...)."
  fi
  cuda_args+=(-DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH")
  # Torch's CMake reads its own list ("9.0" for 90); keep it to the same cards.
  if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
    TORCH_CUDA_ARCH_LIST="$(tr ';' '\n' <<<"$CUDA_ARCH" | sed -E 's/^([0-9]+)([0-9][a-z]?)(-real|-virtual)?$/\1.\2/' | paste -sd';')"
    export TORCH_CUDA_ARCH_LIST
  fi
  nvcc_note="nvcc $nvcc_version, sm arch $CUDA_ARCH"
fi
halo_log "torch $TORCH_VERSION (CUDA ${TORCH_CUDA:-none}) from $PY_EXE; $nvcc_note"

# --- configure and build ---------------------------------------------------------------------
args=(
  -S "$HALO_ROOT" -B "$BUILD_DIR" -G Ninja
  -DCMAKE_BUILD_TYPE="${HALO_BUILD_TYPE:-Release}"
  -DHALO_WERROR="${HALO_WERROR:-OFF}"
  "${cuda_args[@]}"
  -DCMAKE_PROJECT_INCLUDE="$HALO_ROOT/scripts/offline-prefix.cmake"
  -DHALO_OFFLINE_PREFIX="$PREFIX"
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX"
  -DTorch_DIR="$TORCH_PREFIX/Torch"
  -DPython3_EXECUTABLE="$PY_EXE"
  "${extra[@]+"${extra[@]}"}"
)
# Same stamp as scripts/build.sh, kind "gpu": a tree configured otherwise (whose cache holds
# /usr paths) is reconfigured from scratch.
halo_configure gpu "$BUILD_DIR" "docs/gpu-build.md, Troubleshooting." "${args[@]}"
if [ "$CONFIGURE_ONLY" = 1 ]; then
  halo_log "configured $BUILD_DIR (--configure-only)"
  exit 0
fi

ninja -C "$BUILD_DIR" -j "$JOBS" "${targets[@]+"${targets[@]}"}" \
  || halo_die "build failed (see the first error above). HINT: HALO_JOBS=1 shows it alone."

# The CLI must resolve every library without LD_LIBRARY_PATH.
if [ -x "$BUILD_DIR/halo-distill" ] && command -v ldd >/dev/null 2>&1; then
  if env -u LD_LIBRARY_PATH ldd "$BUILD_DIR/halo-distill" | grep -q 'not found'; then
    env -u LD_LIBRARY_PATH ldd "$BUILD_DIR/halo-distill" | grep 'not found' >&2
    halo_die "$BUILD_DIR/halo-distill misses libraries at run time (above)."
  fi
fi
halo_log "built $BUILD_DIR; run the CUDA tests with: ctest --test-dir $BUILD_DIR -R cuda --output-on-failure"
