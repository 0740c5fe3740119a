#!/usr/bin/env bash
# scripts/offline-deps.sh: download the Debian 12 packages an offline GPU host needs to build
# halo-distill, into one folder you copy there (scripts/build-gpu.sh then builds from it).
#
# Usage: scripts/offline-deps.sh [--out DIR] [--list]
#   --out DIR   destination folder (default: .offline-deps in the repo, which git ignores)
#   --list      print the package closure (and what was left out, and why) and stop
#
# Run it on a connected Debian 12 (bookworm) amd64 machine; it needs apt lists, no root unless
# they are missing (then it runs `apt-get update`). No package is installed here: the files
# come from `apt-get download`.
#
# What is downloaded: the closure of the -dev packages the build uses (ROOTS below), computed
# with `apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks
# --no-replaces --no-enhances`, walked level by level, taking the first choice of each
# "a | b" dependency, and not descending into the packages of two explicit lists:
#   BASE    what the GPU host (Ubuntu 24.04 with g++ 13, nvcc, Python) already has: glibc and
#           its headers, the GCC runtime, zlib/zstd, gmp (Ubuntu's coreutils needs it).
#   UNUSED  what libhdf5-dev / libpcre2-dev declare for Fortran, C++ bindings, the h5cc
#           wrapper or static linking, none of which halo-distill uses.
# Each package of the two lists carries its reason where it is defined. The folder gets
# MANIFEST.txt (package, version, sha256, file) and is reused: files already present with the
# right checksum are not downloaded again, stale .debs are removed. The total size is printed
# (it has to travel with the source tree; budget 60 MiB).
#
# Environment:
#   HALO_OFFLINE_EXTRA="pkg ..."  extra packages (with their closure) to add, e.g. libhdf5-cpp-103-1
set -euo pipefail
HALO_SCRIPT=offline-deps.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

OUT="$HALO_ROOT/.offline-deps"
LIST_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) halo_help "$0"; exit 0 ;;
    --out) [ $# -ge 2 ] || halo_die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --list) LIST_ONLY=1; shift ;;
    *) halo_die "unknown argument '$1'. HINT: scripts/offline-deps.sh --help" ;;
  esac
done
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac

# The -dev packages whose headers, CMake files and libraries the build uses (cmake/
# HaloDependencies.cmake). libfmt-dev comes with libspdlog-dev; named for clarity.
ROOTS=(
  nlohmann-json3-dev  # nlohmann/json.hpp (header only)
  libyaml-cpp-dev     # yaml-cpp
  libspdlog-dev       # spdlog, built against the external fmt
  libfmt-dev          # fmt 9
  libcli11-dev        # CLI11 (header only)
  libhdf5-dev         # HDF5 C library (serial flavour)
  libsentencepiece-dev  # SentencePiece
  libpcre2-dev        # PCRE2 8-bit
  libutf8proc-dev     # utf8proc (Unicode normalization for tokenizers)
  zlib1g-dev          # zlib headers: gzip inputs of `prepare`
  catch2              # Catch2 v2 (tests)
  libgloo-dev         # Gloo headers for c10d's ProcessGroupGloo.hpp (the code is libtorch_cpu's)
)
# shellcheck disable=SC2206  # word list on purpose
[ -n "${HALO_OFFLINE_EXTRA:-}" ] && ROOTS+=(${HALO_OFFLINE_EXTRA})

