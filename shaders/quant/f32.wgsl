// F32 weights: 4 bytes per value. Rows start 4-byte aligned (row length a multiple of 4).
const QBLOCK_VALUES: u32 = 1u;
const QBLOCK_BYTES: u32 = 4u;

// Values i..i+3 (i % 4 == 0) of the row starting at byte `row`.
fn load4(row: u32, i: u32) -> vec4<f32> {
    let k = (row >> 2u) + i;
    return vec4<f32>(bitcast<f32>(w[k]), bitcast<f32>(w[k + 1u]), bitcast<f32>(w[k + 2u]), bitcast<f32>(w[k + 3u]));
}
