#!/usr/bin/env bash
# scripts/experiment-gpu.sh: issue 20's conversion on one GPU, start to finish, in resumable
# pieces (docs/experiments.md). A tokenizer and a Qwen3-style teacher of about 34M parameters
# pretrained by the toolkit at 1024 tokens on the --large corpus of scripts/fetch-corpus.sh, then
# stage 1, selection (halo; entropy, kl and uniform reported beside it), stage 2, stage 3 with a
# length curriculum (configs/pipelines/gpu-small.yaml), eval of teacher and student side by side
# at 1x..32x the training length, bench decode of both, the run report and a results summary.
#
# Usage: scripts/experiment-gpu.sh [--out DIR] [--inputs DIR] [--minutes M] [--piece-minutes P]
#                                  [--inputs-only] [--smoke]
#   --out DIR          run folder and results (default: experiment-out/ in the repository;
#                      git-ignored). Small results: DIR/results/ and DIR/results.tar.gz
#   --inputs DIR       corpus tarball + tokenizer made by --inputs-only (default:
#                      experiment-data/ in the repository, git-ignored; its size is printed: carry it)
#   --minutes M        the whole experiment's budget (default 25); the training budgets are sized
#                      from tokens/s measured first on this machine (a short probe run)
#   --piece-minutes P  stop this invocation after P minutes (default 9), at a point the next one
#                      resumes from; exit 3 then: run the same command again
#   --inputs-only      on a machine with apt and network: fetch the corpus, train the tokenizer,
#                      pack both into --inputs, and stop (the GPU host needs no network after it)
#   --smoke            the same phases on the CPU with tiny sizes (the demo's model shape,
#                      128-token training length, 1 MB of corpus, default --minutes 5)
# Exit codes: 0 finished (results in DIR/results), 3 this piece ended (run again to resume),
# 1 an error. Each phase's wall time goes to DIR/results/phases.jsonl; a phase is redone only
# when it did not finish. HALO_BIN overrides the binary (default build/halo-distill).
set -euo pipefail
{ # the whole script is read before it runs: editing it meanwhile cannot change a running piece
HALO_SCRIPT=experiment-gpu.sh
HALO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_common.sh
source "$HALO_ROOT/scripts/_common.sh"

OUT=""
INPUTS=""
MINUTES=""
PIECE_MINUTES=9
INPUTS_ONLY=0
SMOKE=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) halo_help "$0"; exit 0 ;;
    --out) [ $# -ge 2 ] || halo_die "--out needs a folder"; OUT="$2"; shift 2 ;;
    --inputs) [ $# -ge 2 ] || halo_die "--inputs needs a folder"; INPUTS="$2"; shift 2 ;;
    --minutes) [ $# -ge 2 ] || halo_die "--minutes needs a number"; MINUTES="$2"; shift 2 ;;
    --piece-minutes) [ $# -ge 2 ] || halo_die "--piece-minutes needs a number"; PIECE_MINUTES="$2"; shift 2 ;;
    --inputs-only) INPUTS_ONLY=1; shift ;;
    --smoke) SMOKE=1; shift ;;
    *) halo_die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$MINUTES" ] || MINUTES=$([ "$SMOKE" = 1 ] && echo 5 || echo 25)
[[ "$MINUTES" =~ ^[0-9]+([.][0-9]+)?$ ]] || halo_die "--minutes must be a number, got '$MINUTES'"
[[ "$PIECE_MINUTES" =~ ^[0-9]+([.][0-9]+)?$ ]] || halo_die "--piece-minutes must be a number, got '$PIECE_MINUTES'"
OUT="$(halo_abs "${OUT:-$([ "$SMOKE" = 1 ] && echo experiment-smoke || echo experiment-out)}")"
INPUTS="$(halo_abs "${INPUTS:-$([ "$SMOKE" = 1 ] && echo "$OUT/inputs" || echo experiment-data)}")"
BIN="${HALO_BIN:-$HALO_ROOT/build/halo-distill}"
[ -x "$BIN" ] || halo_die "$BIN not found. HINT: build first (scripts/build.sh or scripts/build-gpu.sh)"
PIPELINE="$HALO_ROOT/configs/pipelines/gpu-small.yaml"
PLANNER=(python3 "$HALO_ROOT/scripts/experiment_gpu.py")
EXIT_PIECE=3

