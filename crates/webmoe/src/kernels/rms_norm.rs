//! RMSNorm of each token's row (shaders/rms_norm.wgsl).

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    eps: f32,
    _pad: [u32; 2],
}

/// `out[t] = rms_norm(x[t]) · weight` for every token of the submit; rows of `n` values.
pub fn rms_norm(gpu: &Gpu, env: &KernelEnv, x: &StorageBuffer, weight: &StorageBuffer, out: &StorageBuffer, n: u32, eps: f32) -> Result<Dispatch, GpuError> {
    let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::RmsNorm))?;
    let params = UniformBuffer::new(gpu, "rms_norm params", &Params { n, eps, _pad: [0; 2] });
    let bind_group = gpu.bind_group("rms_norm", &pipeline, &[env.step.binding(), params.binding(), x.binding(), weight.binding(), out.binding()]);
    Ok(Dispatch { label: "rms_norm", pipeline, bind_group, grid: Grid::PerToken { x: 1, per_token: 1 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::synthetic::Rng;
    use crate::reference::ops;

    #[test]
    fn matches_cpu_on_odd_sizes() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(1);
        for (n, t) in [(7usize, 1usize), (256, 3), (1000, 2), (4099, 5)] {
            let x = rng.vec(n * t);
            let w = rng.vec(n);
            let (xb, wb, ob) = (f32_buffer(gpu, &x), f32_buffer(gpu, &w), zeros(gpu, n * t));
            let d = rms_norm(gpu, &env, &xb, &wb, &ob, n as u32, 1e-5).unwrap();
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &[d]);
            let got = read_f32(gpu, &ob);
            let mut want = vec![0f32; n * t];
            for r in 0..t {
                ops::rms_norm(&x[r * n..(r + 1) * n], &w, 1e-5, &mut want[r * n..(r + 1) * n]);
            }
            assert_close(&format!("rms_norm n={n} t={t}"), &got, &want, 1e-5);
        }
    }
}
