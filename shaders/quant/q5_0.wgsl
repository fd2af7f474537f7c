// Q5_0: 32 values in 22 bytes: f16 d at 0, u32 qh at 2 (bit j = 5th bit of value j), then 16
// bytes of nibbles at 6 laid out as in Q4_0 (byte j: value j low, value j + 16 high).
// q = nibble | (qh bit j) << 4 in 0..32; x = (q - 16) * d.
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 22u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + c * QBLOCK_BYTES;
    let d = w_f16(blk);
    let qh = w_u32_at(blk + 2u);
    let qs = w_x4_at(blk + 6u);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        let lo = (qs[i] & 0x0F0F0F0Fu) | (bits_to_bytes(qh >> (4u * i)) << 4u);
        let hi = ((qs[i] >> 4u) & 0x0F0F0F0Fu) | (bits_to_bytes(qh >> (4u * i + 16u)) << 4u);
        out[i] = (u8x4(lo) - vec4<f32>(16.0)) * d;
        out[i + 4u] = (u8x4(hi) - vec4<f32>(16.0)) * d;
    }
    return out;
}
