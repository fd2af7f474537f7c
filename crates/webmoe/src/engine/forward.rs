//! The forward pass as an ordered list of dispatches, recorded once at load and replayed for
//! every submit. Each layer reads top to bottom like the math:
//!
//! ```text
//! x = embd[token] · s_embedding        (granite's multipliers s_*; 1 for the other architectures)
//! h = rms_norm(x) · attn_norm          (first adding the previous MoE layer's s_residual · Σ_j w_j · y_j to x)
//! q | k | v = W_qkv h (+ b_qkv);  q, k = rms_norm per head (qwen3) or whole (olmoe);  rope(q, k);  K[pos], V[pos] = k, v
//! x += Wo · attention(q · s, K[w..=pos], s_residual · V[w..=pos]) (+ bo)   (s = s_attention · sqrt(head_dim),
//!      else 1; w = 0, or the window's first position on sliding layers; the heads' sinks in the softmax)
//! dense:  h = rms_norm(x) · ffn_norm;  x += down(act(gate h, up h))      (act: silu(g) · u, or gpt-oss's clamped form)
//! MoE:    h = rms_norm(x) · ffn_norm;  routes = route(W_router h (+ b_router))   (one kernel; the model's
//!         routing order: top-k then softmax, or softmax then top-k, renormalised or not)
//!         y_s = down_s(silu(gate_s h) · up_s h), g = w_g · h              (a shared expert, qwen2moe)
//!         y_j = down_e(act(gate_e h (+ bg_e), up_e h (+ bu_e))) (+ bd_e) for each route j = (e, w_j)
//! ```
//!
//! and the weighted sum of a MoE layer's expert outputs, Σ_j w_j · y_j (+ sigmoid(g) · y_s), joins
//! the residual stream in the next norm (the next layer's, or the final one). Two bodies are
//! recorded: a decode body whose projections are matrix × vector kernels (one token per submit;
//! routed rows read their expert's slot directly), and a prompt body of tiled matrix × matrix
//! kernels, with each MoE layer's routes grouped per expert on the GPU so every expert runs once
//! over the tokens that chose it. Where the device's matmul tiles cost more than they share when
//! an expert has only a few routes (CPU adapters), a third body runs short chunks' experts
//! through the matvec, route by route, and the rest through the prompt's matmul.

use super::state::{KvCache, Scratch};
use super::weights::{ExpertBiasBuffers, Ffn, GateUp, GateUpBias, LayerWeights, Weights};
use crate::gpu::{Dispatch, Gpu, GpuError, GpuMatrix, StorageBuffer};
use crate::kernels::matmul::{matmul, Grouped, Matmul};
use crate::kernels::attention::AttentionExtras;
use crate::kernels::matvec::{matvec, Bias, Epilogue, Matvec, Routed};
use crate::kernels::moe_group::{moe_group, ExpertGroups};
use crate::kernels::rms_norm::{rms_norm, Combine, SharedOut};
use crate::kernels::rope_kv::{rope_kv, HeadNorm, HeadShape, RopeKv};
use crate::kernels::router::{router, Norm, RouteLog};
use crate::kernels::swiglu::swiglu;
use crate::kernels::{attention::attention, embed::embed, KernelEnv};
use crate::model::{ModelConfig, QkNorm};

/// One layer's dispatches, split where an expert cache must act: `front` ends with the router
/// (its routes are what the cache needs to know), `experts` runs the chosen experts.
pub struct LayerPass {
    pub front: Vec<Dispatch>,
    /// Empty for a dense layer.
    pub experts: Vec<Dispatch>,
}

/// Embedding, every layer and the final norm, for the tokens of one submit.
pub struct Body {
    pub embed: Vec<Dispatch>,
    pub layers: Vec<LayerPass>,
    pub final_norm: Vec<Dispatch>,
}

impl Body {
    /// Every dispatch in order, for a submit that runs the whole body.
    pub fn all(&self) -> impl Iterator<Item = &Dispatch> {
        self.embed.iter().chain(self.layers.iter().flat_map(|l| l.front.iter().chain(&l.experts))).chain(&self.final_norm)
    }

