// F32 weights: 4 bytes per value. Rows start 4-byte aligned.
const QBLOCK_VALUES: u32 = 1u;
const QBLOCK_BYTES: u32 = 4u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let k = (row >> 2u) + 32u * c;
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
        out[i] = bitcast<vec4<f32>>(w_x4(k + 4u * i));
    }
    return out;
}
