//! Model hyper-parameters from GGUF metadata, read under the architecture's key prefix
//! (`qwen3moe.expert_count`) and checked against what the architecture allows.

use super::arch::{Architecture, Features, Need, Routing};
use super::error::ModelError;
use super::rope::{Rope, RopeScaling};
use crate::gguf::Gguf;

/// Most experts per layer and most experts per token that the router kernel handles.
pub const MAX_EXPERTS: usize = 256;
pub const MAX_EXPERTS_USED: usize = 8;

/// Scalar multipliers of the forward pass (granite's); [`Scales::NONE`] for the other
/// architectures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scales {
    /// `x = token_embd[t] · embedding`.
    pub embedding: f32,
    /// Each branch's output (attention, MoE) is multiplied by this before it joins the residual
    /// stream.
    pub residual: f32,
    /// Attention scores are `q·k · attention` (instead of `q·k / sqrt(head_dim)`).
    pub attention: Option<f32>,
    /// Logits are divided by this.
    pub logit: f32,
}

impl Scales {
    pub const NONE: Scales = Scales { embedding: 1.0, residual: 1.0, attention: None, logit: 1.0 };

    /// The multipliers in words, for `webmoe inspect`; none for [`Scales::NONE`].
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.embedding != 1.0 {
            out.push(format!("embedding ×{}", self.embedding));
        }
        if self.residual != 1.0 {
            out.push(format!("residual branches ×{}", self.residual));
        }
        if let Some(a) = self.attention {
            out.push(format!("attention scale {a}"));
        }
        if self.logit != 1.0 {
            out.push(format!("logits ÷{}", self.logit));
        }
        out
    }
}

/// Sliding-window attention on some layers: a sliding layer's query at position p attends to
/// positions p − size + 1 ..= p (llama.cpp masks p − p_k ≥ size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlidingWindow {
    pub size: usize,
    /// Layer l slides when l % pattern < pattern − 1 (every pattern-th layer attends to all).
    pub pattern: usize,
}

impl SlidingWindow {
    pub fn slides(&self, layer: usize) -> bool {
        layer % self.pattern < self.pattern - 1
    }
}

/// The shape of a model, with or without experts, and the steps of its forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub arch: Architecture,
    pub features: Features,
    pub name: Option<String>,
    /// Hidden size (H).
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Query/key/value width of one head (`attention.key_length`, else H / n_head).
    pub head_dim: usize,
    /// Leading dims of each head that RoPE rotates (usually `head_dim`).
    pub rope_dim: usize,
    /// FFN width of one expert (or of the dense FFN).
    pub n_ff: usize,
    /// FFN width of the shared expert; 0 without one.
    pub n_ff_shexp: usize,
    /// Experts per layer; 1 for a dense model.
    pub n_expert: usize,
    /// Experts each token uses (top-k); 1 for a dense model.
    pub n_expert_used: usize,
    pub vocab_size: usize,
    pub rope_theta: f32,
    pub rope_scaling: RopeScaling,
    pub rms_eps: f32,
    pub scales: Scales,
    /// The context the model was trained for.
    pub context_length: usize,
    pub sliding_window: Option<SlidingWindow>,
}

impl ModelConfig {
    pub fn is_moe(&self) -> bool {
        self.n_expert > 1
    }

    /// How RoPE turns each rotated pair of a head at each position, before the file's frequency
    /// factors ([`super::ModelLayout::rope_freqs`]) divide the angles.
    pub fn rope(&self) -> Rope {
        Rope::new(self.rope_dim, self.rope_theta, self.rope_scaling)
    }

    /// How many past positions (the query's own included) layer `layer` attends to; `None`: all.
    pub fn attention_window(&self, layer: usize) -> Option<usize> {
        self.sliding_window.filter(|w| w.slides(layer)).map(|w| w.size)
    }

