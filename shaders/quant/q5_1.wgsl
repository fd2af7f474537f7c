// Q5_1: 32 values in 24 bytes: f16 d at 0, f16 m at 2, u32 qh at 4 (bit j = 5th bit of value
// j), then 16 bytes of nibbles at 8 laid out as in Q4_0 (byte j: value j low, value j + 16 high).
// q = nibble | (qh bit j) << 4 in 0..32; x = q * d + m.
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 24u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 32u) * 24u;
    let j = i % 32u;
    let q = nibbles4(w_u32_at(blk + 8u + (j % 16u)), j >= 16u) + 16.0 * bits4(w_u32_at(blk + 4u) >> j);
    return q * w_f16(blk) + vec4<f32>(w_f16(blk + 2u));
}
