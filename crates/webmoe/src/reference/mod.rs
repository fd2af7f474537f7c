//! The plain f32 CPU forward pass: the oracle the GPU engine is tested against.
//!
//! Weights are dequantized exactly (see [`crate::quant`]), activations and the KV cache are f32,
//! and every step follows the textbook formula, the model's [`Features`] choosing the variants:
//!
//! ```text
//! x = embd[token] · s_embedding                                    (granite's multipliers s_*, else 1)
//! for each layer:
//!     h = rms_norm(x) * attn_norm;  q, k, v = Wq h (+ bq), Wk h (+ bk), Wv h (+ bv)
//!     q, k = rms_norm(q_head) * q_norm, rms_norm(k_head) * k_norm      (per-head q/k norm;
//!            over all of q and all of k when the norm weights are that long)
//!     rope(q, k)                                                    (interleaved or NEOX pairs, each
//!            pair's angle ÷ its frequency factor where the file has rope_freqs)
//!     x += s_residual · (Wo · attention(q, K[w..=pos], V[w..=pos]) (+ bo))  (scores q·k · s_attention, else
//!          / sqrt(head_dim); w = 0, or pos − window + 1 on sliding layers; a head's sink logit in
//!          the softmax's denominator)
//!     h = rms_norm(x) * ffn_norm
//!     x += s_residual · (Σ_{(e, w) ∈ route(W_router h (+ b_router))} w · ffn_e(h)
//!          (+ sigmoid(g_shared · h) · ffn_s(h)))                        (shared expert)
//!     with ffn_e(h) = down_e(act(gate_e h (+ bg_e), up_e h (+ bu_e))) (+ bd_e), act = silu(g) · u
//!     or gpt-oss's clamped form
//! logits = W_out · (rms_norm(x) * output_norm) / s_logit
//! ```

pub mod ops;

use crate::error::Result;
use crate::model::{Activation, Features, Matrix, Model, ModelConfig, Rope, Vector};
use crate::quant::{self, QuantError};

/// A model with its non-expert weights dequantized to f32, row-major, and its experts read from
/// the file when a token chooses them (so a model of any size needs memory for its dense part
/// and one expert at a time).
pub struct ReferenceModel<'f> {
    pub config: ModelConfig,
    /// The config's RoPE with the file's frequency factors.
    rope: Rope,
    file: &'f [u8],
    token_embd: Vec<f32>,
    output_norm: Vec<f32>,
    output: Vec<f32>,
    layers: Vec<ReferenceLayer>,
}

struct ReferenceLayer {
    attn_norm: Vec<f32>,
    wq: Vec<f32>,
    wk: Vec<f32>,
    wv: Vec<f32>,
    /// q | k | v biases.
    bias: Option<[Vec<f32>; 3]>,
    /// q and k norm weights, of one head (each head normed alone) or of the whole projection.
    qk_norm: Option<[Vec<f32>; 2]>,
    wo: Vec<f32>,
    wo_bias: Option<Vec<f32>>,
    sinks: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    router: Option<Vec<f32>>,
    router_bias: Option<Vec<f32>>,
    /// Where each expert's `n_ff × n_embd`, `n_ff × n_embd` and `n_embd × n_ff` matrices are.
    gate: Matrix,
    up: Matrix,
    down: Matrix,
    /// Gate, up (n_expert × n_ff) and down (n_expert × n_embd) biases.
    expert_biases: Option<[Vec<f32>; 3]>,
    shared: Option<SharedWeights>,
}

/// A shared expert, dequantized: its gate row, and gate, up (n_ff_shexp × n_embd) and down.
struct SharedWeights {
    gate_inp: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    down: Vec<f32>,
}

/// The experts one token chose in each layer: `(expert, weight)` pairs, best first.
pub type Routing = Vec<Vec<(usize, f32)>>;

/// Dequantize one expert of a matrix from the whole file's bytes.
fn expert(file: &[u8], m: &Matrix, e: usize) -> Result<Vec<f32>, QuantError> {
    let r = &m.experts[e];
    quant::dequantize_to_vec(m.ty, &file[r.start as usize..r.end as usize])
}

fn dense(file: &[u8], m: &Matrix) -> Result<Vec<f32>, QuantError> {
    expert(file, m, 0)
}

fn vector(file: &[u8], v: &Vector) -> Result<Vec<f32>, QuantError> {
    quant::dequantize_to_vec(v.ty, &file[v.range.start as usize..v.range.end as usize])
}

