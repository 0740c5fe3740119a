#!/usr/bin/env bash
# tests/scripts/run_short_demo.sh BUILD_DIR: the CI end-to-end test (ctest demo.short) of the
# HALO pipeline: scripts/demo.sh with every stage of configs/pipelines/demo.yaml shortened (same
# stages, HALO selection with its report, the quality gates, export, eval, the HTML report and
# the summary; fewer steps, 1 MB of corpus), from an empty output folder. Fails when any step
# of the demo fails or the summary, selection report, eval results or report are missing.
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$BUILD/demo-short"
rm -rf "$OUT"
HALO_DEMO_SKIP_BUILD=1 HALO_BUILD_DIR="$BUILD" HALO_DEMO_MAX_MB=1 OMP_NUM_THREADS=1 \
  HALO_DEMO_SET="stages.pretrain.steps=30 stages.stage1.steps=10 stages.stage2.steps=20 stages.stage3.steps=20" \
  bash "$ROOT/scripts/demo.sh" "$OUT"
test -s "$OUT/run/summary.md" || { echo "demo.short: no summary.md" >&2; exit 1; }
test -s "$OUT/run/selection/selection_report.json" || { echo "demo.short: no selection report" >&2; exit 1; }
test -s "$OUT/student-hf/config.json" || { echo "demo.short: no exported student" >&2; exit 1; }
test -s "$OUT/student-hf/tokenizer.model" || { echo "demo.short: export left out the tokenizer" >&2; exit 1; }
"$BUILD/halo-distill" generate --model "$OUT/student-hf" --prompts <(printf '%s\n' \
  '{"text": "The Python interpreter"}' '{"text": "import", "max_new_tokens": 4}') \
  --max-new-tokens 8 --ignore-eos --out "$OUT/generated.jsonl"
test "$(wc -l < "$OUT/generated.jsonl")" = 2 || { echo "demo.short: generate wrote no 2 results" >&2; exit 1; }
test -s "$OUT/run/eval/results.json" || { echo "demo.short: eval wrote no results.json" >&2; exit 1; }
grep -q "teacher-hf" "$OUT/run/eval/results.json" && grep -q "student-hf" "$OUT/run/eval/results.json" \
  || { echo "demo.short: eval results do not name both models" >&2; exit 1; }
grep -q "niah" "$OUT/run/report.html" \
  || { echo "demo.short: the report has no eval section" >&2; exit 1; }
echo "demo.short: every stage ran; summary, selection report, export, generate, eval and report present"