    /// Dispatches inside the layers.
    pub fn layer_dispatches(&self) -> usize {
        self.layers.iter().map(|l| l.front.len() + l.experts.len()).sum()
    }
}

/// The recorded dispatches of a forward pass.
pub struct Passes {
    /// The body for one token (decode).
    pub decode: Body,
    /// The body for a prompt chunk of several tokens.
    pub prompt: Body,
    /// Where the device prefers it ([`crate::gpu::Variants::matvec_experts_below`]): the prompt
    /// body with its routed experts through the matvec, route by route, for chunks whose routes
    /// per expert are too few to pay for the grouped matmul. `None` for dense models.
    pub prompt_few_routes: Option<Body>,
    /// Chunks of fewer tokens than this take `prompt_few_routes`.
    pub few_routes_below: usize,
    /// lm_head over every token of the submit (logits of every position).
    pub head_all: Vec<Dispatch>,
    /// lm_head over the submit's last token (the sampler follows).
    pub head_last: Vec<Dispatch>,
}

impl Passes {
    /// The body for a submit of `n_tokens`.
    pub fn body(&self, n_tokens: usize) -> &Body {
        match &self.prompt_few_routes {
            _ if n_tokens == 1 => &self.decode,
            Some(few) if n_tokens < self.few_routes_below => few,
            _ => &self.prompt,
        }
    }
}

/// With an expert cache, each MoE layer also predicts the next layer's experts: the next
/// layer's router applied to the current residual stream, written to these buffers.
pub struct Prediction<'a> {
    /// (B, H) the next layer's normed input, as predicted.
    pub h: &'a StorageBuffer,
    /// (B, k) routes.
    pub routes: &'a StorageBuffer,
    /// A log the predictions write and nobody reads.
    pub log: &'a StorageBuffer,
}

/// Which projection kernels a body uses.
#[derive(Clone, Copy, PartialEq)]
enum Kernels {
    Matvec,
    Matmul,
}

/// The kernels of a body: one for the dense projections, one for the routed experts.
#[derive(Clone, Copy, PartialEq)]
struct BodyKernels {
    dense: Kernels,
    experts: Kernels,
}

impl BodyKernels {
    const DECODE: BodyKernels = BodyKernels { dense: Kernels::Matvec, experts: Kernels::Matvec };
    const PROMPT: BodyKernels = BodyKernels { dense: Kernels::Matmul, experts: Kernels::Matmul };
    const PROMPT_FEW_ROUTES: BodyKernels = BodyKernels { dense: Kernels::Matmul, experts: Kernels::Matvec };
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
    /// Set when experts stream in: record each layer's prediction of the next.
    pub prediction: Option<Prediction<'a>>,
}

/// One projection `y[·, y_offset..] (epilogue)= W x` of a body.
struct Projection<'a> {
    w: &'a GpuMatrix,
    x: &'a StorageBuffer,
    y: &'a StorageBuffer,
    y_stride: u32,
    y_offset: u32,
    epilogue: Epilogue,
    aux: Option<&'a StorageBuffer>,
    /// For expert matrices: the layer, and whether each route reads its own input row.
    experts: Option<(usize, bool)>,
    bias: Option<Bias<'a>>,
}

impl<'a> Projection<'a> {
    fn new(w: &'a GpuMatrix, x: &'a StorageBuffer, y: &'a StorageBuffer) -> Self {
        Projection { w, x, y, y_stride: w.rows, y_offset: 0, epilogue: Epilogue::Store, aux: None, experts: None, bias: None }
    }

    /// Add `values[e · stride + n]` to output n (e: the route's expert, or 0).
    fn bias(mut self, values: Option<&'a StorageBuffer>, stride: u32) -> Self {
        self.bias = values.map(|values| Bias { values, stride });
        self
    }

    fn epilogue(mut self, epilogue: Epilogue, aux: Option<&'a StorageBuffer>) -> Self {
        self.epilogue = epilogue;
        self.aux = aux;
        self
    }

