//! The K-quant super-block formats of ggml (`block_q2_K` … `block_q6_K` in ggml-common.h).
//!
//! A super-block holds QK_K = 256 values in sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 32 (Q4_K,
//! Q5_K). Each sub-block has a small integer scale (and for Q2_K, Q4_K, Q5_K a min), which f16
//! super-scales `d` / `dmin` turn into floats. The products are formed in the order ggml forms
//! them (`d * scale` first, then times the quant), so the results are bit-identical to ggml's.
//!
//! Low-bit quants are packed across the block, not value by value. For the 2-bit planes of Q2_K and
//! Q3_K and the high-bit planes of Q6_K, value `e` (0..256) sits at:
//! `h = e / 128` (which 128-value half), `j = (e % 128) / 32` (which bit pair of the byte),
//! `l = e % 32` (which byte within the half's 32), so in byte `32 h + l` at shift `2 j`.

use super::f16_at;

/// Values per sub-block in the 16-sub-block formats.
const SUB16: usize = 16;
/// Values per sub-block in the 8-sub-block formats.
const SUB32: usize = 32;

/// Where sub-block `s` (16 values) of a 2-bit plane starts and at which shift its quants sit:
/// byte `32 (s / 8) + 16 (s % 2)`, shift `2 ((s % 8) / 2)` (see the module comment).
fn plane2_position(s: usize) -> (usize, u32) {
    (32 * (s / 8) + 16 * (s % 2), 2 * ((s % 8) / 2) as u32)
}

/// Q2_K, 84 bytes, 16 sub-blocks of 16 values:
///
/// | bytes  | field  | meaning                                                       |
/// |--------|--------|---------------------------------------------------------------|
/// | 0..16  | scales | byte s: low nibble = scale of sub-block s, high nibble = min  |
/// | 16..80 | qs     | 2-bit quants, value e at byte 32 h + l, shift 2 j             |
/// | 80..82 | d      | f16 super-scale of the scales                                 |
/// | 82..84 | dmin   | f16 super-scale of the mins                                   |
///
/// With s = e / 16 and q = (qs[32 h + l] >> 2 j) & 3:
/// x[e] = (d * (scales[s] & 0xF)) * q - dmin * (scales[s] >> 4).
pub(super) fn dequant_q2_k(b: &[u8], out: &mut [f32]) {
    let (scales, qs) = (&b[0..16], &b[16..80]);
    let d = f16_at(b, 80);
    let dmin = f16_at(b, 82);
    for (s, (sub, &packed)) in out.chunks_exact_mut(SUB16).zip(scales).enumerate() {
        let dl = d * (packed & 0x0F) as f32;
        let ml = dmin * (packed >> 4) as f32;
        let (start, shift) = plane2_position(s);
        for (o, &byte) in sub.iter_mut().zip(&qs[start..start + SUB16]) {
            *o = dl * ((byte >> shift) & 3) as f32 - ml;
        }
    }
}

/// The 6-bit scale of Q3_K sub-block `s` (0..16) from the 12 packed bytes `k`, as a signed value
/// in -32..32: low 4 bits from `k[s] & 0xF` (s < 8) or `k[s - 8] >> 4` (s ≥ 8), high 2 bits from
/// `(k[8 + s % 4] >> (2 (s / 4))) & 3`, minus 32. (ggml gets the same by shuffling the 12 bytes as
/// three u32 with kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f.)
fn q3_k_scale(k: &[u8], s: usize) -> i32 {
    let low = if s < 8 { k[s] & 0x0F } else { k[s - 8] >> 4 };
    let high = (k[8 + s % 4] >> (2 * (s / 4))) & 3;
    (low | (high << 4)) as i32 - 32
}

/// Q3_K, 110 bytes, 16 sub-blocks of 16 values:
///
/// | bytes    | field  | meaning                                                    |
/// |----------|--------|------------------------------------------------------------|
/// | 0..32    | hmask  | high bits: value e at byte l = e % 32, bit e / 32          |
/// | 32..96   | qs     | low 2 bits, value e at byte 32 h + l, shift 2 j            |
/// | 96..108  | scales | 16 6-bit scales, packed as `q3_k_scale` reads them         |
/// | 108..110 | d      | f16 super-scale                                            |
///
/// With s = e / 16, q = (qs[32 h + l] >> 2 j) & 3, and the high bit clear meaning "minus 4":
/// x[e] = (d * (scale[s] - 32)) * (q - (hmask[l] bit (e / 32) set ? 0 : 4)).
pub(super) fn dequant_q3_k(b: &[u8], out: &mut [f32]) {
    let (hmask, qs, scales) = (&b[0..32], &b[32..96], &b[96..108]);
    let d = f16_at(b, 108);
    for (s, sub) in out.chunks_exact_mut(SUB16).enumerate() {
        let dl = d * q3_k_scale(scales, s) as f32;
        let (start, shift) = plane2_position(s);
        let high_bit = 1u8 << (s / 2);
        let low = &qs[start..start + SUB16];
        let high = &hmask[SUB16 * (s % 2)..][..SUB16];
        for ((o, &lo), &hi) in sub.iter_mut().zip(low).zip(high) {
            let offset = if hi & high_bit != 0 { 0 } else { 4 };
            *o = dl * (((lo >> shift) & 3) as i32 - offset) as f32;
        }
    }
}

