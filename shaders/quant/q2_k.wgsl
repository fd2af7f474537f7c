// Q2_K: 256 values in 84 bytes, 16 sub-blocks of 16:
//   0..16   scales  byte s: low nibble = scale of sub-block s, high nibble = its min
//   16..80  qs      2-bit quants, value e in byte 32 (e / 128) + e % 32 at shift 2 ((e % 128) / 32)
//   80..82  d       f16 super-scale of the scales
//   82..84  dmin    f16 super-scale of the mins
// With s = e / 16: x[e] = (d * (scales[s] & 0xF)) * q - dmin * (scales[s] >> 4).
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 84u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + (c / 8u) * QBLOCK_BYTES;
    // Values 32 j .. 32 j + 31 of the super-block: sub-blocks 2 j and 2 j + 1, all in the 32
    // quant bytes at 16 + 32 (j / 4), at shift 2 (j % 4).
    let j = c % 8u;
    let k = blk >> 2u;
    let dd = unpack2x16float(w[k + 20u]);
    let scales = w_u16(blk + 2u * j);
    let shift = 2u * (j % 4u);
    var out: array<vec4<f32>, 8>;
    for (var h = 0u; h < 2u; h++) {
        let packed = (scales >> (8u * h)) & 0xFFu;
        let dl = dd.x * f32(packed & 0x0Fu);
        let ml = dd.y * f32(packed >> 4u);
        let q = w_x4(k + 4u + 8u * (j / 4u) + 4u * h);
        for (var i = 0u; i < 4u; i++) {
            out[4u * h + i] = dl * u8x4((q[i] >> shift) & 0x03030303u) - vec4<f32>(ml);
        }
    }
    return out;
}

// Matvec pieces: 8 per super-block. Piece p, with h = p / 4 and l = 8 (p % 4), reads the 8 quant
// bytes at 16 + 32 h + l, which hold values 128 h + 32 s + l .. + 7 at shift 2 s for s < 4 (runs
// 2 s and 2 s + 1), in sub-blocks 8 h + 2 s + (p % 4) / 2.
fn piece_run(g: u32, r: u32) -> u32 {
    let p = g % 8u;
    return 256u * (g / 8u) + 128u * (p / 4u) + 8u * (p % 4u) + 32u * (r / 2u) + 4u * (r % 2u);
}

fn load_piece(row: u32, g: u32) -> array<vec4<f32>, 8> {
    let k = (row + (g / 8u) * QBLOCK_BYTES) >> 2u;
    let p = g % 8u;
    let h = p / 4u;
    let dd = unpack2x16float(w[k + 20u]);
    // Scale bytes 8 h + 2 s + (p % 4) / 2: bytes 0 and 2 of word 2 h (s = 0, 1), of 2 h + 1 (s = 2, 3).
    let at = 8u * ((p % 4u) / 2u);
    let sc = vec2<u32>(w[k + 2u * h], w[k + 2u * h + 1u]) >> vec2<u32>(at);
    let q = vec2<u32>(w[k + 4u + 8u * h + 2u * (p % 4u)], w[k + 5u + 8u * h + 2u * (p % 4u)]);
    var out: array<vec4<f32>, 8>;
    for (var s = 0u; s < 4u; s++) {
        let packed = (sc[s / 2u] >> (16u * (s % 2u))) & 0xFFu;
        let dl = dd.x * f32(packed & 0x0Fu);
        let ml = dd.y * f32(packed >> 4u);
        for (var t = 0u; t < 2u; t++) {
            out[2u * s + t] = dl * u8x4((q[t] >> (2u * s)) & 0x03030303u) - vec4<f32>(ml);
        }
    }
    return out;
}
