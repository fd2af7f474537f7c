//! The forward pass as an ordered list of dispatches, recorded once at load and replayed for
//! every submit. Each layer reads top to bottom like the math:
//!
//! ```text
//! h = rms_norm(x) · attn_norm
//! q, k, v = Wq h, Wk h, Wv h;  rope(q, k);  K[pos], V[pos] = k, v
//! x += Wo · attention(q, K[..=pos], V[..=pos])
//! h = rms_norm(x) · ffn_norm
//! dense:  x += down(silu(gate h) · up h)
//! MoE:    routes = top_k(softmax(W_router h));  y_j = down_e(silu(gate_e h) · up_e h) for each route j
//!         x += Σ_j w_j · y_j
//! ```

use super::state::{KvCache, Scratch};
use super::weights::{LayerWeights, Weights};
use crate::gpu::{Dispatch, Gpu, GpuError, StorageBuffer};
use crate::kernels::matvec::{matvec, Epilogue, Matvec, Routed};
use crate::kernels::rope_kv::HeadShape;
use crate::kernels::{argmax::argmax, attention::attention, embed::embed, moe_combine::moe_combine, rms_norm::rms_norm, rope_kv::rope_kv, router::router, KernelEnv};
use crate::model::ModelConfig;

/// The recorded dispatches of a forward pass.
pub struct Passes {
    /// Embedding, every layer, and the final norm, for the tokens of one submit.
    pub body: Vec<Dispatch>,
    /// lm_head over every token of the submit (logits of every position).
    pub head_all: Vec<Dispatch>,
    /// lm_head over the submit's last token, then the sampler.
    pub head_sample: Vec<Dispatch>,
}

/// What the layer dispatches bind besides weights.
pub struct Bound<'a> {
    pub gpu: &'a Gpu,
    pub env: &'a KernelEnv,
    pub config: &'a ModelConfig,
    pub scratch: &'a Scratch,
    pub kv: &'a KvCache,
    pub rope_table: &'a StorageBuffer,
    /// Expert → slot, (layers, experts).
    pub slots: &'a StorageBuffer,
}

impl Bound<'_> {
    pub fn record(&self, w: &Weights) -> Result<Passes, GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        let mut body = embed(gpu, env, &w.token_embd, &s.tokens, &s.x)?;
        for (i, layer) in w.layers.iter().enumerate() {
            self.attention_block(&mut body, i, layer)?;
            self.ffn_block(&mut body, i, layer)?;
        }
        body.push(rms_norm(gpu, env, &s.x, &w.output_norm, &s.h, c.n_embd as u32, c.rms_eps)?);
        let head_all = matvec(gpu, env, &Matvec::dense(w.output(), &s.h, &s.logits))?;
        let mut head_sample = matvec(gpu, env, &Matvec { last_token_only: true, ..Matvec::dense(w.output(), &s.h, &s.logits) })?;
        head_sample.push(argmax(gpu, &s.logits, &s.tokens, c.vocab_size as u32)?);
        Ok(Passes { body, head_all, head_sample })
    }

    fn attention_block(&self, out: &mut Vec<Dispatch>, i: usize, l: &LayerWeights) -> Result<(), GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        let shape = HeadShape { n_head: c.n_head as u32, n_head_kv: c.n_head_kv as u32, head_dim: c.head_dim as u32 };
        let (k_cache, v_cache) = (&self.kv.keys[i], &self.kv.values[i]);
        out.push(rms_norm(gpu, env, &s.x, &l.attn_norm, &s.h, c.n_embd as u32, c.rms_eps)?);
        out.extend(matvec(gpu, env, &Matvec::dense(&l.wq, &s.h, &s.q))?);
        out.extend(matvec(gpu, env, &Matvec::dense(&l.wk, &s.h, &s.k))?);
        out.extend(matvec(gpu, env, &Matvec::dense(&l.wv, &s.h, &s.v))?);
        out.push(rope_kv(gpu, env, shape, c.rope_dim as u32, self.rope_table, &s.q, &s.k, &s.v, k_cache, v_cache, self.kv.f16)?);
        out.push(attention(gpu, env, shape, &s.q, k_cache, v_cache, &s.att, self.kv.f16)?);
        out.extend(matvec(gpu, env, &Matvec::dense(&l.wo, &s.att, &s.x).epilogue(Epilogue::Add, None))?);
        Ok(())
    }

    fn ffn_block(&self, out: &mut Vec<Dispatch>, i: usize, l: &LayerWeights) -> Result<(), GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        out.push(rms_norm(gpu, env, &s.x, &l.ffn_norm, &s.h, c.n_embd as u32, c.rms_eps)?);
        let Some(router_w) = &l.router else {
            // Dense SwiGLU: x += down(silu(gate h) · up h)
            out.extend(matvec(gpu, env, &Matvec::dense(&l.gate, &s.h, &s.gate))?);
            out.extend(matvec(gpu, env, &Matvec::dense(&l.up, &s.h, &s.act).epilogue(Epilogue::SiluMul, Some(&s.gate)))?);
            out.extend(matvec(gpu, env, &Matvec::dense(&l.down, &s.act, &s.x).epilogue(Epilogue::Add, None))?);
            return Ok(());
        };
        let k = c.n_expert_used as u32;
        out.push(router(gpu, env, router_w, k, &s.h, &s.routes)?);
        let routed = |input_per_route| Routed { routes: &s.routes, slots: self.slots, slot_base: (i * c.n_expert) as u32, k, input_per_route };
        out.extend(matvec(gpu, env, &Matvec { routed: Some(routed(false)), ..Matvec::dense(&l.gate, &s.h, &s.gate) })?);
        out.extend(matvec(
            gpu,
            env,
            &Matvec { routed: Some(routed(false)), ..Matvec::dense(&l.up, &s.h, &s.act).epilogue(Epilogue::SiluMul, Some(&s.gate)) },
        )?);
        out.extend(matvec(gpu, env, &Matvec { routed: Some(routed(true)), ..Matvec::dense(&l.down, &s.act, &s.expert_out) })?);
        out.push(moe_combine(gpu, env, &s.routes, &s.expert_out, &s.x, c.n_embd as u32, k)?);
        Ok(())
    }
}
