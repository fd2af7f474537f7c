#!/usr/bin/env python3
"""Write tests/fixtures/oracle/llama3-rope-freqs-f32: a tiny Llama 3.1-style model whose RoPE angles are
divided by per-pair frequency factors (`rope_freqs.weight`), with its float64 reference and llama.cpp's logits.

The model is random (fixed seed: a rerun gives byte-identical files) and every weight is F32, so llama.cpp and
the exact computation agree to ~1e-5 and nothing but the forward pass itself is compared:

- general.architecture = llama, hidden 128, 2 layers, 2 query heads and 1 KV head of 128 values (Llama 3's
  head size, from attention.key_length), FFN 128, a synthetic SentencePiece-style vocabulary of 512, untied
  output, RoPE base 500000 and context 131072 as Llama 3.1 has them;
- rope_freqs.weight (F32, 64 values) computed as llama.cpp's convert_hf_to_gguf.py (LlamaModel's
  generate_extra_tensors) does from a Hugging Face rope_scaling {rope_type llama3, factor 8,
  low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 8192}: 1 for the pairs that turn
  faster than once per 2048 positions, 8 for those slower than once per 8192, a smooth ramp between;
- attn_q / attn_k rows permuted for llama.cpp's interleaved RoPE, as the converter writes them.

Factors only slow the pairs that turn less than once per 2048 positions, so within the 32 positions the tests
run their angles move by at most ~0.1 rad. The q and k projections are scaled by QK_GAIN so that attention is
sharp enough for that to move the logits well beyond the tolerance: the reference computed without the factors
is recorded too (`description.rope_freqs.without_factors_max_abs_diff`), and a runtime that ignores them fails.

The reference is a float64 numpy forward pass on the Hugging Face layout of the same weights (rotate-half RoPE,
inverse frequencies theta^(-2i/d) / factor_i), the greedy continuation a full causal recompute per step.
llama.cpp (b11739, the PyPI wheel llama-cpp-py-sync 0.11739, CPU, f32 KV cache) runs the same ids one at a
time from position 0; its logits of every prompt position are stored under `llamacpp.logits` so that tests can
compare against llama.cpp itself. The same runs without the factors (the tensor left out of the file) check
that llama.cpp applies them: with and without, llama.cpp and the reference agree.

Usage:  pip install gguf==0.19.0 numpy llama-cpp-py-sync==0.11739 && python3 scripts/gen-rope-freqs-fixture.py
(the llama-cpp-py-sync wheel is built for glibc 2.38 or newer.)
"""

import contextlib
import gc
import hashlib
import json
import math
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

PINNED = {"gguf": "0.19.0", "llama-cpp-py-sync": "0.11739"}

try:
    import numpy as np
    import gguf
    from llama_cpp_py_sync import Llama
except ImportError as missing:
    sys.exit(f"{missing}: run `pip install gguf==0.19.0 numpy llama-cpp-py-sync==0.11739` and try again")

for package, version in PINNED.items():
    if (installed := metadata.version(package)) != version:
        sys.exit(f"the fixture is pinned to {package}=={version}, found {installed}: install that version and try again")

CASE = "llama3-rope-freqs-f32"
OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "oracle" / CASE
SEED = 31_8192

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB = 128, 2, 2, 1, 128, 128, 512
THETA, CONTEXT, EPS = 500_000.0, 131_072, 1e-5
LLAMA3_SCALING = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
QK_GAIN = 3.0
PROMPT_LEN, GREEDY_STEPS = 16, 16
# Every prompt and greedy position of the reference keeps its top two logits this far apart.
MIN_MARGIN = 0.02


