//! What an engine will allocate, computed from the model alone: for `webmoe inspect`, for
//! fitting a GPU memory budget, and checked against what a loaded engine reports.

use super::options::{EngineOptions, KvType, DEFAULT_CONTEXT};
use super::weights::{shared_expert_bytes, stacked_bytes, Stacking};
use crate::error::{Error, Result};
use crate::experts::{expert_bytes, minimum_budget, PoolShape, SlotPlan};
use crate::model::{Model, ModelConfig};
use crate::sampler::MAX_REPEAT_LAST_N;

/// GPU bytes by purpose.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryReport {
    /// Every weight on the GPU, expert slots included.
    pub weights: u64,
    /// Of `weights`, the expert slots.
    pub experts: u64,
    pub kv_cache: u64,
    /// Activations of one submit.
    pub scratch: u64,
    /// Tables and small buffers: RoPE angles, expert slots table, routing log, sampler state.
    pub other: u64,
}

impl MemoryReport {
    /// The sum; [`allocation`] checked that it fits in a `u64`.
    pub fn total(&self) -> u64 {
        self.weights.saturating_add(self.kv_cache).saturating_add(self.scratch).saturating_add(self.other)
    }
}

/// The KV cache length: the request, or the model's context capped at [`DEFAULT_CONTEXT`].
pub(super) fn context_length(model_ctx: usize, requested: Option<usize>) -> Result<usize> {
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

/// Bytes one token of a submit's activations needs in every buffer, and the widest row (which
/// must fit one binding). In u128: the widths come from metadata, so an absurd header must not
/// wrap them into a small size.
fn scratch_per_token(c: &ModelConfig) -> (u128, u128) {
    let w = |v: usize| v as u128;
    let k = w(c.n_expert_used);
    // The routes' SwiGLU values, or the shared expert's where it is wider.
    let ffn = (k * w(c.n_ff)).max(w(c.n_ff_shexp));
    // The shared expert's output and gate logit.
    let shared = if c.n_ff_shexp > 0 { w(c.n_embd) + 1 } else { 0 };
    // x, h, qkv, att, gate_up, act, expert_out, logits, shared (f32); routes (8 bytes each), tokens (u32).
    let per_token = 4 * (2 * w(c.n_embd) + 2 * w(c.q_dim()) + 2 * w(c.kv_dim()) + 3 * ffn + k * w(c.n_embd) + w(c.vocab_size) + shared) + 8 * k + 4;
    let widest = [w(c.n_embd), w(c.q_dim()) + 2 * w(c.kv_dim()), 2 * ffn, k * w(c.n_embd), w(c.vocab_size)].into_iter().max().unwrap_or(1) * 4;
    (per_token, widest)
}

/// The prompt batch that fits: at most `wanted`, each scratch buffer within one binding.
pub(super) fn fitting_batch(c: &ModelConfig, wanted: usize, binding_limit: u64) -> Option<usize> {
    let (_, widest) = scratch_per_token(c);
    match binding_limit as u128 / widest {
        0 => None,
        fit => Some(wanted.min(usize::try_from(fit).unwrap_or(usize::MAX))),
    }
}

/// GPU bytes of one expert slot of each layer (every expert matrix, as stacked).
pub(super) fn expert_slot_bytes(model: &Model, binding_limit: u64) -> Vec<u64> {
    if !model.config.is_moe() {
        return Vec::new();
    }
    model.layout.layers.iter().map(|ly| ExpertShape::of(ly, binding_limit).slot_bytes()).collect()
}

/// What decides whether two layers' experts can share slots: each GPU matrix of an expert,
/// as stacked, by type and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ExpertShape {
    /// (type, cols, rows) of the gate | up stack, or of gate then up when they are separate.
    gate_up: [(crate::gguf::GgmlType, usize, usize); 2],
    stacked: bool,
    down: (crate::gguf::GgmlType, usize, usize),
}

