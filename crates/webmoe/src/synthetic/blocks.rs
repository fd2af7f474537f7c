//! Random tensor data in every block format webmoe reads.
//!
//! [`fill_weights`] gives weights with a chosen spread σ, as a trained model's would be: the quants
//! are uniform random bits, and each block's scale fields are set so the dequantized values have
//! mean ≈ 0 and standard deviation σ. A quant uniform over n integer levels has variance
//! (n² − 1) / 12; a sub-block scale `sc` drawn uniformly from a range adds its mean square
//! E[sc²], so a tensor's variance is d² · E[sc²] · (n² − 1) / 12 and `d` follows from σ:
//!
//! | type | dequantized (ggml)     | q            | std(q) | scale fields, per block              |
//! |------|------------------------|--------------|--------|--------------------------------------|
//! | Q8_0 | d·q                    | −128..127    | 73.90  | d = ±σ / 73.90                       |
//! | Q4_0 | d·(q − 8)              | 0..15        | 4.610  | d = ±σ / 4.610                       |
//! | Q5_0 | d·(q − 16)             | 0..31        | 9.233  | d = ±σ / 9.233                       |
//! | Q4_1 | d·q + m                | 0..15        | 4.610  | d = σ / 4.610, m = −7.5 d            |
//! | Q5_1 | d·q + m                | 0..31        | 9.233  | d = σ / 9.233, m = −15.5 d           |
//! | Q2_K | d·sc·q − dmin·m        | 0..3         | 1.118  | sc = m ∈ 8..15, dmin = 1.5 d         |
//! | Q3_K | d·(sc − 32)·q          | −4..3        | 2.291  | sc − 32 = ±(16..31)                  |
//! | Q4_K | d·sc·q − dmin·m        | 0..15        | 4.610  | sc = m ∈ 16..63, dmin = 7.5 d        |
//! | Q5_K | d·sc·q − dmin·m        | 0..31        | 9.233  | sc = m ∈ 16..63, dmin = 15.5 d       |
//! | Q6_K | d·sc·(q − 32)          | 0..63        | 18.47  | sc = ±(32..127)                      |
//! | MXFP4 | k[q]·2^(e−128)        | 16 codes     | 5.852  | 2^(e−128) ∈ {a, 2a}, E[·²] = (σ/5.852)² |
//! | F32, F16, BF16 | x            | —            | —      | x uniform in ±σ√3                    |
//!
//! MXFP4's scale is a power of two (an E8M0 byte), so each block draws one of the two powers a ≤
//! σ/5.852 < 2a around the target, with the probability that gives the mean square of the
//! target; its codes (the doubled e2m1 values k[q], ±0..12) are symmetric, so their mean is zero.
//!
//! With `m = sc` and `dmin` = the quants' mean times `d`, every sub-block is `d·sc·(q − mean)`:
//! its mean is zero. The formats without a minimum have levels centred on −½ (−8..7 for Q4_0), so
//! their scale's sign is drawn at random per block (Q3_K, Q6_K: per sub-block) and the offsets
//! cancel across a tensor. The K-quant sub-scales span their upper ranges so the high bits of the
//! packed 6-bit scales are exercised, as real files exercise them.

use super::rng::Rng;
use crate::gguf::GgmlType;
use half::f16;

/// Byte offsets of the f16 scale fields within one block of `ty`.
fn scale_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q2_K => &[80, 82],
        GgmlType::Q3_K => &[108],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

