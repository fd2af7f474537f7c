//! Where each weight of a model lives in the file, checked against the config: names, shapes and
//! types, for dense models and both expert layouts, with the biases and norms its features add.
//! Every tensor of the file must be one the model reads.

use super::arch::{Need, QkNorm};
use super::config::{ModelConfig, TOKENS};
use super::error::ModelError;
use crate::gguf::{GgmlType, Gguf, TensorInfo};
use crate::quant;
use std::cell::RefCell;
use std::collections::HashSet;
use std::ops::Range;

/// A weight matrix used as `y = W x`: `rows` outputs of `cols` inputs each, stored row-major in
/// ggml blocks (ggml shape `[cols, rows]`, or `[cols, rows, experts]` for merged experts).
/// Non-expert matrices have one "expert".
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// The tensor name (the first expert's, for split experts), for messages.
    pub name: String,
    pub ty: GgmlType,
    /// Inputs per row (K): the row length in values.
    pub cols: usize,
    /// Outputs (N) of one expert.
    pub rows: usize,
    /// Absolute file byte range of each expert's `rows × row_bytes` slab.
    pub experts: Vec<Range<u64>>,
}

impl Matrix {
    /// Bytes of one row of `cols` values.
    pub fn row_bytes(&self) -> u64 {
        self.ty.row_bytes(self.cols as u64).unwrap_or(0)
    }

    /// Bytes of one expert's slab.
    pub fn expert_bytes(&self) -> u64 {
        self.row_bytes() * self.rows as u64
    }

    pub fn n_experts(&self) -> usize {
        self.experts.len()
    }

    pub fn total_bytes(&self) -> u64 {
        self.expert_bytes() * self.n_experts() as u64
    }
}

/// A weight vector (norm scales, biases), read whole and kept as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Vector {
    pub name: String,
    pub ty: GgmlType,
    pub len: usize,
    pub range: Range<u64>,
}

/// The FFN of one layer: dense (one expert) or a routed mixture.
#[derive(Clone, Debug, PartialEq)]
pub struct Ffn {
    /// Router `ffn_gate_inp`: `n_expert` rows of `n_embd`; `None` for a dense FFN.
    pub router: Option<Matrix>,
    /// `ffn_gate_inp.bias`: added to the router's logits (n_expert values).
    pub router_bias: Option<Vector>,
    /// `gate` and `up`: `n_ff` rows of `n_embd` per expert; `down`: `n_embd` rows of `n_ff`.
    pub gate: Matrix,
    pub up: Matrix,
    pub down: Matrix,
    /// The shared expert of a MoE layer that has one.
    pub shared: Option<SharedExpert>,
    /// Per-expert biases of the expert projections (gpt-oss).
    pub expert_biases: Option<ExpertBiases>,
}

/// `blk.N.ffn_{gate,up,down}_exps.bias`: ggml `[n_ff, n_expert]` (gate, up) and
/// `[n_embd, n_expert]` (down), each expert's bias vector after the previous one's.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpertBiases {
    pub gate: Vector,
    pub up: Vector,
    pub down: Vector,
}

/// `blk.N.ffn_{gate,up,down}_shexp`: a dense SwiGLU FFN of width `n_ff_shexp` that every token
/// runs, scaled by `sigmoid(gate_inp · h)` (`ffn_gate_inp_shexp`, one row of `n_embd`).
#[derive(Clone, Debug, PartialEq)]
pub struct SharedExpert {
    pub gate_inp: Matrix,
    pub gate: Matrix,
    pub up: Matrix,
    pub down: Matrix,
}

impl SharedExpert {
    pub fn matrices(&self) -> [&Matrix; 4] {
        [&self.gate_inp, &self.gate, &self.up, &self.down]
    }
}

/// `blk.N.attn_{q,k,v}.bias`: added to the projections (q_dim, kv_dim, kv_dim values).
#[derive(Clone, Debug, PartialEq)]
pub struct QkvBias {
    pub q: Vector,
    pub k: Vector,
    pub v: Vector,
}

