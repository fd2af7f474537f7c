//! The GPU engine: loads a model's weights, owns the KV cache, and runs submits of the forward
//! pass. A decode step is one command buffer, one submit, and one u32 read back.

mod forward;
mod options;
mod state;
mod weights;

pub use options::{EngineOptions, KvType, DEFAULT_BATCH, DEFAULT_CONTEXT};

use crate::error::{Error, Result};
use crate::gguf::ByteSource;
use crate::gpu::{read_buffer, Dispatch, Gpu, GpuError, StorageBuffer};
use crate::kernels::rope_kv::rope_table;
use crate::kernels::moe_group::ExpertGroups;
use crate::kernels::sample::{history_ring, SampleKernel};
use crate::kernels::{attention::MAX_HEAD_DIM, KernelEnv, Step};
use crate::sampler::{SamplingParams, MAX_REPEAT_LAST_N};
use crate::model::Model;
use forward::{Bound, Passes};
use state::{KvCache, Scratch};
use weights::{stacked_bytes, Stacking, Weights};

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
    /// 4 bytes, MAP_READ: where each sampled id is copied for the CPU.
    sampled: wgpu::Buffer,
    /// Positions filled in the KV cache.
    pos: usize,
    /// The experts each position chose in each layer: (max_ctx, layers, k) u32.
    route_log: StorageBuffer,
    _rope_table: StorageBuffer,
    _slots: StorageBuffer,
}

/// What the engine asked of the GPU since it was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    pub submits: u64,
    pub dispatches: u64,
    /// Buffers mapped for reading (each waits for the GPU).
    pub readbacks: u64,
}

/// Figures the engine reports about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryReport {
    pub weights: u64,
    pub kv_cache: u64,
    pub scratch: u64,
}

impl MemoryReport {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.scratch
    }
}

impl Engine {
    /// Upload `model` from `source` and prepare every pass.
    pub async fn load<S: ByteSource>(gpu: Gpu, source: &S, model: Model, options: &EngineOptions, progress: &mut dyn FnMut(u64, u64)) -> Result<Engine> {
        let c = &model.config;
        let max_ctx = context_length(c.context_length, options.context_length)?;
        if options.batch == 0 || options.batch > 4096 {
            return Err(Error::InvalidOption { option: "batch size".into(), value: options.batch.to_string(), why: "use 1 to 4096".into() });
        }
        if c.head_dim as u32 > MAX_HEAD_DIM {
            return Err(Error::InvalidOption {
                option: "head dimension".into(),
                value: c.head_dim.to_string(),
                why: format!("the attention kernel handles at most {MAX_HEAD_DIM}"),
            });
        }
        Weights::check(&model)?;
        let weights = Weights::upload(&gpu, source, &model, progress).await?;
        let kv = KvCache::new(&gpu, c, max_ctx, options.kv_type == KvType::F16).await?;
        let scratch = Scratch::new(&gpu, c, Scratch::fitting_batch(&gpu, c, options.batch.min(max_ctx))?).await?;
        let env = KernelEnv::new(&gpu);
        let rope = StorageBuffer::with_data(&gpu, "rope table", bytemuck::cast_slice(&rope_table(max_ctx, c.rope_dim, c.rope_theta)));
        // Every expert lives in the slot of its own number while all experts are resident.
        let slot_table: Vec<u32> = (0..c.n_layer).flat_map(|_| 0..c.n_expert as u32).collect();
        let slots = StorageBuffer::with_data(&gpu, "expert slots", bytemuck::cast_slice(&slot_table));
        let groups = ExpertGroups::new(&gpu, c.n_expert as u32, c.n_expert_used as u32, scratch.batch as u32).await?;
        let route_log = StorageBuffer::new(&gpu, "route log", (max_ctx * c.n_layer * c.n_expert_used) as u64 * 4).await?;
        let bound = Bound {
            gpu: &gpu,
            env: &env,
            config: c,
            scratch: &scratch,
            kv: &kv,
            rope_table: &rope,
            slots: &slots,
            groups: &groups,
            route_log: &route_log,
        };
        let passes = bound.record(&weights)?;
        let history = StorageBuffer::new(&gpu, "sampler history", MAX_REPEAT_LAST_N as u64 * 4).await?;
        let sampler = SampleKernel::new(&gpu, &env, &scratch.logits, &history, &scratch.tokens, c.vocab_size as u32, &SamplingParams::greedy())?;
        let sampled = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("sampled token"),
            size: 4,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        gpu.check()?;
        Ok(Engine {
            gpu,
            model,
            weights,
            kv,
            scratch,
            env,
            passes,
            sampler,
            history,
            seen: Vec::new(),
            sample_step: 0,
            counters: Default::default(),
            sampled,
            pos: 0,
            route_log,
            _rope_table: rope,
            _slots: slots,
        })
    }

