// Q4_1: 32 values in 20 bytes: f16 d at 0, f16 m at 2, then 16 bytes of nibbles at 4 laid out
// as in Q4_0. x = d * nibble + m. Blocks are 4-byte aligned.
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 20u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let k = (row + c * QBLOCK_BYTES) >> 2u;
    let dm = unpack2x16float(w[k]);
    let qs = w_x4(k + 1u);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        out[i] = dm.x * u8x4(qs[i] & 0x0F0F0F0Fu) + vec4<f32>(dm.y);
        out[i + 4u] = dm.x * u8x4((qs[i] >> 4u) & 0x0F0F0F0Fu) + vec4<f32>(dm.y);
    }
    return out;
}
