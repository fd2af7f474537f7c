// Q3_K: 256 values in 110 bytes, 16 sub-blocks of 16:
//   0..32     hmask   high bits: value e in byte e % 32, bit e / 32
//   32..96    qs      low 2 bits, value e in byte 32 (e / 128) + e % 32 at shift 2 ((e % 128) / 32)
//   96..108   scales  16 6-bit scales k: sub-block s has low 4 bits k[s % 8] >> 4 (s / 8),
//                     high 2 bits k[8 + s % 4] >> 2 (s / 4), stored plus 32
//   108..110  d       f16 super-scale
// With s = e / 16 and a clear high bit meaning "minus 4":
// x[e] = (d * (scale[s] - 32)) * (q - (hmask bit set ? 0 : 4)).
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 110u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + (c / 8u) * QBLOCK_BYTES;
    // Values 32 j .. 32 j + 31 of the super-block: sub-blocks s = 2 j + h (h < 2), whose scales'
    // low bits sit in bytes 96 + s % 8 at shift 4 (j / 4) and high bits in bytes 104 + s % 4 at
    // shift 2 (j / 2); quants in the 32 bytes at 32 + 32 (j / 4) at shift 2 (j % 4), high bits
    // at bit j of hmask.
    let j = c % 8u;
    let d = w_f16(blk + 108u);
    let lows = w_u16(blk + 96u + 2u * (j % 4u)) >> (4u * (j / 4u));
    let highs = w_u16(blk + 104u + 2u * (j % 2u)) >> (2u * (j / 2u));
    let shift = 2u * (j % 4u);
    var out: array<vec4<f32>, 8>;
    for (var h = 0u; h < 2u; h++) {
        let scale = ((lows >> (8u * h)) & 0x0Fu) | (((highs >> (8u * h)) & 3u) << 4u);
        let dl = d * f32(i32(scale) - 32);
        let q = w_x4_at(blk + 32u + 32u * (j / 4u) + 16u * h);
        let hmask = w_x4_at(blk + 16u * h);
        for (var i = 0u; i < 4u; i++) {
            // The high bit adds 4, so q - 4 is the quant with its offset applied.
            let v = ((q[i] >> shift) & 0x03030303u) | (((hmask[i] >> j) & 0x01010101u) << 2u);
            out[4u * h + i] = dl * (u8x4(v) - vec4<f32>(4.0));
        }
    }
    return out;
}

// Matvec pieces: 8 per super-block, as Q2_K's. Piece p, with h = p / 4 and l = 8 (p % 4), reads
// the 8 quant bytes at 32 + 32 h + l (values 128 h + 32 s + l .. + 7 at shift 2 s, runs 2 s and
// 2 s + 1) and the 8 hmask bytes at l (their high bits at bit 4 h + s), in sub-blocks
// 8 h + 2 s + (p % 4) / 2.
fn piece_run(g: u32, r: u32) -> u32 {
    let p = g % 8u;
    return 256u * (g / 8u) + 128u * (p / 4u) + 8u * (p % 4u) + 32u * (r / 2u) + 4u * (r % 2u);
}

fn load_piece(row: u32, g: u32) -> array<vec4<f32>, 8> {
    let blk = row + (g / 8u) * QBLOCK_BYTES;
    let p = g % 8u;
    let h = p / 4u;
    let u = (p % 4u) / 2u;
    let d = w_f16(blk + 108u);
    let lows = w_x2_at(blk + 96u);
    let highs = w_u32_at(blk + 104u);
    let q = w_x2_at(blk + 32u + 32u * h + 8u * (p % 4u));
    let hm = w_x2_at(blk + 8u * (p % 4u));
    var out: array<vec4<f32>, 8>;
    for (var s = 0u; s < 4u; s++) {
        // Sub-block 8 h + 2 s + u: low bits in byte 2 s + u at shift 4 h, high bits in byte
        // (2 s + u) % 4 of the high word at shift 2 (2 h + s / 2).
        let b = 2u * s + u;
        let low = (lows[b / 4u] >> (8u * (b % 4u) + 4u * h)) & 0x0Fu;
        let high = (highs >> (8u * (b % 4u) + 2u * (2u * h + s / 2u))) & 3u;
        let dl = d * f32(i32(low | (high << 4u)) - 32);
        for (var t = 0u; t < 2u; t++) {
            let v = ((q[t] >> (2u * s)) & 0x03030303u) | (((hm[t] >> (4u * h + s)) & 0x01010101u) << 2u);
            out[2u * s + t] = dl * (u8x4(v) - vec4<f32>(4.0));
        }
    }
    return out;
}
