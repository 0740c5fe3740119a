#!/usr/bin/env python3
"""The stage-2 step as a Python user writes it with Hugging Face transformers: the peer that
`halo-distill bench stage2` is compared with (HALO_NOTES 5 quotes 16.1K tokens/s on an H100).
Re-measuring it on the card at hand makes the comparison side by side.

A Qwen3-shaped teacher (config.json, random weights, frozen) forward, a same-shaped student
forward and backward, bf16 weights, SDPA attention, a chunked full-vocabulary KL (per chunk:
logits of both models, KL(teacher || student) summed; each chunk's student logits recomputed
in backward through torch.utils.checkpoint, so no full [tokens, vocab] float32 tensor lives),
fused AdamW, random token ids. Times CUDA-event medians after warm-up; model flops counted as
8 N per token (N = parameters of one model), MFU against --peak-tflops. Prints one JSON line.

  python3 scripts/bench_stage2_hf.py --config configs/models/qwen3-1.7b.json [--batch 12]
"""
import argparse
import json
import statistics
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="Qwen3 config.json (weights are random)")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--chunk", type=int, default=2048, help="tokens per KL chunk")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--device", default="cuda", help="cuda (the measurement) or cpu (a smoke run)")
    a = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint
    from transformers import Qwen3Config, Qwen3ForCausalLM

    with open(a.config) as f:
        cfg = Qwen3Config(**{k: v for k, v in json.load(f).items() if k not in ("architectures", "model_type")})
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    dev = a.device
    teacher = Qwen3ForCausalLM(cfg).to(dev, torch.bfloat16).eval().requires_grad_(False)
    student = Qwen3ForCausalLM(cfg).to(dev, torch.bfloat16).train()
    opt = torch.optim.AdamW(student.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0, fused=True)
    n_params = sum(p.numel() for p in teacher.parameters())

    def chunk_kl(hs, ws, ht, wt):
        ls = F.log_softmax((hs @ ws.t()).float(), -1)
        lt = F.log_softmax((ht @ wt.t()).float(), -1)
        return F.kl_div(ls, lt, reduction="sum", log_target=True)

    def step():
        ids = torch.randint(cfg.vocab_size, (a.batch, a.seq_len), device=dev)
        with torch.no_grad():
            ht = teacher.model(ids).last_hidden_state.flatten(0, 1)
        hs = student.model(ids).last_hidden_state.flatten(0, 1)
        ws, wt = student.lm_head.weight, teacher.lm_head.weight
        n = hs.shape[0]
        loss = 0
        for i in range(0, n, a.chunk):
            loss = loss + checkpoint(chunk_kl, hs[i:i + a.chunk], ws, ht[i:i + a.chunk], wt, use_reentrant=False)
        loss = loss / n
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for _ in range(a.warmup):
        step()
    cuda = dev.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    ms = []
    for _ in range(a.iters):
        if cuda:
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            loss = step()
            e.record()
            e.synchronize()
            ms.append(s.elapsed_time(e))
        else:
            t0 = time.perf_counter()
            loss = step()
            ms.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(ms)
    tokens = a.batch * a.seq_len
    tps = tokens / (med / 1e3)
    tflops = 8 * n_params * tps / 1e12
    print(json.dumps({"impl": "transformers", "device": torch.cuda.get_device_name() if cuda else "cpu",
                      "config": a.config,
                      "parameters": n_params, "batch": a.batch, "seq_len": a.seq_len, "chunk": a.chunk,
                      "iters": a.iters, "median_ms": round(med, 2), "tokens_per_s": round(tps),
                      "model_tflops": round(tflops, 1), "mfu": round(tflops / a.peak_tflops, 4),
                      "peak_gb": round(torch.cuda.max_memory_allocated() / 1e9, 1) if cuda else None,
                      "last_loss": loss}), flush=True)


if __name__ == "__main__":
    main()