    /// Positions the context holds.
    pub fn context_length(&self) -> usize {
        self.kv.max_ctx
    }

    /// Tokens already in the KV cache.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Forget the sequence; the next tokens start at position 0.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.seen.clear();
        self.sample_step = 0;
    }

    /// How the following tokens are chosen (greedy until set). Refuses invalid values.
    pub fn set_sampling(&mut self, params: &SamplingParams) -> Result<()> {
        self.sampler.set_params(&self.gpu, params)
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
        self.passes.decode_layer_dispatches as f64 / self.model.config.n_layer as f64
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

    pub fn memory(&self) -> MemoryReport {
        MemoryReport { weights: self.weights.gpu_bytes(), kv_cache: self.kv.gpu_bytes(), scratch: self.scratch.gpu_bytes() }
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

    /// Encode `lists` for a submit of `n` tokens at the current position.
    fn encode(&self, n: usize, lists: &[&[Dispatch]]) -> wgpu::CommandEncoder {
        let step = Step { pos0: self.pos as u32, n_tokens: n as u32, sample_step: self.sample_step, n_history: self.seen.len() as u32 };
        self.env.set_step(&self.gpu, step);
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        let mut dispatched = 0;
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for list in lists {
                for d in list.iter() {
                    dispatched += d.encode(&mut pass, n as u32) as u64;
                }
            }
        }
        self.count(|c| {
            c.dispatches += dispatched;
            c.submits += 1;
        });
        enc
    }

    /// Run `tokens` (in submits of the batch size) and return the logits of every position.
    pub async fn logits(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        self.check_tokens(tokens)?;
        let vocab = self.model.config.vocab_size;
        let mut all = Vec::with_capacity(tokens.len());
        self.record_history(tokens);
        for chunk in tokens.chunks(self.scratch.batch) {
            self.scratch.tokens.write(&self.gpu, 0, bytemuck::cast_slice(chunk));
            let enc = self.encode(chunk.len(), &[self.passes.body(chunk.len()), &self.passes.head_all]);
            self.gpu.queue.submit([enc.finish()]);
            let bytes = read_buffer(&self.gpu, &self.scratch.logits.buffer, 0, (chunk.len() * vocab * 4) as u64).await?;
            // read_buffer submits its own copy.
            self.count(|c| {
                c.readbacks += 1;
                c.submits += 1;
            });
            self.gpu.check()?;
            let values: &[f32] = bytemuck::cast_slice(&bytes);
            all.extend(values.chunks(vocab).map(|r| r.to_vec()));
            self.pos += chunk.len();
        }
        Ok(all)
    }

    /// Run the prompt `tokens` and return the token sampled after it.
    pub async fn prefill(&mut self, tokens: &[u32]) -> Result<u32> {
        self.check_tokens(tokens)?;
        self.record_history(tokens);
        let chunks: Vec<&[u32]> = tokens.chunks(self.scratch.batch).collect();
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.scratch.tokens.write(&self.gpu, 0, bytemuck::cast_slice(chunk));
            if i < last {
                let enc = self.encode(chunk.len(), &[self.passes.body(chunk.len())]);
                self.gpu.queue.submit([enc.finish()]);
                self.pos += chunk.len();
            } else {
                return self.submit_and_sample(chunk.len()).await;
            }
        }
        Err(Error::EmptyPrompt)
    }

    /// Feed the last sampled token (already on the GPU) and return the next one.
    pub async fn step(&mut self) -> Result<u32> {
        if self.pos + 1 > self.kv.max_ctx {
            return Err(Error::ContextFull { needed: self.pos + 1, context: self.kv.max_ctx });
        }
        self.submit_and_sample(1).await
    }

    /// One submit of `n` tokens through the body, the head and the sampler; one u32 read back.
    async fn submit_and_sample(&mut self, n: usize) -> Result<u32> {
        let mut enc = self.encode(n, &[self.passes.body(n), &self.passes.head_last, std::slice::from_ref(&self.sampler.dispatch)]);
        enc.copy_buffer_to_buffer(&self.scratch.tokens.buffer, 0, &self.sampled, 0, 4);
        self.gpu.queue.submit([enc.finish()]);
        crate::gpu::map_read(&self.gpu, &self.sampled).await?;
        self.count(|c| c.readbacks += 1);
        let id = {
            let view = self.sampled.slice(..).get_mapped_range().map_err(|e| GpuError::Readback { reason: e.to_string() })?;
            u32::from_le_bytes([view[0], view[1], view[2], view[3]])
        };
        self.sampled.unmap();
        self.gpu.check()?;
        self.pos += n;
        // The sampler appended the id to its ring on the GPU; keep the CPU copy in step.
        self.seen.push(id);
        self.sample_step += 1;
        Ok(id)
    }
}

