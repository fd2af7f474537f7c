//! shaders/sample.wgsl on the test device against `crate::sampler::sample_cpu`.

use super::*;
use crate::kernels::testing::*;
use crate::kernels::Step;
use crate::synthetic::Rng;
use crate::sampler::{
    kept_distribution, logprobs_cpu, penalised_logits, random_uniform, sample_cpu, with_logit_bias, with_token_mask,
    MAX_LOGIT_BIAS, MAX_REPEAT_LAST_N,
};

const VOCAB_SIZES: [usize; 5] = [1, 7, 300, 32000, 49152];

/// What one run of the kernel left behind.
struct GpuRun {
    token: u32,
    ring: Vec<u32>,
    logits: Vec<f32>,
}

/// One kernel run on fresh buffers; `history` is every id received so far, oldest first.
fn sample_gpu(logits: &[f32], params: &SamplingParams, history: &[u32], step: u32, capacity: u32) -> GpuRun {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let (lb, hb, tb) =
        (f32_buffer(gpu, logits), u32_buffer(gpu, &history_ring(history, capacity)), u32_buffer(gpu, &[u32::MAX]));
    let kernel = SampleKernel::new(gpu, &env, &lb, &hb, &tb, logits.len() as u32, params).unwrap();
    run(
        gpu,
        &env,
        Step { pos0: 0, n_tokens: 1, sample_step: step, n_history: history.len() as u32 },
        std::slice::from_ref(&kernel.dispatch),
    );
    GpuRun { token: read_u32(gpu, &tb)[0], ring: read_u32(gpu, &hb), logits: read_f32(gpu, &lb) }
}

/// Logits spread like a language model's: a flat body, and (when `peaked`) a few ids far above it.
fn random_logits(n: usize, peaked: bool, rng: &mut Rng) -> Vec<f32> {
    let mut logits: Vec<f32> = rng.vec(n).iter().map(|v| 3.0 * v).collect();
    if peaked {
        for _ in 0..8 {
            let id = rng.below(n as u64) as usize;
            logits[id] += 6.0 + 4.0 * rng.uniform().abs();
        }
    }
    logits
}

/// 100 ids with many repeats, ids near the top of the logits among them, and (for small
/// vocabularies) ids outside the vocabulary.
fn random_history(logits: &[f32], rng: &mut Rng) -> Vec<u32> {
    let mut by_value: Vec<u32> = (0..logits.len() as u32).collect();
    by_value.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
    let top = &by_value[..by_value.len().min(4)];
    let mut history = Vec::with_capacity(100);
    for i in 0..100 {
        let id = if i % 3 == 0 { top[rng.below(top.len() as u64) as usize] } else { rng.below(50) as u32 };
        history.push(id);
    }
    history
}

fn off() -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: None,
        top_p: 1.0,
        min_p: 0.0,
        repeat_penalty: 1.0,
        ..SamplingParams::default()
    }
}

fn parameter_sets() -> Vec<(&'static str, SamplingParams)> {
    vec![
        ("temperature 0.7", SamplingParams { temperature: 0.7, ..off() }),
        ("temperature 1.5", SamplingParams { temperature: 1.5, ..off() }),
        ("top-k 1", SamplingParams { top_k: Some(1), ..off() }),
        ("top-k 5", SamplingParams { top_k: Some(5), ..off() }),
        ("top-k 40", SamplingParams { top_k: Some(40), ..off() }),
        ("top-p 0.1", SamplingParams { top_p: 0.1, ..off() }),
        ("top-p 0.9", SamplingParams { top_p: 0.9, ..off() }),
        ("min-p 0.05", SamplingParams { min_p: 0.05, ..off() }),
        ("min-p 0.3", SamplingParams { min_p: 0.3, ..off() }),
        ("all combined", SamplingParams::default()),
        (
            "all combined, penalty 1.3",
            SamplingParams { repeat_penalty: 1.3, repeat_last_n: 64, ..SamplingParams::default() },
        ),
        ("temperature 1, penalty 0.7 over 32", SamplingParams { repeat_penalty: 0.7, repeat_last_n: 32, ..off() }),
    ]
}

