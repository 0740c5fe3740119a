#!/usr/bin/env bash
# scripts/bench-stage2.sh: the stage-2 step of halo-distill next to Hugging Face transformers,
# on the same card in the same run (docs/benchmarks.md, issue 5).
#
# Usage: scripts/bench-stage2.sh [--config C.json] [--batch N] [--python PY] [--out DIR]
#   --config  teacher config (default configs/models/qwen3-1.7b.json, random weights)
#   --batch   sequences of 512 tokens per step (default 12, the anchor's shape)
#   --python  Python with torch + transformers (default /opt/torch/.venv/bin/python3 if it
#             exists, else python3)
#   --out     folder for the results (default: print only)
# Runs `halo-distill bench stage2` with the Lightning recurrence in float32 (exact products),
# tf32 (float32 inputs, TF32 products: the authors' numerics as fla runs them) and in the
# autocast dtype, the tf32 recurrence with `--precision bfloat16-pure` (bf16 weights and AdamW
# state, no autocast: the authors' regime), a kernel profile of the autocast case, and
# scripts/bench_stage2_hf.py. Needs a CUDA build in build/ (scripts/build-gpu.sh).
set -euo pipefail
HALO_SCRIPT=bench-stage2.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"
ROOT="$HALO_ROOT"
CONFIG="$ROOT/configs/models/qwen3-1.7b.json"
BATCH=12
PY=""
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "bench-stage2.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
PY="$(halo_bench_python "$PY")"
BIN="$(halo_bench_binary)"
[ -z "$OUT" ] || mkdir -p "$OUT"
save() { if [ -n "$OUT" ]; then tee "$OUT/$1"; else cat; fi; }

for rec in float32 tf32 autocast; do
  "$BIN" bench stage2 --model "$CONFIG" --batch "$BATCH" --lightning-recurrence "$rec" --json \
    | save "stage2-halo-$rec.json"
done
"$BIN" bench stage2 --model "$CONFIG" --batch "$BATCH" --lightning-recurrence tf32 \
  --precision bfloat16-pure --json | save "stage2-halo-tf32-bf16-pure.json"
"$BIN" bench stage2 --model "$CONFIG" --batch "$BATCH" --lightning-recurrence autocast \
  --warmup 2 --iters 2 --profile 30 2>&1 | save "stage2-halo-profile.txt"
PYTHONUNBUFFERED=1 "$PY" "$ROOT/scripts/bench_stage2_hf.py" --config "$CONFIG" --batch "$BATCH" \
  | save "stage2-hf.json"
