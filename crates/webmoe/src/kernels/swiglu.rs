//! The FFN activation from a stacked gate | up projection (shaders/swiglu.wgsl).

use super::matvec::glu_id;
use super::{groups, KernelEnv};
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};
use crate::model::Activation;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    f: u32,
    per_token: u32,
    _pad: [u32; 2],
}

/// `act[a, n] = activation(gate_up[a, n], gate_up[a, f + n])` for `per_token` rows per token.
#[allow(clippy::too_many_arguments)]
pub fn swiglu(
    gpu: &Gpu,
    env: &KernelEnv,
    gate_up: &StorageBuffer,
    act: &StorageBuffer,
    f: u32,
    per_token: u32,
    activation: Activation,
) -> Result<Dispatch, GpuError> {
    let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::Swiglu).constant("GLU", glu_id(activation)))?;
    let params = UniformBuffer::new(gpu, "swiglu params", &Params { f, per_token, _pad: [0; 2] });
    let bind_group = gpu.bind_group("swiglu", &pipeline, &[env.step.binding(), params.binding(), gate_up.binding(), act.binding()]);
    Ok(Dispatch { label: "swiglu".into(), slots: None, pipeline, bind_group, grid: Grid::PerToken { x: groups(f, 256), per_token } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::synthetic::Rng;

    #[test]
    fn applies_the_activation_to_the_gated_half_and_the_up_half() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(13);
        let (f, per_token, t) = (300usize, 2usize, 3usize);
        // Values to ±12, so the clamped form's limits of 7 are crossed both ways.
        let gu: Vec<f32> = rng.vec(t * per_token * 2 * f).iter().map(|v| v * 12.0).collect();
        for activation in [Activation::SwiGlu, Activation::SwiGluClamped] {
            let (gb, ab) = (f32_buffer(gpu, &gu), zeros(gpu, t * per_token * f));
            let d = swiglu(gpu, &env, &gb, &ab, f as u32, per_token as u32, activation).unwrap();
            run(gpu, &env, Step { n_tokens: t as u32, ..Default::default() }, &[d]);
            let want: Vec<f32> = (0..t * per_token * f)
                .map(|i| {
                    let (a, n) = (i / f, i % f);
                    activation.apply(gu[a * 2 * f + n], gu[a * 2 * f + f + n])
                })
                .collect();
            assert_close(&format!("{activation:?}"), &read_f32(gpu, &ab), &want, 1e-5);
        }
    }
}
