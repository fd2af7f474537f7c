// Q8_0: 32 values in 34 bytes: f16 d at 0, then 32 i8 q at 2. x[j] = d * q[j].
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 34u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 32u) * 34u;
    let j = i % 32u;
    return w_f16(blk) * i8x4(w_u32_at(blk + 2u + j));
}
