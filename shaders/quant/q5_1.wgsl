// Q5_1: 32 values in 24 bytes: f16 d at 0, f16 m at 2, u32 qh at 4 (bit j = 5th bit of value
// j), then 16 bytes of nibbles at 8 laid out as in Q4_0 (byte j: value j low, value j + 16 high).
// q = nibble | (qh bit j) << 4 in 0..32; x = q * d + m. Blocks are 4-byte aligned.
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 24u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let k = (row + c * QBLOCK_BYTES) >> 2u;
    let dm = unpack2x16float(w[k]);
    let qh = w[k + 1u];
    let qs = w_x4(k + 2u);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        let lo = (qs[i] & 0x0F0F0F0Fu) | (bits_to_bytes(qh >> (4u * i)) << 4u);
        let hi = ((qs[i] >> 4u) & 0x0F0F0F0Fu) | (bits_to_bytes(qh >> (4u * i + 16u)) << 4u);
        out[i] = u8x4(lo) * dm.x + vec4<f32>(dm.y);
        out[i + 4u] = u8x4(hi) * dm.x + vec4<f32>(dm.y);
    }
    return out;
}