/// GPU bytes an engine for `model` with `options` will allocate, computed without a GPU, for a
/// binding limit of `binding_limit` bytes (pages round slots up to whole words).
pub fn footprint(model: &Model, options: &EngineOptions, binding_limit: u64) -> Result<MemoryReport> {
    let c = &model.config;
    let max_ctx = context_length(c.context_length, options.context_length)?;
    let l = &model.layout;
    let mut matrix_bytes = stacked_bytes(&[&l.token_embd]) + if l.tied_output { 0 } else { stacked_bytes(&[&l.output]) };
    for ly in &l.layers {
        matrix_bytes += Stacking::of(ly, binding_limit).bytes();
        matrix_bytes += [&ly.wo, &ly.ffn.down].iter().chain(ly.ffn.router.as_ref().as_slice()).map(|m| stacked_bytes(&[m])).sum::<u64>();
    }
    let vector_bytes = 4 * (c.n_embd as u64) * (1 + 2 * c.n_layer as u64);
    let kv_bytes = 2 * c.n_layer as u64 * max_ctx as u64 * c.kv_dim() as u64 * if options.kv_type == KvType::F16 { 2 } else { 4 };
    let k = c.n_expert_used as u64;
    let batch = options.batch.min(max_ctx) as u64;
    let widest =
        [c.n_embd, c.q_dim() + 2 * c.kv_dim(), 2 * c.n_expert_used * c.n_ff, c.n_expert_used * c.n_embd, c.vocab_size].into_iter().max().unwrap_or(1) as u64 * 4;
    let batch = batch.min((binding_limit / widest).max(1));
    // x, h, qkv, att, gate_up, act, expert_out, logits (f32); routes (8 bytes each), tokens (u32).
    let per_token = 4 * (2 * c.n_embd as u64 + 2 * c.q_dim() as u64 + 2 * c.kv_dim() as u64 + 3 * k * c.n_ff as u64 + k * c.n_embd as u64 + c.vocab_size as u64)
        + 8 * k
        + 4;
    Ok(MemoryReport { weights: matrix_bytes + vector_bytes, kv_cache: kv_bytes, scratch: batch * per_token })
}

/// The KV cache length: the request, or the model's context capped at [`DEFAULT_CONTEXT`].
fn context_length(model_ctx: usize, requested: Option<usize>) -> Result<usize> {
    match requested {
        None => Ok(model_ctx.min(DEFAULT_CONTEXT)),
        Some(0) => Err(Error::InvalidOption { option: "context length".into(), value: "0".into(), why: "it must be at least 1".into() }),
        Some(n) if n > model_ctx => Err(Error::InvalidOption {
            option: "context length".into(),
            value: n.to_string(),
            why: format!("the model was trained for at most {model_ctx} positions"),
        }),
        Some(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests;
