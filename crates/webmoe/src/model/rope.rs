//! RoPE's angles: the frequency of each rotated pair, its file's frequency factors (Llama 3.1's
//! `rope_freqs.weight`) and, for contexts beyond the trained one, their scaling, as ggml_rope_ext
//! computes them (llama.cpp's rope scaling types).

use super::error::ModelError;

/// How a model scales RoPE's angles (`rope.scaling.type`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RopeScaling {
    None,
    /// Every angle divided by `factor`.
    Linear { factor: f32 },
    /// YaRN: pairs that turn fewer than `beta_slow` times over `original_context` positions are
    /// interpolated (angle ÷ factor), pairs that turn more than `beta_fast` times keep their
    /// angle, with a linear ramp between; cos and sin are scaled by 1 + 0.1 ln(factor), which
    /// scales the attention scores by its square (ggml's ext_factor 1, attn_factor 1).
    Yarn { factor: f32, original_context: usize, beta_fast: f32, beta_slow: f32 },
}

/// RoPE of a model: `dim` leading dims of each head rotated in `dim / 2` pairs, pair i at
/// `pos · theta^(−2i/dim) / freq_factors[i]` before scaling.
#[derive(Clone, Debug, PartialEq)]
pub struct Rope {
    pub dim: usize,
    pub theta: f32,
    pub scaling: RopeScaling,
    /// One factor per pair, each positive and finite ([`Rope::with_freq_factors`]); `None`: all 1.
    freq_factors: Option<Vec<f32>>,
}

impl Rope {
    /// RoPE without frequency factors.
    pub fn new(dim: usize, theta: f32, scaling: RopeScaling) -> Rope {
        Rope { dim, theta, scaling, freq_factors: None }
    }

    /// This RoPE with each pair's angle divided by its factor, as ggml_rope_ext's `freq_factors`
    /// divide them: `factors` are the values of tensor `name` (`rope_freqs.weight`), one per pair.
    /// Refused unless there are `dim / 2` of them, each a positive finite number (a zero would
    /// make an angle infinite, a negative one turn the pair backwards).
    pub fn with_freq_factors(self, name: &str, factors: Vec<f32>) -> Result<Rope, ModelError> {
        let pairs = self.dim / 2;
        if factors.len() != pairs {
            return Err(ModelError::WrongShape { name: name.into(), found: vec![factors.len() as u64], expected: vec![pairs as u64] });
        }
        if let Some((index, &value)) = factors.iter().enumerate().find(|(_, f)| !(f.is_finite() && **f > 0.0)) {
            let why = "each RoPE frequency factor divides a pair's angle, so it must be a positive number".into();
            return Err(ModelError::BadTensorValue { name: name.into(), index, value, why });
        }
        Ok(Rope { freq_factors: Some(factors), ..self })
    }

    /// (cos, sin) of pair `i` at position `pos`, YaRN's magnitude included. In f64: callers round
    /// once, because angles grow with the position. The frequency factor divides the angle before
    /// the scaling, which ramps by the pair's index whatever its factor (ggml_rope_cache_init).
    pub fn cos_sin(&self, pos: usize, i: usize) -> (f64, f64) {
        let freq_factor = self.freq_factors.as_ref().map_or(1.0, |f| f[i] as f64);
        let unscaled = pos as f64 * (self.theta as f64).powf(-2.0 * i as f64 / self.dim as f64) / freq_factor;
        let (angle, magnitude) = match self.scaling {
            RopeScaling::None => (unscaled, 1.0),
            RopeScaling::Linear { factor } => (unscaled / factor as f64, 1.0),
            RopeScaling::Yarn { factor, .. } => {
                let factor = factor as f64;
                let [low, high] = self.yarn_correction_dims();
                // ggml's rope_yarn_ramp: 1 for the pairs below the range, 0 above it.
                let keep = 1.0 - ((i as f64 - low) / (high - low).max(0.001)).clamp(0.0, 1.0);
                (unscaled / factor * (1.0 - keep) + unscaled * keep, 1.0 + 0.1 * factor.ln())
            }
        };
        (angle.cos() * magnitude, angle.sin() * magnitude)
    }

