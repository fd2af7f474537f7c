//! MXFP4 (`block_mxfp4` in ggml-common.h), the OCP microscaling 4-bit float format gpt-oss stores
//! its experts in.

/// The e2m1 values of the 16 codes, doubled so they are integers (bit 3 is the sign); the block's
/// scale is halved to match (see [`e8m0_half`]).
const KVALUES: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// Half the E8M0 scale `e`, 2^(e − 128), as ggml builds it from bits (`GGML_E8M0_TO_FP32_HALF`):
/// the f32 exponent field e − 1, or for e < 2 the subnormals 2^−128 and 2^−127. e = 255 is not
/// special (2^127).
fn e8m0_half(e: u8) -> f32 {
    let bits = if e < 2 { 0x0020_0000u32 << e } else { (e as u32 - 1) << 23 };
    f32::from_bits(bits)
}

/// MXFP4, 17 bytes: the E8M0 scale e, then 16 bytes of 4-bit codes. Byte 1 + j holds x[j] (low
/// nibble) and x[j + 16] (high nibble), as in Q4_0; x = KVALUES[code] · 2^(e − 128).
pub(super) fn dequant_mxfp4(b: &[u8], out: &mut [f32]) {
    let d = e8m0_half(b[0]);
    for j in 0..16 {
        let q = b[1 + j];
        out[j] = d * KVALUES[(q & 0x0F) as usize] as f32;
        out[j + 16] = d * KVALUES[(q >> 4) as usize] as f32;
    }
}