/// `blk.N.attn_{q,k}_norm.weight`: RMSNorm weights of each query and key head (head_dim values),
/// or of the whole query and key projections (q_dim, kv_dim values).
#[derive(Clone, Debug, PartialEq)]
pub struct QkNormWeights {
    pub q: Vector,
    pub k: Vector,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LayerLayout {
    pub attn_norm: Vector,
    /// Q/K rows as the architecture's RoPE pairs them (permuted for interleaved pairs in llama
    /// files, as GGUF converters write them; the checkpoint's order for NEOX).
    pub wq: Matrix,
    pub wk: Matrix,
    pub wv: Matrix,
    pub qkv_bias: Option<QkvBias>,
    pub qk_norm: Option<QkNormWeights>,
    pub wo: Matrix,
    /// `blk.N.attn_output.bias` (n_embd values).
    pub wo_bias: Option<Vector>,
    /// `blk.N.attn_sinks.weight`: each query head's sink logit (n_head values).
    pub attn_sinks: Option<Vector>,
    pub ffn_norm: Vector,
    pub ffn: Ffn,
}

impl LayerLayout {
    /// The layer's vectors (norms and biases), for sizes.
    pub fn vectors(&self) -> Vec<&Vector> {
        let mut v = vec![&self.attn_norm, &self.ffn_norm];
        if let Some(b) = &self.qkv_bias {
            v.extend([&b.q, &b.k, &b.v]);
        }
        if let Some(n) = &self.qk_norm {
            v.extend([&n.q, &n.k]);
        }
        v.extend(self.ffn.router_bias.as_ref());
        v.extend(self.wo_bias.as_ref());
        v.extend(self.attn_sinks.as_ref());
        if let Some(b) = &self.ffn.expert_biases {
            v.extend([&b.gate, &b.up, &b.down]);
        }
        v
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelLayout {
    /// `vocab_size` rows of `n_embd`, looked up by token id.
    pub token_embd: Matrix,
    pub output_norm: Vector,
    /// The lm_head: `vocab_size` rows of `n_embd`; the embedding itself when the model ties them.
    pub output: Matrix,
    pub tied_output: bool,
    pub layers: Vec<LayerLayout>,
    /// `rope_freqs.weight`: F32, one factor per rotated pair (rope_dim / 2 values) dividing its
    /// angle in every layer ([`super::Rope::with_freq_factors`]); the GPU folds them into its
    /// cos/sin table, so they are not uploaded.
    pub rope_freqs: Option<Vector>,
}

impl ModelLayout {
    pub fn from_gguf(g: &Gguf, c: &ModelConfig) -> Result<ModelLayout, ModelError> {
        let t = Tensors { g, used: RefCell::new(HashSet::new()) };
        let h = c.n_embd as u64;
        let v = c.vocab_size as u64;
        // A vocabulary that is not the embedding's rows could sample ids the tokenizer lacks, or
        // miss some; llama.cpp refuses it (token_embd is created with the token count's rows).
        let embd_rows = t.find("token_embd.weight", "model")?.n_rows();
        let token_count = g.array_opt(TOKENS)?.map(|a| a.len() as u64);
        let size_key = format!("{}.vocab_size", c.arch);
        let size_source = if g.get(&size_key).is_some() { size_key } else { TOKENS.to_string() };
        for (key, tokens) in [(size_source, Some(v)), (TOKENS.to_string(), token_count)] {
            if let Some(tokens) = tokens.filter(|&n| n != embd_rows) {
                return Err(ModelError::VocabMismatch { key, tokens, rows: embd_rows });
            }
        }
        let token_embd = t.matrix("token_embd.weight", &[h, v], "model")?;
        // Without output.weight the lm_head is the embedding (llama.cpp's TENSOR_DUPLICATED).
        let (output, tied_output) = match g.tensor("output.weight") {
            Some(_) => (t.matrix("output.weight", &[h, v], "model")?, false),
            None => (token_embd.clone(), true),
        };
        let output_norm = t.vector("output_norm.weight", c.n_embd)?;
        if !c.is_moe() {
            if let Some(x) = g.tensors.iter().find(|x| x.name.contains("_exps.") || x.name.contains("ffn_gate_inp")) {
                return Err(ModelError::ExpertsWithoutCount { name: x.name.clone(), key: format!("{}.expert_count", c.arch) });
            }
        }
        let layers = (0..c.n_layer).map(|i| t.layer(c, i)).collect::<Result<_, _>>()?;
        let rope_freqs = match c.arch.spec().rope_freqs {
            Need::No => None,
            Need::Optional if g.tensor(ROPE_FREQS).is_none() => None,
            _ => Some(t.rope_freqs(c)?),
        };
        t.check_all_used(c)?;
        Ok(ModelLayout { token_embd, output_norm, output, tied_output, layers, rope_freqs })
    }

    /// Every matrix of the model with a label, in file order of use (for inspection and uploads).
    pub fn matrices(&self) -> Vec<&Matrix> {
        let mut all = vec![&self.token_embd];
        for l in &self.layers {
            all.extend([&l.wq, &l.wk, &l.wv, &l.wo]);
            all.extend(l.ffn.router.as_ref());
            all.extend([&l.ffn.gate, &l.ffn.up, &l.ffn.down]);
            all.extend(l.ffn.shared.iter().flat_map(|s| s.matrices()));
        }
        if !self.tied_output {
            all.push(&self.output);
        }
        all
    }
}

/// The tensor of RoPE frequency factors (llama.cpp's LLM_TENSOR_ROPE_FREQS).
const ROPE_FREQS: &str = "rope_freqs.weight";

/// The file's tensors, and the names the layout has read so far.
struct Tensors<'g> {
    g: &'g Gguf,
    used: RefCell<HashSet<String>>,
}

impl Tensors<'_> {
    fn layer(&self, c: &ModelConfig, i: usize) -> Result<LayerLayout, ModelError> {
        let (h, q, kv, f) = (c.n_embd as u64, c.q_dim() as u64, c.kv_dim() as u64, c.n_ff as u64);
        let name = |s: &str| format!("blk.{i}.{s}.weight");
        let what = "layer";
        let ffn = if c.is_moe() {
            let e = c.n_expert as u64;
            let router = self.matrix(&name("ffn_gate_inp"), &[h, e], what)?;
            let (gate, up, down) = if self.g.tensor(&name("ffn_gate_exps")).is_some() {
                (
                    self.matrix(&name("ffn_gate_exps"), &[h, f, e], what)?,
                    self.matrix(&name("ffn_up_exps"), &[h, f, e], what)?,
                    self.matrix(&name("ffn_down_exps"), &[f, h, e], what)?,
                )
            } else if self.g.tensor(&name("ffn_gate.0")).is_some() {
                (
                    self.split_experts(i, "ffn_gate", c.n_expert, &[h, f])?,
                    self.split_experts(i, "ffn_up", c.n_expert, &[h, f])?,
                    self.split_experts(i, "ffn_down", c.n_expert, &[f, h])?,
                )
            } else {
                return Err(ModelError::CountWithoutExperts { key: format!("{}.expert_count", c.arch), count: e, layer: i });
            };
            let shared = match c.features.shared_expert {
                true => {
                    let fs = c.n_ff_shexp as u64;
                    Some(SharedExpert {
                        // One row of n_embd; llama-quantize writes this 1-D tensor as [n_embd].
                        gate_inp: self.matrix(&name("ffn_gate_inp_shexp"), &[h, 1], what)?,
                        gate: self.matrix(&name("ffn_gate_shexp"), &[h, fs], what)?,
                        up: self.matrix(&name("ffn_up_shexp"), &[h, fs], what)?,
                        down: self.matrix(&name("ffn_down_shexp"), &[fs, h], what)?,
                    })
                }
                false => None,
            };
            let router_bias = match c.features.router_bias {
                true => Some(self.vector(&format!("blk.{i}.ffn_gate_inp.bias"), c.n_expert)?),
                false => None,
            };
            let expert_biases = match c.features.expert_biases {
                true => {
                    let bias = |kind: &str, len: u64| self.table(&format!("blk.{i}.ffn_{kind}_exps.bias"), &[len, e]);
                    Some(ExpertBiases { gate: bias("gate", f)?, up: bias("up", f)?, down: bias("down", h)? })
                }
                false => None,
            };
            Ffn { router: Some(router), router_bias, gate, up, down, shared, expert_biases }
        } else {
            Ffn {
                router: None,
                router_bias: None,
                gate: self.matrix(&name("ffn_gate"), &[h, f], what)?,
                up: self.matrix(&name("ffn_up"), &[h, f], what)?,
                down: self.matrix(&name("ffn_down"), &[f, h], what)?,
                shared: None,
                expert_biases: None,
            }
        };
        let bias = |s: &str, len: u64| self.vector(&format!("blk.{i}.attn_{s}.bias"), len as usize);
        let qkv_bias = match c.features.qkv_bias {
            true => Some(QkvBias { q: bias("q", q)?, k: bias("k", kv)?, v: bias("v", kv)? }),
            false => None,
        };
        let qk_norm = match c.features.qk_norm {
            QkNorm::PerHead => Some(QkNormWeights { q: self.vector(&name("attn_q_norm"), c.head_dim)?, k: self.vector(&name("attn_k_norm"), c.head_dim)? }),
            QkNorm::Whole => Some(QkNormWeights { q: self.vector(&name("attn_q_norm"), c.q_dim())?, k: self.vector(&name("attn_k_norm"), c.kv_dim())? }),
            QkNorm::None => None,
        };
        Ok(LayerLayout {
            attn_norm: self.vector(&name("attn_norm"), c.n_embd)?,
            wq: self.matrix(&name("attn_q"), &[h, q], what)?,
            wk: self.matrix(&name("attn_k"), &[h, kv], what)?,
            wv: self.matrix(&name("attn_v"), &[h, kv], what)?,
            qkv_bias,
            qk_norm,
            wo: self.matrix(&name("attn_output"), &[q, h], what)?,
            wo_bias: match c.features.attn_output_bias {
                true => Some(self.vector(&format!("blk.{i}.attn_output.bias"), c.n_embd)?),
                false => None,
            },
            attn_sinks: match c.features.attention_sinks {
                true => Some(self.vector(&name("attn_sinks"), c.n_head)?),
                false => None,
            },
            ffn_norm: self.vector(&name(c.arch.spec().ffn_norm), c.n_embd)?,
            ffn,
        })
    }

