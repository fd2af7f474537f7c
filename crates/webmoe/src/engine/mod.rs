//! The GPU engine: loads a model's weights, owns the KV cache, and runs submits of the forward
//! pass. With every expert resident, a decode step is one command buffer, one submit and one u32
//! read back; under a GPU budget too small for every expert, experts stream in layer by layer
//! (see [`crate::experts`]).

mod ahead;
mod auto_budget;
mod footprint;
mod forward;
mod load;
mod options;
mod profile;
mod run;
mod snapshot;
mod state;
mod streaming;
mod weights;

pub use auto_budget::{automatic_budget, usable_bytes, AutoBudget};
pub use footprint::{budget_facts, footprint, BudgetFacts, MemoryReport};
pub use profile::{KernelTime, Profile};
pub use options::{EngineOptions, KvType, DEFAULT_BATCH, DEFAULT_CONTEXT};
pub use snapshot::KvSnapshot;

use crate::error::{Error, Result};
use crate::experts::ExpertStats;
use crate::gpu::{read_buffer, Gpu, StorageBuffer};
use crate::kernels::moe_group::ExpertGroups;
use crate::kernels::sample::{history_ring, SampleKernel};
use crate::kernels::KernelEnv;
use crate::model::Model;
use crate::sampler::{SamplingParams, TokenLogprobs};
use forward::Passes;
use load::plan;
use state::{KvCache, Scratch};
use streaming::Streaming;
use weights::Weights;

/// A loaded model, ready to run.
pub struct Engine {
    pub gpu: Gpu,
    pub model: Model,
    weights: Weights,
    kv: KvCache,
    scratch: Scratch,
    env: KernelEnv,
    passes: Passes,
    sampler: SampleKernel,
    /// The sampler's ring of recent ids, for the repetition penalty.
    history: StorageBuffer,
    /// Every id of the sequence so far (prompt and generated), in order.
    seen: Vec<u32>,
    /// Sampling steps since the last reset: selects the random number of the next draw.
    sample_step: u32,
    counters: std::cell::Cell<Counters>,
    /// 4 bytes each, MAP_READ: where sampled ids are copied for the CPU. A submit's tail copies
    /// into the first; a step submitted ahead (see `ahead.rs`) into whichever is free.
    sampled: [wgpu::Buffer; 2],
    /// The read-back buffer of a decode step submitted ahead and not yet read.
    ahead: Option<usize>,
    /// Positions filled in the KV cache.
    pos: usize,
    /// The experts each position chose in each layer: (max_ctx, layers, k) u32.
    route_log: StorageBuffer,
    rope_table: StorageBuffer,
    /// Expert → slot per layer, (layers, experts) u32.
    slots: StorageBuffer,
    groups: ExpertGroups,
    /// The expert cache, when experts stream in.
    streaming: Option<Streaming>,
    /// The GPU memory budget the engine was loaded under (`None`: no limit).
    gpu_budget: Option<u64>,
}

/// What the engine asked of the GPU since it was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    pub submits: u64,
    pub dispatches: u64,
    /// Buffers mapped for reading (each waits for the GPU).
    pub readbacks: u64,
    /// Tokens run as prompts (`prefill` and `logits`), not counting those a request found
    /// already in the KV cache.
    pub prompt_tokens: u64,
}

impl Engine {
    /// The GPU memory budget the engine was loaded under (`None`: no limit).
    pub fn gpu_budget(&self) -> Option<u64> {
        self.gpu_budget
    }

    /// Positions the context holds.
    pub fn context_length(&self) -> usize {
        self.kv.max_ctx
    }

    /// Tokens already in the KV cache.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Forget the sequence; the next tokens start at position 0, with no token mask.
    pub fn reset(&mut self) {
        self.cancel_ahead();
        self.pos = 0;
        self.seen.clear();
        self.sample_step = 0;
        self.clear_token_mask();
    }

    /// How the following tokens are chosen (greedy until set). Refuses invalid values.
    pub fn set_sampling(&mut self, params: &SamplingParams) -> Result<()> {
        self.cancel_ahead();
        self.sampler.set_params(&self.gpu, params)
    }

    /// Add `bias` to the logits of its ids before the penalties, from the next token on
    /// (replacing the previous list); refuses ids outside the vocabulary and biases outside
    /// [−100, 100].
    pub fn set_logit_bias(&mut self, bias: &[(u32, f32)]) -> Result<()> {
        self.cancel_ahead();
        self.sampler.set_bias(&self.gpu, bias)
    }

    /// Choose only ids that `mask` allows, from the next token on: bit `i % 32` of word `i / 32`
    /// allows id i (`vocab_size.div_ceil(32)` words; see [`crate::constraint`]); `None` allows
    /// every id. The mask belongs to the sequence being generated: [`Engine::reset`] and
    /// [`Engine::truncate`] clear it. Refuses a mask of the wrong length or with no id allowed.
    pub fn set_token_mask(&mut self, mask: Option<&[u32]>) -> Result<()> {
        self.cancel_ahead();
        match mask {
            Some(mask) => self.sampler.set_mask(&self.gpu, mask),
            None => {
                self.sampler.clear_mask(&self.gpu);
                Ok(())
            }
        }
    }

