//! The options' checks, and the CPU reference's semantics on hand-made logits.

use super::*;
use crate::Error;

/// Sampling at temperature 1 with every filter and the penalty off.
fn plain() -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: None,
        top_p: 1.0,
        min_p: 0.0,
        repeat_penalty: 1.0,
        ..SamplingParams::default()
    }
}

/// Logits whose softmax is `probs`.
fn logits_of(probs: &[f64]) -> Vec<f32> {
    probs.iter().map(|p| p.ln() as f32).collect()
}

fn kept_ids(logits: &[f32], params: &SamplingParams) -> Vec<u32> {
    kept_distribution(logits, params, &[]).ids
}

#[test]
fn defaults_are_llama_cpp_s() {
    let d = SamplingParams::default();
    assert_eq!((d.temperature, d.top_k, d.top_p, d.min_p), (0.8, Some(40), 0.95, 0.05));
    assert_eq!((d.repeat_penalty, d.repeat_last_n, d.seed), (1.0, 64, 0));
    assert_eq!(d.validate(), Ok(()));
    assert_eq!(SamplingParams::greedy().validate(), Ok(()));
    assert!(SamplingParams::greedy().is_greedy() && !d.is_greedy());
}

#[test]
fn validate_accepts_the_edges_of_each_range() {
    for p in [
        SamplingParams { temperature: 0.0, ..plain() },
        SamplingParams { top_k: Some(1), ..plain() },
        SamplingParams { top_p: 1.0, ..plain() },
        SamplingParams { top_p: 1e-6, ..plain() },
        SamplingParams { min_p: 0.0, ..plain() },
        SamplingParams { min_p: 1.0, ..plain() },
        SamplingParams { repeat_penalty: 1e-3, ..plain() },
        SamplingParams { repeat_last_n: 0, ..plain() },
        SamplingParams { repeat_last_n: MAX_REPEAT_LAST_N, ..plain() },
    ] {
        assert_eq!(p.validate(), Ok(()), "{p:?}");
    }
}

#[test]
fn validate_names_the_option_the_value_and_the_range() {
    let cases = [
        (SamplingParams { temperature: -0.1, ..plain() }, "temperature", "-0.1", "≥ 0"),
        (SamplingParams { temperature: f32::NAN, ..plain() }, "temperature", "NaN", "≥ 0"),
        (SamplingParams { temperature: f32::INFINITY, ..plain() }, "temperature", "inf", "finite"),
        (SamplingParams { top_k: Some(0), ..plain() }, "top_k", "0", "leave it unset to disable top-k"),
        (SamplingParams { top_p: 0.0, ..plain() }, "top_p", "0", "(0, 1]"),
        (SamplingParams { top_p: 1.5, ..plain() }, "top_p", "1.5", "(0, 1]"),
        (SamplingParams { top_p: f32::NAN, ..plain() }, "top_p", "NaN", "(0, 1]"),
        (SamplingParams { min_p: -0.1, ..plain() }, "min_p", "-0.1", "[0, 1]"),
        (SamplingParams { min_p: 1.5, ..plain() }, "min_p", "1.5", "[0, 1]"),
        (SamplingParams { min_p: f32::NAN, ..plain() }, "min_p", "NaN", "[0, 1]"),
        (SamplingParams { repeat_penalty: 0.0, ..plain() }, "repeat_penalty", "0", "> 0"),
        (SamplingParams { repeat_penalty: -1.0, ..plain() }, "repeat_penalty", "-1", "> 0"),
        (SamplingParams { repeat_penalty: f32::INFINITY, ..plain() }, "repeat_penalty", "inf", "finite"),
        (SamplingParams { repeat_last_n: MAX_REPEAT_LAST_N + 1, ..plain() }, "repeat_last_n", "257", "[0, 256]"),
    ];
    for (params, option, value, range) in cases {
        match params.validate() {
            Err(Error::InvalidOption { option: o, value: v, why }) => {
                assert_eq!((o.as_str(), v.as_str()), (option, value), "{params:?}");
                assert!(
                    why.contains(range),
                    "{option} = {value}: the reason {why:?} does not give the range {range:?}"
                );
            }
            other => panic!("{option} = {value} was not refused: {other:?}"),
        }
    }
}

