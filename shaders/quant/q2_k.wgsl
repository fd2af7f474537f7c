// Q2_K: 256 values in 84 bytes, 16 sub-blocks of 16:
//   0..16   scales  byte s: low nibble = scale of sub-block s, high nibble = its min
//   16..80  qs      2-bit quants, value e in byte 32 (e / 128) + e % 32 at shift 2 ((e % 128) / 32)
//   80..82  d       f16 super-scale of the scales
//   82..84  dmin    f16 super-scale of the mins
// With s = e / 16: x[e] = (d * (scales[s] & 0xF)) * q - dmin * (scales[s] >> 4).
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 84u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 256u) * 84u;
    let e = i % 256u;
    let packed = w_u8(blk + e / 16u);
    let dl = w_f16(blk + 80u) * f32(packed & 0x0Fu);
    let ml = w_f16(blk + 82u) * f32(packed >> 4u);
    return dl * u8x4(plane2_x4(blk + 16u, e)) - vec4<f32>(ml);
}