    /// ggml_rope_yarn_corr_dims: the pair range where YaRN ramps from keeping angles to
    /// interpolating them, `floor(d(beta_fast)) ..= ceil(d(beta_slow))` clamped to [0, dim − 1],
    /// with d(b) = dim · ln(original_context / (2π b)) / (2 ln theta), the pair that turns b
    /// times over the original context. Floored and ceiled as llama.cpp does (Hugging Face's
    /// gpt-oss config does not: `truncate = false`). [0, 0] without YaRN.
    pub fn yarn_correction_dims(&self) -> [f64; 2] {
        let RopeScaling::Yarn { original_context, beta_fast, beta_slow, .. } = self.scaling else { return [0.0, 0.0] };
        let dim = self.dim as f64;
        let d = |turns: f32| dim * (original_context as f64 / (2.0 * std::f64::consts::PI * turns as f64)).ln() / (2.0 * (self.theta as f64).ln());
        [d(beta_fast).floor().max(0.0), d(beta_slow).ceil().min(dim - 1.0)]
    }
}

impl RopeScaling {
    /// The scaling in words, for `webmoe inspect`; none without scaling.
    pub fn describe(&self) -> Option<String> {
        match *self {
            RopeScaling::None => None,
            RopeScaling::Linear { factor } => Some(format!("linear RoPE scaling ×{factor}")),
            RopeScaling::Yarn { factor, original_context, .. } => Some(format!("YaRN RoPE scaling ×{factor} of {original_context} positions")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gpt-oss's RoPE: head size 64, base 150000, YaRN ×32 of 4096 positions, betas 32 and 1.
    fn gpt_oss() -> Rope {
        Rope::new(64, 150_000.0, RopeScaling::Yarn { factor: 32.0, original_context: 4096, beta_fast: 32.0, beta_slow: 1.0 })
    }

    fn unscaled(rope: &Rope, pos: usize, i: usize) -> f64 {
        pos as f64 * (rope.theta as f64).powf(-2.0 * i as f64 / rope.dim as f64)
    }

    fn assert_near(what: &str, got: (f64, f64), want: (f64, f64)) {
        assert!((got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12, "{what}: {got:?} vs {want:?}");
    }

    #[test]
    fn yarn_correction_range_is_floored_and_ceiled_as_ggml_does() {
        // d(32) = 8.09 and d(1) = 17.40 (ARCHITECTURES.md of the oracle set); Hugging Face keeps
        // the fractions, ggml does not.
        assert_eq!(gpt_oss().yarn_correction_dims(), [8.0, 18.0]);
        // Clamped to the rotated dims: a short original context puts d(32) below 0.
        let short = Rope::new(200, 10_000.0, RopeScaling::Yarn { factor: 8.0, original_context: 16, beta_fast: 32.0, beta_slow: 1.0 });
        assert_eq!(short.yarn_correction_dims(), [0.0, 11.0]);
    }

    #[test]
    fn yarn_keeps_fast_pairs_interpolates_slow_ones_and_ramps_between() {
        let rope = gpt_oss();
        let magnitude = 1.0 + 0.1 * 32f64.ln();
        assert!((magnitude - 1.3466).abs() < 1e-4);
        let at = |angle: f64| (angle.cos() * magnitude, angle.sin() * magnitude);
        for pos in [0, 1, 7, 5000] {
            // Pairs up to the range's start turn as without scaling, from its end on 32× slower.
            for i in [0, 8] {
                assert_near(&format!("pos {pos} pair {i}"), rope.cos_sin(pos, i), at(unscaled(&rope, pos, i)));
            }
            for i in [18, 31] {
                assert_near(&format!("pos {pos} pair {i}"), rope.cos_sin(pos, i), at(unscaled(&rope, pos, i) / 32.0));
            }
            // Pair 13 is halfway: (13 − 8) / (18 − 8).
            let t = unscaled(&rope, pos, 13);
            assert_near(&format!("pos {pos} pair 13"), rope.cos_sin(pos, 13), at(0.5 * t / 32.0 + 0.5 * t));
        }
    }

    #[test]
    fn linear_scaling_divides_every_angle() {
        let plain = Rope::new(16, 10_000.0, RopeScaling::None);
        let linear = Rope::new(16, 10_000.0, RopeScaling::Linear { factor: 4.0 });
        for (pos, i) in [(0, 0), (3, 0), (12, 5), (100, 7)] {
            let t = unscaled(&plain, pos, i);
            assert_near("none", plain.cos_sin(pos, i), (t.cos(), t.sin()));
            assert_near("linear", linear.cos_sin(pos, i), ((t / 4.0).cos(), (t / 4.0).sin()));
        }
    }

    /// Llama 3.1-style factors for 8 pairs: fast pairs kept, a ramp, slow pairs ÷ 8.
    const FACTORS: [f32; 8] = [1.0, 1.0, 1.0, 1.5, 2.75, 5.0, 8.0, 8.0];

    fn with_factors(rope: Rope, factors: &[f32]) -> Rope {
        rope.with_freq_factors("rope_freqs.weight", factors.to_vec()).unwrap()
    }

    #[test]
    fn frequency_factors_divide_each_pairs_angle() {
        let plain = Rope::new(16, 500_000.0, RopeScaling::None);
        let rope = with_factors(plain.clone(), &FACTORS);
        for pos in [0, 1, 31, 9000] {
            for (i, &f) in FACTORS.iter().enumerate() {
                let t = unscaled(&plain, pos, i) / f as f64;
                assert_near(&format!("pos {pos} pair {i}"), rope.cos_sin(pos, i), (t.cos(), t.sin()));
            }
            // A factor of 1 leaves the pair as it is without factors.
            assert_eq!(rope.cos_sin(pos, 0), plain.cos_sin(pos, 0));
        }
    }

    #[test]
    fn linear_scaling_divides_the_angles_the_factors_divided() {
        let rope = with_factors(Rope::new(16, 500_000.0, RopeScaling::Linear { factor: 4.0 }), &FACTORS);
        for (pos, i) in [(3, 0), (12, 5), (100, 7), (9000, 3)] {
            let t = unscaled(&rope, pos, i) / FACTORS[i] as f64 / 4.0;
            assert_near(&format!("pos {pos} pair {i}"), rope.cos_sin(pos, i), (t.cos(), t.sin()));
        }
    }

    #[test]
    fn yarn_ramps_by_the_pairs_index_over_the_angles_the_factors_divided() {
        // ggml_rope_cache_init hands rope_yarn theta / ff: the factors slow the pairs first, then
        // YaRN keeps, interpolates or mixes the slowed angle by the pair's place in the range.
        let factors: Vec<f32> = (0..32).map(|i| 1.0 + i as f32 / 4.0).collect();
        let rope = with_factors(gpt_oss(), &factors);
        assert_eq!(rope.yarn_correction_dims(), gpt_oss().yarn_correction_dims());
        let magnitude = 1.0 + 0.1 * 32f64.ln();
        let at = |angle: f64| (angle.cos() * magnitude, angle.sin() * magnitude);
        let slowed = |pos: usize, i: usize| unscaled(&rope, pos, i) / factors[i] as f64;
        for pos in [1, 7, 5000] {
            for i in [0, 8] {
                assert_near(&format!("pos {pos} pair {i}"), rope.cos_sin(pos, i), at(slowed(pos, i)));
            }
            for i in [18, 31] {
                assert_near(&format!("pos {pos} pair {i}"), rope.cos_sin(pos, i), at(slowed(pos, i) / 32.0));
            }
            let t = slowed(pos, 13);
            assert_near(&format!("pos {pos} pair 13"), rope.cos_sin(pos, 13), at(0.5 * t / 32.0 + 0.5 * t));
        }
    }

    #[test]
    fn frequency_factors_must_be_one_positive_number_per_pair() {
        let rope = Rope::new(16, 500_000.0, RopeScaling::None);
        let refused = |factors: Vec<f32>| rope.clone().with_freq_factors("rope_freqs.weight", factors).unwrap_err();
        let e = refused(vec![1.0; 7]);
        assert_eq!(e, ModelError::WrongShape { name: "rope_freqs.weight".into(), found: vec![7], expected: vec![8] });
        for (index, bad) in [(0, 0.0), (3, -2.0), (5, f32::INFINITY), (7, f32::NAN)] {
            let mut factors = FACTORS.to_vec();
            factors[index] = bad;
            let e = refused(factors).to_string();
            assert!(e.contains("\"rope_freqs.weight\"") && e.contains(&format!("{bad} at index {index}")) && e.contains("positive"), "{e}");
        }
    }
}
