//! Shared test setup: one GPU per process, buffers from slices, readback, comparisons.

use super::{KernelEnv, Step};
use crate::gpu::{read_buffer, Dispatch, Gpu, GpuOptions, StorageBuffer};
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

/// Devices with every matvec row-sharing width a kernel must support: one invocation per row
/// (CPU adapters), a few, and a full 32 (GPUs).
pub fn gpus_with_each_matvec_shape() -> Vec<Gpu> {
    let tuned = |lanes| GpuOptions { tuning: Some(crate::gpu::Tuning { matvec_lanes: lanes }), ..Default::default() };
    let mut gpus: Vec<Gpu> = [1, 4, 32].into_iter().map(|lanes| gpu_with(tuned(lanes))).collect();
    // Grids of more than 3 workgroups a dimension fold into the third one.
    gpus.push(gpu_with(GpuOptions { max_workgroups_per_dimension: Some(3), ..tuned(32) }));
    gpus
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