#[test]
fn greedy_takes_the_lowest_id_of_the_largest_logit() {
    let greedy = SamplingParams::greedy();
    assert_eq!(sample_cpu(&[1.0, 3.0, 3.0, 2.0], &greedy, &[], 0), 1);
    assert_eq!(sample_cpu(&[-5.0, f32::NEG_INFINITY, -4.0], &greedy, &[], 7), 2);
    // The penalty applies before the argmax: 3 / 2 < 2.
    let penalised = SamplingParams { repeat_penalty: 2.0, repeat_last_n: 4, ..greedy };
    assert_eq!(sample_cpu(&[1.0, 3.0, 3.0, 2.0], &penalised, &[1, 2], 0), 3);
}

#[test]
fn the_penalty_divides_positive_and_multiplies_other_logits_once_per_distinct_id() {
    let logits = [2.0, -2.0, 0.0, 1.0, 4.0];
    // Id 0 appears three times and is penalised once; id 9 is outside the vocabulary.
    let history = [0, 1, 2, 0, 0, 9];
    let params = SamplingParams { repeat_penalty: 2.0, repeat_last_n: 6, ..plain() };
    assert_eq!(penalised_logits(&logits, &params, &history), vec![1.0, -4.0, 0.0, 1.0, 4.0]);
    // Only the last two ids count.
    let short = SamplingParams { repeat_last_n: 2, ..params };
    assert_eq!(penalised_logits(&logits, &short, &history), vec![1.0, -2.0, 0.0, 1.0, 4.0]);
    // A penalty below 1 favours repeats.
    let favour = SamplingParams { repeat_penalty: 0.5, ..params };
    assert_eq!(penalised_logits(&logits, &favour, &history), vec![4.0, -1.0, 0.0, 1.0, 4.0]);
    let off = SamplingParams { repeat_last_n: 0, ..params };
    assert_eq!(penalised_logits(&logits, &off, &history), logits.to_vec());
}

#[test]
fn top_k_keeps_the_k_largest_and_their_ties() {
    let logits = [0.1, 0.5, 0.3, 0.9, 0.7];
    assert_eq!(kept_ids(&logits, &SamplingParams { top_k: Some(2), ..plain() }), vec![3, 4]);
    assert_eq!(kept_ids(&logits, &SamplingParams { top_k: Some(1), ..plain() }), vec![3]);
    assert_eq!(kept_ids(&logits, &SamplingParams { top_k: Some(5), ..plain() }), vec![0, 1, 2, 3, 4]);
    assert_eq!(kept_ids(&logits, &SamplingParams { top_k: Some(99), ..plain() }), vec![0, 1, 2, 3, 4]);
    let tied = [1.0, 2.0, 2.0, 0.0];
    assert_eq!(kept_ids(&tied, &SamplingParams { top_k: Some(1), ..plain() }), vec![1, 2]);
}

#[test]
fn top_p_keeps_the_smallest_most_likely_set_reaching_the_mass() {
    let logits = logits_of(&[0.05, 0.5, 0.15, 0.3]);
    for (top_p, want) in [(0.45, vec![1]), (0.6, vec![1, 3]), (0.85, vec![1, 2, 3]), (0.96, vec![0, 1, 2, 3])] {
        assert_eq!(kept_ids(&logits, &SamplingParams { top_p, ..plain() }), want, "top_p {top_p}");
    }
    let kept = kept_distribution(&logits, &SamplingParams { top_p: 0.6, ..plain() }, &[]);
    for (&p, want) in kept.probs.iter().zip([0.5 / 0.8, 0.3 / 0.8]) {
        assert!((p - want).abs() < 1e-6, "renormalised probability {p}, want {want}");
    }
}