def llama3_rope_factors(theta: float, dim: int, scaling: dict) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors for rope_type llama3 (its torch float32
    frequencies, its Python-float arithmetic), stored as F32."""
    freqs = 1.0 / (np.float32(theta) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / float(freq)
        if wavelen < high_freq_wavelen:
            out.append(1.0)
        elif wavelen > low_freq_wavelen:
            out.append(factor)
        else:
            smooth = (old_context / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens, then '▁', printable ASCII and '▁' + two letters."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["▁"] + [chr(c) for c in range(33, 127)]
    letters = "etaoinshrdlucmfwyp"
    tokens += [f"▁{a}{b}" for a in letters for b in letters][: VOCAB - len(tokens)]
    types = [2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259)
    scores = [0.0] * 259 + [-float(i) for i in range(VOCAB - 259)]
    return tokens, scores, types


def random_weights(rng: np.random.Generator) -> dict:
    """Hugging Face layout ([out, in] matrices), f32: N(0, 1/fan_in) matrices, N(0, 1) embeddings, norm
    weights 1 + 0.1 N(0, 1); q and k times QK_GAIN; output scaled for logits of std ~3."""
    def matrix(rows, cols, gain=1.0):
        return (rng.standard_normal((rows, cols)) * gain / math.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w = {"embd": rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32), "layers": []}
    for _ in range(LAYERS):
        w["layers"].append({
            "attn_norm": norm(HIDDEN),
            "q": matrix(HEADS * HEAD_DIM, HIDDEN, QK_GAIN),
            "k": matrix(KV_HEADS * HEAD_DIM, HIDDEN, QK_GAIN),
            "v": matrix(KV_HEADS * HEAD_DIM, HIDDEN),
            "o": matrix(HIDDEN, HEADS * HEAD_DIM),
            "ffn_norm": norm(HIDDEN),
            "gate": matrix(FFN, HIDDEN),
            "up": matrix(FFN, HIDDEN),
            "down": matrix(HIDDEN, FFN),
        })
    w["output_norm"] = norm(HIDDEN)
    w["output"] = matrix(VOCAB, HIDDEN)
    return w


def permute(rows: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute: each head's rotate-half halves interleaved into pairs."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def write_gguf(path: Path, w: dict, factors: np.ndarray | None) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(CASE)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_key_length(HEAD_DIM)
    writer.add_value_length(HEAD_DIM)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_rope_freq_base(THETA)
    writer.add_layer_norm_rms_eps(EPS)
    writer.add_vocab_size(VOCAB)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens, scores, types = vocabulary()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    writer.add_tensor("token_embd.weight", w["embd"])
    if factors is not None:
        writer.add_tensor("rope_freqs.weight", factors)
    for i, layer in enumerate(w["layers"]):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", layer["attn_norm"])
        writer.add_tensor(f"blk.{i}.attn_q.weight", permute(layer["q"], HEADS))
        writer.add_tensor(f"blk.{i}.attn_k.weight", permute(layer["k"], KV_HEADS))
        writer.add_tensor(f"blk.{i}.attn_v.weight", layer["v"])
        writer.add_tensor(f"blk.{i}.attn_output.weight", layer["o"])
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", layer["ffn_norm"])
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", layer["gate"])
        writer.add_tensor(f"blk.{i}.ffn_up.weight", layer["up"])
        writer.add_tensor(f"blk.{i}.ffn_down.weight", layer["down"])
    writer.add_tensor("output_norm.weight", w["output_norm"])
    writer.add_tensor("output.weight", w["output"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def forward(w: dict, tokens: list[int], inv_freq: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Logits of every position (T × VOCAB): the Hugging Face Llama forward with rotate-half RoPE at
    positions 0..T-1 and the given inverse frequencies, in `dtype`."""
    f = lambda a: np.asarray(a, dtype=dtype)
    rms = lambda x, g: x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + dtype(EPS)) * f(g)
    t = len(tokens)
    angles = np.arange(t, dtype=dtype)[:, None] * f(inv_freq)[None, :]
    cos = np.concatenate([np.cos(angles)] * 2, axis=1)[:, None, :]
    sin = np.concatenate([np.sin(angles)] * 2, axis=1)[:, None, :]
    half = HEAD_DIM // 2
    rotate = lambda x: x * cos + np.concatenate([-x[..., half:], x[..., :half]], axis=-1) * sin
    causal = np.triu(np.full((t, t), -np.inf, dtype=dtype), 1)
    x = f(w["embd"])[tokens]
    for layer in w["layers"]:
        h = rms(x, layer["attn_norm"])
        q = rotate((h @ f(layer["q"]).T).reshape(t, HEADS, HEAD_DIM))
        k = rotate((h @ f(layer["k"]).T).reshape(t, KV_HEADS, HEAD_DIM))
        v = (h @ f(layer["v"]).T).reshape(t, KV_HEADS, HEAD_DIM)
        group = HEADS // KV_HEADS
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / dtype(math.sqrt(HEAD_DIM)) + causal
        p = np.exp(scores - scores.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        x = x + np.einsum("hqk,khd->qhd", p, v).reshape(t, HEADS * HEAD_DIM) @ f(layer["o"]).T
        h = rms(x, layer["ffn_norm"])
        g = h @ f(layer["gate"]).T
        x = x + (g / (1 + np.exp(-g)) * (h @ f(layer["up"]).T)) @ f(layer["down"]).T
    return rms(x, w["output_norm"]) @ f(w["output"]).T


def argmax(row) -> int:
    return int(np.argmax(row))  # the first (lowest) index among equals


def margin(row) -> float:
    top = np.sort(row)[-2:]
    return float(top[1] - top[0])


def greedy(w: dict, tokens: list[int], inv_freq: np.ndarray) -> tuple[list[int], list[float]]:
    seq, margins = list(tokens), []
    for _ in range(GREEDY_STEPS):
        last = forward(w, seq, inv_freq)[-1]
        margins.append(margin(last))
        seq.append(argmax(last))
    return seq[len(tokens):], margins


@contextlib.contextmanager
def quiet_stderr():
    """llama.cpp logs its loading to file descriptor 2 whatever `verbose` says."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def llama(path: Path) -> Llama:
    """llama.cpp on the CPU with an f32 KV cache, which the f32 weights deserve."""
    return Llama(str(path), n_ctx=256, n_batch=256, n_threads=2, verbose=False, flash_attn_type=0, type_k="f32", type_v="f32")


def llamacpp_logits(path: Path, ids: list[int]) -> np.ndarray:
    """llama.cpp's logits after each of `ids`, fed one at a time from position 0."""
    llm = llama(path)
    rows, n_past = [], 0
    for t in ids:
        n_past = llm._eval_tokens([t], n_past)
        ptr = llm._lib.llama_get_logits_ith(llm._ctx, -1)
        rows.append(np.frombuffer(llm._ffi.buffer(ptr, 4 * llm.n_vocab), dtype=np.float32).astype(np.float64))
    return np.array(rows)


def llamacpp_greedy(path: Path, tokens: list[int]) -> list[int]:
    llm = llama(path)
    n_past = llm._eval_tokens(list(tokens), 0)
    out = []
    for _ in range(GREEDY_STEPS):
        ptr = llm._lib.llama_get_logits_ith(llm._ctx, -1)
        out.append(argmax(np.frombuffer(llm._ffi.buffer(ptr, 4 * llm.n_vocab), dtype=np.float32)))
        n_past = llm._eval_tokens([out[-1]], n_past)
    return out


def sig(values, digits: int = 6) -> list:
    return [float(f"{v:.{digits}g}") for v in np.asarray(values).ravel()]


def main() -> None:
    rng = np.random.default_rng(SEED)
    w = random_weights(rng)
    factors = llama3_rope_factors(THETA, HEAD_DIM, LLAMA3_SCALING)
    base = THETA ** (-np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)
    inv_freq, inv_freq_plain = base / factors.astype(np.float64), base

    # Logits of std ~3: random models otherwise give near-uniform ones.
    probe = [1] + list(rng.integers(3, VOCAB, PROMPT_LEN - 1))
    output_scale = round(3.0 / float(np.std(forward(w, probe, inv_freq))), 2)
    w["output"] = (w["output"] * output_scale).astype(np.float32)

    for attempt in range(200):
        tokens = [1] + [int(t) for t in rng.integers(3, VOCAB, PROMPT_LEN - 1)]
        logits = forward(w, tokens, inv_freq)
        gen, gen_margins = greedy(w, tokens, inv_freq)
        prompt_margins = [margin(r) for r in logits]
        if min(prompt_margins + gen_margins) >= MIN_MARGIN:
            break
    else:
        sys.exit("no prompt without a near-tie in 200 draws")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    model_path = OUT_DIR / "model.gguf"
    write_gguf(model_path, w, factors)
    model_bytes = model_path.read_bytes()

    std = float(np.std(logits))
    tol = 2e-3 * max(1.0, std)
    full = tokens + gen[:-1]
    f32_logits = forward(w, tokens, inv_freq, np.float32).astype(np.float64)
    plain_logits = forward(w, tokens, inv_freq_plain)
    plain_gen, _ = greedy(w, tokens, inv_freq_plain)

    reference_full = forward(w, full, inv_freq)
    with tempfile.TemporaryDirectory() as tmp, quiet_stderr():
        cpp = llamacpp_logits(model_path, full)
        cpp_gen = llamacpp_greedy(model_path, tokens)
        plain_path = Path(tmp) / "without-rope-freqs.gguf"
        write_gguf(plain_path, w, None)
        cpp_plain = llamacpp_logits(plain_path, tokens)
        gc.collect()  # the contexts log as they close

    per_position = np.abs(cpp[:PROMPT_LEN] - logits).max(axis=1)
    greedy_steps = np.abs(cpp[PROMPT_LEN - 1:] - reference_full[PROMPT_LEN - 1:]).max()
    agree = [p for p in range(PROMPT_LEN) if prompt_margins[p] > 0.3]
    exceptions = [p for p in agree if argmax(cpp[p]) != argmax(logits[p])]
    matching = next((i for i, (a, b) in enumerate(zip(cpp_gen, gen)) if a != b), GREEDY_STEPS)
    without = float(np.abs(plain_logits - logits).max())
    cpp_without_vs_reference_without = float(np.abs(cpp_plain - plain_logits).max())

    description = {
        "arch": "general.architecture=llama (Llama 3.1 / 3.2 / 3.3 style): dense SwiGLU FFN; RMSNorm; RoPE in GGUF's "
                "interleaved ('normal') layout with attn_q/attn_k rows permuted as convert_hf_to_gguf.py does, each "
                "pair's angle divided by its factor in rope_freqs.weight (llama.cpp LLM_TENSOR_ROPE_FREQS, ggml_rope_ext's "
                "freq_factors); head_dim 128 from attention.key_length (q width 256 != hidden 128); GQA; untied output",
        "dims": {"vocab": VOCAB, "hidden": HIDDEN, "ffn": FFN, "layers": LAYERS, "q_heads": HEADS, "kv_heads": KV_HEADS,
                 "head_dim": HEAD_DIM, "experts": 0, "experts_used": 0, "rope_theta": THETA, "rms_norm_eps": EPS,
                 "context_length": CONTEXT},
        "rope_freqs": {
            "factors": sig(factors, 9),
            "from": {"rope_type": "llama3", **LLAMA3_SCALING},
            "formula": "convert_hf_to_gguf.py LlamaModel.generate_extra_tensors: wavelen = 2 pi / (theta^(-2i/d)); "
                       "1 if wavelen < orig/high, factor if wavelen > orig/low, else 1 / ((1 - s)/factor + s) with "
                       "s = (orig/wavelen - low) / (high - low)",
            "applied": "theta_i = pos * theta^(-2i/d) / factor_i (ggml_rope_cache_init), before any rope scaling",
            "without_factors_max_abs_diff": float(f"{without:.6g}"),
            "without_factors_greedy": plain_gen,
        },
        "qk_gain": QK_GAIN,
        "qk_gain_note": "attn_q and attn_k (random, std 1/sqrt(hidden)) multiplied by this so that attention is sharp and "
                        "the factors, which move angles by at most ~0.1 rad within 32 positions, move the logits",
        "quant": "none: every tensor F32",
        "seed": SEED,
        "output_scale": output_scale,
        "output_scale_note": "output.weight multiplied by this so that the std of the logits is ~3",
        "vocab": "synthetic SentencePiece-style vocab of 512: 0 <unk>, 1 <s>, 2 </s>, 3..258 byte tokens <0x00>..<0xFF>, "
                 "259.. normal pieces (tokenizer.ggml.model=llama)",
        "prompt_draw": f"BOS then uniform random ids in [3, vocab); re-drawn (attempt {attempt}) until every prompt position "
                       f"and every greedy step has top1-top2 >= {MIN_MARGIN}",
        "generator": "scripts/gen-rope-freqs-fixture.py (random f32 model -> GGUF with gguf-py 0.19.0)",
        "gguf_bytes": len(model_bytes),
        "gguf_sha256": hashlib.sha256(model_bytes).hexdigest(),
    }
    reference = {
        "case": CASE,
        "description": description,
        "tokens": tokens,
        "logits": [sig(r) for r in logits],
        "greedy": gen,
        "greedy_margins": sig(gen_margins),
        "prompt_argmax": [argmax(r) for r in logits],
        "prompt_margins": sig(prompt_margins),
        "router_min_margin": None,
        "logits_std": float(f"{std:.6g}"),
        "tolerance": {
            "max_abs": float(f"{tol:.6g}"),
            "rule": "a runtime computing in f32 with f32 activations should give max|dlogit| <= 0.002 * max(1, std of the "
                    "reference logits) over all positions, the same argmax wherever the reference top1-top2 margin exceeds "
                    "2*max_abs, and the same greedy ids up to the first step whose reference margin is below 2*max_abs",
            "numpy_f32_vs_f64": {"max_abs": float(f"{np.abs(f32_logits - logits).max():.3g}")},
            "reference_is": "exact math on the F32 weights in float64 (numpy), full causal recompute per step",
            "llamacpp_note": "every weight is F32, so llama.cpp (f32 KV cache) computes the same function to ~1e-5: "
                             "its logits are a second reference",
        },
        "llamacpp": {
            "version": "llama.cpp b11739 (libllama/libggml of PyPI llama-cpp-py-sync 0.11739), CPU backend",
            "tool": "llama_cpp_py_sync.Llama (llama.h API): f32 KV cache (type_k/type_v f32), flash attention off, n_ctx 256; "
                    "token ids fed one at a time from position 0 (no BOS added), logits read after each; greedy = argmax "
                    "of the last logits, fed back, 16 steps",
            "model": "model.gguf",
            "logits": [sig(r, 7) for r in cpp[:PROMPT_LEN]],
            "last_logits_max_abs_diff": float(f"{per_position[-1]:.3g}"),
            "per_position_max_abs_diff": sig(per_position, 3),
            "argmax_agreement": f"{len(agree) - len(exceptions)}/{len(agree)} prompt positions with numpy top1-top2 margin > 0.3",
            "argmax_exceptions": exceptions,
            "gen_ids": cpp_gen,
            "gen_ids_match_numpy_greedy": f"first {matching} of {GREEDY_STEPS}",
            "gen_steps_max_abs_diff": float(f"{greedy_steps:.3g}"),
            "without_rope_freqs": "the same model with rope_freqs.weight left out: llama.cpp vs the reference computed "
                                  f"without the factors, max|dlogit| = {cpp_without_vs_reference_without:.3g} over the "
                                  f"prompt (the factors themselves move the reference by {without:.3g})",
        },
    }
    (OUT_DIR / "reference.json").write_text(json.dumps(reference, ensure_ascii=False) + "\n")
    print(f"{CASE}: {len(model_bytes)} bytes, tol {tol:.3g}, without factors {without:.3g}, "
          f"llama.cpp vs reference {per_position.max():.3g} (prompt), {greedy_steps:.3g} (greedy steps), "
          f"llama.cpp without factors vs reference without {cpp_without_vs_reference_without:.3g}, "
          f"llama.cpp greedy matches first {matching}, numpy f32 vs f64 {np.abs(f32_logits - logits).max():.3g}")


if __name__ == "__main__":
    main()