# BASE: present on the GPU host already. Shipping Debian's copies would shadow the host's newer
# C runtime (Ubuntu 24.04: glibc 2.39, GCC 13/14 runtime; Debian 12 binaries run on both).
BASE=(
  libc6 libc6-dev libc-dev-bin linux-libc-dev libcrypt1 libcrypt-dev  # glibc + headers (g++ needs them)
  libnsl2 libnsl-dev libtirpc3 libtirpc-dev libtirpc-common rpcsvc-proto  # glibc's libc6-dev deps
  libgcc-s1 libstdc++6 gcc-12-base libgomp1 libquadmath0                 # GCC runtime (host has g++ 13)
  gcc g++ cpp gcc-12 g++-12 cpp-12 libgcc-12-dev libstdc++-12-dev         # the compiler itself
  zlib1g libzstd1 liblzma5 libbz2-1.0  # compression libs dpkg/apt themselves need on Ubuntu
  libgmp10                             # needed by coreutils on Ubuntu: always there
  debconf dpkg perl perl-base python3 python3-minimal libpython3-stdlib  # system tooling
)
# UNUSED: declared by the roots' packaging but not needed to build or run halo-distill.
UNUSED=(
  hdf5-helpers            # h5cc wrapper: CMake's FindHDF5 reads the prefix directly instead
  libhdf5-fortran-102 libhdf5-hl-fortran-100 libgfortran5  # HDF5 Fortran bindings
  libhdf5-cpp-103-1 libhdf5-hl-cpp-100                     # HDF5 C++ bindings (we use the C API)
  libssl-dev libjpeg-dev libjpeg62-turbo-dev libjpeg62-turbo  # only for static libhdf5.a
  libcurl4-openssl-dev libcurl4-gnutls-dev libcurl4-nss-dev  # ditto (the runtime libcurl4 is kept)
  libpcre2-16-0 libpcre2-32-0 libpcre2-posix3  # 16/32-bit and POSIX PCRE2; we use pcre2-8
  libsasl2-modules-db libdb5.3  # SASL's Berkeley-DB plugin (dlopened, never by an HDF5 read)
  libgloo0 libhiredis-dev libibverbs-dev  # libgloo-dev's library and its -dev deps: only its
                                          # headers are used (libtorch_cpu has the Gloo code)
)

for tool in apt-cache apt-get dpkg sha256sum; do
  command -v "$tool" >/dev/null 2>&1 \
    || halo_die "$tool not found: offline-deps.sh runs on a Debian 12 machine with apt."
done
arch="$(dpkg --print-architecture)"
[ "$arch" = amd64 ] || halo_die "this machine is $arch; the GPU host needs amd64 packages. HINT: run on an amd64 Debian 12 machine."
if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  halo_warn "this is not Debian 12 (bookworm): package names and versions may differ from what build-gpu.sh was tested with."
fi
if ! apt-cache show --no-all-versions libhdf5-dev >/dev/null 2>&1; then
  halo_log "apt lists are missing; running apt-get update"
  halo_as_root apt-get update -qq || halo_die "apt-get update failed. HINT: check the network and /etc/apt/sources.list*."
fi

# --- closure ---------------------------------------------------------------------------------
declare -A skip_reason=() seen=()
for p in "${BASE[@]}"; do skip_reason[$p]=base; done
for p in "${UNUSED[@]}"; do skip_reason[$p]=unused; done

# One recursive apt-cache call prints every reachable package with its dependencies (all
# alternatives); the walk below follows only the first choice of each "a | b" group (a virtual
# package stands for its first provider) and stops at BASE and UNUSED. Output: "PKG DEP" edges.
edges="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${ROOTS[@]}" | awk '
  /^[^ ]/ { pkg = $1; prev_or = 0; chosen = 0; want_provider = 0; next }   # a package header
  /^    [^ ]/ {                                                             # provider of a virtual
    if (want_provider && !chosen && pkg !~ /^</) { print pkg, $1; chosen = 1 }
    want_provider = 0; next }
  /^ [ |](Pre)?Depends: / {
    if (!prev_or) chosen = 0                                                # a new group
    prev_or = ($1 ~ /^\|/)
    want_provider = 0
    if (chosen || pkg ~ /^</) next
    if ($2 ~ /^</) want_provider = 1; else { print pkg, $2; chosen = 1 } }' \
  | sed 's/:any\b//g' | sort -u)" \
  || halo_die "apt-cache depends failed. HINT: apt-get update, then rerun."
declare -A deps_of=()
while read -r p d; do deps_of[$p]+="$d "; done <<<"$edges"

frontier=("${ROOTS[@]}")
for p in "${ROOTS[@]}"; do seen[$p]=1; done
skipped=()
while [ "${#frontier[@]}" -gt 0 ]; do
  next=()
  for p in "${frontier[@]}"; do
    for dep in ${deps_of[$p]:-}; do
      [ -n "${seen[$dep]:-}" ] && continue
      seen[$dep]=1
      if [ -n "${skip_reason[$dep]:-}" ]; then
        skipped+=("$dep(${skip_reason[$dep]})")
      else
        next+=("$dep")
      fi
    done
  done
  frontier=("${next[@]+"${next[@]}"}")
