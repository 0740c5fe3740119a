#!/usr/bin/env python3
"""End-to-end check of `halo-distill forward` against Hugging Face transformers.

Draws a random Qwen3 configuration from --seed (vocab, width, depth, heads, GQA ratio, head_dim,
tied head, biases, RoPE theta, norm eps), creates a random checkpoint with transformers (norm
weights perturbed), runs `halo-distill forward` on random ids and compares its float32 logits
with transformers': max|diff| / max|ref| must be <= --tol (1e-4). Prints the configuration and
the error; exits 1 on a mismatch. Any seed gives a configuration the fixtures never used.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file
from transformers import Qwen3Config, Qwen3ForCausalLM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_qwen3_fixtures import perturb_norms_and_biases  # noqa: E402  (the fixtures' init)


def random_config(rng):
    kv = rng.choice([1, 2, 3, 4])
    ratio = rng.choice([1, 2, 3, 4])
    head_dim = rng.choice([4, 6, 8, 14, 16, 20, 32])
    return dict(
        vocab_size=rng.randint(50, 700),
        hidden_size=rng.choice([24, 40, 56, 72, 96, 120]),
        intermediate_size=rng.randint(16, 200),
        num_hidden_layers=rng.randint(1, 4),
        num_attention_heads=kv * ratio,
        num_key_value_heads=kv,
        head_dim=head_dim,
        tie_word_embeddings=rng.random() < 0.5,
        attention_bias=rng.random() < 0.3,
        rope_theta=rng.choice([10000.0, 500000.0, 1000000.0]),
        rms_norm_eps=rng.choice([1e-6, 1e-5]),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True, help="path of halo-distill")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--tokens", type=int, default=0, help="sequence length (default: random)")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cfg = random_config(rng)
    T = args.tokens or rng.randint(1, 90)
    print("config:", cfg, "T =", T)
    torch.manual_seed(args.seed)
    model = Qwen3ForCausalLM(Qwen3Config(**cfg)).float().eval()
    perturb_norms_and_biases(model)
    ids = [rng.randrange(cfg["vocab_size"]) for _ in range(T)]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        model.save_pretrained(model_dir, max_shard_size=rng.choice(["50KB", "5GB"]))
        out = os.path.join(tmp, "logits.safetensors")
        subprocess.run([args.binary, "forward", "--model", model_dir, "--ids",
                        " ".join(map(str, ids)), "--out", out], check=True)
        got = load_file(out)["logits"]
    with torch.no_grad():
        ref = model(input_ids=torch.tensor([ids])).logits[0].float()
    if got.shape != ref.shape:
        print(f"FAIL: shape {tuple(got.shape)} != {tuple(ref.shape)}")
        return 1
    err = ((got - ref).abs().max() / ref.abs().max()).item()
    print(f"max|diff|/max|ref| = {err:.3e} (tolerance {args.tol:g})")
    return 0 if err <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
