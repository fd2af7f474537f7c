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
//!
//! Two bodies are recorded: a decode body whose projections are matrix × vector kernels (one
//! token per submit; routed rows read their expert's slot directly), and a prompt body whose
//! projections are tiled matrix × matrix kernels, with each layer's routes grouped per expert on
//! the GPU so every expert runs once over the tokens that chose it.

use super::state::{KvCache, Scratch};
use super::weights::{LayerWeights, Weights};
use crate::gpu::{Dispatch, Gpu, GpuError, GpuMatrix, StorageBuffer};
use crate::kernels::matmul::{matmul, Grouped, Matmul};
use crate::kernels::matvec::{matvec, Epilogue, Matvec, Routed};
use crate::kernels::moe_group::{moe_group, ExpertGroups};
use crate::kernels::rope_kv::HeadShape;
use crate::kernels::router::RouteLog;
use crate::kernels::{attention::attention, embed::embed, moe_combine::moe_combine, rms_norm::rms_norm, rope_kv::rope_kv, router::router, KernelEnv};
use crate::model::ModelConfig;

/// The recorded dispatches of a forward pass.
pub struct Passes {
    /// Embedding, every layer and the final norm for one token.
    pub decode_body: Vec<Dispatch>,
    /// The same for a prompt chunk of several tokens.
    pub prompt_body: Vec<Dispatch>,
    /// lm_head over every token of the submit (logits of every position).
    pub head_all: Vec<Dispatch>,
    /// lm_head over the submit's last token (the sampler follows).
    pub head_last: Vec<Dispatch>,
}

impl Passes {
    /// The body for a submit of `n_tokens`.
    pub fn body(&self, n_tokens: usize) -> &[Dispatch] {
        if n_tokens == 1 {
            &self.decode_body
        } else {
            &self.prompt_body
        }
    }
}

/// Which projection kernels a body uses.
#[derive(Clone, Copy, PartialEq)]
enum Kernels {
    Matvec,
    Matmul,
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
    /// Each prompt layer's routes grouped per expert (regrouped by every layer).
    pub groups: &'a ExpertGroups,
    /// Chosen experts per (position, layer), (max_ctx, layers, k).
    pub route_log: &'a StorageBuffer,
}

/// One projection `y (epilogue)= W x` of a body.
struct Projection<'a> {
    w: &'a GpuMatrix,
    x: &'a StorageBuffer,
    y: &'a StorageBuffer,
    epilogue: Epilogue,
    aux: Option<&'a StorageBuffer>,
    /// For expert matrices: the layer, and whether each route reads its own input row.
    experts: Option<(usize, bool)>,
}

impl<'a> Projection<'a> {
    fn new(w: &'a GpuMatrix, x: &'a StorageBuffer, y: &'a StorageBuffer) -> Self {
        Projection { w, x, y, epilogue: Epilogue::Store, aux: None, experts: None }
    }

    fn epilogue(mut self, epilogue: Epilogue, aux: Option<&'a StorageBuffer>) -> Self {
        self.epilogue = epilogue;
        self.aux = aux;
        self
    }

    fn experts(mut self, layer: usize, input_per_route: bool) -> Self {
        self.experts = Some((layer, input_per_route));
        self
    }
}

