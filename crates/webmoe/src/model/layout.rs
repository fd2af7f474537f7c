//! Where each weight of a `llama`-architecture model lives in the file, checked against the
//! config: names, shapes and types, for dense models and both expert layouts.

use super::config::ModelConfig;
use super::error::ModelError;
use crate::gguf::{GgmlType, Gguf, TensorInfo};
use crate::quant;
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

/// A weight vector (norm scales), read whole and kept as f32.
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
    /// `gate` and `up`: `n_ff` rows of `n_embd` per expert; `down`: `n_embd` rows of `n_ff`.
    pub gate: Matrix,
    pub up: Matrix,
    pub down: Matrix,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LayerLayout {
    pub attn_norm: Vector,
    /// Q/K rows are stored permuted for interleaved-pair RoPE, as GGUF converters write them.
    pub wq: Matrix,
    pub wk: Matrix,
    pub wv: Matrix,
    pub wo: Matrix,
    pub ffn_norm: Vector,
    pub ffn: Ffn,
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
}

impl ModelLayout {
    pub fn from_gguf(g: &Gguf, c: &ModelConfig) -> Result<ModelLayout, ModelError> {
        let h = c.n_embd as u64;
        let v = c.vocab_size as u64;
        let embd_rows = find(g, "token_embd.weight", "model")?.n_rows();
        if embd_rows != v {
            return Err(ModelError::VocabMismatch { tokens: v, rows: embd_rows });
        }
        let token_embd = matrix(g, "token_embd.weight", &[h, v], "model")?;
        let (output, tied_output) = match g.tensor("output.weight") {
            Some(_) => (matrix(g, "output.weight", &[h, v], "model")?, false),
            None => (token_embd.clone(), true),
        };
        let output_norm = vector(g, "output_norm.weight", c.n_embd)?;
        if !c.is_moe() {
            if let Some(t) = g.tensors.iter().find(|t| t.name.contains("_exps.") || t.name.contains("ffn_gate_inp")) {
                return Err(ModelError::ExpertsWithoutCount { name: t.name.clone() });
            }
        }
        let layers = (0..c.n_layer).map(|i| layer(g, c, i)).collect::<Result<_, _>>()?;
        Ok(ModelLayout { token_embd, output_norm, output, tied_output, layers })
    }

    /// Every matrix of the model with a label, in file order of use (for inspection and uploads).
    pub fn matrices(&self) -> Vec<&Matrix> {
        let mut all = vec![&self.token_embd];
        for l in &self.layers {
            all.extend([&l.wq, &l.wk, &l.wv, &l.wo]);
            all.extend(l.ffn.router.as_ref());
            all.extend([&l.ffn.gate, &l.ffn.up, &l.ffn.down]);
        }
        if !self.tied_output {
            all.push(&self.output);
        }
        all
    }
}

fn layer(g: &Gguf, c: &ModelConfig, i: usize) -> Result<LayerLayout, ModelError> {
    let (h, q, kv, f) = (c.n_embd as u64, c.q_dim() as u64, c.kv_dim() as u64, c.n_ff as u64);
    let name = |s: &str| format!("blk.{i}.{s}.weight");
    let what = "layer";
    let ffn = if c.is_moe() {
        let e = c.n_expert as u64;
        let router = matrix(g, &name("ffn_gate_inp"), &[h, e], what)?;
        let (gate, up, down) = if g.tensor(&name("ffn_gate_exps")).is_some() {
            (
                matrix(g, &name("ffn_gate_exps"), &[h, f, e], what)?,
                matrix(g, &name("ffn_up_exps"), &[h, f, e], what)?,
                matrix(g, &name("ffn_down_exps"), &[f, h, e], what)?,
            )
        } else if g.tensor(&name("ffn_gate.0")).is_some() {
            (
                split_experts(g, i, "ffn_gate", c.n_expert, &[h, f])?,
                split_experts(g, i, "ffn_up", c.n_expert, &[h, f])?,
                split_experts(g, i, "ffn_down", c.n_expert, &[f, h])?,
            )
        } else {
            return Err(ModelError::CountWithoutExperts { count: e, layer: i });
        };
        Ffn { router: Some(router), gate, up, down }
    } else {
        Ffn {
            router: None,
            gate: matrix(g, &name("ffn_gate"), &[h, f], what)?,
            up: matrix(g, &name("ffn_up"), &[h, f], what)?,
            down: matrix(g, &name("ffn_down"), &[f, h], what)?,
        }
    };
    Ok(LayerLayout {
        attn_norm: vector(g, &name("attn_norm"), c.n_embd)?,
        wq: matrix(g, &name("attn_q"), &[h, q], what)?,
        wk: matrix(g, &name("attn_k"), &[h, kv], what)?,
        wv: matrix(g, &name("attn_v"), &[h, kv], what)?,
        wo: matrix(g, &name("attn_output"), &[q, h], what)?,
        ffn_norm: vector(g, &name("ffn_norm"), c.n_embd)?,
        ffn,
    })
}

fn find<'a>(g: &'a Gguf, name: &str, what: &str) -> Result<&'a TensorInfo, ModelError> {
    g.tensor(name).ok_or_else(|| ModelError::MissingTensor { name: name.into(), what: what.into() })
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

fn matrix(g: &Gguf, name: &str, shape: &[u64], what: &str) -> Result<Matrix, ModelError> {
    let t = find(g, name, what)?;
    check(t, shape)?;
    let experts = shape.get(2).copied().unwrap_or(1);
    let range = g.tensor_range(t);
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
fn split_experts(g: &Gguf, layer: usize, kind: &str, n_expert: usize, shape: &[u64]) -> Result<Matrix, ModelError> {
    let mut experts = Vec::with_capacity(n_expert);
    let mut first: Option<&TensorInfo> = None;
    for e in 0..n_expert {
        let name = format!("blk.{layer}.{kind}.{e}.weight");
        let t = find(g, &name, "layer (legacy per-expert layout)")?;
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
        experts.push(g.tensor_range(t));
    }
    let first = first.ok_or_else(|| ModelError::MissingTensor { name: format!("blk.{layer}.{kind}.0.weight"), what: "layer".into() })?;
    Ok(Matrix { name: first.name.clone(), ty: first.ty, cols: shape[0] as usize, rows: shape[1] as usize, experts })
}

fn vector(g: &Gguf, name: &str, len: usize) -> Result<Vector, ModelError> {
    let t = find(g, name, "model")?;
    check(t, &[len as u64])?;
    Ok(Vector { name: name.into(), ty: t.ty, len, range: g.tensor_range(t) })
}
