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

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 256u) * 110u;
    let e = i % 256u;
    let s = e / 16u;
    let low = (w_u8(blk + 96u + s % 8u) >> (4u * (s / 8u))) & 0x0Fu;
    let high = (w_u8(blk + 104u + s % 4u) >> (2u * (s / 4u))) & 3u;
    let dl = w_f16(blk + 108u) * f32(i32(low | (high << 4u)) - 32);
    // The high bit adds 4, so q - 4 is the quant with its offset applied.
    let hbits = (w_u32_at(blk + e % 32u) >> (e / 32u)) & 0x01010101u;
    let q = u8x4(plane2_x4(blk + 32u, e) | (hbits << 2u)) - vec4<f32>(4.0);
    return dl * q;
}