    /// Width of the query projection output (n_head × head_dim).
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// Width of the key and of the value projection output (n_head_kv × head_dim).
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }

    pub fn from_gguf(g: &Gguf) -> Result<ModelConfig, ModelError> {
        let arch_name = g.str("general.architecture")?;
        let arch = Architecture::from_name(arch_name).ok_or_else(|| ModelError::UnknownArchitecture { arch: arch_name.into() })?;
        let spec = arch.spec();
        let key = |k: &str| format!("{arch}.{k}");
        let required = |k: &str| -> Result<usize, ModelError> { to_usize(&key(k), g.u64(&key(k))?) };
        let optional = |k: &str| -> Result<Option<usize>, ModelError> {
            g.u64_opt(&key(k))?.map(|v| to_usize(&key(k), v)).transpose()
        };
        let bad = |k: &str, v: &dyn std::fmt::Display, why: &str| ModelError::BadValue { key: key(k), value: v.to_string(), why: why.into() };

        let n_embd = required("embedding_length")?;
        let n_layer = required("block_count")?;
        let n_head = required("attention.head_count")?;
        let n_head_kv = optional("attention.head_count_kv")?.unwrap_or(n_head);
        let context_length = required("context_length")?;
        for (k, v) in
            [("embedding_length", n_embd), ("block_count", n_layer), ("attention.head_count", n_head), ("attention.head_count_kv", n_head_kv), ("context_length", context_length)]
        {
            if v == 0 {
                return Err(bad(k, &v, "it must be positive"));
            }
        }
        if n_head % n_head_kv != 0 {
            return Err(bad("attention.head_count_kv", &n_head_kv, &format!("it must divide the head count {n_head}")));
        }
        let head_dim = match optional("attention.key_length")? {
            Some(0) => return Err(bad("attention.key_length", &0, "it must be positive")),
            Some(k) => k,
            None if n_embd % n_head == 0 => n_embd / n_head,
            None => return Err(bad("attention.head_count", &n_head, &format!("it must divide the embedding length {n_embd}"))),
        };
        if let Some(v) = optional("attention.value_length")? {
            if v != head_dim {
                return Err(bad("attention.value_length", &v, &format!("webmoe needs it equal to the key length {head_dim}")));
            }
        }
        if head_dim % 2 != 0 {
            return Err(bad("attention.key_length", &head_dim, "RoPE needs an even head dimension"));
        }
        // The query width (n_head × head_dim, the widest of the attention projections) is a row
        // count the kernels index with 32-bit numbers, and a usize of the 32-bit browser build.
        if n_head.checked_mul(head_dim).is_none_or(|width| width > i32::MAX as usize) {
            let why = format!("{n_head} heads of {head_dim} values are implausibly wide");
            return Err(bad("attention.head_count", &n_head, &why));
        }
        let rope_dim = optional("rope.dimension_count")?.unwrap_or(head_dim);
        if rope_dim > head_dim || rope_dim % 2 != 0 {
            return Err(bad("rope.dimension_count", &rope_dim, &format!("it must be even and at most the head dimension {head_dim}")));
        }
        if spec.strict_keys && rope_dim != head_dim {
            return Err(bad("rope.dimension_count", &rope_dim, &format!("{arch} rotates whole heads of {head_dim}")));
        }
        let rope_scaling = rope_scaling(g, arch, context_length)?;

        let (n_expert, n_expert_used) = experts(arch, spec.experts, optional("expert_count")?, optional("expert_used_count")?)?;
        let n_ff = ffn_width(arch, spec.expert_width_key && n_expert > 1, n_expert_used, optional("feed_forward_length")?, optional("expert_feed_forward_length")?)?;
        if n_expert > 1 {
            check_routing(g, arch, spec.routing)?;
        }
        let n_ff_shexp = match spec.shared_expert {
            Need::Required if n_expert > 1 => shared_width(arch, optional("expert_shared_feed_forward_length")?, optional("feed_forward_length")?)?,
            _ => 0,
        };

        let rope_theta = g.f64_opt(&key("rope.freq_base"))?.unwrap_or(10_000.0) as f32;
        if !(rope_theta.is_finite() && rope_theta > 0.0) {
            return Err(bad("rope.freq_base", &rope_theta, "it must be a positive number"));
        }
        let eps_key = "attention.layer_norm_rms_epsilon";
        let rms_eps = match g.f64_opt(&key(eps_key))? {
            Some(eps) => eps as f32,
            None if spec.strict_keys => {
                return Err(ModelError::MissingKey { key: key(eps_key), why: format!("{arch} models give their RMSNorm epsilon") })
            }
            None => 1e-5,
        };
        if !(rms_eps.is_finite() && rms_eps >= 0.0) {
            return Err(bad(eps_key, &rms_eps, "it must be a non-negative number"));
        }

        let scales = if spec.multipliers { scales(g, arch)? } else { Scales::NONE };

        let qkv_bias = match spec.qkv_bias {
            Need::Required => true,
            Need::Optional => ["q", "k", "v"].iter().any(|p| g.tensor(&format!("blk.0.attn_{p}.bias")).is_some()),
            Need::No => false,
        };
        let router_bias = n_expert > 1
            && match spec.router_bias {
                Need::Required => true,
                Need::Optional => g.tensor("blk.0.ffn_gate_inp.bias").is_some(),
                Need::No => false,
            };
        let sliding_window = match spec.swa_pattern {
            Some(pattern) => {
                let size = required("attention.sliding_window")?;
                if size == 0 {
                    return Err(bad("attention.sliding_window", &0, "the window must hold at least the query's own position"));
                }
                Some(SlidingWindow { size, pattern })
            }
            None => None,
        };
        let features = Features {
            rope: spec.rope,
            qkv_bias,
            qk_norm: spec.qk_norm,
            routing: spec.routing,
            shared_expert: n_ff_shexp > 0,
            router_bias,
            attn_output_bias: spec.attn_output_bias == Need::Required,
            attention_sinks: spec.attention_sinks == Need::Required,
            expert_biases: n_expert > 1 && spec.expert_biases == Need::Required,
            activation: spec.activation,
        };

        Ok(ModelConfig {
            arch,
            features,
            name: g.str_opt("general.name")?.map(str::to_string),
            n_embd,
            n_layer,
            n_head,
            n_head_kv,
            head_dim,
            rope_dim,
            n_ff,
            n_ff_shexp,
            n_expert,
            n_expert_used,
            vocab_size: vocab_size(g, &key("vocab_size"))?,
            rope_theta,
            rope_scaling,
            rms_eps,
            scales,
            context_length,
            sliding_window,
        })
    }
}

