//! Shared test setup: one GPU per process, buffers from slices, readback, comparisons.

use super::{KernelEnv, Step};
use crate::gpu::{read_buffer, Dispatch, Gpu, GpuOptions, MatvecShape, Reduce, StorageBuffer};
use std::sync::OnceLock;

/// The default adapter (lavapipe on a machine without a GPU), opened once for all tests.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| pollster::block_on(Gpu::new(&GpuOptions::default())).expect("tests need a WebGPU adapter"))
}

/// A separate device opened with `options`.
pub fn gpu_with(options: GpuOptions) -> Gpu {
    pollster::block_on(Gpu::new(&options)).expect("tests need a WebGPU adapter")
}

/// A separate device whose bindings are capped at `limit` bytes, to force weights into pages.
pub fn gpu_with_binding_limit(limit: u64) -> Gpu {
    gpu_with(GpuOptions { max_binding_bytes: Some(limit), ..Default::default() })
}

/// Devices with every matvec shape the kernel must support: a row per invocation (CPU adapters),
/// alone and with several rows; groups of a few lanes and of a whole workgroup reduced in
/// workgroup memory (the portable form); subgroup reductions within one subgroup and across
/// several, where the adapter has subgroups; and a grid folded into its third dimension.
pub fn gpus_with_each_matvec_shape() -> Vec<Gpu> {
    let with = |shape, fold| GpuOptions { matvec: Some(shape), max_workgroups_per_dimension: fold, ..Default::default() };
    let shape = |workgroup, lanes, rows, reduce| MatvecShape { workgroup, lanes, rows, reduce };
    let mut options = vec![
        with(shape(64, 1, 1, Reduce::Workgroup), None),
        with(shape(64, 1, 3, Reduce::Workgroup), None),
        with(shape(64, 4, 2, Reduce::Workgroup), None),
        with(shape(64, 64, 4, Reduce::Workgroup), None),
        // Grids of more than 3 workgroups a dimension fold into the third one.
        with(shape(32, 32, 8, Reduce::Workgroup), Some(3)),
    ];
    let (min, max) = (gpu().info.subgroup_min_size, gpu().info.subgroup_max_size);
    if gpu().caps.subgroups && max <= 64 {
        options.push(with(shape(min, min, 3, Reduce::Subgroup { multi: min != max }), None));
        options.push(with(shape(64, 64, 4, Reduce::Subgroup { multi: true }), None));
    }
    options.into_iter().map(gpu_with).collect()
}

pub fn f32_buffer(gpu: &Gpu, data: &[f32]) -> StorageBuffer {
    StorageBuffer::with_data(gpu, "test", bytemuck::cast_slice(data))
}

pub fn u32_buffer(gpu: &Gpu, data: &[u32]) -> StorageBuffer {
    StorageBuffer::with_data(gpu, "test", bytemuck::cast_slice(data))
}

pub fn zeros(gpu: &Gpu, n_f32: usize) -> StorageBuffer {
    f32_buffer(gpu, &vec![0f32; n_f32])
}

pub fn read_f32(gpu: &Gpu, b: &StorageBuffer) -> Vec<f32> {
    let bytes = pollster::block_on(read_buffer(gpu, &b.buffer, 0, b.len)).expect("readback");
    bytemuck::cast_slice(&bytes).to_vec()
}

pub fn read_u32(gpu: &Gpu, b: &StorageBuffer) -> Vec<u32> {
    let bytes = pollster::block_on(read_buffer(gpu, &b.buffer, 0, b.len)).expect("readback");
    bytemuck::cast_slice(&bytes).to_vec()
}

/// Encode `dispatches` in one pass with `step`, submit, and fail on any device error.
pub fn run(gpu: &Gpu, env: &KernelEnv, step: Step, dispatches: &[Dispatch]) {
    env.set_step(gpu, step);
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        for d in dispatches {
            d.encode(&mut pass, step.n_tokens);
        }
    }
    gpu.queue.submit([enc.finish()]);
    gpu.poll_wait();
    gpu.check().expect("GPU error");
}

/// Assert |got − want| ≤ tol · max(1, |want|) elementwise, naming the first bad index.
pub fn assert_close(label: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{label}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let bound = tol * w.abs().max(1.0);
        assert!((g - w).abs() <= bound, "{label}: index {i}: GPU {g}, CPU {w} (|diff| {} > {bound})", (g - w).abs());
    }
}
