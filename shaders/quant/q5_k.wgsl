// Q5_K: 256 values in 176 bytes, 8 sub-blocks of 32:
//   0..2     d       f16 super-scale of the scales
//   2..4     dmin    f16 super-scale of the mins
//   4..16    scales  8 6-bit (scale, min) pairs, packed as `scale_min_k4` reads them
//   16..48   qh      5th bits: value e in byte e % 32, bit e / 32
//   48..176  qs      low nibbles, laid out as Q4_K's
// With s = e / 32, (sc, m) its pair and q = nibble + 16 * (5th bit):
// x[e] = (d * sc) * q - dmin * m.
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 176u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 256u) * 176u;
    let e = i % 256u;
    let s = e / 32u;
    let sm = scale_min_k4(blk + 4u, s);
    let dl = w_f16(blk) * f32(sm.x);
    let ml = w_f16(blk + 2u) * f32(sm.y);
    let low = (w_u32_at(blk + 48u + 32u * (s / 2u) + e % 32u) >> (4u * (s & 1u))) & 0x0F0F0F0Fu;
    let high = (w_u32_at(blk + 16u + e % 32u) >> s) & 0x01010101u;
    return dl * u8x4(low | (high << 4u)) - vec4<f32>(ml);
}