#[test]
fn top_p_weighs_only_what_top_k_kept() {
    // Over the two kept, id 0 holds 0.4 / 0.7 ≈ 0.571 ≥ 0.55; over all four it would hold 0.4.
    let logits = logits_of(&[0.4, 0.3, 0.2, 0.1]);
    assert_eq!(kept_ids(&logits, &SamplingParams { top_k: Some(2), top_p: 0.55, ..plain() }), vec![0]);
    assert_eq!(kept_ids(&logits, &SamplingParams { top_p: 0.55, ..plain() }), vec![0, 1]);
}

#[test]
fn min_p_keeps_tokens_at_least_that_fraction_of_the_most_likely() {
    let logits = logits_of(&[0.05, 0.5, 0.15, 0.3]);
    assert_eq!(kept_ids(&logits, &SamplingParams { min_p: 0.2, ..plain() }), vec![1, 2, 3]);
    assert_eq!(kept_ids(&logits, &SamplingParams { min_p: 0.7, ..plain() }), vec![1]);
    assert_eq!(kept_ids(&logits, &SamplingParams { min_p: 1.0, ..plain() }), vec![1]);
}

#[test]
fn temperature_scales_the_softmax_and_masked_tokens_are_never_kept() {
    let logits = [1.0, f32::NEG_INFINITY, 2.0, 0.5];
    let t = 0.5;
    let kept = kept_distribution(&logits, &SamplingParams { temperature: t, ..plain() }, &[]);
    let weights: Vec<f64> = [1.0f64, 2.0, 0.5].iter().map(|l| ((l - 2.0) / t as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    assert_eq!(kept.ids, vec![0, 2, 3]);
    for (i, (&p, w)) in kept.probs.iter().zip(&weights).enumerate() {
        assert!((p - w / total).abs() < 1e-12, "kept {i}: probability {p}, want {}", w / total);
    }
}

#[test]
fn the_draw_takes_the_first_id_whose_cumulative_probability_exceeds_u() {
    let d = Distribution { ids: vec![2, 5, 7], probs: vec![0.25, 0.5, 0.25] };
    for (u, want) in [(0.0, 2), (0.2499, 2), (0.25, 5), (0.7499, 5), (0.75, 7), (0.99999994, 7)] {
        assert_eq!(d.draw(u), want, "u = {u}");
    }
    assert_eq!(d.cumulative(), vec![0.25, 0.75, 1.0]);
}

#[test]
fn seeded_draws_repeat_and_follow_the_probabilities() {
    let probs = [0.1, 0.6, 0.3];
    let logits = logits_of(&probs);
    let params = SamplingParams { seed: 42, ..plain() };
    let mut counts = [0usize; 3];
    let n = 20_000;
    for step in 0..n {
        let id = sample_cpu(&logits, &params, &[], step);
        assert_eq!(id, sample_cpu(&logits, &params, &[], step), "step {step}: the same seed and step drew differently");
        counts[id as usize] += 1;
    }
    for (i, (&c, &p)) in counts.iter().zip(&probs).enumerate() {
        let freq = c as f64 / n as f64;
        assert!((freq - p).abs() < 0.02, "id {i}: drawn {freq} of the time, probability {p}");
    }
}

#[test]
fn random_uniform_covers_zero_to_one_and_depends_on_every_input() {
    let n = 100_000;
    let values: Vec<f32> = (0..n).map(|step| random_uniform(7, step)).collect();
    assert!(values.iter().all(|&u| (0.0..1.0).contains(&u)), "a value fell outside [0, 1)");
    let mean = values.iter().map(|&u| u as f64).sum::<f64>() / n as f64;
    assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    assert_ne!(random_bits(0, 0), random_bits(1, 0), "the low seed word is ignored");
    assert_ne!(random_bits(0, 0), random_bits(1 << 32, 0), "the high seed word is ignored");
    assert_ne!(random_bits(0, 0), random_bits(0, 1), "the step is ignored");
}