/// (experts per layer, experts per token) from `expert_count` / `expert_used_count`, as the
/// architecture allows them.
fn experts(arch: Architecture, need: Need, count: Option<usize>, used: Option<usize>) -> Result<(usize, usize), ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    let bad = |k: &str, v: usize, why: String| ModelError::BadValue { key: key(k), value: v.to_string(), why };
    let count = count.filter(|&e| e > 0);
    match need {
        Need::No => match (count, used) {
            (Some(e), _) => return Err(bad("expert_count", e, format!("a {arch} model has no experts"))),
            (None, Some(u)) if u > 0 => return Err(bad("expert_used_count", u, format!("a {arch} model has no experts"))),
            _ => return Ok((1, 1)),
        },
        Need::Required if count.is_none() => {
            return Err(ModelError::MissingKey { key: key("expert_count"), why: format!("a {arch} model has experts") })
        }
        // Its MoE-only steps (a shared expert, multipliers of the MoE branch) run in MoE layers.
        Need::Required if count == Some(1) => return Err(bad("expert_count", 1, format!("a {arch} model routes between at least 2 experts"))),
        _ => {}
    }
    match (count, used) {
        (None, None | Some(0)) => Ok((1, 1)),
        (None, Some(u)) => Err(bad("expert_used_count", u, format!("{} is missing or zero", key("expert_count")))),
        (Some(e), None) => Err(bad("expert_count", e, format!("{} is missing", key("expert_used_count")))),
        (Some(e), Some(u)) => {
            if e > MAX_EXPERTS {
                return Err(bad("expert_count", e, format!("webmoe supports at most {MAX_EXPERTS} experts per layer")));
            }
            if u == 0 || u > e {
                return Err(bad("expert_used_count", u, format!("it must be between 1 and the expert count {e}")));
            }
            if u > MAX_EXPERTS_USED {
                return Err(bad("expert_used_count", u, format!("webmoe supports at most {MAX_EXPERTS_USED} experts per token")));
            }
            Ok((e, u))
        }
    }
}

