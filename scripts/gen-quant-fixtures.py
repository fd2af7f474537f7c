#!/usr/bin/env python3
"""Write the block-format fixtures that crates/webmoe/src/quant/tests.rs checks the CPU dequantizers against.

For every block format webmoe runs, this writes into tests/fixtures/quant/:

    <TYPE>.blocks   raw blocks, exactly as they sit in a GGUF tensor
    <TYPE>.f32      the values the `gguf` Python package dequantizes them to, little-endian f32

The expected values come from `gguf.quants.dequantize` (the reference implementation that ships with
llama.cpp's Python tooling), never from webmoe itself, so the Rust test is an independent check.

The blocks are random bytes (fixed seed: a rerun gives identical files) except that the f16 scale fields
(d, and dmin or m where the format has one) hold finite values of either sign with magnitude 0.001..2, so no
value is NaN or infinite. Each quantized format also gets edge blocks: every quant and scale byte 0x00, every
one 0xFF, and a zero scale. MXFP4's scale is one E8M0 byte (a power of two), so its random blocks draw it
from every value 0..255 (subnormal and overflowing scales included) and its edge blocks add e = 1, 2, 127
and 128. The float formats (F32, F16, BF16) are plain random bit patterns, NaN and infinity
included, because those must pass through unchanged.

Usage:  pip install gguf==0.19.0 numpy && python3 scripts/gen-quant-fixtures.py
"""

import sys
from importlib import metadata
from pathlib import Path

GGUF_VERSION = "0.19.0"

try:
    import numpy as np
    import gguf
    from gguf.quants import dequantize
    from gguf.constants import GGMLQuantizationType
except ImportError as missing:
    sys.exit(f"{missing}: run `pip install gguf=={GGUF_VERSION} numpy` and try again")

if (installed := metadata.version("gguf")) != GGUF_VERSION:
    sys.exit(f"the fixtures are pinned to gguf=={GGUF_VERSION}, found {installed}: "
             f"run `pip install gguf=={GGUF_VERSION}` and try again")

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "quant"
SEED = 0x5EED_0B10

# Type name -> (random blocks, byte offsets of the f16 scale fields inside one block).
# Offsets follow ggml-common.h: block_q4_1 {d, m, qs}, block_q5_1 {d, m, qh, qs},
# block_q2_K {scales, qs, d, dmin}, block_q3_K {hmask, qs, scales, d}, block_q4_K/q5_K {d, dmin, ...},
# block_q6_K {ql, qh, scales, d}.
QUANTIZED = {
    "Q4_0": (300, [0]),
    "Q4_1": (300, [0, 2]),
    "Q5_0": (300, [0]),
    "Q5_1": (300, [0, 2]),
    "Q8_0": (300, [0]),
    "Q2_K": (200, [80, 82]),
    "Q3_K": (200, [108]),
    "Q4_K": (200, [0, 2]),
    "Q5_K": (200, [0, 2]),
    "Q6_K": (200, [208]),
}
FLOATS = {"F32": 1024, "F16": 1024, "BF16": 1024}
# Formats whose scale is a single E8M0 byte at offset 0: random blocks.
E8M0 = {"MXFP4": 300}


def block_bytes(name: str) -> int:
    return gguf.GGML_QUANT_SIZES[GGMLQuantizationType[name]][1]


def sane_scales(rng: np.random.Generator, count: int) -> np.ndarray:
    """f16 bit patterns of finite scales, sign random, magnitude 0.001..2 (log-uniform)."""
    magnitude = np.exp(rng.uniform(np.log(0.001), np.log(2.0), count))
    sign = rng.choice([-1.0, 1.0], count)
    return (sign * magnitude).astype(np.float16).view(np.uint16)


def put_f16(blocks: np.ndarray, offset: int, bits: np.ndarray) -> None:
    blocks[:, offset] = bits & 0xFF
    blocks[:, offset + 1] = bits >> 8


def quantized_blocks(rng: np.random.Generator, name: str) -> np.ndarray:
    random_count, scale_offsets = QUANTIZED[name]
    size = block_bytes(name)
    random = rng.integers(0, 256, (random_count, size), dtype=np.uint8)
    for offset in scale_offsets:
        put_f16(random, offset, sane_scales(rng, random_count))

    # Edge blocks: all-0x00 and all-0xFF quant/scale bytes under each sign of scale, and a zero scale.
    edge_fills = [0x00, 0xFF, 0x00, 0xFF, 0x5A]
    edge_scales = [1.0, 1.0, -0.5, -0.5, 0.0]
    edges = np.array([[fill] * size for fill in edge_fills], dtype=np.uint8)
    for offset in scale_offsets:
        put_f16(edges, offset, np.array(edge_scales, dtype=np.float16).view(np.uint16))
    return np.concatenate([edges, random])


def e8m0_blocks(rng: np.random.Generator, name: str) -> np.ndarray:
    size = block_bytes(name)
    random = rng.integers(0, 256, (E8M0[name], size), dtype=np.uint8)
    edges = np.array([[fill] * size for fill in [0x00, 0xFF, 0x5A, 0xA5, 0x77, 0x88]], dtype=np.uint8)
    edges[2:, 0] = [1, 2, 127, 128]
    return np.concatenate([edges, random])


def float_blocks(rng: np.random.Generator, name: str) -> np.ndarray:
    count = FLOATS[name] * block_bytes(name)
    return rng.integers(0, 256, (count, 1), dtype=np.uint8)


def write(name: str, blocks: np.ndarray) -> int:
    raw = np.ascontiguousarray(blocks).reshape(-1)
    values = np.asarray(dequantize(raw, GGMLQuantizationType[name]), dtype=np.float32).reshape(-1)
    expected_len = raw.size // block_bytes(name) * gguf.GGML_QUANT_SIZES[GGMLQuantizationType[name]][0]
    if values.size != expected_len:
        sys.exit(f"{name}: gguf gave {values.size} values for {raw.size} bytes, expected {expected_len}")
    (OUT_DIR / f"{name}.blocks").write_bytes(raw.tobytes())
    (OUT_DIR / f"{name}.f32").write_bytes(values.astype("<f4").tobytes())
    return raw.size + values.size * 4


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    total = 0
    for name in FLOATS:
        total += write(name, float_blocks(rng, name))
    for name in QUANTIZED:
        total += write(name, quantized_blocks(rng, name))
    for name in E8M0:
        total += write(name, e8m0_blocks(rng, name))
    print(f"wrote {len(FLOATS) + len(QUANTIZED) + len(E8M0)} types, {total} bytes, to {OUT_DIR}")


if __name__ == "__main__":
    main()
