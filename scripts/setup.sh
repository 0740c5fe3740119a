#!/usr/bin/env bash
# scripts/setup.sh: install everything halo-distill needs to build and test on Debian 12.
#
# Usage: scripts/setup.sh [--help]
#
# Debian packages (apt): the C++ libraries (catch2 libcli11-dev libsentencepiece-dev
#   sentencepiece nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libhdf5-dev libpcre2-dev
#   libutf8proc-dev zlib1g-dev libgloo-dev)
#   and the tools (ccache ninja-build cmake g++ pkg-config), and chromium with fonts-dejavu-core
#   (ctest report.chromium opens the run report headless), and clang with its libFuzzer and
#   sanitizer runtimes (libclang-rt-14-dev) and llvm (llvm-symbolizer) for scripts/fuzz.sh.
#   Checked with dpkg-query first; `apt-get update` and `apt-get install` run only when
#   something is missing (through sudo when not root).
# Python packages: the ones pinned in scripts/requirements.txt, for the `python3` on PATH.
#   Each is checked (importable + installed version equals the pin) and only the missing or
#   off-pin ones are installed with pip.
#
# Quick and idempotent: when everything is present it runs no installer (about half a second).
# Prints one summary line at the end.
#
# Environment:
#   HALO_ALLOW_TORCH_VERSION=1  accept an importable torch of another version than the pin
#                               (otherwise that is an error: LibTorch's ABI is pinned).
#   HALO_SKIP_APT=1             skip the Debian part (other distributions: install the
#                               packages above by hand).
#   HALO_SKIP_PIP=1             skip the Python part.
set -euo pipefail
HALO_SCRIPT=setup.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

case "${1:-}" in
  -h | --help) halo_help "$0"; exit 0 ;;
  "") ;;
  *) halo_die "unknown argument '$1'. HINT: scripts/setup.sh --help" ;;
esac

start_ns=$(date +%s%N)
APT_PACKAGES=(
  catch2 libcli11-dev libsentencepiece-dev sentencepiece nlohmann-json3-dev libyaml-cpp-dev
  libspdlog-dev libhdf5-dev libpcre2-dev libutf8proc-dev zlib1g-dev libgloo-dev ccache
  ninja-build cmake g++ pkg-config chromium fonts-dejavu-core clang libclang-rt-14-dev llvm
)
REQUIREMENTS="$HALO_ROOT/scripts/requirements.txt"

# --- Debian packages -------------------------------------------------------------------------
apt_summary="apt skipped"
if [ "${HALO_SKIP_APT:-0}" != 1 ]; then
  command -v dpkg-query >/dev/null 2>&1 \
    || halo_die "dpkg-query not found: setup.sh installs with apt on Debian 12. HINT: install ${APT_PACKAGES[*]} by hand and rerun with HALO_SKIP_APT=1."
  # One dpkg-query for all: prints "<package> <status>" for known packages, nothing for unknown.
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null \
    | awk '$2 == "installed" { print $1 }' || true)
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    halo_log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    halo_as_root apt-get update -qq \
      || halo_die "apt-get update failed. HINT: check the network and /etc/apt/sources.list*."
    halo_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends \
      "${missing[@]}" \
      || halo_die "apt-get install ${missing[*]} failed (see above)."
    apt_summary="apt installed ${#missing[@]}/${#APT_PACKAGES[@]}"
  else
    apt_summary="apt ok (${#APT_PACKAGES[@]} packages)"
  fi
fi

# --- Python packages -------------------------------------------------------------------------
# Fast check: importlib finds each module and its distribution's version equals the pin. (A full
# `import torch transformers` costs about 5 s on the 2-core CI machine; this costs 0.2 s.)
pip_summary="pip skipped"
if [ "${HALO_SKIP_PIP:-0}" != 1 ]; then
  command -v python3 >/dev/null 2>&1 \
    || halo_die "python3 not found on PATH. HINT: install Python 3.11+ (CI uses pyenv 3.11)."
  [ -f "$REQUIREMENTS" ] || halo_die "missing $REQUIREMENTS"
  # Prints "ok NAME VERSION", "missing NAME==PIN" or "other NAME==PIN FOUND" per requirement.
  check_py='
import importlib.metadata as md, importlib.util, sys
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, pin = line.split("==")
    try:
        found = md.version(name)
    except md.PackageNotFoundError:
        found = None
    if found is None or importlib.util.find_spec(name) is None:
        print("missing", line)
    elif found.split("+")[0] != pin:
        print("other", line, found)
    else:
        print("ok", name, found)
'
  report=$(python3 -c "$check_py" "$REQUIREMENTS") \
    || halo_die "could not check the Python packages with $(command -v python3)."
  to_install=()
  while read -r state req found; do
    case "$state" in
      ok) ;;
      missing) to_install+=("$req") ;;
      other)
        if [ "${req%%==*}" = torch ]; then
          if [ "${HALO_ALLOW_TORCH_VERSION:-0}" = 1 ]; then
            halo_warn "using torch $found instead of the pinned ${req#*==} (HALO_ALLOW_TORCH_VERSION=1)."
          else
            halo_die "python3 ($(command -v python3)) has torch $found, but halo-distill is pinned to ${req#*==} (LibTorch's C++ ABI must match). HINT: python3 -m pip install $req, use another python3, or set HALO_ALLOW_TORCH_VERSION=1 to build against $found anyway."
          fi
        else
          to_install+=("$req")
        fi
        ;;
    esac
  done <<<"$report"
  if [ "${#to_install[@]}" -gt 0 ]; then
    halo_log "pip installing: ${to_install[*]}"
    PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
      python3 -m pip install -q "${to_install[@]}" \
      || halo_die "pip install ${to_install[*]} failed (see above). HINT: check that PyPI is reachable and that $(command -v python3) is a writable environment."
    pip_summary="pip installed ${to_install[*]}"
  else
    pip_summary="python ok ($(awk '$1 == "ok" { printf "%s%s %s", sep, $2, $3; sep=", " }' <<<"$report"))"
  fi
fi

elapsed=$(( ($(date +%s%N) - start_ns) / 1000000 ))
printf '[%s] %s; %s; %d.%03d s\n' "$HALO_SCRIPT" "$apt_summary" "$pip_summary" \
  $((elapsed / 1000)) $((elapsed % 1000))
