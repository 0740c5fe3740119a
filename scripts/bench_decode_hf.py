#!/usr/bin/env python3
"""Decode timing of Hugging Face transformers on a model folder: the peer that
`halo-distill bench decode` is compared with (same checkpoint, same card, same run).

For each --context and --batch: random prompt ids (fixed seed) of `context` tokens per row are
prefilled through a transformers cache in --prefill-chunk pieces (timed as prefill_ms, wall clock
with a sync per chunk, as the C++ command does), then one token per step is decoded, fed the greedy
argmax of the last logits (logits_to_keep=1). After --warmup untimed steps, each of --new-tokens
steps is timed with a CUDA event pair (time.perf_counter on the CPU); the median (upper middle, as
bench_timer's median_of) is ms/token, and tokens/s = batch / median. Also printed: peak device
memory of the row (weights included) and the bandwidth floor: the bytes one step must read (every
parameter once, the untied input embedding only for its `batch` rows, plus K and V of `context`
tokens in every layer) over --peak-gbps, with the ratio of the median to it.

--cache picks DynamicCache (what generate() uses by default), StaticCache (preallocated to
context + warmup + new_tokens + 2), or both. --compile compiles the static-cache decode step with
torch.compile(model.forward, mode="reduce-overhead", fullgraph=True) (CUDA graphs on a GPU); the
prefill stays eager. A row that runs out of memory reports out_of_memory; a row whose compile or
run fails otherwise reports error; both go on with the next row.

  python3 scripts/bench_decode_hf.py --model /data/qwen3-1.7b --context 4K,32K,128K --batch 1,8 \
      --cache both --compile --json
"""
import argparse
import gc
import json
import time


def parse_counts(text, flag):
    """'4K,32K,1M' -> [4096, 32768, 1048576] (K = 1024, M = 1048576), as tools/size_arg."""
    out = []
    for item in text.split(","):
        mult = {"k": 1 << 10, "m": 1 << 20}.get(item[-1:].lower(), 1)
        num = item[:-1] if mult > 1 else item
        if not num.isdigit() or int(num) <= 0:
            raise SystemExit(f'{flag}: "{item}" is not a positive count (e.g. 4096, 4K, 1M; K = 1024)')
        out.append(int(num) * mult)
    return out


