#!/usr/bin/env python3
"""scripts/experiment_gpu.py: the arithmetic of scripts/experiment-gpu.sh (issue 20).

Subcommands (standard library only; the shell script calls them):
  rates PROBE_RUN OUT.json
      tokens/s of each training stage of the probe run: the median of the steps' tokens_per_s
      in PROBE_RUN/<stage>/metrics.jsonl after the first --skip steps (start-up), and the tokens
      per optimizer step.
  plan RATES.json OUT_DIR --minutes M --elapsed-s E --reserve-s R --train-len L
      [--checkpoint-s C] [--min-steps N]
      the stages' budgets: training seconds S = M x 60 - E - R, split by fixed fractions, turned
      into steps with the measured rates; writes OUT_DIR/plan.json and OUT_DIR/plan.sets (one
      `--set` argument per line) and prints how.
  summary OUT [--minutes M]
      OUT/results/experiment.md: the acceptance checks of issue 20 computed from the run's
      quality gate (RUN/report.json), eval results and bench decode JSON, each with its goal and
      by how much it is met or missed; "not measured" where an input is missing.
"""
import argparse
import json
import math
import os
import statistics
import sys

TRAIN_STAGES = ["pretrain", "stage1", "stage2", "stage3"]
# Share of the training seconds per stage. The teacher has to learn something first (issue 20),
# so pretraining gets half; stage 2 (the KL distillation the student's quality comes from) a
# quarter; stage 1 (alignment of mixers only) and stage 3 (long context) the rest.
FRACTIONS = {"pretrain": 0.50, "stage1": 0.10, "stage2": 0.25, "stage3": 0.15}


def die(msg):
    print(f"[experiment_gpu.py] ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def read_metrics(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                die(f"{path}:{n}: not JSON ({e})")
            if "tokens_per_s" in row:
                rows.append(row)
    return rows


def cmd_rates(args):
    out = {}
    for stage in TRAIN_STAGES:
        path = os.path.join(args.probe_run, stage, "metrics.jsonl")
        if not os.path.isfile(path):
            die(f"{path}: missing; the probe run did not train stage '{stage}'")
        rows = read_metrics(path)
        timed = [r for r in rows if r["step"] > args.skip]
        if not timed:
            die(f"{path}: no step after the first {args.skip} (expected the probe's steps with "
                f"tokens_per_s)")
        out[stage] = {
            "tokens_per_s": statistics.median(r["tokens_per_s"] for r in timed),
            "tokens_per_step": int(timed[-1]["tokens"]),
            "seq_len": int(timed[-1]["seq_len"]),
            "steps_timed": len(timed),
        }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    for stage, r in out.items():
        print(f"  {stage:9s} {r['tokens_per_s']:12.0f} tokens/s  (median of {r['steps_timed']} "
              f"steps of {r['tokens_per_step']} tokens at seq_len {r['seq_len']})")


def cmd_plan(args):
    with open(args.rates, encoding="utf-8") as f:
        rates = json.load(f)
    total_s = args.minutes * 60.0
    train_s = total_s - args.elapsed_s - args.reserve_s
    lines = [
        f"budget: {args.minutes:g} min = {total_s:.0f} s; spent so far (data, probe) "
        f"{args.elapsed_s:.0f} s; reserved for selection, quality gates, export, eval, bench "
        f"decode and report {args.reserve_s:.0f} s",
        f"training seconds S = {total_s:.0f} - {args.elapsed_s:.0f} - {args.reserve_s:.0f} = "
        f"{train_s:.0f} s, split " +
        ", ".join(f"{s} {FRACTIONS[s]:.0%}" for s in TRAIN_STAGES),
    ]
    if train_s <= 0:
        die(f"no training time left: {lines[0]}. HINT: give more --minutes")
    plan = {"minutes": args.minutes, "elapsed_s": args.elapsed_s, "reserve_s": args.reserve_s,
            "train_s": train_s, "train_len": args.train_len, "stages": {}}
    sets = []
    for stage in TRAIN_STAGES:
        r = rates[stage]
        seconds = FRACTIONS[stage] * train_s
        tokens = seconds * r["tokens_per_s"]
        steps = int(tokens // r["tokens_per_step"])
        note = ""
        if steps < args.min_steps:
            note = f" (raised from {steps} to the minimum {args.min_steps})"
            steps = args.min_steps
        warmup = max(1, round(0.05 * steps))
        every_ckpt = max(1, math.ceil(args.checkpoint_s * r["tokens_per_s"] / r["tokens_per_step"]))
        sets += [f"stages.{stage}.steps={steps}",
                 f"stages.{stage}.schedule.warmup_steps={warmup}",
                 f"stages.{stage}.checkpoint.every={min(every_ckpt, steps)}"]
        if stage != "stage3":
            sets.append(f"stages.{stage}.eval.every={max(1, steps // 4)}")
        entry = {"seconds": seconds, "tokens_per_s": r["tokens_per_s"],
                 "tokens_per_step": r["tokens_per_step"], "steps": steps,
                 "tokens": steps * r["tokens_per_step"], "warmup_steps": warmup,
                 "checkpoint_every": min(every_ckpt, steps)}
        if stage == "stage3":
            a, b = steps // 3, (2 * steps) // 3
            if a < 1 or b <= a:
                die(f"stage3: {steps} steps leave no room for the 3-point length curriculum")
            L = args.train_len
            sets.append(f"stages.stage3.seq_len={L}")
            sets.append("stages.stage3.curriculum=[{from_step: 0, seq_len: %d}, "
                        "{from_step: %d, seq_len: %d}, {from_step: %d, seq_len: %d}]"
                        % (L, a, 2 * L, b, 4 * L))
            entry["curriculum"] = [[0, L], [a, 2 * L], [b, 4 * L]]
        plan["stages"][stage] = entry
        lines.append(
            f"  {stage:9s} {FRACTIONS[stage]:.0%} x {train_s:.0f} s = {seconds:6.0f} s x "
            f"{r['tokens_per_s']:.0f} tokens/s = {tokens / 1e6:8.2f}M tokens / "
            f"{r['tokens_per_step']} per step -> {steps} steps{note}; warm-up {warmup}, "
            f"checkpoint every {entry['checkpoint_every']}" +
            (f", curriculum {entry['curriculum']}" if stage == "stage3" else ""))
    plan["how"] = lines
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "plan.json"), "w", encoding="utf-8") as f:
        json.dump(plan, f, indent=1)
    with open(os.path.join(args.out_dir, "plan.sets"), "w", encoding="utf-8") as f:
        f.write("\n".join(sets) + "\n")
    print("\n".join(lines))


