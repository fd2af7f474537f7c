// Q4_K: 256 values in 144 bytes, 8 sub-blocks of 32:
//   0..2     d       f16 super-scale of the scales
//   2..4     dmin    f16 super-scale of the mins
//   4..16    scales  8 6-bit (scale, min) pairs, packed as `scale_min_k4` reads them
//   16..144  qs      nibbles: sub-block s in bytes 32 (s / 2) .. + 32, low nibble if s is even
// With s = e / 32 and (sc, m) its pair: x[e] = (d * sc) * q - dmin * m.
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 144u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + (c / 8u) * QBLOCK_BYTES;
    let s = c % 8u;
    let k = blk >> 2u;
    let dd = unpack2x16float(w[k]);
    let sm = scale_min_k4(blk + 4u, s);
    let dl = dd.x * f32(sm.x);
    let ml = dd.y * f32(sm.y);
    let q = k + 4u + 8u * (s / 2u);
    let shift = 4u * (s & 1u);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
        out[i] = dl * u8x4((w[q + i] >> shift) & 0x0F0F0F0Fu) - vec4<f32>(ml);
    }
    return out;
}

// Matvec pieces: 8 per super-block. Piece p reads the 16 quant bytes at 16 + 16 p, which hold
// sub-blocks 2 (p / 2) (low nibbles) and 2 (p / 2) + 1 (high nibbles) at values 16 (p % 2) .. + 15
// of each: runs 0..4 are the low nibbles, 4..8 the high ones.
fn piece_run(g: u32, r: u32) -> u32 {
    let p = g % 8u;
    return 256u * (g / 8u) + 64u * (p / 2u) + 16u * (p % 2u) + 32u * (r / 4u) + 4u * (r % 4u);
}

fn load_piece(row: u32, g: u32) -> array<vec4<f32>, 8> {
    let k = (row + (g / 8u) * QBLOCK_BYTES) >> 2u;
    let p = g % 8u;
    let s = 2u * (p / 2u);
    let dd = unpack2x16float(w[k]);
    let lo = scale_min_k4((k << 2u) + 4u, s);
    let hi = scale_min_k4((k << 2u) + 4u, s + 1u);
    let dl = dd.x * vec2<f32>(f32(lo.x), f32(hi.x));
    let ml = dd.y * vec2<f32>(f32(lo.y), f32(hi.y));
    let q = w_x4(k + 4u + 4u * p);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        out[i] = dl.x * u8x4(q[i] & 0x0F0F0F0Fu) - vec4<f32>(ml.x);
        out[i + 4u] = dl.y * u8x4((q[i] >> 4u) & 0x0F0F0F0Fu) - vec4<f32>(ml.y);
    }
    return out;
}
