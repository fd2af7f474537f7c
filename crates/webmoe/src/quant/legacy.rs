//! The 4- and 8-bit, 32-value block formats of ggml (`block_q4_0`, `block_q4_1`, `block_q8_0` in
//! ggml-common.h).

use super::f16_at;

/// Q8_0, 34 bytes: f16 d, then 32 i8 q. x[i] = d * q[i].
pub(super) fn dequant_q8_0(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    for (o, &q) in out.iter_mut().zip(&b[2..34]) {
        *o = d * (q as i8) as f32;
    }
}

/// Q4_0, 18 bytes: f16 d, then 16 bytes of nibbles. Byte j holds x[j] (low nibble) and
/// x[j + 16] (high nibble); x = d * (nibble - 8).
pub(super) fn dequant_q4_0(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    for j in 0..16 {
        let q = b[2 + j];
        out[j] = d * ((q & 0x0F) as i32 - 8) as f32;
        out[j + 16] = d * ((q >> 4) as i32 - 8) as f32;
    }
}

/// Q4_1, 20 bytes: f16 d, f16 m, then 16 bytes of nibbles laid out as in Q4_0; x = d * nibble + m.
pub(super) fn dequant_q4_1(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    for j in 0..16 {
        let q = b[4 + j];
        out[j] = d * (q & 0x0F) as f32 + m;
        out[j + 16] = d * (q >> 4) as f32 + m;
    }
}
