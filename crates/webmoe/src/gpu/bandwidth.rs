//! The device's copy bandwidth, measured: the yardstick a decode's effective bandwidth is
//! compared with (decoding one token reads every active weight once, so it is bound by memory).

use super::buffers::{map_read, StorageBuffer};
use super::context::Gpu;
use super::error::GpuError;
use web_time::Instant;

/// Bytes moved per second by buffer-to-buffer copies of `bytes`, counting each copied byte twice
/// (one read and one write), as memory traffic; the best of `reps` timed rounds of 4 copies.
pub async fn copy_bandwidth(gpu: &Gpu, bytes: u64, reps: u32) -> Result<f64, GpuError> {
    let bytes = bytes.min(gpu.limits.max_buffer_size) / 4 * 4;
    let src = StorageBuffer::new(gpu, "bandwidth source", bytes).await?;
    let dst = StorageBuffer::new(gpu, "bandwidth destination", bytes).await?;
    let done = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bandwidth fence"),
        size: 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let copies = 4u32;
    let mut best = f64::INFINITY;
    // The first round warms the buffers up and is not counted.
    for round in 0..=reps {
        let t = Instant::now();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        for _ in 0..copies {
            enc.copy_buffer_to_buffer(&src.buffer, 0, &dst.buffer, 0, bytes);
        }
        enc.copy_buffer_to_buffer(&dst.buffer, 0, &done, 0, 4);
        gpu.queue.submit([enc.finish()]);
        map_read(gpu, &done).await?;
        done.unmap();
        if round > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    gpu.check()?;
    Ok(2.0 * bytes as f64 * copies as f64 / best)
}