impl Bound<'_> {
    pub fn record(&self, w: &Weights) -> Result<Passes, GpuError> {
        let (gpu, env, s) = (self.gpu, self.env, self.scratch);
        let head_all = matvec(gpu, env, &Matvec::dense(w.output(), &s.h, &s.logits))?;
        let head_last = matvec(gpu, env, &Matvec { last_token_only: true, ..Matvec::dense(w.output(), &s.h, &s.logits) })?;
        Ok(Passes { decode_body: self.body(w, Kernels::Matvec)?, prompt_body: self.body(w, Kernels::Matmul)?, head_all, head_last })
    }

    fn body(&self, w: &Weights, kernels: Kernels) -> Result<Vec<Dispatch>, GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        let mut body = embed(gpu, env, &w.token_embd, &s.tokens, &s.x)?;
        for (i, layer) in w.layers.iter().enumerate() {
            self.attention_block(&mut body, kernels, i, layer)?;
            self.ffn_block(&mut body, kernels, i, layer)?;
        }
        body.push(rms_norm(gpu, env, &s.x, &w.output_norm, &s.h, c.n_embd as u32, c.rms_eps)?);
        Ok(body)
    }

    fn attention_block(&self, out: &mut Vec<Dispatch>, kernels: Kernels, i: usize, l: &LayerWeights) -> Result<(), GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        let shape = HeadShape { n_head: c.n_head as u32, n_head_kv: c.n_head_kv as u32, head_dim: c.head_dim as u32 };
        let (k_cache, v_cache) = (&self.kv.keys[i], &self.kv.values[i]);
        out.push(rms_norm(gpu, env, &s.x, &l.attn_norm, &s.h, c.n_embd as u32, c.rms_eps)?);
        out.extend(self.project(kernels, Projection::new(&l.wq, &s.h, &s.q))?);
        out.extend(self.project(kernels, Projection::new(&l.wk, &s.h, &s.k))?);
        out.extend(self.project(kernels, Projection::new(&l.wv, &s.h, &s.v))?);
        out.push(rope_kv(gpu, env, shape, c.rope_dim as u32, self.rope_table, &s.q, &s.k, &s.v, k_cache, v_cache, self.kv.f16)?);
        out.push(attention(gpu, env, shape, &s.q, k_cache, v_cache, &s.att, self.kv.f16)?);
        out.extend(self.project(kernels, Projection::new(&l.wo, &s.att, &s.x).epilogue(Epilogue::Add, None))?);
        Ok(())
    }

    fn ffn_block(&self, out: &mut Vec<Dispatch>, kernels: Kernels, i: usize, l: &LayerWeights) -> Result<(), GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        out.push(rms_norm(gpu, env, &s.x, &l.ffn_norm, &s.h, c.n_embd as u32, c.rms_eps)?);
        let Some(router_w) = &l.router else {
            // Dense SwiGLU: x += down(silu(gate h) · up h)
            out.extend(self.project(kernels, Projection::new(&l.gate, &s.h, &s.gate))?);
            out.extend(self.project(kernels, Projection::new(&l.up, &s.h, &s.act).epilogue(Epilogue::SiluMul, Some(&s.gate)))?);
            out.extend(self.project(kernels, Projection::new(&l.down, &s.act, &s.x).epilogue(Epilogue::Add, None))?);
            return Ok(());
        };
        let k = c.n_expert_used as u32;
        let log = RouteLog { buffer: self.route_log, positions: self.kv.max_ctx as u32, n_layer: c.n_layer as u32, layer: i as u32 };
        out.push(router(gpu, env, router_w, k, &s.h, &s.routes, &log)?);
        if kernels == Kernels::Matmul {
            out.push(moe_group(gpu, env, &s.routes, self.groups)?);
        }
        // Per route j of each token: y_j = down_e(silu(gate_e h) · up_e h)
        out.extend(self.project(kernels, Projection::new(&l.gate, &s.h, &s.gate).experts(i, false))?);
        out.extend(self.project(kernels, Projection::new(&l.up, &s.h, &s.act).epilogue(Epilogue::SiluMul, Some(&s.gate)).experts(i, false))?);
        out.extend(self.project(kernels, Projection::new(&l.down, &s.act, &s.expert_out).experts(i, true))?);
        out.push(moe_combine(gpu, env, &s.routes, &s.expert_out, &s.x, c.n_embd as u32, k)?);
        Ok(())
    }

    /// The dispatches of one projection with the body's kernels. Output rows are packed: a
    /// dense projection writes one row per token, an expert projection one row per route.
    fn project(&self, kernels: Kernels, p: Projection) -> Result<Vec<Dispatch>, GpuError> {
        let (gpu, env) = (self.gpu, self.env);
        let slot_base = |layer: usize| (layer * self.config.n_expert) as u32;
        match kernels {
            Kernels::Matvec => {
                let routed = p.experts.map(|(layer, input_per_route)| Routed {
                    routes: &self.scratch.routes,
                    slots: self.slots,
                    slot_base: slot_base(layer),
                    k: self.config.n_expert_used as u32,
                    input_per_route,
                });
                matvec(gpu, env, &Matvec { routed, ..Matvec::dense(p.w, p.x, p.y).epilogue(p.epilogue, p.aux) })
            }
            Kernels::Matmul => {
                let mut m = Matmul::dense(p.w, p.x, p.y).epilogue(p.epilogue, p.aux);
                if let Some((layer, input_per_route)) = p.experts {
                    m = m.grouped(Grouped { groups: self.groups, slots: self.slots, slot_base: slot_base(layer), input_per_route });
                }
                matmul(gpu, env, &m)
            }
        }
    }
}
