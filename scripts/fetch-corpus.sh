#!/usr/bin/env bash
# scripts/fetch-corpus.sh: a real, freely licensed English corpus from Debian packages, laid out
# as a folder of .txt / .txt.gz documents (one document per file) that `halo-distill prepare`
# reads. For the demo, the tests' manual runs and the prepare benchmark.
#
# Usage: scripts/fetch-corpus.sh [--out DIR] [--large] [--max-mb N]
#   --out DIR    output folder (default: corpus/ in the repository, git-ignored); the documents
#                go to DIR/text/<package>/..., the downloaded .deb files to DIR/debs/
#   --large      more packages, for the >= 100 MB prepare benchmark and GPU runs (below)
#   --max-mb N   stop once DIR/text holds N MB on disk (a subset for a quick demo; files are
#                taken in sorted order, package by package)
#
# Packages (downloaded with `apt-get download`, unpacked with `dpkg -x`: no root needed):
#   default  python3.11-doc   the Python 3.11 documentation's reStructuredText sources
#                             (html/_sources/**/*.rst.txt, about 11 MB; PSF license)
#   --large  linux-doc-6.1    the Linux kernel's Documentation/ (reStructuredText and text,
#                             about 49 MB uncompressed, kept gzip-compressed; GPL-2.0)
#            perl-doc         Perl's manual pages in POD (about 9 MB; Artistic / GPL)
#            git-doc          Git's manual pages in AsciiDoc (*.txt; GPL-2.0)
#            golang-1.19-src  the Go 1.19 standard library's source (*.go, about 90 MB; BSD)
# Each package's copyright file is copied next to its documents; DIR/SOURCES lists the package
# versions used. Idempotent: a DIR/text that is complete for the same arguments is kept.
set -euo pipefail
HALO_SCRIPT=fetch-corpus.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

OUT="$HALO_ROOT/corpus"
LARGE=0
MAX_MB=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) halo_help "$0"; exit 0 ;;
    --out) [ $# -ge 2 ] || halo_die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --large) LARGE=1; shift ;;
    --max-mb) [ $# -ge 2 ] || halo_die "--max-mb needs a number"; MAX_MB="$2"; shift 2 ;;
    --max-mb=*) MAX_MB="${1#--max-mb=}"; shift ;;
    *) halo_die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$MAX_MB" =~ ^[0-9]+$ ]] || halo_die "--max-mb must be a whole number of MB, got '$MAX_MB'"
for tool in apt-get dpkg-deb find sort; do
  command -v "$tool" >/dev/null 2>&1 || halo_die "$tool not found (this script needs Debian's apt)"
done
OUT="$(halo_abs "$OUT")"

# package | folder inside the package | find(1) name patterns of the documents
SPECS=("python3.11-doc|usr/share/doc/python3.11/html/_sources|*.rst.txt")
if [ "$LARGE" = 1 ]; then
  SPECS+=(
    "linux-doc-6.1|usr/share/doc/linux-doc-6.1/Documentation|*.rst.gz *.txt.gz *.rst *.txt"
    "perl-doc|usr/share/perl|*.pod"
    "git-doc|usr/share/doc/git-doc|*.txt"
    "golang-1.19-src|usr/share/go-1.19/src|*.go"
  )
fi

STAMP="large=$LARGE max_mb=$MAX_MB"
if [ -f "$OUT/text/.complete" ] && [ "$(cat "$OUT/text/.complete")" = "$STAMP" ]; then
  halo_log "$OUT/text is complete ($STAMP); nothing to do"
  exit 0
fi
rm -rf "$OUT/text" "$OUT/unpacked"
mkdir -p "$OUT/debs" "$OUT/text" "$OUT/unpacked"
: >"$OUT/SOURCES"

limit_bytes=$((MAX_MB * 1000000))
total=0
full=0
for spec in "${SPECS[@]}"; do
  IFS='|' read -r pkg root patterns <<<"$spec"
  deb="$(find "$OUT/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n 1)"
  if [ -z "$deb" ]; then
    halo_log "downloading $pkg"
    (cd "$OUT/debs" && apt-get download "$pkg" >/dev/null 2>&1) \
      || halo_die "apt-get download $pkg failed. HINT: run 'apt-get update' (as root) first, or check the network"
    deb="$(find "$OUT/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n 1)"
  fi
  version="$(dpkg-deb -f "$deb" Version)"
  echo "$pkg $version $(basename "$deb")" >>"$OUT/SOURCES"
  dpkg-deb -x "$deb" "$OUT/unpacked/$pkg"
  src="$OUT/unpacked/$pkg/$root"
  [ -d "$src" ] || halo_die "$pkg $version has no folder $root (package layout changed?)"
  dest="$OUT/text/$pkg"
  mkdir -p "$dest"
  copyright="$OUT/unpacked/$pkg/usr/share/doc/$pkg/copyright"
  [ -f "$copyright" ] && cp "$copyright" "$dest/COPYRIGHT"
  find_args=()
  for pat in $patterns; do
    [ ${#find_args[@]} -gt 0 ] && find_args+=(-o)
    find_args+=(-name "$pat")
  done
  count=0
  while IFS= read -r -d '' f; do
    size=$(stat -c %s "$f")
    if [ "$limit_bytes" -gt 0 ] && [ $((total + size)) -gt "$limit_bytes" ]; then
      full=1
      break
    fi
    rel="${f#"$src"/}"
    # Names prepare reads: X.txt or X.txt.gz.
    case "$rel" in
      *.txt | *.txt.gz) name="$rel" ;;
      *.gz) name="${rel%.gz}.txt.gz" ;;
      *) name="$rel.txt" ;;
    esac
    mkdir -p "$dest/$(dirname "$name")"
    cp "$f" "$dest/$name"
    total=$((total + size))
    count=$((count + 1))
  done < <(find "$src" -type f \( "${find_args[@]}" \) -print0 | sort -z)
  halo_log "$pkg $version: $count documents"
  [ "$full" = 1 ] && break
done
rm -rf "$OUT/unpacked"
echo "$STAMP" >"$OUT/text/.complete"
halo_log "wrote $OUT/text: $(find "$OUT/text" -type f \( -name '*.txt' -o -name '*.txt.gz' \) | wc -l) documents, $((total / 1000000)) MB on disk$([ "$full" = 1 ] && echo " (--max-mb $MAX_MB reached)")"
echo "$OUT/text"
