//! Greedy token choice on the GPU (shaders/argmax.wgsl).

use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n_vocab: u32,
    _pad: [u32; 3],
}

/// `tokens[0] = argmax(logits[..n_vocab])`, lowest index on ties.
pub fn argmax(gpu: &Gpu, logits: &StorageBuffer, tokens: &StorageBuffer, n_vocab: u32) -> Result<Dispatch, GpuError> {
    let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::Argmax))?;
    let params = UniformBuffer::new(gpu, "argmax params", &Params { n_vocab, _pad: [0; 3] });
    let bind_group = gpu.bind_group("argmax", &pipeline, &[params.binding(), logits.binding(), tokens.binding()]);
    Ok(Dispatch { label: "argmax", pipeline, bind_group, grid: Grid::Fixed([1, 1, 1]) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::{KernelEnv, Step};
    use crate::quant::random::Rng;

    #[test]
    fn finds_the_first_maximum() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(12);
        for n in [1usize, 5, 255, 256, 32000, 49153] {
            let mut logits = rng.vec(n);
            let best = rng.below(n as u64) as usize;
            logits[best] = 5.0;
            // A tie later in the vocabulary must not win.
            if best + 1 < n {
                logits[n - 1] = 5.0;
            }
            let (lb, tb) = (f32_buffer(gpu, &logits), u32_buffer(gpu, &[u32::MAX]));
            let d = argmax(gpu, &lb, &tb, n as u32).unwrap();
            run(gpu, &env, Step { n_tokens: 1, ..Default::default() }, &[d]);
            assert_eq!(read_u32(gpu, &tb)[0] as usize, best, "n={n}");
        }
    }
}