/// The FFN width of one expert (or of the dense FFN). With `expert_key` the architecture gives
/// its experts their own width, `expert_feed_forward_length`, falling back to
/// `feed_forward_length / expert_used_count` as llama.cpp does.
fn ffn_width(arch: Architecture, expert_key: bool, n_used: usize, dense: Option<usize>, expert: Option<usize>) -> Result<usize, ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    let (k, width) = match (expert_key, expert, dense) {
        (true, Some(w), _) => ("expert_feed_forward_length", w),
        (true, None, Some(d)) => ("feed_forward_length", d / n_used),
        (true, None, None) => {
            return Err(ModelError::MissingKey { key: key("expert_feed_forward_length"), why: "it gives the width of each expert".into() })
        }
        (false, _, Some(d)) => ("feed_forward_length", d),
        (false, _, None) => return Err(ModelError::MissingKey { key: key("feed_forward_length"), why: "it gives the FFN width".into() }),
    };
    if width == 0 {
        return Err(ModelError::BadValue { key: key(k), value: width.to_string(), why: "the FFN width must be positive".into() });
    }
    Ok(width)
}

/// Granite's multipliers, as llama.cpp's granite hparams read them: `logit_scale` is required,
/// the others may be absent, and 0 means the multiplier is not applied (`attention.scale` 0:
/// 1/sqrt(head_dim)). `rope.scaling.finetuned = false` would mean no RoPE at all, which webmoe
/// does not run.
fn scales(g: &Gguf, arch: Architecture) -> Result<Scales, ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    let positive = |k: &str, v: f64, why: &str| -> Result<f32, ModelError> {
        match v.is_finite() && v > 0.0 && (v as f32).is_normal() {
            true => Ok(v as f32),
            false => Err(ModelError::BadValue { key: key(k), value: v.to_string(), why: why.into() }),
        }
    };
    let optional = |k: &str| -> Result<Option<f32>, ModelError> {
        match g.f64_opt(&key(k))? {
            None => Ok(None),
            Some(v) if v == 0.0 => Ok(None),
            Some(v) => positive(k, v, "a multiplier must be a positive number (or 0 for none)").map(Some),
        }
    };
    if g.bool_opt(&key("rope.scaling.finetuned"))? == Some(false) {
        return Err(ModelError::BadValue { key: key("rope.scaling.finetuned"), value: "false".into(), why: "webmoe runs granite models with RoPE only".into() });
    }
    let logit = match g.f64_opt(&key("logit_scale"))? {
        Some(v) => positive("logit_scale", v, "the logits are divided by it")?,
        None => return Err(ModelError::MissingKey { key: key("logit_scale"), why: format!("{arch} models divide their logits by it") }),
    };
    Ok(Scales {
        embedding: optional("embedding_scale")?.unwrap_or(1.0),
        residual: optional("residual_scale")?.unwrap_or(1.0),
        attention: optional("attention.scale")?,
        logit,
    })
}

/// The shared expert's width, `expert_shared_feed_forward_length`, falling back to
/// `feed_forward_length` as llama.cpp does.
fn shared_width(arch: Architecture, shared: Option<usize>, dense: Option<usize>) -> Result<usize, ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    let (k, width) = match (shared, dense) {
        (Some(w), _) => ("expert_shared_feed_forward_length", w),
        (None, Some(d)) => ("feed_forward_length", d),
        (None, None) => {
            return Err(ModelError::MissingKey { key: key("expert_shared_feed_forward_length"), why: "it gives the width of the shared expert".into() })
        }
    };
    if width == 0 {
        return Err(ModelError::BadValue { key: key(k), value: "0".into(), why: "the shared expert's width must be positive".into() });
    }
    Ok(width)
}

/// Keys that would change how the router weighs its experts must agree with what the
/// architecture computes (llama.cpp fixes these per architecture and ignores the keys).
fn check_routing(g: &Gguf, arch: Architecture, routing: Routing) -> Result<(), ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    if let Some(norm) = g.bool_opt(&key("expert_weights_norm"))? {
        if norm != routing.weights_sum_to_one() {
            let why = if norm { format!("{arch} does not renormalise its top-k weights") } else { format!("{arch} renormalises its top-k weights") };
            return Err(ModelError::BadValue { key: key("expert_weights_norm"), value: norm.to_string(), why });
        }
    }
    // llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX.
    if let Some(f) = g.u64_opt(&key("expert_gating_func"))? {
        if f != 1 {
            return Err(ModelError::BadValue { key: key("expert_gating_func"), value: f.to_string(), why: format!("{arch} routes by softmax (1)") });
        }
    }
    if let Some(s) = g.f64_opt(&key("expert_weights_scale"))? {
        if s != 0.0 && s != 1.0 {
            return Err(ModelError::BadValue { key: key("expert_weights_scale"), value: s.to_string(), why: format!("{arch} does not scale its expert weights") });
        }
    }
    Ok(())
}

