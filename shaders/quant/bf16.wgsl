// BF16 weights: the top 16 bits of an f32, 2 bytes per value.
const QBLOCK_VALUES: u32 = 1u;
const QBLOCK_BYTES: u32 = 2u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let k = (row >> 2u) + (i >> 1u);
    let a = w[k];
    let b = w[k + 1u];
    return vec4<f32>(bitcast<f32>(a << 16u), bitcast<f32>(a & 0xFFFF0000u), bitcast<f32>(b << 16u), bitcast<f32>(b & 0xFFFF0000u));
}
