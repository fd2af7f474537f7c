// BF16 weights: the top 16 bits of an f32, 2 bytes per value. Rows start 4-byte aligned.
const QBLOCK_VALUES: u32 = 1u;
const QBLOCK_BYTES: u32 = 2u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let k = (row >> 2u) + 16u * c;
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
        let a = w[k + 2u * i];
        let b = w[k + 2u * i + 1u];
        out[i] = bitcast<vec4<f32>>(vec4<u32>(a << 16u, a & 0xFFFF0000u, b << 16u, b & 0xFFFF0000u));
    }
    return out;
}