/// RoPE scaling as llama.cpp reads it: `rope.scaling.factor` (else the older `rope.scale_linear`;
/// 0 or 1: none) of `rope.scaling.type` (linear when absent; `none` ignores the factor). YaRN's
/// correction range comes from `rope.scaling.original_context_length` (else the trained
/// context) and `rope.scaling.yarn_beta_fast` / `yarn_beta_slow` (32 and 1 when absent); its
/// other keys must keep the values webmoe applies.
fn rope_scaling(g: &Gguf, arch: Architecture, context_length: usize) -> Result<RopeScaling, ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    let bad = |k: &str, v: &dyn std::fmt::Display, why: String| ModelError::BadValue { key: key(k), value: v.to_string(), why };
    let factor_key = if g.get(&key("rope.scaling.factor")).is_some() { "rope.scaling.factor" } else { "rope.scale_linear" };
    let factor = g.f64_opt(&key(factor_key))?.unwrap_or(0.0);
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(bad(factor_key, &factor, "it must be a positive number (0 for none)".into()));
    }
    let ty = g.str_opt(&key("rope.scaling.type"))?.unwrap_or("linear");
    if ty == "none" || factor == 0.0 || factor == 1.0 {
        return Ok(RopeScaling::None);
    }
    let factor = factor as f32;
    match ty {
        "linear" => Ok(RopeScaling::Linear { factor }),
        "yarn" => {
            for (k, applied) in [("yarn_ext_factor", 1.0), ("yarn_attn_factor", 1.0), ("attn_factor", 1.0), ("yarn_log_multiplier", 0.0)] {
                let k = format!("rope.scaling.{k}");
                match g.f64_opt(&key(&k))? {
                    Some(v) if v != applied => return Err(bad(&k, &v, format!("webmoe applies YaRN with {applied} there"))),
                    _ => {}
                }
            }
            let original_key = "rope.scaling.original_context_length";
            let original_context = match g.u64_opt(&key(original_key))? {
                Some(0) => return Err(bad(original_key, &0, "it must be positive".into())),
                Some(n) => to_usize(&key(original_key), n)?,
                None => context_length,
            };
            let beta = |k: &str, default: f64| -> Result<f32, ModelError> {
                let k = format!("rope.scaling.{k}");
                match g.f64_opt(&key(&k))?.unwrap_or(default) {
                    b if b.is_finite() && b > 0.0 => Ok(b as f32),
                    b => Err(bad(&k, &b, "it must be a positive number".into())),
                }
            };
            Ok(RopeScaling::Yarn { factor, original_context, beta_fast: beta("yarn_beta_fast", 32.0)?, beta_slow: beta("yarn_beta_slow", 1.0)? })
        }
        other => Err(bad("rope.scaling.type", &other, "webmoe applies none, linear and yarn RoPE scaling".into())),
    }
}

pub(super) const TOKENS: &str = "tokenizer.ggml.tokens";

/// The vocabulary size: `{arch}.vocab_size`, else the tokenizer's token count, else the
/// embedding's rows. The layout checks both counts against the embedding.
fn vocab_size(g: &Gguf, size_key: &str) -> Result<usize, ModelError> {
    let size = match g.u64_opt(size_key)? {
        Some(v) => to_usize(size_key, v)?,
        None => match g.array_opt(TOKENS)? {
            Some(tokens) => tokens.len(),
            None => g.tensor("token_embd.weight").map(|t| t.n_rows() as usize).unwrap_or(0),
        },
    };
    if size == 0 {
        return Err(ModelError::BadValue { key: size_key.into(), value: "0".into(), why: "the model has no vocabulary".into() });
    }
    Ok(size)
}

fn to_usize(key: &str, v: u64) -> Result<usize, ModelError> {
    // Dimensions beyond 2^31 cannot be addressed by the GPU kernels' u32 indices anyway.
    if v > i32::MAX as u64 {
        return Err(ModelError::BadValue { key: key.into(), value: v.to_string(), why: "it is implausibly large".into() });
    }
    Ok(v as usize)
}
