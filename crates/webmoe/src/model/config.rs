//! Model hyper-parameters from GGUF metadata.

use super::error::ModelError;
use crate::gguf::Gguf;

/// Most experts per layer and most experts per token that the router kernel handles.
pub const MAX_EXPERTS: usize = 64;
pub const MAX_EXPERTS_USED: usize = 8;

/// The shape of a `llama`-architecture model, with or without experts.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub name: Option<String>,
    /// Hidden size (H).
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Query/key/value width of one head.
    pub head_dim: usize,
    /// Leading dims of each head that RoPE rotates (usually `head_dim`).
    pub rope_dim: usize,
    /// FFN width of one expert (or of the dense FFN).
    pub n_ff: usize,
    /// Experts per layer; 1 for a dense model.
    pub n_expert: usize,
    /// Experts each token uses (top-k); 1 for a dense model.
    pub n_expert_used: usize,
    pub vocab_size: usize,
    pub rope_theta: f32,
    pub rms_eps: f32,
    /// The context the model was trained for.
    pub context_length: usize,
}

impl ModelConfig {
    pub fn is_moe(&self) -> bool {
        self.n_expert > 1
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
        let arch = g.str("general.architecture")?;
        if arch != "llama" {
            return Err(ModelError::UnknownArchitecture { arch: arch.into() });
        }
        let key = |k: &str| format!("{arch}.{k}");
        let required = |k: &str| -> Result<usize, ModelError> { to_usize(&key(k), g.u64(&key(k))?) };
        let optional = |k: &str| -> Result<Option<usize>, ModelError> {
            g.u64_opt(&key(k))?.map(|v| to_usize(&key(k), v)).transpose()
        };

        let n_embd = required("embedding_length")?;
        let n_layer = required("block_count")?;
        let n_ff = required("feed_forward_length")?;
        let n_head = required("attention.head_count")?;
        let n_head_kv = optional("attention.head_count_kv")?.unwrap_or(n_head);
        let context_length = required("context_length")?;
        let n_expert_key = optional("expert_count")?;
        let n_expert_used_key = optional("expert_used_count")?;

        let bad = |k: &str, v: usize, why: &str| ModelError::BadValue { key: key(k), value: v.to_string(), why: why.into() };
        for (k, v) in [
            ("embedding_length", n_embd),
            ("block_count", n_layer),
            ("feed_forward_length", n_ff),
            ("attention.head_count", n_head),
            ("attention.head_count_kv", n_head_kv),
            ("context_length", context_length),
        ] {
            if v == 0 {
                return Err(bad(k, v, "it must be positive"));
            }
        }
        if n_head % n_head_kv != 0 {
            return Err(bad("attention.head_count_kv", n_head_kv, &format!("it must divide the head count {n_head}")));
        }
        let head_dim = match optional("attention.key_length")? {
            Some(k) => k,
            None if n_embd % n_head == 0 => n_embd / n_head,
            None => return Err(bad("attention.head_count", n_head, &format!("it must divide the embedding length {n_embd}"))),
        };
        if let Some(v) = optional("attention.value_length")? {
            if v != head_dim {
                return Err(bad("attention.value_length", v, &format!("webmoe needs it equal to the key length {head_dim}")));
            }
        }
        if head_dim % 2 != 0 {
            return Err(bad("attention.key_length", head_dim, "RoPE needs an even head dimension"));
        }
        // The query width (n_head × head_dim, the widest of the attention projections) is a row
        // count the kernels index with 32-bit numbers, and a usize of the 32-bit browser build.
        if n_head.checked_mul(head_dim).is_none_or(|width| width > i32::MAX as usize) {
            let why = format!("{n_head} heads of {head_dim} values are implausibly wide");
            return Err(bad("attention.head_count", n_head, &why));
        }
        let rope_dim = optional("rope.dimension_count")?.unwrap_or(head_dim);
        if rope_dim > head_dim || rope_dim % 2 != 0 {
            return Err(bad("rope.dimension_count", rope_dim, &format!("it must be even and at most the head dimension {head_dim}")));
        }

        let (n_expert, n_expert_used) = match (n_expert_key, n_expert_used_key) {
            (None | Some(0), None | Some(0)) => (1, 1),
            (None | Some(0), Some(u)) => {
                return Err(bad("expert_used_count", u, &format!("{} is missing or zero", key("expert_count"))))
            }
            (Some(e), Some(u)) => {
                if e > MAX_EXPERTS {
                    return Err(bad("expert_count", e, &format!("webmoe supports at most {MAX_EXPERTS} experts per layer")));
                }
                if u == 0 || u > e {
                    return Err(bad("expert_used_count", u, &format!("it must be between 1 and the expert count {e}")));
                }
                if u > MAX_EXPERTS_USED {
                    return Err(bad("expert_used_count", u, &format!("webmoe supports at most {MAX_EXPERTS_USED} experts per token")));
                }
                (e, u)
            }
            (Some(e), None) => return Err(bad("expert_count", e, &format!("{} is missing", key("expert_used_count")))),
        };

        let rope_theta = g.f64_opt(&key("rope.freq_base"))?.unwrap_or(10_000.0) as f32;
        if !(rope_theta.is_finite() && rope_theta > 0.0) {
            return Err(ModelError::BadValue { key: key("rope.freq_base"), value: rope_theta.to_string(), why: "it must be a positive number".into() });
        }
        let rms_eps = g.f64_opt(&key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5) as f32;
        if !(rms_eps.is_finite() && rms_eps >= 0.0) {
            return Err(ModelError::BadValue {
                key: key("attention.layer_norm_rms_epsilon"),
                value: rms_eps.to_string(),
                why: "it must be a non-negative number".into(),
            });
        }

        let vocab_size = match optional("vocab_size")? {
            Some(v) => v,
            None => match g.array_opt("tokenizer.ggml.tokens")? {
                Some(tokens) => tokens.len(),
                None => g.tensor("token_embd.weight").map(|t| t.n_rows() as usize).unwrap_or(0),
            },
        };
        if vocab_size == 0 {
            return Err(ModelError::BadValue { key: key("vocab_size"), value: "0".into(), why: "the model has no vocabulary".into() });
        }

        Ok(ModelConfig {
            name: g.str_opt("general.name")?.map(str::to_string),
            n_embd,
            n_layer,
            n_head,
            n_head_kv,
            head_dim,
            rope_dim,
            n_ff,
            n_expert,
            n_expert_used,
            vocab_size,
            rope_theta,
            rms_eps,
            context_length,
        })
    }
}

fn to_usize(key: &str, v: u64) -> Result<usize, ModelError> {
    // Dimensions beyond 2^31 cannot be addressed by the GPU kernels' u32 indices anyway.
    if v > i32::MAX as u64 {
        return Err(ModelError::BadValue { key: key.into(), value: v.to_string(), why: "it is implausibly large".into() });
    }
    Ok(v as usize)
}
