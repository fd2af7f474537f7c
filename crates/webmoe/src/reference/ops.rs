//! Plain f32 building blocks of the forward pass. They are the CPU references that the GPU
//! kernels are tested against, so they favour clarity and numerical care over speed.

use crate::model::{Rope, RopeMode, Routing};

/// `out[i] = x[i] / sqrt(mean(x²) + eps) * w[i]`. The mean is accumulated in f64.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let ms = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64;
    let scale = 1.0 / (ms as f32 + eps).sqrt();
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * g;
    }
}

/// `y[r] = Σ_k w[r·cols + k] · x[k]` for a row-major `rows × cols` matrix.
pub fn matvec(w: &[f32], x: &[f32], y: &mut [f32]) {
    let cols = x.len();
    for (r, out) in y.iter_mut().enumerate() {
        *out = dot(&w[r * cols..(r + 1) * cols], x);
    }
}

/// Dot product accumulated in f64 so the reference carries no summation-order error of its own.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum::<f64>() as f32
}

/// RoPE on each head of `x` at position `pos`: for each pair i < rope.dim/2, rotate
/// (x[a], x[b]) by pos · theta^(-2i/rope.dim) ÷ the pair's frequency factor as `rope` scales it
/// (YaRN also scales the pair's magnitude), where (a, b) = (2i, 2i+1) for interleaved pairs
/// (llama.cpp's "normal" RoPE, as GGUF stores llama Q and K) and (i, i + rope.dim/2) for NEOX.
/// Dimensions past `rope.dim` are left as they are.
pub fn rope(x: &mut [f32], head_dim: usize, rope: &Rope, pos: usize, mode: RopeMode) {
    let half = rope.dim / 2;
    for head in x.chunks_exact_mut(head_dim) {
        for i in 0..half {
            let (cos, sin) = rope.cos_sin(pos, i);
            let (cos, sin) = (cos as f32, sin as f32);
            let (ia, ib) = match mode {
                RopeMode::Interleaved => (2 * i, 2 * i + 1),
                RopeMode::Neox => (i, i + half),
            };
            let (a, b) = (head[ia], head[ib]);
            head[ia] = a * cos - b * sin;
            head[ib] = a * sin + b * cos;
        }
    }
}

/// RMSNorm of every `head_dim` values of `x` in place, each head scaled by the same `w`.
pub fn rms_norm_heads(x: &mut [f32], w: &[f32], eps: f32) {
    let head_dim = w.len();
    let mut out = vec![0f32; head_dim];
    for head in x.chunks_exact_mut(head_dim) {
        rms_norm(head, w, eps, &mut out);
        head.copy_from_slice(&out);
    }
}

/// In-place softmax; subtracts the maximum first.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f64;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v as f64;
    }
    for v in x.iter_mut() {
        *v = (*v as f64 / sum) as f32;
    }
}

/// sigmoid(x) = 1 / (1 + e^(−x)).
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// SiLU(x) = x · sigmoid(x).
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// The experts a router's `logits` choose, best first, and their weights, in the order
/// `routing` names:
/// - top-k then softmax: the top-k logits (ties to the lower index), weights = softmax over the
///   k selected logits;
/// - softmax then top-k: p = softmax over every logit, the top-k of p (ties to the lower index),
///   weights p[top], divided by their sum when renormalised.
pub fn route(logits: &[f32], k: usize, routing: Routing) -> Vec<(usize, f32)> {
    match routing {
        Routing::TopKThenSoftmax => {
            let chosen = top_k(logits, k);
            let mut w: Vec<f32> = chosen.iter().map(|&e| logits[e]).collect();
            softmax(&mut w);
            chosen.into_iter().zip(w).collect()
        }
        Routing::SoftmaxThenTopK { renormalise } => {
            let mut p = logits.to_vec();
            softmax(&mut p);
            let chosen = top_k(&p, k);
            let sum = chosen.iter().map(|&e| p[e] as f64).sum::<f64>();
            let scale = if renormalise { 1.0 / sum } else { 1.0 };
            chosen.into_iter().map(|e| (e, (p[e] as f64 * scale) as f32)).collect()
        }
    }
}

/// Indices of the k largest values, largest first, the lower index first among equals.
fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    // A stable sort by descending value keeps the lower index first among equals.
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order.truncate(k);
    order
}

/// How one query attends: its scores' scale, the window of past positions it sees, and the
/// sink logits of its heads.
#[derive(Clone, Copy, Debug)]
pub struct AttentionOptions<'a> {
    /// Scores are `q·k · scale` (1/sqrt(head_dim), or granite's `attention.scale`).
    pub scale: f32,
    /// Only the last `window` positions (the query's own included); `None`: all of them.
    pub window: Option<usize>,
    /// One logit per query head that joins the softmax's denominator and weighs no value
    /// (gpt-oss's attention sinks).
    pub sinks: Option<&'a [f32]>,
}

impl AttentionOptions<'_> {
    /// Plain scaled dot-product attention over every position.
    pub fn plain(head_dim: usize) -> AttentionOptions<'static> {
        AttentionOptions { scale: 1.0 / (head_dim as f32).sqrt(), window: None, sinks: None }
    }
}

/// Causal attention of one query position over cached keys and values, with grouped-query
/// heads: query head h reads kv head h / (n_head / n_head_kv). The query is the last cached
/// position. `q`: (n_head, head_dim); `keys`, `values`: (positions, n_head_kv, head_dim); `out`
/// like `q`. With a sink s_h: p_j = exp(s_j − m) / (Σ_i exp(s_i − m) + exp(s_h − m)).
#[allow(clippy::too_many_arguments)]
pub fn attention(q: &[f32], keys: &[f32], values: &[f32], n_head: usize, n_head_kv: usize, head_dim: usize, options: AttentionOptions, out: &mut [f32]) {
    let kv_dim = n_head_kv * head_dim;
    let positions = keys.len() / kv_dim;
    let first = options.window.map_or(0, |w| positions.saturating_sub(w));
    for h in 0..n_head {
        let kvh = h / (n_head / n_head_kv);
        let qh = &q[h * head_dim..(h + 1) * head_dim];
        let mut scores: Vec<f32> = (first..positions)
            .map(|t| dot(qh, &keys[t * kv_dim + kvh * head_dim..][..head_dim]) * options.scale)
            .collect();
        // The sink is one more logit whose probability is dropped.
        if let Some(sinks) = options.sinks {
            scores.push(sinks[h]);
        }
        softmax(&mut scores);
        let oh = &mut out[h * head_dim..(h + 1) * head_dim];
        for (d, o) in oh.iter_mut().enumerate() {
            *o = (first..positions).map(|t| scores[t - first] as f64 * values[t * kv_dim + kvh * head_dim + d] as f64).sum::<f64>() as f32;
        }
    }
}