impl<'f> ReferenceModel<'f> {
    /// Dequantize `model`'s non-expert weights from `file`, the whole GGUF file the model was
    /// read from (its ranges were checked against the file's length when the header was parsed),
    /// check that every expert's type can be dequantized, and that the RoPE frequency factors are
    /// usable.
    pub fn load(model: &Model, file: &'f [u8]) -> Result<ReferenceModel<'f>> {
        let l = &model.layout;
        // The first row of an expert matrix: dequantizing it checks the type, so that experts
        // read later cannot fail.
        let checked = |m: &Matrix| -> Result<Matrix, QuantError> {
            let first = m.experts[0].start as usize;
            quant::dequantize_to_vec(m.ty, &file[first..first + m.row_bytes() as usize])?;
            Ok(m.clone())
        };
        let layers = l
            .layers
            .iter()
            .map(|ly| {
                Ok(ReferenceLayer {
                    attn_norm: vector(file, &ly.attn_norm)?,
                    wq: dense(file, &ly.wq)?,
                    wk: dense(file, &ly.wk)?,
                    wv: dense(file, &ly.wv)?,
                    bias: ly.qkv_bias.as_ref().map(|b| Ok::<_, QuantError>([vector(file, &b.q)?, vector(file, &b.k)?, vector(file, &b.v)?])).transpose()?,
                    qk_norm: ly.qk_norm.as_ref().map(|n| Ok::<_, QuantError>([vector(file, &n.q)?, vector(file, &n.k)?])).transpose()?,
                    wo: dense(file, &ly.wo)?,
                    wo_bias: ly.wo_bias.as_ref().map(|b| vector(file, b)).transpose()?,
                    sinks: ly.attn_sinks.as_ref().map(|b| vector(file, b)).transpose()?,
                    ffn_norm: vector(file, &ly.ffn_norm)?,
                    router: ly.ffn.router.as_ref().map(|r| dense(file, r)).transpose()?,
                    router_bias: ly.ffn.router_bias.as_ref().map(|b| vector(file, b)).transpose()?,
                    gate: checked(&ly.ffn.gate)?,
                    up: checked(&ly.ffn.up)?,
                    down: checked(&ly.ffn.down)?,
                    expert_biases: ly.ffn.expert_biases.as_ref().map(|b| Ok::<_, QuantError>([vector(file, &b.gate)?, vector(file, &b.up)?, vector(file, &b.down)?])).transpose()?,
                    shared: ly
                        .ffn
                        .shared
                        .as_ref()
                        .map(|s| Ok::<_, QuantError>(SharedWeights { gate_inp: dense(file, &s.gate_inp)?, gate: dense(file, &s.gate)?, up: dense(file, &s.up)?, down: dense(file, &s.down)? }))
                        .transpose()?,
                })
            })
            .collect::<Result<_, QuantError>>()?;
        let rope = match &l.rope_freqs {
            Some(v) => model.config.rope().with_freq_factors(&v.name, vector(file, v)?)?,
            None => model.config.rope(),
        };
        Ok(ReferenceModel {
            config: model.config.clone(),
            rope,
            file,
            token_embd: dense(file, &l.token_embd)?,
            output_norm: vector(file, &l.output_norm)?,
            output: dense(file, &l.output)?,
            layers,
        })
    }

    /// Run `tokens` from position 0 and return the logits of every position (`tokens.len()` rows
    /// of `vocab_size`) and the routing of every position.
    pub fn forward(&self, tokens: &[u32]) -> (Vec<Vec<f32>>, Vec<Routing>) {
        let c = &self.config;
        let (h_dim, kv_dim) = (c.n_embd, c.kv_dim());
        let mut keys: Vec<Vec<f32>> = vec![Vec::new(); c.n_layer];
        let mut values: Vec<Vec<f32>> = vec![Vec::new(); c.n_layer];
        let mut logits = Vec::with_capacity(tokens.len());
        let mut routing = Vec::with_capacity(tokens.len());
        let mut h = vec![0f32; h_dim];
        let scales = c.scales;
        for (pos, &tok) in tokens.iter().enumerate() {
            let mut x: Vec<f32> = self.token_embd[tok as usize * h_dim..(tok as usize + 1) * h_dim].iter().map(|v| v * scales.embedding).collect();
            let mut token_routing = Vec::with_capacity(c.n_layer);
            for (li, ly) in self.layers.iter().enumerate() {
                ops::rms_norm(&x, &ly.attn_norm, c.rms_eps, &mut h);
                let mut q = vec![0f32; c.q_dim()];
                let mut k = vec![0f32; kv_dim];
                let mut v = vec![0f32; kv_dim];
                ops::matvec(&ly.wq, &h, &mut q);
                ops::matvec(&ly.wk, &h, &mut k);
                ops::matvec(&ly.wv, &h, &mut v);
                if let Some([bq, bk, bv]) = &ly.bias {
                    for (x, b) in [(&mut q, bq), (&mut k, bk), (&mut v, bv)] {
                        x.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    }
                }
                if let Some([nq, nk]) = &ly.qk_norm {
                    // Heads as long as the weights: one head's, or the whole projection.
                    ops::rms_norm_heads(&mut q, nq, c.rms_eps);
                    ops::rms_norm_heads(&mut k, nk, c.rms_eps);
                }
                let Features { rope, routing, .. } = c.features;
                ops::rope(&mut q, c.head_dim, &self.rope, pos, rope);
                ops::rope(&mut k, c.head_dim, &self.rope, pos, rope);
                keys[li].extend_from_slice(&k);
                values[li].extend_from_slice(&v);
                let mut att = vec![0f32; c.q_dim()];
                let options = ops::AttentionOptions {
                    scale: scales.attention.unwrap_or(1.0 / (c.head_dim as f32).sqrt()),
                    window: c.attention_window(li),
                    sinks: ly.sinks.as_deref(),
                };
                ops::attention(&q, &keys[li], &values[li], c.n_head, c.n_head_kv, c.head_dim, options, &mut att);
                let mut o = vec![0f32; h_dim];
                ops::matvec(&ly.wo, &att, &mut o);
                if let Some(b) = &ly.wo_bias {
                    o.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                }
                x.iter_mut().zip(&o).for_each(|(a, b)| *a += scales.residual * b);

                ops::rms_norm(&x, &ly.ffn_norm, c.rms_eps, &mut h);
                let chosen = match &ly.router {
                    Some(router) => {
                        let mut r = vec![0f32; c.n_expert];
                        ops::matvec(router, &h, &mut r);
                        if let Some(b) = &ly.router_bias {
                            r.iter_mut().zip(b).for_each(|(l, b)| *l += b);
                        }
                        ops::route(&r, c.n_expert_used, routing)
                    }
                    None => vec![(0, 1.0)],
                };
                for &(e, w) in &chosen {
                    let y = self.expert_ffn(ly, e, &h);
                    x.iter_mut().zip(&y).for_each(|(a, b)| *a += scales.residual * w * b);
                }
                if let Some(s) = &ly.shared {
                    let w = ops::sigmoid(ops::dot(&s.gate_inp, &h));
                    let y = ffn(&s.gate, &s.up, &s.down, None, c.features.activation, &h);
                    x.iter_mut().zip(&y).for_each(|(a, b)| *a += scales.residual * w * b);
                }
                token_routing.push(chosen);
            }
            ops::rms_norm(&x, &self.output_norm, c.rms_eps, &mut h);
            let mut out = vec![0f32; c.vocab_size];
            ops::matvec(&self.output, &h, &mut out);
            out.iter_mut().for_each(|v| *v /= scales.logit);
            logits.push(out);
            routing.push(token_routing);
        }
        (logits, routing)
    }

    /// Expert `e`'s FFN of `h`, with its biases where the layer has them.
    fn expert_ffn(&self, ly: &ReferenceLayer, e: usize, h: &[f32]) -> Vec<f32> {
        let weights = |m: &Matrix| expert(self.file, m, e).expect("expert types were checked at load");
        let (f, n) = (self.config.n_ff, self.config.n_embd);
        let biases = ly.expert_biases.as_ref().map(|[g, u, d]| [&g[e * f..(e + 1) * f], &u[e * f..(e + 1) * f], &d[e * n..(e + 1) * n]]);
        ffn(&weights(&ly.gate), &weights(&ly.up), &weights(&ly.down), biases, self.config.features.activation, h)
    }
}

/// `down(act(gate h + bg, up h + bu)) + bd` for an FFN of width f (gate, up: f × n_embd; down:
/// n_embd × f), biases zero when absent.
fn ffn(gate: &[f32], up: &[f32], down: &[f32], biases: Option<[&[f32]; 3]>, activation: Activation, h: &[f32]) -> Vec<f32> {
    let f = gate.len() / h.len();
    let mut g = vec![0f32; f];
    let mut u = vec![0f32; f];
    ops::matvec(gate, h, &mut g);
    ops::matvec(up, h, &mut u);
    let mut y = vec![0f32; h.len()];
    if let Some([bg, bu, _]) = biases {
        g.iter_mut().zip(bg).for_each(|(a, b)| *a += b);
        u.iter_mut().zip(bu).for_each(|(a, b)| *a += b);
    }
    let act: Vec<f32> = g.iter().zip(&u).map(|(&a, &b)| activation.apply(a, b)).collect();
    ops::matvec(down, &act, &mut y);
    if let Some([_, _, bd]) = biases {
        y.iter_mut().zip(bd).for_each(|(a, b)| *a += b);
    }
    y
}

#[cfg(test)]
mod tests;
