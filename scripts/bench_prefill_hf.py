#!/usr/bin/env python3
"""Prefill timing of Hugging Face transformers on a model folder: the peer that
`halo-distill bench prefill` is compared with (same checkpoint, same card, same run).

Loads the model with AutoModelForCausalLM (bf16 by default, SDPA attention), runs one random
prompt of each length with logits for the last token only (as generate's prefill does), times
each run with CUDA events after warm-up and prints the medians as a table or JSON.
"""
import argparse
import json
import statistics

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", default="4096,16384")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype,
                                                 attn_implementation="sdpa").cuda().eval()
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(1234)
    results = []
    for T in [int(t) for t in args.tokens.split(",")]:
        ids = torch.randint(0, vocab, (1, T), generator=gen).cuda()
        times = []
        with torch.inference_mode():
            for i in range(args.warmup + args.iters):
                start = torch.cuda.Event(enable_timing=True)
                stop = torch.cuda.Event(enable_timing=True)
                start.record()
                model(input_ids=ids, logits_to_keep=1, use_cache=False)
                stop.record()
                stop.synchronize()
                if i >= args.warmup:
                    times.append(start.elapsed_time(stop))
        med = statistics.median(times)
        results.append({"tokens": T, "median_ms": med, "min_ms": min(times),
                        "max_ms": max(times), "tokens_per_s": T / (med * 1e-3)})
    if args.json:
        print(json.dumps({"model": args.model, "dtype": args.dtype, "results": results}, indent=2))
        return
    print(f"transformers prefill {args.model} ({args.dtype}, median of {args.iters})")
    print("  tokens   median ms   tokens/s")
    for r in results:
        print(f"  {r['tokens']:6d} {r['median_ms']:11.2f} {r['tokens_per_s']:10.0f}")


if __name__ == "__main__":
    main()
