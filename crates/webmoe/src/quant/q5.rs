//! The 5-bit, 32-value block formats of ggml (`block_q5_0`, `block_q5_1` in ggml-common.h).
//!
//! Both store each value's low 4 bits as nibbles laid out as in Q4_0 (byte j holds value j in its
//! low nibble and value j + 16 in its high nibble) and the 5th bits in one little-endian u32 `qh`,
//! bit i belonging to value i.

use super::f16_at;

/// The 5-bit quant of values `j` and `j + 16` (j < 16): nibbles from `qs[j]`, 5th bits from `qh`.
fn q5_pair(qs: &[u8], qh: u32, j: usize) -> (u8, u8) {
    let high_bit = |i: usize| (((qh >> i) & 1) as u8) << 4;
    ((qs[j] & 0x0F) | high_bit(j), (qs[j] >> 4) | high_bit(j + 16))
}

/// Q5_0, 22 bytes:
///
/// | bytes  | field | meaning                                  |
/// |--------|-------|------------------------------------------|
/// | 0..2   | d     | f16 scale                                |
/// | 2..6   | qh    | u32 LE, bit i = 5th bit of value i       |
/// | 6..22  | qs    | 16 bytes of nibbles, byte j = values j (low), j + 16 (high) |
///
/// x[i] = (q[i] - 16) * d, with q[i] = nibble | (qh bit i) << 4 in 0..32.
pub(super) fn dequant_q5_0(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let (lo, hi) = q5_pair(qs, qh, j);
        out[j] = (lo as i32 - 16) as f32 * d;
        out[j + 16] = (hi as i32 - 16) as f32 * d;
    }
}

/// Q5_1, 24 bytes:
///
/// | bytes  | field | meaning                                  |
/// |--------|-------|------------------------------------------|
/// | 0..2   | d     | f16 scale                                |
/// | 2..4   | m     | f16 offset (the block minimum)           |
/// | 4..8   | qh    | u32 LE, bit i = 5th bit of value i       |
/// | 8..24  | qs    | 16 bytes of nibbles, byte j = values j (low), j + 16 (high) |
///
/// x[i] = q[i] * d + m, with q[i] = nibble | (qh bit i) << 4 in 0..32.
pub(super) fn dequant_q5_1(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let (lo, hi) = q5_pair(qs, qh, j);
        out[j] = lo as f32 * d + m;
        out[j + 16] = hi as f32 * d + m;
    }
}