    /// The frequency factors, F32 as ggml_rope_ext reads them (it refuses another type).
    fn rope_freqs(&self, c: &ModelConfig) -> Result<Vector, ModelError> {
        let v = self.vector(ROPE_FREQS, c.rope_dim / 2)?;
        if v.ty != GgmlType::F32 {
            return Err(ModelError::WrongTensorType { name: v.name, ty: v.ty, why: "llama.cpp reads RoPE frequency factors as F32".into() });
        }
        Ok(v)
    }

    fn find(&self, name: &str, what: &str) -> Result<&TensorInfo, ModelError> {
        let t = self.g.tensor(name).ok_or_else(|| ModelError::MissingTensor { name: name.into(), what: what.into() })?;
        self.used.borrow_mut().insert(name.to_string());
        Ok(t)
    }

    /// A tensor left over is one the forward pass would ignore: refused, naming what it is.
    fn check_all_used(&self, c: &ModelConfig) -> Result<(), ModelError> {
        let used = self.used.borrow();
        let Some(t) = self.g.tensors.iter().find(|t| !used.contains(&t.name)) else { return Ok(()) };
        let kind = t.name.split('.').filter(|p| *p != "blk" && p.parse::<u64>().is_err()).collect::<Vec<_>>().join(".");
        let what = match kind.as_str() {
            ROPE_FREQS => "RoPE frequency factors",
            "attn_output.bias" | "output.bias" => "output biases",
            "attn_q.bias" | "attn_k.bias" | "attn_v.bias" => "q/k/v biases to this architecture",
            "attn_q_norm.weight" | "attn_k_norm.weight" => "q/k norms to this architecture",
            "ffn_gate_inp.bias" => "router biases",
            "attn_sinks.weight" => "attention sinks",
            "ffn_gate_exps.bias" | "ffn_up_exps.bias" | "ffn_down_exps.bias" => "expert biases",
            k if k.contains("shexp") => "shared experts",
            _ => "this tensor",
        };
        Err(ModelError::UnusedTensor { name: t.name.clone(), arch: c.arch.to_string(), what: what.into() })
    }

