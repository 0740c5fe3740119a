#!/usr/bin/env bash
# scripts/bench-decode.sh: decode speed of a Qwen3-shaped teacher and its HypeNet (HypeNet-2B's
# layout: attention at layers 2, 3, 6, 8, 9, 21, 25 of 28, HyPE scale a = 500) with
# `halo-distill bench decode`, next to Hugging Face transformers on the same card in the same run
# (scripts/bench_decode_hf.py). The figures in docs/benchmarks.md come from here.
#
# Usage: scripts/bench-decode.sh [--config C.json] [--dir DIR] [--context LIST] [--batch LIST]
#                                [--new-tokens N] [--hf-context LIST] [--hf-cache dynamic|both]
#                                [--profile N] [--eager] [--fused] [--kernels] [--python PY]
#                                [--out DIR]
#   --config      teacher config (default configs/models/qwen3-1.7b.json; random bf16 weights)
#   --dir         where the two random checkpoints are made (default /tmp/halo-bench; reused)
#   --context     contexts of bench decode (default 4K,32K,128K,256K,512K,1M)
#   --batch       batch sizes (default 1)
#   --new-tokens  timed decode steps per row (default 32)
#   --hf-context  contexts of the transformers peer (default 4K,32K; empty: skip it)
#   --hf-cache    the peer's caches: dynamic, or both (dynamic and static + torch.compile)
#   --profile N   also print the top N kernels of one decode step (stderr)
#   --eager       also run bench decode with --graph off (every kernel launched from the host)
#   --fused       also run bench decode with --fuse-projections on (decode-graph-fused.json)
#   --kernels     also run bench decode with --decode-linear on --rms-norm-row-block on (the
#                 decode kernels that are off by default; decode-graph-kernels.json), and with
#                 --fused, both together (decode-graph-fused-kernels.json)
#   --python      Python with torch + transformers (default /opt/torch/.venv/bin/python3 if it
#                 exists, else python3)
#   --out         folder for the JSON and text results (default: print only)
# Caches are filled with random values (--fill synthetic): decode time only. Needs a CUDA build
# in build/ (scripts/build-gpu.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="$ROOT/configs/models/qwen3-1.7b.json"
DIR=/tmp/halo-bench
CONTEXT=4K,32K,128K,256K,512K,1M
BATCH=1
NEW=32
HF_CONTEXT=4K,32K
HF_CACHE=dynamic
PROFILE=0
EAGER=0
FUSED=0
KERNELS=0
PY=""
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    --context) CONTEXT="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --new-tokens) NEW="$2"; shift 2 ;;
    --hf-context) HF_CONTEXT="$2"; shift 2 ;;
    --hf-cache) HF_CACHE="$2"; shift 2 ;;
    --profile) PROFILE="$2"; shift 2 ;;
    --eager) EAGER=1; shift ;;
    --fused) FUSED=1; shift ;;
    --kernels) KERNELS=1; shift ;;
    --python) PY="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "bench-decode.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$PY" ]; then
  if [ -x /opt/torch/.venv/bin/python3 ]; then PY=/opt/torch/.venv/bin/python3; else PY=python3; fi
fi
BIN="${HALO_BUILD_DIR:-$ROOT/build}/halo-distill"
[ -x "$BIN" ] || { echo "bench-decode.sh: no $BIN; build first (scripts/build-gpu.sh)" >&2; exit 1; }

TEACHER="$DIR/teacher" STUDENT="$DIR/hypenet"
if [ ! -f "$TEACHER/config.json" ]; then
  "$BIN" init-teacher --config "$CONFIG" --out "$TEACHER" --seed 0 --dtype bfloat16
fi
if [ ! -f "$STUDENT/config.json" ]; then
  layers=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['num_hidden_layers'])" \
    "$TEACHER/config.json")
  mixers=$("$PY" -c "
n = int('$layers'); keep = {2, 3, 6, 8, 9, 21, 25}
print(','.join('A' if i in keep else 'L' for i in range(n)))")
  "$BIN" convert --teacher "$TEACHER" --out "$STUDENT" --mixers "$mixers" --attn-logits-scaling 500
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
date -u +"%Y-%m-%d %H:%M UTC"
[ -n "$OUT" ] && mkdir -p "$OUT"
run() {  # run NAME CMD...: prints, and with --out keeps stdout as NAME
  local name="$1"; shift
  if [ -n "$OUT" ]; then "$@" | tee "$OUT/$name"; else "$@"; fi
}
common=(bench decode --model "$TEACHER" --model "$STUDENT" --context "$CONTEXT" --batch "$BATCH"
        --new-tokens "$NEW" --fill synthetic --device cuda --dtype bfloat16)
run decode-graph.json "$BIN" "${common[@]}" --json --profile "$PROFILE"
if [ "$EAGER" = 1 ]; then
  run decode-eager.json "$BIN" "${common[@]}" --graph off --json
fi
if [ "$FUSED" = 1 ]; then
  run decode-graph-fused.json "$BIN" "${common[@]}" --fuse-projections on --json
fi
if [ "$KERNELS" = 1 ]; then
  kernels=(--decode-linear on --rms-norm-row-block on)
  run decode-graph-kernels.json "$BIN" "${common[@]}" "${kernels[@]}" --json
  if [ "$FUSED" = 1 ]; then
    run decode-graph-fused-kernels.json "$BIN" "${common[@]}" "${kernels[@]}" \
      --fuse-projections on --json
  fi
fi
if [ -n "$HF_CONTEXT" ]; then
  run decode-hf.json "$PY" "$ROOT/scripts/bench_decode_hf.py" --model "$TEACHER" \
    --context "$HF_CONTEXT" --batch 1 --new-tokens "$NEW" --cache "$HF_CACHE" --json
fi
