// MXFP4: 32 values in 17 bytes: the E8M0 scale e at 0, then 16 bytes of 4-bit codes at 1. Byte j
// holds x[j] in its low nibble and x[j + 16] in its high nibble (as Q4_0). A code is an e2m1
// float, bit 3 its sign; x = k[code & 7] · ±2^(e − 128) with k = 0, 1, 2, 3, 4, 6, 8, 12 (the e2m1
// magnitudes doubled, the scale halved to match). Blocks, and so rows, are not 4-byte aligned.
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 17u;

// k[m] for m = 0..7, one nibble each.
const E2M1_DOUBLED: u32 = 0xC8643210u;

// 2^(e − 128) as ggml builds it from bits: the f32 exponent field e − 1, or for e < 2 the
// subnormals 2^−128 and 2^−127 (which adapters that flush subnormals read as 0).
fn e8m0_half(e: u32) -> f32 {
    return bitcast<f32>(select((e - 1u) << 23u, 0x00200000u << e, e < 2u));
}

// The four codes in the low nibbles of the bytes of v (byte 0 in .x), as doubled e2m1 values.
fn e2m1x4(v: u32) -> vec4<f32> {
    let code = vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) & vec4<u32>(0xFu);
    let magnitude = (vec4<u32>(E2M1_DOUBLED) >> ((code & vec4<u32>(7u)) * 4u)) & vec4<u32>(0xFu);
    return select(vec4<f32>(magnitude), -vec4<f32>(magnitude), (code & vec4<u32>(8u)) != vec4<u32>(0u));
}

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + c * QBLOCK_BYTES;
    let d = e8m0_half(w_u8(blk));
    let qs = w_x4_at(blk + 1u);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        out[i] = d * e2m1x4(qs[i]);
        out[i + 4u] = d * e2m1x4(qs[i] >> 4u);
    }
    return out;
}
