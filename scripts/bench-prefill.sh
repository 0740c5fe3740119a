#!/usr/bin/env bash
# scripts/bench-prefill.sh: prefill speed of the C++ teacher next to Hugging Face transformers,
# on the same card in the same run (the figures in docs/benchmarks.md come from here).
#
# Usage: scripts/bench-prefill.sh [--config C.json] [--model-dir DIR] [--tokens 4096,16384]
#                                 [--python PY] [--out DIR]
#   --config     model config (default configs/models/qwen3-1.7b.json, random weights)
#   --model-dir  where the random bf16 checkpoint is created (default /tmp/halo-bench/model;
#                reused when present)
#   --tokens     prompt lengths (default 4096,16384)
#   --python     Python with torch + transformers (default /opt/torch/.venv/bin/python3 if it
#                exists, else python3)
#   --out        folder for the JSON results (default: print only)
# Needs a CUDA build in build/ (scripts/build-gpu.sh).
set -euo pipefail
HALO_SCRIPT=bench-prefill.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"
ROOT="$HALO_ROOT"
CONFIG="$ROOT/configs/models/qwen3-1.7b.json"
MODEL=/tmp/halo-bench/model
TOKENS=4096,16384
PY=""
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --model-dir) MODEL="$2"; shift 2 ;;
    --tokens) TOKENS="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "bench-prefill.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
PY="$(halo_bench_python "$PY")"
BIN="$(halo_bench_binary)"

if [ ! -f "$MODEL/config.json" ]; then
  "$BIN" init-teacher --config "$CONFIG" --out "$MODEL" --seed 0 --dtype bfloat16
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
date -u +"%Y-%m-%d %H:%M UTC"
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"
  "$BIN" bench prefill --model "$MODEL" --tokens "$TOKENS" --device cuda --dtype bfloat16 --json \
    | tee "$OUT/prefill_halo.json"
  "$PY" "$ROOT/scripts/bench_prefill_hf.py" --model "$MODEL" --tokens "$TOKENS" --json \
    | tee "$OUT/prefill_hf.json"
fi
"$BIN" bench prefill --model "$MODEL" --tokens "$TOKENS" --device cuda --dtype bfloat16
"$PY" "$ROOT/scripts/bench_prefill_hf.py" --model "$MODEL" --tokens "$TOKENS"
