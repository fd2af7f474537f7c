//! Buffers allocated once before decoding starts: the activations of one submit and the KV cache.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuError, StorageBuffer};
use crate::kernels::router::ROUTE_BYTES;
use crate::model::ModelConfig;

/// Activations of one submit of up to `batch` tokens (B). k is the experts used per token
/// (1 for a dense model).
pub struct Scratch {
    pub batch: usize,
    /// The residual stream, (B, H).
    pub x: StorageBuffer,
    /// Normed hidden state, (B, H).
    pub h: StorageBuffer,
    /// Queries, keys and values, each token's row q | k | v: (B, n_head·head_dim + 2·kv_dim).
    pub qkv: StorageBuffer,
    /// Attention output, (B, n_head·head_dim).
    pub att: StorageBuffer,
    /// Router choices, (B, k) `{expert, weight}`.
    pub routes: StorageBuffer,
    /// Gate and up projections per route, (B·k, 2F): rows of gate | up, or gate alone in
    /// rows of F where the projections are separate. A shared expert's, (B, 2F_shared), use it
    /// before the routed experts do.
    pub gate_up: StorageBuffer,
    /// SwiGLU activation per route, (B·k, F); the shared expert's, (B, F_shared), before.
    pub act: StorageBuffer,
    /// Expert outputs per route, (B·k, H).
    pub expert_out: StorageBuffer,
    /// The shared expert's output and gate logit, for models that have one.
    pub shared: Option<SharedScratch>,
    /// Logits, (B, V): every position's when asked for, else row 0 only.
    pub logits: StorageBuffer,
    /// Input token ids, (B); the sampler writes the next token to entry 0.
    pub tokens: StorageBuffer,
}

/// The shared expert's results, added to the residual stream by the next norm.
pub struct SharedScratch {
    /// Its output, (B, H).
    pub out: StorageBuffer,
    /// Its gate logit `g · h`, (B).
    pub gate: StorageBuffer,
}

/// Values of one token's SwiGLU activation: its routes' (k·F) or its shared expert's.
pub(super) fn ffn_values(c: &ModelConfig) -> u64 {
    (c.n_expert_used as u64 * c.n_ff as u64).max(c.n_ff_shexp as u64)
}

impl Scratch {
    pub async fn new(gpu: &Gpu, c: &ModelConfig, batch: usize) -> Result<Scratch, GpuError> {
        let (b, k) = (batch as u64, c.n_expert_used as u64);
        let f32s = |n: u64| n * 4;
        let shared = match c.n_ff_shexp {
            0 => None,
            _ => Some(SharedScratch {
                out: StorageBuffer::new(gpu, "shared expert out", f32s(b * c.n_embd as u64)).await?,
                gate: StorageBuffer::new(gpu, "shared expert gate", f32s(b)).await?,
            }),
        };
        Ok(Scratch {
            batch,
            x: StorageBuffer::new(gpu, "x", f32s(b * c.n_embd as u64)).await?,
            h: StorageBuffer::new(gpu, "h", f32s(b * c.n_embd as u64)).await?,
            qkv: StorageBuffer::new(gpu, "qkv", f32s(b * (c.q_dim() + 2 * c.kv_dim()) as u64)).await?,
            att: StorageBuffer::new(gpu, "att", f32s(b * c.q_dim() as u64)).await?,
            routes: StorageBuffer::new(gpu, "routes", b * k * ROUTE_BYTES).await?,
            gate_up: StorageBuffer::new(gpu, "gate_up", f32s(b * 2 * ffn_values(c))).await?,
            act: StorageBuffer::new(gpu, "act", f32s(b * ffn_values(c))).await?,
            expert_out: StorageBuffer::new(gpu, "expert_out", f32s(b * k * c.n_embd as u64)).await?,
            shared,
            logits: StorageBuffer::new(gpu, "logits", f32s(b * c.vocab_size as u64)).await?,
            tokens: StorageBuffer::new(gpu, "tokens", b * 4).await?,
        })
    }

    pub fn gpu_bytes(&self) -> u64 {
        let mut all = vec![&self.x, &self.h, &self.qkv, &self.att, &self.routes, &self.gate_up, &self.act, &self.expert_out, &self.logits, &self.tokens];
        all.extend(self.shared.iter().flat_map(|s| [&s.out, &s.gate]));
        all.iter().map(|b| b.buffer.size()).sum()
    }
}

/// Keys and values of every layer for `max_ctx` positions, `(max_ctx, kv_dim)` per layer, written
/// at the token's position (never grown).
pub struct KvCache {
    pub keys: Vec<StorageBuffer>,
    pub values: Vec<StorageBuffer>,
    pub max_ctx: usize,
    pub f16: bool,
}

impl KvCache {
    pub async fn new(gpu: &Gpu, c: &ModelConfig, max_ctx: usize, f16: bool) -> Result<KvCache> {
        let bytes = max_ctx as u64 * c.kv_dim() as u64 * if f16 { 2 } else { 4 };
        if bytes > gpu.binding_limit {
            return Err(Error::Gpu(GpuError::TooLargeForBinding {
                what: format!("one layer's KV cache for {max_ctx} positions"),
                bytes,
                limit: gpu.binding_limit,
            }));
        }
        let mut keys = Vec::with_capacity(c.n_layer);
        let mut values = Vec::with_capacity(c.n_layer);
        for l in 0..c.n_layer {
            keys.push(StorageBuffer::new(gpu, &format!("k cache {l}"), bytes).await?);
            values.push(StorageBuffer::new(gpu, &format!("v cache {l}"), bytes).await?);
        }
        Ok(KvCache { keys, values, max_ctx, f16 })
    }

    pub fn gpu_bytes(&self) -> u64 {
        self.keys.iter().chain(&self.values).map(|b| b.buffer.size()).sum()
    }
}