# ---- sizes: the GPU experiment, or the CPU smoke run of the same phases -------------------------
if [ "$SMOKE" = 0 ]; then
  MODEL_CONFIG="$HALO_ROOT/configs/models/qwen3-gpu-small.json"
  TRAIN_LEN=1024                       # the teacher's training length (gpu-small.yaml)
  FETCH_ARGS=(--large)
  TOKENIZER_SENTENCES=2000000          # lines sampled for SentencePiece
  VALID_FRACTION=0.02                  # 0.01 held out 116 documents, 188K tokens: too few for 32K haystacks
  DEVICE_SETS=()
  DEVICE=cuda
  EVAL_ARGS=(--depths 0,0.25,0.5,0.75,1 --trials 4 --ppl-sequences 4 --device cuda)
  BENCH_ARGS=(--context 4K,32K,128K,512K,1M --batch 1 --fill synthetic --device cuda --dtype bfloat16)
  PROBE_STEPS=12
  S3_BATCH=32                          # gpu-small.yaml's stages.stage3.batch_size
  # Seconds kept out of the training budget: selection ~60, 5 quality gates ~60, exports ~20,
  # eval ~180, bench decode ~60, report ~10 (estimates for a 34M model on an H100; each phase's
  # real time lands in results/phases.jsonl, so the next run can correct them).
  RESERVE_S=390
  CHECKPOINT_S=60                      # at most this much training is lost when a piece is cut
  SAVE_MARGIN_S=45                     # left for the checkpoint a SIGTERM writes
  EST_EXPORT_S=30; EST_EVAL_S=240; EST_BENCH_S=120; EST_REPORT_S=30
else
  MODEL_CONFIG="$HALO_ROOT/configs/models/qwen3-demo.json"
  TRAIN_LEN=128
  FETCH_ARGS=(--max-mb 1)
  TOKENIZER_SENTENCES=0
  VALID_FRACTION=0.05                  # every 20th document (the demo's)
  DEVICE=cpu
  DEVICE_SETS=(
    run.device=cpu run.threads="${OMP_NUM_THREADS:-2}" data.prefetch=1
    student.lightning_recurrence=float32
    quality_gate.seq_len=128 quality_gate.batch_size=4 quality_gate.validation_batches=4
    "quality_gate.passkey_lengths=[128, 1024]" quality_gate.passkey_trials=2 quality_gate.key_value=false
    stages.pretrain.model_config="$MODEL_CONFIG"
    stages.pretrain.seq_len=128 stages.pretrain.batch_size=8 stages.pretrain.eval.batches=2
    stages.stage1.seq_len=128 stages.stage1.batch_size=8 stages.stage1.eval.batches=2
    stages.selection.seq_len=128 stages.selection.batch_size=2 stages.selection.batches=2
    "stages.selection.recall_lengths=[512]" stages.selection.recall_samples=2
    stages.selection.num_attention_layers=1
    stages.stage2.seq_len=128 stages.stage2.batch_size=8 stages.stage2.eval.batches=2
    stages.stage2.loss_chunk_tokens=512
    stages.stage3.batch_size=8 stages.stage3.eval.batches=2
  )
  for s in pretrain stage1 stage2 stage3; do DEVICE_SETS+=("stages.$s.precision=float32"); done
  EVAL_ARGS=(--depths 0,0.5,1 --trials 1 --ppl-sequences 2 --device cpu --dtype float32)
  BENCH_ARGS=(--context 512,4K --batch 1 --fill synthetic --device cpu --dtype float32 --new-tokens 8)
  PROBE_STEPS=8
  S3_BATCH=8                           # stages.stage3.batch_size above
  RESERVE_S=120
  CHECKPOINT_S=15
  SAVE_MARGIN_S=30                     # a loaded 2-core machine can take 15 s to stop
  EST_EXPORT_S=10; EST_EVAL_S=60; EST_BENCH_S=20; EST_REPORT_S=10
fi
VOCAB="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$MODEL_CONFIG")"

