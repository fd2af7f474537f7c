//! The queries and keys made ready for attention — biases, per-head RMSNorm, RoPE — and the
//! KV-cache append (shaders/rope_kv.wgsl), with the cos/sin table it reads.

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};
use crate::model::{Rope, RopeMode};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    rope_pairs: u32,
    qkv_stride: u32,
    k_offset: u32,
    v_offset: u32,
    eps: f32,
    units: u32,
    q_factor: f32,
    v_factor: f32,
    _pad: u32,
}

/// The shape of one layer's attention.
#[derive(Clone, Copy, Debug)]
pub struct HeadShape {
    pub n_head: u32,
    pub n_head_kv: u32,
    pub head_dim: u32,
}

impl HeadShape {
    pub fn q_dim(&self) -> u32 {
        self.n_head * self.head_dim
    }

    pub fn kv_dim(&self) -> u32 {
        self.n_head_kv * self.head_dim
    }

    /// Elements of one token's row of the fused projection output: q | k | v.
    pub fn qkv_dim(&self) -> u32 {
        self.q_dim() + 2 * self.kv_dim()
    }
}

/// cos/sin of every position < `max_ctx` and pair i < rope.dim / 2 ([`Rope::cos_sin`]: the
/// angle `pos · theta^(−2i/rope.dim)` ÷ the pair's frequency factor as the model's scaling
/// changes it, times YaRN's magnitude), interleaved: (max_ctx, rope.dim / 2, 2). Computed in f64
/// and rounded once, because GPU sin/cos lose accuracy at large angles. Both pairings read the
/// same table.
pub fn rope_table(max_ctx: usize, rope: &Rope) -> Vec<f32> {
    let pairs = rope.dim / 2;
    let mut t = Vec::with_capacity(max_ctx * pairs * 2);
    for pos in 0..max_ctx {
        for i in 0..pairs {
            let (cos, sin) = rope.cos_sin(pos, i);
            t.push(cos as f32);
            t.push(sin as f32);
        }
    }
    t
}

/// RMSNorm weights of the queries and the keys: `head_dim` values each, or with `whole` the
/// lengths of the whole projections (q_dim, kv_dim), which the norm then runs over.
pub struct HeadNorm<'a> {
    pub q: &'a StorageBuffer,
    pub k: &'a StorageBuffer,
    pub eps: f32,
    pub whole: bool,
}

/// One layer's step from projections to cache.
pub struct RopeKv<'a> {
    pub shape: HeadShape,
    /// Dims of each head RoPE rotates (even, at most `head_dim`), and how it pairs them.
    pub rope_dim: u32,
    pub mode: RopeMode,
    /// [`rope_table`] for the cache's positions.
    pub table: &'a StorageBuffer,
    /// Each token's q | k | v row ([`HeadShape::qkv_dim`] elements).
    pub qkv: &'a StorageBuffer,
    pub k_cache: &'a StorageBuffer,
    pub v_cache: &'a StorageBuffer,
    /// The caches hold f16 pairs, else f32.
    pub kv_f16: bool,
    /// q | k | v biases, laid out like a row of `qkv`, added first.
    pub bias: Option<&'a StorageBuffer>,
    /// RMSNorm of every query and key head (or of the whole q and k) after the biases, before
    /// RoPE.
    pub qk_norm: Option<HeadNorm<'a>>,
    /// Multipliers of the rotated queries and of the values written to the cache (1 for none).
    /// Attention divides its scores by sqrt(head_dim), so `q_factor = s · sqrt(head_dim)` gives
    /// scores `q·k · s`; attention is linear in V, so `v_factor = r` gives `r · attention(…)`.
    pub q_factor: f32,
    pub v_factor: f32,
}

