#!/usr/bin/env python3
"""fuzz/make_seeds.py: writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) and the
tokenizer the encode target loads (fuzz/corpus/tokenizer_encode.json). Python standard library
only; deterministic (same bytes every run). The token shard seed (corpus/token_shard/) is not
made here: it is the output of the project's own writer, see fuzz/README.md.

Usage: python3 fuzz/make_seeds.py
"""
import gzip
import io
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes); laid out in order, header padded to 8."""
    header, offset, blob = {}, 0, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blob += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def byte_alphabet():
    """GPT-2's bytes_to_unicode: byte -> printable character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tokenizer(normalizer, pre_tokenizer, merges_words):
    """A byte-level BPE tokenizer.json: the 256 byte tokens, merges that build `merges_words`
    left to right, two added tokens."""
    alpha = byte_alphabet()
    vocab = {alpha[b]: b for b in range(256)}
    merges = []
    for word in merges_words:
        chars = [alpha[b] for b in word.encode("utf-8")]
        cur = chars[0]
        for ch in chars[1:]:
            merged = cur + ch
            if merged not in vocab:
                merges.append(cur + " " + ch)
                vocab[merged] = len(vocab)
            cur = merged
    n = len(vocab)
    added = [
        {"id": n, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
         "rstrip": False, "normalized": False, "special": True},
        {"id": n + 1, "content": "<|im_start|>", "single_word": False, "lstrip": False,
         "rstrip": False, "normalized": False, "special": True},
    ]
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                    "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }, ensure_ascii=False, indent=1)


QWEN_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
              r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
WORDS = ["the", " the", "ing", " and", "tion", " of", "er", "\u00e9t\u00e9", " 12"]
TEXTS = [
    "Hello world, it's 2026!\n",
    "caf\u00e9 na\u00efve \u4f60\u597d \U0001F600 <|endoftext|> x\t\r\n  y",
    "def f(x):\n    return x**2  # 12345\n",
    "",
]


def main():
    if os.path.isdir(CORPUS):
        for entry in os.listdir(CORPUS):
            if entry != "token_shard":
                path = os.path.join(CORPUS, entry)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

    f32 = struct.pack("<6f", 0, 1, -1, 0.5, 2, 3)
    write("safetensors_header", "two_tensors.safetensors", safetensors(
        [("model.embed_tokens.weight", "F32", [2, 3], f32),
         ("model.norm.weight", "BF16", [4], b"\x80\x3f" * 4)], {"format": "pt"}))
    write("safetensors_header", "empty.safetensors", safetensors([]))
    write("safetensors_header", "zero_size.safetensors",
          safetensors([("a", "I64", [0, 5], b""), ("b", "U8", [3], b"xyz")]))

    write("checkpoint_index", "index.json", json.dumps({
        "metadata": {"total_size": 96},
        "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors",
                       "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                       "model.norm.weight": "model-00001-of-00002.safetensors"}}, indent=2))

    with open(os.path.join(ROOT, "configs/models/qwen3-tiny.json")) as f:
        qwen = json.load(f)
    write("model_config", "qwen3.json", json.dumps(qwen, indent=2))
    hype = dict(qwen, model_type="hypenet", architectures=["HypeNetForCausalLM"],
                mixer_types=["attn", "lightning-attn", "lightning-attn", "attn"],
                lightning_use_rope=True, lightning_nh=4, lightning_nkv=2, lightning_head_dim=32,
                lightning_scale="1/sqrt(d)", lightning_use_qk_norm=False,
                lightning_use_output_norm=True, lightning_use_output_gate=True,
                lightning_use_short_conv=False, expand_kv_proj=False, attn_use_rope=False,
                attn_use_output_gate=True, attn_logits_scaling="hype 362")
    write("model_config", "hypenet.json", json.dumps(hype, indent=2))

    qwen_tok = tokenizer(
        {"type": "NFC"},
        {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN_REGEX}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]}, WORDS)
    write("tokenizer_json", "qwen_style.json", qwen_tok)
    gpt2_tok = tokenizer(None, {"type": "ByteLevel", "add_prefix_space": False,
                                "trim_offsets": True, "use_regex": True}, WORDS)
    with open(os.path.join(CORPUS, "tokenizer_encode.json"), "w", encoding="utf-8") as f:
        f.write(gpt2_tok)
    for i, text in enumerate(TEXTS):
        write("tokenizer_encode", "text%d.txt" % i, text)
        write("pre_tokenizer", "text%d.txt" % i, text)

    with open(os.path.join(ROOT, "configs/pipelines/demo.yaml")) as f:
        demo = f.read()
    write("pipeline_yaml", "demo.yaml", demo)
    write("pipeline_yaml", "demo_with_overrides.yaml",
          demo + "#--set\nstages.stage2.steps=3\nrun.seed=7\nstages[0].optimizer.lr=1e-3\n")

    sha = "0" * 63 + "1"
    write("shard_manifest", "manifest.json", json.dumps({
        "format": "halo-token-shards", "version": 1,
        "tokenizer": {"kind": "hf-bpe", "identity": "hf-bpe:sha256:" + "ab" * 32,
                      "path": "tokenizer.json"},
        "vocab_size": 512, "separator_id": 0, "separator_token": "<|endoftext|>",
        "separator_source": "tokenizer <|endoftext|>", "token_dtype": "uint16",
        "validation_fraction": 0.05,
        "splits": {"train": {"documents": 3, "tokens": 40, "shards": [
            {"file": "train-00000.h5", "documents": 2, "tokens": 30, "sha256": sha},
            {"file": "train-00001.h5", "documents": 1, "tokens": 10, "sha256": sha}]},
            "validation": {"documents": 1, "tokens": 5, "shards": [
                {"file": "validation-00000.h5", "documents": 1, "tokens": 5, "sha256": sha}]}},
        "inputs": [{"file": "a.jsonl", "documents": 4, "tokens": 45,
                    "bad": {"invalid_json": {"count": 1, "first": "line 3"}}}]}, indent=2))

    write("checkpoint_meta", "meta.json", json.dumps({
        "magic": "halo-distill-checkpoint", "version": 1, "stage": "stage2", "step": 12,
        "world_size": 2, "config_hash": "0123456789abcdef",
        "loader_cursor": {"epoch": 0, "position": 1234}, "extra": {"tokens_seen": 4096},
        "config": {"run": {"seed": 1}}}, indent=2))

    jsonl = "\n".join([json.dumps({"text": t}) for t in TEXTS[:3]] +
                      ['{"text": 5}', "not json", '{"other": "x"}', "", '{"text": "\\u00e9"}'])
    text = TEXTS[1]

    def gz(s):
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as g:
            g.write(s.encode("utf-8"))
        return out.getvalue()
    write("corpus_jsonl", "lines.jsonl", b"\x00" + jsonl.encode())
    write("corpus_jsonl", "doc.txt", b"\x01" + text.encode())
    write("corpus_jsonl", "lines.jsonl.gz", b"\x02" + gz(jsonl))
    write("corpus_jsonl", "doc.txt.gz", b"\x03" + gz(text))


if __name__ == "__main__":
    main()
