// Q4_K: 256 values in 144 bytes, 8 sub-blocks of 32:
//   0..2     d       f16 super-scale of the scales
//   2..4     dmin    f16 super-scale of the mins
//   4..16    scales  8 6-bit (scale, min) pairs, packed as `scale_min_k4` reads them
//   16..144  qs      nibbles: sub-block s in bytes 32 (s / 2) .. + 32, low nibble if s is even
// With s = e / 32 and (sc, m) its pair: x[e] = (d * sc) * q - dmin * m.
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 144u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 256u) * 144u;
    let e = i % 256u;
    let s = e / 32u;
    let sm = scale_min_k4(blk + 4u, s);
    let dl = w_f16(blk) * f32(sm.x);
    let ml = w_f16(blk + 2u) * f32(sm.y);
    let q = nibbles4(w_u32_at(blk + 16u + 32u * (s / 2u) + e % 32u), (s & 1u) == 1u);
    return dl * q - vec4<f32>(ml);
}