# phase_done NAME / phase_mark NAME SECONDS RC: markers of finished phases, and the time ledger.
phase_done() { [ -f "$OUT/state/$1.done" ]; }
phase_record() {
  printf '{"phase": "%s", "piece": %d, "wall_s": %d, "rc": %d, "utc": "%s"}\n' \
    "$1" "$PIECE" "$2" "$3" "$(date -u +%FT%TZ)" >>"$OUT/results/phases.jsonl"
}
phase_mark() { touch "$OUT/state/$1.done"; }
spent_s() {  # wall seconds of every phase so far, all pieces
  python3 -c 'import json,sys
t=0
try:
  for l in open(sys.argv[1]): t+=json.loads(l)["wall_s"]
except FileNotFoundError: pass
print(t)' "$OUT/results/phases.jsonl"
}
left_s() { echo $((DEADLINE - $(date +%s))); }
# need_s SECONDS PHASE: end the piece (exit 3) unless SECONDS are left for PHASE.
need_s() {
  if [ "$(left_s)" -lt "$1" ]; then
    halo_log "piece $PIECE ends: $(left_s) s left, '$2' needs about $1 s. Run the same command again to continue."
    exit "$EXIT_PIECE"
  fi
}
# timed PHASE SECONDS CMD...: run CMD under a SIGTERM at most SECONDS later; record its wall time.
# Returns CMD's status (124/143/137 when the deadline stopped it).
# A SIGTERM or SIGINT to this script is passed on to CMD (the run then saves a checkpoint) and the
# script exits 128 + N once CMD has stopped.
CHILD=""
SIGNALLED=0
forward_signal() {
  SIGNALLED=$1
  [ -n "$CHILD" ] && kill -s "$2" "$CHILD" 2>/dev/null || true
}
trap 'forward_signal 143 TERM' TERM
trap 'forward_signal 130 TERM' INT  # background jobs ignore SIGINT: a SIGTERM stops them alike
timed() {
  local phase="$1" limit="$2" t0 rc=0
  shift 2
  t0=$(date +%s)
  timeout --preserve-status -s TERM -k "$SAVE_MARGIN_S" "$limit" "$@" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  while kill -0 "$CHILD" 2>/dev/null; do  # a trapped signal ended the wait, not CMD
    rc=0
    wait "$CHILD" || rc=$?
  done
  CHILD=""
  phase_record "$phase" $(($(date +%s) - t0)) "$rc"
  if [ "$SIGNALLED" != 0 ]; then
    halo_log "stopped by a signal during '$phase' (its exit $rc); run the same command again to continue"
    exit "$SIGNALLED"
  fi
  return "$rc"
}
stopped() { [ "$1" = 124 ] || [ "$1" = 143 ] || [ "$1" = 137 ]; }

# ---- inputs: corpus, tokenizer (the only phase that needs the network) ---------------------------
if [ ! -f "$INPUTS/READY" ]; then
  halo_log "inputs: corpus (scripts/fetch-corpus.sh ${FETCH_ARGS[*]}) and a SentencePiece tokenizer of $VOCAB pieces into $INPUTS"
  CACHE="$([ "$SMOKE" = 1 ] && echo "$INPUTS/fetch" || echo "$HALO_ROOT/corpus/experiment-gpu")"
  t0=$(date +%s)
  "$HALO_ROOT/scripts/fetch-corpus.sh" --out "$CACHE" "${FETCH_ARGS[@]}" >/dev/null \
    || halo_die "the corpus could not be fetched. HINT: make the inputs on a machine with apt and network (scripts/experiment-gpu.sh --inputs-only) and bring $INPUTS along"
  mkdir -p "$INPUTS/tokenizer"
  # One line per input line for SentencePiece; the kernel documentation stays gzip-compressed.
  find "$CACHE/text" -type f \( -name '*.txt' -o -name '*.txt.gz' \) -print0 | sort -z \
    | xargs -0 zcat -f >"$INPUTS/tokenizer/train.txt"
  "$BIN" train-tokenizer --input "$INPUTS/tokenizer/train.txt" --model-prefix "$INPUTS/tokenizer/sp" \
    --vocab-size "$VOCAB" --model-type bpe --byte-fallback --input-sentence-size "$TOKENIZER_SENTENCES"
  rm -f "$INPUTS/tokenizer/train.txt"
  tar -C "$CACHE" -cf - text | xz -T2 -6 >"$INPUTS/corpus.tar.xz"
  cp "$CACHE/SOURCES" "$INPUTS/SOURCES"
  date -u +%FT%TZ >"$INPUTS/READY"
  halo_log "inputs ready in $(($(date +%s) - t0)) s: $(du -sh "$INPUTS" | cut -f1) in $INPUTS"
fi
if [ "$INPUTS_ONLY" = 1 ]; then
  halo_log "--inputs-only: done. Bring $INPUTS to the GPU host (e.g. carry it) and run without --inputs-only there."
  exit 0