def load_json(path):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def suggestions(gate, ev, plan):
    """Hints for the next run where a goal is missed, from the measured values only."""
    out = []
    if gate and gate.get("entries"):
        entries = {e.get("label"): e for e in gate["entries"]}
        t = entries.get("pretrain")
        if t:
            acc = t["validation"].get("accuracy", 0.0)
            if acc < 0.25:
                out.append(f"- the teacher's next-token accuracy is {acc:.3f} (< 0.25): it has "
                           "learned little, so the quality ratio says little; give pretraining "
                           "more tokens (--minutes, or a larger pretrain share).")
            last = gate["entries"][-1]
            ratio = last["validation"]["loss"] / t["validation"]["loss"]
            if ratio > 1.03:
                out.append(f"- student / teacher loss {ratio:.3f} > 1.03: more stage-2 tokens "
                           "(the KL stage), or more attention layers (num_attention_layers).")
    if ev and plan:
        L = plan["train_len"]
        for task in ("niah", "passkey"):
            t = ev["tasks"].get(task)
            if not t or L not in t["lengths"] or 8 * L not in t["lengths"]:
                continue
            names = [m["name"] for m in ev["models"]]
            def mean(n, i):
                a = t["accuracy"][n][i]
                return sum(a) / len(a) if isinstance(a, list) else a
            i1, i8 = t["lengths"].index(L), t["lengths"].index(8 * L)
            t1, s1, s8 = mean(names[0], i1), mean(names[1], i1), mean(names[1], i8)
            if t1 < 0.5:
                out.append(f"- {task}: the teacher retrieves {100 * t1:.0f}% at its own training "
                           f"length ({L}); a teacher that cannot retrieve gives the student "
                           "nothing to keep: pretrain longer before reading the 8x column.")
            elif s1 < 0.5 * t1:
                out.append(f"- {task}: the student retrieves {100 * s1:.0f}% at {L} against the "
                           f"teacher's {100 * t1:.0f}%: the layer choice lost retrieval (compare "
                           "the selection report's halo and entropy rankings; more attention layers).")
            elif s8 < s1 - 0.3:
                out.append(f"- {task}: the student drops from {100 * s1:.0f}% at {L} to "
                           f"{100 * s8:.0f}% at {8 * L}: a longer stage 3 (more steps at its "
                           "last curriculum length, or a longer last length).")
    return out


