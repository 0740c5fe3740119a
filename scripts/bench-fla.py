#!/usr/bin/env python3
"""Side-by-side anchor: times flash-linear-attention's chunk_simple_gla (the authors' RNN kernel,
HALO_NOTES 5) on this machine's GPU at the shapes of `halo-distill bench lightning`, so that
both are measured on the same card on the same day.

fla is not a dependency of the project: pass a checkout of fla-org/flash-linear-attention with
--fla (the folder that holds the `fla` package). Only fla.ops.simple_gla is imported (fla's
top-level package, which imports its model zoo, is bypassed). Needs torch and triton.

Same inputs as `bench lightning`: q, k, v, dO ~ N(0, 1) of [B, T, H, D], per-head decay
lambda_h = ALiBi slopes (g_gamma = -lambda_h, the log of the per-step decay), scale
1/sqrt(D), the final state returned. Forward runs under no_grad; forward+backward takes the
gradients of q, k, v. Times are CUDA-event medians after warm-up. Prints JSON lines; with
--profile N, also each case's N most costly GPU kernels (torch.profiler, one more call) on
stderr, to set beside `halo-distill bench lightning --profile N`.

  python3 scripts/bench-fla.py --fla /path/to/flash-linear-attention [--dtypes bfloat16,float32]
"""
import argparse
import json
import math
import os
import statistics
import sys
import types


def read_version(init_py):
    # fla.utils imports fla.__version__; the bypassed __init__ is where it is set.
    with open(init_py) as f:
        for line in f:
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def import_chunk_simple_gla(fla_root):
    pkg_dir = os.path.join(fla_root, "fla")
    if not os.path.isdir(os.path.join(pkg_dir, "ops", "simple_gla")):
        sys.exit(f"bench-fla: {fla_root} holds no fla/ops/simple_gla (pass the checkout's root)")
    sys.path.insert(0, fla_root)
    for name, path in (("fla", pkg_dir), ("fla.ops", os.path.join(pkg_dir, "ops"))):
        mod = types.ModuleType(name)
        mod.__path__ = [path]
        sys.modules[name] = mod
    sys.modules["fla"].__version__ = read_version(os.path.join(pkg_dir, "__init__.py"))
    from fla.ops.simple_gla import chunk_simple_gla

    return chunk_simple_gla


def alibi_slopes(n):
    # The ALiBi slopes of halo's alibi_decay_rates (power-of-two head counts).
    return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]


def time_ms(torch, fn, warmup, iters):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        out.append(a.elapsed_time(b))
    return statistics.median(out)


def print_profile(torch, fn, top, label):
    # One more call under torch.profiler: GPU kernel time by name, largest first.
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    rows = {}
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            t = rows.setdefault(e.name, [0.0, 0])
            t[0] += e.time_range.elapsed_us()
            t[1] += 1
    total = sum(t[0] for t in rows.values())
    print(f"{label}: profile of one call: GPU activities {total / 1e3:.3f} ms", file=sys.stderr)
    for name, (us, n) in sorted(rows.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {us / 1e3:8.3f} ms {100 * us / max(total, 1e-9):5.1f}% {n:4d}  {name[:100]}",
              file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fla", required=True, help="root of a flash-linear-attention checkout")
    ap.add_argument("--shapes", default="8x2048,1x16384,1x65536")
    ap.add_argument("--dtypes", default="bfloat16")
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="after timing each case, print its N most costly GPU kernels on stderr")
    a = ap.parse_args()
    import torch

    chunk_simple_gla = import_chunk_simple_gla(a.fla)
    H, D = a.heads, a.head_dim
    g_gamma = -torch.tensor(alibi_slopes(H), device="cuda", dtype=torch.float32)
    scale = 1.0 / math.sqrt(D)
    for dt_name in a.dtypes.split(","):
        dtype = getattr(torch, dt_name)
        for shape in a.shapes.split(","):
            B, T = (int(x) for x in shape.split("x"))
            q, k, v, do = (torch.randn(B, T, H, D, device="cuda", dtype=dtype) for _ in range(4))
            for t in (q, k, v):
                t.requires_grad_(True)

            def fwd():
                with torch.no_grad():
                    chunk_simple_gla(q, k, v, g_gamma=g_gamma, scale=scale, output_final_state=True)

            def fwd_bwd():
                o, _ = chunk_simple_gla(q, k, v, g_gamma=g_gamma, scale=scale, output_final_state=True)
                torch.autograd.grad(o, (q, k, v), do)

            for name, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
                ms = time_ms(torch, fn, a.warmup, a.iters)
                if a.profile > 0:
                    print_profile(torch, fn, a.profile, f"{dt_name} {shape} {name}")
                print(json.dumps({"impl": "fla.chunk_simple_gla", "device": torch.cuda.get_device_name(),
                                  "dtype": dt_name, "B": B, "T": T, "H": H, "D": D, "pass": name,
                                  "median_ms": round(ms, 4)}), flush=True)


if __name__ == "__main__":
    main()
