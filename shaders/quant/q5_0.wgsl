// Q5_0: 32 values in 22 bytes: f16 d at 0, u32 qh at 2 (bit j = 5th bit of value j), then 16
// bytes of nibbles at 6 laid out as in Q4_0 (byte j: value j low, value j + 16 high).
// q = nibble | (qh bit j) << 4 in 0..32; x = (q - 16) * d.
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 22u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 32u) * 22u;
    let j = i % 32u;
    let q = nibbles4(w_u32_at(blk + 6u + (j % 16u)), j >= 16u) + 16.0 * bits4(w_u32_at(blk + 2u) >> j);
    return (q - vec4<f32>(16.0)) * w_f16(blk);
}
