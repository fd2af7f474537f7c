//! The random stream of the sampler: a counter-based hash of (seed, step), so any draw can be
//! recomputed from its step index alone, on the CPU or in shaders/sample.wgsl (which holds the
//! same functions, word for word).

/// PCG-style integer hash of one 32-bit word (the output permutation of a PCG step applied to
/// one LCG step of the input).
fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// 32 random bits for draw `step` of the stream `seed`:
/// `pcg(pcg(pcg(seed_lo) ^ seed_hi) ^ step)`.
pub fn random_bits(seed: u64, step: u32) -> u32 {
    let (lo, hi) = (seed as u32, (seed >> 32) as u32);
    pcg_hash(pcg_hash(pcg_hash(lo) ^ hi) ^ step)
}

/// A uniform value in [0, 1) with 24 random bits (exact in f32): `(bits >> 8) / 2^24`.
pub fn random_uniform(seed: u64, step: u32) -> f32 {
    (random_bits(seed, step) >> 8) as f32 * (1.0 / 16_777_216.0)
}
