#!/usr/bin/env python3
"""ctest report.chromium: the run report of a small real run, opened in headless Chromium.

Usage: check_report_chromium.py --binary build/halo-distill --out DIR

1. Makes a tiny real run through the CLI (a synthetic corpus, train-tokenizer, prepare, a
   4-layer Qwen3 config, `run` of every stage with the quality gate and HALO selection) and
   checks that `run` itself wrote RUN/report.html; run again with a folder where the report
   goes, `run` still succeeds and warns.
2. Adds an eval/results.json in the "halo-eval/1" form (hand-made: `eval` is not part of this
   run) and writes the report again with `halo-distill report`.
3. Opens it in headless Chromium (Debian's `chromium`, installed by scripts/setup.sh): a
   screenshot that is not blank (many colours, the chart palette present, not mostly white),
   the DOM has the charts and sections, and Chromium logged no console message and no failed
   load (the page has no script and no external resource, so any is a bug).
Exit 77 (ctest: skipped) when no chromium is installed, after step 1 and 2 passed.
Only the standard library: the PNG is decoded with zlib.
"""
import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

SKIP = 77


def fail(msg):
    print(f"check_report_chromium: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def cli(binary, *args, timeout=600):
    r = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        fail(f"halo-distill {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


def make_run(binary, out):
    """A tiny pipeline like tests/pipeline_fixture.cpp, through the CLI."""
    rng = random.Random(12345)
    words = ("the a model learns small tokens from text and every layer keeps state over long "
             "context while attention reads memory of passkey river stone green light runs "
             "quickly into quiet hills where birds sing at dawn with bright songs").split()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as f, open(out / "corpus.txt", "w") as t:
        for _ in range(600):
            sentences = []
            for _ in range(rng.randint(3, 8)):
                s = [rng.choice(words) for _ in range(rng.randint(4, 11))]
                sentences.append(" ".join(s).capitalize() + ".")
            text = " ".join(sentences)
            f.write(json.dumps({"text": text}) + "\n")
            t.write(text + "\n")
    cli(binary, "train-tokenizer", "--input", out / "corpus.txt", "--model-prefix", out / "tok",
        "--vocab-size", 200, "--model-type", "bpe")
    cli(binary, "prepare", "--tokenizer", out / "tok.model", "--input", out / "corpus.jsonl",
        "--out", out / "data", "--validation-fraction", 0.1, "--quiet")
    (out / "model.json").write_text(json.dumps({
        "vocab_size": 200, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
        "tie_word_embeddings": True, "rope_theta": 10000.0, "max_position_embeddings": 512}))
    (out / "p.yaml").write_text(f"""run:
  out_dir: {out}/run
  seed: 7
  threads: 2
data:
  manifest: {out}/data/manifest.json
quality_gate:
  enabled: true
  seq_len: 32
  batch_size: 2
  validation_batches: 2
  passkey_lengths: [320, 448]
  passkey_trials: 2
stages:
  - name: pretrain
    kind: pretrain
    model_config: {out}/model.json
    steps: 24
    seq_len: 32
    batch_size: 4
    optimizer: {{lr: 0.003, weight_decay: 0.1}}
    schedule: {{kind: cosine, warmup_steps: 4, min_lr: 0.0003}}
    eval: {{every: 8, batches: 2}}
  - name: align
    kind: stage1
    steps: 12
    seq_len: 32
    batch_size: 4
    optimizer: {{lr: 0.002}}
    eval: {{batches: 2}}
  - name: select
    kind: selection
    method: halo
    num_attention_layers: 1
    seq_len: 320
    batch_size: 2
    batches: 1
    recall_tasks: passkey,kv
    recall_lengths: [320]
    recall_samples: 2
    report_all_scores: true
  - name: distill
    kind: stage2
    steps: 12
    seq_len: 32
    batch_size: 4
    loss_chunk_tokens: 48
    optimizer: {{lr: 0.001}}
    eval: {{every: 6, batches: 2}}
  - name: long
    kind: stage3
    steps: 12
    batch_size: 4
    curriculum:
      - {{from_step: 0, seq_len: 32}}
      - {{from_step: 6, seq_len: 64}}
    optimizer: {{lr: 0.0005}}
    eval: {{batches: 2}}
""")
    log = cli(binary, "run", out / "p.yaml")
    report = out / "run" / "report.html"
    if not report.is_file():
        fail(f"`run` finished without writing {report}:\n{log[-3000:]}")
    if f"report: {report}" not in log:
        fail(f"`run` did not print the report's path:\n{log[-3000:]}")
    # A report that cannot be written does not fail a finished run: a folder in its place.
    report.unlink()
    report.mkdir()
    again = subprocess.run([binary, "run", out / "p.yaml"], capture_output=True, text=True,
                           timeout=600)
    if again.returncode != 0 or "its HTML report was not written" not in again.stderr:
        fail(f"`run` again with report.html unwritable: exit {again.returncode}, expected 0 and "
             f"a warning:\n{again.stderr[-3000:]}")
    report.rmdir()
    return out / "run"


def add_eval_results(run):
    lengths, depths = [64, 128, 256, 512], [0.0, 0.25, 0.5, 0.75, 1.0]
    rng = random.Random(1)
    grid = lambda: [[rng.choice([0, 0.25, 0.5, 0.75, 1.0]) for _ in depths] for _ in lengths]
    results = {
        "format": "halo-eval/1", "seed": 0, "created": "2026-12-07T05:00:00Z",
        "models": [{"name": "teacher", "path": str(run / "pretrain" / "final")},
                   {"name": "student", "path": str(run / "long" / "final")}],
        "tasks": {
            "niah": {"lengths": lengths, "depths": depths, "trials": 4,
                     "accuracy": {"teacher": grid(), "student": grid()}},
            "passkey": {"lengths": lengths, "trials": 8,
                        "accuracy": {"teacher": [1, 0.75, 0.25, 0], "student": [1, 1, 0.875, 0.75]}},
            "ppl-by-position": {"bucket_edges": [0, 32, 64, 128, 256, 512], "train_length": 64,
                                "loss": {"teacher": [4.1, 3.9, 4.6, 5.5, 6.2],
                                         "student": [4.2, 4.0, 4.1, 4.2, 4.3]},
                                "tokens": {"teacher": [32, 32, 64, 128, 256],
                                           "student": [32, 32, 64, 128, 256]}},
            "mc:sample": {"file": "tests/fixtures/mc_sample.jsonl", "items": 20,
                          "acc": {"teacher": 0.3, "student": 0.25},
                          "acc_norm": {"teacher": 0.35, "student": 0.3}},
            "a-future-task": {"score": {"teacher": 0.5, "student": 0.6}},
        }}
    (run / "eval").mkdir(exist_ok=True)
    (run / "eval" / "results.json").write_text(json.dumps(results, indent=1))


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG, decoded with zlib."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                fail(f"{path}: PNG depth {depth} colour type {colour} interlace {interlace} "
                     "not handled")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def console_problems(log):
    """Lines of a chromium log that report console output, script errors or failed loads."""
    return [line for line in log.splitlines()
            if ":CONSOLE" in line or "Uncaught" in line or "net::ERR_" in line
            or "Failed to load resource" in line]


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out).resolve()
    if out.exists():
        shutil.rmtree(out)
    run = make_run(args.binary, out)
    add_eval_results(run)
    report = run / "report.html"
    cli(args.binary, "report", run)
    print(f"report: {report}")

    chromium = chromium_binary()
    if not chromium:
        print("check_report_chromium: no chromium on PATH (scripts/setup.sh installs Debian's "
              "chromium); skipping the render check", file=sys.stderr)
        return SKIP
    url = report.as_uri()
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", "--disable-extensions", "--mute-audio",
              f"--user-data-dir={out / 'chromium-profile'}", "--enable-logging=stderr", "--v=0"]
    png = out / "report.png"
    shot = subprocess.run(common + ["--window-size=1400,2600", f"--screenshot={png}", url],
                          capture_output=True, text=True, timeout=180)
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=180)
    if not png.is_file():
        fail(f"chromium wrote no screenshot (exit {shot.returncode}):\n{shot.stderr[-3000:]}")
    if dom.returncode != 0 or "</html>" not in dom.stdout:
        fail(f"chromium --dump-dom failed (exit {dom.returncode}):\n{dom.stderr[-3000:]}")

    # No console output and no failed load: the page has no script and no external resource.
    bad = console_problems(shot.stderr + dom.stderr)
    if bad:
        fail("chromium logged console messages or failed loads:\n" + "\n".join(bad[:20]))
    # The check itself sees a console error where there is one (chromium's log format differs
    # between versions: ":CONSOLE(12)" and ":CONSOLE:12]").
    probe = out / "console-probe.html"
    probe.write_text('<!DOCTYPE html><html><body><script>console.error("halo-probe")</script>'
                     '</body></html>')
    seen = subprocess.run(common + ["--dump-dom", probe.as_uri()], capture_output=True, text=True,
                          timeout=180)
    if not any("halo-probe" in line for line in console_problems(seen.stderr)):
        fail("the console check did not see the probe page's console.error; chromium's log "
             f"format may have changed:\n{seen.stderr[-2000:]}")

    # The DOM: every section, charts as SVG.
    text = dom.stdout
    for needle in ("Run report", "Training curves", "Quality gate", "Layer selection",
                   "Evaluation", "Configuration", "niah: teacher", "kept as attention"):
        if needle not in text:
            fail(f"the rendered DOM lacks '{needle}'")
    for forbidden in ("<script", " src=", "<link", "<iframe", "url("):
        if forbidden in text:
            fail(f"the rendered DOM has '{forbidden}': the report must be self-contained")
    svgs = text.count("<svg")
    if svgs < 20:  # 4 training stages x 4 curves, selection bars, eval charts
        fail(f"the rendered DOM has {svgs} SVG charts; expected at least 20")

    # The screenshot: not blank.
    width, height, rows = png_pixels(png)
    colours, white = set(), 0
    for row in rows:
        for p in row:
            colours.add(p)
            white += p == (255, 255, 255)
    total = width * height
    blue = (0x00, 0x72, 0xB2)  # the first series colour of the chart palette
    has_blue = any(abs(p[0] - blue[0]) + abs(p[1] - blue[1]) + abs(p[2] - blue[2]) < 12
                   for row in rows for p in row)
    print(f"screenshot {png}: {width}x{height}, {len(colours)} colours, "
          f"{100 * (1 - white / total):.1f}% not white, palette blue {'present' if has_blue else 'absent'}; "
          f"DOM {svgs} SVG charts")
    if len(colours) < 50:
        fail(f"the screenshot has only {len(colours)} colours: blank or unstyled")
    if white / total > 0.98:
        fail("the screenshot is more than 98% white")
    if not has_blue:
        fail("the screenshot shows no chart line (palette blue #0072B2 absent)")
    print("check_report_chromium: the report renders in chromium without console errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