def cmd_summary(args):
    out = args.out
    run = os.path.join(out, "run")
    gate = load_json(os.path.join(run, "report.json"))
    ev = load_json(os.path.join(run, "eval", "results.json"))
    bench = load_json(os.path.join(out, "results", "bench-decode.json"))
    plan = load_json(os.path.join(out, "results", "plan.json"))
    md = ["# Issue 20 experiment: results", ""]
    md.append(f"Run folder: `{run}`. Every figure below is read from the run's own files "
              "(quality gate `run/report.json`, `run/eval/results.json`, "
              "`results/bench-decode.json`); a missing input says *not measured*.")
    md.append("")
    if plan:
        md += ["## Budget (from measured tokens/s)", ""] + [f"    {l}" for l in plan["how"]] + [""]
    md += ["## Acceptance (issue 20)", "", "| goal | measured | status |", "|---|---|---|"]

    # 1. Validation loss at the training length: last gate entry vs the teacher's.
    if gate and gate.get("entries"):
        entries = {e.get("label"): e for e in gate["entries"]}
        teacher = entries.get("pretrain") or entries.get("teacher")
        student = gate["entries"][-1]
        if teacher and student is not teacher:
            t, s = teacher["validation"]["loss"], student["validation"]["loss"]
            ratio = s / t
            status = "met" if ratio <= 1.03 else f"MISSED by {ratio - 1.03:.3f}"
            md.append(f"| student / teacher validation loss at the training length <= 1.03 | "
                      f"{s:.4f} / {t:.4f} = {ratio:.3f} ({student.get('label')}) | {status} |")
        else:
            md.append("| student / teacher validation loss <= 1.03 | not measured | - |")
    else:
        md.append("| student / teacher validation loss <= 1.03 | not measured (no gate) | - |")

    # 2. NIAH / passkey at 8x the training length: student >= teacher + 30 points.
    if ev and plan:
        L8 = 8 * plan["train_len"]
        names = [m["name"] for m in ev["models"]]
        tn, sn = (names + ["?", "?"])[:2]
        for task in ("niah", "passkey"):
            t = ev["tasks"].get(task)
            if not t or L8 not in t["lengths"]:
                md.append(f"| {task} at 8x ({L8}): student >= teacher + 30 points | not measured | - |")
                continue
            i = t["lengths"].index(L8)
            acc = {}
            for n in (tn, sn):
                a = t["accuracy"][n][i]
                acc[n] = sum(a) / len(a) if isinstance(a, list) else a
            gap = 100 * (acc[sn] - acc[tn])
            status = "met" if gap >= 30 else f"MISSED by {30 - gap:.0f} points"
            md.append(f"| {task} at 8x ({L8}): student >= teacher + 30 points | "
                      f"{sn} {100 * acc[sn]:.0f}%, {tn} {100 * acc[tn]:.0f}% "
                      f"({gap:+.0f} points) | {status} |")
        p = ev["tasks"].get("ppl-by-position")
        if p:
            md.append(f"| loss by position to 32x, both models on one chart | "
                      f"{p['length']} tokens ({p['length'] // plan['train_len']}x), "
                      f"`ppl-by-position.svg` | {'met' if p['length'] >= 32 * plan['train_len'] else 'MISSED'} |")
    else:
        md.append("| NIAH / passkey at 8x, loss by position | not measured (no eval) | - |")

    # 3. Decode time per token at the longest context both fit (bench decode --json).
    by_model = {}
    for m in (bench or {}).get("models", []):
        name = os.path.basename(str(m.get("model", "?")).rstrip("/"))
        for r in m.get("results", []):
            if isinstance(r.get("ms_per_token"), (int, float)) and r.get("batch", 1) == 1:
                by_model.setdefault(name, {})[int(r["context"])] = r["ms_per_token"]
    if len(by_model) >= 2:
        (tn_, tm), (sn_, sm) = list(by_model.items())[:2]
        common = sorted(set(tm) & set(sm))
        if common:
            c = common[-1]
            md.append(f"| decode time per token at the longest context both fit | {c} tokens: "
                      f"{tn_} {tm[c]:.3f} ms, {sn_} {sm[c]:.3f} ms, {tn_} / {sn_} = "
                      f"{tm[c] / sm[c]:.2f}x ({bench.get('device')}, {bench.get('dtype')}) | measured |")
            if max(tm) > c:
                md.append(f"| decode at longer contexts | {tn_} only up to {max(tm)} | - |")
        else:
            md.append("| decode time per token, ratio | no context both models fit | - |")
    else:
        md.append("| decode time per token, ratio | not measured (no bench) | - |")
    md += ["", "## What the run suggests (computed from the same files)", ""]
    md += suggestions(gate, ev, plan) or ["- every goal above is met."]
    md += ["", "Eval tables: `eval/results.md`; layer choices: `selection_report.txt`; the run's "
           "report: `report.html`; each phase's wall time: `phases.jsonl`."]
    os.makedirs(os.path.join(out, "results"), exist_ok=True)
    path = os.path.join(out, "results", "experiment.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rates")
    r.add_argument("probe_run")
    r.add_argument("out")
    r.add_argument("--skip", type=int, default=4, help="start-up steps left out of the median")
    p = sub.add_parser("plan")
    p.add_argument("rates")
    p.add_argument("out_dir")
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--elapsed-s", type=float, required=True)
    p.add_argument("--reserve-s", type=float, required=True)
    p.add_argument("--train-len", type=int, required=True)
    p.add_argument("--checkpoint-s", type=float, default=60.0)
    p.add_argument("--min-steps", type=int, default=10)
    s = sub.add_parser("summary")
    s.add_argument("out")
    args = ap.parse_args()
    {"rates": cmd_rates, "plan": cmd_plan, "summary": cmd_summary}[args.cmd](args)


if __name__ == "__main__":
    main()
