//! Choosing the next token from a row of logits: greedy, or a seeded draw after a token mask, a
//! logit bias, repetition, frequency and presence penalties, top-k, top-p, min-p and temperature
//! (llama.cpp's default order); and the log-probabilities of the choice.
//!
//! The GPU kernel (shaders/sample.wgsl, launched by [`crate::kernels::sample`]) and the plain
//! CPU reference [`sample_cpu`] implement the same definition:
//!
//! 0. **Token mask and logit bias.** When a mask is set (structured output, see
//!    [`crate::constraint`]), every id it does not allow gets the logit `−∞`, so no later step
//!    can choose it. Then each listed id's logit gets its bias added (the OpenAI API's
//!    `logit_bias`).
//! 1. **Penalties.** For each *distinct* id among the last `repeat_last_n` ids of the history
//!    (prompt included) that is inside the vocabulary, seen `c` times there: a logit `l > 0`
//!    becomes `l · (1/penalty)`, any other `l · penalty`, and then
//!    `− c · frequency_penalty − presence_penalty`. The reciprocal is rounded once to f32 on the
//!    CPU so both sides multiply by the same number.
//! 2. **Greedy.** With `temperature == 0` the choice is the lowest id of the largest (penalised)
//!    logit; steps 3–5 do not apply.
//! 3. **Thresholds on the logit value**, each keeping ties with its boundary value:
//!    - top-k keeps the logits `≥` the k-th largest logit (all of them when k is unset or ≥ vocab);
//!    - top-p weighs what top-k kept by `exp(l − max)` (softmax at temperature 1) and keeps the
//!      logits `≥` the largest value `t` whose mass `Σ_{kept, l ≥ t} p` reaches `top_p`: the
//!      smallest set of most likely tokens holding `top_p` of the probability (off at `top_p = 1`);
//!    - min-p keeps the logits `≥ max + ln(min_p)`, i.e. `p ≥ min_p · p_max` (off at `min_p = 0`).
//!
//!    The largest logit always survives, so the kept set is never empty.
//! 4. **Temperature.** Kept token `i` weighs `w_i = exp((l_i − max) · (1/T))`; `p_i = w_i / Σ w`.
//! 5. **Draw.** `u = random_uniform(seed, step)` ∈ [0, 1) (24 random bits from a counter-based
//!    hash, the same function in Rust and WGSL); the choice is the first kept id, in index order,
//!    whose cumulative probability exceeds `u` (the last kept id when rounding leaves the total at
//!    or below `u`). The same seed and step give the same token, so seeded generation is
//!    reproducible; the engine advances `step` once per generated token.
//!
//! 6. **Log-probabilities** (when asked for): `l − ln Σ exp(l)` over the logits after steps 0–1,
//!    i.e. the model's distribution after mask, bias and penalties at temperature 1, before the filters
//!    of step 3 — for the chosen id and for the `logprobs` largest logits.
//!
//! Logits must be finite or `−∞` (masked tokens), with at least one finite value.

mod params;
mod random;
mod reference;
#[cfg(test)]
mod tests;

pub use params::{SamplingParams, MAX_LOGIT_BIAS, MAX_REPEAT_LAST_N, MAX_TOP_LOGPROBS};
pub use random::{random_bits, random_uniform};
pub use reference::{
    kept_distribution, logprobs_cpu, penalised_logits, sample_cpu, with_logit_bias, with_token_mask, Distribution,
    TokenLogprobs,
};
