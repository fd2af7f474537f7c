// Q4_0: 32 values in 18 bytes: f16 d at 0, then 16 bytes of nibbles at 2. Byte j holds x[j] in
// its low nibble and x[j + 16] in its high nibble. x = d * (nibble - 8).
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 18u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + c * QBLOCK_BYTES;
    let d = w_f16(blk);
    let qs = w_x4_at(blk + 2u);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        out[i] = d * (u8x4(qs[i] & 0x0F0F0F0Fu) - vec4<f32>(8.0));
        out[i + 4u] = d * (u8x4((qs[i] >> 4u) & 0x0F0F0F0Fu) - vec4<f32>(8.0));
    }
    return out;
}
