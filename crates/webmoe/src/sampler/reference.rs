//! The plain CPU sampler: sorts, and sums probabilities in f64. It is the definition the GPU
//! kernel is tested against, and a sampler for code that has the logits on the CPU.

use super::{random_uniform, SamplingParams};

/// The tokens a draw chooses among: the kept ids of nonzero weight in index order, and their
/// probabilities (f64, summing to 1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Distribution {
    pub ids: Vec<u32>,
    pub probs: Vec<f64>,
}

impl Distribution {
    /// The first id whose cumulative probability exceeds `u`; the last id when rounding leaves
    /// the total at or below `u`; 0 for an empty distribution.
    pub fn draw(&self, u: f32) -> u32 {
        let u = u as f64;
        let mut cumulative = 0.0;
        for (&id, &p) in self.ids.iter().zip(&self.probs) {
            cumulative += p;
            if cumulative > u {
                return id;
            }
        }
        self.ids.last().copied().unwrap_or(0)
    }

    /// The cumulative probability after each kept id, in index order: the draw's boundaries.
    pub fn cumulative(&self) -> Vec<f64> {
        self.probs
            .iter()
            .scan(0.0, |sum, &p| {
                *sum += p;
                Some(*sum)
            })
            .collect()
    }
}

/// The next token for `logits` (one row, n_vocab values) after `history` (every id so far,
/// prompt included), at draw index `step` of the stream `params.seed`. Expects validated
/// params; `top_k: Some(0)` acts as unset, as in the kernel.
pub fn sample_cpu(logits: &[f32], params: &SamplingParams, history: &[u32], step: u32) -> u32 {
    let penalised = penalised_logits(logits, params, history);
    if params.is_greedy() {
        return first_argmax(&penalised);
    }
    distribution_of(&penalised, params).draw(random_uniform(params.seed, step))
}

/// The distribution a non-greedy draw chooses from.
pub fn kept_distribution(logits: &[f32], params: &SamplingParams, history: &[u32]) -> Distribution {
    distribution_of(&penalised_logits(logits, params, history), params)
}

/// `logits` after the penalties over the distinct ids among the last `repeat_last_n` ids of
/// `history`: each such id, seen `c` times there, has its logit `l` replaced by
/// `(l > 0 ? l · (1/penalty) : l · penalty) − c · frequency − presence` (llama.cpp's order);
/// ids outside the vocabulary are ignored.
pub fn penalised_logits(logits: &[f32], params: &SamplingParams, history: &[u32]) -> Vec<f32> {
    let mut out = logits.to_vec();
    if !params.penalises() {
        return out;
    }
    let mut window = history[history.len().saturating_sub(params.repeat_last_n as usize)..].to_vec();
    window.sort_unstable();
    let (positive_factor, other_factor) = (params.inverse_penalty(), params.repeat_penalty);
    for run in window.chunk_by(|a, b| a == b) {
        if let Some(l) = out.get_mut(run[0] as usize) {
            let scaled = *l * if *l > 0.0 { positive_factor } else { other_factor };
            *l = scaled - run.len() as f32 * params.frequency_penalty - params.presence_penalty;
        }
    }
    out
}

/// `logits` with `−∞` for every id `mask` does not allow (bit `i % 32` of word `i / 32` allows
/// id i; ids past the mask are not allowed): the first step of the GPU sampler when it masks.
pub fn with_token_mask(logits: &[f32], mask: &[u32]) -> Vec<f32> {
    let allowed = |i: usize| mask.get(i / 32).is_some_and(|w| w >> (i % 32) & 1 == 1);
    logits.iter().enumerate().map(|(i, &l)| if allowed(i) { l } else { f32::NEG_INFINITY }).collect()
}

/// `logits` with `bias` added to the logits of its ids (ids outside the vocabulary ignored):
/// the first step of the GPU sampler, before the penalties.
pub fn with_logit_bias(logits: &[f32], bias: &[(u32, f32)]) -> Vec<f32> {
    let mut out = logits.to_vec();
    for &(id, b) in bias {
        if let Some(l) = out.get_mut(id as usize) {
            *l += b;
        }
    }
    out
}

/// The log-probabilities the sampler reports for choosing `chosen` from `penalised` logits
/// (after bias and penalties): log-softmax at temperature 1, for `chosen` and for the `top`
/// largest logits (lowest id first on ties).
pub fn logprobs_cpu(penalised: &[f32], chosen: u32, top: u32) -> TokenLogprobs {
    let max = penalised.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max as f64 + penalised.iter().map(|&l| ((l - max) as f64).exp()).sum::<f64>().ln();
    let mut order: Vec<u32> = (0..penalised.len() as u32).collect();
    order.sort_by(|&a, &b| penalised[b as usize].total_cmp(&penalised[a as usize]).then(a.cmp(&b)));
    let logprob = |id: u32| (penalised[id as usize] as f64 - lse) as f32;
    TokenLogprobs {
        logprob: penalised.get(chosen as usize).map_or(f32::NEG_INFINITY, |_| logprob(chosen)),
        top: order.into_iter().take(top as usize).map(|id| (id, logprob(id))).collect(),
    }
}

/// What the sampler reports about one choice when log-probabilities are asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenLogprobs {
    /// The chosen id's log-probability.
    pub logprob: f32,
    /// The most likely ids and their log-probabilities, most likely first.
    pub top: Vec<(u32, f32)>,
}

/// The lowest index of the largest value; 0 for an empty slice.
fn first_argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Steps 3–4 of the definition over penalised logits.
fn distribution_of(logits: &[f32], params: &SamplingParams) -> Distribution {
    let Some(max) = logits.iter().copied().reduce(f32::max) else {
        return Distribution::default();
    };
    let threshold = keep_threshold(logits, max, params);
    let inverse_temperature = params.inverse_temperature();
    let (mut ids, mut weights) = (Vec::new(), Vec::new());
    for (i, &l) in logits.iter().enumerate() {
        let weight = (((l - max) * inverse_temperature) as f64).exp();
        if l >= threshold && weight > 0.0 {
            ids.push(i as u32);
            weights.push(weight);
        }
    }
    let total: f64 = weights.iter().sum();
    Distribution { ids, probs: weights.iter().map(|w| w / total).collect() }
}

/// The smallest logit value the draw keeps: the largest of the top-k, top-p and min-p
/// thresholds (each `−∞` when its filter is off).
fn keep_threshold(logits: &[f32], max: f32, params: &SamplingParams) -> f32 {
    let mut descending = logits.to_vec();
    descending.sort_unstable_by(|a, b| b.total_cmp(a));
    let mut threshold = f32::NEG_INFINITY;
    if let Some(k) = params.top_k.filter(|&k| k > 0 && (k as usize) < logits.len()) {
        threshold = descending[k as usize - 1];
    }
    if params.top_p < 1.0 {
        let kept = &descending[..descending.iter().take_while(|&&v| v >= threshold).count()];
        let weights: Vec<f64> = kept.iter().map(|&v| ((v - max) as f64).exp()).collect();
        let target = params.top_p as f64 * weights.iter().sum::<f64>();
        let mut mass = 0.0;
        for (&v, w) in kept.iter().zip(&weights) {
            mass += w;
            if mass >= target {
                threshold = v;
                break;
            }
        }
    }
    if params.min_p > 0.0 {
        threshold = threshold.max(max + params.log_min_p());
    }
    threshold
}
