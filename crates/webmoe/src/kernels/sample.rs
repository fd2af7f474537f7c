//! The sampler on the GPU (shaders/sample.wgsl): token mask, logit bias, repetition, frequency
//! and presence penalties, top-k, top-p, min-p, temperature and a seeded draw, or the argmax, over
//! one row of logits, as defined in [`crate::sampler`]. The choice goes to `tokens[0]`, to the history ring
//! and to the kernel's output block, so generation reads back one small block per token (the id,
//! and the log-probabilities when asked for) and neither the logits nor the penalty window leave
//! the GPU.
//!
//! The history ring is a storage buffer of `capacity` u32 (its length decides the capacity).
//! The id received at index r (counting prompt ids from 0) lives at `r % capacity`;
//! [`history_ring`] lays out ids that way for an upload. Each submit's `Step::n_history` must
//! say how many ids the history has received before it, and `Step::sample_step` is the draw
//! index that selects the random number.

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};
use crate::sampler::{SamplingParams, TokenLogprobs, MAX_LOGIT_BIAS, MAX_TOP_LOGPROBS};
use crate::Error;
use std::cell::{Cell, RefCell};

/// Bytes of the output block: the id, its log-probability, the count of top entries and
/// [`MAX_TOP_LOGPROBS`] (id, log-probability) pairs, padded to 16 bytes.
pub const OUTPUT_BYTES: u64 = ((3 + 2 * MAX_TOP_LOGPROBS as u64) * 4).div_ceil(16) * 16;

/// `Params` of shaders/sample.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n_vocab: u32,
    capacity: u32,
    last_n: u32,
    top_k: u32,
    penalty: f32,
    inv_penalty: f32,
    top_p: f32,
    log_min_p: f32,
    inv_temperature: f32,
    greedy: u32,
    use_min_p: u32,
    seed_lo: u32,
    seed_hi: u32,
    frequency: f32,
    presence: f32,
    n_bias: u32,
    want_logprobs: u32,
    top_logprobs: u32,
    use_mask: u32,
    /// −∞, the logit of ids the mask forbids (WGSL has no infinite constants).
    masked_logit: f32,
    _pad: u32,
}

/// The recorded sampler dispatch and its parameter block. The dispatch is recorded once;
/// [`SampleKernel::set_params`] rewrites the block for the next generation.
pub struct SampleKernel {
    pub dispatch: Dispatch,
    /// (OUTPUT_BYTES) u32: what a submit copies for the CPU to read (see shaders/sample.wgsl).
    pub output: StorageBuffer,
    params: UniformBuffer,
    /// (MAX_LOGIT_BIAS, 2) u32: token id and f32 bits of its bias.
    bias: StorageBuffer,
    /// (n_vocab.div_ceil(32)) u32: bit `i % 32` of word `i / 32` set when id i may be chosen.
    mask: StorageBuffer,
    /// The block last written, so that the bias, the mask and the sampling parameters change
    /// separately.
    block: Cell<Params>,
    /// The log-probabilities of the last output block read, when they were asked for.
    last: RefCell<Option<TokenLogprobs>>,
    n_vocab: u32,
    capacity: u32,
}

