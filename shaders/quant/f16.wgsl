// F16 weights: 2 bytes per value. Rows start 4-byte aligned (row length a multiple of 4).
const QBLOCK_VALUES: u32 = 1u;
const QBLOCK_BYTES: u32 = 2u;

fn load4(row: u32, i: u32) -> vec4<f32> {
    let k = (row >> 2u) + (i >> 1u);
    return vec4<f32>(unpack2x16float(w[k]), unpack2x16float(w[k + 1u]));
}