def format_bytes(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def step_bytes(model, batch, context):
    """Bytes one decode step must read: weights once (untied input embedding: its batch rows only)
    plus the keys and values of `context` tokens in every layer."""
    cfg = model.config
    emb = model.get_input_embeddings().weight
    elt = emb.element_size()
    weights = sum(p.numel() * p.element_size() for p in model.parameters())  # tied counted once
    if not cfg.tie_word_embeddings:
        weights += batch * cfg.hidden_size * elt - emb.numel() * elt
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * elt * batch * context
    return weights + kv


def measure(torch, model, a, cache_kind, compiled, context, batch, device):
    """Prefill and decode one row; returns the timing fields (raises on OOM / compile failure)."""
    from transformers import DynamicCache, StaticCache

    cuda = device.type == "cuda"

    def timed(fn):
        if cuda:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            out = fn()
            stop.record()
            stop.synchronize()
            return out, start.elapsed_time(stop)
        t0 = time.perf_counter()
        out = fn()
        return out, (time.perf_counter() - t0) * 1e3

    gen = torch.Generator().manual_seed(context * 31 + batch)
    ids = torch.randint(model.config.vocab_size, (batch, context), generator=gen).to(device)
    if cache_kind == "static":
        cache = StaticCache(config=model.config, max_cache_len=context + a.warmup + a.new_tokens + 2)
    else:
        cache = DynamicCache(config=model.config)
    # transformers 5.x has no cache_position: the cache keeps its own length (StaticLayer's
    # cumulative_length) and the model takes explicit position_ids for RoPE.
    t0 = time.perf_counter()
    for s in range(0, context, a.prefill_chunk):
        n = min(a.prefill_chunk, context - s)
        pos = torch.arange(s, s + n, device=device).expand(batch, n)
        out = model(input_ids=ids[:, s:s + n], position_ids=pos, past_key_values=cache,
                    use_cache=True, logits_to_keep=1)
        token = out.logits[:, -1:].argmax(-1)
        token.cpu()  # sync per chunk, like the C++ prefill
    prefill_ms = (time.perf_counter() - t0) * 1e3
    del ids, out

    forward = model.forward
    if compiled:
        torch._dynamo.reset()  # a fresh graph for this cache's static buffers and this batch
        forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
    ms = []
    for i in range(a.warmup + a.new_tokens):
        pos = torch.full((batch, 1), context + i, dtype=torch.long, device=device)

        def step():
            logits = forward(input_ids=token, position_ids=pos, past_key_values=cache,
                             use_cache=True, logits_to_keep=1).logits
            return logits[:, -1:].argmax(-1)

        token, t = timed(step)
        if i >= a.warmup:
            ms.append(t)
    median = sorted(ms)[len(ms) // 2]
    return {"ms_per_token": median, "tokens_per_s": batch / (median * 1e-3), "prefill_ms": prefill_ms}


def bench_row(torch, model, a, cache_kind, compiled, context, batch, device, peak_gbps):
    r = {"context": context, "batch": batch}
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        r.update(measure(torch, model, a, cache_kind, compiled, context, batch, device))
    except torch.cuda.OutOfMemoryError as e:
        r["out_of_memory"] = str(e).splitlines()[0]
    except Exception as e:  # a compile (or other) failure of this row: report it and go on
        r["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    gc.collect()  # the failed frame (and its cache) is gone once the except block has ended
    if cuda:
        torch.cuda.empty_cache()
    if "ms_per_token" not in r:
        return r
    r["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device) if cuda else -1
    r["bytes_per_step"] = step_bytes(model, batch, context)
    if peak_gbps > 0:
        r["floor_ms"] = r["bytes_per_step"] / (peak_gbps * 1e9) * 1e3
        r["ratio_to_floor"] = r["ms_per_token"] / r["floor_ms"]
    return r


def row_line(label, r):
    head = f"{label:<36} ctx {r['context']:8d}  batch {r['batch']:3d}  "
    if "out_of_memory" in r:
        return head + "out of memory: " + r["out_of_memory"]
    if "error" in r:
        return head + "error: " + r["error"]
    floor = f"{r['floor_ms']:.3f} ms (x{r['ratio_to_floor']:.2f})" if "floor_ms" in r else "n/a"
    mem = format_bytes(r["peak_memory_bytes"]) if r["peak_memory_bytes"] >= 0 else "n/a"
    return (head + f"{r['ms_per_token']:8.3f} ms/token {r['tokens_per_s']:10.1f} tokens/s  "
            f"floor {floor}  peak mem {mem}  prefill {r['prefill_ms']:.1f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="HF model folder (repeatable)")
    ap.add_argument("--context", default="4K,32K", help="context lengths, e.g. 4K,32K,128K")
    ap.add_argument("--batch", default="1", help="batch sizes, e.g. 1,8")
    ap.add_argument("--new-tokens", type=int, default=32, help="timed decode steps (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed decode steps first")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--cache", default="dynamic", choices=["dynamic", "static", "both"])
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the static-cache decode step (reduce-overhead, fullgraph)")
    ap.add_argument("--prefill-chunk", type=int, default=4096, help="prompt tokens per prefill forward")
    ap.add_argument("--peak-gbps", type=float, default=0.0,
                    help="peak memory bandwidth for the floor (default: H100 3350, H200 4800)")
    ap.add_argument("--device", default="cuda", help="cuda (the measurement), cuda:N or cpu (a smoke run)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.new_tokens <= 0 or a.warmup < 0 or a.prefill_chunk <= 0:
        raise SystemExit("--new-tokens and --prefill-chunk must be > 0, --warmup >= 0")
    contexts, batches = parse_counts(a.context, "--context"), parse_counts(a.batch, "--batch")

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    device = torch.device(a.device)
    if device.type == "cuda":
        device = torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())
        card = torch.cuda.get_device_name(device)
    else:
        card = str(device)
    peak = a.peak_gbps or (4800.0 if "H200" in card else 3350.0 if "H100" in card else 0.0)
    out = {"device": card, "dtype": a.dtype, "peak_gbps": peak, "new_tokens": a.new_tokens,
           "transformers": transformers.__version__, "torch": torch.__version__, "models": []}
    kinds = ["dynamic", "static"] if a.cache == "both" else [a.cache]
    with torch.no_grad():  # as generate() runs
        for model_dir in a.model:
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, a.dtype),
                                                         attn_implementation="sdpa").to(device).eval()
            for kind in kinds:
                compiled = a.compile and kind == "static"  # a growing cache recompiles every step
                mj = {"model": model_dir, "cache": kind, "compile": compiled, "results": []}
                label = f"{model_dir} {kind}{'+compile' if compiled else ''}"
                for context in contexts:
                    for batch in batches:
                        r = bench_row(torch, model, a, kind, compiled, context, batch, device, peak)
                        mj["results"].append(r)
                        if not a.json:
                            print(row_line(label, r), flush=True)
                out["models"].append(mj)
            del model
    if a.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
