//! The architectures webmoe runs, by the name GGUF files give them (`general.architecture`), and
//! what each one fixes about its forward pass, as llama.cpp computes it.
//!
//! Architecture differences are data: one forward pass (the GPU engine's and the CPU reference's)
//! whose steps the [`Features`] of a model select. An architecture fixes some of them (its RoPE
//! pairing, whether q/k are normed per head, how its router weighs the chosen experts), and says
//! which tensors and keys a file of it must, may or must not have.

/// `general.architecture` values webmoe runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// Llama, Mistral, Mixtral and merged MoE models, SmolLM.
    Llama,
    /// Dense Qwen 2 / 2.5: q/k/v biases.
    Qwen2,
    /// Dense Qwen 3: per-head q/k RMSNorm, head size from `attention.key_length`.
    Qwen3,
    /// Qwen 3 MoE (Qwen3-30B-A3B, Qwen3-235B-A22B): qwen3's attention, 128 experts of top-8.
    Qwen3Moe,
    /// Qwen 1.5 / Qwen 2 MoE (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B): qwen2's biased attention, 60
    /// or 64 experts whose weights are not renormalised, and a shared expert with a sigmoid gate.
    Qwen2Moe,
    /// OLMoE (OLMoE-1B-7B): q/k RMSNorm over the whole projection, 64 experts of top-8 whose
    /// weights are not renormalised.
    Olmoe,
    /// Granite 3.x MoE (granite-3.1-3b-a800m, 1b-a400m): llama's attention and routing with
    /// multipliers on the embedding, the residual branches, the attention scores and the logits.
    GraniteMoe,
    /// OpenAI gpt-oss (gpt-oss-20b, 120b): biases everywhere, attention sinks, a sliding window on
    /// every other layer, YaRN, MXFP4 experts with a clamped SwiGLU, softmax over the chosen
    /// router logits.
    GptOss,
}

impl Architecture {
    pub const ALL: [Architecture; 8] = [
        Architecture::Llama,
        Architecture::Qwen2,
        Architecture::Qwen3,
        Architecture::Qwen3Moe,
        Architecture::Qwen2Moe,
        Architecture::Olmoe,
        Architecture::GraniteMoe,
        Architecture::GptOss,
    ];

