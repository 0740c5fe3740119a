#!/usr/bin/env bash
# scripts/demo.sh: the HALO pipeline end to end on the CPU (configs/pipelines/demo.yaml).
#
# Usage: scripts/demo.sh [OUT_DIR]   (default: demo-out/ in the repository)
#
# Installs what is missing (scripts/setup.sh) and builds (scripts/build.sh), then: fetches a
# real corpus (the Python 3.11 documentation from Debian, a few MB: scripts/fetch-corpus.sh),
# trains a SentencePiece tokenizer on it (train-tokenizer), tokenizes it into shards (prepare),
# and runs the pipeline: pretrain a small Qwen3 teacher, stage 1 alignment, layer selection
# (report with every layer's entropy, halo and kl scores), stage 2 KL distillation, stage 3
# long-context finetuning with a length curriculum, a quality gate after each stage
# (validation loss, passkey retrieval at 128 and 512 tokens), export of the student to a
# Hugging Face folder, a generated continuation from it, `eval` of teacher and student side by
# side, the run's HTML report (run/report.html) and a summary table. Run again, it resumes
# where it stopped.
# Timing target: <= 10 minutes on 2 CPU cores after the first build (see docs/benchmarks.md).
# HALO_DEMO_SKIP_BUILD=1 skips setup and build (an existing build/halo-distill is used).
# HALO_DEMO_MAX_MB=N takes N MB of the corpus (default 4); HALO_DEMO_SET="k=v k=v" adds
# `--set k=v` overrides to the run (the CI test demo.short shortens every stage this way).
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/demo-out}" && cd "${1:-$ROOT/demo-out}" && pwd)"

if [ "${HALO_DEMO_SKIP_BUILD:-0}" != 1 ]; then
  "$ROOT/scripts/setup.sh"
  "$ROOT/scripts/build.sh"
fi
BIN="${HALO_BUILD_DIR:-$ROOT/build}/halo-distill"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

START=$(date +%s)
MAX_MB="${HALO_DEMO_MAX_MB:-4}"
echo "== corpus: the Python 3.11 documentation (Debian python3.11-doc), first $MAX_MB MB"
"$ROOT/scripts/fetch-corpus.sh" --out "$OUT/corpus" --max-mb "$MAX_MB"

if [ ! -f "$OUT/tokenizer/sp.model" ]; then
  echo "== tokenizer: SentencePiece BPE, 2048 pieces"
  mkdir -p "$OUT/tokenizer"
  find "$OUT/corpus/text" -type f -name '*.txt' | sort | xargs cat > "$OUT/tokenizer/train.txt"
  "$BIN" train-tokenizer --input "$OUT/tokenizer/train.txt" --model-prefix "$OUT/tokenizer/sp" \
    --vocab-size 2048 --model-type bpe --byte-fallback
fi

if [ ! -f "$OUT/data/manifest.json" ]; then
  echo "== prepare: token shards (train / validation)"
  "$BIN" prepare --tokenizer "$OUT/tokenizer/sp.model" --input "$OUT/corpus/text" \
    --out "$OUT/data" --validation-fraction 0.05 --quiet
fi

EXTRA_SETS=()
for kv in ${HALO_DEMO_SET:-}; do EXTRA_SETS+=(--set "$kv"); done
echo "== run: pretrain, stage 1, selection, stage 2, stage 3 (configs/pipelines/demo.yaml)"
"$BIN" run "$ROOT/configs/pipelines/demo.yaml" --set "run.out_dir=$OUT/run" \
  --set "data.manifest=$OUT/data/manifest.json" "${EXTRA_SETS[@]}"

echo "== export: the final student as a Hugging Face folder"
rm -rf "$OUT/student-hf"
"$BIN" export "$OUT/run" --out "$OUT/student-hf"
"$BIN" inspect "$OUT/student-hf"

echo "== generate: the exported student continues a prompt (greedy, cached decode)"
"$BIN" generate --model "$OUT/student-hf" --prompt "The Python interpreter" --max-new-tokens 32

echo "== eval: teacher and student side by side (NIAH and passkey at 128 and 512 tokens, loss by"
echo "   position up to 4x the training length, multiple choice); results in run/eval/"
rm -rf "$OUT/teacher-hf"
"$BIN" export "$OUT/run" --stage pretrain --out "$OUT/teacher-hf" >/dev/null
"$BIN" eval --model "$OUT/teacher-hf" --model "$OUT/student-hf" \
  --tasks "niah,passkey,ppl-by-position,mc:$ROOT/configs/eval/mc_sample.jsonl" \
  --lengths 128,512 --depths 0,0.5,1 --trials 4 --data "$OUT/data" --train-length 128 \
  --out "$OUT/run/eval"
cat "$OUT/run/eval/results.md"
"$BIN" report "$OUT/run"

# `run` printed the selection table and the summary once; their files stay in the run folder.
echo "== outputs: $OUT/run/summary.md, $OUT/run/selection/selection_report.txt,"
echo "   $OUT/run/eval/results.md"
echo "demo finished in $(( $(date +%s) - START )) s (after the build): outputs in $OUT"
echo "report: $OUT/run/report.html (open it in a browser; \`halo-distill report $OUT/run\` rewrites it)"
