// Byte access into a weight page `w` (declared by the kernel as array<u32>) holding GGUF blocks
// exactly as the file stores them. Blocks are not 4-byte aligned (Q4_0 is 18 bytes, Q3_K 110),
// so reads at arbitrary byte offsets combine neighbouring words. Pages are padded to 4 bytes, so
// the second word of a read that ends inside the page exists.

// The u32 formed by bytes b..b+3 (little-endian), for any b.
fn w_u32_at(b: u32) -> u32 {
    let shift = (b & 3u) * 8u;
    let lo = w[b >> 2u];
    if (shift == 0u) {
        return lo;
    }
    return (lo >> shift) | (w[(b >> 2u) + 1u] << (32u - shift));
}

// The byte at b.
fn w_u8(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu;
}

// The u16 at an even byte offset b.
fn w_u16(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 2u) * 8u)) & 0xFFFFu;
}

// The f16 at an even byte offset b, widened.
fn w_f16(b: u32) -> f32 {
    return unpack2x16float(w_u16(b)).x;
}

// Four signed bytes packed in a u32, widened.
fn i8x4(v: u32) -> vec4<f32> {
    return vec4<f32>(vec4<i32>(bitcast<i32>(v << 24u), bitcast<i32>(v << 16u), bitcast<i32>(v << 8u), bitcast<i32>(v)) >> vec4<u32>(24u));
}

// Four unsigned bytes packed in a u32, widened (byte 0 in .x).
fn u8x4(v: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) & vec4<u32>(0xFFu));
}

// Four nibbles, one from each byte of v (low nibbles, or high nibbles when `high`).
fn nibbles4(v: u32, high: bool) -> vec4<f32> {
    return u8x4((v >> select(0u, 4u, high)) & 0x0F0F0F0Fu);
}

// The low four bits of v, bit 0 in .x: one bit per value, as in the 5th-bit masks of Q5_0/Q5_1.
fn bits4(v: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(v) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u));
}

// K-quant super-blocks (256 values) share two packings, read here for several decoders.

// The 2-bit quants of values e..e+3 (e % 4 == 0, e < 256) of a 64-byte plane starting at byte
// `at`, one per byte of the result (0..3 each). Value e sits in byte 32 (e / 128) + e % 32 at
// shift 2 ((e % 128) / 32): the low bits of Q2_K/Q3_K and the high bits of Q6_K.
fn plane2_x4(at: u32, e: u32) -> u32 {
    return (w_u32_at(at + 32u * (e / 128u) + e % 32u) >> (2u * ((e % 128u) / 32u))) & 0x03030303u;
}

// The 6-bit (scale, min) of Q4_K/Q5_K sub-block s (0..8) from the 12 bytes at `at`:
// s < 4: scale = k[s] & 63, min = k[s + 4] & 63;
// s ≥ 4: scale = (k[s + 4] & 0xF) | (k[s - 4] >> 6) << 4, min = (k[s + 4] >> 4) | (k[s] >> 6) << 4.
fn scale_min_k4(at: u32, s: u32) -> vec2<u32> {
    if (s < 4u) {
        return vec2<u32>(w_u8(at + s) & 63u, w_u8(at + s + 4u) & 63u);
    }
    let k = w_u8(at + s + 4u);
    return vec2<u32>((k & 0x0Fu) | ((w_u8(at + s - 4u) >> 6u) << 4u), (k >> 4u) | ((w_u8(at + s) >> 6u) << 4u));
}
