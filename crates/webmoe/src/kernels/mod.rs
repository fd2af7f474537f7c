//! Kernel launchers. Each file turns buffers and shapes into recorded [`Dispatch`]es for one
//! WGSL kernel, and holds the test that runs it against the plain CPU code of
//! [`crate::reference::ops`] on random data.

pub mod attention;
pub mod embed;
pub mod matmul;
pub mod matvec;
pub mod moe_group;
pub mod rms_norm;
pub mod rope_kv;
pub mod router;
pub mod sample;
pub mod swiglu;
#[cfg(test)]
pub(crate) mod testing;

use crate::gpu::{Gpu, StorageBuffer, UniformBuffer};

/// The per-submit values every kernel reads (`Step` in shaders/common.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Step {
    pub pos0: u32,
    pub n_tokens: u32,
    /// Draws since the generation started: selects the sampler's random number.
    pub sample_step: u32,
    /// Ids the sampler's history ring has received so far (prompt included).
    pub n_history: u32,
}

/// Buffers shared by every dispatch of a forward pass: the step block, and a placeholder bound
/// where a kernel variant ignores a binding.
pub struct KernelEnv {
    pub step: UniformBuffer,
    pub unused: StorageBuffer,
}

impl KernelEnv {
    pub fn new(gpu: &Gpu) -> KernelEnv {
        KernelEnv { step: UniformBuffer::new(gpu, "step", &Step::default()), unused: StorageBuffer::with_data(gpu, "unused", &[0u8; 16]) }
    }

    pub fn set_step(&self, gpu: &Gpu, step: Step) {
        self.step.write(gpu, &step);
    }
}

/// Workgroups of `per_group` items needed for `n` items.
pub(crate) fn groups(n: u32, per_group: u32) -> u32 {
    n.div_ceil(per_group)
}