impl ExpertShape {
    pub fn of(ly: &crate::model::LayerLayout, binding_limit: u64) -> ExpertShape {
        let st = Stacking::of(ly, binding_limit);
        let dims = |m: &crate::model::Matrix| (m.ty, m.cols, m.rows);
        ExpertShape { gate_up: [dims(st.gate), dims(st.up)], stacked: st.gate_up_stacked, down: dims(&ly.ffn.down) }
    }

    /// GPU bytes of one expert: each matrix's slot padded to a word.
    fn slot_bytes(&self) -> u64 {
        let bytes = |(ty, cols, rows): (crate::gguf::GgmlType, usize, usize)| ty.row_bytes(cols as u64).unwrap_or(0) * rows as u64;
        let one = |b: u64| b.div_ceil(4) * 4;
        let [gate, up] = self.gate_up;
        let gate_up = if self.stacked { one(bytes(gate) + bytes(up)) } else { one(bytes(gate)) + one(bytes(up)) };
        gate_up + one(bytes(self.down))
    }
}

/// The expert pools of `model`: layers grouped by the shape of their experts, in the order of
/// their first layer. Empty for a dense model.
pub(super) fn expert_pools(model: &Model, binding_limit: u64) -> Vec<PoolShape> {
    if !model.config.is_moe() {
        return Vec::new();
    }
    let mut keys: Vec<ExpertShape> = Vec::new();
    let mut pools: Vec<PoolShape> = Vec::new();
    for (l, ly) in model.layout.layers.iter().enumerate() {
        let key = ExpertShape::of(ly, binding_limit);
        match keys.iter().position(|k| *k == key) {
            Some(p) => pools[p].layers.push(l),
            None => {
                keys.push(key);
                pools.push(PoolShape { layers: vec![l], slot_bytes: key.slot_bytes() });
            }
        }
    }
    pools
}

/// What an engine allocates for `model` with `options` when its experts are placed as `plan`
/// says (`Pooled` with no slots: the resident part alone), for a binding limit of
/// `binding_limit` bytes.
pub(super) fn allocation(model: &Model, options: &EngineOptions, binding_limit: u64, plan: &SlotPlan) -> Result<MemoryReport> {
    let c = &model.config;
    let max_ctx = context_length(c.context_length, options.context_length)?;
    let l = &model.layout;
    let mut dense = stacked_bytes(&[&l.token_embd]) + if l.tied_output { 0 } else { stacked_bytes(&[&l.output]) };
    for ly in &l.layers {
        let st = Stacking::of(ly, binding_limit);
        dense += st.qkv.iter().map(|run| stacked_bytes(run)).sum::<u64>() + stacked_bytes(&[&ly.wo]);
        dense += ly.ffn.router.as_ref().map_or(0, |r| stacked_bytes(&[r]));
        // A shared expert is resident whatever the budget: every token runs it.
        dense += ly.ffn.shared.as_ref().map_or(0, |s| shared_expert_bytes(s, binding_limit));
        if !c.is_moe() {
            dense += st.bytes() - st.qkv.iter().map(|run| stacked_bytes(run)).sum::<u64>() + stacked_bytes(&[&ly.ffn.down]);
        }
    }
    let experts = if c.is_moe() { expert_bytes(plan, &expert_pools(model, binding_limit), c.n_expert) } else { 0 };
    // Sizes that scale with metadata fields (context, widths, vocabulary) are summed in u128: a
    // damaged or absurd header must get an error here, not a wrapped size that looks small.
    let wide = |v: usize| v as u128;
    // Norms and biases, f32: their lengths come from the file's own tensors.
    let vectors = 4 * (wide(l.output_norm.len) + l.layers.iter().flat_map(|ly| ly.vectors()).map(|v| wide(v.len)).sum::<u128>());
    let kv_cache = 2 * wide(c.n_layer) * wide(max_ctx) * wide(c.kv_dim()) * if options.kv_type == KvType::F16 { 2 } else { 4 };
    let batch = wide(fitting_batch(c, options.batch.min(max_ctx), binding_limit).unwrap_or(1));
    let (per_token, _) = scratch_per_token(c);
    let (k, e, layers, ctx) = (wide(c.n_expert_used), wide(c.n_expert), wide(c.n_layer), wide(max_ctx));
    let streaming = matches!(plan, SlotPlan::Pooled(_)) && c.is_moe();
    let other = 8 * ctx * (wide(c.rope_dim) / 2)                   // RoPE cos/sin table
        + 4 * layers * e                                           // expert → slot table
        + 4 * (e + (e + 1) + batch * k)                            // expert groups of a prompt batch
        + 4 * ctx * layers * k                                     // routing log
        + 4 * MAX_REPEAT_LAST_N as u128                             // sampler history
        + if streaming { 4 * batch * wide(c.n_embd) + 8 * batch * k + 4 * k } else { 0 }; // predictions
    let scratch = batch * per_token;
    let weights = dense as u128 + experts + vectors;
    if weights + kv_cache + scratch + other > u64::MAX as u128 {
        return Err(Error::InvalidOption {
            option: "context length".into(),
            value: max_ctx.to_string(),
            why: format!(
                "the model would need {kv_cache} bytes of KV cache and {} bytes in all, more than any device holds; use a shorter context (-c) or check the model's metadata",
                weights + kv_cache + scratch + other
            ),
        });
    }
    // Each part is at most the sum just checked.
    let narrow = |v: u128| v as u64;
    Ok(MemoryReport { weights: narrow(weights), experts: narrow(experts), kv_cache: narrow(kv_cache), scratch: narrow(scratch), other: narrow(other) })
}