/// Biases, q/k norms and RoPE on the queries in place; the keys so treated and the biased values
/// written into the caches at positions `pos0 .. pos0 + n_tokens`.
pub fn rope_kv(gpu: &Gpu, env: &KernelEnv, r: &RopeKv) -> Result<Dispatch, GpuError> {
    let shape = r.shape;
    let key = PipelineKey::new(Kernel::RopeKv)
        .constant("KV_F16", r.kv_f16 as u32)
        .constant("NEOX", (r.mode == RopeMode::Neox) as u32)
        .constant("BIAS", r.bias.is_some() as u32)
        .constant("QK_NORM", r.qk_norm.as_ref().map_or(0, |n| if n.whole { 2 } else { 1 }));
    // A norm over the whole projection needs every head of a token in one workgroup.
    let heads = shape.n_head + shape.n_head_kv;
    let units = if r.qk_norm.as_ref().is_some_and(|n| n.whole) { heads } else { 1 };
    let pipeline = gpu.pipeline(&key)?;
    let params = Params {
        n_head: shape.n_head,
        n_head_kv: shape.n_head_kv,
        head_dim: shape.head_dim,
        rope_pairs: r.rope_dim / 2,
        qkv_stride: shape.qkv_dim(),
        k_offset: shape.q_dim(),
        v_offset: shape.q_dim() + shape.kv_dim(),
        eps: r.qk_norm.as_ref().map_or(0.0, |n| n.eps),
        units,
        q_factor: r.q_factor,
        v_factor: r.v_factor,
        _pad: 0,
    };
    let params = UniformBuffer::new(gpu, "rope_kv params", &params);
    let bias = r.bias.unwrap_or(&env.unused);
    let (q_norm, k_norm) = r.qk_norm.as_ref().map_or((&env.unused, &env.unused), |n| (n.q, n.k));
    let bind_group = gpu.bind_group(
        "rope_kv",
        &pipeline,
        &[
            env.step.binding(),
            params.binding(),
            r.table.binding(),
            r.qkv.binding(),
            r.k_cache.binding(),
            r.v_cache.binding(),
            bias.binding(),
            q_norm.binding(),
            k_norm.binding(),
        ],
    );
    Ok(Dispatch { label: "rope_kv".into(), slots: None, pipeline, bind_group, grid: Grid::PerToken { x: heads / units, per_token: 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::model::RopeScaling;
    use crate::reference::ops;
    use crate::synthetic::Rng;

    /// What the kernel does to one token's q | k | v, on the CPU: biases, q/k norms (per head or
    /// over the projection, as long as the weights), RoPE.
    #[allow(clippy::too_many_arguments)]
    fn cpu(row: &[f32], shape: HeadShape, rope: &Rope, mode: RopeMode, pos: usize, bias: Option<&[f32]>, norm: Option<(&[f32], &[f32])>) -> Vec<f32> {
        let (qd, kvd, hd) = (shape.q_dim() as usize, shape.kv_dim() as usize, shape.head_dim as usize);
        let mut row = row.to_vec();
        if let Some(b) = bias {
            row.iter_mut().zip(b).for_each(|(x, b)| *x += b);
        }
        let (q, kv) = row.split_at_mut(qd);
        let k = &mut kv[..kvd];
        if let Some((nq, nk)) = norm {
            ops::rms_norm_heads(q, nq, 1e-6);
            ops::rms_norm_heads(k, nk, 1e-6);
        }
        ops::rope(q, hd, rope, pos, mode);
        ops::rope(k, hd, rope, pos, mode);
        row
    }

    #[test]
    fn rotates_queries_and_appends_keys_and_values() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(4);
        let (max_ctx, pos0, t) = (40usize, 29u32, 3usize);
        // rope_dim < head_dim: the last pairs of each head pass through unrotated. 200 > 64 values
        // per head: invocations stride, and YaRN scales the table (positions past the original 16,
        // pairs 0..=11 ramping from kept to interpolated angles). The short heads' pairs have
        // frequency factors, which the table holds. Every combination of the steps runs.
        let yarn = RopeScaling::Yarn { factor: 8.0, original_context: 16, beta_fast: 32.0, beta_slow: 1.0 };
        let with_factors = Rope::new(6, 10000.0, RopeScaling::None).with_freq_factors("rope_freqs.weight", vec![1.0, 2.5, 8.0]).unwrap();
        for (shape, rope) in [
            (HeadShape { n_head: 4, n_head_kv: 2, head_dim: 10 }, with_factors),
            (HeadShape { n_head: 3, n_head_kv: 1, head_dim: 200 }, Rope::new(200, 10000.0, yarn)),
        ] {
            let rope_dim = rope.dim as u32;
            let (qd, kvd, hd, stride) = (shape.q_dim() as usize, shape.kv_dim() as usize, shape.head_dim as usize, shape.qkv_dim() as usize);
            let qkv = rng.vec(t * stride);
            let bias_values: Vec<f32> = rng.vec(stride);
            let (nq, nk): (Vec<f32>, Vec<f32>) = (rng.vec(hd), rng.vec(hd));
            let (wq, wk): (Vec<f32>, Vec<f32>) = (rng.vec(qd), rng.vec(kvd));
            let table = f32_buffer(gpu, &rope_table(max_ctx, &rope));
            let (bias_b, nq_b, nk_b) = (f32_buffer(gpu, &bias_values), f32_buffer(gpu, &nq), f32_buffer(gpu, &nk));
            let (wq_b, wk_b) = (f32_buffer(gpu, &wq), f32_buffer(gpu, &wk));
            for mode in [RopeMode::Interleaved, RopeMode::Neox] {
                for (with_bias, norm) in [(false, None), (true, None), (false, Some(false)), (true, Some(false)), (false, Some(true)), (true, Some(true))] {
                    // Granite's multipliers with the last combination of each mode, 1 elsewhere.
                    let (q_factor, v_factor) = if with_bias && norm == Some(true) { (0.7, 0.22) } else { (1.0, 1.0) };
                    for kv_f16 in [false, true] {
                        let label = format!("hd={hd} {mode:?} bias={with_bias} norm={norm:?} (whole) q×{q_factor} v×{v_factor} f16={kv_f16}");
                        let qkvb = f32_buffer(gpu, &qkv);
                        let words = max_ctx * kvd / if kv_f16 { 2 } else { 1 };
                        let (kc, vc) = (u32_buffer(gpu, &vec![0; words]), u32_buffer(gpu, &vec![0; words]));
                        let r = RopeKv {
                            shape,
                            rope_dim,
                            mode,
                            table: &table,
                            qkv: &qkvb,
                            k_cache: &kc,
                            v_cache: &vc,
                            kv_f16,
                            bias: with_bias.then_some(&bias_b),
                            qk_norm: norm.map(|whole| match whole {
                                false => HeadNorm { q: &nq_b, k: &nk_b, eps: 1e-6, whole },
                                true => HeadNorm { q: &wq_b, k: &wk_b, eps: 1e-6, whole },
                            }),
                            q_factor,
                            v_factor,
                        };
                        run(gpu, &env, Step { pos0, n_tokens: t as u32, ..Default::default() }, &[rope_kv(gpu, &env, &r).unwrap()]);
                        let want: Vec<Vec<f32>> = (0..t)
                            .map(|r| {
                                let bias = with_bias.then_some(&bias_values[..]);
                                let norm = norm.map(|whole| if whole { (&wq[..], &wk[..]) } else { (&nq[..], &nk[..]) });
                                let mut row = cpu(&qkv[r * stride..(r + 1) * stride], shape, &rope, mode, pos0 as usize + r, bias, norm);
                                row[..qd].iter_mut().for_each(|x| *x *= q_factor);
                                row[qd + kvd..].iter_mut().for_each(|x| *x *= v_factor);
                                row
                            })
                            .collect();
                        let got = read_f32(gpu, &qkvb);
                        let got_q: Vec<f32> = (0..t).flat_map(|r| got[r * stride..r * stride + qd].to_vec()).collect();
                        let want_q: Vec<f32> = want.iter().flat_map(|w| w[..qd].to_vec()).collect();
                        assert_close(&format!("q {label}"), &got_q, &want_q, 1e-5);
                        let decode = |words: Vec<u32>| -> Vec<f32> {
                            if kv_f16 {
                                words.iter().flat_map(|&w| [half::f16::from_bits(w as u16).to_f32(), half::f16::from_bits((w >> 16) as u16).to_f32()]).collect()
                            } else {
                                words.iter().map(|&w| f32::from_bits(w)).collect()
                            }
                        };
                        let (got_k, got_v) = (decode(read_u32(gpu, &kc)), decode(read_u32(gpu, &vc)));
                        let tol = if kv_f16 { 1e-3 } else { 1e-5 };
                        let span = pos0 as usize * kvd..(pos0 as usize + t) * kvd;
                        let want_k: Vec<f32> = want.iter().flat_map(|w| w[qd..qd + kvd].to_vec()).collect();
                        let want_v: Vec<f32> = want.iter().flat_map(|w| w[qd + kvd..].to_vec()).collect();
                        assert_close(&format!("k cache {label}"), &got_k[span.clone()], &want_k, tol);
                        assert_close(&format!("v cache {label}"), &got_v[span.clone()], &want_v, tol);
                        assert!(got_k[..span.start].iter().all(|&x| x == 0.0), "{label}: positions before pos0 untouched");
                    }
                }
            }
        }
    }

    /// The two pairings differ, so a kernel that used one for the other fails above; here they
    /// are told apart on a head where the answer is known: (1, 0, 0, 0) at angle π/2 for pair 0.
    #[test]
    fn neox_pairs_dimension_i_with_i_plus_half() {
        let mut x = vec![1.0f32, 0.0, 0.0, 0.0];
        // theta^0 = 1: pair 0 turns by pos radians; pos 2 is far from any multiple of π/2 away.
        let rope = Rope::new(4, 10000.0, RopeScaling::None);
        ops::rope(&mut x, 4, &rope, 2, RopeMode::Neox);
        assert!((x[0] - 2f32.cos()).abs() < 1e-6 && (x[2] - 2f32.sin()).abs() < 1e-6 && x[1] == 0.0 && x[3] == 0.0, "{x:?}");
        let mut y = vec![1.0f32, 0.0, 0.0, 0.0];
        ops::rope(&mut y, 4, &rope, 2, RopeMode::Interleaved);
        assert!((y[0] - 2f32.cos()).abs() < 1e-6 && (y[1] - 2f32.sin()).abs() < 1e-6 && y[2] == 0.0, "{y:?}");
    }
}
