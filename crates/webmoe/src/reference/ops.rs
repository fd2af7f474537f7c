//! Plain f32 building blocks of the forward pass. They are the CPU references that the GPU
//! kernels are tested against, so they favour clarity and numerical care over speed.

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

/// RoPE on interleaved pairs, as GGUF stores Q and K (llama.cpp's "normal" RoPE): for each head
/// and each pair i < rope_dim/2, rotate (x[2i], x[2i+1]) by pos · theta^(-2i/rope_dim).
pub fn rope(x: &mut [f32], head_dim: usize, rope_dim: usize, pos: usize, theta: f32) {
    for head in x.chunks_exact_mut(head_dim) {
        for i in 0..rope_dim / 2 {
            let freq = (theta as f64).powf(-2.0 * i as f64 / rope_dim as f64);
            let angle = pos as f64 * freq;
            let (sin, cos) = (angle.sin() as f32, angle.cos() as f32);
            let (a, b) = (head[2 * i], head[2 * i + 1]);
            head[2 * i] = a * cos - b * sin;
            head[2 * i + 1] = a * sin + b * cos;
        }
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

/// SiLU(x) = x · sigmoid(x).
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// The top-k entries of `logits` (ties to the lower index) and their weights: a softmax over the
/// k selected logits, which equals the renormalised top-k of the full softmax.
pub fn top_k_routing(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    // Stable sort by descending logit keeps the lower index first among equals.
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let chosen = &order[..k.min(order.len())];
    let mut w: Vec<f32> = chosen.iter().map(|&e| logits[e]).collect();
    softmax(&mut w);
    chosen.iter().copied().zip(w).collect()
}

/// Causal attention of one query position over cached keys and values, with grouped-query
/// heads: query head h reads kv head h / (n_head / n_head_kv).
/// `q`: (n_head, head_dim); `keys`, `values`: (positions, n_head_kv, head_dim); `out` like `q`.
pub fn attention(q: &[f32], keys: &[f32], values: &[f32], n_head: usize, n_head_kv: usize, head_dim: usize, out: &mut [f32]) {
    let kv_dim = n_head_kv * head_dim;
    let positions = keys.len() / kv_dim;
    let scale = 1.0 / (head_dim as f32).sqrt();
    for h in 0..n_head {
        let kvh = h / (n_head / n_head_kv);
        let qh = &q[h * head_dim..(h + 1) * head_dim];
        let mut scores: Vec<f32> = (0..positions)
            .map(|t| dot(qh, &keys[t * kv_dim + kvh * head_dim..][..head_dim]) * scale)
            .collect();
        softmax(&mut scores);
        let oh = &mut out[h * head_dim..(h + 1) * head_dim];
        for (d, o) in oh.iter_mut().enumerate() {
            *o = (0..positions).map(|t| scores[t] as f64 * values[t * kv_dim + kvh * head_dim + d] as f64).sum::<f64>() as f32;
        }
    }
}
