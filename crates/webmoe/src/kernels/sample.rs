//! The sampler on the GPU (shaders/sample.wgsl): repetition penalty, top-k, top-p, min-p,
//! temperature and a seeded draw, or the argmax, over one row of logits, as defined in
//! [`crate::sampler`]. The choice goes to `tokens[0]` and to the history ring, so generation
//! reads back one id per token and the penalty window never leaves the GPU.
//!
//! The history ring is a storage buffer of `capacity` u32 (its length decides the capacity).
//! The id received at index r (counting prompt ids from 0) lives at `r % capacity`;
//! [`history_ring`] lays out ids that way for an upload. Each submit's `Step::n_history` must
//! say how many ids the history has received before it, and `Step::sample_step` is the draw
//! index that selects the random number.

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};
use crate::sampler::SamplingParams;
use crate::Error;

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
    _pad: [u32; 3],
}

/// The recorded sampler dispatch and its parameter block. The dispatch is recorded once;
/// [`SampleKernel::set_params`] rewrites the block for the next generation.
pub struct SampleKernel {
    pub dispatch: Dispatch,
    params: UniformBuffer,
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
        let bind_group = gpu.bind_group(
            "sample",
            &pipeline,
            &[env.step.binding(), uniform.binding(), logits.binding(), history.binding(), tokens.binding()],
        );
        let dispatch = Dispatch { label: "sample", slots: None, pipeline, bind_group, grid: Grid::Fixed([1, 1, 1]) };
        Ok(SampleKernel { dispatch, params: uniform, n_vocab, capacity })
    }

    /// Use `params` from the next submit on; refuses invalid params and a penalty window longer
    /// than the ring.
    pub fn set_params(&self, gpu: &Gpu, params: &SamplingParams) -> Result<(), Error> {
        self.params.write(gpu, &uniform_block(params, self.n_vocab, self.capacity)?);
        Ok(())
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
        _pad: [0; 3],
    })
}

#[cfg(test)]
mod tests;