/// `n_values` random values of `ty` (a whole number of blocks) as a file stores them, with every
/// f16 scale set to a finite value of about `scale / 16` so no block decodes to Inf or NaN. Every
/// other byte (sub-block scales included) is random: the kernels' tests use this to reach every
/// bit pattern a decoder must handle.
pub fn random_tensor_bytes(ty: GgmlType, n_values: usize, scale: f32, rng: &mut Rng) -> Vec<u8> {
    let (elems, block_bytes) = ty.block_geometry();
    let n_blocks = n_values / elems as usize;
    match ty {
        GgmlType::F32 => (0..n_values).flat_map(|_| (rng.uniform() * scale).to_le_bytes()).collect(),
        GgmlType::F16 => (0..n_values).flat_map(|_| f16::from_f32(rng.uniform() * scale).to_le_bytes()).collect(),
        GgmlType::BF16 => {
            (0..n_values).flat_map(|_| half::bf16::from_f32(rng.uniform() * scale).to_le_bytes()).collect()
        }
        GgmlType::MXFP4 => {
            // The E8M0 scale within a factor 2 either way of scale / 16.
            let mut out = vec![0u8; n_blocks * block_bytes as usize];
            rng.fill_bytes(&mut out);
            let centre = 128 + (scale / 16.0).log2().round() as i32;
            for block in out.chunks_exact_mut(block_bytes as usize) {
                block[0] = (centre + rng.in_range(0, 2) as i32 - 1).clamp(2, 254) as u8;
            }
            out
        }
        _ => {
            let mut out = vec![0u8; n_blocks * block_bytes as usize];
            rng.fill_bytes(&mut out);
            for block in out.chunks_exact_mut(block_bytes as usize) {
                for &at in scale_fields(ty) {
                    let d = f16::from_f32(rng.uniform() * scale / 16.0);
                    block[at..at + 2].copy_from_slice(&d.to_le_bytes());
                }
            }
            out
        }
    }
}

/// Standard deviation of an integer uniform over `levels` consecutive values: √((n² − 1) / 12).
fn levels_std(levels: u32) -> f32 {
    ((f64::from(levels).powi(2) - 1.0) / 12.0).sqrt() as f32
}

/// Root mean square of an integer uniform over `lo..=hi`.
fn rms(lo: u32, hi: u32) -> f32 {
    let sum: f64 = (lo..=hi).map(|k| f64::from(k).powi(2)).sum();
    (sum / f64::from(hi - lo + 1)).sqrt() as f32
}

/// Sub-block scale ranges (magnitudes; see the module table).
const Q2_K_SCALES: (u32, u32) = (8, 15);
const Q3_K_SCALES: (u32, u32) = (16, 31);
const K4_SCALES: (u32, u32) = (16, 63);
const Q6_K_SCALES: (u32, u32) = (32, 127);

/// The scale fields of one type for a target σ: the super-scale `d` and the minimum's scale
/// (`dmin` for the K-quants, `m` itself for Q4_1/Q5_1), as f16.
struct Calibration {
    ty: GgmlType,
    d: f16,
    min: f16,
}

impl Calibration {
    fn new(ty: GgmlType, std: f32) -> Calibration {
        use GgmlType::*;
        // (levels of q, sub-scale range, mean of q that the minimum removes, if the type has one)
        let (levels, scales, centre) = match ty {
            Q8_0 => (256, (1, 1), None),
            Q4_0 => (16, (1, 1), None),
            Q5_0 => (32, (1, 1), None),
            Q4_1 => (16, (1, 1), Some(-7.5)),
            Q5_1 => (32, (1, 1), Some(-15.5)),
            Q2_K => (4, Q2_K_SCALES, Some(1.5)),
            Q3_K => (8, Q3_K_SCALES, None),
            Q4_K => (16, K4_SCALES, Some(7.5)),
            Q5_K => (32, K4_SCALES, Some(15.5)),
            Q6_K => (64, Q6_K_SCALES, None),
            _ => (1, (1, 1), None),
        };
        let d = f16::from_f32(std / (levels_std(levels) * rms(scales.0, scales.1)));
        let min = f16::from_f32(centre.map_or(0.0, |c| c * d.to_f32()));
        Calibration { ty, d, min }
    }

