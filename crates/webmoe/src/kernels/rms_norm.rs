//! RMSNorm of each token's row, optionally after adding the previous MoE layer's weighted
//! expert outputs (and its gated shared expert) to the residual stream (shaders/rms_norm.wgsl).

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    eps: f32,
    combine_scale: f32,
    _pad: u32,
}

/// The experts whose outputs join the residual stream first: each token's `k` routes and the
/// `(n_tokens · k, n)` expert outputs.
pub struct Combine<'a> {
    pub routes: &'a StorageBuffer,
    pub expert_out: &'a StorageBuffer,
    pub k: u32,
    pub shared: Option<SharedOut<'a>>,
    /// The branch's multiplier (granite's residual_scale; 1 elsewhere).
    pub scale: f32,
}

/// A shared expert's `(n_tokens, n)` output and each token's gate logit `(n_tokens)`.
pub struct SharedOut<'a> {
    pub out: &'a StorageBuffer,
    pub gate: &'a StorageBuffer,
}

/// `x[t] += s · (Σ_j w_j · expert_out[t·k + j] (+ sigmoid(gate[t]) · shared[t]))` (with `combine`), then
/// `out[t] = rms_norm(x[t]) · weight` for every token of the submit; rows of `n` values.
#[allow(clippy::too_many_arguments)]
pub fn rms_norm(
    gpu: &Gpu,
    env: &KernelEnv,
    x: &StorageBuffer,
    weight: &StorageBuffer,
    out: &StorageBuffer,
    n: u32,
    eps: f32,
    combine: Option<Combine>,
) -> Result<Dispatch, GpuError> {
    let k = combine.as_ref().map_or(0, |c| c.k);
    let shared = combine.as_ref().and_then(|c| c.shared.as_ref());
    let key = PipelineKey::new(Kernel::RmsNorm).constant("COMBINE_K", k).constant("SHARED", shared.is_some() as u32);
    let pipeline = gpu.pipeline(&key)?;
    let combine_scale = combine.as_ref().map_or(1.0, |c| c.scale);
    let params = UniformBuffer::new(gpu, "rms_norm params", &Params { n, eps, combine_scale, _pad: 0 });
    let (routes, expert_out) = combine.as_ref().map_or((&env.unused, &env.unused), |c| (c.routes, c.expert_out));
    let (shared_out, shared_gate) = shared.map_or((&env.unused, &env.unused), |s| (s.out, s.gate));
    let bind_group = gpu.bind_group(
        "rms_norm",
        &pipeline,
        &[
            env.step.binding(),
            params.binding(),
            x.binding(),
            weight.binding(),
            out.binding(),
            routes.binding(),
            expert_out.binding(),
            shared_out.binding(),
            shared_gate.binding(),
        ],
    );
    Ok(Dispatch { label: "rms_norm".into(), slots: None, pipeline, bind_group, grid: Grid::PerToken { x: 1, per_token: 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::reference::ops;
    use crate::synthetic::Rng;

    #[test]
    fn matches_cpu_on_odd_sizes() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(1);
        for (n, t) in [(7usize, 1usize), (256, 3), (1000, 2), (4099, 5)] {
            let x = rng.vec(n * t);
            let w = rng.vec(n);
            let (xb, wb, ob) = (f32_buffer(gpu, &x), f32_buffer(gpu, &w), zeros(gpu, n * t));
            let d = rms_norm(gpu, &env, &xb, &wb, &ob, n as u32, 1e-5, None).unwrap();
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &[d]);
            let got = read_f32(gpu, &ob);
            let mut want = vec![0f32; n * t];
            for r in 0..t {
                ops::rms_norm(&x[r * n..(r + 1) * n], &w, 1e-5, &mut want[r * n..(r + 1) * n]);
            }
            assert_close(&format!("rms_norm n={n} t={t}"), &got, &want, 1e-5);
            assert_eq!(read_f32(gpu, &xb), x, "without experts, x is left as it is");
        }
    }

    #[test]
    fn adds_the_weighted_expert_outputs_first() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(11);
        let (n, k, t) = (300usize, 3usize, 4usize);
        let x = rng.vec(t * n);
        let w = rng.vec(n);
        let y = rng.vec(t * k * n);
        let weights = rng.vec(t * k);
        let routes: Vec<u32> = weights.iter().enumerate().flat_map(|(i, w)| [i as u32 % 7, w.to_bits()]).collect();
        // A shared expert's output and gate logits of both signs, large ones included.
        let shared_y = rng.vec(t * n);
        let gate: Vec<f32> = rng.vec(t).iter().map(|g| 6.0 * g).collect();
        for (with_shared, scale) in [(false, 1.0f32), (true, 1.0), (true, 0.22)] {
            let (rb, yb, xb, wb, ob) = (u32_buffer(gpu, &routes), f32_buffer(gpu, &y), f32_buffer(gpu, &x), f32_buffer(gpu, &w), zeros(gpu, t * n));
            let (sb, gb) = (f32_buffer(gpu, &shared_y), f32_buffer(gpu, &gate));
            let shared = with_shared.then_some(SharedOut { out: &sb, gate: &gb });
            let combine = Combine { routes: &rb, expert_out: &yb, k: k as u32, shared, scale };
            let d = rms_norm(gpu, &env, &xb, &wb, &ob, n as u32, 1e-5, Some(combine)).unwrap();
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &[d]);
            let new_x: Vec<f32> = (0..t * n)
                .map(|i| {
                    let (r, c) = (i / n, i % n);
                    let shared = if with_shared { ops::sigmoid(gate[r]) * shared_y[i] } else { 0.0 };
                    x[i] + scale * ((0..k).map(|j| weights[r * k + j] * y[(r * k + j) * n + c]).sum::<f32>() + shared)
                })
                .collect();
            assert_close(&format!("combined x, shared expert {with_shared}, ×{scale}"), &read_f32(gpu, &xb), &new_x, 1e-5);
            let mut want = vec![0f32; t * n];
            for r in 0..t {
                ops::rms_norm(&new_x[r * n..(r + 1) * n], &w, 1e-5, &mut want[r * n..(r + 1) * n]);
            }
            assert_close(&format!("normed, shared expert {with_shared}"), &read_f32(gpu, &ob), &want, 1e-5);
        }
    }
}
