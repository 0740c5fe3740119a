#!/usr/bin/env bash
# scripts/demo.sh: the main job on the embedded default, on the CPU.
#
# Usage: scripts/demo.sh [OUT_DIR]   (default: demo-out/ in the repository)
#
# Installs what is missing (scripts/setup.sh), builds (scripts/build.sh), then runs the
# toolkit on the embedded default: a tiny random Qwen3 teacher (configs/models/qwen3-tiny.json)
# is created with `init-teacher`, summarised with `inspect`, and run with `forward` on a
# fixed token sequence (logits in OUT_DIR/logits.safetensors), then converted into a HypeNet
# student with `convert` (HALO step 0), inspected and run the same way.
# (The full HALO pipeline demo replaces these steps once the pipeline exists.)
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/demo-out}"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"
BIN="${HALO_BUILD_DIR:-$ROOT/build}/halo-distill"

mkdir -p "$OUT"
echo "== init-teacher: a tiny random Qwen3 teacher"
"$BIN" init-teacher --config "$ROOT/configs/models/qwen3-tiny.json" --out "$OUT/teacher" --seed 0
echo "== inspect"
"$BIN" inspect "$OUT/teacher"
echo "== forward: logits of a fixed sequence"
"$BIN" forward --model "$OUT/teacher" --ids "1 17 42 7 300 511 64 2" \
  --out "$OUT/logits.safetensors"
echo "== convert: a HypeNet student, layers 0, 1, 3 as Lightning Attention RNN layers"
"$BIN" convert --teacher "$OUT/teacher" --rnn-layers 0,1,3 --out "$OUT/student"
"$BIN" inspect "$OUT/student"
"$BIN" forward --model "$OUT/student" --ids "1 17 42 7 300 511 64 2" \
  --out "$OUT/student-logits.safetensors"
echo "demo finished: outputs in $OUT"
