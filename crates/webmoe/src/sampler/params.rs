//! The sampling options, their defaults and their checks.

use crate::Error;

/// The longest repetition-penalty window: the GPU sampler's history ring holds this many ids,
/// and each invocation compares an id with up to this many others to count it once.
pub const MAX_REPEAT_LAST_N: u32 = 256;

/// The most top log-probabilities one token reports (the OpenAI API's limit).
pub const MAX_TOP_LOGPROBS: u32 = 20;

/// The most token ids a logit bias may list.
pub const MAX_LOGIT_BIAS: usize = 1024;

/// How the next token is chosen (see the [module documentation](super) for the exact definition).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingParams {
    /// Divides the kept logits before the draw; 0 means greedy (argmax, lowest id on ties).
    pub temperature: f32,
    /// Keep only the k largest logits; `None` disables top-k.
    pub top_k: Option<u32>,
    /// Keep the smallest set of most likely tokens whose probability reaches this; 1 disables it.
    pub top_p: f32,
    /// Keep tokens at least this fraction as likely as the most likely one; 0 disables it.
    pub min_p: f32,
    /// Divides positive and multiplies other logits of recently seen tokens; 1 disables it.
    pub repeat_penalty: f32,
    /// How many of the most recent history ids (prompt included) the penalties look at.
    pub repeat_last_n: u32,
    /// Subtracted from the logit of an id once per occurrence in the penalty window; 0 disables it.
    pub frequency_penalty: f32,
    /// Subtracted from the logit of every id in the penalty window; 0 disables it.
    pub presence_penalty: f32,
    /// Report the chosen id's log-probability and those of this many most likely ids (≤
    /// [`MAX_TOP_LOGPROBS`]); `None` reports nothing.
    pub logprobs: Option<u32>,
    /// Seed of the random stream; with the step index it fixes every draw.
    pub seed: u64,
}

impl Default for SamplingParams {
    /// llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no repetition
    /// penalty (1.0) over a 64-token window, no frequency or presence penalty, seed 0.
    fn default() -> Self {
        SamplingParams {
            temperature: 0.8,
            top_k: Some(40),
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            logprobs: None,
            seed: 0,
        }
    }
}

impl SamplingParams {
    /// Always the most likely token: temperature 0 and every filter and the penalty off.
    pub fn greedy() -> Self {
        SamplingParams { temperature: 0.0, top_k: None, top_p: 1.0, min_p: 0.0, repeat_penalty: 1.0, ..Self::default() }
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Refuses values outside the ranges the sampler is defined for, naming the option, the
    /// value and the allowed range.
    pub fn validate(&self) -> Result<(), Error> {
        let refuse = |option: &str, value: String, why: &str| {
            Err(Error::InvalidOption { option: option.into(), value, why: why.into() })
        };
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return refuse(
                "temperature",
                self.temperature.to_string(),
                "use a finite value ≥ 0 (0 picks the most likely token)",
            );
        }
        if self.top_k == Some(0) {
            return refuse("top_k", "0".into(), "use at least 1, or leave it unset to disable top-k");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return refuse("top_p", self.top_p.to_string(), "use a value in (0, 1] (1 disables top-p)");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return refuse("min_p", self.min_p.to_string(), "use a value in [0, 1] (0 disables min-p)");
        }
        if !(self.repeat_penalty.is_finite() && self.repeat_penalty > 0.0) {
            return refuse(
                "repeat_penalty",
                self.repeat_penalty.to_string(),
                "use a finite value > 0 (1 disables the penalty)",
            );
        }
        for (option, value) in [("frequency_penalty", self.frequency_penalty), ("presence_penalty", self.presence_penalty)] {
            if !(-2.0..=2.0).contains(&value) {
                return refuse(option, value.to_string(), "use a value in [-2, 2] (0 disables it)");
            }
        }
        if let Some(n) = self.logprobs.filter(|&n| n > MAX_TOP_LOGPROBS) {
            return refuse("top_logprobs", n.to_string(), &format!("use a value in [0, {MAX_TOP_LOGPROBS}]"));
        }
        if self.repeat_last_n > MAX_REPEAT_LAST_N {
            return refuse(
                "repeat_last_n",
                self.repeat_last_n.to_string(),
                &format!(
                    "use a value in [0, {MAX_REPEAT_LAST_N}] (the sampler keeps the last {MAX_REPEAT_LAST_N} ids)"
                ),
            );
        }
        Ok(())
    }

    /// The factor of positive penalised logits, `1/penalty` rounded once, shared by the CPU
    /// reference and the kernel so both round alike.
    pub fn inverse_penalty(&self) -> f32 {
        1.0 / self.repeat_penalty
    }

    /// The factor of kept logits before the softmax of the draw, `1/T`, capped at the largest
    /// f32 so that a tiny temperature gives weights 1 (for the maximum) and 0, never NaN.
    pub fn inverse_temperature(&self) -> f32 {
        (1.0 / self.temperature).min(f32::MAX)
    }

    /// `ln(min_p)`: min-p keeps the logits `≥ max + ln(min_p)`. Meaningful when `min_p > 0`.
    pub fn log_min_p(&self) -> f32 {
        self.min_p.ln()
    }

    /// Whether the penalties change anything.
    pub fn penalises(&self) -> bool {
        let any = self.repeat_penalty != 1.0 || self.frequency_penalty != 0.0 || self.presence_penalty != 0.0;
        any && self.repeat_last_n > 0
    }
}