/// Draws where the GPU chose differently from the CPU, by the reason that explains it.
#[derive(Default, Debug)]
struct Tally {
    draws: usize,
    /// u within 1e-5 of a cumulative-probability boundary of the CPU's kept distribution.
    near_boundary: usize,
    /// The CPU chooses the GPU's id once top_p moves by 1e-5: the top-p mass sat on its target
    /// closer than f32 sums can tell.
    top_p_edge: usize,
}

impl Tally {
    /// Compare one GPU draw with the CPU reference; panic unless they agree or one of the
    /// explained reasons holds.
    fn check(&mut self, label: &str, logits: &[f32], params: &SamplingParams, history: &[u32], step: u32) {
        self.draws += 1;
        let got = sample_gpu(logits, params, history, step, MAX_REPEAT_LAST_N).token;
        let want = sample_cpu(logits, params, history, step);
        if got == want {
            return;
        }
        let u = random_uniform(params.seed, step) as f64;
        assert!(!params.is_greedy(), "{label}: greedy GPU {got}, CPU {want}");
        let distribution = kept_distribution(logits, params, history);
        if distribution.cumulative().iter().any(|c| (c - u).abs() < 1e-5) {
            self.near_boundary += 1;
            return;
        }
        let with_top_p =
            |top_p: f32| sample_cpu(logits, &SamplingParams { top_p: top_p.min(1.0), ..*params }, history, step);
        if params.top_p < 1.0 && (with_top_p(params.top_p - 1e-5) == got || with_top_p(params.top_p + 1e-5) == got) {
            self.top_p_edge += 1;
            return;
        }
        panic!(
            "{label}, n_vocab {}, seed {}, step {step}: GPU drew {got}, CPU {want}; u = {u} is not within 1e-5 of a \
             boundary of the CPU's cumulative distribution and top_p ± 1e-5 does not explain it",
            logits.len(),
            params.seed
        );
    }
}

#[test]
fn greedy_is_the_first_argmax() {
    let mut rng = Rng::new(31);
    for n in VOCAB_SIZES {
        for penalty in [1.0, 1.5] {
            let mut logits = random_logits(n, true, &mut rng);
            let best = rng.below(n as u64) as usize;
            logits[best] = 100.0;
            // A tie later in the vocabulary must not win.
            if best + 1 < n {
                logits[n - 1] = 100.0;
            }
            let history = random_history(&logits, &mut rng);
            let params = SamplingParams { repeat_penalty: penalty, repeat_last_n: 64, ..SamplingParams::greedy() };
            let got = sample_gpu(&logits, &params, &history, 0, MAX_REPEAT_LAST_N).token;
            let want = sample_cpu(&logits, &params, &history, 0);
            assert_eq!(got, want, "n_vocab {n}, penalty {penalty}: GPU {got}, CPU {want}");
            if penalty == 1.0 {
                assert_eq!(want as usize, best, "n_vocab {n}: the CPU reference missed the first maximum");
            }
        }
    }
}

#[test]
fn draws_match_the_cpu_reference() {
    let mut rng = Rng::new(32);
    let mut tally = Tally::default();
    for n in VOCAB_SIZES {
        for (s, seed) in [0u64, 0xDEAD_BEEF_0000_0001].into_iter().enumerate() {
            let logits = random_logits(n, s == 1, &mut rng);
            let history = random_history(&logits, &mut rng);
            for (label, params) in parameter_sets() {
                let params = SamplingParams { seed, ..params };
                for step in [0, 1, 977] {
                    tally.check(label, &logits, &params, &history, step);
                }
            }
        }
    }
    eprintln!("sampler draws: {tally:?}");
    let explained = tally.near_boundary + tally.top_p_edge;
    assert!(
        explained * 50 <= tally.draws,
        "{explained} of {} draws differ from the CPU (only explained cases): too many",
        tally.draws
    );
}