    fn matrix(&self, name: &str, shape: &[u64], what: &str) -> Result<Matrix, ModelError> {
        let t = self.find(name, what)?;
        check(t, shape)?;
        let experts = shape.get(2).copied().unwrap_or(1);
        let range = self.g.tensor_range(t);
        let slab = t.size / experts;
        Ok(Matrix {
            name: name.into(),
            ty: t.ty,
            cols: shape[0] as usize,
            rows: shape[1] as usize,
            experts: (0..experts).map(|e| range.start + e * slab..range.start + (e + 1) * slab).collect(),
        })
    }

    /// The legacy layout: one tensor per expert, `blk.N.ffn_gate.E.weight`. All must share a type.
    fn split_experts(&self, layer: usize, kind: &str, n_expert: usize, shape: &[u64]) -> Result<Matrix, ModelError> {
        let mut experts = Vec::with_capacity(n_expert);
        let mut first: Option<&TensorInfo> = None;
        for e in 0..n_expert {
            let name = format!("blk.{layer}.{kind}.{e}.weight");
            let t = self.find(&name, "layer (legacy per-expert layout)")?;
            check(t, shape)?;
            if let Some(f) = first {
                if f.ty != t.ty {
                    return Err(ModelError::WrongTensorType {
                        name,
                        ty: t.ty,
                        why: format!("expert 0 of this layer is {}; all experts of a matrix must share a type", f.ty),
                    });
                }
            }
            first.get_or_insert(t);
            experts.push(self.g.tensor_range(t));
        }
        let first = first.ok_or_else(|| ModelError::MissingTensor { name: format!("blk.{layer}.{kind}.0.weight"), what: "layer".into() })?;
        Ok(Matrix { name: first.name.clone(), ty: first.ty, cols: shape[0] as usize, rows: shape[1] as usize, experts })
    }