    /// Overwrite the scale fields of `b`, one block whose quants are already random.
    fn set_block(&self, b: &mut [u8], rng: &mut Rng) {
        use GgmlType::*;
        let put = |b: &mut [u8], at: usize, x: f16| b[at..at + 2].copy_from_slice(&x.to_le_bytes());
        let signed = |rng: &mut Rng, x: f16| if rng.sign() < 0.0 { -x } else { x };
        match self.ty {
            Q8_0 | Q4_0 | Q5_0 => put(b, 0, signed(rng, self.d)),
            Q4_1 | Q5_1 => {
                put(b, 0, self.d);
                put(b, 2, self.min);
            }
            Q2_K => {
                for packed in &mut b[0..16] {
                    let sc = rng.in_range(Q2_K_SCALES.0, Q2_K_SCALES.1) as u8;
                    *packed = sc | (sc << 4);
                }
                put(b, 80, self.d);
                put(b, 82, self.min);
            }
            Q3_K => {
                let mut scales = [0u8; 16];
                for s in &mut scales {
                    let magnitude = rng.in_range(Q3_K_SCALES.0, Q3_K_SCALES.1) as i32;
                    *s = (32 + rng.sign() as i32 * magnitude) as u8;
                }
                pack_q3_k_scales(&scales, &mut b[96..108]);
                put(b, 108, self.d);
            }
            Q4_K | Q5_K => {
                let mut scales = [0u8; 8];
                scales.iter_mut().for_each(|s| *s = rng.in_range(K4_SCALES.0, K4_SCALES.1) as u8);
                pack_scale_min_k4(&scales, &scales, &mut b[4..16]);
                put(b, 0, self.d);
                put(b, 2, self.min);
            }
            Q6_K => {
                for s in &mut b[192..208] {
                    let magnitude = rng.in_range(Q6_K_SCALES.0, Q6_K_SCALES.1) as i32;
                    *s = (rng.sign() as i32 * magnitude) as i8 as u8;
                }
                put(b, 208, self.d);
            }
            _ => {}
        }
    }
}

/// The 12 bytes of 8 (scale, min) 6-bit pairs as ggml's `get_scale_min_k4` reads them: sub-blocks
/// 0..4 in the low 6 bits of bytes 0..4 (scales) and 4..8 (mins); sub-blocks 4..8 as low nibbles
/// in bytes 8..12 (scale low, min high) with their top 2 bits in the top bits of bytes 0..8.
fn pack_scale_min_k4(scales: &[u8; 8], mins: &[u8; 8], k: &mut [u8]) {
    for s in 0..4 {
        k[s] = scales[s] | ((scales[s + 4] >> 4) << 6);
        k[s + 4] = mins[s] | ((mins[s + 4] >> 4) << 6);
        k[s + 8] = (scales[s + 4] & 0x0F) | ((mins[s + 4] & 0x0F) << 4);
    }
}

/// The 12 bytes of Q3_K's 16 6-bit scales (each 0..64, stored +32): low nibbles of sub-blocks
/// 0..8 in bytes 0..8, of 8..16 in their high nibbles; the top 2 bits of sub-block s in byte
/// 8 + s % 4 at bit 2 (s / 4).
fn pack_q3_k_scales(scales: &[u8; 16], k: &mut [u8]) {
    k[..12].fill(0);
    for (s, &v) in scales.iter().enumerate() {
        let (low, high) = (v & 0x0F, v >> 4);
        if s < 8 {
            k[s] |= low;
        } else {
            k[s - 8] |= low << 4;
        }
        k[8 + s % 4] |= high << (2 * (s / 4));
    }
}

/// Bytes of the unit `fill_weights` works in: a block, or one value of a float type.
pub fn unit_bytes(ty: GgmlType) -> usize {
    ty.block_bytes() as usize
}

/// Fill `out` (whole blocks of `ty`) with random weights whose dequantized values have mean ≈ 0
/// and standard deviation ≈ `std` (see the module table).
pub fn fill_weights(ty: GgmlType, std: f32, rng: &mut Rng, out: &mut [u8]) {
    let half_width = std * 3f32.sqrt();
    match ty {
        GgmlType::F32 => {
            for v in out.chunks_exact_mut(4) {
                v.copy_from_slice(&(half_width * rng.uniform()).to_le_bytes());
            }
        }
        GgmlType::F16 => {
            for v in out.chunks_exact_mut(2) {
                v.copy_from_slice(&f16::from_f32(half_width * rng.uniform()).to_le_bytes());
            }
        }
        GgmlType::BF16 => {
            for v in out.chunks_exact_mut(2) {
                v.copy_from_slice(&half::bf16::from_f32(half_width * rng.uniform()).to_le_bytes());
            }
        }
        GgmlType::MXFP4 => fill_mxfp4(std, rng, out),
        _ => {
            rng.fill_bytes(out);
            let calibration = Calibration::new(ty, std);
            for block in out.chunks_exact_mut(unit_bytes(ty)) {
                calibration.set_block(block, rng);
            }
        }
    }
}

