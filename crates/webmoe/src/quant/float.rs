//! The unquantized formats: one value per "block".

use super::f16_at;

/// F32, 4 bytes: the little-endian f32 itself.
pub(super) fn dequant_f32(b: &[u8], out: &mut [f32]) {
    out[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
}

/// F16, 2 bytes: little-endian IEEE half, widened exactly (NaN stays NaN).
pub(super) fn dequant_f16(b: &[u8], out: &mut [f32]) {
    out[0] = f16_at(b, 0);
}

/// BF16, 2 bytes: the top 16 bits of an f32, so widening is a shift.
pub(super) fn dequant_bf16(b: &[u8], out: &mut [f32]) {
    out[0] = f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16);
}
