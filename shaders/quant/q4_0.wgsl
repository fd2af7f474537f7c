// Q4_0: 32 values in 18 bytes: f16 d at 0, then 16 bytes of nibbles at 2. Byte j holds x[j] in
// its low nibble and x[j + 16] in its high nibble. x = d * (nibble - 8).
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 18u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let blk = row + (i / 32u) * 18u;
    let j = i % 32u;
    let q = nibbles4(w_u32_at(blk + 2u + (j % 16u)), j >= 16u);
    return w_f16(blk) * (q - vec4<f32>(8.0));
}
