// Q2_K: 256 values in 84 bytes, 16 sub-blocks of 16:
//   0..16   scales  byte s: low nibble = scale of sub-block s, high nibble = its min
//   16..80  qs      2-bit quants, value e in byte 32 (e / 128) + e % 32 at shift 2 ((e % 128) / 32)
//   80..82  d       f16 super-scale of the scales
//   82..84  dmin    f16 super-scale of the mins
// With s = e / 16: x[e] = (d * (scales[s] & 0xF)) * q - dmin * (scales[s] >> 4).
const QBLOCK_VALUES: u32 = 256u;
const QBLOCK_BYTES: u32 = 84u;

fn load32(row: u32, c: u32) -> array<vec4<f32>, 8> {
    let blk = row + (c / 8u) * QBLOCK_BYTES;
    // Values 32 j .. 32 j + 31 of the super-block: sub-blocks 2 j and 2 j + 1, all in the 32
    // quant bytes at 16 + 32 (j / 4), at shift 2 (j % 4).
    let j = c % 8u;
    let k = blk >> 2u;
    let dd = unpack2x16float(w[k + 20u]);
    let scales = w_u16(blk + 2u * j);
    let shift = 2u * (j % 4u);
    var out: array<vec4<f32>, 8>;
    for (var h = 0u; h < 2u; h++) {
        let packed = (scales >> (8u * h)) & 0xFFu;
        let dl = dd.x * f32(packed & 0x0Fu);
        let ml = dd.y * f32(packed >> 4u);
        let q = w_x4(k + 4u + 8u * (j / 4u) + 4u * h);
        for (var i = 0u; i < 4u; i++) {
            out[4u * h + i] = dl * u8x4((q[i] >> shift) & 0x03030303u) - vec4<f32>(ml);
        }
    }
    return out;
}