fi

mkdir -p "$OUT/results" "$OUT/state"
START=$(date +%s)
DEADLINE=$((START + $(python3 -c "print(int(float('$PIECE_MINUTES') * 60))")))
PIECE=$(($(cat "$OUT/state/pieces" 2>/dev/null || echo 0) + 1))
echo "$PIECE" >"$OUT/state/pieces"
halo_log "piece $PIECE: until $(date -u -d "@$DEADLINE" +%H:%M:%S) UTC (--piece-minutes $PIECE_MINUTES); out $OUT"

# ---- data: unpack the corpus, token shards ---------------------------------------------------------
if ! phase_done data; then
  need_s 120 data
  halo_log "data: unpacking the corpus and writing token shards (prepare)"
  rm -rf "$OUT/corpus" "$OUT/data" "$OUT/tokenizer"
  mkdir -p "$OUT/corpus" "$OUT/tokenizer"
  cp "$INPUTS/tokenizer/sp.model" "$INPUTS/tokenizer/sp.vocab" "$OUT/tokenizer/"
  timed data "$(left_s)" bash -c 'xz -dc "$1" | tar -C "$2" -xf - && "$3" prepare --tokenizer "$4" --input "$2/text" --out "$5" --validation-fraction "$6" --quiet' \
    _ "$INPUTS/corpus.tar.xz" "$OUT/corpus" "$BIN" "$OUT/tokenizer/sp.model" "$OUT/data" "$VALID_FRACTION" \
    || { rc=$?; stopped "$rc" && exit "$EXIT_PIECE"; halo_die "prepare failed (exit $rc)"; }
  rm -rf "$OUT/corpus"
  phase_mark data
fi

SETS=(--set "data.manifest=$OUT/data/manifest.json")
for kv in "${DEVICE_SETS[@]}"; do SETS+=(--set "$kv"); done

# ---- probe: the first steps of every training stage, for tokens/s ----------------------------------
if ! phase_done probe; then
  need_s 240 probe
  halo_log "probe: $PROBE_STEPS steps of each training stage at the real shapes (stage 3 at 4 x $TRAIN_LEN) to measure tokens/s"
  rm -rf "$OUT/probe"
  PROBE_SETS=(--set "run.out_dir=$OUT/probe" --set quality_gate.enabled=false
    --set stages.selection.method=uniform --set stages.selection.report_all_scores=false
    --set "stages.stage3.seq_len=$((4 * TRAIN_LEN))" --set "stages.stage3.curriculum=[]")
  for s in pretrain stage1 stage2 stage3; do
    PROBE_SETS+=(--set "stages.$s.steps=$PROBE_STEPS" --set "stages.$s.schedule.warmup_steps=1"
      --set "stages.$s.checkpoint.every=$PROBE_STEPS" --set "stages.$s.eval.every=0"
      --set "stages.$s.eval.batches=1" --set "stages.$s.log_every=$PROBE_STEPS")
  done
  # Stage 3 at its longest length keeps the tokens per step: batch / 4 sequences.
  PROBE_SETS+=(--set "stages.stage3.batch_size=$((S3_BATCH / 4))")
  timed probe "$(($(left_s) - SAVE_MARGIN_S))" "$BIN" run "$PIPELINE" "${SETS[@]}" "${PROBE_SETS[@]}" \
    >"$OUT/results/probe.log" 2>&1 \
    || { rc=$?; stopped "$rc" && exit "$EXIT_PIECE"; tail -20 "$OUT/results/probe.log" >&2; halo_die "the probe run failed (exit $rc); log: $OUT/results/probe.log"; }
  "${PLANNER[@]}" rates "$OUT/probe" "$OUT/results/probe-rates.json"
  rm -rf "$OUT/probe"
  phase_mark probe
fi

# ---- plan: the stages' budgets from the measured tokens/s -------------------------------------------
if [ ! -f "$OUT/results/plan.sets" ]; then
  halo_log "plan: training budgets for --minutes $MINUTES from the measured tokens/s"
  "${PLANNER[@]}" plan "$OUT/results/probe-rates.json" "$OUT/results" --minutes "$MINUTES" \
    --elapsed-s "$(spent_s)" --reserve-s "$RESERVE_S" --train-len "$TRAIN_LEN" \
    --checkpoint-s "$CHECKPOINT_S" | tee "$OUT/results/plan.txt"