impl SampleKernel {
    /// Binds the step block, `logits` ((n_vocab) f32, penalised in place), `history` (the ring;
    /// capacity = its length in u32, at least `params.repeat_last_n`) and `tokens`
    /// (`tokens[0]` ← the choice).
    pub fn new(
        gpu: &Gpu,
        env: &KernelEnv,
        logits: &StorageBuffer,
        history: &StorageBuffer,
        tokens: &StorageBuffer,
        n_vocab: u32,
        params: &SamplingParams,
    ) -> Result<SampleKernel, Error> {
        let capacity = (history.len / 4) as u32;
        if capacity == 0 {
            return Err(
                GpuError::Operation { message: "the sampler's history ring must hold at least one id".into() }.into()
            );
        }
        let block = uniform_block(params, n_vocab, capacity)?;
        let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::Sample))?;
        let uniform = UniformBuffer::new(gpu, "sample params", &block);
        let bias = StorageBuffer::with_data(gpu, "logit bias", &vec![0; MAX_LOGIT_BIAS * 8]);
        let mask = StorageBuffer::with_data(gpu, "token mask", &vec![0; mask_words(n_vocab) * 4]);
        let output = StorageBuffer::with_data(gpu, "sample output", &vec![0; OUTPUT_BYTES as usize]);
        let bind_group = gpu.bind_group(
            "sample",
            &pipeline,
            &[
                env.step.binding(),
                uniform.binding(),
                logits.binding(),
                history.binding(),
                tokens.binding(),
                bias.binding(),
                output.binding(),
                mask.binding(),
            ],
        );
        let dispatch = Dispatch { label: "sample".into(), slots: None, pipeline, bind_group, grid: Grid::Fixed([1, 1, 1]) };
        let last = RefCell::new(None);
        Ok(SampleKernel { dispatch, output, params: uniform, bias, mask, block: Cell::new(block), last, n_vocab, capacity })
    }

    /// Use `params` from the next submit on; refuses invalid params and a penalty window longer
    /// than the ring. The logit bias and the token mask stay as set.
    pub fn set_params(&self, gpu: &Gpu, params: &SamplingParams) -> Result<(), Error> {
        let old = self.block.get();
        let block = Params { n_bias: old.n_bias, use_mask: old.use_mask, ..uniform_block(params, self.n_vocab, self.capacity)? };
        self.write_block(gpu, block);
        Ok(())
    }

    /// Choose only among the ids `mask` allows, from the next submit on: bit `i % 32` of word
    /// `i / 32` set allows id i, and every other id gets a logit of −∞ before the bias. Refuses
    /// a mask of another length than `n_vocab.div_ceil(32)` words and one that allows no id of
    /// the vocabulary.
    pub fn set_mask(&self, gpu: &Gpu, mask: &[u32]) -> Result<(), Error> {
        check_mask(mask, self.n_vocab)?;
        self.mask.write(gpu, 0, bytemuck::cast_slice(mask));
        if !self.masks() {
            self.write_block(gpu, Params { use_mask: 1, ..self.block.get() });
        }
        Ok(())
    }

    /// Allow every id again, from the next submit on.
    pub fn clear_mask(&self, gpu: &Gpu) {
        if self.masks() {
            self.write_block(gpu, Params { use_mask: 0, ..self.block.get() });
        }
    }

    /// Whether a token mask is set.
    pub fn masks(&self) -> bool {
        self.block.get().use_mask != 0
    }

    fn write_block(&self, gpu: &Gpu, block: Params) {
        self.params.write(gpu, &block);
        self.block.set(block);
    }

    /// Add `bias` to the logits of its ids before the penalties, from the next submit on
    /// (replacing the previous list; empty: none). The biases of an id listed twice add up.
    /// Refuses more than [`MAX_LOGIT_BIAS`] ids, ids outside the vocabulary and biases (sums)
    /// that are not numbers in [−100, 100].
    pub fn set_bias(&self, gpu: &Gpu, bias: &[(u32, f32)]) -> Result<(), Error> {
        // An id listed twice gets the sum, added once: invocations never add to the same logit.
        let mut merged = bias.to_vec();
        merged.sort_by_key(|&(id, _)| id);
        merged.dedup_by(|later, first| {
            let same = later.0 == first.0;
            if same {
                first.1 += later.1;
            }
            same
        });
        check_bias(bias.len(), &merged, self.n_vocab)?;
        let bias = merged.as_slice();
        let words: Vec<u32> = bias.iter().flat_map(|&(id, b)| [id, b.to_bits()]).collect();
        if !words.is_empty() {
            self.bias.write(gpu, 0, bytemuck::cast_slice(&words));
        }
        self.write_block(gpu, Params { n_bias: bias.len() as u32, ..self.block.get() });
        Ok(())
    }

    /// Bytes of [`SampleKernel::output`] a submit copies for read-back: the id alone (one u32)
    /// unless log-probabilities are asked for.
    pub fn readback_bytes(&self) -> u64 {
        if self.block.get().want_logprobs != 0 {
            OUTPUT_BYTES
        } else {
            4
        }
    }

    /// The id in an output block read back from [`SampleKernel::output`]; the log-probabilities
    /// in it, when the parameters ask for them, are kept for [`SampleKernel::last_logprobs`].
    pub fn read_output(&self, bytes: &[u8]) -> u32 {
        let word = |i: usize| bytes.get(4 * i..4 * i + 4).map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        let logprobs = (self.block.get().want_logprobs != 0).then(|| {
            let count = (word(2) as usize).min(MAX_TOP_LOGPROBS as usize);
            let top = (0..count).map(|r| (word(3 + 2 * r), f32::from_bits(word(4 + 2 * r)))).collect();
            TokenLogprobs { logprob: f32::from_bits(word(1)), top }
        });
        *self.last.borrow_mut() = logprobs;
        word(0)
    }

    /// The log-probabilities of the last id read with [`SampleKernel::read_output`] (`None`
    /// when not asked for).
    pub fn last_logprobs(&self) -> Option<TokenLogprobs> {
        self.last.borrow().clone()
    }

    /// How many ids the history ring holds.
    pub fn history_capacity(&self) -> u32 {
        self.capacity
    }
}

