# scripts/_common.sh: helpers sourced by every script in scripts/ (not run on its own).
# shellcheck shell=bash
# The caller sets HALO_SCRIPT (its name, for messages) and HALO_ROOT (the repository root,
# resolved from the script's own path so the scripts work from any directory) before sourcing.

: "${HALO_SCRIPT:?set HALO_SCRIPT before sourcing _common.sh}"
: "${HALO_ROOT:?set HALO_ROOT before sourcing _common.sh}"

# halo_log MSG...: progress line on stderr, prefixed with the script's name.
halo_log() { printf '[%s] %s\n' "$HALO_SCRIPT" "$*" >&2; }

# halo_warn MSG...: a warning the user should read.
halo_warn() { printf '[%s] WARNING: %s\n' "$HALO_SCRIPT" "$*" >&2; }

# halo_die MSG...: print the error (and, by convention, a HINT line) and exit 1.
halo_die() {
  printf '[%s] ERROR: %s\n' "$HALO_SCRIPT" "$*" >&2
  exit 1
}

# halo_help FILE: print the comment block at the top of FILE (after the shebang) as --help.
halo_help() {
  awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}

# halo_as_root CMD...: run CMD as root (directly when root, else through sudo).
halo_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    halo_die "'$*' needs root and sudo is not installed. HINT: run this script as root."
  fi
}

# halo_abs PATH: PATH made absolute; a relative PATH is taken relative to the repository root.
halo_abs() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$HALO_ROOT/$1" ;;
  esac
}

# halo_bench_python [PY]: the Python that runs the Hugging Face side of the bench-*.sh scripts:
# PY when given, else the GPU host's /opt/torch/.venv/bin/python3 when present, else python3.
halo_bench_python() {
  if [ -n "${1:-}" ]; then
    printf '%s\n' "$1"
  elif [ -x /opt/torch/.venv/bin/python3 ]; then
    printf '%s\n' /opt/torch/.venv/bin/python3
  else
    printf '%s\n' python3
  fi
}

# halo_bench_binary: the halo-distill of the CUDA build the bench-*.sh scripts time
# (HALO_BUILD_DIR, default build/); exits 1 with a hint when there is none.
halo_bench_binary() {
  local bin
  bin="$(halo_abs "${HALO_BUILD_DIR:-build}")/halo-distill"
  [ -x "$bin" ] || halo_die "no $bin. HINT: build first (scripts/build-gpu.sh)."
  printf '%s\n' "$bin"
}

# halo_configure KIND BUILD_DIR HINT CMAKE_ARGS...: run CMake only when the arguments changed
# since the last configure of BUILD_DIR. A stamp file records KIND ("dev" for build.sh, "gpu" for
# build-gpu.sh) and the arguments; a tree configured by the other kind (or, for "gpu", by no
# script at all) is reconfigured from scratch, since its cached package paths point elsewhere.
halo_configure() {
  local kind="$1" build_dir="$2" hint="$3"
  shift 3
  local stamp="$build_dir/.halo-configure"
  local want
  want="$kind $(printf '%q ' "$@")"
  local fresh=()
  if [ -f "$build_dir/CMakeCache.txt" ]; then
    if { [ -f "$stamp" ] && [ "$(cut -d' ' -f1 "$stamp")" != "$kind" ]; } \
      || { [ ! -f "$stamp" ] && [ "$kind" != dev ]; }; then
      halo_log "$build_dir was configured by another script; reconfiguring from scratch"
      fresh=(--fresh)
    fi
  fi
  if [ ! -f "$build_dir/CMakeCache.txt" ] || [ ! -f "$build_dir/build.ninja" ] \
    || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    halo_log "configuring $build_dir"
    rm -f "$stamp"
    cmake "${fresh[@]}" "$@" || halo_die "CMake configure failed (see above). HINT: $hint"
    printf '%s' "$want" >"$stamp"
  fi
}

# Any command that fails under `set -e` names itself and its line before the script exits.
# shellcheck disable=SC2154  # halo_rc is assigned inside the trap string
trap 'halo_rc=$?; printf "[%s] FAILED (exit %s) at line %s: %s\n" "$HALO_SCRIPT" "$halo_rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

# ccache must ignore the PCH's __DATE__/__TIME__ and header mtimes, or every translation unit that
# reuses the precompiled header (cmake/HaloPrecompiled.cmake) misses the cache.
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
# Paths under the repository root are hashed relative to the build folder, so a fresh clone in
# another folder (CI) reuses the cache of earlier builds instead of recompiling everything.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$HALO_ROOT}"
