//! Building an engine: weights, caches, scratch, and the recorded passes.

use super::footprint::{allocation, context_length, expert_pools, expert_slot_bytes, fitting_batch};
use super::forward::{Bound, Prediction};
use super::state::{KvCache, Scratch};
use super::streaming::Streaming;
use super::weights::{read_values, Weights};
use super::{Engine, EngineOptions, KvType};
use crate::error::{Error, Result};
use crate::experts::{plan_slots, ExpertCache, NextUse, SlotPlan};
use crate::gguf::ByteSource;
use crate::gpu::{Gpu, GpuError, StorageBuffer};
use crate::kernels::moe_group::ExpertGroups;
use crate::kernels::rope_kv::rope_table;
use crate::kernels::sample::SampleKernel;
use crate::kernels::{attention::MAX_HEAD_DIM, KernelEnv};
use crate::model::{Model, Rope};
use crate::sampler::{SamplingParams, MAX_REPEAT_LAST_N};

/// Marks an expert that has no slot in the slot table; kernels skip its routes.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// Expert slots on the GPU for `options`' budget.
pub(super) fn plan(model: &Model, options: &EngineOptions, binding_limit: u64) -> Result<SlotPlan> {
    let c = &model.config;
    let resident = allocation(model, options, binding_limit, &SlotPlan::Pooled(Vec::new()))?.total();
    plan_slots(options.gpu_budget, resident, &expert_pools(model, binding_limit), c.n_expert, c.n_expert_used)
}

/// The model's RoPE, with the frequency factors its file holds read from `source`.
async fn rope_of<S: ByteSource>(model: &Model, source: &S) -> Result<Rope> {
    let rope = model.config.rope();
    Ok(match &model.layout.rope_freqs {
        Some(v) => rope.with_freq_factors(&v.name, read_values(source, v).await?)?,
        None => rope,
    })
}

impl Engine {
    /// Refuse a model the kernels cannot run: a head dimension beyond the attention kernel's, a
    /// matrix type without a GPU decoder, rows not a multiple of 32 values. It needs the header
    /// alone, so a caller can refuse a file before fetching its weights; `load` starts with it.
    pub fn check_runnable(model: &Model) -> Result<()> {
        let head_dim = model.config.head_dim;
        if head_dim as u32 > MAX_HEAD_DIM {
            return Err(Error::InvalidOption {
                option: "head dimension".into(),
                value: head_dim.to_string(),
                why: format!("the attention kernel handles at most {MAX_HEAD_DIM}"),
            });
        }
        Weights::check(model)
    }

    /// Upload `model` from `source` and prepare every pass. With a GPU budget too small for
    /// every expert, the engine keeps `source` and streams experts from it as they are chosen.
    pub async fn load<S: ByteSource + 'static>(
        gpu: Gpu,
        source: S,
        model: Model,
        options: &EngineOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Engine> {
        let c = &model.config;
        let max_ctx = context_length(c.context_length, options.context_length)?;
        if options.batch == 0 || options.batch > 4096 {
            return Err(Error::InvalidOption { option: "batch size".into(), value: options.batch.to_string(), why: "use 1 to 4096".into() });
        }
        Self::check_runnable(&model)?;
        let slot_plan = plan(&model, options, gpu.binding_limit)?;
        let pools = expert_pools(&model, gpu.binding_limit);
        let batch = fitting_batch(c, options.batch.min(max_ctx), gpu.binding_limit).ok_or_else(|| {
            GpuError::TooLargeForBinding { what: "one token's activations".into(), bytes: 4 * c.vocab_size as u64, limit: gpu.binding_limit }
        })?;
        let rope = rope_of(&model, &source).await?;
        let weights = Weights::upload(&gpu, &source, &model, &slot_plan, &pools, progress).await?;
        let kv = KvCache::new(&gpu, c, max_ctx, options.kv_type == KvType::F16).await?;
        let scratch = Scratch::new(&gpu, c, batch).await?;
        let env = KernelEnv::new(&gpu);
        let rope = StorageBuffer::with_data(&gpu, "rope table", bytemuck::cast_slice(&rope_table(max_ctx, &rope)));
        // Resident experts live in the slot of their own number; streamed ones have no slot yet.
        let streamed = matches!(slot_plan, SlotPlan::Pooled(_));
        let slot_table: Vec<u32> = (0..c.n_layer).flat_map(|_| (0..c.n_expert as u32).map(|e| if streamed { NO_SLOT } else { e })).collect();
        let slot_buffer = StorageBuffer::with_data(&gpu, "expert slots", bytemuck::cast_slice(&slot_table));
        let groups = ExpertGroups::new(&gpu, c.n_expert as u32, c.n_expert_used as u32, scratch.batch as u32).await?;
        let route_log = StorageBuffer::new(&gpu, "route log", (max_ctx * c.n_layer * c.n_expert_used) as u64 * 4).await?;
        let prediction_buffers = match slot_plan {
            SlotPlan::AllResident => None,
            SlotPlan::Pooled(_) => Some((
                StorageBuffer::new(&gpu, "predicted h", (scratch.batch * c.n_embd) as u64 * 4).await?,
                StorageBuffer::new(&gpu, "predicted routes", (scratch.batch * c.n_expert_used) as u64 * 8).await?,
                StorageBuffer::new(&gpu, "prediction log", c.n_expert_used as u64 * 4).await?,
            )),
        };
        let bound = Bound {
            gpu: &gpu,
            env: &env,
            config: c,
            scratch: &scratch,
            kv: &kv,
            rope_table: &rope,
            slots: &slot_buffer,
            groups: &groups,
            route_log: &route_log,
            prediction: prediction_buffers.as_ref().map(|(h, routes, log)| Prediction { h, routes, log }),
        };
        let passes = bound.record(&weights)?;
        let history = StorageBuffer::new(&gpu, "sampler history", MAX_REPEAT_LAST_N as u64 * 4).await?;
        let sampler = SampleKernel::new(&gpu, &env, &scratch.logits, &history, &scratch.tokens, c.vocab_size as u32, &SamplingParams::greedy())?;
        let sampled = [0, 1].map(|_| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("sampled token"),
                size: crate::kernels::sample::OUTPUT_BYTES,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        let streaming = match (&slot_plan, prediction_buffers) {
            (SlotPlan::Pooled(pool_slots), Some((h, routes, log))) => {
                let mut pool_of_layer = vec![0; c.n_layer];
                for (p, pool) in pools.iter().enumerate() {
                    for &l in &pool.layers {
                        pool_of_layer[l] = p;
                    }
                }
                let cache = ExpertCache::new(pool_slots, pool_of_layer, expert_slot_bytes(&model, gpu.binding_limit), Box::new(NextUse::new(pool_slots, c.n_layer)));
                Some(Streaming::new(&gpu, Box::new(source), cache, c, scratch.batch, (h, routes, log)))
            }
            _ => None,
        };
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
            ahead: None,
            pos: 0,
            route_log,
            rope_table: rope,
            slots: slot_buffer,
            groups,
            streaming,
            gpu_budget: options.gpu_budget,
        })
    }
}