    /// A 2-D tensor of vectors read as one (the rows one after the other).
    fn table(&self, name: &str, shape: &[u64]) -> Result<Vector, ModelError> {
        let t = self.find(name, "model")?;
        check(t, shape)?;
        Ok(Vector { name: name.into(), ty: t.ty, len: shape.iter().product::<u64>() as usize, range: self.g.tensor_range(t) })
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vector, ModelError> {
        let t = self.find(name, "model")?;
        check(t, &[len as u64])?;
        Ok(Vector { name: name.into(), ty: t.ty, len, range: self.g.tensor_range(t) })
    }
}

/// Shapes agree when they match after dropping trailing 1s (`[256]` and `[256, 1]` are the same).
fn same_shape(found: &[u64], expected: &[u64]) -> bool {
    let trim = |s: &[u64]| s.iter().rposition(|&d| d != 1).map_or(0, |i| i + 1);
    found[..trim(found)] == expected[..trim(expected)]
}

fn check(t: &TensorInfo, expected: &[u64]) -> Result<(), ModelError> {
    if !same_shape(&t.dims, expected) {
        return Err(ModelError::WrongShape { name: t.name.clone(), found: t.dims.clone(), expected: expected.to_vec() });
    }
    quant::check_supported(t.ty).map_err(|source| ModelError::Unsupported { name: t.name.clone(), source })
}
