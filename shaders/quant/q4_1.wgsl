// Q4_1: 32 values in 20 bytes: f16 d at 0, f16 m at 2, then 16 bytes of nibbles at 4 laid out
// as in Q4_0. x = d * nibble + m.
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 20u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 32u) * 20u;
    let j = i % 32u;
    let q = nibbles4(w_u32_at(blk + 4u + (j % 16u)), j >= 16u);
    return w_f16(blk) * q + vec4<f32>(w_f16(blk + 2u));
}
