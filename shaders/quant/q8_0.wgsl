// Q8_0: 32 values in 34 bytes: f16 d at 0, then 32 i8 q at 2. x[j] = d * q[j].
const QBLOCK_VALUES: u32 = 32u;
const QBLOCK_BYTES: u32 = 34u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + c * QBLOCK_BYTES;
    let d = w_f16(blk);
    let q0 = w_x4_at(blk + 2u);
    let q1 = w_x4_at(blk + 18u);
    var out: array<vec4<f32>, 8>;
    for (var i = 0u; i < 4u; i++) {
        out[i] = d * i8x4(q0[i]);
        out[i + 4u] = d * i8x4(q1[i]);
    }
    return out;
}
