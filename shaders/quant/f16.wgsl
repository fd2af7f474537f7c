// F16 weights: 2 bytes per value. Rows start 4-byte aligned (a row is 32 values or more).
const QBLOCK_VALUES: u32 = 1u;
const QBLOCK_BYTES: u32 = 2u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let k = (row >> 2u) + 16u * c;
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
        out[i] = vec4<f32>(unpack2x16float(w[k + 2u * i]), unpack2x16float(w[k + 2u * i + 1u]));
    }
    return out;
}
