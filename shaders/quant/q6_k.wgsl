// Q6_K: 256 values in 210 bytes, 16 sub-blocks of 16. With h = e / 128, j = (e % 128) / 32,
// l = e % 32:
//   0..128    ql      low nibbles: value e in byte 64 h + 32 (j % 2) + l, high nibble if j ≥ 2
//   128..192  qh      high 2 bits: value e in byte 32 h + l at shift 2 j
//   192..208  scales  16 i8 scales, one per sub-block
//   208..210  d       f16 super-scale
// With s = e / 16 and q = nibble | high2 << 4 in 0..64: x[e] = (d * scales[s]) * (q - 32).
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 210u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 256u) * 210u;
    let e = i % 256u;
    let j = (e % 128u) / 32u;
    let scale = bitcast<i32>(w_u8(blk + 192u + e / 16u) << 24u) >> 24u;
    let dl = w_f16(blk + 208u) * f32(scale);
    let low = (w_u32_at(blk + 64u * (e / 128u) + 32u * (j % 2u) + e % 32u) >> (4u * (j / 2u))) & 0x0F0F0F0Fu;
    let q = u8x4(low | (plane2_x4(blk + 128u, e) << 4u)) - vec4<f32>(32.0);
    return dl * q;
}