#[test]
fn top_k_draws_stay_among_the_k_best() {
    let mut rng = Rng::new(33);
    for n in [300usize, 32000] {
        // Distinct logits, flat enough that all five best are drawn.
        let mut logits: Vec<f32> = (0..n).map(|i| i as f32 * 1e-3).collect();
        for i in (1..n).rev() {
            logits.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut best: Vec<u32> = (0..n as u32).collect();
        best.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
        best.truncate(5);
        let params = SamplingParams { top_k: Some(5), seed: 9, ..off() };
        let mut seen = vec![0usize; 5];
        for step in 0..200 {
            let got = sample_gpu(&logits, &params, &[], step, MAX_REPEAT_LAST_N).token;
            let rank = best.iter().position(|&id| id == got);
            assert!(rank.is_some(), "n_vocab {n}, step {step}: drew {got}, outside the 5 best {best:?}");
            seen[rank.unwrap_or(0)] += 1;
        }
        assert!(
            seen.iter().all(|&c| c > 10),
            "n_vocab {n}: draws per rank {seen:?} are far from uniform over the 5 best"
        );
    }
}

#[test]
fn the_same_seed_and_step_give_the_same_token() {
    let mut rng = Rng::new(34);
    let logits = random_logits(32000, false, &mut rng);
    let params = SamplingParams { seed: 1234, ..SamplingParams::default() };
    let mut distinct = std::collections::BTreeSet::new();
    for step in 0..8 {
        let first = sample_gpu(&logits, &params, &[], step, MAX_REPEAT_LAST_N).token;
        let again = sample_gpu(&logits, &params, &[], step, MAX_REPEAT_LAST_N).token;
        assert_eq!(first, again, "step {step}: the same seed and step drew {first}, then {again}");
        distinct.insert(first);
    }
    assert!(distinct.len() > 1, "8 steps all drew {distinct:?}: the step does not move the random stream");
}

#[test]
fn the_penalty_is_applied_in_place_once_per_distinct_id() {
    let mut rng = Rng::new(35);
    let capacity = 16;
    let logits = random_logits(300, true, &mut rng);
    // 40 ids with repeats, so the ring has wrapped; one id past the vocabulary.
    let mut history: Vec<u32> = (0..40).map(|_| rng.below(12) as u32).collect();
    history[37] = 5000;
    for (penalty, last_n) in [(1.4, 10), (0.6, 16), (2.0, 1)] {
        let params = SamplingParams { repeat_penalty: penalty, repeat_last_n: last_n, ..SamplingParams::greedy() };
        let got = sample_gpu(&logits, &params, &history, 0, capacity).logits;
        let want = penalised_logits(&logits, &params, &history);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "penalty {penalty} over {last_n}: logit {i}: GPU {g}, CPU {w}");
        }
    }
}

#[test]
fn the_choice_is_appended_to_the_history_ring() {
    let mut rng = Rng::new(36);
    let capacity = 16;
    let logits = random_logits(300, true, &mut rng);
    for count in [0usize, 5, 15, 16, 50] {
        let history: Vec<u32> = (0..count).map(|_| rng.below(300) as u32).collect();
        let params =
            SamplingParams { seed: count as u64, repeat_penalty: 1.2, repeat_last_n: 8, ..SamplingParams::default() };
        let run = sample_gpu(&logits, &params, &history, 3, capacity);
        let mut want = history_ring(&history, capacity);
        want[count % capacity as usize] = run.token;
        assert_eq!(run.ring, want, "after {count} ids: ring {:?}, want {want:?}", run.ring);
        assert_eq!(run.ring, history_ring(&[history.as_slice(), &[run.token]].concat(), capacity), "after {count} ids");
    }
}

#[test]
fn set_params_changes_the_recorded_dispatch() {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let mut rng = Rng::new(37);
    let logits = random_logits(300, false, &mut rng);
    let (lb, hb, tb) = (f32_buffer(gpu, &logits), u32_buffer(gpu, &[0; 64]), u32_buffer(gpu, &[u32::MAX]));
    let kernel = SampleKernel::new(gpu, &env, &lb, &hb, &tb, 300, &SamplingParams::greedy()).unwrap();
    let step = Step { pos0: 0, n_tokens: 1, sample_step: 5, n_history: 0 };
    run(gpu, &env, step, std::slice::from_ref(&kernel.dispatch));
    assert_eq!(read_u32(gpu, &tb)[0], sample_cpu(&logits, &SamplingParams::greedy(), &[], 5), "greedy, as created");
    let params =
        SamplingParams { temperature: 2.0, top_k: None, top_p: 1.0, min_p: 0.0, seed: 77, ..SamplingParams::default() };
    kernel.set_params(gpu, &params).unwrap();
    run(gpu, &env, step, std::slice::from_ref(&kernel.dispatch));
    assert_eq!(read_u32(gpu, &tb)[0], sample_cpu(&logits, &params, &[], 5), "after set_params");

    let too_long = SamplingParams { repeat_last_n: 65, ..params };
    assert!(
        matches!(kernel.set_params(gpu, &too_long), Err(Error::InvalidOption { option, .. }) if option == "repeat_last_n"),
        "a window longer than the 64-id ring must be refused"
    );
    let invalid = SamplingParams { top_p: 0.0, ..params };
    assert!(matches!(kernel.set_params(gpu, &invalid), Err(Error::InvalidOption { option, .. }) if option == "top_p"));
}

