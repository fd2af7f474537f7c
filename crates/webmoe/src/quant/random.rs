//! Random tensors in any supported format, for kernel tests: random quant bytes, with every
//! f16 scale field set to a finite value of a realistic size so no block decodes to Inf or NaN.

use crate::gguf::GgmlType;

/// A small xorshift generator: deterministic test data without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform()).collect()
    }
}

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

/// `n_values` random values of `ty` (a whole number of blocks), as the file would store them.
pub fn random_tensor_bytes(ty: GgmlType, n_values: usize, rng: &mut Rng) -> Vec<u8> {
    let (elems, block_bytes) = ty.block_geometry();
    let n_blocks = n_values / elems as usize;
    let mut out = Vec::with_capacity(n_blocks * block_bytes as usize);
    match ty {
        GgmlType::F32 => (0..n_values).for_each(|_| out.extend_from_slice(&rng.uniform().to_le_bytes())),
        GgmlType::F16 => (0..n_values).for_each(|_| out.extend_from_slice(&half::f16::from_f32(rng.uniform()).to_le_bytes())),
        GgmlType::BF16 => (0..n_values).for_each(|_| out.extend_from_slice(&half::bf16::from_f32(rng.uniform()).to_le_bytes())),
        _ => {
            for _ in 0..n_blocks {
                let mut block: Vec<u8> = (0..block_bytes).map(|_| rng.next_u64() as u8).collect();
                for &at in scale_fields(ty) {
                    // Scales about 1/16 keep dot products of a few hundred values near 1.
                    let d = half::f16::from_f32(rng.uniform() / 16.0);
                    block[at..at + 2].copy_from_slice(&d.to_le_bytes());
                }
                out.extend_from_slice(&block);
            }
        }
    }
    out
}
