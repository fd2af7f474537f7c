//! Weighted sum of expert outputs into the residual stream (shaders/moe_combine.wgsl).

use super::{groups, KernelEnv};
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    k: u32,
    _pad: [u32; 2],
}

/// `x[t] += Σ_j routes[t·k + j].weight · y[t·k + j]`, rows of `n` values.
pub fn moe_combine(gpu: &Gpu, env: &KernelEnv, routes: &StorageBuffer, y: &StorageBuffer, x: &StorageBuffer, n: u32, k: u32) -> Result<Dispatch, GpuError> {
    let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::MoeCombine))?;
    let params = UniformBuffer::new(gpu, "moe_combine params", &Params { n, k, _pad: [0; 2] });
    let bind_group = gpu.bind_group("moe_combine", &pipeline, &[env.step.binding(), params.binding(), routes.binding(), y.binding(), x.binding()]);
    Ok(Dispatch { label: "moe_combine", pipeline, bind_group, grid: Grid::PerToken { x: groups(n, 256), per_token: 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::synthetic::Rng;

    #[test]
    fn adds_the_weighted_expert_outputs() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(11);
        let (n, k, t) = (300usize, 3usize, 4usize);
        let x = rng.vec(t * n);
        let y = rng.vec(t * k * n);
        let weights = rng.vec(t * k);
        let routes: Vec<u32> = weights.iter().enumerate().flat_map(|(i, w)| [i as u32 % 7, w.to_bits()]).collect();
        let (rb, yb, xb) = (u32_buffer(gpu, &routes), f32_buffer(gpu, &y), f32_buffer(gpu, &x));
        let d = moe_combine(gpu, &env, &rb, &yb, &xb, n as u32, k as u32).unwrap();
        run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &[d]);
        let want: Vec<f32> = (0..t * n)
            .map(|i| {
                let (r, c) = (i / n, i % n);
                x[i] + (0..k).map(|j| weights[r * k + j] * y[(r * k + j) * n + c]).sum::<f32>()
            })
            .collect();
        assert_close("moe_combine", &read_f32(gpu, &xb), &want, 1e-5);
    }
}