    fn rows_of(mut self, stride: u32, offset: u32) -> Self {
        self.y_stride = stride;
        self.y_offset = offset;
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
        let c = self.config;
        // Tokens per chunk below which a chunk's routes per expert (n · k / E) fall under the
        // device's threshold.
        let few_routes_below = (gpu.variants.matvec_experts_below as usize * c.n_expert).div_ceil(c.n_expert_used.max(1));
        let moe = w.layers.iter().any(|l| l.router.is_some());
        let prompt_few_routes = if moe && few_routes_below > 2 { Some(self.body(w, BodyKernels::PROMPT_FEW_ROUTES)?) } else { None };
        Ok(Passes {
            decode: self.body(w, BodyKernels::DECODE)?,
            prompt: self.body(w, BodyKernels::PROMPT)?,
            prompt_few_routes,
            few_routes_below,
            head_all,
            head_last,
        })
    }

    /// The experts whose outputs the next norm adds to the residual stream, after layer `l`.
    fn combine_after(&self, l: &LayerWeights) -> Option<Combine<'_>> {
        let s = self.scratch;
        let shared = l.shared.as_ref().and(s.shared.as_ref()).map(|b| SharedOut { out: &b.out, gate: &b.gate });
        let (k, scale) = (self.config.n_expert_used as u32, self.config.scales.residual);
        l.router.as_ref().map(|_| Combine { routes: &s.routes, expert_out: &s.expert_out, k, shared, scale })
    }

    fn body(&self, w: &Weights, kernels: BodyKernels) -> Result<Body, GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        let embed = embed(gpu, env, &w.token_embd, &s.tokens, &s.x, c.scales.embedding)?;
        let mut layers = Vec::with_capacity(w.layers.len());
        let mut pending: Option<Combine> = None;
        for (i, layer) in w.layers.iter().enumerate() {
            let mut front = vec![rms_norm(gpu, env, &s.x, &layer.attn_norm, &s.h, c.n_embd as u32, c.rms_eps, pending.take())?];
            self.attention_block(&mut front, kernels.dense, i, layer)?;
            let mut experts = Vec::new();
            self.ffn_block(&mut front, &mut experts, kernels, i, layer, w.ffn(i), w.layers.get(i + 1))?;
            layers.push(LayerPass { front, experts });
            pending = self.combine_after(layer);
        }
        let final_norm = vec![rms_norm(gpu, env, &s.x, &w.output_norm, &s.h, c.n_embd as u32, c.rms_eps, pending)?];
        Ok(Body { embed, layers, final_norm })
    }

    fn attention_block(&self, out: &mut Vec<Dispatch>, kernels: Kernels, i: usize, l: &LayerWeights) -> Result<(), GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        let shape = HeadShape { n_head: c.n_head as u32, n_head_kv: c.n_head_kv as u32, head_dim: c.head_dim as u32 };
        let (k_cache, v_cache) = (&self.kv.keys[i], &self.kv.values[i]);
        for part in &l.qkv {
            out.extend(self.project(kernels, Projection::new(&part.weights, &s.h, &s.qkv).rows_of(shape.qkv_dim(), part.offset))?);
        }
        // q, k, v (+= biases); q, k = rms_norm per head (· q_norm, k_norm); rope(q, k); K[pos], V[pos] = k, v
        let whole = c.features.qk_norm == QkNorm::Whole;
        let qk_norm = l.qk_norm.as_ref().map(|[q, k]| HeadNorm { q, k, eps: c.rms_eps, whole });
        let r = RopeKv {
            shape,
            rope_dim: c.rope_dim as u32,
            mode: c.features.rope,
            table: self.rope_table,
            qkv: &s.qkv,
            k_cache,
            v_cache,
            kv_f16: self.kv.f16,
            bias: l.qkv_bias.as_ref(),
            qk_norm,
            // Granite: scores q·k · attention.scale; x += residual_scale · Wo · attention.
            q_factor: c.scales.attention.map_or(1.0, |a| a * (c.head_dim as f32).sqrt()),
            v_factor: c.scales.residual,
        };
        out.push(rope_kv(gpu, env, &r)?);
        let extras = AttentionExtras { window: c.attention_window(i).map(|w| w.min(u32::MAX as usize) as u32), sinks: l.attn_sinks.as_ref() };
        out.push(attention(gpu, env, shape, &s.qkv, shape.qkv_dim(), k_cache, v_cache, &s.att, self.kv.f16, extras)?);
        out.extend(self.project(kernels, Projection::new(&l.wo, &s.att, &s.x).epilogue(Epilogue::Add, None).bias(l.wo_bias.as_ref(), 0))?);
        Ok(())
    }

    /// The FFN of layer `i`: dense entirely into `front`; MoE with the router (and the
    /// prediction of layer `next`'s experts) into `front` and the expert kernels into `experts`.
    #[allow(clippy::too_many_arguments)]
    fn ffn_block(
        &self,
        front: &mut Vec<Dispatch>,
        experts: &mut Vec<Dispatch>,
        kernels: BodyKernels,
        i: usize,
        l: &LayerWeights,
        ffn: &Ffn,
        next: Option<&LayerWeights>,
    ) -> Result<(), GpuError> {
        let (gpu, env, s, c) = (self.gpu, self.env, self.scratch, self.config);
        let Some(router_w) = &l.router else {
            // Dense SwiGLU: x += down(silu(gate h) · up h)
            front.push(rms_norm(gpu, env, &s.x, &l.ffn_norm, &s.h, c.n_embd as u32, c.rms_eps, None)?);
            self.swiglu_block(front, kernels.dense, ffn, None)?;
            front.extend(self.project(kernels.dense, Projection::new(&ffn.down, &s.act, &s.x).epilogue(Epilogue::Add, None))?);
            return Ok(());
        };
        let k = c.n_expert_used as u32;
        let log = RouteLog { buffer: self.route_log, positions: self.kv.max_ctx as u32, n_layer: c.n_layer as u32, layer: i as u32 };
        let norm = Norm { weight: &l.ffn_norm, eps: c.rms_eps, h: &s.h };
        front.push(router(gpu, env, router_w, l.router_bias.as_ref(), k, c.features.routing, &s.x, &norm, &s.routes, &log)?);
        if let (Some(p), Some(next_router), Some(next)) = (&self.prediction, next.and_then(|n| n.router.as_ref()), next) {
            let log = RouteLog { buffer: p.log, positions: 1, n_layer: 1, layer: 0 };
            let norm = Norm { weight: &next.ffn_norm, eps: c.rms_eps, h: p.h };
            front.push(router(gpu, env, next_router, next.router_bias.as_ref(), k, c.features.routing, &s.x, &norm, p.routes, &log)?);
        }
        if let (Some(shared), Some(out)) = (&l.shared, &s.shared) {
            // The shared expert, resident, before the routed experts reuse act:
            // y_s = down_s(silu(gate_s h) · up_s h), g = w_g · h
            self.swiglu_block(front, kernels.dense, &shared.ffn, None)?;
            front.extend(self.project(kernels.dense, Projection::new(&shared.ffn.down, &s.act, &out.out))?);
            front.extend(self.project(kernels.dense, Projection::new(&shared.gate_inp, &s.h, &out.gate))?);
        }
        if kernels.experts == Kernels::Matmul {
            experts.push(moe_group(gpu, env, &s.routes, self.groups)?);
        }
        // Per route j of each token: y_j = down_e(act(gate_e h + bg_e, up_e h + bu_e)) + bd_e
        let biases = l.expert_biases.as_ref();
        self.swiglu_block(experts, kernels.experts, ffn, Some((i, biases)))?;
        let down = Projection::new(&ffn.down, &s.act, &s.expert_out).experts(i, true).bias(biases.map(|b| &b.down), c.n_embd as u32);
        experts.extend(self.project(kernels.experts, down)?);
        Ok(())
    }

    /// `act = act(gate h, up h)`, per token (dense) or per route (`experts`: the layer and its
    /// experts' biases).
    fn swiglu_block(&self, out: &mut Vec<Dispatch>, kernels: Kernels, ffn: &Ffn, experts: Option<(usize, Option<&ExpertBiasBuffers>)>) -> Result<(), GpuError> {
        let (gpu, env, s) = (self.gpu, self.env, self.scratch);
        fn routed(p: Projection<'_>, layer: Option<usize>) -> Projection<'_> {
            match layer {
                Some(layer) => p.experts(layer, false),
                None => p,
            }
        }
        let layer = experts.map(|(layer, _)| layer);
        let biases = experts.and_then(|(_, b)| b).map(|b| &b.gate_up);
        match &ffn.gate_up {
            GateUp::Stacked(gu) => {
                let bias = match biases {
                    Some(GateUpBias::Stacked(b)) => Some(b),
                    _ => None,
                };
                if kernels == Kernels::Matvec {
                    out.extend(self.project_paired(routed(Projection::new(gu, &s.h, &s.act).rows_of(gu.rows / 2, 0), layer).bias(bias, gu.rows))?);
                } else {
                    out.extend(self.project(kernels, routed(Projection::new(gu, &s.h, &s.gate_up), layer).bias(bias, gu.rows))?);
                    let per_token = if experts.is_some() { self.config.n_expert_used as u32 } else { 1 };
                    out.push(swiglu(gpu, env, &s.gate_up, &s.act, gu.rows / 2, per_token, self.config.features.activation)?);
                }
            }
            GateUp::Separate { gate, up } => {
                let (gate_bias, up_bias) = match biases {
                    Some(GateUpBias::Separate { gate, up }) => (Some(gate), Some(up)),
                    _ => (None, None),
                };
                out.extend(self.project(kernels, routed(Projection::new(gate, &s.h, &s.gate_up), layer).bias(gate_bias, gate.rows))?);
                let up_then_act = Projection::new(up, &s.h, &s.act).epilogue(Epilogue::SiluMul, Some(&s.gate_up)).bias(up_bias, up.rows);
                out.extend(self.project(kernels, routed(up_then_act, layer))?);
            }
        }
        Ok(())
    }

    fn routed(&self, layer: usize, input_per_route: bool) -> Routed<'_> {
        Routed {
            routes: &self.scratch.routes,
            slots: self.slots,
            slot_base: (layer * self.config.n_expert) as u32,
            k: self.config.n_expert_used as u32,
            input_per_route,
        }
    }

    /// The dispatches of one projection with the body's kernels. Output rows are packed by
    /// default: a dense projection writes one row per token, an expert projection one per route.
    fn project(&self, kernels: Kernels, p: Projection) -> Result<Vec<Dispatch>, GpuError> {
        let (gpu, env) = (self.gpu, self.env);
        match kernels {
            Kernels::Matvec => {
                let routed = p.experts.map(|(layer, input_per_route)| self.routed(layer, input_per_route));
                let mv = Matvec {
                    routed,
                    y_stride: p.y_stride,
                    y_offset: p.y_offset,
                    bias: p.bias,
                    activation: self.config.features.activation,
                    ..Matvec::dense(p.w, p.x, p.y).epilogue(p.epilogue, p.aux)
                };
                matvec(gpu, env, &mv)
            }
            Kernels::Matmul => {
                let mut m = Matmul {
                    y_stride: p.y_stride,
                    y_offset: p.y_offset,
                    bias: p.bias,
                    activation: self.config.features.activation,
                    ..Matmul::dense(p.w, p.x, p.y).epilogue(p.epilogue, p.aux)
                };
                if let Some((layer, input_per_route)) = p.experts {
                    let slot_base = (layer * self.config.n_expert) as u32;
                    m = m.grouped(Grouped { groups: self.groups, slots: self.slots, slot_base, input_per_route });
                }
                matmul(gpu, env, &m)
            }
        }
    }

    /// A stacked gate | up projection straight to the SwiGLU activation (decode).
    fn project_paired(&self, p: Projection) -> Result<Vec<Dispatch>, GpuError> {
        let routed = p.experts.map(|(layer, input_per_route)| self.routed(layer, input_per_route));
        let mv = Matvec {
            routed,
            y_stride: p.y_stride,
            y_offset: p.y_offset,
            paired: true,
            bias: p.bias,
            activation: self.config.features.activation,
            ..Matvec::dense(p.w, p.x, p.y)
        };
        matvec(self.gpu, self.env, &mv)
    }
}