done
packages=()
for p in "${!seen[@]}"; do
  [ -z "${skip_reason[$p]:-}" ] && packages+=("$p")
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort)
mapfile -t skipped < <(printf '%s\n' "${skipped[@]+"${skipped[@]}"}" | sort)

if [ "$LIST_ONLY" = 1 ]; then
  printf '%s\n' "${packages[@]}"
  echo "# left out: ${skipped[*]}"
  exit 0
fi

# --- download --------------------------------------------------------------------------------
# "package version arch sha256 size" of each package's candidate version, in package order.
meta="$(apt-cache show --no-all-versions "${packages[@]}" | awk '
  /^Package: / { p = $2 } /^Version: / { v = $2 } /^Architecture: / { a = $2 }
  /^SHA256: / { s = $2 } /^Size: / { z = $2 }
  /^$/ { if (p != "") print p, v, a, s, z; p = "" }
  END { if (p != "") print p, v, a, s, z }' | sort -u -k1,1)"
[ "$(wc -l <<<"$meta")" -eq "${#packages[@]}" ] \
  || halo_die "apt-cache show did not describe every package of the closure. HINT: apt-get update, then rerun."

mkdir -p "$OUT"
cd "$OUT"
# deb_file PKG VERSION ARCH: the file name apt-get download writes (an epoch's ':' is "%3a").
deb_file() { printf '%s_%s_%s.deb\n' "$1" "${2//:/%3a}" "$3"; }
to_fetch=()
wanted_files=()
while read -r p v a s _; do
  f="$(deb_file "$p" "$v" "$a")"
  wanted_files+=("$f")
  if [ -f "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$s" ]; then
    continue
  fi
  rm -f "$f"
  to_fetch+=("$p=$v")
done <<<"$meta"

# Remove .debs of earlier runs that are no longer part of the closure (e.g. older versions).
for f in *.deb; do
  [ -e "$f" ] || continue
  printf '%s\n' "${wanted_files[@]}" | grep -qxF "$f" || { halo_log "removing stale $f"; rm -f "$f"; }
done

if [ "${#to_fetch[@]}" -gt 0 ]; then
  halo_log "downloading ${#to_fetch[@]} of ${#packages[@]} packages into $OUT"
  sandbox=()
  # As root, apt drops to the _apt user, which may not write here; download as root instead.
  [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
  apt-get download -q "${sandbox[@]}" "${to_fetch[@]}" >/dev/null \
    || halo_die "apt-get download failed (see above). HINT: apt-get update, then rerun."
else
  halo_log "all ${#packages[@]} packages already in $OUT"
fi

# --- manifest --------------------------------------------------------------------------------
{
  echo "# halo-distill offline dependencies: Debian packages for scripts/build-gpu.sh."
  echo "# Made by scripts/offline-deps.sh on $(date -u +%Y-%m-%dT%H:%MZ) from $(. /etc/os-release && echo "$PRETTY_NAME") ($arch)."
  echo "# Left out (see the script): ${skipped[*]}"
  echo "# package	version	sha256	file"
  while read -r p v a s _; do
    f="$(deb_file "$p" "$v" "$a")"
    [ -f "$f" ] || halo_die "$f was not downloaded."
    got="$(sha256sum "$f" | cut -d' ' -f1)"
    [ "$got" = "$s" ] || halo_die "$f: sha256 $got differs from the archive's $s. HINT: delete it and rerun."
    printf '%s\t%s\t%s\t%s\n' "$p" "$v" "$got" "$f"
  done <<<"$meta"
} >MANIFEST.txt.tmp
mv MANIFEST.txt.tmp MANIFEST.txt

# --- size report -----------------------------------------------------------------------------
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
deps_bytes=$(cat ./*.deb MANIFEST.txt | wc -c)
src_bytes=$(cd "$HALO_ROOT" && git ls-files -z -co --exclude-standard 2>/dev/null \
  | xargs -0 -r cat 2>/dev/null | wc -c || echo 0)
total=$((deps_bytes + src_bytes))
halo_log "${#packages[@]} packages, $(mib "$deps_bytes") in $OUT (+ source tree $(mib "$src_bytes") = $(mib "$total"); budget 60 MiB)"
[ "$total" -le $((60 * 1048576)) ] || halo_warn "over the 60 MiB travel budget."
halo_log "next: copy the repo with $OUT to the GPU host and run scripts/build-gpu.sh there"