/// GPU bytes an engine for `model` with `options` will allocate, computed without a GPU, for a
/// binding limit of `binding_limit` bytes: with every expert resident, or as the budget allows.
pub fn footprint(model: &Model, options: &EngineOptions, binding_limit: u64) -> Result<MemoryReport> {
    allocation(model, options, binding_limit, &super::plan(model, options, binding_limit)?)
}

/// What fitting a model into a GPU budget involves.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetFacts {
    /// Everything but the experts when experts stream in: the weights every token uses, the KV
    /// cache, scratch and tables.
    pub resident: u64,
    /// One expert of every layer.
    pub slot_bytes_all_layers: u64,
    /// Every expert of every layer.
    pub all_experts: u64,
    /// The smallest budget that runs: the resident bytes and, in each pool of layers that share
    /// expert slots, the experts one token uses in one layer.
    pub minimum: u64,
    /// The pools of layers that share expert slots.
    pub pools: Vec<PoolShape>,
}

impl BudgetFacts {
    /// The budget that holds `share` (0..=1) of all experts besides the resident bytes.
    pub fn budget_for_share(&self, share: f64) -> u64 {
        self.resident + (self.all_experts as f64 * share) as u64
    }
}

/// The resident bytes and expert sizes of `model` under `options`, for a binding limit of
/// `binding_limit` bytes.
pub fn budget_facts(model: &Model, options: &EngineOptions, binding_limit: u64) -> Result<BudgetFacts> {
    let resident = allocation(model, options, binding_limit, &SlotPlan::Pooled(Vec::new()))?.total();
    let slot_bytes_all_layers: u64 = expert_slot_bytes(model, binding_limit).iter().sum();
    let c = &model.config;
    let pools = expert_pools(model, binding_limit);
    let (all_experts, minimum) = if c.is_moe() {
        ((c.n_expert as u64).saturating_mul(slot_bytes_all_layers), minimum_budget(resident, &pools, c.n_expert_used))
    } else {
        (0, allocation(model, options, binding_limit, &SlotPlan::AllResident)?.total())
    };
    Ok(BudgetFacts { resident, slot_bytes_all_layers, all_experts, minimum, pools })
}