/// One kernel run with a logit bias; returns what it left and its output block.
fn sample_gpu_with(logits: &[f32], params: &SamplingParams, bias: &[(u32, f32)], history: &[u32], step: u32) -> (GpuRun, Vec<u32>) {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let capacity = MAX_REPEAT_LAST_N;
    let (lb, hb, tb) =
        (f32_buffer(gpu, logits), u32_buffer(gpu, &history_ring(history, capacity)), u32_buffer(gpu, &[u32::MAX]));
    let kernel = SampleKernel::new(gpu, &env, &lb, &hb, &tb, logits.len() as u32, params).unwrap();
    kernel.set_bias(gpu, bias).unwrap();
    run(
        gpu,
        &env,
        Step { pos0: 0, n_tokens: 1, sample_step: step, n_history: history.len() as u32 },
        std::slice::from_ref(&kernel.dispatch),
    );
    let output = read_u32(gpu, &kernel.output);
    (GpuRun { token: read_u32(gpu, &tb)[0], ring: read_u32(gpu, &hb), logits: read_f32(gpu, &lb) }, output)
}

/// Up to 20 ids with biases up to ±10, one of them (and an id listed twice) at −100.
fn random_bias(n: usize, rng: &mut Rng) -> Vec<(u32, f32)> {
    let mut bias: Vec<(u32, f32)> = (0..20.min(n)).map(|_| (rng.below(n as u64) as u32, 10.0 * rng.uniform())).collect();
    bias.push((bias[0].0, -50.0));
    bias[1].1 = -100.0;
    bias
}

#[test]
fn bias_and_frequency_and_presence_penalties_match_the_cpu() {
    let mut rng = Rng::new(38);
    for n in VOCAB_SIZES {
        let logits = random_logits(n, true, &mut rng);
        let history = random_history(&logits, &mut rng);
        let bias = random_bias(n, &mut rng);
        for (frequency, presence, repeat) in [(0.5, 0.0, 1.0), (0.0, 1.5, 1.0), (-0.7, 0.3, 1.2), (2.0, 2.0, 0.8)] {
            let params = SamplingParams {
                frequency_penalty: frequency,
                presence_penalty: presence,
                repeat_penalty: repeat,
                repeat_last_n: 64,
                ..SamplingParams::greedy()
            };
            let (got, output) = sample_gpu_with(&logits, &params, &bias, &history, 0);
            let want = penalised_logits(&with_logit_bias(&logits, &bias), &params, &history);
            for (i, (g, w)) in got.logits.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "n_vocab {n}, frequency {frequency}, presence {presence}, repeat {repeat}: logit {i}: GPU {g}, CPU {w}"
                );
            }
            let cpu = sample_cpu(&with_logit_bias(&logits, &bias), &params, &history, 0);
            assert_eq!((got.token, output[0]), (cpu, cpu), "n_vocab {n}, frequency {frequency}, presence {presence}");
        }
    }
}

#[test]
fn a_bias_of_minus_100_bans_and_plus_100_forces() {
    let mut rng = Rng::new(39);
    let logits = random_logits(32000, true, &mut rng);
    let best = sample_cpu(&logits, &SamplingParams::greedy(), &[], 0);
    let params = SamplingParams { temperature: 1.0, top_k: None, top_p: 1.0, min_p: 0.0, ..SamplingParams::default() };
    for step in 0..16 {
        let (banned, _) = sample_gpu_with(&logits, &SamplingParams::greedy(), &[(best, -100.0)], &[], step);
        assert_ne!(banned.token, best, "step {step}: the banned id {best} was chosen");
        let (forced, _) = sample_gpu_with(&logits, &SamplingParams { seed: step as u64, ..params }, &[(17, 100.0)], &[], step);
        assert_eq!(forced.token, 17, "step {step}: a +100 bias must win a draw at temperature 1");
    }
}