    fn clear_token_mask(&mut self) {
        self.sampler.clear_mask(&self.gpu);
    }

    /// The log-probabilities of the last token read back, when the sampling parameters ask for
    /// them (`SamplingParams::logprobs`).
    pub fn last_logprobs(&self) -> Option<TokenLogprobs> {
        self.sampler.last_logprobs()
    }

    /// Expert slots on the GPU: one per expert of every layer when all are resident, else the
    /// slots of the expert cache's pools, shared by their layers.
    pub fn expert_slots(&self) -> usize {
        let c = &self.model.config;
        self.streaming.as_ref().map_or(c.n_expert * c.n_layer, |s| s.cache.total_slots())
    }

    /// The expert cache's counts (all zero when every expert is resident).
    pub fn expert_stats(&self) -> ExpertStats {
        self.streaming.as_ref().map(|s| s.cache.stats()).unwrap_or_default()
    }

    /// For each slot of the pool `layer` uses, the expert of `layer` it holds (`None`: empty or
    /// another layer's), when experts stream in (`None`: all resident).
    pub fn expert_residency(&self, layer: usize) -> Option<Vec<Option<u32>>> {
        self.streaming.as_ref().map(|s| s.cache.residents(layer))
    }

    /// The experts chosen at each of `positions` (which must already be computed), per layer:
    /// `[position][layer][j]`, best first. Empty lists for a dense model.
    pub async fn routing(&self, positions: std::ops::Range<usize>) -> Result<Vec<Vec<Vec<u32>>>> {
        let c = &self.model.config;
        if positions.end > self.pos {
            return Err(Error::InvalidOption {
                option: "routing positions".into(),
                value: format!("{positions:?}"),
                why: format!("only positions below {} have been computed", self.pos),
            });
        }
        if positions.is_empty() || !c.is_moe() {
            return Ok(vec![vec![Vec::new(); c.n_layer]; positions.len()]);
        }
        let row = (c.n_layer * c.n_expert_used * 4) as u64;
        let bytes = read_buffer(&self.gpu, &self.route_log.buffer, positions.start as u64 * row, positions.len() as u64 * row).await?;
        self.count(|c| {
            c.readbacks += 1;
            c.submits += 1;
        });
        let experts: &[u32] = bytemuck::cast_slice(&bytes);
        Ok(experts.chunks(c.n_layer * c.n_expert_used).map(|p| p.chunks(c.n_expert_used).map(|l| l.to_vec()).collect()).collect())
    }

    /// Append `tokens` to the sequence's history and the sampler's ring.
    fn record_history(&mut self, tokens: &[u32]) {
        self.seen.extend_from_slice(tokens);
        let ring = history_ring(&self.seen, self.sampler.history_capacity());
        self.history.write(&self.gpu, 0, bytemuck::cast_slice(&ring));
    }

    /// Dispatches a decode step records inside the layers, per layer (the rest of a step's
    /// dispatches — embedding, final norm, lm_head, sampler — do not grow with depth).
    pub fn decode_dispatches_per_layer(&self) -> f64 {
        self.passes.decode.layer_dispatches() as f64 / self.model.config.n_layer as f64
    }

    pub fn counters(&self) -> Counters {
        self.counters.get()
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters.get();
        f(&mut c);
        self.counters.set(c);
    }

    /// Weight bytes one decode step reads: every non-expert matrix, `k` experts of each expert
    /// matrix, one embedding row, and the lm_head.
    pub fn weight_bytes_per_token(&self) -> u64 {
        let c = &self.model.config;
        let l = &self.model.layout;
        let mut bytes = l.token_embd.row_bytes() + l.output.total_bytes();
        for layer in &l.layers {
            bytes += [&layer.wq, &layer.wk, &layer.wv, &layer.wo].iter().map(|m| m.total_bytes()).sum::<u64>();
            bytes += layer.ffn.router.as_ref().map_or(0, |r| r.total_bytes());
            let used = c.n_expert_used.min(layer.ffn.gate.n_experts()) as u64;
            bytes += used * [&layer.ffn.gate, &layer.ffn.up, &layer.ffn.down].iter().map(|m| m.expert_bytes()).sum::<u64>();
        }
        bytes
    }

    /// GPU memory by purpose.
    pub fn memory(&self) -> MemoryReport {
        let buffers = |bs: &[&StorageBuffer]| bs.iter().map(|b| b.len.div_ceil(4) * 4).sum::<u64>();
        let mut other = buffers(&[&self.rope_table, &self.slots, &self.groups.counts, &self.groups.offsets, &self.groups.order, &self.route_log, &self.history]);
        if let Some(s) = &self.streaming {
            other += s.prediction_bytes();
        }
        MemoryReport {
            weights: self.weights.gpu_bytes(),
            experts: self.weights.expert_bytes(),
            kv_cache: self.kv.gpu_bytes(),
            scratch: self.scratch.gpu_bytes(),
            other,
        }
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let vocab = self.model.config.vocab_size;
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::TokenOutOfRange { id, vocab });
        }
        if self.pos + tokens.len() > self.kv.max_ctx {
            return Err(Error::ContextFull { needed: self.pos + tokens.len(), context: self.kv.max_ctx });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
