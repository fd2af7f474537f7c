//! Causal grouped-query attention over the KV cache (shaders/attention.wgsl).

use super::rope_kv::HeadShape;
use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

/// The kernel keeps 4 output dims per invocation of 64.
pub const MAX_HEAD_DIM: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    scale: f32,
    q_stride: u32,
    window: u32,
    _pad: [u32; 2],
}

/// What a layer's attention adds to plain causal attention.
#[derive(Clone, Copy, Default)]
pub struct AttentionExtras<'a> {
    /// Only the last `window` positions (the query's own included).
    pub window: Option<u32>,
    /// One logit per query head in the softmax's denominator (n_head f32).
    pub sinks: Option<&'a StorageBuffer>,
}

/// `out[t, h] = softmax(q[t, h] · K[w..=pos] / √d) · V[w..=pos]` for every token and head, w = 0
/// or the first position of the window, the softmax with the head's sink when `extras` has
/// them. Each token's queries start its row of `q`, rows `q_stride` elements apart (the fused
/// q | k | v projection output); `out` rows are packed.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    gpu: &Gpu,
    env: &KernelEnv,
    shape: HeadShape,
    q: &StorageBuffer,
    q_stride: u32,
    k_cache: &StorageBuffer,
    v_cache: &StorageBuffer,
    out: &StorageBuffer,
    kv_f16: bool,
    extras: AttentionExtras,
) -> Result<Dispatch, GpuError> {
    let key = PipelineKey::new(Kernel::Attention).constant("KV_F16", kv_f16 as u32).constant("HAS_SINKS", extras.sinks.is_some() as u32);
    let pipeline = gpu.pipeline(&key)?;
    let params = UniformBuffer::new(
        gpu,
        "attention params",
        &Params {
            n_head: shape.n_head,
            n_head_kv: shape.n_head_kv,
            head_dim: shape.head_dim,
            scale: 1.0 / (shape.head_dim as f32).sqrt(),
            q_stride,
            window: extras.window.unwrap_or(0),
            _pad: [0; 2],
        },
    );
    let sinks = extras.sinks.unwrap_or(&env.unused);
    let bindings = [env.step.binding(), params.binding(), q.binding(), k_cache.binding(), v_cache.binding(), out.binding(), sinks.binding()];
    let bind_group = gpu.bind_group("attention", &pipeline, &bindings);
    Ok(Dispatch { label: "attention".into(), slots: None, pipeline, bind_group, grid: Grid::PerToken { x: shape.n_head, per_token: 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::synthetic::Rng;
    use crate::reference::ops;

    fn check(shape: HeadShape, pos0: usize, t: usize, kv_f16: bool) {
        check_with(shape, pos0, t, kv_f16, None, None);
    }

    fn check_with(shape: HeadShape, pos0: usize, t: usize, kv_f16: bool, window: Option<usize>, sinks: Option<&[f32]>) {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(5);
        let (hd, qd, kvd) = (shape.head_dim as usize, (shape.n_head * shape.head_dim) as usize, (shape.n_head_kv * shape.head_dim) as usize);
        let n_ctx = pos0 + t;
        let q: Vec<f32> = rng.vec(t * qd).iter().map(|x| x * 3.0).collect();
        // Queries sit at the start of wider rows, as in the fused q | k | v output.
        let q_stride = qd + 6;
        let q_rows: Vec<f32> = (0..t).flat_map(|r| [&q[r * qd..(r + 1) * qd], &[9.0f32; 6][..]].concat()).collect();
        let mut keys = rng.vec(n_ctx * kvd);
        let mut values = rng.vec(n_ctx * kvd);
        if kv_f16 {
            // The CPU sees what the f16 cache holds.
            for x in keys.iter_mut().chain(values.iter_mut()) {
                *x = half::f16::from_f32(*x).to_f32();
            }
        }
        let encode = |xs: &[f32]| -> Vec<u32> {
            if kv_f16 {
                xs.chunks(2).map(|p| half::f16::from_f32(p[0]).to_bits() as u32 | (half::f16::from_f32(p[1]).to_bits() as u32) << 16).collect()
            } else {
                xs.iter().map(|x| x.to_bits()).collect()
            }
        };
        let (qb, kc, vc, ob) = (f32_buffer(gpu, &q_rows), u32_buffer(gpu, &encode(&keys)), u32_buffer(gpu, &encode(&values)), zeros(gpu, t * qd));
        let sink_buffer = sinks.map(|s| f32_buffer(gpu, s));
        let extras = AttentionExtras { window: window.map(|w| w as u32), sinks: sink_buffer.as_ref() };
        let d = attention(gpu, &env, shape, &qb, q_stride as u32, &kc, &vc, &ob, kv_f16, extras).unwrap();
        run(gpu, &env, Step { pos0: pos0 as u32, n_tokens: t as u32, ..Default::default() }, &[d]);
        let mut want = vec![0f32; t * qd];
        for r in 0..t {
            let n = pos0 + r + 1;
            let (nh, nkv) = (shape.n_head as usize, shape.n_head_kv as usize);
            let options = ops::AttentionOptions { window, sinks, ..ops::AttentionOptions::plain(hd) };
            ops::attention(&q[r * qd..(r + 1) * qd], &keys[..n * kvd], &values[..n * kvd], nh, nkv, hd, options, &mut want[r * qd..(r + 1) * qd]);
        }
        let what = format!("attention {shape:?} pos0={pos0} t={t} f16={kv_f16} window={window:?} sinks={}", sinks.is_some());
        assert_close(&what, &read_f32(gpu, &ob), &want, 2e-5);
    }

    #[test]
    fn decode_step_over_a_long_cache() {
        check(HeadShape { n_head: 4, n_head_kv: 2, head_dim: 64 }, 150, 1, false);
        check(HeadShape { n_head: 8, n_head_kv: 1, head_dim: 16 }, 63, 1, true);
    }

    #[test]
    fn sliding_window_sees_only_the_last_positions() {
        // Windows shorter than, across and longer than a 64-position tile, in a prompt batch
        // and a decode step.
        for window in [1, 4, 63, 100, 500] {
            check_with(HeadShape { n_head: 4, n_head_kv: 2, head_dim: 64 }, 90, 40, false, Some(window), None);
        }
        check_with(HeadShape { n_head: 2, n_head_kv: 1, head_dim: 32 }, 200, 1, true, Some(128), None);
    }

    #[test]
    fn sinks_join_the_denominator() {
        // Sinks above and below the scores (a large one takes most of the weight).
        let sinks = [-3.0f32, 0.5, 4.0, 20.0];
        check_with(HeadShape { n_head: 4, n_head_kv: 2, head_dim: 64 }, 0, 12, false, None, Some(&sinks));
        check_with(HeadShape { n_head: 4, n_head_kv: 4, head_dim: 16 }, 130, 1, true, Some(4), Some(&sinks));
    }

    #[test]
    fn prompt_batch_is_causal() {
        check(HeadShape { n_head: 2, n_head_kv: 2, head_dim: 30 }, 0, 70, false);
        check(HeadShape { n_head: 6, n_head_kv: 3, head_dim: 256 }, 5, 9, true);
    }
}
