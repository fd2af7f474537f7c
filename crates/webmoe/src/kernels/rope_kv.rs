//! RoPE and the KV-cache append (shaders/rope_kv.wgsl), and the cos/sin table it reads.

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

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

/// cos/sin of `pos · theta^(−2i/rope_dim)` for every position < `max_ctx` and pair
/// i < rope_dim / 2, interleaved: (max_ctx, rope_dim / 2, 2). Computed in f64 and rounded once,
/// because GPU sin/cos lose accuracy at large angles.
pub fn rope_table(max_ctx: usize, rope_dim: usize, theta: f32) -> Vec<f32> {
    let pairs = rope_dim / 2;
    let mut t = Vec::with_capacity(max_ctx * pairs * 2);
    for pos in 0..max_ctx {
        for i in 0..pairs {
            let angle = pos as f64 * (theta as f64).powf(-2.0 * i as f64 / rope_dim as f64);
            t.push(angle.cos() as f32);
            t.push(angle.sin() as f32);
        }
    }
    t
}

/// Rotate the queries in place and write rotated keys and the values into the caches at
/// positions `pos0 .. pos0 + n_tokens`. `qkv` holds each token's q | k | v row
/// ([`HeadShape::qkv_dim`] elements). The caches hold f16 pairs when `kv_f16`, else f32.
#[allow(clippy::too_many_arguments)]
pub fn rope_kv(
    gpu: &Gpu,
    env: &KernelEnv,
    shape: HeadShape,
    rope_dim: u32,
    table: &StorageBuffer,
    qkv: &StorageBuffer,
    k_cache: &StorageBuffer,
    v_cache: &StorageBuffer,
    kv_f16: bool,
) -> Result<Dispatch, GpuError> {
    let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::RopeKv).constant("KV_F16", kv_f16 as u32))?;
    let params = Params {
        n_head: shape.n_head,
        n_head_kv: shape.n_head_kv,
        head_dim: shape.head_dim,
        rope_pairs: rope_dim / 2,
        qkv_stride: shape.qkv_dim(),
        k_offset: shape.q_dim(),
        v_offset: shape.q_dim() + shape.kv_dim(),
        _pad: 0,
    };
    let params = UniformBuffer::new(gpu, "rope_kv params", &params);
    let bind_group = gpu.bind_group(
        "rope_kv",
        &pipeline,
        &[env.step.binding(), params.binding(), table.binding(), qkv.binding(), k_cache.binding(), v_cache.binding()],
    );
    Ok(Dispatch { label: "rope_kv", slots: None, pipeline, bind_group, grid: Grid::PerToken { x: 1, per_token: 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::synthetic::Rng;
    use crate::reference::ops;

    #[test]
    fn rotates_queries_and_appends_keys_and_values() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(4);
        let shape = HeadShape { n_head: 4, n_head_kv: 2, head_dim: 10 };
        // rope_dim < head_dim: the last pairs of each head pass through unrotated.
        let (rope_dim, theta, max_ctx, pos0, t) = (6u32, 10000.0f32, 40usize, 29u32, 3usize);
        let (qd, kvd) = (40usize, 20usize);
        let (q, k, v) = (rng.vec(t * qd), rng.vec(t * kvd), rng.vec(t * kvd));
        // Each token's row: q | k | v.
        let qkv: Vec<f32> = (0..t).flat_map(|r| [&q[r * qd..(r + 1) * qd], &k[r * kvd..(r + 1) * kvd], &v[r * kvd..(r + 1) * kvd]].concat()).collect();
        let table = f32_buffer(gpu, &rope_table(max_ctx, rope_dim as usize, theta));
        for kv_f16 in [false, true] {
            let qkvb = f32_buffer(gpu, &qkv);
            let words = max_ctx * kvd / if kv_f16 { 2 } else { 1 };
            let (kc, vc) = (u32_buffer(gpu, &vec![0; words]), u32_buffer(gpu, &vec![0; words]));
            let d = rope_kv(gpu, &env, shape, rope_dim, &table, &qkvb, &kc, &vc, kv_f16).unwrap();
            run(gpu, &env, Step { pos0, n_tokens: t as u32, ..Default::default() }, &[d]);
            let (mut want_q, mut want_k) = (q.clone(), k.clone());
            for r in 0..t {
                let pos = pos0 as usize + r;
                ops::rope(&mut want_q[r * qd..(r + 1) * qd], 10, rope_dim as usize, pos, theta);
                ops::rope(&mut want_k[r * kvd..(r + 1) * kvd], 10, rope_dim as usize, pos, theta);
            }
            let got = read_f32(gpu, &qkvb);
            let got_q: Vec<f32> = (0..t).flat_map(|r| got[r * (qd + 2 * kvd)..r * (qd + 2 * kvd) + qd].to_vec()).collect();
            assert_close("q", &got_q, &want_q, 1e-5);
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
            assert_close(&format!("k cache f16={kv_f16}"), &got_k[span.clone()], &want_k, tol);
            assert_close(&format!("v cache f16={kv_f16}"), &got_v[span.clone()], &v, tol);
            assert!(got_k[..span.start].iter().all(|&x| x == 0.0), "positions before pos0 untouched");
        }
    }
}