/// Root mean square of MXFP4's 16 doubled e2m1 codes, each equally likely: √(548 / 16).
const MXFP4_CODE_RMS: f32 = 5.852_35;

/// MXFP4 blocks of random codes whose E8M0 scales give the values a spread of `std`.
fn fill_mxfp4(std: f32, rng: &mut Rng, out: &mut [u8]) {
    rng.fill_bytes(out);
    let target = std / MXFP4_CODE_RMS;
    let low = target.log2().floor();
    let a = low.exp2();
    // p·a² + (1 − p)·4a² = target²
    let p_low = (4.0 * a * a - target * target) / (3.0 * a * a);
    for block in out.chunks_exact_mut(GgmlType::MXFP4.block_bytes() as usize) {
        let power = if (rng.uniform() + 1.0) / 2.0 < p_low { low } else { low + 1.0 };
        block[0] = (128.0 + power).clamp(2.0, 254.0) as u8;
    }
}

/// Fill `out` (F32 values) with norm weights: 1 ± 0.1, uniform.
pub fn fill_norm(rng: &mut Rng, out: &mut [u8]) {
    for v in out.chunks_exact_mut(4) {
        v.copy_from_slice(&(1.0 + 0.1 * rng.uniform()).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{dequantize_to_vec, SUPPORTED};

    fn mean_std(x: &[f32]) -> (f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn dequantized_weights_have_the_target_spread_in_every_type() {
        // Embeddings (1), attention and expert inputs (4096), Mixtral's expert down projection (14336).
        for fan_in in [1.0f32, 4096.0, 14336.0] {
            let target = 1.0 / fan_in.sqrt();
            for &ty in SUPPORTED {
                let n_values = 1 << 16;
                let mut bytes = vec![0u8; n_values / ty.block_elems() as usize * unit_bytes(ty)];
                fill_weights(ty, target, &mut Rng::derived(3, ty.id().into(), fan_in as u64), &mut bytes);
                let x = dequantize_to_vec(ty, &bytes).unwrap();
                assert!(x.iter().all(|v| v.is_finite()), "{ty}: a value is not finite");
                let (mean, std) = mean_std(&x);
                let target = f64::from(target);
                assert!(mean.abs() < 0.03 * target, "{ty}, fan-in {fan_in}: mean {mean:e}, std target {target:e}");
                assert!((std / target - 1.0).abs() < 0.05, "{ty}, fan-in {fan_in}: std {std:e}, target {target:e}");
            }
        }
    }

    #[test]
    fn scale_packing_is_what_the_decoders_read() {
        // Through the decoders: a block whose quants are all one value shows each sub-block's
        // scale directly.
        let mut rng = Rng::new(5);
        let scales: [u8; 8] = std::array::from_fn(|_| rng.in_range(0, 63) as u8);
        let mins: [u8; 8] = std::array::from_fn(|_| rng.in_range(0, 63) as u8);
        let mut q4k = [0u8; 144];
        q4k[0..2].copy_from_slice(&f16::ONE.to_le_bytes());
        q4k[2..4].copy_from_slice(&f16::ONE.to_le_bytes());
        pack_scale_min_k4(&scales, &mins, &mut q4k[4..16]);
        q4k[16..].fill(0x11); // every quant 1: x = sc - m
        let x = dequantize_to_vec(GgmlType::Q4_K, &q4k).unwrap();
        for s in 0..8 {
            assert_eq!(x[32 * s], f32::from(scales[s]) - f32::from(mins[s]), "Q4_K sub-block {s}");
        }
        let q3: [u8; 16] = std::array::from_fn(|_| rng.in_range(0, 63) as u8);
        let mut q3k = [0u8; 110];
        q3k[0..32].fill(0xFF); // high bits set: q = low bits
        q3k[32..96].fill(0x55); // every low pair 1
        pack_q3_k_scales(&q3, &mut q3k[96..108]);
        q3k[108..110].copy_from_slice(&f16::ONE.to_le_bytes());
        let x = dequantize_to_vec(GgmlType::Q3_K, &q3k).unwrap();
        for s in 0..16 {
            assert_eq!(x[16 * s], f32::from(q3[s]) - 32.0, "Q3_K sub-block {s}");
        }
    }
}