/// The ring contents after receiving `ids` (oldest first): the last `capacity` of them, id of
/// receive index r at `r % capacity`, zeros where nothing was received yet.
pub fn history_ring(ids: &[u32], capacity: u32) -> Vec<u32> {
    let capacity = capacity as usize;
    let mut ring = vec![0; capacity];
    let first = ids.len().saturating_sub(capacity);
    for (r, &id) in ids.iter().enumerate().skip(first) {
        ring[r % capacity] = id;
    }
    ring
}

/// Refuses a list of more than [`MAX_LOGIT_BIAS`] entries (`given`, before merging), and in the
/// merged list `bias` ids outside the vocabulary and biases outside [−100, 100].
fn check_bias(given: usize, bias: &[(u32, f32)], n_vocab: u32) -> Result<(), Error> {
    let refuse = |value: String, why: String| Err(Error::InvalidOption { option: "logit_bias".into(), value, why });
    if given > MAX_LOGIT_BIAS {
        return refuse(format!("{given} entries"), format!("give at most {MAX_LOGIT_BIAS} token ids"));
    }
    if let Some(&(id, _)) = bias.iter().find(|&&(id, _)| id >= n_vocab) {
        return refuse(format!("token {id}"), format!("use token ids below the vocabulary size {n_vocab}"));
    }
    if let Some(&(id, b)) = bias.iter().find(|&&(_, b)| !(-100.0..=100.0).contains(&b)) {
        return refuse(format!("{b} for token {id}"), "use biases in [-100, 100]".into());
    }
    Ok(())
}

/// Words of a token mask over `n_vocab` ids (at least one, so that the buffer can be bound).
fn mask_words(n_vocab: u32) -> usize {
    (n_vocab as usize).div_ceil(32).max(1)
}

/// Refuses a mask of the wrong length, and one whose bits allow no id below `n_vocab` (the
/// sampler would have nothing to choose).
fn check_mask(words: &[u32], n_vocab: u32) -> Result<(), Error> {
    let refuse = |value: String, why: String| Err(Error::InvalidOption { option: "token mask".into(), value, why });
    let expected = mask_words(n_vocab);
    if words.len() != expected {
        return refuse(
            format!("{} words", words.len()),
            format!("give {expected} words, one bit per id of the {n_vocab}-token vocabulary"),
        );
    }
    let tail_bits = n_vocab % 32;
    let in_vocabulary = |(i, &w): (usize, &u32)| {
        if i + 1 == words.len() && tail_bits != 0 {
            w & ((1 << tail_bits) - 1)
        } else {
            w
        }
    };
    if words.iter().enumerate().map(in_vocabulary).all(|w| w == 0) {
        return refuse("with no bit set".into(), "allow at least one token id".into());
    }
    Ok(())
}

/// The parameter block of `params`, with no bias and no mask.
fn uniform_block(params: &SamplingParams, n_vocab: u32, capacity: u32) -> Result<Params, Error> {
    params.validate()?;
    if params.repeat_last_n > capacity {
        return Err(Error::InvalidOption {
            option: "repeat_last_n".into(),
            value: params.repeat_last_n.to_string(),
            why: format!("use a value in [0, {capacity}] (the sampler's history ring holds {capacity} ids)"),
        });
    }
    Ok(Params {
        n_vocab,
        capacity,
        last_n: if params.penalises() { params.repeat_last_n } else { 0 },
        top_k: params.top_k.unwrap_or(0),
        penalty: params.repeat_penalty,
        inv_penalty: params.inverse_penalty(),
        top_p: params.top_p,
        log_min_p: if params.min_p > 0.0 { params.log_min_p() } else { 0.0 },
        inv_temperature: if params.is_greedy() { 0.0 } else { params.inverse_temperature() },
        greedy: params.is_greedy() as u32,
        use_min_p: (params.min_p > 0.0) as u32,
        seed_lo: params.seed as u32,
        seed_hi: (params.seed >> 32) as u32,
        frequency: params.frequency_penalty,
        presence: params.presence_penalty,
        n_bias: 0,
        want_logprobs: params.logprobs.is_some() as u32,
        top_logprobs: params.logprobs.unwrap_or(0),
        use_mask: 0,
        masked_logit: f32::NEG_INFINITY,
        _pad: 0,
    })
}

#[cfg(test)]
mod tests;