#[test]
fn logprobs_match_the_cpu() {
    let mut rng = Rng::new(40);
    for n in VOCAB_SIZES {
        let logits = random_logits(n, true, &mut rng);
        let history = random_history(&logits, &mut rng);
        for (label, top, params) in [
            ("greedy, top 5", 5, SamplingParams { logprobs: Some(5), ..SamplingParams::greedy() }),
            ("default sampling, top 20", 20, SamplingParams { logprobs: Some(20), seed: 3, ..SamplingParams::default() }),
            (
                "penalised, chosen only",
                0,
                SamplingParams { logprobs: Some(0), frequency_penalty: 0.4, repeat_last_n: 64, ..SamplingParams::default() },
            ),
        ] {
            let (got, output) = sample_gpu_with(&logits, &params, &[], &history, 7);
            let kernel_view = {
                let gpu = gpu();
                let env = KernelEnv::new(gpu);
                let (lb, hb, tb) = (f32_buffer(gpu, &logits), u32_buffer(gpu, &[0; MAX_REPEAT_LAST_N as usize]), u32_buffer(gpu, &[0]));
                let kernel = SampleKernel::new(gpu, &env, &lb, &hb, &tb, n as u32, &params).unwrap();
                let bytes: Vec<u8> = output.iter().flat_map(|w| w.to_le_bytes()).collect();
                assert_eq!(kernel.read_output(&bytes), got.token, "{label}: the output block's id");
                kernel.last_logprobs()
            };
            let Some(reported) = kernel_view else { panic!("{label}: logprobs were asked for") };
            let want = logprobs_cpu(&penalised_logits(&logits, &params, &history), got.token, top);
            let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * b.abs().max(1.0) || a == b;
            assert!(close(reported.logprob, want.logprob), "{label}, n_vocab {n}: chosen {} GPU {}, CPU {}", got.token, reported.logprob, want.logprob);
            let expected_count = (top as usize).min(n);
            assert_eq!(reported.top.len(), expected_count, "{label}, n_vocab {n}: top entries");
            for (r, ((gi, gl), (wi, wl))) in reported.top.iter().zip(&want.top).enumerate() {
                assert_eq!(gi, wi, "{label}, n_vocab {n}: rank {r}: GPU id {gi}, CPU id {wi}");
                assert!(close(*gl, *wl), "{label}, n_vocab {n}: rank {r}: GPU {gl}, CPU {wl}");
            }
        }
    }
}

#[test]
fn out_of_range_bias_is_refused_by_name() {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let (lb, hb, tb) = (f32_buffer(gpu, &[0.0; 300]), u32_buffer(gpu, &[0; MAX_REPEAT_LAST_N as usize]), u32_buffer(gpu, &[0]));
    let kernel = SampleKernel::new(gpu, &env, &lb, &hb, &tb, 300, &SamplingParams::greedy()).unwrap();
    let too_many: Vec<(u32, f32)> = (0..MAX_LOGIT_BIAS as u32 + 1).map(|i| (i % 300, 1.0)).collect();
    for bias in [vec![(300, 1.0)], vec![(3, 101.0)], vec![(3, f32::NAN)], vec![(3, 60.0), (3, 60.0)], too_many] {
        assert!(
            matches!(kernel.set_bias(gpu, &bias), Err(Error::InvalidOption { option, .. }) if option == "logit_bias"),
            "bias {:?}… must be refused",
            &bias[..1]
        );
    }
}

/// A mask allowing about one id in `one_in`, and at least one.
fn random_mask(n: usize, one_in: u64, rng: &mut Rng) -> Vec<u32> {
    let mut mask = vec![0u32; n.div_ceil(32)];
    for i in 0..n {
        if rng.below(one_in) == 0 {
            mask[i / 32] |= 1 << (i % 32);
        }
    }
    let always = rng.below(n as u64) as usize;
    mask[always / 32] |= 1 << (always % 32);
    mask
}

fn is_allowed(mask: &[u32], id: u32) -> bool {
    mask[id as usize / 32] >> (id % 32) & 1 == 1
}

