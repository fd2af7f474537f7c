// Q6_K: 256 values in 210 bytes, 16 sub-blocks of 16. With h = e / 128, j = (e % 128) / 32,
// l = e % 32:
//   0..128    ql      low nibbles: value e in byte 64 h + 32 (j % 2) + l, high nibble if j ≥ 2
//   128..192  qh      high 2 bits: value e in byte 32 h + l at shift 2 j
//   192..208  scales  16 i8 scales, one per sub-block
//   208..210  d       f16 super-scale
// With s = e / 16 and q = nibble | high2 << 4 in 0..64: x[e] = (d * scales[s]) * (q - 32).
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 210u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + (c / 8u) * QBLOCK_BYTES;
    // Values 32 j .. 32 j + 31 of the super-block: h = j / 4, j % 4 as the module comment's j, so
    // low nibbles in the 32 bytes at 64 h + 32 (j % 2) at shift 4 (j % 4 / 2), high bits in the
    // 32 bytes at 128 + 32 h at shift 2 (j % 4); sub-blocks 2 j and 2 j + 1.
    let j = c % 8u;
    let d = w_f16(blk + 208u);
    let scales = w_u16(blk + 192u + 2u * j);
    let low_at = blk + 64u * (j / 4u) + 32u * (j % 2u);
    let low_shift = 4u * ((j % 4u) / 2u);
    let high_at = blk + 128u + 32u * (j / 4u);
    let high_shift = 2u * (j % 4u);
    var out: array<vec4<f32>, 8>;
    for (var h = 0u; h < 2u; h++) {
        let scale = bitcast<i32>(scales << (24u - 8u * h)) >> 24u;
        let dl = d * f32(scale);
        let low = w_x4_at(low_at + 16u * h);
        let high = w_x4_at(high_at + 16u * h);
        for (var i = 0u; i < 4u; i++) {
            let q = ((low[i] >> low_shift) & 0x0F0F0F0Fu) | (((high[i] >> high_shift) & 0x03030303u) << 4u);
            out[4u * h + i] = dl * (u8x4(q) - vec4<f32>(32.0));
        }
    }
    return out;
}

// Matvec pieces: 8 per super-block. Piece p, with h = p / 4, j = (p % 4) / 2 and l = 16 (p % 2),
// reads the 16 ql bytes at 64 h + 16 (p % 4) and the 16 qh bytes at 128 + 32 h + l: values
// 128 h + 32 j + l .. + 15 (low nibbles, qh shift 2 j, runs 0..4) and the same plus 64 (high
// nibbles, qh shift 2 j + 4, runs 4..8), in sub-blocks 8 h + 2 j + p % 2 and that plus 4.
fn piece_run(g: u32, r: u32) -> u32 {
    let p = g % 8u;
    return 256u * (g / 8u) + 128u * (p / 4u) + 32u * ((p % 4u) / 2u) + 16u * (p % 2u) + 64u * (r / 4u) + 4u * (r % 4u);
}

fn load_piece(row: u32, g: u32) -> array<vec4<f32>, 8> {
    let blk = row + (g / 8u) * QBLOCK_BYTES;
    let p = g % 8u;
    let h = p / 4u;
    let j = (p % 4u) / 2u;
    let sb = blk + 192u + 8u * h + 2u * j + p % 2u;
    let d = w_f16(blk + 208u);
    let dl = d * vec2<f32>(f32(bitcast<i32>(w_u8(sb) << 24u) >> 24u), f32(bitcast<i32>(w_u8(sb + 4u) << 24u) >> 24u));
    let ql = w_x4_at(blk + 64u * h + 16u * (p % 4u));
    let qh = w_x4_at(blk + 128u + 32u * h + 16u * (p % 2u));
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        let low = (ql[i] & 0x0F0F0F0Fu) | (((qh[i] >> (2u * j)) & 0x03030303u) << 4u);
        let high = ((ql[i] >> 4u) & 0x0F0F0F0Fu) | (((qh[i] >> (2u * j + 4u)) & 0x03030303u) << 4u);
        out[i] = dl.x * (u8x4(low) - vec4<f32>(32.0));
        out[i + 4u] = dl.y * (u8x4(high) - vec4<f32>(32.0));
    }
    return out;
}