    pub fn from_name(name: &str) -> Option<Architecture> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The `general.architecture` value, which is also the prefix of the architecture's keys.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
            Architecture::Qwen3 => "qwen3",
            Architecture::Qwen3Moe => "qwen3moe",
            Architecture::Qwen2Moe => "qwen2moe",
            Architecture::Olmoe => "olmoe",
            Architecture::GraniteMoe => "granitemoe",
            Architecture::GptOss => "gpt-oss",
        }
    }

    /// What the architecture fixes (llama.cpp's `llama_model_rope_type`, its tensor lists and the
    /// arguments of its `build_moe_ffn` call).
    pub(super) fn spec(self) -> ArchSpec {
        match self {
            Architecture::Llama => ArchSpec {
                rope: RopeMode::Interleaved,
                qkv_bias: Need::Optional,
                qk_norm: QkNorm::None,
                experts: Need::Optional,
                routing: Routing::TopKThenSoftmax,
                expert_width_key: false,
                strict_keys: false,
                shared_expert: Need::No,
                multipliers: false,
                router_bias: Need::No,
                rope_freqs: Need::Optional,
                ..ArchSpec::BASE
            },
            Architecture::Qwen2 => ArchSpec {
                rope: RopeMode::Neox,
                qkv_bias: Need::Required,
                qk_norm: QkNorm::None,
                experts: Need::No,
                routing: Routing::TopKThenSoftmax,
                expert_width_key: false,
                strict_keys: true,
                shared_expert: Need::No,
                multipliers: false,
                router_bias: Need::No,
                ..ArchSpec::BASE
            },
            Architecture::Qwen3 => ArchSpec {
                rope: RopeMode::Neox,
                qkv_bias: Need::No,
                qk_norm: QkNorm::PerHead,
                experts: Need::No,
                routing: Routing::TopKThenSoftmax,
                expert_width_key: false,
                strict_keys: true,
                shared_expert: Need::No,
                multipliers: false,
                router_bias: Need::No,
                ..ArchSpec::BASE
            },
            // llama.cpp's qwen3moe graph hard-codes softmax gating with renormalised top-k weights
            // (it ignores the Hugging Face `norm_topk_prob` flag; every released model sets it).
            Architecture::Qwen3Moe => ArchSpec {
                rope: RopeMode::Neox,
                qkv_bias: Need::No,
                qk_norm: QkNorm::PerHead,
                experts: Need::Required,
                routing: Routing::SoftmaxThenTopK { renormalise: true },
                expert_width_key: true,
                strict_keys: true,
                shared_expert: Need::No,
                multipliers: false,
                router_bias: Need::No,
                ..ArchSpec::BASE
            },
            // llama.cpp's qwen2moe graph: softmax gating with norm_w = false (Hugging Face
            // `norm_topk_prob = false` in both released models), and the shared expert added
            // beside the routed ones, gated by sigmoid(ffn_gate_inp_shexp · h).
            Architecture::Qwen2Moe => ArchSpec {
                rope: RopeMode::Neox,
                qkv_bias: Need::Required,
                qk_norm: QkNorm::None,
                experts: Need::Required,
                routing: Routing::SoftmaxThenTopK { renormalise: false },
                expert_width_key: true,
                strict_keys: true,
                shared_expert: Need::Required,
                multipliers: false,
                router_bias: Need::No,
                ..ArchSpec::BASE
            },
            // llama.cpp's granite graph (llm_build_granite, MoE branch): llama's tensors (Q/K
            // rows permuted for interleaved RoPE, optional biases and RoPE frequency factors),
            // softmax gating with norm_w = true, the experts' width `feed_forward_length`, and the
            // four multipliers.
            Architecture::GraniteMoe => ArchSpec {
                rope: RopeMode::Interleaved,
                qkv_bias: Need::Optional,
                qk_norm: QkNorm::None,
                experts: Need::Required,
                routing: Routing::TopKThenSoftmax,
                expert_width_key: false,
                strict_keys: true,
                shared_expert: Need::No,
                multipliers: true,
                router_bias: Need::No,
                rope_freqs: Need::Optional,
                ..ArchSpec::BASE
            },
            // llama.cpp's openai-moe graph (llm_build_openai_moe_iswa): the ffn norm is named
            // post_attention_norm; top-k of the biased router logits, then softmax over those k;
            // SwiGLU clamped at 7 with sigmoid(1.702 g) and up + 1 (ggml_swiglu_oai's constants,
            // which llama.cpp fixes for the architecture); sliding-window attention on the even
            // layers (set_swa_pattern(2), no key).
            Architecture::GptOss => ArchSpec {
                rope: RopeMode::Neox,
                qkv_bias: Need::Required,
                qk_norm: QkNorm::None,
                experts: Need::Required,
                routing: Routing::TopKThenSoftmax,
                expert_width_key: true,
                strict_keys: true,
                shared_expert: Need::No,
                multipliers: false,
                router_bias: Need::Required,
                attn_output_bias: Need::Required,
                attention_sinks: Need::Required,
                expert_biases: Need::Required,
                activation: Activation::SwiGluClamped,
                rope_freqs: Need::No,
                swa_pattern: Some(2),
                ffn_norm: "post_attention_norm",
            },
            // llama.cpp's olmoe graph: softmax gating, norm_w = false, no weight scale; the
            // experts' width is `feed_forward_length` (OLMoE's `intermediate_size`).
            Architecture::Olmoe => ArchSpec {
                rope: RopeMode::Neox,
                qkv_bias: Need::No,
                qk_norm: QkNorm::Whole,
                experts: Need::Required,
                routing: Routing::SoftmaxThenTopK { renormalise: false },
                expert_width_key: false,
                strict_keys: true,
                shared_expert: Need::No,
                multipliers: false,
                router_bias: Need::No,
                ..ArchSpec::BASE
            },
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The gated activation of every FFN, `act = f(gate, up)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `silu(gate) · up`.
    SwiGlu,
    /// gpt-oss's: `g · sigmoid(ALPHA g) · (u + 1)` with `g = min(gate, LIMIT)` and
    /// `u = clamp(up, −LIMIT, LIMIT)` (ggml_swiglu_oai).
    SwiGluClamped,
}

impl Activation {
    /// [`Activation::SwiGluClamped`]'s constants, as llama.cpp and Hugging Face fix them.
    pub const CLAMPED_ALPHA: f32 = 1.702;
    pub const CLAMPED_LIMIT: f32 = 7.0;

    pub fn apply(self, gate: f32, up: f32) -> f32 {
        match self {
            Activation::SwiGlu => gate / (1.0 + (-gate).exp()) * up,
            Activation::SwiGluClamped => {
                let g = gate.min(Self::CLAMPED_LIMIT);
                let u = up.clamp(-Self::CLAMPED_LIMIT, Self::CLAMPED_LIMIT);
                g / (1.0 + (-Self::CLAMPED_ALPHA * g).exp()) * (u + 1.0)
            }
        }
    }
}

/// How RoPE pairs the dimensions of a head (llama.cpp's rope types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RopeMode {
    /// `LLAMA_ROPE_TYPE_NORM`: adjacent pairs (2i, 2i + 1). GGUF converters permute the Q/K rows
    /// of Hugging Face llama checkpoints so that this equals their rotate-half.
    Interleaved,
    /// `LLAMA_ROPE_TYPE_NEOX`: pairs (i, i + rope_dim / 2), rotate-half on the stored rows.
    Neox,
}

/// Normalisation of the queries and keys after their projection, before RoPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QkNorm {
    None,
    /// RMSNorm over each head's `head_dim` values, weights `attn_q_norm` / `attn_k_norm` of length
    /// `head_dim` shared by every head (qwen3, qwen3moe).
    PerHead,
    /// RMSNorm over the whole query projection (n_head × head_dim values) and over the whole key
    /// projection (n_head_kv × head_dim), before the split into heads; weights of those lengths
    /// (olmoe).
    Whole,
}

/// How the router turns its logits into the chosen experts and their weights. Both orders choose
/// the same experts (softmax is monotonic); with renormalisation they give the same weights too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Routing {
    /// The top-k logits (ties to the lower expert), weights = softmax over those k (Mixtral).
    TopKThenSoftmax,
    /// p = softmax over every expert; the top-k of p; weights p[top], divided by their sum when
    /// `renormalise` (qwen3moe) or not (qwen2moe, olmoe).
    SoftmaxThenTopK { renormalise: bool },
}

impl Routing {
    /// Whether the chosen weights sum to 1.
    pub fn weights_sum_to_one(self) -> bool {
        !matches!(self, Routing::SoftmaxThenTopK { renormalise: false })
    }
}

/// Whether a file of an architecture has a kind of tensor or key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Need {
    No,
    Optional,
    Required,
}

/// What an architecture fixes, before a file's metadata says the rest.
pub(super) struct ArchSpec {
    pub rope: RopeMode,
    /// `blk.N.attn_{q,k,v}.bias`.
    pub qkv_bias: Need,
    pub qk_norm: QkNorm,
    /// `expert_count` / `ffn_*_exps`.
    pub experts: Need,
    pub routing: Routing,
    /// Experts have their own width, `expert_feed_forward_length` (the dense width
    /// `feed_forward_length` is another layer's).
    pub expert_width_key: bool,
    /// Keys llama.cpp requires for the architecture are required here too (the RMS epsilon;
    /// `rope.dimension_count`, when present, must equal the head size). The `llama` family keeps
    /// the defaults older files rely on.
    pub strict_keys: bool,
    /// A shared expert every token runs beside the routed ones, `blk.N.ffn_{gate,up,down}_shexp`
    /// of width `expert_shared_feed_forward_length`, gated by `ffn_gate_inp_shexp`.
    pub shared_expert: Need,
    /// `embedding_scale`, `residual_scale`, `attention.scale` and `logit_scale` apply.
    pub multipliers: bool,
    /// `blk.N.ffn_gate_inp.bias`, added to the router's logits (gpt-oss).
    pub router_bias: Need,
    /// `blk.N.attn_output.bias`.
    pub attn_output_bias: Need,
    /// `blk.N.attn_sinks.weight`: one logit per query head that joins every softmax's
    /// denominator and weighs no value.
    pub attention_sinks: Need,
    /// `blk.N.ffn_{gate,up,down}_exps.bias`: per-expert biases of the expert projections.
    pub expert_biases: Need,
    pub activation: Activation,
    /// `rope_freqs.weight`: one factor per rotated pair that divides its angle (Llama 3.1+'s
    /// converter writes it). llama.cpp's llama and granite loaders read it when present and pass
    /// it to ggml_rope_ext; the other architectures' graphs pass no factors.
    pub rope_freqs: Need,
    /// Every `n`-th layer attends to the whole context, the others to the last
    /// `attention.sliding_window` positions (llama.cpp's swa pattern: layer l slides when
    /// l % n < n − 1).
    pub swa_pattern: Option<usize>,
    /// The name of the norm before the FFN, `blk.N.{ffn_norm}.weight`.
    pub ffn_norm: &'static str,
}

impl ArchSpec {
    /// The values of the fields that most architectures share.
    const BASE: ArchSpec = ArchSpec {
        rope: RopeMode::Interleaved,
        qkv_bias: Need::No,
        qk_norm: QkNorm::None,
        experts: Need::Optional,
        routing: Routing::TopKThenSoftmax,
        expert_width_key: false,
        strict_keys: true,
        shared_expert: Need::No,
        multipliers: false,
        router_bias: Need::No,
        attn_output_bias: Need::No,
        attention_sinks: Need::No,
        expert_biases: Need::No,
        activation: Activation::SwiGlu,
        rope_freqs: Need::No,
        swa_pattern: None,
        ffn_norm: "ffn_norm",
    };
}

/// The steps of the forward pass a model takes, fixed by its architecture and its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Features {
    pub rope: RopeMode,
    /// q/k/v projections add biases (`blk.N.attn_{q,k,v}.bias`, in every layer).
    pub qkv_bias: bool,
    pub qk_norm: QkNorm,
    pub routing: Routing,
    /// MoE layers add a shared expert, `sigmoid(g · h) · down(silu(gate h) · up h)`.
    pub shared_expert: bool,
    /// The router adds a bias to its logits before it chooses (`blk.N.ffn_gate_inp.bias`).
    pub router_bias: bool,
    /// The attention output projection adds a bias.
    pub attn_output_bias: bool,
    /// Each query head's softmax has an extra logit in its denominator.
    pub attention_sinks: bool,
    /// Expert gate, up and down projections add per-expert biases.
    pub expert_biases: bool,
    pub activation: Activation,
}

impl Features {
    /// The plain pre-norm transformer: interleaved RoPE, no biases or norms beyond the layer
    /// norms, top-k then softmax routing, SwiGLU.
    pub const BASE: Features = Features {
        rope: RopeMode::Interleaved,
        qkv_bias: false,
        qk_norm: QkNorm::None,
        routing: Routing::TopKThenSoftmax,
        shared_expert: false,
        router_bias: false,
        attn_output_bias: false,
        attention_sinks: false,
        expert_biases: false,
        activation: Activation::SwiGlu,
    };

    /// The features in words, for `webmoe inspect`: "NEOX RoPE, q/k/v biases, …".
    pub fn describe(&self, moe: bool) -> Vec<String> {
        let mut out = vec![match self.rope {
            RopeMode::Interleaved => "interleaved RoPE".to_string(),
            RopeMode::Neox => "NEOX RoPE".to_string(),
        }];
        if self.qkv_bias {
            out.push("q/k/v biases".into());
        }
        match self.qk_norm {
            QkNorm::None => {}
            QkNorm::PerHead => out.push("per-head q/k RMSNorm".into()),
            QkNorm::Whole => out.push("q/k RMSNorm over the whole projection".into()),
        }
        if moe {
            out.push(match self.routing {
                Routing::TopKThenSoftmax => "router top-k then softmax".into(),
                Routing::SoftmaxThenTopK { renormalise: true } => "router softmax then top-k, renormalised".into(),
                Routing::SoftmaxThenTopK { renormalise: false } => "router softmax then top-k, not renormalised".into(),
            });
        }
        if self.router_bias {
            out.push("router bias".into());
        }
        if self.shared_expert {
            out.push("shared expert with a sigmoid gate".into());
        }
        if self.attn_output_bias {
            out.push("attention output bias".into());
        }
        if self.attention_sinks {
            out.push("attention sinks".into());
        }
        if self.expert_biases {
            out.push("expert biases".into());
        }
        if self.activation == Activation::SwiGluClamped {
            out.push(format!("clamped SwiGLU (limit {}, alpha {})", Activation::CLAMPED_LIMIT, Activation::CLAMPED_ALPHA));
        }
        out
    }
}