/// The 6-bit (scale, min) of Q4_K/Q5_K sub-block `s` (0..8) from the 12 packed bytes `k`
/// (ggml's `get_scale_min_k4`):
/// s < 4: scale = k[s] & 63, min = k[s + 4] & 63;
/// s ≥ 4: scale = (k[s + 4] & 0xF) | (k[s - 4] >> 6) << 4, min = (k[s + 4] >> 4) | (k[s] >> 6) << 4.
fn scale_min_k4(k: &[u8], s: usize) -> (u8, u8) {
    if s < 4 {
        (k[s] & 63, k[s + 4] & 63)
    } else {
        ((k[s + 4] & 0x0F) | ((k[s - 4] >> 6) << 4), (k[s + 4] >> 4) | ((k[s] >> 6) << 4))
    }
}

/// Q4_K, 144 bytes, 8 sub-blocks of 32 values:
///
/// | bytes  | field  | meaning                                                           |
/// |--------|--------|-------------------------------------------------------------------|
/// | 0..2   | d      | f16 super-scale of the scales                                     |
/// | 2..4   | dmin   | f16 super-scale of the mins                                       |
/// | 4..16  | scales | 8 6-bit (scale, min) pairs, packed as `scale_min_k4` reads them   |
/// | 16..144| qs     | nibbles: sub-block s at bytes 32 (s / 2) .. +32, low nibble if s is even, high if odd |
///
/// With s = e / 32, (sc, m) = scale_min_k4(s), q the nibble of value e:
/// x[e] = (d * sc) * q - dmin * m.
pub(super) fn dequant_q4_k(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let (scales, qs) = (&b[4..16], &b[16..144]);
    for (s, sub) in out.chunks_exact_mut(SUB32).enumerate() {
        let (sc, m) = scale_min_k4(scales, s);
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        let shift = 4 * (s % 2) as u32;
        for (o, &byte) in sub.iter_mut().zip(&qs[SUB32 * (s / 2)..][..SUB32]) {
            *o = dl * ((byte >> shift) & 0x0F) as f32 - ml;
        }
    }
}

/// Q5_K, 176 bytes, 8 sub-blocks of 32 values:
///
/// | bytes   | field  | meaning                                                          |
/// |---------|--------|------------------------------------------------------------------|
/// | 0..2    | d      | f16 super-scale of the scales                                    |
/// | 2..4    | dmin   | f16 super-scale of the mins                                      |
/// | 4..16   | scales | 8 6-bit (scale, min) pairs, packed as `scale_min_k4` reads them  |
/// | 16..48  | qh     | 5th bits: value e at byte e % 32, bit e / 32                     |
/// | 48..176 | qs     | low nibbles, laid out as Q4_K's                                  |
///
/// With s = e / 32, (sc, m) = scale_min_k4(s), q = nibble + 16 * (qh[e % 32] bit s):
/// x[e] = (d * sc) * q - dmin * m.
pub(super) fn dequant_q5_k(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let (scales, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
    for (s, sub) in out.chunks_exact_mut(SUB32).enumerate() {
        let (sc, m) = scale_min_k4(scales, s);
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        let shift = 4 * (s % 2) as u32;
        let high_bit = 1u8 << s;
        let low = &qs[SUB32 * (s / 2)..][..SUB32];
        for ((o, &lo), &hi) in sub.iter_mut().zip(low).zip(qh) {
            let high = if hi & high_bit != 0 { 16 } else { 0 };
            *o = dl * (((lo >> shift) & 0x0F) + high) as f32 - ml;
        }
    }
}

/// Q6_K, 210 bytes, 16 sub-blocks of 16 values:
///
/// | bytes    | field  | meaning                                                              |
/// |----------|--------|----------------------------------------------------------------------|
/// | 0..128   | ql     | low nibbles: value e at byte 64 h + 32 (j % 2) + l, low nibble if j < 2, high if j ≥ 2 |
/// | 128..192 | qh     | high 2 bits: value e at byte 32 h + l, shift 2 j                      |
/// | 192..208 | scales | 16 i8 scales, one per sub-block                                      |
/// | 208..210 | d      | f16 super-scale                                                      |
///
/// With h, j, l as in the module comment, s = e / 16 and q = (nibble | high2 << 4) in 0..64:
/// x[e] = (d * scales[s]) * (q - 32).
pub(super) fn dequant_q6_k(b: &[u8], out: &mut [f32]) {
    let (ql, qh, scales) = (&b[0..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    for (s, (sub, &scale)) in out.chunks_exact_mut(SUB16).zip(scales).enumerate() {
        let dl = d * (scale as i8) as f32;
        let (half, pair, l0) = (s / 8, (s % 8) / 2, SUB16 * (s % 2));
        let low = &ql[64 * half + 32 * (pair % 2) + l0..][..SUB16];
        let low_shift = 4 * (pair / 2) as u32;
        let (high_start, high_shift) = plane2_position(s);
        let high = &qh[high_start..high_start + SUB16];
        for ((o, &lo), &hi) in sub.iter_mut().zip(low).zip(high) {
            let q = ((lo >> low_shift) & 0x0F) | (((hi >> high_shift) & 3) << 4);
            *o = dl * (q as i32 - 32) as f32;
        }
    }
}
