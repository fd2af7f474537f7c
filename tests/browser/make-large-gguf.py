#!/usr/bin/env python3
"""Write a large, valid GGUF model for memory tests: a dense llama-architecture model with Q8_0
weights, F32 norms and a SentencePiece-style vocabulary, of at least the requested size.

usage: make-large-gguf.py OUT.gguf [--bytes 1000000000]

The weights are meaningless (one deterministic block pattern repeated) but every block is valid:
the Q8_0 scales are a small finite f16, so the model runs and produces finite logits. Shape: hidden
2048, FFN 5632, 32 query heads and 4 KV heads of 64, vocabulary 32000; layers are added until the
file reaches the requested size (19 layers for 1 GB). Writes in a few seconds, streaming to disk.
"""
import argparse
import random
import struct

ALIGNMENT = 32
F32, Q8_0 = 0, 8
Q8_0_BLOCK_VALUES, Q8_0_BLOCK_BYTES = 32, 34
# GGUF metadata value types.
U32, I32, F32_VALUE, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9

N_EMBD, N_FF, N_HEAD, N_HEAD_KV, VOCAB = 2048, 5632, 32, 4, 32000
HEAD_DIM = N_EMBD // N_HEAD


def gguf_string(text):
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def metadata_value(kind, value):
    if kind == U32:
        return struct.pack("<I", value)
    if kind == F32_VALUE:
        return struct.pack("<f", value)
    if kind == BOOL:
        return struct.pack("<?", value)
    if kind == STRING:
        return gguf_string(value)
    element, items = value
    packed = b"".join(metadata_value(element, v) if element != I32 else struct.pack("<i", v) for v in items)
    return struct.pack("<IQ", element, len(items)) + packed


def vocabulary():
    """<unk>, <s>, </s>, the 256 byte tokens, then letter pieces: a vocabulary the tokenizer accepts."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = ["\u2581"] + list(letters) + ["\u2581" + c for c in letters] + [a + b for a in letters for b in letters]
    n = 0
    while len(tokens) < VOCAB:
        if pieces:
            tokens.append(pieces.pop(0))
        else:
            tokens.append(letters[n % 26] + letters[(n // 26) % 26] + "q" * (1 + n // 676))
            n += 1
        types.append(1)
    scores = [-float(i) for i in range(VOCAB)]
    return tokens, scores, types


def tensors(n_layer):
    """(name, ggml dims, type) of every tensor, in file order."""
    kv = N_HEAD_KV * HEAD_DIM
    out = [("token_embd.weight", [N_EMBD, VOCAB], Q8_0)]
    for layer in range(n_layer):
        name = lambda kind: f"blk.{layer}.{kind}.weight"
        out += [
            (name("attn_norm"), [N_EMBD], F32),
            (name("attn_q"), [N_EMBD, N_EMBD], Q8_0),
            (name("attn_k"), [N_EMBD, kv], Q8_0),
            (name("attn_v"), [N_EMBD, kv], Q8_0),
            (name("attn_output"), [N_EMBD, N_EMBD], Q8_0),
            (name("ffn_norm"), [N_EMBD], F32),
            (name("ffn_gate"), [N_EMBD, N_FF], Q8_0),
            (name("ffn_up"), [N_EMBD, N_FF], Q8_0),
            (name("ffn_down"), [N_FF, N_EMBD], Q8_0),
        ]
    out += [("output_norm.weight", [N_EMBD], F32), ("output.weight", [N_EMBD, VOCAB], Q8_0)]
    return out


def tensor_bytes(dims, ty):
    values = 1
    for d in dims:
        values *= d
    return values * 4 if ty == F32 else values // Q8_0_BLOCK_VALUES * Q8_0_BLOCK_BYTES


def padded(n):
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def header(n_layer, table):
    tokens, scores, types = vocabulary()
    meta = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, f"large-dense-q8_0-{n_layer}L"),
        ("llama.context_length", U32, 2048),
        ("llama.embedding_length", U32, N_EMBD),
        ("llama.block_count", U32, n_layer),
        ("llama.feed_forward_length", U32, N_FF),
        ("llama.attention.head_count", U32, N_HEAD),
        ("llama.attention.head_count_kv", U32, N_HEAD_KV),
        ("llama.rope.freq_base", F32_VALUE, 10000.0),
        ("llama.attention.layer_norm_rms_epsilon", F32_VALUE, 1e-5),
        ("llama.vocab_size", U32, VOCAB),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.scores", ARRAY, (F32_VALUE, scores)),
        ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.eos_token_id", U32, 2),
        ("tokenizer.ggml.unknown_token_id", U32, 0),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
    ]
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(table), len(meta)))
    for key, kind, value in meta:
        out += gguf_string(key) + struct.pack("<I", kind) + metadata_value(kind, value)
    offset = 0
    for name, dims, ty in table:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", ty, offset)
        offset = padded(offset + tensor_bytes(dims, ty))
    out += bytes(padded(len(out)) - len(out))
    return bytes(out)


def q8_0_pattern(seed):
    """About 4 MiB of Q8_0 blocks: random quants, every scale 2^-12 (weights within ±0.031)."""
    blocks = (4 << 20) // Q8_0_BLOCK_BYTES
    pattern = bytearray(random.Random(seed).randbytes(blocks * Q8_0_BLOCK_BYTES))
    scale = struct.pack("<e", 2.0**-12)
    pattern[0::Q8_0_BLOCK_BYTES] = scale[:1] * blocks
    pattern[1::Q8_0_BLOCK_BYTES] = scale[1:] * blocks
    return bytes(pattern)


def write(path, target_bytes):
    per_layer = sum(tensor_bytes(d, t) for _, d, t in tensors(1)) - sum(tensor_bytes(d, t) for _, d, t in tensors(0))
    fixed = sum(tensor_bytes(d, t) for _, d, t in tensors(0))
    n_layer = max(1, -(-(target_bytes - fixed) // per_layer))
    table = tensors(n_layer)
    pattern = q8_0_pattern(seed=1)
    norm = struct.pack(f"<{N_EMBD}f", *([1.0] * N_EMBD))
    with open(path, "wb") as f:
        f.write(header(n_layer, table))
        for _, dims, ty in table:
            size = tensor_bytes(dims, ty)
            if ty == F32:
                f.write(norm)
            else:
                for _ in range(size // len(pattern)):
                    f.write(pattern)
                f.write(pattern[: size % len(pattern)])
            f.write(bytes(padded(size) - size))
        total = f.tell()
    return n_layer, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--bytes", type=int, default=1_000_000_000)
    args = parser.parse_args()
    n_layer, total = write(args.out, args.bytes)
    print(f"{args.out}: {n_layer} layers, {total} bytes")


if __name__ == "__main__":
    main()