fi
RUN_SETS=("${SETS[@]}" --set "run.out_dir=$OUT/run")
while IFS= read -r kv; do [ -n "$kv" ] && RUN_SETS+=(--set "$kv"); done <"$OUT/results/plan.sets"

# ---- run: pretrain, stage 1, selection, stage 2, stage 3 (resumes by itself) -----------------------
if ! phase_done run; then
  need_s $((SAVE_MARGIN_S + 30)) run
  halo_log "run: $PIPELINE with the plan's budgets (halo-distill run resumes where the last piece stopped)"
  timed run "$(($(left_s) - SAVE_MARGIN_S))" "$BIN" run "$PIPELINE" "${RUN_SETS[@]}" \
    || { rc=$?; if stopped "$rc"; then halo_log "piece $PIECE ends inside the run (exit $rc; the run saved a checkpoint). Run the same command again to continue."; exit "$EXIT_PIECE"; fi
         halo_die "halo-distill run failed (exit $rc)"; }
  phase_mark run
fi

# ---- export, eval, bench decode, report ----------------------------------------------------------
MODELS="$OUT/models"
if ! phase_done export; then
  need_s "$EST_EXPORT_S" export
  rm -rf "$MODELS" && mkdir -p "$MODELS"
  timed export "$(left_s)" bash -c '"$1" export "$2" --stage pretrain --out "$3/teacher" >/dev/null && "$1" export "$2" --out "$3/student" >/dev/null' \
    _ "$BIN" "$OUT/run" "$MODELS" || { rc=$?; stopped "$rc" && exit "$EXIT_PIECE"; halo_die "export failed (exit $rc)"; }
  phase_mark export
fi

if ! phase_done eval; then
  need_s "$EST_EVAL_S" eval
  LENGTHS="$(for m in 1 2 4 8 16 32; do printf '%d,' $((m * TRAIN_LEN)); done)"
  halo_log "eval: teacher and student, niah + passkey at ${LENGTHS%,} tokens, loss by position to $((32 * TRAIN_LEN))"
  rm -rf "$OUT/run/eval"
  timed eval "$(left_s)" "$BIN" eval --model "$MODELS/teacher" --model "$MODELS/student" \
    --tasks niah,passkey,ppl-by-position --lengths "${LENGTHS%,}" "${EVAL_ARGS[@]}" \
    --data "$OUT/data" --train-length "$TRAIN_LEN" --ppl-length $((32 * TRAIN_LEN)) --ppl-buckets 32 \
    --out "$OUT/run/eval" || { rc=$?; stopped "$rc" && exit "$EXIT_PIECE"; halo_die "eval failed (exit $rc)"; }
  phase_mark eval
fi

if ! phase_done bench; then
  need_s "$EST_BENCH_S" bench
  halo_log "bench decode: teacher and student (${BENCH_ARGS[*]})"
  timed bench "$(left_s)" "$BIN" bench decode --model "$MODELS/teacher" --model "$MODELS/student" \
    "${BENCH_ARGS[@]}" --json >"$OUT/results/bench-decode.json" \
    || { rc=$?; stopped "$rc" && exit "$EXIT_PIECE"; halo_die "bench decode failed (exit $rc)"; }
  phase_mark bench
fi

if ! phase_done report; then
  need_s "$EST_REPORT_S" report
  timed report "$(left_s)" "$BIN" report "$OUT/run" \
    || { rc=$?; stopped "$rc" && exit "$EXIT_PIECE"; halo_die "report failed (exit $rc)"; }
  phase_mark report
fi

# ---- results: the small files in one folder, and one tarball -------------------------------------
R="$OUT/results"
cp "$OUT/run/summary.md" "$OUT/run/report.json" "$OUT/run/report.html" "$OUT/run/pipeline.json" "$R/"
cp "$OUT/run/selection/selection_report.txt" "$OUT/run/selection/selection_report.json" "$R/"
mkdir -p "$R/eval" && cp "$OUT/run/eval/"* "$R/eval/"
cp "$INPUTS/SOURCES" "$R/corpus-SOURCES.txt"
"${PLANNER[@]}" summary "$OUT" >/dev/null
tar -C "$OUT" -czf "$OUT/results.tar.gz" results
halo_log "finished: $(spent_s) s of phases over $PIECE piece(s) (budget $MINUTES min); results in $R (experiment.md first), bundled as $OUT/results.tar.gz"
cat "$R/experiment.md"
exit 0
}