#[test]
fn a_token_mask_leaves_only_allowed_ids_and_matches_the_cpu() {
    let mut rng = Rng::new(41);
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    for n in VOCAB_SIZES {
        let logits = random_logits(n, true, &mut rng);
        let history = random_history(&logits, &mut rng);
        for one_in in [3, 1000] {
            let mask = random_mask(n, one_in, &mut rng);
            let masked = with_token_mask(&logits, &mask);
            for (label, params) in parameter_sets().into_iter().chain([("greedy", SamplingParams::greedy())]) {
                let step = 5;
                let params = SamplingParams { seed: 11, ..params };
                let capacity = MAX_REPEAT_LAST_N;
                let (lb, hb, tb) =
                    (f32_buffer(gpu, &logits), u32_buffer(gpu, &history_ring(&history, capacity)), u32_buffer(gpu, &[u32::MAX]));
                let kernel = SampleKernel::new(gpu, &env, &lb, &hb, &tb, n as u32, &params).unwrap();
                kernel.set_mask(gpu, &mask).unwrap();
                let sample_step = Step { pos0: 0, n_tokens: 1, sample_step: step, n_history: history.len() as u32 };
                run(gpu, &env, sample_step, std::slice::from_ref(&kernel.dispatch));
                let got = read_u32(gpu, &tb)[0];
                let what = format!("{label}, n_vocab {n}, one id in {one_in}, step {step}");
                assert!(got < n as u32 && is_allowed(&mask, got), "{what}: drew {got}, which the mask forbids");
                let want = sample_cpu(&masked, &params, &history, step);
                let near_boundary = || {
                    let u = random_uniform(params.seed, step) as f64;
                    kept_distribution(&masked, &params, &history).cumulative().iter().any(|c| (c - u).abs() < 1e-5)
                };
                assert!(got == want || (!params.is_greedy() && near_boundary()), "{what}: GPU {got}, CPU {want}");
                let after = read_f32(gpu, &lb);
                let mut forbidden = (0..n as u32).filter(|&i| !is_allowed(&mask, i));
                assert!(forbidden.all(|i| after[i as usize] == f32::NEG_INFINITY), "{what}: forbidden logits are −∞");
            }
        }
    }
}

#[test]
fn clearing_the_mask_restores_every_id_and_bad_masks_are_refused() {
    let gpu = gpu();
    let env = KernelEnv::new(gpu);
    let mut rng = Rng::new(42);
    let n = 300;
    let logits = random_logits(n, true, &mut rng);
    let best = sample_cpu(&logits, &SamplingParams::greedy(), &[], 0);
    let only = (best + 1) % n as u32;
    let mut mask = vec![0u32; n.div_ceil(32)];
    mask[only as usize / 32] |= 1 << (only % 32);
    let (lb, hb, tb) = (f32_buffer(gpu, &logits), u32_buffer(gpu, &[0; 64]), u32_buffer(gpu, &[u32::MAX]));
    let kernel = SampleKernel::new(gpu, &env, &lb, &hb, &tb, n as u32, &SamplingParams::greedy()).unwrap();
    let step = Step { pos0: 0, n_tokens: 1, sample_step: 0, n_history: 0 };
    kernel.set_mask(gpu, &mask).unwrap();
    // Changing the sampling parameters keeps the mask.
    kernel.set_params(gpu, &SamplingParams { seed: 3, ..SamplingParams::default() }).unwrap();
    run(gpu, &env, step, std::slice::from_ref(&kernel.dispatch));
    assert_eq!(read_u32(gpu, &tb)[0], only, "the one allowed id");
    kernel.clear_mask(gpu);
    kernel.set_params(gpu, &SamplingParams::greedy()).unwrap();
    lb.write(gpu, 0, bytemuck::cast_slice(&logits));
    run(gpu, &env, step, std::slice::from_ref(&kernel.dispatch));
    assert_eq!(read_u32(gpu, &tb)[0], best, "every id again after clearing");
    assert!(!kernel.masks());

    let mut past_the_vocabulary = vec![0u32; n.div_ceil(32)];
    past_the_vocabulary[n / 32] = 1 << 31; // id 319: past 300
    for bad in [vec![0u32; n.div_ceil(32)], vec![u32::MAX; 3], past_the_vocabulary] {
        assert!(
            matches!(kernel.set_mask(gpu, &bad), Err(Error::InvalidOption { option, .. }) if option == "token mask"),
            "mask {bad:?} must be refused"
        );
    }
}
